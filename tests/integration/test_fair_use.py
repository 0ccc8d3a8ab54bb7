"""Fair use of the controller, against a real cluster: one user's floods and piles meet their
own limits (submit rate, queued and running jobs, open streams) while root and operators
are never locked out."""

import time

import grpc
import pytest

from harness import wait_until
from jem.model.errors import ControllerNotReady, LimitExceeded, RateLimited, TooManyStreams
from jem.model.reasons import JobReason
from jem.model.states import JobState
from jem.v1 import jobs_pb2

HOLD = dict(hold=True)
SLEEP = "#!/bin/sh\nsleep 30\n"


def limits_cluster(make_cluster, *, agent_args=(), **limits):
    lines = "\n".join(f"{key} = {value}" for key, value in limits.items())
    return make_cluster(extra_config=f"\n[limits]\n{lines}\n", agent_args=agent_args).start()


def test_a_flooding_user_is_slowed_to_their_rate_and_root_is_not(make_cluster, stranger):
    cluster = limits_cluster(make_cluster, submit_rate_burst=5, submit_rate_per_s=4)
    with cluster.client_as(stranger) as user:
        t0 = time.monotonic()
        ids = [user.submit(cluster.spec(SLEEP, **HOLD)) for _ in range(13)]
        took = time.monotonic() - t0
        # 5 at once, then 8 more at 4 per second: the client waited (and resent) rather than fail.
        assert len(set(ids)) == 13 and took >= 1.5
        # The wire answer the client library waits on; a flood of bad requests is counted too.
        with pytest.raises(grpc.RpcError) as caught:
            for _ in range(10):
                try:
                    user._jobs.SubmitJob(jobs_pb2.SubmitJobRequest(), metadata=user._metadata, timeout=10)
                except grpc.RpcError as exc:
                    if exc.code() is not grpc.StatusCode.INVALID_ARGUMENT:
                        raise
        trailing = dict(caught.value.trailing_metadata())
        assert caught.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        assert trailing["jem-reason"] == "RateLimited" and 0 < float(trailing["jem-retry-after-s"]) <= 1
    with cluster.client() as root:
        t0 = time.monotonic()
        for _ in range(20):
            root.submit(cluster.spec(SLEEP, **HOLD))
        assert time.monotonic() - t0 < 10
        for job in root.list_jobs():
            root.cancel(job.job_id)


def test_the_rate_limit_error_says_when_to_retry(make_cluster, stranger):
    cluster = limits_cluster(make_cluster, submit_rate_burst=1, submit_rate_per_s=1)
    with cluster.client_as(stranger) as user:
        user._timeout_s = 0.2   # too short to wait for a token: the error reaches the caller
        user.submit(cluster.spec(SLEEP, **HOLD))
        with pytest.raises(RateLimited) as caught:
            user.submit(cluster.spec(SLEEP, **HOLD))
        assert 0 < caught.value.retry_after_s <= 1
        assert "1 jobs per second" in str(caught.value)


def test_queued_jobs_per_user_count_array_tasks_and_spare_root(make_cluster, stranger):
    cluster = limits_cluster(make_cluster, max_submit_jobs_per_user=4)
    with cluster.client_as(stranger) as user:
        user.submit(cluster.spec(SLEEP, array="0-2", **HOLD))
        user.submit(cluster.spec(SLEEP, **HOLD))
        with pytest.raises(LimitExceeded) as caught:
            user.submit(cluster.spec(SLEEP, **HOLD))
        assert str(caught.value).startswith("Job violates accounting/QOS policy (job submit limit, user's size "
                                            "and/or time limits)")
        with pytest.raises(LimitExceeded):
            user.submit(cluster.spec(SLEEP, array="0-1", **HOLD))
    with cluster.client() as root:
        for _ in range(5):
            root.submit(cluster.spec(SLEEP, **HOLD))
        victim = [j for j in root.list_jobs() if j.user == stranger and not j.spec.array][0]
        root.cancel(victim.job_id)
    with cluster.client_as(stranger) as user:   # a slot came free
        user.submit(cluster.spec(SLEEP, **HOLD))


def test_a_full_queue_refuses_users_but_keeps_room_for_root(make_cluster, stranger):
    cluster = make_cluster(extra_config="max_job_count = 3").start()
    with cluster.client_as(stranger) as user:
        for _ in range(3):
            user.submit(cluster.spec(SLEEP, **HOLD))
        with pytest.raises(ControllerNotReady, match="maximum of 3 jobs"):
            user.submit(cluster.spec(SLEEP, **HOLD))
    with cluster.client() as root:
        root.submit(cluster.spec(SLEEP, **HOLD))   # the report's controller refused root here too
        assert len(root.list_jobs()) == 4


def test_running_jobs_per_user_wait_with_slurms_reason(make_cluster, stranger):
    # The user's jobs really run, as the user (unsigned: a JWT caller has no credential service).
    cluster = limits_cluster(make_cluster, max_running_jobs_per_user=1, agent_args=("--unsigned-jobs", "allow"))
    with cluster.client_as(stranger) as user:
        ids = [user.submit(cluster.spec("#!/bin/sh\nsleep 2\n", working_dir="/tmp", stdout_pattern="/dev/null"))
               for _ in range(3)]
        wait_until(lambda: [user.get_job(i).state for i in ids].count(JobState.RUNNING) == 1, 20,
                   what="one job of the user running")
        waiting = [user.get_job(i) for i in ids if user.get_job(i).state is JobState.PENDING]
        wait_until(lambda: all(user.get_job(j.job_id).reason is JobReason.ASSOC_MAX_JOBS_LIMIT for j in waiting),
                   10, what="the others waiting for the user's running limit")
        def all_done():
            jobs = [user.get_job(i) for i in ids]
            assert sum(j.state is JobState.RUNNING for j in jobs) <= 1, "more running than the limit allows"
            return all(j.state is JobState.COMPLETED for j in jobs)
        wait_until(all_done, 60, interval_s=0.1, what="all jobs done, one at a time")
    with cluster.client() as root:   # root is never held back
        both = [root.submit(cluster.spec("#!/bin/sh\nsleep 5\n")) for _ in range(2)]
        wait_until(lambda: all(root.get_job(i).state is JobState.RUNNING for i in both), 20,
                   what="both of root's jobs running")
        for job_id in both:
            root.cancel(job_id)


def _try_watch(client) -> grpc.StatusCode:
    """Open a WatchJobs stream for two seconds: DEADLINE_EXCEEDED means the controller took it
    (and it saw no event), RESOURCE_EXHAUSTED that it refused it."""
    call = client._jobs.WatchJobs(jobs_pb2.WatchJobsRequest(job_ids=[1 << 40]), metadata=client._metadata,
                                  timeout=2)
    try:
        for _ in call:
            pass
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def test_open_streams_per_user_are_capped_and_freed(make_cluster, stranger):
    cluster = limits_cluster(make_cluster, max_streams_per_user=2)
    with cluster.client_as(stranger) as user:
        held = [user._jobs.WatchJobs(jobs_pb2.WatchJobsRequest(), metadata=user._metadata) for _ in range(2)]
        wait_until(lambda: _try_watch(user) is grpc.StatusCode.RESOURCE_EXHAUSTED, 60,
                   what="a third stream of the user refused")
        with pytest.raises(TooManyStreams):
            next(iter(user.watch()))
        with cluster.client() as root:   # others, root included, are served as usual
            assert _try_watch(root) is grpc.StatusCode.DEADLINE_EXCEEDED
            assert [n.node.name for n in root.list_nodes()]
        held[0].cancel()   # a closed stream gives its slot back
        wait_until(lambda: _try_watch(user) is grpc.StatusCode.DEADLINE_EXCEEDED, 60,
                   what="a new stream once one is closed")
        held[1].cancel()
