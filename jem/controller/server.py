"""The controller process: open the store, rebuild state, serve gRPC, run the loop.

`jem controller --config jem.toml` lands in `main`. On start the controller
reloads every job not ended (and recently ended ones) from the store and
re-derives node allocations from the live jobs; agents re-register on their
next heartbeat and reconciliation settles the rest. It writes its address to
`<state_dir>/controller.addr` once it serves, for clients and `jem up`, and
the agents' address to `<state_dir>/node.addr`.

Two ports when the controller has its TLS certificate: `cluster.listen` for
users, portals and tools (server-authenticated TLS, callers prove who they
are with a token: JobService, AdminService), and `cluster.node_listen` for
agents (mutual TLS, NodeService alone, the caller is the node its
certificate names). python grpc cannot ask for a client certificate without
requiring one (`jem.security.tls`), hence two ports. Without a certificate
(loopback only) one plaintext port serves all three, node calls as root.
"""

import fcntl
import logging
import os
import signal
import sys
import threading
import time
from concurrent import futures

import grpc

from jem.controller import collector, crontab
from jem.controller.admin_service import AdminServicer
from jem.controller.accounting import AccountingBook
from jem.controller.agents import AgentLinks
from jem.controller.audit import AuditInterceptor, AuditLog
from jem.controller.authn import authenticators_for
from jem.controller.credentials import ControllerKeys
from jem.controller.fairuse import UNARY_RESERVE_THREADS, StreamSlots, SubmitRate
from jem.controller.interceptors import ErrorInterceptor, IdentityInterceptor, NodeCertificateInterceptor
from jem.controller.job_service import JobServicer, add_job_service
from jem.controller.metrics import ControllerMetrics
from jem.controller.metricsserver import MetricsEndpoint
from jem.controller.jobtable import JobTable
from jem.controller.loop import USAGE_FILE, SchedulingLoop, load_usage
from jem.controller.node_service import NodeServicer
from jem.controller.nodes import NodeTable
from jem.controller.notify import Notifier
from jem.controller.reservations import ReservationBook
from jem.controller.state import ClusterState
from jem.controller.stats import StatsInterceptor
from jem.controller.steptable import StepTable
from jem.controller.watch import EventBus
from jem.httpserve import server_tls
from jem.grpcprobes import Probes
from jem.model import defaults
from jem.model.clientconfig import client_config_text
from jem.model.config import Config, is_loopback_listen, node_listen_of
from jem.model.states import JobEvent
from jem.security import tls
from jem.security.ca import cert_paths
from jem.security.authd import SOCKET_NAME, AuthdPolicy, CredentialService
from jem.security.revocation import RevocationList
from jem.store import SqliteStore
from jem.v1 import admin_pb2, admin_pb2_grpc, agent_pb2, agent_pb2_grpc, jobs_pb2

log = logging.getLogger(__name__)

ADDRESS_FILE = "controller.addr"
METRICS_ADDRESS_FILE = "metrics.addr"   # the OpenMetrics endpoint's host:port, when [metrics] listen is set
NODE_ADDRESS_FILE = defaults.NODE_ADDRESS_FILE
REPLAY_JOURNAL = "token-replays.log"   # ids of the credential-service tokens accepted within their lifetime
MAX_RPC_THREADS = 256   # a WatchJobs or RunStep stream holds one for its whole life


def _end_lost_steps(store: SqliteStore, now: float) -> None:
    """Steps a previous controller was following when it stopped: their streams broke
    with it, so their agents killed the tasks. They end CANCELLED."""
    for step in store.running_steps():
        step.finish([], now=now, was_cancelled=True)
        store.save_step(step)


def _largest_request(config: Config) -> int:
    """What a user's request may weigh: a job at every bound of `[limits]`, with room for its
    other fields. Larger is refused by gRPC itself before anything reads it."""
    limits = config.limits
    return limits.max_script_size + limits.max_env_size + limits.max_args * 64 + (1 << 20)


class Controller:
    """A running controller: its state, its gRPC server and its scheduling loop."""

    def __init__(self, config: Config):
        self.config = config
        os.umask(0o077)   # the store, WAL, keys and logs hold every job's script and environment
        self.notifier = Notifier(config)   # (first: a webhook secret file it cannot use stops the start here)
        self.state_dir = config.cluster.state_dir or defaults.state_dir()
        _make_private_dir(self.state_dir)
        self._lock_file = _lock_state_dir(self.state_dir)
        self.keys = ControllerKeys(config.auth.security_dir or os.path.join(self.state_dir, "security"),
                                   with_authd_key=config.auth.serve_authd)
        self.run_dir = config.auth.run_dir or default_run_dir(self.state_dir)
        self.authd: CredentialService | None = None
        if config.auth.serve_authd:
            auth = config.auth
            self.authd = CredentialService(self.keys.authd_key, os.path.join(self.run_dir, SOCKET_NAME),
                                           policy=AuthdPolicy(token_lifetime_s=auth.token_lifetime_s,
                                                              job_signature_lifetime_s=auth.job_signature_lifetime_s,
                                                              cron_signature_lifetime_s=auth.cron_signature_lifetime_s))
        now = time.time()
        store = SqliteStore(os.path.join(self.state_dir, "jem.db"), synchronous=config.store.synchronous)
        store.save_partitions(config.partitions)
        bus = EventBus()
        bus.hand_commits_to(self.notifier.job_committed)
        bus.hand_commits_to(self._job_committed)
        usage_path = os.path.join(self.state_dir, USAGE_FILE)
        self.state = ClusterState(
            config=config, store=store, jobs=JobTable(store, bus), nodes=NodeTable(config, store), bus=bus,
            agents=AgentLinks(self.keys), steps=StepTable(store.next_step_id),
            usage=load_usage(usage_path, half_life_s=config.fairshare.half_life_s),
            submit_rate=SubmitRate(burst=config.limits.submit_rate_burst, per_s=config.limits.submit_rate_per_s),
            streams=StreamSlots(per_user=config.limits.max_streams_per_user,
                                total=MAX_RPC_THREADS - UNARY_RESERVE_THREADS),
            keys=self.keys, accounting=AccountingBook.load(store, config), reservations=ReservationBook(store),
        )
        _end_lost_steps(store, now)
        n_jobs = self.state.jobs.load(ended_after=now - config.scheduler.min_job_age_s)
        for job in self.state.jobs.live():
            self.state.nodes.allocate(job.nodes, job.shape.per_node, job.job_id, cpu_ids=job.cpu_ids,
                                      gpu_ids=job.gpu_ids, gres=job.spec.gres_per_node,
                                      is_exclusive=job.spec.exclusive)
        crontab.restore(self.state, now=now)
        log.info("state loaded jobs=%d live=%d state_dir=%s", n_jobs, len(self.state.jobs.live()), self.state_dir)
        self.loop = SchedulingLoop(self.state, usage_path=usage_path)
        self.audit = AuditLog(store, keep_days=config.cluster.audit_keep_days)
        self.identities = IdentityInterceptor(authenticators_for(
            config.auth, authd_keys=self.keys.authd_keys, controller_keys=self.keys.controller_keys,
            controller_uid=os.geteuid(), replay_journal=os.path.join(self.state_dir, REPLAY_JOURNAL)),
            config.admin_levels())
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=MAX_RPC_THREADS, thread_name_prefix="rpc"),
            interceptors=[ErrorInterceptor(), self.identities,
                          StatsInterceptor(self.state.stats, self.state.instruments.rpc_seconds),
                          AuditInterceptor(self.audit)],
            options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", _largest_request(config))],
        )
        add_job_service(JobServicer(self.state), self.server)
        admin_pb2_grpc.add_AdminServiceServicer_to_server(AdminServicer(self.state), self.server)
        self.has_tls = tls.has_certificate(self.keys.security_dir, "controller")
        self.node_server: grpc.Server | None = None
        if self.has_tls:
            self.node_server = grpc.server(
                futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="node-rpc"),
                interceptors=[ErrorInterceptor(), NodeCertificateInterceptor(RevocationList(self.keys.security_dir)),
                              AuditInterceptor(self.audit)],
                options=[("grpc.so_reuseport", 0)])
        agent_pb2_grpc.add_NodeServiceServicer_to_server(NodeServicer(self.state), self.node_server or self.server)
        # gRPC health checking and reflection on the port clients use (grpcurl, load balancers).
        served = [jobs_pb2.DESCRIPTOR.services_by_name["JobService"].full_name,
                  admin_pb2.DESCRIPTOR.services_by_name["AdminService"].full_name]
        if self.node_server is None:
            served.append(agent_pb2.DESCRIPTOR.services_by_name["NodeService"].full_name)
        self.probes = Probes(served)
        self.probes.add_to(self.server)
        self.address = ""
        self.node_address = ""
        self.metrics: MetricsEndpoint | None = None

    def _job_committed(self, seq: int, when: float, event: str, job) -> None:
        """A commit hook (under the lock: quick): a start's wait since submission, for the metrics."""
        if event == JobEvent.START.value and job.start_time is not None:
            default = self.config.default_partition
            self.state.instruments.queue_wait_seconds.labels(job.spec.partition or (default.name if default else "")) \
                .observe(max(job.start_time - job.submit_time, 0.0))

    def _start_metrics(self, has_tls: bool) -> None:
        """The OpenMetrics endpoint of [metrics] listen, TLS with the controller's certificate when it has one."""
        listen = self.config.metrics.listen
        if not has_tls and not is_loopback_listen(listen):
            raise OSError(f"metrics.listen {listen!r} is not a loopback address, and off loopback the metrics "
                          f"endpoint requires TLS: no controller certificate in {self.keys.security_dir}")
        context = None
        if has_tls:
            paths = cert_paths(self.keys.security_dir, "controller")
            context = server_tls(paths.cert, paths.key)
        self.metrics = MetricsEndpoint(listen, ControllerMetrics(self.state, self.state.instruments),
                                       identify=self.identities.identity_of, anonymous=self.config.metrics.anonymous,
                                       tls=context)
        self.metrics.start()
        _write_private(os.path.join(self.state_dir, METRICS_ADDRESS_FILE), self.metrics.address + "\n")

    def start(self) -> str:
        host, _, port = self.config.cluster.listen.rpartition(":")
        security_dir = self.keys.security_dir
        has_tls = self.has_tls
        if has_tls:   # server-authenticated TLS: scripts and environments never cross a network in clear
            bound = self.server.add_secure_port(
                self.config.cluster.listen, tls.server_credentials(security_dir, "controller", require_client_cert=False))
        elif not is_loopback_listen(self.config.cluster.listen):
            raise OSError(f"cluster.listen {self.config.cluster.listen!r} is not a loopback address, and a listen "
                          f"address off loopback requires TLS: no controller certificate in {security_dir} "
                          f"(make one with `jem ca issue-controller`; docs/security.md)")
        else:
            bound = self.server.add_insecure_port(self.config.cluster.listen)
        if bound == 0:
            raise OSError(f"cannot listen on {self.config.cluster.listen}")
        client_host = "127.0.0.1" if host in ("0.0.0.0", "[::]", "") else host
        self.address = self.node_address = f"{client_host}:{bound}"
        if self.node_server is not None:   # mutual TLS: a node's certificate or nothing
            node_listen = node_listen_of(self.config.cluster)
            node_bound = self.node_server.add_secure_port(
                node_listen, tls.server_credentials(security_dir, "controller", require_client_cert=True))
            if node_bound == 0:
                raise OSError(f"cannot listen on {node_listen} (cluster.node_listen)")
            node_host = node_listen.rpartition(":")[0]
            self.node_address = f"{'127.0.0.1' if node_host in ('0.0.0.0', '[::]', '') else node_host}:{node_bound}"
            self.node_server.start()
        self.server.start()
        if self.config.metrics.listen:
            self._start_metrics(has_tls)
        if self.authd is not None:
            self.authd.start()
        self.audit.start()
        self.notifier.start()
        self.loop.start()
        _write_private(os.path.join(self.state_dir, NODE_ADDRESS_FILE), self.node_address + "\n")
        _write_private(os.path.join(self.state_dir, ADDRESS_FILE), self.address + "\n")
        if self.authd is not None:
            ca_file = ""
            if has_tls:   # a copy every user can read (the security dir is private)
                ca_file = os.path.join(self.run_dir, "ca.crt")
                with open(os.path.join(security_dir, "ca.crt")) as f:
                    _write_public(ca_file, f.read())
            text = client_config_text(controller=self.address, authd_socket=self.authd.socket_path, ca_file=ca_file,
                                      auth=self.config.auth.method, munge_socket=self.config.auth.munge_socket,
                                      munge_uid=os.geteuid())
            _write_public(os.path.join(self.run_dir, "client.toml"), text)
            # And for this user's clients that know only the state dir ($JEM_STATE_DIR, ~/.jem).
            _write_public(os.path.join(self.state_dir, "client.toml"), text)
        log.info("controller serving address=%s node_address=%s cluster=%s", self.address, self.node_address,
                 self.config.cluster.name)
        return self.address

    def stop(self) -> None:
        log.info("controller stopping")
        self.probes.stop_serving()
        if self.metrics is not None:
            self.metrics.stop()
        self.server.stop(grace=2).wait()
        if self.node_server is not None:
            self.node_server.stop(grace=1).wait()
        if self.authd is not None:
            self.authd.stop()
        self.loop.stop()
        self.notifier.stop()
        self.audit.stop()
        self.state.agents.close()
        self.state.store.close()
        for name in (ADDRESS_FILE, NODE_ADDRESS_FILE, METRICS_ADDRESS_FILE, "client.toml"):
            try:
                os.unlink(os.path.join(self.state_dir, name))
            except FileNotFoundError:
                pass


def default_run_dir(state_dir: str) -> str:
    """Where the built-in credential service's socket and client.toml go: a directory every
    user can traverse but only its owner can write. /run/jem for root, else <state_dir>/run."""
    return "/run/jem" if os.geteuid() == 0 else os.path.join(state_dir, "run")


def _make_private_dir(path: str) -> None:
    """Make `path` 0700 (or tighten it): the state dir holds the store and the keys."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o700)


def _write_private(path: str, text: str) -> None:
    """Write a file whole (readers never see half of it), mode 0600 under the umask."""
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def _write_public(path: str, text: str) -> None:
    """Write a file every user may read (the controller's umask is 077)."""
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o644)
        f.write(text)
    os.replace(path + ".tmp", path)


class StateDirInUse(OSError):
    """Another controller holds the state directory."""


def _lock_state_dir(state_dir: str):
    """Hold an exclusive lock on the state directory for the life of the process: two
    controllers on one store would hand out the same job to two agents."""
    f = open(os.path.join(state_dir, "controller.lock"), "a")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise StateDirInUse(f"another controller is running on state directory {state_dir}") from None
    return f


GIL_SWITCH_INTERVAL_S = 0.0005   # CPython's default is 0.005


def serve(config: Config) -> None:
    """Run a controller until SIGTERM or SIGINT."""
    # A request thread waits for the interpreter lock once each time it blocked (the lock, the
    # store, the network), as long as the interval while the loop plans a big queue or a
    # client lists one. benchmarks/load.py, 100,000 eligible jobs planned every cycle: submit
    # p99 ~140 ms at 1 ms, ~90 ms at 0.5 ms, ~80 ms at 0.2 ms (cycles then take 15% longer).
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    controller = Controller(config)   # (loads the queue: the jobs it keeps are frozen below)
    collector.take_over()
    controller.start()
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    stopping.wait()
    controller.stop()
