"""jem.grpcprobes on a real gRPC server on loopback: health answers per service and turns NOT_SERVING
(a watcher is told) when the server stops serving; reflection describes the services; its streams,
which hold a server thread each, are bounded in number and in length."""

import threading
from concurrent import futures

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from jem import grpcprobes
from jem.v1 import jobs_pb2

TIMEOUT_S = 10
JOB_SERVICE = jobs_pb2.DESCRIPTOR.services_by_name["JobService"].full_name


@pytest.fixture
def served():
    """(a channel to a server with the probes for JobService, its Probes)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    probes = grpcprobes.Probes([JOB_SERVICE])
    probes.add_to(server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield channel, probes
    finally:
        channel.close()
        server.stop(0).wait()


def test_health_per_service_until_it_stops_serving(served):
    channel, probes = served
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", JOB_SERVICE):
        assert health.Check(health_pb2.HealthCheckRequest(service=service), timeout=TIMEOUT_S).status \
            == health_pb2.HealthCheckResponse.SERVING
    with pytest.raises(grpc.RpcError) as unknown:
        health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=TIMEOUT_S)
    assert unknown.value.code() is grpc.StatusCode.NOT_FOUND
    watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT_S)
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    probes.stop_serving()
    assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
    watch.cancel()
    assert health.Check(health_pb2.HealthCheckRequest(service=JOB_SERVICE), timeout=TIMEOUT_S).status \
        == health_pb2.HealthCheckResponse.NOT_SERVING


def test_reflection_lists_and_describes_the_services(served):
    channel, _ = served
    database = ProtoReflectionDescriptorDatabase(channel)
    assert set(database.get_services()) >= {JOB_SERVICE, "grpc.health.v1.Health"}
    found = database.FindFileContainingSymbol(JOB_SERVICE)
    methods = {m.name for s in found.service if s.name == "JobService" for m in s.method}
    assert {"SubmitJob", "ListJobs", "Ping"} <= methods


def test_reflection_streams_are_bounded_in_number_and_length(served, monkeypatch):
    """MAX_REFLECTION_STREAMS held open: one more is refused at once; each held one is cancelled after
    MAX_REFLECTION_STREAM_S (shortened here), and then a new one is served."""
    monkeypatch.setattr(grpcprobes, "MAX_REFLECTION_STREAM_S", 0.5)
    channel, _ = served
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    release = threading.Event()

    def held():   # a caller that asks once and then keeps the stream open
        yield reflection_pb2.ServerReflectionRequest(list_services="")
        release.wait(TIMEOUT_S)

    streams = [stub.ServerReflectionInfo(held(), timeout=TIMEOUT_S) for _ in range(grpcprobes.MAX_REFLECTION_STREAMS)]
    try:
        for stream in streams:
            assert next(stream).list_services_response.service
        extra = stub.ServerReflectionInfo(held(), timeout=TIMEOUT_S)
        with pytest.raises(grpc.RpcError) as refused:
            next(extra)
        assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        for stream in streams:   # cancelled by the server well before the caller's own 10 s deadline
            with pytest.raises(grpc.RpcError) as ended:
                next(stream)
            assert ended.value.code() is grpc.StatusCode.CANCELLED
    finally:
        release.set()
    database = ProtoReflectionDescriptorDatabase(channel)
    assert JOB_SERVICE in database.get_services()


def test_probe_methods_are_told_apart_by_service():
    assert grpcprobes.is_probe("/grpc.health.v1.Health/Check")
    assert grpcprobes.is_probe("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
    assert not grpcprobes.is_probe("/jem.v1.JobService/Ping")
    assert not grpcprobes.is_probe("/grpc.health.v1.HealthX/Check")
