"""squeue's row orders: the default "P,t,-p" (then job id), -S keys, and --json's listing order,
each made by stable sorts of key columns, against the plain one-key-per-job sort they replace."""

import itertools

from jem import convert
from jem.listedjobs import JobTable, listing_of_pages
from jem.model.job import Job, JobShape, JobSpec
from jem.model.resources import Resources
from jem.model.states import JobState
from jem.v1 import jobs_pb2
from jem_slurm import squeue

NOW = 1_800_000_000.0


def _tables(jobs: list[Job]) -> list[JobTable]:
    """The jobs as a table over their objects, and as a listing read from the wire (what squeue gets)."""
    page = jobs_pb2.ListJobsResponse(jobs=[convert.job_to_pb(j, with_script=False) for j in jobs])
    return [JobTable(jobs), listing_of_pages([page.SerializeToString()])]


def _job(job_id: int, partition: str, state: JobState, priority: int, **fields) -> Job:
    spec = fields.pop("spec", JobSpec(script="#!/bin/sh\n", name=f"j{job_id % 3}", partition=partition))
    return Job(job_id=job_id, spec=spec, user="ann", uid=1000, gid=1000, submit_time=NOW - job_id,
               shape=JobShape(1 + job_id % 2, 1, Resources(1, 100, 0)), time_limit_s=None, state=state,
               priority=priority, **fields)


def _mixed_jobs() -> list[Job]:
    """Jobs in id order over two partitions, three states and tied priorities."""
    kinds = itertools.product(("debug", "batch"), (JobState.PENDING, JobState.RUNNING, JobState.COMPLETING), (5, 9))
    return [_job(job_id, partition, state, priority, **({"start_time": NOW - 60} if state is not JobState.PENDING
                                                           else {}))
            for job_id, (partition, state, priority) in enumerate(list(kinds) * 3, start=1)]


def test_the_default_order_is_partition_state_code_then_priority_highest_first():
    jobs = _mixed_jobs()
    expected = [j.job_id for j in sorted(jobs, key=lambda j: (j.spec.partition, j.state.compact, -j.priority, j.job_id))]
    for table in (*_tables(jobs), *_tables(list(reversed(jobs)))):
        ordered = squeue._default_sort(table)
        assert [j.job_id for j in ordered.jobs] == ordered.column("job_id") == expected


def test_sort_keys_sort_as_one_stable_sort_per_key_from_the_last():
    jobs = squeue._default_sort(JobTable(_mixed_jobs())).jobs
    for spec, key in (("-p,t", lambda j: (-j.priority, j.state.compact)),
                      ("D,-i", lambda j: (j.shape.n_nodes, -j.job_id)), ("j", lambda j: j.spec.name),
                      ("-M", lambda j: -(NOW - j.start_time if j.start_time else 0)),
                      ("W,P", lambda j: j.spec.partition)):   # (W: no such key, not sorted by)
        expected = [j.job_id for j in sorted(jobs, key=key)]
        for table in _tables(jobs):
            assert squeue._sort_key(spec, NOW)(table).column("job_id") == expected, spec


def test_json_lists_by_id_and_an_arrays_records_together():
    plain = _mixed_jobs()
    for table in _tables(list(reversed(plain))):
        assert [j.job_id for j in table.in_listing_order().jobs] == [j.job_id for j in plain]
    array_spec = JobSpec(script="#!/bin/sh\n", partition="debug", array="0-3")
    record = _job(2, "debug", JobState.PENDING, 1, spec=array_spec, array_pending=(2, 3))
    tasks = [_job(job_id, "debug", JobState.RUNNING, 1, spec=array_spec, array_parent_id=2, array_task_id=task)
             for job_id, task in ((5, 1), (6, 0))]
    jobs = [_job(1, "debug", JobState.PENDING, 1), record, _job(3, "debug", JobState.PENDING, 1), *tasks]
    for table in _tables(jobs):
        assert [j.label for j in table.in_listing_order().jobs] == ["1", "2_0", "2_1", "2_[2-3]", "3"]
        assert table.in_listing_order().column("label") == ["1", "2_0", "2_1", "2_[2-3]", "3"]
