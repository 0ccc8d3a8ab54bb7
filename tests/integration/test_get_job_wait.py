"""GetJob's bounded wait while a job is pending (`wait_while_pending_s`, what salloc waits for
its grant with), against a real cluster: it answers once the job starts, or with the job still
pending when the time is up; never for a job the caller may not see; and each waiting call
takes one of the user's stream slots, so that one user's waits cannot hold the controller's
RPC threads: over their slots a user is answered at once, without waiting."""

import threading

import grpc
import pytest

from harness import wait_until
from jem.model.errors import JobNotFound
from jem.model.states import JobState
from jem.v1 import steps_pb2
from test_privacy import private_cluster  # noqa: F401  (the fixture: PrivateData=jobs)

SLEEP = "#!/bin/sh\nsleep 30\n"
LONG_WAIT_S = 60.0   # more than the controller allows: it caps each wait


def _holds_all_stream_slots(client) -> bool:
    """Whether the user holds every stream slot they may: a step for a job that does not exist is
    refused for want of a slot (RESOURCE_EXHAUSTED) before it is looked up (NOT_FOUND)."""
    call = client._jobs.RunStep(steps_pb2.RunStepRequest(job_id=1 << 40), metadata=client._metadata, timeout=10)
    try:
        for _ in call:
            pass
    except grpc.RpcError as exc:
        return exc.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    return False


def _wait_for_start(client, job_id: int, states: list) -> None:
    """GetJob with a wait until the job is no longer pending, each answer's state kept in
    `states` (a wait ends pending at the controller's cap, or at once when the user's only slot
    was taken that moment by `_holds_all_stream_slots`: then it asks again)."""
    for _ in range(100):
        state = client.get_job(job_id, wait_while_pending_s=LONG_WAIT_S).state
        states.append(state)
        if state is not JobState.PENDING:
            return


def test_a_waiting_get_job_answers_with_the_job_started_meanwhile(make_cluster, stranger):
    cluster = make_cluster(extra_config="\n[limits]\nmax_streams_per_user = 1\n").start()
    with cluster.client_as(stranger) as user:
        job_id = user.submit(cluster.spec(SLEEP, hold=True))
        other = user.submit(cluster.spec(SLEEP, hold=True))
        # A held job is still pending when the wait is over: the job as it is then.
        assert user.get_job(other, wait_while_pending_s=0.2).state is JobState.PENDING
        states: list = []
        waiter = threading.Thread(target=_wait_for_start, args=(user, job_id, states), daemon=True)
        waiter.start()
        wait_until(lambda: _holds_all_stream_slots(user), what="the waiting GetJob to hold the user's slot")
        # Over their slots the same user is still answered (at once, without waiting), not refused.
        assert user.get_job(other, wait_while_pending_s=LONG_WAIT_S).state is JobState.PENDING
        user.release(job_id)
        waiter.join(60)
        assert not waiter.is_alive() and states[-1] is JobState.RUNNING
        wait_until(lambda: not _holds_all_stream_slots(user), what="the wait to give its slot back")
        user.cancel(job_id)
        user.cancel(other)


def test_a_wait_on_another_users_private_job_is_refused_at_once(private_cluster, stranger):  # noqa: F811
    cluster = private_cluster
    with cluster.client() as root:
        roots = root.submit(cluster.spec(SLEEP, hold=True))
    with cluster.client_as(stranger) as user:
        with pytest.raises(JobNotFound):
            user.get_job(roots, wait_while_pending_s=LONG_WAIT_S)
        with pytest.raises(JobNotFound):
            user.get_job(1 << 40, wait_while_pending_s=LONG_WAIT_S)
    with cluster.client() as root:
        root.cancel(roots)
