"""Job arrays in the controller: one record per array, tasks split off as they become eligible.

An array is submitted as one record that stands for all its tasks
(`array_pending` holds their indices). Before each scheduling cycle,
`split_tasks` turns as many indices into task records of their own as could
start now, within the array's `%N` throttle; those are ordinary pending jobs
to the scheduler. The last index is not split off: the array's own record
becomes that task, as in Slurm (so the array id is also a task's id). The
array's record never goes to the scheduler while it stands for several tasks.
Callers hold the controller lock.
"""

import logging

from jem.controller import lifecycle
from jem.controller.state import ClusterState
from jem.model.arrays import accepted_array
from jem.model.dependency import per_task_part
from jem.model.job import Job
from jem.model.reasons import JobReason
from jem.model.states import JobEvent
from jem.store import JobChange

log = logging.getLogger(__name__)

MAX_SPLIT_PER_CYCLE = 1000   # bounds one cycle's work however large the free cluster is


def split_tasks(state: ClusterState, *, now: float) -> None:
    """Split eligible tasks off every pending array record; the new task records and the
    records' changes are committed in one transaction (a task is never split off twice)."""
    tasks: list[Job] = []
    changes: list[JobChange] = []
    for record in state.jobs.unsplit_arrays():
        if not record.held_by and not record.dependency:
            change = _split_some(state, record, tasks, now=now)
            if change is not None:
                changes.append(change)
    state.add_with(tasks, changes, now=now)


def _split_some(state: ClusterState, record: Job, tasks_out: list[Job], *, now: float) -> JobChange | None:
    tasks = state.jobs.array_tasks_in_memory(record.job_id)
    active = sum(1 for t in tasks if t.is_live or (t.is_pending and t.array_task_id is not None))
    throttle = accepted_array(record.spec.array).max_running
    room = throttle - active if throttle else len(record.array_pending)
    if room <= 0:
        if record.reason is not JobReason.JOB_ARRAY_TASK_LIMIT:   # (set only when it changes: a set is a change)
            record.reason = JobReason.JOB_ARRAY_TASK_LIMIT
        return None
    waiting = [t for t in tasks if t.is_pending and not t.held_by and not t.dependency]
    want = min(room, len(record.array_pending), MAX_SPLIT_PER_CYCLE,
               max(1, _copies_that_fit(state, record)) - len(waiting))
    if want <= 0:
        reason = waiting[0].reason if waiting else JobReason.NONE
        if record.reason is not reason:
            record.reason = reason
        return None
    split = record.array_pending[:want]
    for index in split:
        if index == record.array_pending[-1]:
            break
        tasks_out.append(task_of(record, index))
    if len(split) == len(record.array_pending):
        record.array_task_id, record.array_pending = split[-1], ()
        record.dependency = per_task_part(record.spec.dependency)
    else:
        record.array_pending = record.array_pending[len(split):]
    record.reason = JobReason.JOB_ARRAY_TASK_LIMIT if record.array_pending and want >= room else JobReason.NONE
    return lifecycle.change(record, JobEvent.UPDATE, now, detail=f"split tasks {split[0]}..{split[-1]}")


def task_of(record: Job, index: int) -> Job:
    """A new pending task record for `index` of the array `record` (its id comes from the store)."""
    return Job(
        job_id=0, spec=record.spec, user=record.user, uid=record.uid, gid=record.gid,
        submit_time=record.submit_time, shape=record.shape, time_limit_s=record.time_limit_s,
        priority=record.priority, array_task_id=index, array_parent_id=record.job_id,
        dependency=per_task_part(record.spec.dependency), user_signature=record.user_signature,
    )


def _copies_that_fit(state: ClusterState, record: Job) -> int:
    """How many tasks of `record`'s shape the partition's free resources hold now."""
    partition = state.partition(record.spec.partition)
    want = record.shape.per_node.as_row()
    per_node = []
    for node in state.nodes.all():
        if node.is_schedulable and partition is not None and partition.has_node(node.name):
            free = node.free.as_row()
            per_node.append(min((f // w for f, w in zip(free, want) if w > 0), default=0))
    if record.shape.n_nodes == 1:
        return sum(per_node)
    return sum(1 for n in per_node if n > 0) // record.shape.n_nodes


def split_for_cancel(state: ClusterState, record: Job, indices: set[int], *, now: float) -> list[Job]:
    """Take `indices` out of an array record's unsplit tasks as task records (to be cancelled)."""
    chosen = [i for i in record.array_pending if i in indices]
    if not chosen:
        return []
    rest = tuple(i for i in record.array_pending if i not in indices)
    if not rest:
        # The record itself becomes the last chosen task, so it never stands for nothing.
        *chosen, last = chosen
        record.array_task_id = last
    new_tasks = [task_of(record, index) for index in chosen]
    record.array_pending = rest
    state.add_with(new_tasks, [lifecycle.change(record, JobEvent.UPDATE, now, detail="split for cancel")], now=now)
    return new_tasks + ([record] if not rest else [])


def is_whole_array(job: Job) -> bool:
    """Whether `job` is an array's own record (its id names the whole array)."""
    return bool(job.spec.array) and job.array_parent_id == 0

