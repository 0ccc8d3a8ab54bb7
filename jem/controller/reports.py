"""What agents tell the controller about jobs: ends, launch failures, and which runs
they still hold. Turns each into the right end event, finds jobs lost in between,
and settles the jobs of dead nodes.

Exactly once: a job leaves a node (requeued, or ended NODE_FAIL) only when
that node confirmed it: a report of the run's end (a kill included), or an
agent that registers or heartbeats without holding the run (`reconcile_node`:
a restarted agent holds what its predecessor left, so not holding it means it
is gone). A node that is merely silent is DOWN and gets no new work, but its
jobs stay RUNNING; only a node declared dead (silent for `[scheduler]
node_dead_timeout_s`, or so declared by an administrator: `settle_dead_nodes`) has its jobs
settled without a word from it. A job whose batch script runs on another node
that is up is then killed there first, and settled when that kill is confirmed.
An administrator's DOWN of a node whose agent answers kills its jobs the same way
(`nodedown.py`).

A run that ends in a failure its job's retry policy names is retried (`lifecycle.end_run`):
the job goes back to the queue under its backoff instead of ending.

Every report names its run (restart count): a report of an earlier run than
the job's current one, a duplicate, or one about a job the controller already
ended is acknowledged and ignored, so resending is safe.
"""

import logging

from jem.controller import lifecycle
from jem.controller.state import ClusterState
from jem.model.execution import JobEnd, JobReport
from jem.model.job import Job
from jem.model.reasons import JobReason
from jem.model.run import RunEnd
from jem.model.states import JobEvent, JobState
from jem.store import JobChange

log = logging.getLogger(__name__)


def end_event_for(job: Job, report: JobReport) -> tuple[JobEvent, JobReason]:
    """The end event (and reason) a job's end report means.

    A job the controller killed ends with the cause it was killed for; otherwise
    the agent's view decides, and a clean exit 0 is the only COMPLETED.
    """
    if job.kill_cause is not None:
        return job.kill_cause, _REASON_OF_CAUSE.get(job.kill_cause, JobReason.NONE)
    if report.end is JobEnd.TIME_LIMIT:
        return JobEvent.TIMEOUT, JobReason.TIME_LIMIT
    if report.end is JobEnd.OUT_OF_MEMORY:
        return JobEvent.OUT_OF_MEMORY, JobReason.OUT_OF_MEMORY
    if report.end is JobEnd.LAUNCH_FAILED:
        return JobEvent.FAIL, JobReason.LAUNCH_FAILED
    if report.end is JobEnd.NODE_SHUTDOWN:
        return JobEvent.NODE_FAIL, JobReason.NODE_DOWN
    if report.end is JobEnd.KILLED:
        return JobEvent.CANCEL, JobReason.NONE
    if report.exit_signal:
        return JobEvent.FAIL, JobReason.RAISED_SIGNAL
    if report.exit_code:
        return JobEvent.FAIL, JobReason.NON_ZERO_EXIT_CODE
    return JobEvent.COMPLETE, JobReason.NONE


_STEP_RESULTS = (JobEvent.COMPLETE, JobEvent.FAIL)   # kill causes owed by steps.end_allocation
_REASON_OF_CAUSE = {JobEvent.TIMEOUT: JobReason.TIME_LIMIT, JobEvent.NODE_FAIL: JobReason.NODE_DOWN}


def apply_reports(state: ClusterState, node_name: str, reports: list[JobReport], *, now: float) -> int:
    """Commit what `reports` from `node_name` mean; returns how many were handled."""
    changes: list[JobChange] = []
    with state.lock:
        if any(r.end is JobEnd.NODE_SHUTDOWN and _current_job(state, node_name, r) is not None for r in reports):
            # The agent is going away (or came back and found a run it lost): nothing more
            # may start there until it registers again. A stale report says nothing of that.
            for node in state.nodes.all():
                if node.name == node_name:
                    state.nodes.mark_unreachable(node_name, address=node.agent_address, why="agent shut down")
        for report in reports:
            job = _current_job(state, node_name, report)   # again: an earlier report may have ended it
            if job is None or not report.has_ended:
                continue
            event, reason = end_event_for(job, report)
            if event is JobEvent.REQUEUE:   # killed by scontrol requeue (or preemption): back to the queue
                changes.append(lifecycle.requeue_job(job, state.nodes, now, "requeued",
                                                     end=_run_end(JobState.CANCELLED, report, now)))
                continue
            if event is JobEvent.NODE_FAIL and lifecycle.may_requeue(
                    job, cluster_default=state.config.cluster.requeue_on_node_failure):
                changes.append(lifecycle.requeue_after_failure(job, state.nodes, now, f"node {node_name} shut down",
                                                               end=_run_end(JobState.NODE_FAIL, report, now)))
                continue
            # A job ended for its step (srun outside a job) keeps the step's exit code.
            exit_code, exit_signal = ((job.exit_code, job.exit_signal) if job.kill_cause in _STEP_RESULTS
                                      else (report.exit_code, report.exit_signal))
            changes.append(lifecycle.end_run(   # (ends the job, or retries it: its retry policy says)
                job, event, state.nodes, report.end_time or now, exit_code=exit_code,
                exit_signal=exit_signal, usage=report.usage, reason=reason, detail=report.detail,
            ))
        state.commit(changes)
        for change in changes:
            if change.run is not None and change.run.retry:   # a failed run retried: its steps end with it
                state.steps.cancel(change.job.job_id)
            if change.job.state.is_terminal:
                state.steps.cancel(change.job.job_id)   # steps on its other nodes end with it
                state.steps.forget_job(change.job.job_id)
    if changes:
        state.wake_scheduler()
    return len(reports)


def _run_end(run_state: JobState, report: JobReport, now: float) -> RunEnd:
    """How a run that is requeued ended, as its report says."""
    return RunEnd(run_state, report.end_time or now, report.exit_code, report.exit_signal, report.usage)


def _current_job(state: ClusterState, node_name: str, report: JobReport) -> Job | None:
    """The live job `report` is about, when its current run is on `node_name`; None for a
    stale report (a duplicate, an earlier run, a job ended or gone elsewhere). Lock held."""
    job = state.jobs.find(report.job_id)
    if (job is None or not job.is_live or not job.nodes or job.nodes[0] != node_name
            or report.restart_count not in (None, job.restart_count)):
        log.debug("stale report ignored job_id=%d node=%s", report.job_id, node_name)
        return None
    return job


def fail_jobs_on_nodes(state: ClusterState, node_names: set[str], *, now: float, why: str,
                       only_job_ids: set[int] | None = None) -> list[JobChange]:
    """End (NODE_FAIL) or requeue the live jobs on failed nodes, which are confirmed gone
    from there. Caller holds the lock and commits the returned changes."""
    return [_settle(state, job, now=now, why=why) for job in state.jobs.live()
            if node_names.intersection(job.nodes) and (only_job_ids is None or job.job_id in only_job_ids)]


def _settle(state: ClusterState, job: Job, *, now: float, why: str) -> JobChange:
    """Requeue or end a job whose processes are gone (lock held)."""
    if job.kill_cause is JobEvent.REQUEUE:
        return lifecycle.requeue_job(job, state.nodes, now, why)
    if job.kill_cause is not None and job.kill_cause is not JobEvent.NODE_FAIL:
        # It was being killed anyway: end it as what it was killed for (or retry it: a time limit's).
        return lifecycle.end_run(job, job.kill_cause, state.nodes, now, detail=why,
                                 reason=_REASON_OF_CAUSE.get(job.kill_cause, JobReason.NONE))
    if lifecycle.may_requeue(job, cluster_default=state.config.cluster.requeue_on_node_failure):
        return lifecycle.requeue_after_failure(job, state.nodes, now, why)
    return lifecycle.end_run(job, JobEvent.NODE_FAIL, state.nodes, now, reason=JobReason.NODE_DOWN, detail=why)


Kill = tuple[str, str, int, int]   # (node name, agent address, job id, run): a kill to send


def kill_for_node_failure(state: ClusterState, job: Job, *, now: float, why: str) -> tuple[JobChange, list[Kill]]:
    """Mark a live job killed because a node of it failed (cause REQUEUE where it may be
    requeued, else NODE_FAIL) and say where the kill goes: its batch script's node. It is
    settled only when that node confirms its run gone (`apply_reports`, `reconcile_node`),
    or is declared dead. Caller holds the lock, commits the change and sends the kill after."""
    requeue = lifecycle.may_requeue(job, cluster_default=state.config.cluster.requeue_on_node_failure)
    change = lifecycle.kill_job(job, JobEvent.REQUEUE if requeue else JobEvent.NODE_FAIL, now, detail=why)
    batch_node = state.nodes.get(job.nodes[0])
    if not batch_node.agent_address:   # its agent's registration or death settles it
        return change, []
    return change, [(batch_node.name, batch_node.agent_address, job.job_id, job.restart_count)]


def send_kills(state: ClusterState, kills: list[Kill]) -> None:
    """Send the kills `settle_dead_nodes` or `kill_for_node_failure` asked for (lock not held): all
    for a node's failure, which the job's stderr says (Slurm's "DUE TO NODE FAILURE" line), requeued or not."""
    for node_name, address, job_id, run in kills:
        state.agents.signal(node_name, address, job_id, signal=0, kill_wait_s=state.config.scheduler.kill_wait_s,
                            restart_count=run, cause=JobEvent.NODE_FAIL)


def settle_dead_nodes(state: ClusterState, node_names: set[str], *, now: float, why: str) -> list[Kill]:
    """Nodes declared dead (never to be heard from about their jobs): requeue or end (NODE_FAIL)
    the jobs whose batch script ran on one of them, and kill those whose batch script runs on
    a node that is up (settled when that kill is confirmed). Commits; returns the kills for the
    caller to send once the lock is released. Lock held."""
    changes, kills = [], []
    for job in state.jobs.live():
        if not node_names.intersection(job.nodes):
            continue
        if job.nodes[0] in node_names:
            changes.append(_settle(state, job, now=now, why=why))
        elif job.kill_cause is None:
            change, job_kills = kill_for_node_failure(state, job, now=now, why=why)
            changes.append(change)
            kills += job_kills
    if changes:
        log.warning("nodes declared dead nodes=%s why=%s jobs=%s", ",".join(sorted(node_names)), why,
                    [c.job.job_id for c in changes])
    state.commit(changes)
    return kills


KILL_RESEND_S = 10.0   # beyond kill_wait_s: a killed job still running then is killed again

HeldRun = tuple[int, int | None]   # (job id, run) an agent holds; run None: an agent that does not say


def reconcile_node(state: ClusterState, node_name: str, *, running: set[HeldRun], unreported: set[HeldRun],
                   now: float) -> list[HeldRun]:
    """Compare the runs an agent holds (`running`, and `unreported`: ended, reports on their
    way) with what the controller expects there. A job the controller expects whose run the
    agent does not hold, past the launch grace, is confirmed gone: requeued or NODE_FAIL. A run
    the agent runs that is not live here (the job ended, or is live elsewhere or in a later
    run) is an orphan it must kill, and so is a run whose kill (a lost SignalJob) it outlived.
    Returns the runs to kill: these, and the lost runs themselves, so that a launch of one
    still on its way (delayed past the grace) is killed on arrival instead of running."""
    grace = state.config.scheduler.launch_grace_s
    held = running | unreported
    with state.lock:
        expected = {j.job_id: j for j in state.jobs.live() if j.nodes and j.nodes[0] == node_name}
        lost = {job_id: job.restart_count for job_id, job in expected.items()
                if not _holds(held, job) and job.start_time is not None and now - job.start_time > grace}
        if lost:
            log.warning("jobs lost by agent node=%s job_ids=%s", node_name, sorted(lost))
            state.commit(fail_jobs_on_nodes(state, {node_name}, now=now, why=f"lost by node {node_name}",
                                            only_job_ids=set(lost)))
        orphans = sorted(lost.items())
        orphans += sorted((job_id, run) for job_id, run in running
                         if (job := expected.get(job_id)) is None or not job.is_live
                         or (run is not None and run < job.restart_count))
        overdue = now - state.config.scheduler.kill_wait_s - KILL_RESEND_S
        orphans += sorted((job_id, job.restart_count) for job_id, job in expected.items()
                          if job.is_live and _holds(running, job) and job.kill_time is not None
                          and job.kill_time < overdue)
    if lost:
        state.wake_scheduler()
    return orphans


def _holds(runs: set[HeldRun], job: Job) -> bool:
    """Whether `runs` hold the job's current run (or the job, run unsaid)."""
    return (job.job_id, job.restart_count) in runs or (job.job_id, None) in runs
