"""The controller's in-memory job table: which jobs are live, and which ended jobs it forgets, kept
up to date through `add` and `commit` alone (no scan of every job each cycle)."""

from jem.controller.jobtable import JobTable
from jem.controller.watch import EventBus
from jem.model.job import Job, JobShape, JobSpec
from jem.model.resources import Resources
from jem.model.states import JobEvent, JobState
from jem.store import JobChange, SqliteStore


def _job(**fields) -> Job:
    base = dict(job_id=0, spec=JobSpec(script="#!/bin/sh\n", partition="p"), user="ann", uid=1, gid=1,
                submit_time=10.0, shape=JobShape(1, 1, Resources(1, 100, 0)), time_limit_s=None)
    base.update(fields)
    return Job(**base)


def _table(tmp_path) -> tuple[JobTable, SqliteStore]:
    store = SqliteStore(str(tmp_path / "jem.db"))
    return JobTable(store, EventBus()), store


def _move(table: JobTable, job: Job, state: JobState, event: JobEvent, now: float, **fields) -> None:
    job.state = state
    for name, value in fields.items():
        setattr(job, name, value)
    table.commit([JobChange(job, event, now)])


def test_live_follows_each_committed_change(tmp_path):
    table, store = _table(tmp_path)
    ids = [table.add(_job(), now=10.0) for _ in range(3)]
    assert table.live() == [] and [j.job_id for j in table.pending()] == ids
    first, second, third = (table.find(i) for i in ids)
    _move(table, third, JobState.RUNNING, JobEvent.START, 11.0, start_time=11.0, nodes=("n1",))
    _move(table, first, JobState.RUNNING, JobEvent.START, 11.0, start_time=11.0, nodes=("n1",))
    assert [j.job_id for j in table.live()] == [ids[0], ids[2]]    # in id order
    assert [j.job_id for j in table.pending()] == [ids[1]]
    _move(table, first, JobState.COMPLETING, JobEvent.KILL, 12.0)
    assert [j.job_id for j in table.live()] == [ids[0], ids[2]]
    _move(table, first, JobState.COMPLETED, JobEvent.COMPLETE, 13.0, end_time=13.0)
    assert [j.job_id for j in table.live()] == [ids[2]]
    assert table.count_active() == 2
    store.close()


def test_forget_ended_drops_only_jobs_ended_before_the_cutoff(tmp_path):
    table, store = _table(tmp_path)
    ids = [table.add(_job(), now=10.0) for _ in range(4)]
    for job_id, end in zip(ids, (20.0, 30.0, 40.0)):
        _move(table, table.find(job_id), JobState.CANCELLED, JobEvent.CANCEL, end, end_time=end)
    assert table.forget_ended(ended_before=10.0) == 0
    assert table.forget_ended(ended_before=35.0) == 2
    assert table.find(ids[0]) is None and table.find(ids[1]) is None
    assert table.get(ids[0]).state is JobState.CANCELLED       # still in the store
    assert table.find(ids[2]) is not None and table.find(ids[3]) is not None   # later, and pending
    assert table.forget_ended(ended_before=1e9) == 1
    assert [j.job_id for j in table.all()] == [ids[3]]
    store.close()


def test_a_job_requeued_or_ended_again_is_forgotten_by_its_latest_end(tmp_path):
    table, store = _table(tmp_path)
    requeued, ended_twice = (table.add(_job(), now=10.0) for _ in range(2))
    job = table.find(requeued)
    _move(table, job, JobState.RUNNING, JobEvent.START, 11.0, start_time=11.0, nodes=("n1",))
    _move(table, job, JobState.NODE_FAIL, JobEvent.NODE_FAIL, 12.0, end_time=12.0)
    _move(table, job, JobState.PENDING, JobEvent.REQUEUE, 12.0, end_time=None, start_time=None, nodes=())
    other = table.find(ended_twice)
    _move(table, other, JobState.CANCELLED, JobEvent.CANCEL, 12.0, end_time=12.0)
    other.end_time = 50.0   # a later end written since (as a usage update after the end would)
    table.commit([JobChange(other, JobEvent.UPDATE, 50.0)])
    assert table.forget_ended(ended_before=40.0) == 0
    assert table.find(requeued).is_pending and table.find(ended_twice) is not None
    assert table.forget_ended(ended_before=60.0) == 1
    assert table.find(ended_twice) is None and table.find(requeued) is not None
    store.close()


def test_forgotten_array_tasks_leave_the_array_view(tmp_path):
    table, store = _table(tmp_path)
    own = table.add(_job(spec=JobSpec(script="#!/bin/sh\n", partition="p", array="0-1")), now=10.0)
    record = table.find(own)
    record.array_pending = (1,)
    table.commit([JobChange(record, JobEvent.UPDATE, 10.0)])
    task = _job(spec=record.spec, array_task_id=0, array_parent_id=own)
    table.add_with([task], [], now=11.0)
    assert [t.job_id for t in table.array_tasks_in_memory(own)] == [task.job_id]
    _move(table, task, JobState.COMPLETED, JobEvent.COMPLETE, 12.0, end_time=12.0)
    assert table.forget_ended(ended_before=20.0) == 1
    assert table.array_tasks_in_memory(own) == []
    assert table.find(own) is not None
    store.close()


def test_a_job_waiting_for_its_begin_time_is_schedulable_only_once_it_came(tmp_path):
    table, store = _table(tmp_path)
    later = table.add(_job(spec=JobSpec(script="#!/bin/sh\n", partition="p", begin_time=100.0)), now=10.0)
    plain = table.add(_job(), now=10.0)
    assert table.begin(50.0) == [later]                    # deferred: its reason becomes BeginTime
    assert sorted(table.schedulable_ids()) == [plain]
    assert table.begin(60.0) == []                         # said once
    assert sorted(table.schedulable_ids()) == [plain]
    assert table.begin(100.0) == []
    assert sorted(table.schedulable_ids()) == [later, plain]   # (in id order)
    store.close()


def test_a_deferred_job_held_or_ended_meanwhile_is_not_released_by_its_begin_time(tmp_path):
    table, store = _table(tmp_path)
    spec = JobSpec(script="#!/bin/sh\n", partition="p", begin_time=100.0)
    held, cancelled = (table.add(_job(spec=spec), now=10.0) for _ in range(2))
    table.begin(50.0)
    _move(table, table.find(held), JobState.PENDING, JobEvent.HOLD, 51.0, held_by="user")
    _move(table, table.find(cancelled), JobState.CANCELLED, JobEvent.CANCEL, 52.0, end_time=52.0)
    assert table.begin(200.0) == [] and table.schedulable_ids() == []
    _move(table, table.find(held), JobState.PENDING, JobEvent.RELEASE, 201.0, held_by="")
    assert sorted(table.schedulable_ids()) == [held]   # released after its begin time: ready at once
    store.close()

