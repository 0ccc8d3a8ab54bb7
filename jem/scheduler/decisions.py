"""What one scheduling cycle decided: jobs to start where, and why the rest wait."""

import enum
from dataclasses import dataclass, field

from jem.model.reasons import JobReason


class StartKind(enum.Enum):
    """How a job came to start (flux-sched records the same): at its turn in priority
    order, backfilled ahead of a blocked higher-priority job, or at a reservation it
    held in an earlier cycle."""

    IMMEDIATE = "immediate"
    BACKFILL = "backfill"
    RESERVED = "reserved"


@dataclass(frozen=True, slots=True)
class Start:
    job_id: int
    node_names: tuple[str, ...]
    kind: StartKind = StartKind.IMMEDIATE
    reservation: str = ""   # the MAGNETIC reservation it starts in without naming it ("": none)


@dataclass(slots=True)
class Decisions:
    """The output of a cycle. Every pending job of the snapshot is in exactly one of
    `starts` or `reasons`; a waiting job that holds a reservation, or was given an
    estimate (its id in `estimated`), also has a planned start (epoch seconds). `priorities` holds the multifactor priorities computed this
    cycle (empty when the policy has no weights)."""

    starts: list[Start] = field(default_factory=list)
    reasons: dict[int, JobReason] = field(default_factory=dict)
    planned_starts: dict[int, float] = field(default_factory=dict)
    priorities: dict[int, int] = field(default_factory=dict)
    reason_details: dict[int, str] = field(default_factory=dict)   # (ReqNodeNotAvail: Slurm's description)
    estimated: set[int] = field(default_factory=set)   # the planned starts that are estimates, not reservations
    planned_nodes: dict[int, tuple[str, ...]] = field(default_factory=dict)   # the nodes of each planned start
    forecast: set[int] = field(default_factory=set)    # the estimates that are forecasts (a subset of `estimated`)
    forecasts_made: bool = False   # whether this cycle forecast the jobs beyond its estimates (else they keep theirs)
    preemptions: list = field(default_factory=list)      # jem.scheduler.preemption.Preemption: jobs to push off

    def forget(self, job_id: int) -> None:
        """Drop what a pass decided for a job that is planned again by a later pass."""
        self.starts = [s for s in self.starts if s.job_id != job_id]
        for table in (self.reasons, self.planned_starts, self.reason_details, self.planned_nodes):
            table.pop(job_id, None)
        self.estimated.discard(job_id)
        self.forecast.discard(job_id)

    @property
    def n_backfilled(self) -> int:
        return sum(1 for s in self.starts if s.kind is StartKind.BACKFILL)
