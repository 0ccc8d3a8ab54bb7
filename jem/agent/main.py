"""The agent process: serve AgentService, register, heartbeat, report, shut down cleanly.

`jem agent --controller ADDR --name NODE` lands in `serve`. At start it takes
over the jobs a predecessor left (they outlive an agent that dies: see
`running.py`). The agent keeps trying to reach the controller (it may start
first, or restart); when a heartbeat says the controller does not know it, it
registers again under a new node epoch, telling the controller which runs it
still holds. On SIGTERM it kills its jobs (reported as ended by node
shutdown), delivers the reports, and exits.
"""

import logging
import os
import signal
import socket
import threading
import uuid
from concurrent import futures
from dataclasses import dataclass

import grpc

from jem.agent.cgroups import open_cgroups
from jem.agent.health import HealthCheck
from jem.agent.metrics import AgentMetrics, AgentMetricsEndpoint
from jem.agent.reporter import Reporter
from jem.agent.resources import detect_capacity, detect_cgroup_mode, gpu_device_files
from jem.agent.running import RunningJobs
from jem.agent.spool import checked_spool_dir, node_spool_path
from jem.agent.service import AgentServicer
from jem.agent.trust import ControllerCallInterceptor, ControllerTrust
from jem.agent.steps import StepTasks
from jem.convert import report_to_pb, resources_to_pb, runs_from_pb, runs_to_pb
from jem.grpcprobes import Probes
from jem.model import defaults
from jem.model.clientconfig import load_client_config
from jem.model.errors import Unauthenticated
from jem.model.execution import JobReport
from jem.model.resources import Resources
from jem.model.config import is_loopback_listen
from jem.httpserve import server_tls
from jem.security import tls
from jem.security.ca import cert_paths
from jem.security.authd import fetch_token
from jem.security.keys import PublicKeySet
from jem.security.revocation import RevocationList
from jem.security.signatures import UnsignedWork
from jem.security.tokens import AUD_API, PersistentReplayLog, verify_claims
from jem.v1 import agent_pb2, agent_pb2_grpc

log = logging.getLogger(__name__)

RPC_TIMEOUT_S = 10.0
SHUTDOWN_KILL_WAIT_S = 2


@dataclass(frozen=True)
class AgentOptions:
    controller: str
    name: str
    capacity: Resources
    listen: str = "127.0.0.1:0"
    spool_dir: str = ""
    cgroup_mode: str = "auto"          # auto, v2, v1 or none
    cgroup_root: str = "/sys/fs/cgroup"
    cgroup_name: str = "jem"           # job cgroups live in <root>/<name>/<node>/job_<id>
    health_check: str = ""             # program run every health_interval_s; failure drains the node
    health_interval_s: float = 60.0
    gpu_devices: tuple[str, ...] | None = None   # device file of each GPU; None: /dev/nvidiaN
    security_dir: str = defaults.SECURITY_DIR   # controller-keys/: the controller's public keys
    authd_socket: str = ""             # this host's credential service; "": the client config's
    unsigned_jobs: UnsignedWork = UnsignedWork.REFUSE   # work its user did not sign (submitted with a JWT)
    metrics_listen: str = ""           # HOST:PORT of the node's metrics (jem.agent.metrics); "": none
    metrics_anonymous: bool = False    # serve the metrics to callers with no token


def default_options_capacity(cpus: int | None, mem_mib: int | None, gpus: int | None) -> Resources:
    """The machine's resources, with any declared figure taking precedence."""
    found = detect_capacity()
    return Resources(cpus=cpus if cpus is not None else found.cpus,
                     mem_mib=mem_mib if mem_mib is not None else found.mem_mib,
                     gpus=gpus if gpus is not None else found.gpus)


class Agent:
    def __init__(self, options: AgentOptions):
        self.options = options
        self.boot_id = uuid.uuid4().hex
        self.cgroup_mode = detect_cgroup_mode(options.cgroup_root)
        self.cgroups = _open_cgroups(options)
        self.gpu_isolation = self.cgroups.gpu_isolation if self.cgroups is not None else "none"
        self._authd_socket = options.authd_socket or load_client_config().authd_socket
        self._cert_name = f"nodes/{options.name}"
        self.has_tls = tls.has_certificate(options.security_dir, self._cert_name)
        # With TLS the controller's node port: this node's certificate is who we are. Without
        # (a loopback personal cluster), its one port and a root token from the credential service.
        self._channel = (grpc.secure_channel(options.controller,
                                             tls.channel_credentials(options.security_dir, self._cert_name))
                         if self.has_tls else grpc.insecure_channel(options.controller))
        self._controller = agent_pb2_grpc.NodeServiceStub(self._channel)
        spool = checked_spool_dir(options.spool_dir or node_spool_path(options.name))   # before anything uses it
        self.reporter = Reporter(self._send_reports, keep_dir=os.path.join(spool, "reports"))
        self.jobs = RunningJobs(node_name=options.name, spool_dir=spool, report=self.reporter.put,
                                n_cpus=options.capacity.cpus, n_gpus=options.capacity.gpus,
                                gpu_devices=options.gpu_devices if options.gpu_devices is not None
                                else gpu_device_files(), cgroups=self.cgroups)
        self.health = (HealthCheck(options.health_check, interval_s=options.health_interval_s)
                       if options.health_check else None)
        # A step's task stream holds a worker for the step's duration.
        self.steps = StepTasks(node_name=options.name, jobs=self.jobs)
        self.trust = ControllerTrust(PublicKeySet(os.path.join(options.security_dir, "controller-keys")),
                                     user_keys=PublicKeySet(os.path.join(options.security_dir, "authd-keys")),
                                     unsigned=options.unsigned_jobs, node_name=options.name,
                                     launch_log=PersistentReplayLog(os.path.join(spool, "launch-credentials.log")),
                                     journal_dir=spool)
        # A launch carries the job's script and environment, which may exceed gRPC's default 4 MiB.
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=64, thread_name_prefix="agent-rpc"),
                                   interceptors=[ControllerCallInterceptor(self.trust)],
                                   options=[("grpc.max_receive_message_length", defaults.MAX_MESSAGE_BYTES)])
        self.metrics = AgentMetrics(options.capacity, self.jobs.cgroup_usages)
        self._metrics_endpoint: AgentMetricsEndpoint | None = None
        self._spool = spool
        agent_pb2_grpc.add_AgentServiceServicer_to_server(
            AgentServicer(self.jobs, self.steps, self.trust, require_controller_cert=self.has_tls,
                          revocations=RevocationList(options.security_dir),
                          launch_seconds=self.metrics.launch_seconds), self._server)
        self.probes = Probes([agent_pb2.DESCRIPTOR.services_by_name["AgentService"].full_name])
        self.probes.add_to(self._server)   # health and reflection (grpcurl, probes), no token needed
        self._stopping = threading.Event()
        self._heartbeat_interval_s = 5.0
        self.address = ""

    def start(self) -> None:
        host = self.options.listen.rpartition(":")[0]
        if self.has_tls:   # mutual TLS: only holders of a cluster certificate connect (the servicer wants the controller's)
            port = self._server.add_secure_port(self.options.listen, tls.server_credentials(
                self.options.security_dir, self._cert_name, require_client_cert=True))
        elif not is_loopback_listen(self.options.listen):
            raise OSError(f"--listen {self.options.listen} is not a loopback address, and off loopback the agent "
                          f"requires TLS: no certificate {self._cert_name}.crt in {self.options.security_dir} "
                          f"(make one with `jem ca issue-node {self.options.name}`)")
        else:
            port = self._server.add_insecure_port(self.options.listen)
        if port == 0:
            raise OSError(f"cannot listen on {self.options.listen}")
        self.address = f"{advertised_host(host, self.options.controller)}:{port}"
        self._server.start()
        if self.options.metrics_listen:
            self._start_metrics()
        self.reporter.start()
        log.info("agent serving node=%s address=%s cgroup_layout=%s cgroups=%s cpus=%d mem_mib=%d gpus=%d "
                 "gpu_isolation=%s", self.options.name, self.address, self.cgroup_mode,
                 self.cgroups.mode if self.cgroups else "none (no enforcement)", self.options.capacity.cpus,
                 self.options.capacity.mem_mib, self.options.capacity.gpus, self.gpu_isolation)
        if self.options.capacity.gpus and self.gpu_isolation == "none":
            log.warning("GPUs are not isolated: jobs see only their CUDA_VISIBLE_DEVICES but can open any GPU (%s)",
                        self.cgroups.device_isolation_error if self.cgroups is not None else "no cgroups")
        left = self.jobs.recover()   # before the first registration, which lists what it holds
        if left:
            log.warning("took over the jobs a previous agent left %s",
                        " ".join(f"{r.fate.name.lower()}={r.job_id}" for r in left))
        if self.health is not None:
            self.health.run_once()
            self.health.start()
        if os.geteuid() != 0:
            log.warning("agent is not root: it runs jobs only for uid %d", os.getuid())
        threading.Thread(target=self._heartbeat_loop, name="heartbeat", daemon=True).start()

    def _start_metrics(self) -> None:
        """The node's metrics endpoint (jem.agent.metrics); its address in <spool>/metrics.addr."""
        listen = self.options.metrics_listen
        if not self.has_tls and not is_loopback_listen(listen):
            raise OSError(f"--metrics-listen {listen} is not a loopback address, and off loopback the metrics "
                          f"require TLS: no certificate {self._cert_name}.crt in {self.options.security_dir}")
        context = None
        if self.has_tls:
            paths = cert_paths(self.options.security_dir, self._cert_name)
            context = server_tls(paths.cert, paths.key)
        keys = PublicKeySet(os.path.join(self.options.security_dir, "controller-keys"))
        self._metrics_endpoint = AgentMetricsEndpoint(
            listen, self.metrics, verify=lambda token: verify_claims(token, keys, audience=AUD_API),
            anonymous=self.options.metrics_anonymous, tls=context)
        self._metrics_endpoint.start()
        path = os.path.join(self._spool, "metrics.addr")
        with open(path + ".tmp", "w") as f:
            f.write(self._metrics_endpoint.address + "\n")
        os.replace(path + ".tmp", path)
        log.info("agent metrics serving node=%s address=%s", self.options.name, self._metrics_endpoint.address)

    def stop(self) -> None:
        """Kill running jobs, deliver their reports (briefly), stop serving."""
        self._stopping.set()
        if self._metrics_endpoint is not None:
            self._metrics_endpoint.stop()
        self.probes.stop_serving()
        self.jobs.shut_down(kill_wait_s=SHUTDOWN_KILL_WAIT_S)
        self.jobs.wait_all(SHUTDOWN_KILL_WAIT_S + 3)
        if not self.reporter.flush(timeout_s=3):
            log.warning("agent stopping with undelivered reports job_ids=%s", self.reporter.unreported_ids())
        self.reporter.stop()
        if self.health is not None:
            self.health.stop()
        self.jobs.close()
        if self.cgroups is not None:
            self.cgroups.remove_base()
        self._server.stop(grace=1).wait()
        self._channel.close()

    def _metadata(self) -> tuple[tuple[str, str], ...]:
        """Without TLS, a fresh single-use token from this host's credential service (the agent
        is root); with it, nothing: the node certificate speaks for the agent."""
        if self.has_tls:
            return ()
        return (("jem-token", fetch_token(self._authd_socket)),)

    def _register(self) -> None:
        epoch, runs = self.jobs.begin_registration()   # what runs, then what ended: a job is in one or the other
        unreported = self.reporter.unreported_runs()
        response = self._controller.RegisterNode(agent_pb2.RegisterNodeRequest(
            name=self.options.name, agent_address=self.address, capacity=resources_to_pb(self.options.capacity),
            running_job_ids=[job_id for job_id, _ in runs + unreported], runs=runs_to_pb(runs),
            unreported_runs=runs_to_pb(unreported), epoch=epoch,
            cgroup_mode=self.cgroup_mode, boot_id=self.boot_id, gpu_isolation=self.gpu_isolation,
        ), timeout=RPC_TIMEOUT_S, metadata=self._metadata())
        self._heartbeat_interval_s = float(response.heartbeat_interval_s or 5)
        log.info("registered node=%s controller=%s epoch=%d", self.options.name, self.options.controller, epoch)

    def _heartbeat_loop(self) -> None:
        registered = False
        while not self._stopping.is_set():
            try:
                if not registered:
                    self._register()
                    registered = True
                else:
                    registered = self._heartbeat()
            except grpc.RpcError as exc:
                if registered:
                    log.warning("controller unreachable controller=%s code=%s", self.options.controller, exc.code().name)
                registered = False
                self._stopping.wait(1.0)
                continue
            except Unauthenticated as exc:   # no credential service (yet): the controller would refuse us
                log.warning("no credential for the controller: %s", exc.detail)
                registered = False
                self._stopping.wait(1.0)
                continue
            if registered:
                self._stopping.wait(self._heartbeat_interval_s)

    def _heartbeat(self) -> bool:
        self.jobs.retry_cgroups()
        runs = self.jobs.held_runs()
        unreported = self.reporter.unreported_runs()
        response = self._controller.Heartbeat(agent_pb2.HeartbeatRequest(
            name=self.options.name, running_job_ids=[job_id for job_id, _ in runs], boot_id=self.boot_id,
            unreported_job_ids=[job_id for job_id, _ in unreported], runs=runs_to_pb(runs),
            unreported_runs=runs_to_pb(unreported),
            health_error=self.health.error if self.health is not None else "",
        ), timeout=RPC_TIMEOUT_S, metadata=self._metadata())
        # A controller that names runs kills exactly those; an older one names jobs.
        orphans = (runs_from_pb(response.orphan_runs) if response.orphan_runs
                   else [(job_id, None) for job_id in response.orphan_job_ids])
        for job_id, run in orphans:
            log.warning("killing orphan job job_id=%d run=%s", job_id, run)
            self.jobs.signal(job_id, 0, kill_wait_s=SHUTDOWN_KILL_WAIT_S, restart_count=run)
        return response.is_registered

    def _send_reports(self, reports: list[JobReport]) -> None:
        self._controller.ReportJobEvents(agent_pb2.ReportJobEventsRequest(
            name=self.options.name, reports=[report_to_pb(r) for r in reports],
        ), timeout=RPC_TIMEOUT_S, metadata=self._metadata())




def advertised_host(listen_host: str, controller: str) -> str:
    """The address the controller can reach this agent at: the listen host, or for a wildcard
    (0.0.0.0, ::) this host's address on the route to the controller (a UDP connect sends nothing)."""
    if listen_host.strip("[]") not in ("0.0.0.0", "::", ""):
        return listen_host
    controller_host = controller.rpartition(":")[0].strip("[]")
    family = socket.AF_INET6 if ":" in controller_host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.connect((controller_host, 9))
        local = s.getsockname()[0]
    return f"[{local}]" if family == socket.AF_INET6 else local


def _open_cgroups(options: AgentOptions):
    """The node's job cgroups, or None (with the reason logged) where there are none."""
    if options.cgroup_mode != "none" and os.geteuid() != 0:
        log.warning("agent is not root: jobs run without cgroups (no memory or CPU enforcement)")
        return None
    try:
        return open_cgroups(options.cgroup_mode, root=options.cgroup_root,
                            name=f"{options.cgroup_name}/{options.name}")
    except OSError as exc:
        raise OSError(f"cannot use cgroups ({options.cgroup_mode}) under {options.cgroup_root}: {exc}") from None


def serve(options: AgentOptions) -> None:
    """Run an agent until SIGTERM or SIGINT."""
    agent = Agent(options)
    agent.start()
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    stopping.wait()
    log.info("agent stopping node=%s", options.name)
    agent.stop()
