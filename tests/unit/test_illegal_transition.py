"""An illegal job transition is a typed JEM error: through the controller's error interceptor
it becomes FAILED_PRECONDITION with Slurm's "Job state does not allow this request" and the
reason IllegalTransition, and the client turns it back into that error, never INTERNAL."""

import dataclasses
from concurrent import futures

import grpc
import pytest

from jem.client import Client
from jem.controller import lifecycle
from jem.controller.interceptors import ErrorInterceptor
from jem.model.errors import ERRORS_BY_REASON, IllegalTransition, JobStateConflict
from jem.model.job import Job, JobShape, JobSpec
from jem.model.resources import Resources
from jem.model.states import JobEvent, JobState

METHOD = "/jem.test.Probe/Update"


def completing_job() -> Job:
    job = Job(job_id=7, spec=JobSpec(script="#!/bin/sh\n", partition="p"), user="ann", uid=1, gid=1,
              submit_time=0.0, shape=JobShape(1, 1, Resources(1, 100, 0)), time_limit_s=None)
    job.state = JobState.COMPLETING
    return job


@pytest.fixture
def probe_server():
    """A real gRPC server behind the controller's ErrorInterceptor whose one method updates a
    job being killed, as update_job would (the state machine allows no update there)."""
    job = completing_job()

    def update(request: bytes, context) -> bytes:
        lifecycle.change(dataclasses.replace(job), JobEvent.UPDATE, now=1.0)
        return b""

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), interceptors=[ErrorInterceptor()])
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(
        "jem.test.Probe", {"Update": grpc.unary_unary_rpc_method_handler(update)})])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", job
    finally:
        server.stop(None)


def test_an_illegal_transition_is_a_job_state_conflict_the_client_knows_by_its_reason():
    assert issubclass(IllegalTransition, JobStateConflict) and not issubclass(IllegalTransition, ValueError)
    assert ERRORS_BY_REASON["IllegalTransition"] is IllegalTransition
    assert ERRORS_BY_REASON["JobStateConflict"] is JobStateConflict   # its base keeps its own reason
    with pytest.raises(IllegalTransition) as info:
        lifecycle.change(completing_job(), JobEvent.START, now=1.0)
    assert (info.value.state, info.value.event) == (JobState.COMPLETING, JobEvent.START)


def test_a_request_meeting_an_illegal_transition_gets_failed_precondition_not_internal(probe_server):
    address, job = probe_server
    with grpc.insecure_channel(address) as channel:
        with pytest.raises(grpc.RpcError) as caught:
            channel.unary_unary(METHOD)(b"", timeout=10)
    error = caught.value
    assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert dict(error.trailing_metadata())["jem-reason"] == "IllegalTransition"
    assert error.details() == ("Job state does not allow this request: "
                               "event 'update' is not allowed in state COMPLETING")
    assert job.state is JobState.COMPLETING   # refused before anything changed
    client = Client(address, token="unused", ca_file="")
    try:
        typed = client._error(error)   # what every Client call raises for this status
    finally:
        client.close()
    assert type(typed) is IllegalTransition and isinstance(typed, JobStateConflict)
    assert str(typed) == error.details()
