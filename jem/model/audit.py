"""The audit trail: every state-changing request, who made it (the authenticated
principal), from where, what it asked and what came of it.

The controller records one `AuditRecord` per such request in its store (queried
with `jem audit`) and writes the same as a structured log line. What a request
asked is kept as a short summary: never a script, an environment or a credential.
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class AuditRecord:
    time: float          # epoch seconds, when the request was answered
    user: str            # the authenticated principal
    uid: int
    peer: str            # where it came from, as gRPC names it ("ipv4:10.0.0.5:41234", "unix:...")
    method: str          # "SubmitJob", "CancelJob", ...
    request: str         # what it asked: a summary of the request's fields
    result: str          # "ok", or the error's reason ("NotJobOwner", "RateLimited", ...)
    detail: str = ""     # the error's message, or what was done ("job 12")
    job_id: int = 0      # the job it was about, when there is one
    seq: int = 0         # the record's number in the store (0 until stored)


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Which records `jem audit` wants; each field set must match."""

    since: float | None = None
    until: float | None = None
    user: str = ""
    job_id: int = 0
    limit: int = 1000
