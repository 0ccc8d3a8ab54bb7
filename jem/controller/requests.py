"""Users' requests on existing jobs: cancel, signal, hold, release, update.

Ownership is checked here, once per request: owners act on their own jobs,
root on all. Every change is committed before the agent is told or the
caller is answered.
"""

import dataclasses
import logging

from jem.controller import arrays, lifecycle, signals
from jem.controller.arrays import is_whole_array
from jem.controller.admission import (check_partition_size, check_partition_time, check_submit_limits, limited_job,
                                     resolve_account_and_qos)
from jem.controller.state import ClusterState
from jem.controller.submission import shape_in_partition
from jem.model import policy
from jem.model.arrays import format_job_label
from jem.model.errors import (AlreadyDone, InvalidArgument, JobIsPending, JobNotFound, JobStateConflict,
                              NotAnAllocation, RequeueDisabled, UnknownPartition)
from jem.model.execution import SignalScope
from jem.model.identity import Identity
from jem.model.job import NICE_LIMIT, Job
from jem.model.limits import check_text, clamp_time_limit
from jem.model.reasons import HOLD_REASONS, JobReason
from jem.model.states import JobEvent, JobState
from jem.scheduler.priority import basic_priority

log = logging.getLogger(__name__)


def _owned_job(state: ClusterState, job_id: int, identity: Identity) -> Job:
    job = state.jobs.get(job_id)
    if job is None:
        raise JobNotFound(str(job_id))
    policy.require_job_access(identity, owner_uid=job.uid, owner=job.user, job_id=job_id)
    return job


def cancel_job(state: ClusterState, job_id: int, identity: Identity, *, now: float,
               array_task_ids: tuple[int, ...] = ()) -> JobState:
    """Cancel a job: a pending one ends at once, a live one is killed and ends when its
    processes are gone. Cancelling a job already being killed is a no-op. An array's id
    cancels every task of the array; with `array_task_ids`, only those tasks."""
    kills = []
    with state.lock:
        job = _owned_job(state, job_id, identity)
        targets = _cancel_targets(state, job, array_task_ids, now=now)
        changes = []
        for target in targets:
            if target.state is JobState.PENDING:
                changes.append(lifecycle.end_job(target, JobEvent.CANCEL, state.nodes, now,
                                                 detail=f"by {identity.user}"))
            elif target.is_live and target.state is not JobState.COMPLETING:
                changes.append(lifecycle.kill_job(target, JobEvent.CANCEL, now, detail=f"cancel by {identity.user}"))
                kills.append((target.job_id, target.restart_count, signals.kill_targets(state, target)))
            elif target.state is JobState.COMPLETING and target.kill_cause is JobEvent.REQUEUE:
                changes.append(lifecycle.cancel_instead(target, now, detail=f"cancel by {identity.user}"))
        if not changes and not any(t.state is JobState.COMPLETING for t in targets):
            raise AlreadyDone(format_job_label(job_id, array_task_ids) if array_task_ids else job.label)
        state.commit(changes)
        result = job.state if any(t is job for t in targets) else targets[0].state
    for target_id, run, nodes in kills:
        signals.send(state, target_id, nodes, signal=0, run=run)
    return result


def complete_allocation(state: ClusterState, job_id: int, identity: Identity, *, exit_code: int,
                        now: float) -> JobState:
    """salloc's end (Slurm's slurm_complete_job): the allocation's owner ends it with its command's
    exit code, COMPLETED for 0 and FAILED otherwise, its placeholder script killed. Only a job made
    as an allocation (its script ALLOCATION_SCRIPT), and only while it runs."""
    with state.lock:
        job = _owned_job(state, job_id, identity)
        if not job.is_allocation:
            raise NotAnAllocation(job.label)
        if job.state is not JobState.RUNNING:
            raise AlreadyDone(job.label)
        job.exit_code, job.exit_signal = max(0, min(exit_code, 255)), 0
        cause = JobEvent.COMPLETE if job.exit_code == 0 else JobEvent.FAIL
        state.commit([lifecycle.kill_job(job, cause, now, detail=f"allocation completed by {identity.user}")])
        run, nodes, result = job.restart_count, signals.kill_targets(state, job), job.state
    signals.send(state, job_id, nodes, signal=0, run=run)
    return result


def _records(state: ClusterState, job: Job, task_ids: tuple[int, ...]) -> list[Job]:
    """The existing records a request on `job` (and `task_ids`) acts on; an array's id means its
    records not ended yet."""
    if not is_whole_array(job):
        if task_ids and job.array_task_id not in task_ids:
            raise JobNotFound(f"{job.job_id}_{task_ids[0]}")
        return [job]
    records = [r for r in state.jobs.array_records(job.job_id) if not r.state.is_terminal]
    if task_ids:
        wanted = set(task_ids)
        records = [r for r in records if r.array_task_id in wanted]
    return records


def _cancel_targets(state: ClusterState, job: Job, task_ids: tuple[int, ...], *, now: float) -> list[Job]:
    """What a cancel acts on: `_records`, plus requested tasks not split off yet, split off now."""
    targets = _records(state, job, task_ids)
    if task_ids and is_whole_array(job) and job.array_pending and job.state is JobState.PENDING:
        targets += arrays.split_for_cancel(state, job, set(task_ids), now=now)
    if task_ids and not targets:
        raise JobNotFound(f"{job.job_id}_{task_ids[0]}")
    return targets


def signal_job(state: ClusterState, job_id: int, identity: Identity, *, signal: int,
               array_task_ids: tuple[int, ...] = (), scope: SignalScope = SignalScope.STEPS) -> JobState:
    """Send `signal` to the processes `scope` names of a running job (or of the array's running
    tasks): its steps on every node (scancel's default), the batch shell alone, or all; no state change."""
    if not 0 < signal < 65:
        raise InvalidArgument(f"invalid signal number {signal}")
    with state.lock:
        job = _owned_job(state, job_id, identity)
        targets = [t for t in _records(state, job, array_task_ids) if t.is_live]
        if not targets:
            if job.state is JobState.PENDING:
                raise JobStateConflict(f"job {job_id} is pending execution")
            raise AlreadyDone(str(job_id))
        sends = [(t.job_id, t.restart_count, signals.signal_targets(state, t, scope)) for t in targets]
    for target_id, run, nodes in sends:
        signals.send(state, target_id, nodes, signal=signal, scope=scope, run=run)
    return targets[0].state


def requeue_job(state: ClusterState, job_id: int, identity: Identity, *, now: float) -> JobState:
    """scontrol requeue: a running job is killed and returns to PENDING once its processes
    are gone; an ended one returns to PENDING at once. Refused for --no-requeue jobs."""
    with state.lock:
        job = _owned_job(state, job_id, identity)
        if job.spec.requeue is False:
            raise RequeueDisabled(f"job {job_id} was submitted with --no-requeue")
        if job.state is JobState.PENDING:
            raise JobIsPending(str(job_id))
        if job.state is JobState.COMPLETING:
            return job.state
        if job.state.is_terminal:
            state.commit([lifecycle.requeue_job(job, state.nodes, now, f"requeue by {identity.user}")])
            state.wake_scheduler()
            return job.state
        state.commit([lifecycle.kill_job(job, JobEvent.REQUEUE, now, detail=f"requeue by {identity.user}")])
        targets, run = signals.kill_targets(state, job), job.restart_count
    signals.send(state, job.job_id, targets, signal=0, run=run)
    state.steps.cancel(job_id)   # its steps' tasks on the other nodes die too
    return JobState.COMPLETING


def hold_job(state: ClusterState, job_id: int, identity: Identity, *, now: float) -> str:
    """scontrol hold: keep a pending job (an array's id: its pending tasks) from starting. An
    operator's hold is an admin hold (JobHeldAdmin, which only an operator may release), whoever
    owns the job; a user's is a user hold, and leaves an admin hold as it is (Slurm's). Who holds
    the job now ("admin" or "user")."""
    return _hold(state, job_id, identity, now=now, held_by="admin" if identity.is_operator else "user")


def user_hold_job(state: ClusterState, job_id: int, identity: Identity, *, now: float) -> str:
    """scontrol uhold: a user hold (JobHeldUser, which the owner may release) whoever asks; an
    operator's turns an admin hold into a user hold, a user's leaves it as it is."""
    return _hold(state, job_id, identity, now=now, held_by="user")


def _hold(state: ClusterState, job_id: int, identity: Identity, *, now: float, held_by: str) -> str:
    with state.lock:
        job = _owned_job(state, job_id, identity)
        targets = [t for t in _records(state, job, ()) if t.state is JobState.PENDING]
        if not targets:
            raise JobStateConflict(f"job {job_id} is {job.state.value}, not pending")
        changed = [t for t in targets if t.held_by != held_by and (identity.is_operator or t.held_by != "admin")]
        for target in changed:
            target.held_by, target.priority = held_by, 0
            target.reason = HOLD_REASONS[held_by]
        if changed:
            state.commit([lifecycle.change(t, JobEvent.HOLD, now, detail=held_by) for t in changed])
        return targets[0].held_by


def release_job(state: ClusterState, job_id: int, identity: Identity, *, now: float) -> JobState:
    with state.lock:
        job = _owned_job(state, job_id, identity)
        targets = [t for t in _records(state, job, ()) if t.state is JobState.PENDING and t.held_by]
        if not targets:
            raise JobStateConflict(f"job {job_id} is not held")
        if any(t.held_by != "user" for t in targets):
            policy.require_operator(identity, f"release job {job_id}, held by an administrator")
        for target in targets:
            if target.held_by == "requeue_limit":   # (an operator gives it a fresh count of node failures)
                target.failure_requeues = 0
            target.held_by = ""
            target.priority = basic_priority(target.spec.nice, is_held=False)
            target.reason = JobReason.NONE
        state.commit([lifecycle.change(t, JobEvent.RELEASE, now) for t in targets])
    state.wake_scheduler()
    return JobState.PENDING


def update_job(state: ClusterState, job_id: int, identity: Identity, *, now: float, name: str | None = None,
               time_limit_s: int | None = None, nice: int | None = None, partition: str | None = None,
               n_nodes: int | None = None) -> Job:
    """Change a job's name or time limit (while it is pending or running), or a pending job's nice,
    partition or node count (the job is shaped again, and refused if it could then never run).
    `time_limit_s` 0 means no limit (UNLIMITED); only an operator may raise a running job's limit
    or make one unlimited; an owner may raise a pending job's within its partition's MaxTime and
    its QOS' limits (Slurm's rules).
    A running job's new limit counts from its start, as the old one did: its batch node's agent
    is told once the change is committed, and a limit already passed ends the job at once
    (TIMEOUT). Every value is checked before the job changes at all: a refused request leaves it
    as it was. Where the state machine allows no update (a job being killed or suspended)
    `lifecycle.change` refuses it (IllegalTransition, FAILED_PRECONDITION) before anything is
    committed."""
    limits = state.config.limits
    if name is not None:
        check_text("name", name, limits.max_name_len)
    if partition is not None:
        check_text("partition", partition, limits.max_name_len)
    if time_limit_s is not None and time_limit_s < 0:
        raise InvalidArgument("time limit must not be negative")
    if nice is not None and not -NICE_LIMIT <= nice <= NICE_LIMIT:
        raise InvalidArgument(f"nice must be within -{NICE_LIMIT}..{NICE_LIMIT}")
    if n_nodes is not None and n_nodes <= 0:
        raise InvalidArgument("node count must be positive")
    is_limit_changed = time_limit_s is not None
    new_limit = clamp_time_limit(time_limit_s) or None   # (0: none)
    with state.lock:
        job = _owned_job(state, job_id, identity)
        _check_update(state, job, identity, new_limit=new_limit if is_limit_changed else job.time_limit_s, nice=nice,
                      partition=partition, n_nodes=n_nodes)
        changes = {key: value for key, value in (("name", name), ("nice", nice), ("partition", partition),
                                                 ("n_nodes", n_nodes)) if value is not None}
        if is_limit_changed:
            changes.update(time_limit_s=new_limit, time_limit_unlimited=new_limit is None)
        spec = dataclasses.replace(job.spec, **changes)
        shape = shape_in_partition(state, spec, state.partition(spec.partition)) \
            if partition is not None or n_nodes is not None else job.shape
        if (partition is not None or n_nodes is not None or is_limit_changed) and job.is_pending \
                and not identity.is_operator:
            # The owner's job moved or grown must be one they could have submitted there: the
            # partition's access lists, MaxNodes and MaxTime, and the limits a job is refused over
            # (its own tasks are counted already). Operators may place a job anywhere (Slurm's).
            _check_policy_again(state, job, spec, shape, identity)
        updated = dataclasses.replace(job, spec=spec, shape=shape)
        if is_limit_changed:   # (a reservation's cut of this run's limit is replaced by it)
            updated.time_limit_s, updated.time_limit_cut, updated.uncut_time_limit_s = new_limit, False, None
        if nice is not None:
            updated.priority = basic_priority(nice, is_held=bool(job.held_by))
        # The store first; memory then holds `updated` in the job's place (JobTable.commit).
        changed = sorted(changes.keys() - {"time_limit_unlimited"})
        state.commit([lifecycle.change(updated, JobEvent.UPDATE, now, detail=",".join(changed))])
        orders = signals.kill_targets(state, updated) if is_limit_changed and updated.nodes else []
    for node_name, address in orders:   # (the batch node's agent enforces the limit)
        state.agents.set_time_limit(node_name, address, job_id, time_limit_s=new_limit,
                                    restart_count=updated.restart_count)
    state.wake_scheduler()
    return updated


def _check_update(state: ClusterState, job: Job, identity: Identity, *, new_limit: int | None, nice: int | None,
                  partition: str | None, n_nodes: int | None) -> None:
    """Whether `identity` may make these changes to `job` in its state (lock held): a running
    job's nice, partition and node count stay; only an operator raises a running job's time
    limit or makes one unlimited (`new_limit` None), or sets a negative nice."""
    if job.state.is_terminal:
        raise AlreadyDone(str(job.job_id))
    if (nice is not None or partition is not None or n_nodes is not None) and not job.is_pending:
        raise JobStateConflict(f"job {job.job_id} is {job.state.value}; only a pending job's nice, partition "
                               f"or node count can change")
    # (Slurm lets an owner raise a pending job's limit within what the job could have been
    # submitted with: its partition's MaxTime and its QOS' limits, checked with the rest below.)
    if _raises(job.time_limit_s, new_limit) and not (job.is_pending and new_limit is not None):
        policy.require_operator(identity, "raise a running job's time limit, or make it unlimited")
    if nice is not None and nice < 0:
        policy.require_operator(identity, "set a negative nice value")
    if partition is not None and state.partition(partition) is None:
        raise UnknownPartition(partition)


def _raises(old_s: int | None, new_s: int | None) -> bool:
    """Whether a time limit of `new_s` is longer than `old_s` (None: no limit)."""
    return old_s is not None and (new_s is None or new_s > old_s)


def _check_policy_again(state: ClusterState, job: Job, spec, shape, identity: Identity) -> None:
    """Site policy over a pending job's new spec and shape, as at submit (lock held)."""
    partition = state.partition(spec.partition)
    table = state.accounting_table
    owner = dataclasses.replace(identity, user=job.user, uid=job.uid, gid=job.gid)
    resolve_account_and_qos(table, state.config, spec, owner, partition)
    check_partition_size(partition, shape)
    time_limit = job.time_limit_s if spec.time_limit_s is None else spec.time_limit_s
    check_partition_time(partition, time_limit)
    check_submit_limits(table, state.config, limited_job(spec, job.user, shape, time_limit, partition),
                        state.jobs.index, n_tasks=0)
