"""Suspending one run of a batch job on this node (scontrol suspend, PreemptMode SUSPEND):
its processes frozen, its time limit's clock stopped; then thawed, its deadline moved by the
time it spent suspended (Slurm: "the time a job is suspended will not count against a job's
time limit").

Frozen with the cgroup freezer (v1 `freezer.state`, v2 `cgroup.freeze`): a frozen process
cannot catch, ignore or race the stop, and nothing forks away meanwhile. Without cgroups, the
process tree gets SIGSTOP and SIGCONT (Slurm's own means), which a job may notice. How long
the run was suspended is kept in its spool (`runrecord.SuspendRecord`), so that an agent
restarted meanwhile keeps the job frozen and its deadline right.

Works on `running.RunningJob`; the caller (`RunningJobs`) serializes the orders of one run.
"""

import logging
import signal

from jem.agent import runrecord
from jem.agent.processes import signal_tree
from jem.agent.runrecord import SuspendRecord
from jem.agent.spool import Spool

log = logging.getLogger(__name__)


def deadline(job) -> float | None:
    """When the run's time limit ends: start + limit + the time it spent suspended (None: no
    limit). Only meaningful while it runs (a suspended run's deadline moves on)."""
    run = job.run
    if run.time_limit_s is None:
        return None
    return run.start_time + run.time_limit_s + job.suspend.total_s


def freeze(job, spool: Spool, *, now: float) -> bool:
    """Suspend the run: record it (the deadline stops), then freeze its processes. False when it
    is suspended already."""
    if job.suspend.since is not None:
        return False
    job.suspend = SuspendRecord(job.suspend.total_s, now)
    _record(job, spool)
    _stop(job, resume=False)
    log.info("job suspended job_id=%d run=%d", job.job_id, job.run.restart_count)
    return True


def thaw(job, spool: Spool, *, now: float) -> bool:
    """Resume the run: thaw its processes, then record the time it was suspended (its deadline
    moves by it). False when it is not suspended."""
    if job.suspend.since is None:
        return False
    _stop(job, resume=True)
    job.suspend = SuspendRecord(job.suspend.suspended_s(now), None)
    _record(job, spool)
    log.info("job resumed job_id=%d run=%d suspended_s=%.1f", job.job_id, job.run.restart_count,
             job.suspend.total_s)
    return True


def restore(job, spool: Spool) -> None:
    """A run taken over from an earlier agent: its suspend record, and its processes frozen again
    if it was suspended (a cgroup object made anew does not know it is)."""
    job.suspend = runrecord.read_suspend(spool, job.job_id)
    if job.suspend.since is not None and job.cgroup is not None:
        job.cgroup.suspend()


def _stop(job, *, resume: bool) -> None:
    """Freeze (or thaw) the run's processes. A cgroup already gone (the job ended meanwhile:
    its end report is on its way) is no error."""
    try:
        if job.cgroup is None:
            signal_tree(job.job_pid, signal.SIGCONT if resume else signal.SIGSTOP)
        elif resume:
            job.cgroup.resume()
        else:
            job.cgroup.suspend()
    except FileNotFoundError:
        log.info("job cgroup gone job_id=%d", job.job_id)


def _record(job, spool: Spool) -> None:
    try:
        runrecord.write_suspend(spool, job.job_id, job.suspend)
    except OSError as exc:   # (the job goes on: only an agent restarted meanwhile would lose it)
        log.warning("suspend record not written job_id=%d error=%s", job.job_id, exc)
