"""Why a job waits (`jem why`): its planned start and what it rests on, the limit that holds it,
the jobs ahead of it, its priority's factors, its user's fair share, and what its owner could
change to start it sooner.

Times are epoch seconds; a planned start is a reservation the scheduler holds or an estimate
(what a conservative plan of the queue gives).
"""

from dataclasses import dataclass, field

from jem.model.jobpriority import JobPriority


@dataclass(frozen=True, slots=True)
class RunningEnd:
    """A running job whose end by its time limit a planned start waits for."""

    job_id: int
    nodes: tuple[str, ...]
    end_time: float


@dataclass(frozen=True, slots=True)
class HeldLimit:
    """The association or QOS limit that holds a job back (Slurm's names)."""

    holder: str                  # "account physics", "user alice in account physics", "QOS high", ...
    setting: str                 # "GrpTRES=cpu=4", "MaxJobsPerUser=2", ...
    in_use: int                  # what the holder's running jobs hold of it
    asked: int                   # what the job would add
    holders: tuple[RunningEnd, ...] = ()   # the running jobs that hold it, soonest end first


@dataclass(frozen=True, slots=True)
class WhatIf:
    """A change the job's owner could make and the start the planner would then give it."""

    change: str                  # as scontrol update writes it: "TimeLimit=00:10:00", "NumNodes=2", "Partition=short"
    start_time: float | None     # None: it could not start
    is_estimate: bool = False    # the start is an estimate, not a reservation


@dataclass(frozen=True, slots=True)
class Explanation:
    job_id: int
    user: str
    partition: str
    state: str
    reason: str
    reason_detail: str = ""
    planned_start: float | None = None
    planned_start_is_estimate: bool = False
    planned_start_is_forecast: bool = False   # a coarser estimate (see jem._core.backfill)
    after: tuple[RunningEnd, ...] = ()      # running jobs whose ends the planned start waits for
    limit: HeldLimit | None = None
    jobs_ahead: int = 0                     # pending jobs of its partition that come before it
    priority: JobPriority | None = None
    fairshare: float | None = None          # its user's factor in [0, 1]
    account_shares: float | None = None     # its account's normalized shares
    account_usage: float | None = None      # its account's effective usage (fraction of all)
    notes: tuple[str, ...] = field(default=())
    what_ifs: tuple[WhatIf, ...] = ()       # each starts it sooner than it would start as it is
