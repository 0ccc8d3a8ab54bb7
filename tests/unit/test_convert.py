"""Model <-> wire conversion loses nothing and covers every enum member."""

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


def test_runs_go_to_the_wire_and_back_without_the_unknown_ones():
    pbs = convert.runs_to_pb([(5, 0), (7, None), (9, 3)])
    assert convert.runs_from_pb(pbs) == [(5, 0), (9, 3)]
