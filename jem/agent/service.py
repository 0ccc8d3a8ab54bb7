"""AgentService servicer: the controller's launch and signal requests."""

import grpc

from jem.agent.running import RunningJobs
from jem.convert import launch_from_pb
from jem.v1 import agent_pb2, agent_pb2_grpc


class AgentServicer(agent_pb2_grpc.AgentServiceServicer):
    def __init__(self, jobs: RunningJobs):
        self._jobs = jobs

    def LaunchJobs(self, request, context):
        accepted = []
        for launch_pb in request.launches:
            self._jobs.launch(launch_from_pb(launch_pb))
            accepted.append(launch_pb.job_id)
        return agent_pb2.LaunchJobsResponse(accepted_job_ids=accepted)

    def SignalJob(self, request, context):
        n = self._jobs.signal(request.job_id, request.signal, kill_wait_s=request.kill_wait_s)
        if n is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"job {request.job_id} does not run here")
        return agent_pb2.SignalJobResponse(n_processes=n)
