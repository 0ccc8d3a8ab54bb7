"""gRPC health checking and reflection on a real cluster's ports (TLS as the harness sets it up): the
controller's client port and an agent's port answer them without credentials, as a load balancer or
`grpcurl` asks, while every other method there still refuses a caller without them."""

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from jem.security import tls
from jem.v1 import agent_pb2, agent_pb2_grpc, jobs_pb2, jobs_pb2_grpc

TIMEOUT_S = 10
SERVING = health_pb2.HealthCheckResponse.SERVING


def _controller_channel(cluster) -> grpc.Channel:
    """What grpcurl -cacert ca.crt does: server-authenticated TLS, no credential of any kind."""
    with open(cluster.ca_file, "rb") as f:
        return grpc.secure_channel(cluster.address, grpc.ssl_channel_credentials(root_certificates=f.read()))


def _agent_channel(cluster, node: str) -> grpc.Channel:
    """The agent's port is mutual TLS: a cluster certificate (here node n2's), but no controller token."""
    with cluster.client() as client:
        address = next(i.node.agent_address for i in client.list_nodes() if i.node.name == node)
    return grpc.secure_channel(address, tls.channel_credentials(cluster.security_dir, "nodes/n2"),
                               options=[tls.target_name_override(node)])


def _health(channel, service: str = "") -> int:
    return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service),
                                                     timeout=TIMEOUT_S).status


def test_the_controller_answers_health_and_reflection_without_credentials(cluster):
    with _controller_channel(cluster) as channel:
        for service in ("", "jem.v1.JobService", "jem.v1.AdminService"):
            assert _health(channel, service) == SERVING
        services = ProtoReflectionDescriptorDatabase(channel).get_services()
        assert {"jem.v1.JobService", "jem.v1.AdminService", "grpc.health.v1.Health"} <= set(services)
        assert "jem.v1.NodeService" not in services   # (on the agents' mutual-TLS port, not here)
        with pytest.raises(grpc.RpcError) as refused:
            jobs_pb2_grpc.JobServiceStub(channel).Ping(jobs_pb2.PingRequest(), timeout=TIMEOUT_S)
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as refused:   # ListJobs has a handler of its own (raw bytes)
            jobs_pb2_grpc.JobServiceStub(channel).ListJobs(jobs_pb2.ListJobsRequest(), timeout=TIMEOUT_S)
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
    with cluster.client() as client:   # health checks are not the cluster's RPCs: sdiag does not count them
        assert not any(count.name == "Check" for count in client.diagnostics().by_method)


def test_an_agent_answers_health_and_reflection_without_a_controller_token(cluster):
    with _agent_channel(cluster, "n1") as channel:
        assert _health(channel) == SERVING
        assert _health(channel, "jem.v1.AgentService") == SERVING
        assert "jem.v1.AgentService" in ProtoReflectionDescriptorDatabase(channel).get_services()
        with pytest.raises(grpc.RpcError) as refused:
            agent_pb2_grpc.AgentServiceStub(channel).SignalJob(agent_pb2.SignalJobRequest(job_id=1),
                                                               timeout=TIMEOUT_S)
        assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
