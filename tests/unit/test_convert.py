"""Model <-> wire conversion loses nothing and covers every enum member."""

import pytest

from jem import convert
from jem.model.execution import JobEnd, JobReport, Launch
from jem.model.job import Job, JobShape, JobSpec, JobUsage
from jem.model.node import NodeState
from jem.model.reasons import JobReason
from jem.model.resources import Resources
from jem.model.states import JobState


def test_every_model_enum_member_has_a_wire_value():
    assert set(convert.STATE_TO_PB) == set(JobState)
    assert set(convert.REASON_TO_PB) == set(JobReason)
    assert set(convert.NODE_STATE_TO_PB) == set(NodeState)
    assert set(convert.END_TO_PB) == set(JobEnd)
    assert 0 not in convert.STATE_FROM_PB  # UNSPECIFIED is never a model state


def _spec(**fields) -> JobSpec:
    base = dict(script="#!/bin/sh\ntrue\n", name="x", account="a", partition="p", n_nodes=2, n_tasks=4,
                cpus_per_task=2, n_tasks_per_node=2, mem_per_cpu_mib=100, gpus_per_node=1, time_limit_s=90,
                script_args=("1", "two"), working_dir="/tmp", environment={"A": "1"}, stdout_pattern="o-%j",
                stderr_pattern="e-%j", stdin_path="/dev/zero", hold=True, begin_time=1700000000.25, nice=5,
                requeue=False)
    base.update(fields)
    return JobSpec(**base)


def test_job_spec_round_trips():
    for spec in (_spec(), _spec(mem_per_cpu_mib=None, mem_per_node_mib=2048, time_limit_s=None,
                                time_limit_unlimited=True, requeue=None, begin_time=None)):
        assert convert.spec_from_pb(convert.spec_to_pb(spec)) == spec


def test_job_round_trips_with_times_and_usage():
    job = Job(job_id=7, spec=_spec(), user="ann", uid=1000, gid=100, submit_time=1700000000.5,
              shape=JobShape(2, 4, Resources(4, 400, 1)), time_limit_s=90, state=JobState.FAILED,
              reason=JobReason.NON_ZERO_EXIT_CODE, reason_detail="d", priority=3, held_by="", start_time=1700000001.0,
              end_time=1700000002.0, nodes=("n1", "n2"), exit_code=3, exit_signal=0, restart_count=1,
              usage=JobUsage(10, 20, 30))
    assert convert.job_from_pb(convert.job_to_pb(job)) == job


def test_job_without_script_hides_script_and_environment():
    job = Job(job_id=1, spec=_spec(), user="ann", uid=1, gid=1, submit_time=1.0,
              shape=JobShape(1, 1, Resources(1, 1, 0)), time_limit_s=None)
    pb = convert.job_to_pb(job, with_script=False)
    assert pb.spec.script == "" and dict(pb.spec.environment) == {}
    assert convert.job_from_pb(pb).time_limit_s is None


def test_launch_and_report_round_trip():
    launch = Launch(job_id=3, spec=_spec(), user="ann", uid=1, gid=2, nodes=("n1",), alloc=Resources(2, 10, 0),
                    n_tasks=2, time_limit_s=60, kill_wait_s=30, submit_dir="/tmp", cluster_name="c")
    assert convert.launch_from_pb(convert.launch_to_pb(launch)) == launch
    report = JobReport(job_id=3, has_ended=True, end=JobEnd.TIME_LIMIT, exit_code=0, exit_signal=15,
                       start_time=5.0, end_time=6.5, usage=JobUsage(1, 2, 3), detail="x")
    assert convert.report_from_pb(convert.report_to_pb(report)) == report


# ---------------------------------------------------------------- listings' lazy jobs


def _listed_jobs() -> list[Job]:
    """Jobs that exercise every reader: times set and unset, arrays, nodes, CPU ids, usage, unlimited limits."""
    running = Job(job_id=7, spec=_spec(), user="ann", uid=1000, gid=100, submit_time=1700000000.5,
                  shape=JobShape(2, 4, Resources(4, 400, 1)), time_limit_s=90, state=JobState.RUNNING,
                  reason=JobReason.NONE, priority=3, start_time=1700000001.25, nodes=("n1", "n2"),
                  cpu_ids=((0, 1), (2, 3)), gpu_ids=((0,), (1,)), usage=JobUsage(10, 20, 30),
                  planned_start=1700000001.0, dependency="afterok:3")
    array_record = Job(job_id=20, spec=_spec(array="0-9%2", requeue=None, begin_time=None, mem_per_cpu_mib=None),
                       user="bob", uid=1001, gid=100, submit_time=2.0, shape=JobShape(1, 1, Resources(1, 1, 0)),
                       time_limit_s=None, reason=JobReason.JOB_HELD_USER, held_by="user", array_pending=(4, 5, 6, 9))
    task = Job(job_id=23, spec=_spec(array="0-9%2", time_limit_unlimited=True), user="bob", uid=1001, gid=100,
               submit_time=3.0, shape=JobShape(1, 1, Resources(1, 1, 0)), time_limit_s=60,
               state=JobState.COMPLETED, array_task_id=0, array_parent_id=20, end_time=5.0, exit_code=2)
    return [running, array_record, task]


def _lazy_listing(jobs: list[Job]) -> list[Job]:
    return convert.jobs_from_pb([convert.job_to_pb(j, with_script=False) for j in jobs])


def test_every_field_the_wire_carries_has_a_reader():
    import dataclasses

    assert set(convert._SPEC_READERS) == {f.name for f in dataclasses.fields(JobSpec)}
    # spec has its own table; the kill fields, the user's signature, a reservation's cut of the
    # time limit and the count of node-failure requeues stay in the controller
    not_on_the_wire = {"spec", "kill_cause", "kill_time", "user_signature", "time_limit_cut", "uncut_time_limit_s",
                       "failure_requeues"}
    assert set(convert._JOB_READERS) == {f.name for f in dataclasses.fields(Job)} - not_on_the_wire


def test_lazy_jobs_read_every_field_as_the_eager_conversion_does():
    import dataclasses

    jobs = _listed_jobs()
    eager = [convert.job_from_pb(convert.job_to_pb(j, with_script=False)) for j in jobs]
    lazy = _lazy_listing(jobs)
    for e, z in zip(eager, lazy):  # field by field, in reverse order so no field is read as a side effect first
        assert isinstance(z, Job) and isinstance(z.spec, JobSpec)
        for field in reversed(dataclasses.fields(JobSpec)):
            assert getattr(z.spec, field.name) == getattr(e.spec, field.name), field.name
        for field in reversed(dataclasses.fields(Job)):
            assert getattr(z, field.name) == getattr(e, field.name), field.name
        assert (z.label, z.array_job_id, z.list_order) == (e.label, e.array_job_id, e.list_order)
    assert lazy == eager and eager == lazy and lazy[0] != eager[1]
    assert _lazy_listing(jobs) == eager  # all at once, as dataclass equality reads them
    assert [repr(z) for z in _lazy_listing(jobs)] == [repr(e) for e in eager]


def test_a_lazy_job_keeps_what_is_set_and_copies_as_a_plain_job():
    import copy
    import dataclasses
    import pickle

    jobs = _listed_jobs()
    lazy = _lazy_listing(jobs)
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


def test_runs_go_to_the_wire_and_back_without_the_unknown_ones():
    pbs = convert.runs_to_pb([(5, 0), (7, None), (9, 3)])
    assert convert.runs_from_pb(pbs) == [(5, 0), (9, 3)]
