"""A real JEM cluster for tests: one controller and agents as subprocesses on loopback,
each in its own state directory, everything killed by `stop`."""

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

import psutil

from jem.agent.cgroups import V1_CONTROLLERS  # every controller a job may use
from jem.cli.cluster import make_local_certificates
from jem.client import Client
from jem.model.job import Job, JobSpec
from jem.model.node import NodeState

START_TIMEOUT_S = 30.0


def _lowest_ephemeral_port() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port free now, for a daemon's config, below the kernel's ephemeral range.

    A port from bind(0) is an ephemeral one: between this choice and the daemon's own bind,
    any outgoing connection on the machine (the gRPC channels of the tests' other daemons)
    may take it ("Address already in use"). Ports below that range are never given out by
    the kernel; each is handed out once per test run (10000 and up: never Slurm's 6817-6819).
    """
    candidates = [p for p in range(10000, min(_lowest_ephemeral_port(), 32768)) if p not in _handed_out]
    random.shuffle(candidates)
    for port in candidates:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket() as s:   # no room below the ephemeral range on this machine: the kernel's pick
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout_s: float = 20.0, interval_s: float = 0.05, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def cancel_and_wait(cluster, client, job_ids) -> None:
    """Cancel the jobs (those ended already are skipped) and wait until each has ended, its
    processes and cgroups gone, so that stopping the cluster never cuts a kill short (an agent
    stopped mid-kill leaves a job behind)."""
    from jem.model.errors import AlreadyDone

    for job_id in job_ids:
        try:
            client.cancel(job_id)
        except AlreadyDone:
            pass
    for job_id in job_ids:
        cluster.wait_job(client, job_id)


SLURM_COMMANDS = ("sbatch", "squeue", "sinfo", "scontrol", "sacct")


def command(cluster, *argv: str) -> subprocess.CompletedProcess:
    """`jem ...`, or one of the Slurm-compatible commands (argv[0] = "sbatch", ...), against the cluster."""
    env = dict(os.environ, JEM_CONFIG=os.path.join(cluster.run_dir, "client.toml"))
    if argv[0] in SLURM_COMMANDS:
        runner = [sys.executable, "-c", f"import sys; from jem_slurm.{argv[0]} import main; sys.exit(main())"]
        argv = argv[1:]
    else:
        runner = [sys.executable, "-m", "jem.cli.main"]
    return subprocess.run([*runner, *argv], capture_output=True, text=True, env=env, timeout=60,
                          cwd=cluster.workdir)


class LocalCluster:
    """Controller + named agents; processes are started in their own sessions."""

    def __init__(self, root: str, *, n_nodes: int = 2, cpus: int = 2, mem_mib: int = 2048, extra_config: str = "",
                 agent_args: tuple[str, ...] = (), gpus: int = 0, node_extra: dict[str, str] | None = None,
                 auth_config: str = ""):
        """node_extra: node name -> TOML lines added to that node's [[nodes]] table (features, gres).
        auth_config: TOML lines added to [auth] (method, munge_socket, jwks_file, ...)."""
        self.root = root
        self.agent_args = agent_args
        # Job cgroups under a name of their own, and a spool other users can traverse
        # (pytest's temp dirs are private to root).
        self.cgroup_name = f"jem-test-{uuid.uuid4().hex[:8]}"
        self.spool_root = tempfile.mkdtemp(prefix="jem-test-spool-")
        os.chmod(self.spool_root, 0o755)
        self.state_dir = os.path.join(root, "state")
        os.makedirs(self.state_dir, exist_ok=True)
        self.security_dir = os.path.join(self.state_dir, "security")
        # The credential service's socket: a root-owned directory every user can traverse.
        self.run_dir = os.path.join(self.spool_root, "run")
        self.authd_socket = os.path.join(self.run_dir, "authd.sock")
        self.address = f"127.0.0.1:{free_port()}"
        self.node_address = f"127.0.0.1:{free_port()}"   # agents' port (mutual TLS)
        self.node_names = [f"n{i}" for i in range(1, n_nodes + 1)]
        self.cpus, self.mem_mib, self.gpus = cpus, mem_mib, gpus
        self.config_path = os.path.join(root, "jem.toml")
        with open(self.config_path, "w") as f:
            f.write(f"""
[cluster]
name = "test"
listen = "{self.address}"
node_listen = "{self.node_address}"
state_dir = "{self.state_dir}"

[auth]
run_dir = "{self.run_dir}"
{auth_config}

[scheduler]
interval_s = 0.5
heartbeat_interval_s = 1
kill_wait_s = 2
{extra_config}

{self._nodes_toml(n_nodes, node_extra or {})}

[[partitions]]
name = "debug"
nodes = "ALL"
default = true
""")
        self.controller: subprocess.Popen | None = None
        self.agents: dict[str, subprocess.Popen] = {}
        self.workdir = os.path.join(root, "work")
        os.makedirs(self.workdir, exist_ok=True)

    def _nodes_toml(self, n_nodes: int, node_extra: dict[str, str]) -> str:
        """One [[nodes]] table for all nodes, or one per node when some have extra lines."""
        groups = [(f"n{i}", node_extra.get(f"n{i}", "")) for i in range(1, n_nodes + 1)] if node_extra \
            else [(f"n[1-{n_nodes}]", "")]
        return "\n".join(f"[[nodes]]\nnames = \"{names}\"\ncpus = {self.cpus}\nmem_mib = {self.mem_mib}\n"
                         f"gpus = {self.gpus}\n{extra}\n" for names, extra in groups)

    def _spawn(self, args: list[str], log_name: str) -> subprocess.Popen:
        log = open(os.path.join(self.root, log_name), "ab")
        return subprocess.Popen([sys.executable, "-m", "jem.cli.main", *args], stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL, start_new_session=True)

    def start_controller(self) -> None:
        make_local_certificates(self.security_dir, self.node_names)
        addr_file = os.path.join(self.state_dir, "controller.addr")
        if os.path.exists(addr_file):  # left by a killed controller
            os.unlink(addr_file)
        self.controller = self._spawn(["controller", "--config", self.config_path, "--log-level", "debug"],
                                      "controller.log")
        wait_until(lambda: os.path.exists(addr_file) or self.controller.poll() is not None, START_TIMEOUT_S,
                   what="controller address file")
        assert self.controller.poll() is None, self.log("controller.log")

    def start_agent(self, name: str) -> None:
        self.agents[name] = self._spawn(
            ["agent", "--controller", self.node_address, "--name", name, "--cpus", str(self.cpus),
             "--memory-mib", str(self.mem_mib), "--gpus", str(self.gpus), "--spool-dir", os.path.join(self.spool_root, name),
             "--cgroup-name", self.cgroup_name, "--security-dir", self.security_dir,
             "--authd-socket", self.authd_socket, "--log-level", "debug", *self.agent_args], f"agent-{name}.log")

    def start(self) -> "LocalCluster":
        self.start_controller()
        for name in self.node_names:
            self.start_agent(name)
        self.wait_nodes_up()
        return self

    def wait_nodes_up(self, names=None) -> None:
        names = set(names or self.node_names)
        with self.client() as client:
            wait_until(lambda: all(i.state is not NodeState.DOWN for i in client.list_nodes() if i.node.name in names),
                       START_TIMEOUT_S, what="nodes up")

    def client(self, *, token: str | None = None, **auth) -> Client:
        """A client of this cluster as this process's user, or as whoever `token` (a JWT) names;
        `auth`: Client's auth, munge_socket, munge_uid."""
        return Client(self.address, token=token, authd_socket=self.authd_socket, ca_file=self.ca_file,
                      **{"auth": "jem", **auth})

    @property
    def ca_file(self) -> str:
        return os.path.join(self.security_dir, "ca.crt")

    def client_as(self, user: str) -> Client:
        """A client acting as `user` (a real Unix user), with a JWT root minted for them."""
        with self.client() as root:
            token, _ = root.issue_token(user=user)
        return self.client(token=token)

    def spec(self, script: str, **fields) -> JobSpec:
        fields.setdefault("working_dir", self.workdir)
        fields.setdefault("environment", {"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        return JobSpec(script=script, **fields)

    def wait_job(self, client: Client, job_id: int, timeout_s: float = 30.0, states=None) -> Job:
        def done():
            job = client.get_job(job_id)
            if states is not None:
                return job if job.state in states else None
            return job if job.state.is_terminal else None
        return wait_until(done, timeout_s, what=f"job {job_id} to end")

    def log(self, name: str) -> str:
        try:
            with open(os.path.join(self.root, name), errors="replace") as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def stop_process(self, process: subprocess.Popen | None, sig=signal.SIGTERM, timeout_s: float = 15.0) -> None:
        if process is None or process.poll() is not None:
            return
        process.send_signal(sig)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)

    def stop(self) -> None:
        for agent in self.agents.values():
            self.stop_process(agent)
        self.stop_process(self.controller)
        # Anything still alive in the processes' sessions is killed too, and so is
        # every process left in the cluster's cgroups (jobs of a SIGKILLed agent).
        for process in [*self.agents.values(), self.controller]:
            if process is not None:
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except OSError:
                    pass
        remove_cgroups(self.cgroup_name)
        for process in processes_with_marker(self.spool_root):  # started, never confined
            process.kill()
        shutil.rmtree(self.spool_root, ignore_errors=True)

    def cgroup_dirs(self) -> list[str]:
        return cgroup_dirs(self.cgroup_name)


CGROUP_MOUNT = "/sys/fs/cgroup"


def cgroup_dirs(name: str) -> list[str]:
    """Every directory of cgroup tree `name`, in v1 controllers and the v2 hierarchy, deepest first."""
    tops = [os.path.join(CGROUP_MOUNT, c, name) for c in V1_CONTROLLERS]
    tops += [os.path.join(CGROUP_MOUNT, name), os.path.join(CGROUP_MOUNT, "unified", name)]
    found = []
    for top in tops:
        for dirpath, _, _ in os.walk(top):
            found.append(dirpath)
    return sorted(found, key=len, reverse=True)


def remove_cgroups(name: str) -> None:
    for path in cgroup_dirs(name):
        for _ in range(100):
            try:
                pids = [int(p) for p in open(os.path.join(path, "cgroup.procs")).read().split()]
            except OSError:
                pids = []
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            try:
                os.rmdir(path)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.02)


def processes_with_marker(marker: str) -> list[psutil.Process]:
    """Live processes whose command line contains `marker`."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            if process.info["status"] != psutil.STATUS_ZOMBIE and marker in " ".join(process.info["cmdline"] or []):
                found.append(process)
        except psutil.Error:
            pass
    return found


def https_get(address: str, path: str, *, ca_file: str, token: str | None = None,
              method: str = "GET") -> tuple[int, str]:
    """GET (or `method`) https://ADDRESS/PATH trusting `ca_file` (a daemon's certificate names the daemon, not
    127.0.0.1: no host name check), with `token` as a bearer JWT: (status, body text)."""
    import ssl
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"https://{address}{path}", method=method)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = False
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
