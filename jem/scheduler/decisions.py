"""What one scheduling cycle decided: jobs to start where, and why the rest wait."""

import enum
from dataclasses import dataclass, field

from jem.model.reasons import JobReason


class StartKind(enum.Enum):
    """How a job came to start (flux-sched records the same)."""

    IMMEDIATE = "immediate"
    BACKFILL = "backfill"
    RESERVED = "reserved"


@dataclass(frozen=True, slots=True)
class Start:
    job_id: int
    node_names: tuple[str, ...]
    kind: StartKind = StartKind.IMMEDIATE


@dataclass(slots=True)
class Decisions:
    """The output of a cycle. Every pending job of the snapshot is in exactly one of
    `starts` or `reasons`."""

    starts: list[Start] = field(default_factory=list)
    reasons: dict[int, JobReason] = field(default_factory=dict)
