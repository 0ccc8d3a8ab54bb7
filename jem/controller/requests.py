"""Users' requests on existing jobs: cancel, signal, hold, release, update.

Ownership is checked here, once per request: owners act on their own jobs,
root on all. Every change is committed before the agent is told or the
caller is answered.
"""

import logging

from jem.controller import lifecycle
from jem.controller.state import ClusterState
from jem.model.errors import (AlreadyDone, InvalidArgument, JobNotFound, JobStateConflict, NotJobOwner,
                              PermissionDenied, UnknownPartition)
from jem.model.identity import Identity
from jem.model.job import Job
from jem.model.reasons import JobReason
from jem.model.states import JobEvent, JobState
from jem.scheduler.priority import basic_priority

log = logging.getLogger(__name__)


def _owned_job(state: ClusterState, job_id: int, identity: Identity) -> Job:
    job = state.jobs.get(job_id)
    if job is None:
        raise JobNotFound(str(job_id))
    if not identity.may_act_on(job.uid):
        raise NotJobOwner(f"job {job_id} belongs to {job.user}")
    return job


def cancel_job(state: ClusterState, job_id: int, identity: Identity, *, now: float) -> JobState:
    """Cancel a job: a pending one ends at once, a live one is killed and ends when its
    processes are gone. Cancelling a job already being killed is a no-op."""
    with state.lock:
        job = _owned_job(state, job_id, identity)
        if job.state is JobState.PENDING:
            state.jobs.commit([lifecycle.end_job(job, JobEvent.CANCEL, state.nodes, now,
                                                 detail=f"by {identity.user}")])
            return job.state
        if job.state is JobState.COMPLETING:
            return job.state
        if not job.is_live:
            raise AlreadyDone(str(job_id))
        state.jobs.commit([lifecycle.kill_job(job, JobEvent.CANCEL, now, detail=f"cancel by {identity.user}")])
        targets = _batch_node(state, job)
    _send_signal(state, job, targets, signal=0)
    if state.steps is not None:
        state.steps.cancel(job_id)   # its steps' tasks on the other nodes die too
    return JobState.COMPLETING


def signal_job(state: ClusterState, job_id: int, identity: Identity, *, signal: int) -> JobState:
    """Send `signal` to every process of a running job; no state change."""
    if not 0 < signal < 65:
        raise InvalidArgument(f"invalid signal number {signal}")
    with state.lock:
        job = _owned_job(state, job_id, identity)
        if job.state is JobState.PENDING:
            raise JobStateConflict(f"job {job_id} is pending execution")
        if not job.is_live:
            raise AlreadyDone(str(job_id))
        targets = _batch_node(state, job)
    _send_signal(state, job, targets, signal=signal)
    return job.state


def hold_job(state: ClusterState, job_id: int, identity: Identity, *, now: float) -> str:
    """Hold a pending job; root's hold is an admin hold (JobHeldAdmin) that users cannot lift."""
    with state.lock:
        job = _owned_job(state, job_id, identity)
        if job.state is not JobState.PENDING:
            raise JobStateConflict(f"job {job_id} is {job.state.value}, not pending")
        job.held_by = "admin" if identity.is_root and identity.uid != job.uid else "user"
        job.priority = 0
        job.reason = JobReason.JOB_HELD_ADMIN if job.held_by == "admin" else JobReason.JOB_HELD_USER
        state.jobs.commit([lifecycle.change(job, JobEvent.HOLD, now, detail=job.held_by)])
        return job.held_by


def release_job(state: ClusterState, job_id: int, identity: Identity, *, now: float) -> JobState:
    with state.lock:
        job = _owned_job(state, job_id, identity)
        if job.state is not JobState.PENDING or not job.held_by:
            raise JobStateConflict(f"job {job_id} is not held")
        if job.held_by == "admin" and not identity.is_root:
            raise PermissionDenied(f"job {job_id} is held by an administrator")
        job.held_by = ""
        job.priority = basic_priority(job.spec.nice, is_held=False)
        job.reason = JobReason.NONE
        state.jobs.commit([lifecycle.change(job, JobEvent.RELEASE, now)])
    state.wake_scheduler()
    return JobState.PENDING


def update_job(state: ClusterState, job_id: int, identity: Identity, *, now: float, name: str | None = None,
               time_limit_s: int | None = None, nice: int | None = None, partition: str | None = None) -> Job:
    """Change a job's name (any time), or a pending job's time limit, nice or partition."""
    with state.lock:
        job = _owned_job(state, job_id, identity)
        if job.state.is_terminal:
            raise AlreadyDone(str(job_id))
        if (time_limit_s is not None or nice is not None or partition is not None) and not job.is_pending:
            raise JobStateConflict(f"job {job_id} is {job.state.value}; only a pending job's limits can change")
        changes = {}
        if name is not None:
            changes["name"] = name
        if time_limit_s is not None:
            if time_limit_s <= 0:
                raise InvalidArgument("time limit must be positive")
            if not identity.is_root and (job.time_limit_s is None or time_limit_s > job.time_limit_s):
                raise PermissionDenied("only root may raise a time limit")
            job.time_limit_s = time_limit_s
            changes["time_limit_s"] = time_limit_s
        if nice is not None:
            if nice < 0 and not identity.is_root:
                raise PermissionDenied("only root may set a negative nice value")
            changes["nice"] = nice
            job.priority = basic_priority(nice, is_held=bool(job.held_by))
        if partition is not None:
            if state.partition(partition) is None:
                raise UnknownPartition(partition)
            changes["partition"] = partition
        lifecycle.copy_spec(job, **changes)
        state.jobs.commit([lifecycle.change(job, JobEvent.UPDATE, now, detail=",".join(sorted(changes)))])
    state.wake_scheduler()
    return job


def _batch_node(state: ClusterState, job: Job) -> list[tuple[str, str]]:
    """(node, agent address) of the node running the batch script: the job's first node."""
    if not job.nodes:
        return []
    node = state.nodes.get(job.nodes[0])
    return [(node.name, node.agent_address)] if node.agent_address else []


def _send_signal(state: ClusterState, job: Job, targets: list[tuple[str, str]], *, signal: int) -> None:
    for node_name, address in targets:
        state.agents.signal(node_name, address, job.job_id, signal=signal,
                            kill_wait_s=state.config.scheduler.kill_wait_s)
