"""ListJobs' cached job bytes: equal to a fresh encoding, rebuilt on any change, and safe for every Job field."""

import dataclasses
import enum
import types
import typing

from jem.controller.jobwire import JobWire
from jem.convert import job_to_pb
from jem.model.job import Job, JobShape, JobSpec, JobUsage
from jem.model.resources import Resources
from jem.model.states import JobState
from jem.v1 import jobs_pb2


def _job(job_id: int) -> Job:
    return Job(job_id=job_id, spec=JobSpec(script="#!/bin/sh\ntrue\n", name=f"j{job_id}", environment={"A": "1"}),
               user="u", uid=1000, gid=1000, submit_time=1.5, shape=JobShape(1, 1, Resources(1, 100, 0)),
               time_limit_s=60)


def _fresh(jobs: list[Job]) -> bytes:
    return jobs_pb2.ListJobsResponse(jobs=[job_to_pb(j, with_script=False) for j in jobs]).SerializeToString()


def test_a_listing_is_byte_for_byte_a_fresh_encoding_and_follows_every_change():
    wire = JobWire()
    jobs = [_job(i) for i in range(1, 400)]  # ids past 127 and messages past 127 bytes need two-byte varints
    assert wire.list_response(jobs) == _fresh(jobs)
    jobs[0].state = JobState.RUNNING
    jobs[1].usage.cpu_user_us = 5  # changed in place
    jobs[2].spec = dataclasses.replace(jobs[2].spec, name="renamed")
    jobs[3].planned_start = 99.0
    assert wire.list_response(jobs) == _fresh(jobs)
    assert jobs_pb2.ListJobsResponse.FromString(wire.list_response(jobs[:2])).jobs[1].usage.cpu_user_us == 5


def test_forgetting_keeps_only_the_named_jobs():
    wire = JobWire()
    jobs = [_job(i) for i in range(1, 2000)]
    wire.list_response(jobs)
    assert wire.is_oversized(10)
    wire.forget_all_but({1, 2})
    assert not wire.is_oversized(0)
    assert wire.list_response(jobs[:3]) == _fresh(jobs[:3])


def test_a_page_stops_at_its_job_count_or_size_and_says_where_the_listing_goes_on():
    wire = JobWire()
    jobs = [_job(i) for i in range(1, 11)]
    page = wire.page(max_jobs=4)
    added = [job.job_id for job in jobs if page.add(job)]
    assert added == [1, 2, 3, 4] and page.is_full
    listed = jobs_pb2.ListJobsResponse.FromString(page.response(next_after_job_id=99))
    assert [j.job_id for j in listed.jobs] == [1, 2, 3, 4] and listed.next_after_job_id == 4
    one_job = len(wire.framed(jobs[0]))
    page = wire.page(max_bytes=int(2.5 * one_job))
    assert [page.add(job) for job in jobs[:3]] == [True, True, False]
    assert jobs_pb2.ListJobsResponse.FromString(page.response()).next_after_job_id == 2
    page = wire.page(max_bytes=1)   # at least one job, whatever its size
    assert page.add(jobs[0]) and not page.add(jobs[1])
    page = wire.page(max_jobs=20)   # room for all: the listing goes on where the caller says
    assert all(page.add(job) for job in jobs) and not page.is_full
    assert page.response(next_after_job_id=0) == _fresh(jobs)
    assert jobs_pb2.ListJobsResponse.FromString(page.response(next_after_job_id=77)).next_after_job_id == 77


IMMUTABLE = (int, float, str, bool, type(None), tuple, enum.Enum)


def _kinds(hint) -> tuple:
    """The classes a field may hold: each member of a union, each generic by its origin (tuple[int, ...] -> tuple)."""
    members = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union \
        else (hint,)
    return tuple(typing.get_origin(m) or m for m in members)


def test_every_job_field_is_immutable_or_flattened_in_the_fingerprint():
    """A field changed in place would keep its fingerprint and serve stale bytes: JobWire must flatten it."""
    hints = typing.get_type_hints(Job)
    flattened = {"usage"}
    for field in dataclasses.fields(Job):
        for kind in () if field.name in flattened else _kinds(hints[field.name]):
            is_frozen = dataclasses.is_dataclass(kind) and kind.__dataclass_params__.frozen
            assert is_frozen or issubclass(kind, IMMUTABLE), f"Job.{field.name}: a {kind} may change in place"
