"""The earlier runs of a requeued job, as accounting keeps them (sacct -D).

A job requeued (scontrol requeue, a node failure, preemption, a retry) keeps
its id and runs again; each run before the current one is kept as a `RequeuedRun`,
stored in the same transaction as the requeue, which Slurm's accounting shows
as a record in state REQUEUED beside the job's latest one.
"""

from dataclasses import dataclass, field

from jem.model.job import JobUsage
from jem.model.resources import Resources
from jem.model.states import JobState


@dataclass(frozen=True, slots=True)
class RunEnd:
    """How a run ended, as its agent reported it (or the controller settled it)."""

    state: JobState           # the run's own end: FAILED, TIMEOUT, ...; CANCELLED for a run killed to be requeued
    end_time: float
    exit_code: int = 0
    exit_signal: int = 0
    usage: JobUsage = field(default_factory=JobUsage)


@dataclass(frozen=True, slots=True)
class RequeuedRun:
    """One run of a job that was requeued after it."""

    job_id: int
    run: int                          # the job's restart count during the run (0: its first run)
    state: JobState                   # how the run ended (RunEnd.state); accounting shows the record REQUEUED
    start_time: float | None          # None: requeued after it ended without starting (cancelled while pending)
    end_time: float
    nodes: tuple[str, ...]
    alloc_per_node: Resources         # what it held on each node
    exit_code: int
    exit_signal: int
    usage: JobUsage
    begin_time: float | None          # the begin time it waited for (None: none, eligible at its queueing)
    requeue_time: float               # when it went back to the queue
    next_begin_time: float | None     # the begin time the requeue gave the next run (a retry's backoff)
    retry: int = 0                    # the retry the requeue made (1 for the first); 0: requeued otherwise
    detail: str = ""                  # why it was requeued ("retry 1 of 3 after FAILED", "requeue by ann", ...)
