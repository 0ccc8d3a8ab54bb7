"""NodeService servicer: agents register, heartbeat and report on jobs."""

import os
import time

from jem.controller.interceptors import current_identity, current_node
from jem.controller.reports import apply_reports, reconcile_node
from jem.controller.state import ClusterState
from jem.convert import report_from_pb, resources_from_pb
from jem.model import policy
from jem.v1 import agent_pb2, agent_pb2_grpc


class NodeServicer(agent_pb2_grpc.NodeServiceServicer):
    def __init__(self, state: ClusterState, *, clock=time.time):
        self._state = state
        self._clock = clock

    def RegisterNode(self, request, context):
        _require_agent(request.name)
        now = self._clock()
        with self._state.lock:
            self._state.nodes.register(
                request.name, address=request.agent_address, capacity=resources_from_pb(request.capacity),
                boot_id=request.boot_id, cgroup_mode=request.cgroup_mode, gpu_isolation=request.gpu_isolation,
                now=now,
            )
        reconcile_node(self._state, request.name, known_job_ids=set(request.running_job_ids), now=now)
        self._state.wake_scheduler()
        return agent_pb2.RegisterNodeResponse(
            heartbeat_interval_s=int(max(1, self._state.config.scheduler.heartbeat_interval_s)),
            cluster_name=self._state.config.cluster.name,
        )

    def Heartbeat(self, request, context):
        _require_agent(request.name)
        now = self._clock()
        with self._state.lock:
            node = self._state.nodes.heartbeat(request.name, boot_id=request.boot_id, now=now)
            if node is not None:
                self._state.nodes.apply_health(node, request.health_error.strip())
        if node is None:
            return agent_pb2.HeartbeatResponse(is_registered=False)
        known = set(request.running_job_ids) | set(request.unreported_job_ids)
        orphans = reconcile_node(self._state, request.name, known_job_ids=known, now=now)
        return agent_pb2.HeartbeatResponse(is_registered=True, orphan_job_ids=orphans)

    def ReportJobEvents(self, request, context):
        _require_agent(request.name)
        reports = [report_from_pb(r) for r in request.reports]
        n = apply_reports(self._state, request.name, reports, now=self._clock())
        return agent_pb2.ReportJobEventsResponse(n_acked=n)


def _require_agent(node_name: str) -> None:
    """On the agents' mutual-TLS port, the caller must hold node `node_name`'s certificate.
    A controller without TLS (loopback only) serves node calls on its one port: agents
    there run as root, or as the controller's own user (a personal cluster)."""
    node = current_node()
    if node is not None:
        policy.require_node_certificate(node, node_name)
    else:
        policy.require_node_agent(current_identity(), controller_uid=os.getuid())
