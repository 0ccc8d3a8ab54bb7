"""ListJobs' cached job bytes: equal to a fresh encoding, rebuilt on any change, and safe for every
Job field; a segment's bytes reused whole only while none of its jobs changed, came or went."""

import dataclasses
import enum
import types
import typing

from hypothesis import given, settings, strategies as st

from jem.controller.jobwire import SEGMENT_IDS, JobWire
from jem.convert import job_to_pb
from jem.model.job import Job, JobShape, JobSpec, JobUsage
from jem.model.jobfilter import JobFilter
from jem.model.reasons import JobReason
from jem.model.resources import Resources
from jem.model.states import JobState
from jem.v1 import jobs_pb2


def _job(job_id: int) -> Job:
    return Job(job_id=job_id, spec=JobSpec(script="#!/bin/sh\ntrue\n", name=f"j{job_id}", environment={"A": "1"}),
               user="u", uid=1000, gid=1000, submit_time=1.5, shape=JobShape(1, 1, Resources(1, 100, 0)),
               time_limit_s=60)


def _listing(wire: JobWire, jobs: list[Job]) -> bytes:
    """A page of `jobs` built a job at a time, as ListJobs does for a user's jobs."""
    page = wire.page()
    for job in jobs:
        page.add(job)
    return page.response()


def _fresh(jobs: list[Job]) -> bytes:
    return jobs_pb2.ListJobsResponse(jobs=[job_to_pb(j, with_script=False) for j in jobs]).SerializeToString()


def test_a_listing_is_byte_for_byte_a_fresh_encoding_and_follows_every_change():
    wire = JobWire()
    jobs = [_job(i) for i in range(1, 400)]  # ids past 127 and messages past 127 bytes need two-byte varints
    assert _listing(wire, jobs) == _fresh(jobs)
    jobs[0].state = JobState.RUNNING
    jobs[1].usage = JobUsage(cpu_user_us=5)
    jobs[2].spec = dataclasses.replace(jobs[2].spec, name="renamed")
    jobs[3].planned_start = 99.0
    assert _listing(wire, jobs) == _fresh(jobs)
    assert jobs_pb2.ListJobsResponse.FromString(_listing(wire, jobs[:2])).jobs[1].usage.cpu_user_us == 5


def test_forgetting_keeps_only_the_named_jobs():
    wire = JobWire()
    jobs = [_job(i) for i in range(1, 2000)]
    _listing(wire, jobs)
    assert wire.is_oversized(10)
    wire.forget_all_but({1, 2})
    assert not wire.is_oversized(0)
    assert _listing(wire, jobs[:3]) == _fresh(jobs[:3])


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


def test_every_job_field_is_immutable():
    """A field changed in place would keep the job's change stamp and serve stale bytes."""
    hints = typing.get_type_hints(Job)
    for field in dataclasses.fields(Job):
        for kind in _kinds(hints[field.name]):
            is_frozen = dataclasses.is_dataclass(kind) and kind.__dataclass_params__.frozen
            assert is_frozen or issubclass(kind, IMMUTABLE), f"Job.{field.name}: a {kind} may change in place"


def test_setting_a_field_raises_the_stamp_and_nothing_else_does():
    job, other = _job(1), _job(2)
    before = job.change_stamp
    job.priority = job.priority        # the same value: still a set
    assert job.change_stamp > before
    before = job.change_stamp
    other.reason = JobReason.PRIORITY
    assert job.change_stamp == before and other.change_stamp > before


def _segment_listing(wire: JobWire, table: dict[int, Job], job_filter: JobFilter, *, after: int = 0,
                     max_jobs: int = 0, max_bytes: int = 0) -> bytes:
    """What ListJobs' scan does: the ids above `after`, a segment at a time."""
    ids = sorted(i for i in table if i > after)
    page = wire.page(max_jobs=max_jobs, max_bytes=max_bytes)
    first = 0
    while first < len(ids) and not page.is_full:
        end = first
        while end < len(ids) and ids[end] // SEGMENT_IDS == ids[first] // SEGMENT_IDS:
            end += 1
        wire.add_segment(page, job_filter, ids[first:end], lambda some: [table.get(i) for i in some])
        first = end
    return page.response()


def _fresh_page(table: dict[int, Job], job_filter: JobFilter, *, after: int = 0, max_jobs: int = 0) -> bytes:
    jobs = [table[i] for i in sorted(table) if i > after and job_filter.matches(table[i])]
    if max_jobs and len(jobs) > max_jobs:
        response = jobs_pb2.ListJobsResponse(jobs=[job_to_pb(j, with_script=False) for j in jobs[:max_jobs]],
                                             next_after_job_id=jobs[max_jobs - 1].job_id)
        return response.SerializeToString()
    return _fresh(jobs)


def test_a_segment_is_reused_while_unchanged_and_rebuilt_when_a_job_changes_comes_or_goes():
    wire = JobWire()
    table = {i: _job(i) for i in range(1, 300)}
    pending = JobFilter(states=frozenset({JobState.PENDING}))
    assert _segment_listing(wire, table, pending) == _fresh_page(table, pending)
    built = dict(wire._entries)
    assert _segment_listing(wire, table, pending) == _fresh_page(table, pending)
    assert all(wire._entries[i] is built[i] for i in built)      # nothing rebuilt
    table[70].state = JobState.RUNNING                           # leaves the filter
    table[72].reason = JobReason.PRIORITY                        # changes its bytes
    del table[140]                                               # gone
    table[141].reason = JobReason.RESOURCES
    table[400] = _job(400)                                       # new, in a new segment
    table[130] = _job(130)                                       # replaced by another object
    assert _segment_listing(wire, table, pending) == _fresh_page(table, pending)
    assert _segment_listing(wire, table, JobFilter()) == _fresh_page(table, JobFilter())


def test_a_page_boundary_within_a_segment_and_a_byte_limit_are_kept():
    wire = JobWire()
    table = {i: _job(i) for i in range(1, 500)}
    everything = JobFilter()
    for _ in range(2):   # the second time from the kept segments
        page = jobs_pb2.ListJobsResponse.FromString(_segment_listing(wire, table, everything, max_jobs=100))
        assert [j.job_id for j in page.jobs] == list(range(1, 101)) and page.next_after_job_id == 100
        page = jobs_pb2.ListJobsResponse.FromString(
            _segment_listing(wire, table, everything, after=100, max_jobs=100))
        assert [j.job_id for j in page.jobs] == list(range(101, 201)) and page.next_after_job_id == 200
    max_bytes = sum(len(wire.framed(table[i])) for i in range(1, 71)) + 1   # 70 jobs, within a segment
    page = jobs_pb2.ListJobsResponse.FromString(_segment_listing(wire, table, everything, max_bytes=max_bytes))
    assert [j.job_id for j in page.jobs] == list(range(1, 71)) and page.next_after_job_id == 70


_CHANGES = st.one_of(
    st.tuples(st.just("state"), st.sampled_from([JobState.PENDING, JobState.RUNNING, JobState.COMPLETED])),
    st.tuples(st.just("reason"), st.sampled_from([JobReason.NONE, JobReason.PRIORITY, JobReason.RESOURCES])),
    st.tuples(st.just("priority"), st.integers(0, 3)),
    st.tuples(st.just("planned_start"), st.sampled_from([None, 10.0, 20.0])),
    st.tuples(st.just("usage"), st.builds(JobUsage, cpu_user_us=st.integers(0, 3))),
    st.tuples(st.just("user"), st.sampled_from(["u", "v"])),
)


@settings(max_examples=60, deadline=None)
@given(steps=st.lists(st.tuples(st.integers(1, 200), st.one_of(_CHANGES, st.just(("remove", None)))),
                      max_size=40),
       filters=st.lists(st.sampled_from([JobFilter(), JobFilter(states=frozenset({JobState.PENDING})),
                                         JobFilter(names=frozenset({"j7", "j150"})),
                                         JobFilter(states=frozenset({JobState.RUNNING, JobState.PENDING}))]),
                        min_size=1, max_size=3),
       max_jobs=st.sampled_from([0, 1, 63, 64, 65, 150]), after=st.integers(0, 130))
def test_segment_listings_always_equal_a_fresh_encoding(steps, filters, max_jobs, after):
    """The oracle: after any changes, a listing from kept segments is the fresh encoding of what it lists."""
    wire = JobWire()
    table = {i: _job(i) for i in range(1, 201, 2)}
    for job_filter in filters:
        _segment_listing(wire, table, job_filter, max_jobs=max_jobs)
    for job_id, (field, value) in steps:
        if field == "remove":
            table.pop(job_id, None)
        elif job_id in table:
            setattr(table[job_id], field, value)
        else:
            table[job_id] = _job(job_id)
        for job_filter in filters:
            assert _segment_listing(wire, table, job_filter, after=after, max_jobs=max_jobs) == \
                _fresh_page(table, job_filter, after=after, max_jobs=max_jobs)


def test_a_page_never_takes_a_whole_segment_past_its_size():
    """The first segment of a page goes job by job when it is over the page's size: a few huge
    jobs (long argument lists) never make a page of 64 of them."""
    wire = JobWire()
    table = {i: _job(i) for i in range(1, 65)}
    for i in (1, 2, 3):
        table[i].spec = dataclasses.replace(table[i].spec, script_args=("x" * 5000,))
    _segment_listing(wire, table, JobFilter())               # (kept whole, with no limit)
    page = jobs_pb2.ListJobsResponse.FromString(_segment_listing(wire, table, JobFilter(), max_bytes=6000))
    assert [j.job_id for j in page.jobs] == [1] and page.next_after_job_id == 1
