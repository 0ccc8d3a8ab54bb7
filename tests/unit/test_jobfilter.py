"""The one job filter of every listing (jem.model.jobfilter): each set field must match."""

from jem.model.job import Job, JobShape, JobSpec
from jem.model.jobfilter import JobFilter
from jem.model.resources import Resources
from jem.model.states import JobState


def _job(job_id=1, **fields) -> Job:
    spec = JobSpec(script="#!/bin/sh\n", name=fields.pop("name", "n"), account=fields.pop("account", "a"),
                   partition=fields.pop("partition", "p"), qos=fields.pop("qos", ""),
                   array=fields.pop("array", ""))
    base = dict(job_id=job_id, spec=spec, user="ann", uid=1, gid=1, submit_time=10.0,
                shape=JobShape(1, 1, Resources(1, 100, 0)), time_limit_s=None)
    base.update(fields)
    return Job(**base)


def test_an_empty_filter_matches_every_job():
    assert JobFilter().matches(_job())


def test_each_field_narrows():
    job = _job(nodes=("n1", "n2"), state=JobState.RUNNING)
    for field, hit, miss in [("users", {"ann"}, {"bob"}), ("states", {JobState.RUNNING}, {JobState.PENDING}),
                             ("partitions", {"p"}, {"q"}), ("names", {"n"}, {"m"}), ("accounts", {"a"}, {"b"}),
                             ("qos", {"normal"}, {"high"}), ("nodes", {"n2", "n9"}, {"n3"}),
                             ("job_ids", {1}, {2})]:
        assert JobFilter(**{field: frozenset(hit)}).matches(job), field
        assert not JobFilter(**{field: frozenset(miss)}).matches(job), field


def test_the_time_window_is_sacct_s():
    ended = _job(submit_time=10.0, end_time=20.0)
    running = _job(submit_time=10.0)
    assert JobFilter(alive_from=15.0, alive_until=30.0).matches(ended)
    assert not JobFilter(alive_from=25.0).matches(ended)        # ended before the window
    assert not JobFilter(alive_until=5.0).matches(running)      # submitted after it
    assert JobFilter(alive_from=1e9).matches(running)           # still running: in every window after submit


def test_array_ids_and_tasks():
    record = _job(job_id=5, array="0-9", array_pending=(4, 5, 6))
    task = _job(job_id=7, array="0-9", array_parent_id=5, array_task_id=2)
    assert JobFilter(job_ids=frozenset({5})).matches(task)      # an array's id names its tasks
    only_2 = JobFilter(job_ids=frozenset({5}), array_tasks=frozenset({(5, 2)}))
    assert only_2.matches(task) and not only_2.matches(record)
    only_5 = JobFilter(job_ids=frozenset({5}), array_tasks=frozenset({(5, 5)}))
    assert only_5.matches(record) and not only_5.matches(task)  # the record still holds task 5
    assert only_5.wants_task(5, 5) and not only_5.wants_task(5, 4) and only_5.wants_task(9, None)
