"""A listing read straight from ListJobs' pages (jem.listedjobs) gives every field of every job
as jem.convert's job_from_pb of the same message does, as lazy jobs and as columns; the lazy
jobs behave as plain ones."""

import copy
import dataclasses
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jem import convert, listedjobs
from jem.model.job import Job, JobShape, JobSpec, JobUsage
from jem.model.reasons import JobReason
from jem.model.resources import Resources
from jem.model.states import JobState
from jem.v1 import jobs_pb2

PROPERTY_SETTINGS = settings(derandomize=True, max_examples=100, deadline=None)


def _spec(**fields) -> JobSpec:
    base = dict(script="", name="x", account="a", partition="p", n_nodes=2, n_tasks=4,
                cpus_per_task=2, n_tasks_per_node=2, mem_per_cpu_mib=100, gpus_per_node=1, time_limit_s=90,
                script_args=("1", "two"), working_dir="/tmp", environment={}, stdout_pattern="o-%j",
                stderr_pattern="e-%j", stdin_path="/dev/zero", hold=True, begin_time=1700000000.25, nice=-5,
                requeue=False, gres_per_node=(("nvme", 2), ("fpga", 1)), retry_on=(JobState.FAILED,),
                mail_type="BEGIN,END", mail_user="ann@x", constraint="a&b", qos="high", exclusive=True)
    base.update(fields)
    return JobSpec(**base)


def _listed_jobs() -> list[Job]:
    """Jobs that exercise every field: times set and unset, arrays, nodes, CPU ids, usage, unlimited limits."""
    running = Job(job_id=7, spec=_spec(), user="ann", uid=1000, gid=100, submit_time=1700000000.5,
                  shape=JobShape(2, 4, Resources(4, 400, 1)), time_limit_s=90, state=JobState.RUNNING,
                  reason=JobReason.NONE, priority=3, start_time=1700000001.25, nodes=("n1", "n2"),
                  cpu_ids=((0, 1), (2, 3)), gpu_ids=((0,), (1,)), usage=JobUsage(10, 20, 30),
                  planned_start=1700000001.0, dependency="afterok:3", planned_nodes=("n3",),
                  planned_start_is_estimate=True, retries_done=1)
    array_record = Job(job_id=20, spec=_spec(array="0-9%2", requeue=None, begin_time=None, mem_per_cpu_mib=None,
                                             gres_per_node=(), retry_on=(), mail_type=""),
                       user="bob", uid=1001, gid=100, submit_time=2.0, shape=JobShape(1, 1, Resources(1, 1, 0)),
                       time_limit_s=None, reason=JobReason.JOB_HELD_USER, held_by="user", array_pending=(4, 5, 6, 9))
    task = Job(job_id=23, spec=_spec(array="0-9%2", time_limit_unlimited=True, requeue=True), user="bob", uid=1001,
               gid=100, submit_time=3.0, shape=JobShape(1, 1, Resources(1, 1, 0)), time_limit_s=60,
               state=JobState.COMPLETED, array_task_id=0, array_parent_id=20, end_time=5.0, exit_code=2,
               exit_signal=9, restart_count=2)
    return [running, array_record, task]


def _pages(jobs: list[Job], per_page: int = 2) -> list[bytes]:
    pbs = [convert.job_to_pb(j, with_script=False) for j in jobs]
    return [jobs_pb2.ListJobsResponse(jobs=pbs[i:i + per_page]).SerializeToString()
            for i in range(0, len(pbs), per_page)] or [b""]


def _eager(jobs: list[Job]) -> list[Job]:
    return [convert.job_from_pb(convert.job_to_pb(j, with_script=False)) for j in jobs]


def _lazy(jobs: list[Job]) -> list[Job]:
    return listedjobs.listing_of_pages(_pages(jobs)).jobs


def test_every_field_the_wire_carries_is_read_from_the_pages():
    assert set(listedjobs._SPEC_FIELDS) == set(convert.SPEC_READERS)
    assert set(listedjobs._JOB_FIELDS) == set(convert.JOB_READERS) | {"label", "array_job_id"}


def _assert_same_fields(lazy: list[Job], eager: list[Job]) -> None:
    for e, z in zip(eager, lazy, strict=True):   # in reverse order: no field is read as a side effect first
        assert isinstance(z, Job) and isinstance(z.spec, JobSpec)
        for field in reversed(dataclasses.fields(JobSpec)):
            assert getattr(z.spec, field.name) == getattr(e.spec, field.name), field.name
            assert type(getattr(z.spec, field.name)) is type(getattr(e.spec, field.name)), field.name
        for field in reversed(dataclasses.fields(Job)):
            assert getattr(z, field.name) == getattr(e, field.name), field.name
            if field.name != "spec":   # (a lazy JobSpec: compared field by field above)
                assert type(getattr(z, field.name)) is type(getattr(e, field.name)), field.name
        assert (z.label, z.array_job_id, z.list_order) == (e.label, e.array_job_id, e.list_order)


def test_lazy_jobs_read_every_field_as_the_eager_conversion_does():
    jobs = _listed_jobs()
    eager, lazy = _eager(jobs), _lazy(jobs)
    _assert_same_fields(lazy, eager)
    assert lazy == eager and eager == lazy and lazy[0] != eager[1]
    assert _lazy(jobs) == eager   # all at once, as dataclass equality reads them
    assert [repr(z) for z in _lazy(jobs)] == [repr(e) for e in eager]


@st.composite
def random_jobs(draw):
    text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
    times = st.one_of(st.none(), st.floats(0, 2e9).map(lambda t: round(t, 3)))
    jobs = []
    for job_id in sorted(draw(st.sets(st.integers(1, 10**9), max_size=6))):
        spec = _spec(name=draw(text), account=draw(text), nice=draw(st.integers(-10000, 10000)),
                     time_limit_s=draw(st.one_of(st.none(), st.integers(0, 10**9))),
                     mem_per_node_mib=draw(st.one_of(st.none(), st.integers(1, 10**7))), mem_per_cpu_mib=None,
                     begin_time=draw(times), requeue=draw(st.sampled_from([None, True, False])),
                     gres_per_node=tuple(sorted(draw(st.dictionaries(text, st.integers(1, 64), max_size=2)).items())),
                     environment=draw(st.dictionaries(text, text, max_size=2)),
                     retry_on=tuple(draw(st.lists(st.sampled_from([JobState.FAILED, JobState.TIMEOUT]),
                                                  max_size=2, unique=True))))
        nodes = tuple(draw(st.lists(st.sampled_from(["n1", "n2", "n3"]), max_size=2, unique=True)))
        jobs.append(Job(job_id=job_id, spec=spec, user=draw(text), uid=draw(st.integers(0, 2**31)),
                        gid=draw(st.integers(0, 2**31)), submit_time=draw(times) or 0.0,
                        shape=JobShape(max(len(nodes), 1), draw(st.integers(1, 64)),
                                       Resources(draw(st.integers(1, 128)), draw(st.integers(0, 10**6)), 0)),
                        time_limit_s=draw(st.one_of(st.none(), st.integers(0, 10**7))),
                        state=draw(st.sampled_from(list(JobState))), reason=draw(st.sampled_from(list(JobReason))),
                        priority=draw(st.integers(0, 2**40)), start_time=draw(times), end_time=draw(times),
                        nodes=nodes, exit_code=draw(st.integers(0, 255)), usage=JobUsage(*draw(
                            st.tuples(st.integers(0, 2**50), st.integers(0, 2**50), st.integers(0, 2**40)))),
                        held_by=draw(st.sampled_from(["", "user", "admin"]))))
    return jobs


@PROPERTY_SETTINGS
@given(random_jobs(), st.integers(1, 4))
def test_random_listings_read_as_the_eager_conversion_does(jobs, per_page):
    listing = listedjobs.listing_of_pages(_pages(jobs, per_page))
    eager = _eager(jobs)
    _assert_same_fields(listing.jobs, eager)
    table = listedjobs.JobTable(eager)
    for path in ("job_id", "state", "spec.name", "spec.gres_per_node", "shape.per_node.cpus", "start_time",
                 "spec.requeue", "usage", "label", "array_job_id", "is_live"):
        assert listing.column(path) == table.column(path), path


def test_columns_follow_the_listing_order_and_agree_with_the_jobs():
    jobs = _listed_jobs()
    records = [jobs[2], jobs[0], jobs[1]]   # a task before its array's record, as pages may hold them
    listing = listedjobs.listing_of_pages(_pages(records)).in_listing_order()
    ordered = sorted(_eager(records), key=lambda j: j.list_order)
    assert [j.job_id for j in listing.jobs] == [j.job_id for j in ordered] == [7, 23, 20]
    assert listing.column("job_id") == [7, 23, 20] and len(listing) == 3
    assert listing.column("spec.partition") == ["p"] * 3
    assert listing.column("label") == ["7", "20_0", "20_[4-6,9%2]"]
    assert listing.column("shape.n_nodes") == [j.shape.n_nodes for j in ordered]
    assert listing.column("is_pending") == [j.is_pending for j in ordered]   # a property: read through the jobs
    assert listedjobs.listing_of_pages([b""]).jobs == [] and len(listedjobs.listing_of_pages([])) == 0


def test_a_lazy_job_keeps_what_is_set_and_copies_as_a_plain_job():
    jobs = _listed_jobs()
    lazy = _lazy(jobs)
    lazy[1].state = JobState.CANCELLED  # before any job of the listing has read `state`
    assert [j.state for j in lazy] == [JobState.RUNNING, JobState.CANCELLED, JobState.COMPLETED]
    lazy[0].priority = 99
    assert lazy[0].priority == 99 and lazy[2].priority == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        lazy[0].spec.name = "renamed"
    assert lazy[0].spec.name == "x"
    task = dataclasses.replace(lazy[1], array_task_id=4, array_pending=())
    assert type(task) is Job and task.label == "20_4" and task.state is JobState.CANCELLED
    assert [j.label for j in lazy] == ["7", "20_[4-6,9%2]", "20_0"]   # as the controller sent them
    lazy[1].array_task_id, lazy[1].array_pending = 4, ()   # a set field: the label follows it
    assert lazy[1].label == "20_4" and lazy[1].label == task.label
    assert type(copy.copy(lazy[0])) is Job and copy.copy(lazy[0]) == lazy[0]
    for copied in (copy.deepcopy(lazy[0]), pickle.loads(pickle.dumps(lazy[0]))):
        assert type(copied) is Job and type(copied.spec) is JobSpec and copied == lazy[0]


def test_a_few_rows_jobs_are_made_alone_and_each_row_has_one_job():
    jobs = _listed_jobs()
    listing = listedjobs.listing_of_pages(_pages(jobs))
    some = listing.take([2, 0]).jobs   # (as squeue makes only the jobs that have nodes, say)
    _assert_same_fields(some, [_eager(jobs)[2], _eager(jobs)[0]])
    every = listing.jobs
    assert every[2] is some[0] and every[0] is some[1]
    _assert_same_fields(every, _eager(jobs))
    assert listing.take([1]).jobs[0] is every[1] and listing.jobs is not listing.jobs   # (a list of its own)
