"""gRPC links from the controller to node agents: launch, signal and suspend jobs, run step tasks.

Calls are asynchronous (futures) so the scheduling loop never waits on an
agent; a failed launch is handed to the caller's `on_error`. A failure does not say
whether the agent started the jobs (UNAVAILABLE covers both "never connected"
and "connection lost mid-call"), so the callback must not simply requeue them.

Each launch is stamped with the node epoch of the node's latest registration
(`note_registration`), and names its run (restart count): the agent's fencing
token. A launch is stamped when it is sent, right after its start was
committed: a registration that came in between cannot have settled the job as
lost (it started less than `launch_grace_s` ago), so the new epoch is right for it.
"""

import logging
import threading
from typing import Callable

import grpc

from jem.controller.credentials import ControllerKeys
from jem.convert import SCOPE_TO_PB, launch_to_pb, task_order_to_pb
from jem.security import tls
from jem.security.digest import step_spec_digest
from jem.model.execution import Launch, SignalScope
from jem.model.states import JobEvent
from jem.model.step import TaskOrder
from jem.v1 import agent_pb2, agent_pb2_grpc

log = logging.getLogger(__name__)

RPC_TIMEOUT_S = 10.0
USAGE_TIMEOUT_S = 3.0      # sstat: a node that does not answer in time is left out

# Why a kill is sent, as the agent's stderr line says it (`*** JOB N ... CANCELLED AT t DUE TO ... ***`).
_KILL_CAUSES = {JobEvent.CANCEL: agent_pb2.KILL_CAUSE_CANCEL, JobEvent.PREEMPT: agent_pb2.KILL_CAUSE_PREEMPTION,
                JobEvent.NODE_FAIL: agent_pb2.KILL_CAUSE_NODE_FAILURE, JobEvent.REQUEUE: agent_pb2.KILL_CAUSE_REQUEUE}

LaunchErrorCallback = Callable[[str, str, list[int], str], None]


class AgentLinks:
    """One channel per agent address, reused across calls. Every call carries a fresh
    single-use token of the controller's key, every launch and step order its credential."""

    def __init__(self, keys: ControllerKeys):
        self._keys = keys
        # Mutual TLS to agents when the controller holds a certificate of the cluster CA: the
        # agent's certificate must be issued to the node the call is for.
        self._tls = (tls.channel_credentials(keys.security_dir, "controller")
                     if tls.has_certificate(keys.security_dir, "controller") else None)
        self._lock = threading.Lock()
        self._stubs: dict[str, agent_pb2_grpc.AgentServiceStub] = {}
        self._channels: dict[str, grpc.Channel] = {}
        self._epochs: dict[str, int] = {}   # node name -> the epoch of its latest registration
        self._in_flight = 0                 # orders sent and not yet answered (sdiag's agent count)
        self._errors: dict[tuple[str, str], int] = {}   # (method, status code) -> orders that failed

    @property
    def in_flight(self) -> int:
        """Orders (launch, signal, suspend) sent to agents and not yet answered."""
        with self._lock:
            return self._in_flight

    def _track(self, future: grpc.Future, method: str) -> None:
        with self._lock:
            self._in_flight += 1

        def answered(f: grpc.Future) -> None:
            error = None if f.cancelled() else f.exception()
            code = (error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN) if error else None
            with self._lock:
                self._in_flight -= 1
                if code is not None:
                    self._errors[method, code.name] = self._errors.get((method, code.name), 0) + 1

        future.add_done_callback(answered)

    def error_counts(self) -> dict[tuple[str, str], int]:
        """(method, status code name) -> how many orders to agents failed so (the metrics)."""
        with self._lock:
            return dict(self._errors)

    def note_registration(self, node_name: str, epoch: int) -> None:
        """The node's agent registered under `epoch`: later launches and step orders there carry it."""
        with self._lock:
            self._epochs[node_name] = epoch

    def epoch(self, node_name: str) -> int:
        """The epoch of the node's latest registration (0: none heard since this controller started)."""
        with self._lock:
            return self._epochs.get(node_name, 0)

    def _stub(self, node_name: str, address: str) -> agent_pb2_grpc.AgentServiceStub:
        key = f"{node_name}@{address}"
        with self._lock:
            stub = self._stubs.get(key)
            if stub is None:
                channel = (grpc.secure_channel(address, self._tls, options=[tls.target_name_override(node_name)])
                           if self._tls is not None else grpc.insecure_channel(address))
                self._channels[key] = channel
                stub = self._stubs[key] = agent_pb2_grpc.AgentServiceStub(channel)
            return stub

    def launch(self, node_name: str, address: str, launches: list[Launch], *, on_error: LaunchErrorCallback) -> None:
        """Send `launches` to the agent; if the call fails, `on_error(node, address, job ids, why)` runs."""
        epoch = self.epoch(node_name)
        request = agent_pb2.LaunchJobsRequest(launches=[self._launch_pb(launch, epoch) for launch in launches])
        job_ids = [launch.job_id for launch in launches]
        future = self._stub(node_name, address).LaunchJobs.future(request, timeout=RPC_TIMEOUT_S,
                                                       metadata=self._keys.agent_call_metadata())
        self._track(future, "LaunchJobs")

        def done(f: grpc.Future) -> None:
            error = f.exception()
            if error is not None:
                code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
                detail = error.details() if isinstance(error, grpc.Call) else str(error)
                log.warning("launch failed node=%s job_ids=%s code=%s detail=%s", node_name, job_ids, code.name, detail)
                on_error(node_name, address, job_ids, f"launch failed: {code.name}: {detail}")

        future.add_done_callback(done)

    def signal(self, node_name: str, address: str, job_id: int, *, signal: int, kill_wait_s: int,
               scope: SignalScope = SignalScope.FULL, restart_count: int | None = None,
               cause: JobEvent | None = None) -> None:
        """Send `signal` (0: kill) to the job on the node; `restart_count`: the run it is for
        (None: whichever runs there); `cause`: why a kill is sent (CANCEL, PREEMPT, NODE_FAIL,
        REQUEUE; None: not said), for the line the agent writes in the job's stderr."""
        request = agent_pb2.SignalJobRequest(job_id=job_id, signal=signal, kill_wait_s=kill_wait_s,
                                             scope=SCOPE_TO_PB[scope], restart_count=restart_count,
                                             cause=_KILL_CAUSES.get(cause, agent_pb2.KILL_CAUSE_UNSPECIFIED))
        future = self._stub(node_name, address).SignalJob.future(request, timeout=RPC_TIMEOUT_S,
                                                      metadata=self._keys.agent_call_metadata())
        self._track(future, "SignalJob")

        def done(f: grpc.Future) -> None:
            error = f.exception()
            if error is not None and not (isinstance(error, grpc.Call) and error.code() == grpc.StatusCode.NOT_FOUND):
                log.warning("signal failed node=%s job_id=%d signal=%d error=%s", node_name, job_id, signal, error)

        future.add_done_callback(done)

    def suspend(self, node_name: str, address: str, job_id: int, *, resume: bool, restart_count: int) -> None:
        """Freeze (or thaw, `resume`) run `restart_count` of the job on the node (its processes
        there, step tasks included). Asynchronous; a failure is logged: the node's agent that
        missed a suspend goes on running the job (its state says SUSPENDED), one that missed a
        resume keeps it frozen until it is killed, as Slurm's slurmd would."""
        request = agent_pb2.SuspendRunRequest(job_id=job_id, restart_count=restart_count, resume=resume)
        future = self._stub(node_name, address).SuspendRun.future(request, timeout=RPC_TIMEOUT_S,
                                                       metadata=self._keys.agent_call_metadata())
        self._track(future, "SuspendRun")

        def done(f: grpc.Future) -> None:
            error = f.exception()
            if error is not None and not (isinstance(error, grpc.Call) and error.code() == grpc.StatusCode.NOT_FOUND):
                log.warning("%s failed node=%s job_id=%d error=%s", "resume" if resume else "suspend", node_name,
                            job_id, error)

        future.add_done_callback(done)

    def set_time_limit(self, node_name: str, address: str, job_id: int, *, time_limit_s: int | None,
                       restart_count: int) -> None:
        """Give run `restart_count` of the job on the node (its batch node, which enforces the
        limit) the time limit `time_limit_s` (None: none). Asynchronous; a failure is logged: the
        agent that missed it holds the run to its earlier limit."""
        request = agent_pb2.SetTimeLimitRequest(job_id=job_id, restart_count=restart_count,
                                                time_limit_s=time_limit_s or 0)
        future = self._stub(node_name, address).SetTimeLimit.future(request, timeout=RPC_TIMEOUT_S,
                                                         metadata=self._keys.agent_call_metadata())
        self._track(future, "SetTimeLimit")

        def done(f: grpc.Future) -> None:
            error = f.exception()
            if error is not None and not (isinstance(error, grpc.Call) and error.code() == grpc.StatusCode.NOT_FOUND):
                log.warning("time limit change failed node=%s job_id=%d error=%s", node_name, job_id, error)

        future.add_done_callback(done)

    def run_usage(self, node_name: str, address: str, job_id: int, *, restart_count: int,
                  timeout_s: float = USAGE_TIMEOUT_S) -> grpc.Future:
        """Ask the node for what the job's run and step tasks there have used so far (sstat): a
        future of GetRunUsageResponse. Call it outside the state lock and wait at most `timeout_s`."""
        request = agent_pb2.GetRunUsageRequest(job_id=job_id, restart_count=restart_count)
        return self._stub(node_name, address).GetRunUsage.future(request, timeout=timeout_s,
                                                                 metadata=self._keys.agent_call_metadata())

    def run_step_tasks(self, node_name: str, address: str, order: TaskOrder):
        """Start a step's tasks on one node: the streaming call (iterate it for
        StepTasksResponse messages; `cancel()` kills the tasks). No timeout: a step
        runs as long as its tasks do."""
        pb = task_order_to_pb(order)
        pb.credential = self._keys.step_credential(job_id=order.job_id, step_id=order.step_id, uid=order.uid,
                                                   gid=order.gid, nodes=order.step_nodes,
                                                   digest=step_spec_digest(order.spec))
        return self._stub(node_name, address).RunStepTasks(pb, metadata=self._keys.agent_call_metadata())

    def _launch_pb(self, launch: Launch, epoch: int) -> agent_pb2.JobLaunch:
        pb = launch_to_pb(launch)
        pb.credential = self._keys.launch_credential(launch)
        pb.node_epoch = epoch
        return pb

    def close(self) -> None:
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()
            self._stubs.clear()
