"""What agents tell the controller about jobs: ends, launch failures, and which jobs
they still run. Turns each into the right end event, and finds jobs lost in between.

A report for a job that is no longer live on that node (a duplicate, or one
the controller already ended) is acknowledged and ignored, so resending is safe.
"""

import logging

from jem.controller import lifecycle
from jem.controller.state import ClusterState
from jem.model.execution import JobEnd, JobReport
from jem.model.job import Job
from jem.model.reasons import JobReason
from jem.model.states import JobEvent
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
        return JobEvent.NODE_FAIL, JobReason.NODE_FAIL
    if report.end is JobEnd.KILLED:
        return JobEvent.CANCEL, JobReason.NONE
    if report.exit_signal:
        return JobEvent.FAIL, JobReason.RAISED_SIGNAL
    if report.exit_code:
        return JobEvent.FAIL, JobReason.NON_ZERO_EXIT_CODE
    return JobEvent.COMPLETE, JobReason.NONE


_STEP_RESULTS = (JobEvent.COMPLETE, JobEvent.FAIL)   # kill causes owed by steps.end_allocation
_REASON_OF_CAUSE = {JobEvent.TIMEOUT: JobReason.TIME_LIMIT, JobEvent.NODE_FAIL: JobReason.NODE_FAIL}


def apply_reports(state: ClusterState, node_name: str, reports: list[JobReport], *, now: float) -> int:
    """Commit what `reports` from `node_name` mean; returns how many were handled."""
    changes: list[JobChange] = []
    with state.lock:
        if any(r.end is JobEnd.NODE_SHUTDOWN for r in reports):
            # The agent is going away (or came back and killed what its predecessor
            # left): nothing more may start there until it registers again.
            for node in state.nodes.all():
                if node.name == node_name:
                    state.nodes.mark_unreachable(node_name, address=node.agent_address, why="agent shut down")
        for report in reports:
            job = state.jobs.find(report.job_id)
            if (job is None or not job.is_live or not job.nodes or job.nodes[0] != node_name
                    or report.restart_count not in (None, job.restart_count)):
                log.debug("stale report ignored job_id=%d node=%s", report.job_id, node_name)
                continue
            if not report.has_ended:
                continue
            event, reason = end_event_for(job, report)
            if event is JobEvent.REQUEUE:   # killed by scontrol requeue: back to the queue
                changes.append(lifecycle.requeue_job(job, state.nodes, now, "requeued"))
                continue
            if event is JobEvent.NODE_FAIL and lifecycle.may_requeue(
                    job, cluster_default=state.config.cluster.requeue_on_node_failure):
                changes.append(lifecycle.requeue_job(job, state.nodes, now, f"node {node_name} shut down"))
                continue
            # A job ended for its step (srun outside a job) keeps the step's exit code.
            exit_code, exit_signal = ((job.exit_code, job.exit_signal) if job.kill_cause in _STEP_RESULTS
                                      else (report.exit_code, report.exit_signal))
            changes.append(lifecycle.end_job(
                job, event, state.nodes, report.end_time or now, exit_code=exit_code,
                exit_signal=exit_signal, usage=report.usage, reason=reason, detail=report.detail,
            ))
        state.commit(changes)
        for change in changes:
            if change.job.state.is_terminal:
                state.steps.cancel(change.job.job_id)   # steps on its other nodes end with it
                state.steps.forget_job(change.job.job_id)
    if changes:
        state.wake_scheduler()
    return len(reports)


def fail_jobs_on_nodes(state: ClusterState, node_names: set[str], *, now: float, why: str,
                       only_job_ids: set[int] | None = None) -> list[JobChange]:
    """End (NODE_FAIL) or requeue the live jobs on failed nodes. Caller holds the lock
    and commits the returned changes."""
    changes = []
    for job in state.jobs.live():
        if not node_names.intersection(job.nodes):
            continue
        if only_job_ids is not None and job.job_id not in only_job_ids:
            continue
        if job.kill_cause is JobEvent.REQUEUE:
            changes.append(lifecycle.requeue_job(job, state.nodes, now, why))
        elif job.kill_cause is not None and job.kill_cause is not JobEvent.NODE_FAIL:
            # It was being killed anyway: end it as what it was killed for.
            changes.append(lifecycle.end_job(job, job.kill_cause, state.nodes, now, detail=why,
                                             reason=_REASON_OF_CAUSE.get(job.kill_cause, JobReason.NONE)))
        elif lifecycle.may_requeue(job, cluster_default=state.config.cluster.requeue_on_node_failure):
            changes.append(lifecycle.requeue_job(job, state.nodes, now, why))
        else:
            changes.append(lifecycle.end_job(job, JobEvent.NODE_FAIL, state.nodes, now,
                                             reason=JobReason.NODE_FAIL, detail=why))
    return changes


KILL_RESEND_S = 10.0   # beyond kill_wait_s: a killed job still running then is killed again


def reconcile_node(state: ClusterState, node_name: str, *, known_job_ids: set[int], now: float) -> list[int]:
    """Compare what an agent runs (or has unreported ends of) with what the controller
    expects there. Jobs the controller expects but the agent does not know, past the
    launch grace, were lost; jobs the agent runs that are not live here are orphans
    it must kill, and so are jobs whose kill (a lost SignalJob) they outlived.
    Returns the ids to kill."""
    grace = state.config.scheduler.launch_grace_s
    with state.lock:
        expected = {j.job_id: j for j in state.jobs.live() if j.nodes and j.nodes[0] == node_name}
        lost = {job_id for job_id, job in expected.items()
                if job_id not in known_job_ids and job.start_time is not None and now - job.start_time > grace}
        if lost:
            log.warning("jobs lost by agent node=%s job_ids=%s", node_name, sorted(lost))
            state.commit(fail_jobs_on_nodes(state, {node_name}, now=now, why=f"lost by node {node_name}",
                                                 only_job_ids=lost))
        orphans = sorted(job_id for job_id in known_job_ids if job_id not in expected
                         and ((job := state.jobs.get(job_id)) is None or not job.is_live))
        overdue = now - state.config.scheduler.kill_wait_s - KILL_RESEND_S
        orphans += sorted(job_id for job_id, job in expected.items() if job_id in known_job_ids
                          and job.kill_time is not None and job.kill_time < overdue)
    if lost:
        state.wake_scheduler()
    return orphans
