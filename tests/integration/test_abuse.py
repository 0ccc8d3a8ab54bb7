"""What a careless or hostile user sends, against a real controller and agents: each request
is refused early with a clear error (or fails only that job), and nobody else is hurt."""

import os
import time

import grpc
import pytest

from harness import wait_until
from jem import convert
from jem.agent.confined import LaunchError
from jem.model.errors import InvalidJobSpec, ParameterTooLong, PermissionDenied
from jem.model.jobfilter import JobFilter
from jem.model.node import NodeState
from jem.model.reasons import JobReason
from jem.model.states import JobState
from jem.relay import channel_to
from jem.v1 import jobs_pb2, jobs_pb2_grpc

SLEEP = "#!/bin/sh\nsleep 30\n"


def _nodes_up(client) -> bool:
    return all(info.state is not NodeState.DOWN for info in client.list_nodes())


def test_a_huge_dependency_list_is_refused_before_the_lock(cluster):
    with cluster.client() as root:
        first = root.submit(cluster.spec(SLEEP, hold=True))
        t0 = time.monotonic()
        with pytest.raises(ParameterTooLong, match="dependency: "):
            root.submit(cluster.spec("#!/bin/sh\ntrue\n", dependency="afterok:" + ":".join([str(first)] * 300000)))
        # Refused at once (the report's controller spent 13 s under its lock, then every cycle).
        assert time.monotonic() - t0 < 10
        with pytest.raises(ParameterTooLong, match="dependency: 1001 jobs, more than the cluster's limit of 1000"):
            root.submit(cluster.spec("#!/bin/sh\ntrue\n", dependency="afterok:" + ":".join([str(first)] * 1001)))
        assert [j.job_id for j in root.list_jobs()] == [first]
        assert _nodes_up(root)
        root.cancel(first)


def test_oversized_strings_are_refused_with_slurms_wording_and_listings_keep_working(cluster, stranger):
    huge = "x" * (1 << 20)
    with cluster.client_as(stranger) as user:
        for fields in ({"working_dir": "/" + huge}, {"name": huge}, {"account": huge},
                       {"stdout_pattern": huge}, {"environment": {"A": huge}}):
            with pytest.raises(ParameterTooLong) as caught:
                user.submit(cluster.spec("#!/bin/sh\ntrue\n", **fields))
            assert str(caught.value).startswith("Pathname of a file, directory or other parameter too long")
            assert len(str(caught.value)) < 300
        # Over max_script_size (4 MB) but under what gRPC lets through: Slurm's wording, not gRPC's.
        with pytest.raises(ParameterTooLong, match="script: "):
            user.submit(cluster.spec("#!/bin/sh\n" + "#" * (4 << 20) + "\n"))
        held = user.submit(cluster.spec(SLEEP, hold=True))
        with pytest.raises(ParameterTooLong, match="name: "):
            user.update(held, name=huge)
        assert user.get_job(held).spec.name == "sbatch"
    with cluster.client() as root:   # every listing still fits in a message, for everyone
        assert [j.job_id for j in root.list_jobs(include_old=True)] == [held]
        root.cancel(held)


def test_a_nul_byte_or_a_bad_variable_name_is_refused_at_the_controller(cluster):
    with cluster.client() as root:
        for fields in ({"environment": {"A": "x\0y"}}, {"environment": {"A=B": "1"}},
                       {"script_args": ("a\0",)}, {"working_dir": cluster.workdir + "\0"}):
            with pytest.raises(InvalidJobSpec):
                root.submit(cluster.spec("#!/bin/sh\ntrue\n", **fields))
        assert root.list_jobs() == []
        assert _nodes_up(root)


def test_a_request_larger_than_any_job_is_refused_by_grpc_itself(cluster):
    channel = channel_to(cluster.address, cluster.ca_file)
    try:
        request = jobs_pb2.SubmitJobRequest(spec=convert.spec_to_pb(cluster.spec("#!/bin/sh\n" + "#" * (16 << 20))))
        with pytest.raises(grpc.RpcError) as caught:
            jobs_pb2_grpc.JobServiceStub(channel).SubmitJob(request, timeout=30)
        assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        channel.close()


def test_only_root_may_ask_for_a_negative_nice(cluster, stranger):
    with cluster.client_as(stranger) as user:
        with pytest.raises(PermissionDenied, match="negative nice"):
            user.submit(cluster.spec(SLEEP, hold=True, nice=-1000))
        job_id = user.submit(cluster.spec(SLEEP, hold=True, nice=100))
        with pytest.raises(PermissionDenied, match="negative nice"):
            user.update(job_id, nice=-1)
        user.cancel(job_id)
    with cluster.client() as root:
        job_id = root.submit(cluster.spec(SLEEP, hold=True, nice=-1000))
        assert root.get_job(job_id).spec.nice == -1000
        root.cancel(job_id)


def test_a_refused_update_changes_nothing(cluster):
    with cluster.client() as root:
        job_id = root.submit(cluster.spec(SLEEP, hold=True, time_limit_s=600))
        before = root.get_job(job_id)
        with pytest.raises(Exception):
            root.update(job_id, time_limit_s=60, partition="no-such-partition")
        after = root.get_job(job_id)
        assert (after.time_limit_s, after.spec.partition) == (before.time_limit_s, before.spec.partition)
        root.cancel(job_id)


def test_a_job_the_node_cannot_start_fails_alone_and_the_node_stays_up(cluster):
    with cluster.client() as root:
        missing = os.path.join(cluster.workdir, "no-such-dir")
        job_id = root.submit(cluster.spec("#!/bin/sh\ntrue\n", working_dir=missing))
        job = cluster.wait_job(root, job_id)
        assert job.state is JobState.FAILED and job.reason is JobReason.LAUNCH_FAILED
        assert "does not exist" in job.reason_detail
        assert _nodes_up(root)
        ok = root.submit(cluster.spec("#!/bin/sh\ntrue\n"))
        assert cluster.wait_job(root, ok).state is JobState.COMPLETED
    wait_until(lambda: not any(name.startswith(f"job{job_id}") for name in _spool_entries(cluster)), 10,
               what="the failed job's spool entries removed")


def _spool_entries(cluster) -> list[str]:
    found = []
    for _, dirs, files in os.walk(cluster.spool_root):
        found += dirs + files
    return found


def test_launch_error_is_what_exec_refuses():
    from jem.agent.confined import Credentials, StartFiles, start_confined
    files = StartFiles("", "", "", None, None)
    with pytest.raises(LaunchError, match="cannot start job"):
        start_confined(["/bin/true"], credentials=Credentials({}, None), working_dir="/", files=files,
                       env={"A": "x\0y"}, cgroup=None)


def test_listings_come_in_pages_however_many_and_large_the_jobs(cluster):
    path = "/" + "p" * 4000   # each job near the path limit: 1,200 of them are more than one page's bytes
    with cluster.client() as root:
        ids = [root.submit(cluster.spec(SLEEP, hold=True, stdout_pattern=path, name=f"j{i}")) for i in range(1200)]
        request = jobs_pb2.ListJobsRequest(page_size=500)
        first = root._jobs.ListJobs(request, metadata=root._metadata, timeout=30)
        assert len(first.jobs) <= 500 and first.next_after_job_id == first.jobs[-1].job_id
        assert [j.job_id for j in root.list_jobs()] == ids     # the client follows the pages
        assert [j.job_id for j in root.list_jobs(JobFilter(names=frozenset({"j7", "j1100"})))] == [ids[7], ids[1100]]
        for job_id in ids:
            root.cancel(job_id)
        assert len(root.list_jobs(include_old=True)) == 1200
