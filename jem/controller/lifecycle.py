"""The job state changes the controller makes, each a pure transition plus bookkeeping.

Each function checks the transition with `jem.model.states.transition`,
updates the job and the node allocations, and returns the `JobChange` to
commit. Nothing here writes the store or talks to agents: callers commit the
returned changes (store first), then act. Callers hold the controller lock.

A requeue keeps the run that ended (`RequeuedRun`, stored in the requeue's own
transaction: sacct -D); `end_run` ends a run as the job's retry policy says
(jem.model.retry): the job ends, or goes back to the queue for a retry.
"""

import dataclasses
import logging

from jem.controller.nodes import NodeTable, Suspension
from jem.model.job import Job, JobUsage
from jem.model.reasons import HOLD_REASONS, JobReason
from jem.model.retry import backoff_s, is_retried
from jem.model.run import RequeuedRun, RunEnd
from jem.model.states import JobEvent, JobState, transition
from jem.scheduler.priority import basic_priority
from jem.store import JobChange

log = logging.getLogger(__name__)

MAX_FAILURE_REQUEUES = 5   # Slurm's MAX_BATCH_REQUEUE


def change(job: Job, event: JobEvent, now: float, detail: str = "") -> JobChange:
    """Move `job` by `event` (raises IllegalTransition) and describe the change."""
    before = job.state
    job.state = transition(before, event)
    if job.state is not before:
        log.info("job state job_id=%d event=%s from=%s to=%s", job.job_id, event.value, before.value, job.state.value)
    return JobChange(job, event, now, detail)


def start_job(job: Job, node_names: tuple[str, ...], nodes: NodeTable, now: float) -> JobChange:
    if job.spec.exclusive:   # as Slurm: the job gets all of its nodes' CPUs and memory
        job.shape = dataclasses.replace(job.shape, per_node=nodes.get(node_names[0]).capacity)
    job.cpu_ids, job.gpu_ids = nodes.allocate(node_names, job.shape.per_node, job.job_id,
                                              gres=job.spec.gres_per_node, is_exclusive=job.spec.exclusive)
    job.nodes, job.start_time, job.reason, job.reason_detail = node_names, now, JobReason.NONE, ""
    job.planned_start = None
    return change(job, JobEvent.START, now, detail=",".join(node_names))


def end_job(job: Job, event: JobEvent, nodes: NodeTable, now: float, *, exit_code: int = 0,
            exit_signal: int = 0, usage: JobUsage | None = None, reason: JobReason = JobReason.NONE,
            detail: str = "") -> JobChange:
    """End a job (pending or live) with `event`, releasing its nodes."""
    nodes.release(job.nodes, job.shape.per_node, job.job_id, gres=job.spec.gres_per_node,
                  is_exclusive=job.spec.exclusive)
    job.end_time, job.exit_code, job.exit_signal = now, exit_code, exit_signal
    job.reason, job.reason_detail, job.kill_cause, job.kill_time = reason, detail, None, None
    if usage is not None:
        job.usage = usage
    return change(job, event, now, detail)


def requeue_job(job: Job, nodes: NodeTable, now: float, detail: str, *, end: RunEnd | None = None,
                begin_time: float | None = None, retry: int = 0) -> JobChange:
    """Return a started (or ended) job to PENDING under the same id. The run that ended is
    kept (`RequeuedRun`, stored with the change: sacct -D shows it REQUEUED). `end` is how that
    run ended when its agent said so; else as the job's record has it, or, for a job still
    live, killed now. `begin_time`: the next run starts no earlier (a retry's backoff); `retry`:
    the retry this requeue is (0: none)."""
    run = _ended_run(job, now, end=end, next_begin_time=begin_time, retry=retry, detail=detail)
    nodes.release(job.nodes, job.shape.per_node, job.job_id, gres=job.spec.gres_per_node,
                  is_exclusive=job.spec.exclusive)
    job.nodes, job.start_time, job.end_time, job.kill_cause, job.kill_time = (), None, None, None, None
    job.cpu_ids, job.gpu_ids = (), ()
    job.exit_code, job.exit_signal, job.usage = 0, 0, JobUsage()
    job.restart_count += 1
    job.reason, job.reason_detail = JobReason.BEGIN_TIME_REQUEUE, detail
    if begin_time is not None:
        job.spec = dataclasses.replace(job.spec, begin_time=begin_time)
        if begin_time > now:
            job.reason = JobReason.BEGIN_TIME   # (as Slurm shows a requeued job waiting for its begin time)
    if job.time_limit_cut:   # (a reservation's end cut it for the run that ended: the next may run elsewhere)
        job.time_limit_s, job.time_limit_cut, job.uncut_time_limit_s = job.uncut_time_limit_s, False, None
    return dataclasses.replace(change(job, JobEvent.REQUEUE, now, detail), run=run)


def _ended_run(job: Job, now: float, *, end: RunEnd | None, next_begin_time: float | None, retry: int,
               detail: str) -> RequeuedRun:
    """The run of `job` that ends with its requeue now (before the job is reset)."""
    if end is None:
        end = (RunEnd(job.state, job.end_time or now, job.exit_code, job.exit_signal, job.usage)
               if job.state.is_terminal else
               RunEnd(JobState.CANCELLED, now, job.exit_code, job.exit_signal, job.usage))
    begin = job.spec.begin_time
    if begin is not None and job.start_time is not None and begin > job.start_time:
        # Set after the run started, for the next one (preemption's requeue delay).
        begin, next_begin_time = None, begin if next_begin_time is None else next_begin_time
    return RequeuedRun(
        job_id=job.job_id, run=job.restart_count, state=end.state, start_time=job.start_time,
        end_time=end.end_time, nodes=job.nodes, alloc_per_node=job.shape.per_node, exit_code=end.exit_code,
        exit_signal=end.exit_signal, usage=end.usage, begin_time=begin, requeue_time=now,
        next_begin_time=next_begin_time, retry=retry, detail=detail)


def end_run(job: Job, event: JobEvent, nodes: NodeTable, now: float, *, exit_code: int = 0, exit_signal: int = 0,
            usage: JobUsage | None = None, reason: JobReason = JobReason.NONE, detail: str = "") -> JobChange:
    """End a live job's run with `event` at `now`: the job ends so (`end_job`), unless its retry
    policy retries a run that ends so (jem.model.retry): then it returns to the queue, eligible
    once its backoff has passed."""
    end_state = transition(job.state, event)
    spec = job.spec
    if job.start_time is None or not is_retried(retries=spec.retries, retry_on=spec.retry_on,
                                                retries_done=job.retries_done, end_state=end_state):
        return end_job(job, event, nodes, now, exit_code=exit_code, exit_signal=exit_signal, usage=usage,
                       reason=reason, detail=detail)
    retry = job.retries_done + 1
    job.retries_done = retry
    why = f"retry {retry} of {spec.retries} after {end_state.value}" + (f" ({detail})" if detail else "")
    log.info("job retried job_id=%d retry=%d of=%d after=%s", job.job_id, retry, spec.retries, end_state.value)
    run_end = RunEnd(end_state, now, exit_code, exit_signal, usage if usage is not None else job.usage)
    return requeue_job(job, nodes, now, why, end=run_end, begin_time=now + backoff_s(spec.retry_delay_s, retry),
                       retry=retry)


def requeue_after_failure(job: Job, nodes: NodeTable, now: float, detail: str, *,
                          end: RunEnd | None = None) -> JobChange:
    """Requeue a job whose node failed under it (`end`: the run's end as its agent reported it;
    else NODE_FAIL now). One that has been requeued so more than MAX_FAILURE_REQUEUES times
    (its retries, `scontrol requeue`s and scrontab's runs not counted) is held instead (Slurm's "launch failed requeued held"): a job
    that brings down every node it lands on must not go round the cluster for ever. An
    operator's `scontrol release` lets it run again."""
    end = end or RunEnd(JobState.NODE_FAIL, now, job.exit_code, job.exit_signal, job.usage)
    change = requeue_job(job, nodes, now, detail, end=end)
    job.failure_requeues += 1
    if job.failure_requeues > MAX_FAILURE_REQUEUES:
        job.held_by, job.reason = "requeue_limit", HOLD_REASONS["requeue_limit"]
        job.priority = basic_priority(job.spec.nice, is_held=True)
        log.warning("job held after repeated failures job_id=%d requeues=%d", job.job_id, job.restart_count)
    return change


def kill_job(job: Job, cause: JobEvent, now: float, detail: str = "") -> JobChange:
    """Mark a live job COMPLETING; `cause` is the end event owed once its processes are gone."""
    job.kill_cause, job.kill_time = cause, now
    return change(job, JobEvent.KILL, now, detail or cause.value)


def cancel_instead(job: Job, now: float, detail: str) -> JobChange:
    """A job being killed to be requeued (its node failed, it was preempted or requeued) that is
    cancelled meanwhile ends CANCELLED instead: the cancel is the later word."""
    job.kill_cause = JobEvent.CANCEL
    return JobChange(job, JobEvent.KILL, now, detail)   # (killed still; now to end CANCELLED)


def suspend_job(job: Job, nodes: NodeTable, now: float, *, preemptor_id: int = 0, detail: str = "") -> JobChange:
    """RUNNING -> SUSPENDED: its time limit's clock stops. It keeps its share of its nodes, or,
    suspended for `preemptor_id`, lends it to that job alone (which must start next, on it)."""
    result = change(job, JobEvent.SUSPEND, now, detail)
    earlier = nodes.suspensions.get(job.job_id)
    nodes.suspensions[job.job_id] = Suspension(now, earlier.total_s if earlier is not None else 0.0, preemptor_id)
    if preemptor_id:
        nodes.lend(job.job_id, preemptor_id)
    return result


def resume_job(job: Job, nodes: NodeTable, now: float, detail: str = "") -> JobChange:
    """SUSPENDED -> RUNNING: the time it was suspended is added to what its time limit allows."""
    result = change(job, JobEvent.RESUME, now, detail)
    earlier = nodes.suspensions.get(job.job_id)
    nodes.suspensions[job.job_id] = Suspension(None, earlier.suspended_s(now) if earlier is not None else 0.0)
    nodes.resume_owed.discard(job.job_id)
    return result


def may_requeue(job: Job, *, cluster_default: bool) -> bool:
    """Whether a job whose node failed goes back to the queue (sbatch --requeue/--no-requeue)."""
    return job.spec.requeue if job.spec.requeue is not None else cluster_default
