"""AgentService servicer: the controller's launch, signal and step requests.

Calls reach it only through `trust.ControllerCallInterceptor` (a valid
controller token); each launch and step order is checked against its own
credential before anything runs: a bad controller credential refuses the
whole call (UNAUTHENTICATED: whoever sent it is not the controller). Work
whose user signature does not verify came from the controller all the same
(a JWT submission, or a controller that was misled): it is reported as a
launch failure, or its tasks as failed to start, so the node stays up. A step
order for a run of its job this node no longer holds, or sent under an earlier
node epoch, is then refused FAILED_PRECONDITION, reason StaleRun (`fencing.py`).
"""

import logging
import time

import grpc

from jem.agent.joblog import KillReason
from jem.agent.trust import ControllerTrust
from jem.model.errors import BadUserSignature, JemError, StaleRun
from jem.security import tls
from jem.security.revocation import RevocationList
from jem.agent.running import RunningJobs
from jem.agent.steps import StepTasks
from jem.convert import (audit_summary, launch_from_pb, scope_from_pb, task_exit_to_pb, task_order_from_pb,
                         task_output_to_pb, task_usage_to_pb)
from jem.model.execution import SignalScope
from jem.model.step import TaskExit
from jem.model.stepusage import BATCH_STEP, TaskUsage
from jem.v1 import agent_pb2, agent_pb2_grpc, steps_pb2

audit_log = logging.getLogger("jem.audit")

# The words of the stderr line for each cause the controller gives (joblog.py).
_KILL_REASONS = {
    agent_pb2.KILL_CAUSE_UNSPECIFIED: KillReason.CANCEL, agent_pb2.KILL_CAUSE_CANCEL: KillReason.CANCEL,
    agent_pb2.KILL_CAUSE_PREEMPTION: KillReason.PREEMPTION, agent_pb2.KILL_CAUSE_NODE_FAILURE: KillReason.NODE_FAILURE,
    agent_pb2.KILL_CAUSE_REQUEUE: KillReason.REQUEUE,
}


def _audit(context, method: str, request, result: str, detail: str = "") -> None:
    """The agent's audit line for a controller request (the controller's trail has the user's):
    from where, what (a summary: never a script, an environment or a credential), what came of it."""
    audit_log.info("audit principal=controller peer=%s method=%s result=%s request=%r detail=%r",
                   context.peer() or "", method, result, audit_summary(request), detail)


def _refuse(context, exc: JemError) -> None:
    """End the call with `exc`'s status code and its reason in the trailing metadata
    `jem-reason`, which the controller reads (never the message)."""
    context.set_trailing_metadata((("jem-reason", exc.reason),))
    context.abort(getattr(grpc.StatusCode, exc.grpc_code), str(exc))


class AgentServicer(agent_pb2_grpc.AgentServiceServicer):
    def __init__(self, jobs: RunningJobs, steps: StepTasks, trust: ControllerTrust, *, require_controller_cert: bool,
                 revocations: RevocationList, launch_seconds=None):
        self._launch_seconds = launch_seconds   # a Histogram: each launch's time from its order's arrival
        self._jobs = jobs
        self._steps = steps
        self._trust = trust
        self._require_controller_cert = require_controller_cert
        self._revocations = revocations

    def _check_peer(self, context) -> None:
        """Under mutual TLS the caller's certificate must be the controller's (not another node's),
        and not revoked by the CA (`ca.crl`)."""
        if self._require_controller_cert:
            role = tls.peer_role(context)
            if role is None or not role.is_controller:
                context.abort(grpc.StatusCode.PERMISSION_DENIED,
                              "Access/permission denied: only the controller's certificate may call an agent")
            if self._revocations.is_revoked(tls.peer_certificate(context)):
                context.abort(grpc.StatusCode.PERMISSION_DENIED,
                              "Access/permission denied: the controller's certificate is revoked")

    def LaunchJobs(self, request, context):
        t_arrived = time.perf_counter()
        self._check_peer(context)
        launches = [launch_from_pb(pb) for pb in request.launches]
        try:   # every credential first: a batch with one bad credential starts nothing
            self._trust.check_launches([(launch, pb.credential) for launch, pb in zip(launches, request.launches)])
        except JemError as exc:
            _audit(context, "LaunchJobs", request, exc.reason, str(exc))
            context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
        accepted = []
        for launch, pb in zip(launches, request.launches):
            try:
                self._trust.check_launch_signature(launch)
            except BadUserSignature as exc:
                self._jobs.refuse(launch, str(exc))
            else:
                if not self._jobs.launch(launch, epoch=pb.node_epoch):
                    continue   # stale (an earlier run or epoch): not run, and not accepted
                if self._launch_seconds is not None:
                    self._launch_seconds.observe(time.perf_counter() - t_arrived)
            accepted.append(launch.job_id)
        _audit(context, "LaunchJobs", request, "ok", f"accepted {accepted}")
        return agent_pb2.LaunchJobsResponse(accepted_job_ids=accepted)

    def SignalJob(self, request, context):
        self._check_peer(context)
        scope = scope_from_pb(request.scope)
        run = request.restart_count if request.HasField("restart_count") else None
        n = self._jobs.signal(request.job_id, request.signal, kill_wait_s=request.kill_wait_s, scope=scope,
                              restart_count=run, reason=_KILL_REASONS.get(request.cause, KillReason.CANCEL))
        # The job's step tasks here: all of a STEPS signal's targets; for FULL, those outside the
        # batch script's cgroup (on its node, signal_all above reached them already).
        if request.signal and (scope is SignalScope.STEPS or (scope is SignalScope.FULL and n is None)):
            n_tasks = self._steps.signal(request.job_id, request.signal)
            if n_tasks is not None:
                n = (n or 0) + n_tasks
        if n is None:
            _audit(context, "SignalJob", request, "JobNotFound")
            context.abort(grpc.StatusCode.NOT_FOUND, f"job {request.job_id} does not run here")
        _audit(context, "SignalJob", request, "ok", f"{n} processes")
        return agent_pb2.SignalJobResponse(n_processes=n)

    def SuspendRun(self, request, context):
        """Freeze or thaw the run here: the batch script's cgroup (its steps' tasks on this node
        with it), and the job's step tasks that run outside it."""
        self._check_peer(context)
        run = request.restart_count if request.HasField("restart_count") else None
        suspended_s = self._jobs.suspend(request.job_id, restart_count=run, resume=request.resume)
        has_steps = self._steps.suspend(request.job_id, resume=request.resume)
        if suspended_s is None and not has_steps:
            _audit(context, "SuspendRun", request, "JobNotFound")
            context.abort(grpc.StatusCode.NOT_FOUND, f"job {request.job_id} does not run here")
        _audit(context, "SuspendRun", request, "ok")
        return agent_pb2.SuspendRunResponse(suspended_s=suspended_s or 0.0)

    def SetTimeLimit(self, request, context):
        """Give the run here a new time limit (0: none); its timer is set again (`RunningJobs.set_time_limit`)."""
        self._check_peer(context)
        run = request.restart_count if request.HasField("restart_count") else None
        is_expired = self._jobs.set_time_limit(request.job_id, restart_count=run,
                                               time_limit_s=request.time_limit_s or None)
        if is_expired is None:
            _audit(context, "SetTimeLimit", request, "JobNotFound")
            context.abort(grpc.StatusCode.NOT_FOUND, f"job {request.job_id} does not run here")
        _audit(context, "SetTimeLimit", request, "ok", "expired" if is_expired else "")
        return agent_pb2.SetTimeLimitResponse(is_expired=is_expired)

    def GetRunUsage(self, request, context):
        """The batch script's usage so far (if the run's script runs here) and each of the job's
        step tasks' here, each task measured on its own (its process tree)."""
        self._check_peer(context)
        run = request.restart_count if request.HasField("restart_count") else None
        batch = self._jobs.usage_so_far(request.job_id, restart_count=run)
        rows = [] if batch is None or not batch.pids else [(BATCH_STEP, 0, batch)]
        rows += self._steps.usage_so_far(request.job_id)
        if batch is None and not rows:
            context.abort(grpc.StatusCode.NOT_FOUND, f"job {request.job_id} does not run here")
        return agent_pb2.GetRunUsageResponse(tasks=[
            task_usage_to_pb(TaskUsage(step_id=step_id, task_id=task_id, node="", cpu_us=u.cpu_us, rss_kib=u.rss_kib,
                                       max_rss_kib=u.max_rss_kib, vmsize_kib=u.vmsize_kib,
                                       max_vmsize_kib=u.max_vmsize_kib, pages=u.pages, read_bytes=u.read_bytes,
                                       write_bytes=u.write_bytes, pids=u.pids))
            for step_id, task_id, u in rows])

    def RunStepTasks(self, request, context):
        self._check_peer(context)
        order = task_order_from_pb(request)
        try:
            self._trust.check_step_order(order, request.credential)
        except JemError as exc:
            _audit(context, "RunStepTasks", request, exc.reason, str(exc))
            context.abort(grpc.StatusCode.UNAUTHENTICATED, str(exc))
        try:
            self._trust.check_step_signature(order)
        except BadUserSignature as exc:
            _audit(context, "RunStepTasks", request, exc.reason, str(exc))
            for task_id in order.task_ids:
                yield steps_pb2.StepTasksResponse(exit=task_exit_to_pb(
                    TaskExit(task_id, self._trust.node_name, exit_code=1, launch_error=str(exc))))
            return
        try:   # fenced by the job's run and the node's epoch: an order for a run over here starts nothing
            events = self._steps.run(order, context.is_active)
        except StaleRun as exc:
            _audit(context, "RunStepTasks", request, exc.reason, str(exc))
            _refuse(context, exc)
        _audit(context, "RunStepTasks", request, "ok")
        for event in events:
            if isinstance(event, TaskExit):
                yield steps_pb2.StepTasksResponse(exit=task_exit_to_pb(event))
            else:
                yield steps_pb2.StepTasksResponse(output=task_output_to_pb(event))
