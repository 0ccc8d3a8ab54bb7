"""A job's accounting records as sacct lists them: each earlier run of a requeued job (state
REQUEUED) and its latest run.

Slurm's accounting keeps a record per run of a job requeued (scontrol requeue, a node failure,
preemption, and JEM's retries) under the same job id. sacct shows only each job's latest
record unless -D/--duplicates is given, or the state filter names REQUEUED (-s RQ); --json
(Slurm 22.05) lists every record. A record of an earlier run is the job as that run had it
(`RequeuedRun`): its own start, end, nodes, exit code, usage and steps; it was queued when
the job was submitted or last requeued before it, and so is the latest record.
"""

import dataclasses
from dataclasses import dataclass

from jem.model.reasons import JobReason
from jem.model.states import JobState


@dataclass(frozen=True, slots=True)
class Record:
    """One record of a job: `job` as the run had it, the srun steps of that run, and whether it is
    an earlier run (shown REQUEUED)."""

    job: object
    steps: tuple
    is_requeued: bool = False


def records(job, runs: list, steps: list, *, with_duplicates: bool, states: set[JobState]) -> list[Record]:
    """The records of `job` to list, oldest first: its earlier `runs` (a RequeuedRun each, in run
    order) when `with_duplicates` or `states` names REQUEUED, and its latest; each only if `states`
    (empty: any) names its state. `steps` are the job's steps, shared out by when they started."""
    shown = []
    if runs and (with_duplicates or JobState.REQUEUED in states) and (not states or JobState.REQUEUED in states):
        queued = job.submit_time
        for run in runs:
            shown.append(Record(_earlier_run(job, run, queued),
                                tuple(s for s in steps if _is_within(s.start_time, run.start_time, run.requeue_time)),
                                is_requeued=True))
            queued = run.requeue_time
    if not states or job.state in states:
        latest = dataclasses.replace(job, submit_time=runs[-1].requeue_time) if runs else job
        since = runs[-1].requeue_time if runs else None
        shown.append(Record(latest, tuple(s for s in steps if since is None or s.start_time >= since)))
    return shown


def _is_within(t: float, start: float | None, end: float) -> bool:
    return start is not None and start <= t <= end


def _earlier_run(job, run, queued_time: float):
    """The job as the run had it: its state the run's own end (its batch step's; the record shows
    REQUEUED), queued at `queued_time`."""
    return dataclasses.replace(
        job, state=run.state, reason=JobReason.NONE, reason_detail="", held_by="", start_time=run.start_time,
        end_time=run.end_time, nodes=run.nodes, cpu_ids=(), gpu_ids=(), exit_code=run.exit_code,
        exit_signal=run.exit_signal, usage=run.usage, restart_count=run.run, submit_time=queued_time,
        shape=dataclasses.replace(job.shape, per_node=run.alloc_per_node),
        spec=dataclasses.replace(job.spec, begin_time=run.begin_time), planned_start=None, planned_nodes=())
