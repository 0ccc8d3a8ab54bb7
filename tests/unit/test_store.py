"""The SQLite store: committed before return, ids never reused, events append-only."""

import sqlite3

import pytest

from jem.model.job import Job, JobShape, JobSpec
from jem.model.jobfilter import JobFilter
from jem.model.resources import Resources
from jem.model.states import JobEvent, JobState
from jem.store import JobChange, SqliteStore
from jem.store.base import NodeRecord


def _job(**fields) -> Job:
    base = dict(job_id=0, spec=JobSpec(script="#!/bin/sh\n", partition="p"), user="ann", uid=1, gid=1,
                submit_time=10.0, shape=JobShape(1, 1, Resources(1, 100, 0)), time_limit_s=None)
    base.update(fields)
    return Job(**base)


def test_jobs_and_events_survive_reopening(tmp_path):
    path = str(tmp_path / "jem.db")
    store = SqliteStore(path)
    job_id, seq = store.add_job(_job(), time=10.0)
    job = store.get_job(job_id)
    job.state, job.nodes, job.start_time = JobState.RUNNING, ("n1",), 11.0
    store.commit([JobChange(job, JobEvent.START, 11.0, "n1")])
    store.close()
    reopened = SqliteStore(path)
    assert reopened.get_job(job_id) == job
    events = reopened.job_events(job_id)
    assert [(e.event, e.state) for e in events] == [("submit", "PENDING"), ("start", "RUNNING")]
    assert events[0].seq == seq < events[1].seq
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_ids_are_never_reused_even_after_deleting_jobs(tmp_path):
    path = str(tmp_path / "jem.db")
    store = SqliteStore(path)
    first, _ = store.add_job(_job(), time=1.0)
    second, _ = store.add_job(_job(), time=2.0)
    store.close()
    db = sqlite3.connect(path)
    db.execute("DELETE FROM job_events")
    db.execute("DELETE FROM jobs")
    db.commit()
    db.close()
    third, _ = SqliteStore(path).add_job(_job(), time=3.0)
    assert first < second < third


def test_load_jobs_skips_jobs_ended_long_ago(tmp_path):
    store = SqliteStore(str(tmp_path / "jem.db"))
    old_id, _ = store.add_job(_job(), time=1.0)
    old = store.get_job(old_id)
    old.state, old.end_time = JobState.CANCELLED, 5.0
    store.commit([JobChange(old, JobEvent.CANCEL, 5.0)])
    live_id, _ = store.add_job(_job(), time=6.0)
    assert [j.job_id for j in store.load_jobs(ended_after=100.0)] == [live_id]
    assert [j.job_id for j in store.load_jobs(ended_after=None)] == [old_id, live_id]
    assert [j.job_id for j in store.list_jobs(JobFilter(states=frozenset({JobState.CANCELLED}))).jobs] == [old_id]


def test_a_failed_commit_writes_nothing(tmp_path):
    store = SqliteStore(str(tmp_path / "jem.db"))
    job_id, _ = store.add_job(_job(), time=1.0)
    job = store.get_job(job_id)
    job.state = JobState.RUNNING
    ghost = _job(job_id=999)  # not in the store: its event violates the foreign key
    try:
        store.commit([JobChange(job, JobEvent.START, 2.0), JobChange(ghost, JobEvent.START, 2.0)])
    except sqlite3.IntegrityError:
        pass
    assert store.get_job(job_id).state is JobState.PENDING
    assert len(store.job_events(job_id)) == 1


def test_node_drains_are_remembered(tmp_path):
    store = SqliteStore(str(tmp_path / "jem.db"))
    store.save_node(NodeRecord("n1", True, "disk"))
    store.save_node(NodeRecord("n1", False, ""))
    store.save_node(NodeRecord("n2", True, "fan"))
    assert store.load_nodes() == [NodeRecord("n1", False, ""), NodeRecord("n2", True, "fan")]


def test_a_job_being_killed_and_array_records_read_back_whole(tmp_path):
    store = SqliteStore(str(tmp_path / "jem.db"))
    array = _job(spec=JobSpec(script="#!/bin/sh\n", array="0-3"), array_pending=(1, 2, 3))
    array_id, _ = store.add_job(array, time=1.0)
    task, _ = store.add_job(_job(spec=array.spec, array_task_id=0, array_parent_id=array_id), time=1.0)
    array.job_id = array_id
    array.state, array.kill_cause, array.kill_time = JobState.COMPLETING, JobEvent.CANCEL, 2.0
    store.commit([JobChange(array, JobEvent.KILL, 2.0)])
    store.close()
    store = SqliteStore(str(tmp_path / "jem.db"))
    records = store.list_jobs(JobFilter(job_ids=frozenset({array_id}))).jobs
    assert [r.job_id for r in records] == [array_id, task]
    assert records[0].kill_cause is JobEvent.CANCEL and records[0].array_pending == (1, 2, 3)
    assert records[1].array_task_id == 0 and records[1].array_job_id == array_id


def test_new_tasks_and_their_arrays_change_are_one_transaction(tmp_path):
    store = SqliteStore(str(tmp_path / "jem.db"))
    array_id, _ = store.add_job(_job(spec=JobSpec(script="#!/bin/sh\n", array="0-2"), array_pending=(0, 1, 2)),
                                time=1.0)
    array = store.get_job(array_id)
    array.array_pending = (2,)
    tasks = [_job(spec=array.spec, array_task_id=i, array_parent_id=array_id) for i in (0, 1)]
    ghost = _job(job_id=999)   # its event violates the foreign key: the whole split must roll back
    with pytest.raises(sqlite3.IntegrityError):
        store.add_jobs(tasks, time=2.0, changes=[JobChange(array, JobEvent.UPDATE, 2.0),
                                                 JobChange(ghost, JobEvent.UPDATE, 2.0)])
    assert [j.job_id for j in store.list_jobs(JobFilter(job_ids=frozenset({array_id}))).jobs] == [array_id]
    assert store.get_job(array_id).array_pending == (0, 1, 2)
    added, seqs = store.add_jobs(tasks, time=2.0, changes=[JobChange(array, JobEvent.UPDATE, 2.0)])
    assert len(added) == 2 and len(seqs) == 1
    assert [j.array_task_id for j in store.list_jobs(JobFilter(job_ids=frozenset({array_id}))).jobs] == [None, 0, 1]


def test_a_listing_pages_by_id_and_filters_in_the_store(tmp_path):
    store = SqliteStore(str(tmp_path / "jem.db"))
    ids = [store.add_job(_job(user="ann" if i % 2 else "bob", submit_time=10.0 + i), time=10.0 + i)[0]
           for i in range(10)]
    anns = [i for n, i in enumerate(ids) if n % 2]
    page = store.list_jobs(JobFilter(users=frozenset({"ann"})), limit=3)
    assert [j.job_id for j in page.jobs] == anns[:3] and page.next_after_job_id == anns[2]
    rest = store.list_jobs(JobFilter(users=frozenset({"ann"})), after_job_id=page.next_after_job_id, limit=3)
    assert [j.job_id for j in rest.jobs] == anns[3:] and rest.next_after_job_id == 0
    # Filters the store has no column for are applied to what it read: a page may hold fewer.
    named = store.list_jobs(JobFilter(names=frozenset({"nobody"})), limit=4)
    assert named.jobs == [] and named.next_after_job_id == ids[3]
    window = store.list_jobs(JobFilter(alive_until=12.5))
    assert [j.job_id for j in window.jobs] == ids[:3]


@pytest.mark.parametrize("job_id", [0, -1, 1 << 63, (1 << 64) - 1])
def test_an_id_no_job_can_have_is_no_job(tmp_path, job_id):
    """A request's job id is any uint64; one SQLite cannot hold is simply not found (it raised
    OverflowError, an internal error for CompleteAllocation(job_id=2**64-1), found by fuzzing)."""
    store = SqliteStore(str(tmp_path / "jem.db"))
    assert store.get_job(job_id) is None


def test_an_audit_record_of_an_id_no_job_can_have_is_kept_without_it(tmp_path):
    from jem.model.audit import AuditQuery, AuditRecord

    store = SqliteStore(str(tmp_path / "jem.db"))
    store.add_audit([AuditRecord(time=1.0, user="ann", uid=1000, peer="p", method="CompleteAllocation",
                                 request=f"job_id={(1 << 64) - 1}", result="NotFound", detail="", job_id=(1 << 64) - 1)])
    [record] = store.list_audit(AuditQuery())
    assert (record.job_id, record.request) == (0, f"job_id={(1 << 64) - 1}")
