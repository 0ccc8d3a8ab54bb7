"""gRPC health checking and server reflection on a JEM server's port: the standard services
(grpcio-health-checking, grpcio-reflection), so that `grpcurl`, load balancers and gRPC
health probes work against the controller and the agents as against any gRPC server.

They answer without credentials: a load balancer has none, and they tell only whether the
server serves and what its API is (the public `jem.v1` protos). Every other method on the
port still needs them. So the servers' interceptors let these methods through untouched
(`is_probe`), which also keeps health's Watch non-blocking (gRPC runs it on a callback only
when its handler is the servicer's own).

Reflection's stream (ServerReflectionInfo) holds one of the server's threads while its
caller keeps it open, so an unauthenticated caller could otherwise hold them all: at most
MAX_REFLECTION_STREAMS run at once (RESOURCE_EXHAUSTED past that), each cancelled after
MAX_REFLECTION_STREAM_S. (`grpcurl list` opens one and closes it within milliseconds.)
"""

import threading

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2_grpc

MAX_REFLECTION_STREAMS = 4
MAX_REFLECTION_STREAM_S = 10.0
PROBE_SERVICES = frozenset({health.SERVICE_NAME, reflection.SERVICE_NAME})

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def is_probe(method: str) -> bool:
    """Whether the full method name (/package.Service/Method) is one of the probes' methods."""
    return method.lstrip("/").rpartition("/")[0] in PROBE_SERVICES


class _BoundedReflection(reflection.ReflectionServicer):
    """The reflection service, its streams bounded in number and length (see the module's docstring)."""

    def __init__(self, service_names: list[str]):
        super().__init__(service_names)
        self._slots = threading.BoundedSemaphore(MAX_REFLECTION_STREAMS)

    def ServerReflectionInfo(self, request_iterator, context):
        if not self._slots.acquire(blocking=False):
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"at most {MAX_REFLECTION_STREAMS} reflection streams at once; try again")
        timer = threading.Timer(MAX_REFLECTION_STREAM_S, context.cancel)
        timer.daemon = True
        timer.start()
        try:
            yield from super().ServerReflectionInfo(request_iterator, context)
        finally:
            timer.cancel()
            self._slots.release()


class Probes:
    """The health and reflection services of one server, for `services` (full names: jem.v1.JobService,
    ...): each of them, and the server as a whole (""), SERVING from `add_to` until `stop_serving`."""

    def __init__(self, services: list[str]):
        self.services = list(services)
        self.health = health.HealthServicer()

    def add_to(self, server: grpc.Server) -> None:
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        reflection_pb2_grpc.add_ServerReflectionServicer_to_server(
            _BoundedReflection([*self.services, health.SERVICE_NAME, reflection.SERVICE_NAME]), server)
        for name in (health.OVERALL_HEALTH, *self.services):
            self.health.set(name, SERVING)

    def stop_serving(self) -> None:
        """NOT_SERVING for the server and each service from now on (it is stopping): load balancers
        turn away before the port closes."""
        self.health.enter_graceful_shutdown()
