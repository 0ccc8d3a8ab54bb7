"""NodeService servicer: agents register, heartbeat and report on jobs.

Agents name the runs they hold (`JobRun`: job id and restart count); an older
agent names job ids only, which count as holding whichever run is current.
"""

import os
import time

from jem.controller.interceptors import current_identity, current_node
from jem.controller.reports import apply_reports, reconcile_node
from jem.controller.state import ClusterState
from jem.convert import report_from_pb, resources_from_pb, runs_from_pb, runs_to_pb
from jem.model import policy
from jem.v1 import agent_pb2, agent_pb2_grpc


class NodeServicer(agent_pb2_grpc.NodeServiceServicer):
    def __init__(self, state: ClusterState, *, clock=time.time):
        self._state = state
        self._clock = clock

    def RegisterNode(self, request, context):
        _require_agent(request.name)
        now = self._clock()
        # The epoch first: a launch sent once the node is up again must carry it.
        self._state.agents.note_registration(request.name, request.epoch)
        with self._state.lock:
            self._state.nodes.register(
                request.name, address=request.agent_address, capacity=resources_from_pb(request.capacity),
                boot_id=request.boot_id, cgroup_mode=request.cgroup_mode, gpu_isolation=request.gpu_isolation,
                now=now,
            )
        # running_job_ids: what runs and what ended unreported, which the lists of runs split.
        unreported = _held(request.unreported_runs, ())
        ended = {job_id for job_id, _ in unreported}
        reconcile_node(self._state, request.name, unreported=unreported, now=now,
                       running=_held(request.runs, [i for i in request.running_job_ids if i not in ended]))
        self._state.wake_scheduler()
        return agent_pb2.RegisterNodeResponse(
            heartbeat_interval_s=int(max(1, self._state.config.scheduler.heartbeat_interval_s)),
            cluster_name=self._state.config.cluster.name,
        )

    def Heartbeat(self, request, context):
        _require_agent(request.name)
        now = self._clock()
        with self._state.lock:
            recorded = self._clock()
            self._state.nodes.note_heartbeat_lag(recorded - now, now=recorded,
                                                 stall_s=self._state.config.scheduler.heartbeat_interval_s)
            node = self._state.nodes.heartbeat(request.name, boot_id=request.boot_id, now=now)
            if node is not None:
                self._state.nodes.apply_health(node, request.health_error.strip())
        if node is None:
            return agent_pb2.HeartbeatResponse(is_registered=False)
        orphans = reconcile_node(self._state, request.name, running=_held(request.runs, request.running_job_ids),
                                 unreported=_held(request.unreported_runs, request.unreported_job_ids), now=now)
        return agent_pb2.HeartbeatResponse(
            is_registered=True, orphan_job_ids=sorted({job_id for job_id, _ in orphans}),
            orphan_runs=runs_to_pb(orphans))

    def ReportJobEvents(self, request, context):
        _require_agent(request.name)
        reports = [report_from_pb(r) for r in request.reports]
        n = apply_reports(self._state, request.name, reports, now=self._clock())
        return agent_pb2.ReportJobEventsResponse(n_acked=n)


def _held(runs, job_ids) -> set[tuple[int, int | None]]:
    """The runs an agent names, and the jobs it names without a run (run None)."""
    held: set[tuple[int, int | None]] = set(runs_from_pb(runs))
    named = {job_id for job_id, _ in held}
    return held | {(job_id, None) for job_id in job_ids if job_id not in named}


def _require_agent(node_name: str) -> None:
    """On the agents' mutual-TLS port, the caller must hold node `node_name`'s certificate.
    A controller without TLS (loopback only) serves node calls on its one port: agents
    there run as root, or as the controller's own user (a personal cluster)."""
    node = current_node()
    if node is not None:
        policy.require_node_certificate(node, node_name)
    else:
        policy.require_node_agent(current_identity(), controller_uid=os.getuid())
