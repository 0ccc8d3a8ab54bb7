"""`jem up` and `jem down`: a whole cluster (controller + agents) on this machine.

`up` writes DIR/jem.toml, starts the controller and N agents as background
processes (logs in DIR/logs), waits until every node is up, and writes
DIR/env (export JEM_CONTROLLER=...) and DIR/pids. A root cluster also writes
RUN/env for every other user, 0644 in its run dir (DIR itself is 0700). With
`--auth munge` it first starts a private munged with a new key (socket and key
in <run dir>/munge), and users' clients present MUNGE credentials (the
client.toml the controller writes says so). `up --config FILE` takes a site's
tables into the cluster's jem.toml (node features, partitions, QOS, accounts,
priority weights: see localconfig.py). `up` on a state dir whose
controller or agents died starts only what is missing, with the cluster's own
config, so running jobs go on. `down` stops every daemon of the state dir,
those in DIR/pids and any other whose command line names it: agents first
(they kill and report their jobs), then the controller, then munged, SIGKILL
for anything still alive after a grace period.

psutil, jem.client and jem.security are imported by the functions that use them:
the parser is built for every `jem` command, and they are for `up` and `down` only.
"""

import argparse
import hashlib
from dataclasses import dataclass
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from jem.cli.connection import connect
from jem.cli.localconfig import config_text, munge_dir, read_site, shared_dirs
from jem.model import defaults
from jem.model.config import load_config
from jem.model.errors import JemError
from jem.model.node import node_list

START_TIMEOUT_S = 30.0
STOP_GRACE_S = 10.0


class ClusterError(JemError):
    reason = "ClusterError"
    message = "local cluster"


def add_parsers(sub) -> None:
    p = sub.add_parser("up", help="start a local cluster (controller + agents) in the background")
    p.add_argument("--nodes", type=int, default=4, help="number of nodes (default 4)")
    p.add_argument("--cpus-per-node", type=int, default=os.cpu_count() or 1,
                   help="CPUs each node offers (default: this machine's)")
    p.add_argument("--mem-per-node", type=int, default=None, metavar="MIB",
                   help="memory each node offers in MiB (default: this machine's divided among the nodes)")
    p.add_argument("--gpus-per-node", type=int, default=0, help="GPUs each node declares (default 0)")
    p.add_argument("--state-dir", default=None, help="where state, logs and the env file go "
                   "(default $JEM_STATE_DIR or ~/.jem)")
    p.add_argument("--auth", choices=["jem", "munge"], default="jem",
                   help="users' credentials: jem (the credential service, default) or munge (a private munged "
                        "with its own key, started and stopped with the cluster)")
    p.add_argument("--config", metavar="FILE", default=None,
                   help="a jem.toml whose tables the cluster takes: its [[nodes]] and [[partitions]] instead of "
                        "--nodes ... and partition 'debug', [[qos]], [[accounts]], [priority], ..., and its "
                        "[scheduler] and [cluster] keys over jem up's (but the addresses, directories and "
                        "credentials, which jem up sets)")
    p.set_defaults(run=run_up)
    p = sub.add_parser("down", help="stop the local cluster started by `jem up`")
    p.add_argument("--state-dir", default=None, help="the cluster's state directory")
    p.set_defaults(run=run_down)


def _alive(pid: int, marker: str = "jem") -> bool:
    """Whether `pid` runs, with `marker` in its command line (a pid is reused once its process is gone)."""
    import psutil

    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and marker in " ".join(process.cmdline())
    except psutil.Error:
        return False


def _read_pids(state_dir: str) -> dict:
    try:
        with open(os.path.join(state_dir, "pids")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _spawn(args: list[str], log_path: str, cwd: str) -> subprocess.Popen:
    # cwd: `python -m` puts the working directory first on sys.path, and a source
    # checkout there (without its compiled kernels) would shadow the installed package.
    with os.fdopen(os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "jem.cli.main", *args], stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log, start_new_session=True, cwd=cwd)


def _tail(path: str, n: int = 5) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def run_up(args: argparse.Namespace) -> int:
    """Start a cluster in the state dir; or, when some of its daemons still run (a controller
    that died, an agent killed), start only the missing ones with the cluster's own config,
    ports and certificates, so that running jobs go on."""
    import psutil

    from jem.client import ADDRESS_FILE

    state_dir = os.path.abspath(args.state_dir or defaults.state_dir())
    if args.nodes < 1 or args.cpus_per_node < 1 or args.gpus_per_node < 0:
        raise ClusterError("--nodes and --cpus-per-node must be at least 1")
    running = running_daemons(state_dir)
    config_path = os.path.join(state_dir, "jem.toml")
    is_resuming = bool(running.controllers or running.agents)
    if is_resuming and not os.path.exists(config_path):
        raise ClusterError(f"daemons of {state_dir} run but its jem.toml is gone: run `jem down --state-dir "
                           f"{state_dir}` first")
    if is_resuming and args.config:
        raise ClusterError(f"daemons of {state_dir} run with its own jem.toml: run `jem down --state-dir "
                           f"{state_dir}` first to start it with --config {args.config}")
    site = read_site(args.config) if args.config else None
    logs = os.path.join(state_dir, "logs")
    run_dir, spool_root = shared_dirs(state_dir)
    authd_socket = os.path.join(run_dir, "authd.sock")
    if not is_resuming:
        mem = args.mem_per_node or max(256, psutil.virtual_memory().total // (1024 * 1024) // args.nodes)
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
        os.chmod(state_dir, 0o700)
        os.makedirs(logs, mode=0o700, exist_ok=True)
        with open(config_path, "w") as f:
            f.write(config_text(state_dir, args.nodes, args.cpus_per_node, mem, args.gpus_per_node, args.auth,
                                site=site, site_path=args.config or ""))
    config = load_config(config_path)
    node_names = [node.name for node in config.nodes]
    if running.controllers and set(running.agents) >= set(node_names):
        raise ClusterError(f"a cluster is already running in {state_dir} (run `jem down --state-dir {state_dir}` "
                           f"first)")
    record = _read_pids(state_dir) if is_resuming else {"agents": {}}
    record.setdefault("agents", {})
    if not is_resuming:
        make_local_certificates(os.path.join(state_dir, "security"), node_names)
    if config.auth.method == "munge" and not _munged_alive(record):
        record["munged"] = _start_munged(state_dir)
        _write_pids(state_dir, record)
    address_path = os.path.join(state_dir, ADDRESS_FILE)
    node_address_path = os.path.join(state_dir, defaults.NODE_ADDRESS_FILE)
    if running.controllers:
        record["controller"] = running.controllers[0]
        with open(address_path) as f:
            address = f.read().strip()
        with open(node_address_path) as f:
            node_address = f.read().strip()
    else:
        for path in (address_path, node_address_path):
            if os.path.exists(path):
                os.unlink(path)
        controller_log = os.path.join(logs, "controller.log")
        controller = _spawn(["controller", "--config", config_path], controller_log, state_dir)
        record["controller"] = controller.pid
        _write_pids(state_dir, record)
        address = _wait_for_file(address_path, controller, controller_log)
        node_address = _wait_for_file(node_address_path, controller, controller_log)
    # Job cgroups of this cluster apart from any other on the machine.
    cgroup_name = "jem-" + hashlib.sha1(state_dir.encode()).hexdigest()[:8]
    for node in config.nodes:
        if node.name in running.agents:
            record["agents"][node.name] = running.agents[node.name]
            continue
        agent = _spawn(["agent", "--controller", node_address, "--name", node.name,
                        "--cpus", str(node.capacity.cpus), "--memory-mib", str(node.capacity.mem_mib),
                        "--gpus", str(node.capacity.gpus), "--spool-dir", os.path.join(spool_root, node.name),
                        "--cgroup-name", cgroup_name, "--security-dir", os.path.join(state_dir, "security"),
                        "--authd-socket", authd_socket,
                        # MUNGE clients send no user signature (docs/security.md): their jobs run unsigned.
                        *(["--unsigned-jobs", "allow"] if config.auth.method == "munge" else [])],
                       os.path.join(logs, f"{node.name}.log"), state_dir)
        record["agents"][node.name] = agent.pid
    _write_pids(state_dir, record)
    nodes = _wait_for_nodes(address, len(node_names), authd_socket, os.path.join(state_dir, "security", "ca.crt"))
    client_config = os.path.join(run_dir, "client.toml")
    with open(os.path.join(state_dir, "env"), "w") as f:
        f.write(f"export JEM_CONFIG={client_config}\nexport JEM_CONTROLLER={address}\n"
                f"export JEM_STATE_DIR={state_dir}\n")
    users_env = _write_users_env(run_dir, client_config, address) if os.geteuid() == 0 else ""
    if is_resuming:
        print(f"JEM cluster in {state_dir} resumed: started "
              f"{'the controller' if not running.controllers else 'no controller'} and "
              f"{len(node_names) - len(set(running.agents) & set(node_names))} agent(s); running jobs go "
              f"on.{_held_text(nodes)}")
    else:
        print(f"JEM cluster up: controller {address}, {_shape_text(config)}.{_held_text(nodes)}")
    print(f"  source {state_dir}/env        # point jem (and later sbatch/squeue) at it")
    if users_env:
        print(f"  source {users_env}   # any other user of this machine, likewise")
    print("  jem submit --wrap 'hostname'  # submit a job;  jem jobs / jem nodes to look")
    metrics_address = _read_text(os.path.join(state_dir, "metrics.addr"))
    if metrics_address:
        print(f"  curl -s --cacert {state_dir}/security/ca.crt -H \"Authorization: Bearer $(jem token | cut -d= -f2)\" "
              f"https://{metrics_address}/metrics   # its metrics (OpenMetrics)")
    print(f"  jem down --state-dir {state_dir}   # stop it (logs in {logs})")
    return 0


def _shape_text(config) -> str:
    """4 nodes n[1-4] with 4 CPUs and 2048 MiB each, partition 'debug'."""
    capacities = {(node.capacity.cpus, node.capacity.mem_mib) for node in config.nodes}
    each = (f" with {config.nodes[0].capacity.cpus} CPUs and {config.nodes[0].capacity.mem_mib} MiB each"
            if len(capacities) == 1 else "")
    names = [partition.name for partition in config.partitions]
    return (f"{len(config.nodes)} nodes {node_list(node.name for node in config.nodes)}{each}, "
            f"partition{'s' if len(names) > 1 else ''} {', '.join(repr(name) for name in names)}")


@dataclass(frozen=True)
class Daemons:
    """The controller and agent processes of one state dir: pid(s), agents by node name."""

    controllers: list[int]
    agents: dict[str, int]


def running_daemons(state_dir: str) -> Daemons:
    """Every live controller and agent of `state_dir`, however it was started: those `jem up`
    recorded, and any whose command line names the state dir's config (a controller) or its
    security dir (an agent), e.g. one an administrator restarted by hand."""
    import psutil

    config_path = os.path.realpath(os.path.join(state_dir, "jem.toml"))
    security_dir = os.path.realpath(os.path.join(state_dir, "security"))
    record = _read_pids(state_dir)
    controllers = [record["controller"]] if _alive(record.get("controller", 0)) else []
    agents = {name: pid for name, pid in record.get("agents", {}).items() if _alive(pid)}
    for process in psutil.process_iter(["pid", "cmdline"]):
        argv = process.info["cmdline"] or []
        if "jem.cli.main" not in argv and not any(os.path.basename(a) == "jem" for a in argv[:2]):
            continue
        if "controller" in argv and _path_arg(process, argv, "--config") == config_path:
            if process.pid not in controllers:
                controllers.append(process.pid)
        elif "agent" in argv and _path_arg(process, argv, "--security-dir") == security_dir:
            name = _arg(argv, "--name") or str(process.pid)
            agents.setdefault(name, process.pid)
    return Daemons(controllers, agents)


def _arg(argv: list[str], option: str) -> str:
    for i, item in enumerate(argv):
        if item == option and i + 1 < len(argv):
            return argv[i + 1]
        if item.startswith(option + "="):
            return item.split("=", 1)[1]
    return ""


def _path_arg(process, argv: list[str], option: str) -> str:
    """The real path an option names, relative to `process`'s (a psutil.Process) working directory."""
    import psutil

    value = _arg(argv, option)
    if not value:
        return ""
    if not os.path.isabs(value):
        try:
            value = os.path.join(process.cwd(), value)
        except psutil.Error:
            return ""
    return os.path.realpath(value)


def _start_munged(state_dir: str) -> dict:
    """Start the cluster's munged with a new key; its pid and directory, for `jem down`."""
    from jem.security.munged import MungedStartError, remove_munged_files, start_munged

    run_dir, directory = shared_dirs(state_dir)[0], munge_dir(state_dir)
    os.makedirs(run_dir, mode=0o755, exist_ok=True)
    os.chmod(run_dir, 0o755)   # munged's socket must be reachable by every user
    remove_munged_files(directory)   # a key left by a cluster that was never taken down
    try:
        daemon = start_munged(directory)
    except MungedStartError as exc:
        raise ClusterError(str(exc)) from None
    return {"pid": daemon.pid, "directory": directory}


def _munged_alive(record: dict) -> bool:
    from jem.security.munged import SOCKET_NAME as MUNGE_SOCKET_NAME

    munged = record.get("munged") or {}
    socket_path = os.path.join(munged.get("directory", ""), MUNGE_SOCKET_NAME)
    return bool(munged) and _alive(munged.get("pid", 0), marker=f"--socket={socket_path}")


def _write_users_env(run_dir: str, client_config: str, address: str) -> str:
    """The env file for every other user of a root cluster, 0644 in the run dir: the state
    dir's own `env` is out of their reach (0700) and names root's state dir, which is not theirs."""
    path = os.path.join(run_dir, "env")
    fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o644)   # exactly, whatever the umask
        f.write(f"export JEM_CONFIG={client_config}\nexport JEM_CONTROLLER={address}\n")
    os.replace(path + ".tmp", path)
    return path


def make_local_certificates(security_dir: str, node_names: list[str]) -> None:
    """A CA of the cluster's own, the controller's certificate (loopback) and one per node,
    each made once: every channel of a local cluster is TLS, the agents' mutual."""
    from jem.security import ca, tls

    os.makedirs(security_dir, mode=0o700, exist_ok=True)
    if not os.path.exists(os.path.join(security_dir, "ca.crt")):
        ca.init_ca(security_dir, name="JEM local cluster CA")
    if not tls.has_certificate(security_dir, "controller"):
        ca.issue_controller_cert(security_dir, hosts=["127.0.0.1", "localhost"])
    for name in node_names:
        if not tls.has_certificate(security_dir, f"nodes/{name}"):
            ca.issue_node_cert(security_dir, name, hosts=["127.0.0.1"])


def _write_pids(state_dir: str, record: dict) -> None:
    path = os.path.join(state_dir, "pids")
    with open(path + ".tmp", "w") as f:
        json.dump(record, f)
    os.replace(path + ".tmp", path)


def _wait_for_file(path: str, process: subprocess.Popen, log_path: str) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ClusterError(f"the controller exited with status {process.returncode}:\n{_tail(log_path)}")
        try:
            with open(path) as f:
                address = f.read().strip()
            if address:
                return address
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    raise ClusterError(f"the controller did not start within {START_TIMEOUT_S:.0f} s; see {log_path}")


def _wait_for_nodes(address: str, n_nodes: int, authd_socket: str, ca_file: str) -> list:
    """The nodes (NodeInfo) once every agent has registered. A node an administrator took down or
    drained stays so (the store keeps it across restarts), so its state is not waited for."""
    deadline = time.monotonic() + START_TIMEOUT_S
    with connect(address, authd_socket=authd_socket, ca_file=ca_file, auth="jem") as client:
        while time.monotonic() < deadline:
            nodes = client.list_nodes()
            if len(nodes) >= n_nodes and all(info.node.is_responding for info in nodes):
                return nodes
            time.sleep(0.05)
    raise ClusterError(f"not every node came up within {START_TIMEOUT_S:.0f} s")


def _held_text(nodes: list) -> str:
    """The nodes an administrator holds out of use (DOWN while their agent answers, or drained),
    with why: they stay so until `jem resume`."""
    held = [info for info in nodes if info.state.value in ("DOWN", "DRAINED", "DRAINING")]
    return "".join(f"\n  {info.node.name} is {info.state.value} ({info.node.reason}) until "
                   f"`jem resume {info.node.name}`" for info in held)


def run_down(args: argparse.Namespace) -> int:
    """Stop every daemon of the state dir (agents first: they kill and report their jobs; then
    the controller; then munged), however each was started."""
    from jem.client import ADDRESS_FILE
    from jem.security.munged import remove_munged_files

    state_dir = os.path.abspath(args.state_dir or defaults.state_dir())
    record = _read_pids(state_dir)
    running = running_daemons(state_dir)
    if not record and not running.controllers and not running.agents:
        print(f"no cluster recorded in {state_dir}")
        return 0
    _stop(list(running.agents.values()))
    _stop(running.controllers)
    if "munged" in record:
        if _munged_alive(record):
            _stop([record["munged"]["pid"]])
        remove_munged_files(record["munged"]["directory"])
        try:
            os.rmdir(record["munged"]["directory"])
        except OSError:
            pass
    for name in ("pids", "env", ADDRESS_FILE, defaults.NODE_ADDRESS_FILE):
        try:
            os.unlink(os.path.join(state_dir, name))
        except FileNotFoundError:
            pass
    if os.geteuid() == 0:   # the cluster's own directories outside the state dir
        for path in shared_dirs(state_dir):
            shutil.rmtree(path, ignore_errors=True)
    print(f"JEM cluster in {state_dir} stopped ({len(running.agents)} agents, "
          f"{len(running.controllers)} controller).")
    return 0


def _stop(pids: list[int]) -> None:
    """SIGTERM, wait up to STOP_GRACE_S, then SIGKILL each process and its process group."""
    import psutil

    processes = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            process.send_signal(signal.SIGTERM)
            processes.append(process)
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(processes, timeout=STOP_GRACE_S)
    for process in alive:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except OSError:
            pass
    psutil.wait_procs(alive, timeout=5)


def _read_text(path: str) -> str:
    """The file's text stripped, or "" when there is none."""
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""
