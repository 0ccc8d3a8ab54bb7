"""The controller under load: a big queue, clients polling it, a flooding user; prints one JSON line.

    python benchmarks/load.py --queued 100000 --clients 10 --json

Starts `jem up` in a temporary state directory (as root: it creates Unix users
`jemload-*` with useradd and removes them at the end), then:
- queue: `--queued` jobs that never start written into the store while the
  controller is stopped, then the controller is started again and loads them as
  ordinary pending jobs of their users ("queued_by": "store"; the records are
  copies of one job submitted through the controller, so they are what a submit
  makes). `--queue`: `blocked` (the default, the heaviest): eligible jobs waiting
  for resources, which every scheduling cycle plans: each node is held by a
  job of root's that sleeps through the run (the probe node is drained);
  `waiting`: jobs waiting for a begin time a day away (no cycle plans them);
  `held`: held jobs. `--clients` users own `--own-jobs` each, `--bulk-users`
  others the rest. If the queue would leave no room under the default
  MaxJobCount, jem.toml's [scheduler] max_job_count is raised (reported).
  One extra node, `probe1`, is added to jem.toml for the heartbeat probe.
  Measuring starts in the steady state: once every node is up and two
  scheduling cycles have run since (the restart's own cycles, which plan the
  whole queue anew, are reported apart: restart_cycles, restart_cycle_ms_max).
- for `--duration-s`, each in its own process:
  * `--clients` listing clients, one per user, each listing at `--list-hz` what
    `squeue --me` lists (its user's pending/running/suspended/completing jobs)
    -> squeue_user_p50_ms / p99;
  * one client listing the whole queue (plain `squeue`: every user's jobs in
    those states) back to back at up to `--all-hz` -> squeue_all_p50_ms / p99
    and the rate it achieved;
  * `--submitters` normal users (the first listing users) each submitting a held
    job every `--submit-interval-s` with Client.submit -> submit_p50_ms / p99;
  * one user flooding SubmitJob as fast as it can (raw calls: every rate-limit
    answer is counted, never waited out) -> flood_* figures;
  * a synthetic node (mutual TLS with its own certificate) registering and then
    sending Heartbeat once a second, each timed -> heartbeat_p99_ms / max;
- meanwhile the benchmark polls ListNodes once a second (transitions to DOWN of
  any node, and the real agents' heartbeat gaps as the controller recorded
  them), samples the controller's RSS and CPU, and afterwards reads the
  controller log's `cycle ... cycle_ms=` lines of the window. RSS: just after
  the queue loaded (`controller_rss_loaded_mib`), over the window (`_max_`), at
  the end; the target is checked against the highest (`_peak_`).
Then `jem down`, users removed. Targets (the issue): submit_p99_ms < 50,
heartbeat_p99_ms < 1000, nodes_marked_down == 0, controller_rss_peak_mib < 1024.
"""

import argparse
import dataclasses
import json
import multiprocessing as mp
import os
import pwd
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import psutil

from jem.client import Client
from jem.model.job import JobSpec
from jem.model.jobfilter import JobFilter
from jem.model.node import NodeState
from jem.model.states import JobState

from localcluster import jem, use_cluster_env

USER_PREFIX = "jemload-"
PROBE_NODE = "probe1"
DEFAULT_MAX_JOB_COUNT = 100_000          # jem.model.defaults.MAX_JOB_COUNT, the [scheduler] default
# What squeue lists when -t is not given (slurm-compat/jem_slurm/squeue.py DEFAULT_STATES).
SQUEUE_STATES = frozenset({JobState.PENDING, JobState.RUNNING, JobState.SUSPENDED, JobState.COMPLETING})
CYCLE_LINE = re.compile(r" cycle cycle=(\d+) .*?pending=(\d+) .*?snapshot_ms=([0-9.]+) .*?cycle_ms=([0-9.]+)")


def log(text: str) -> None:
    print(f"[load {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def quiet(text: str) -> None:
    pass


def percentile(samples: list[float], q: float) -> float | None:
    if not samples:
        return None
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def job_spec(n_env: int, *, name: str = "load", queue: str = "held") -> JobSpec:
    """A job of typical size: a short batch script and an exported environment of `n_env`
    variables (sbatch exports the caller's, a few KB). `queue` (see --queue): held, waiting
    (not to start for a day: --begin) or blocked (neither: it waits for resources)."""
    script = ("#!/bin/bash\n#SBATCH --job-name=load\n#SBATCH --ntasks=1\n#SBATCH --time=01:00:00\n"
              "module load gcc/12 openmpi/4\ncd $SLURM_SUBMIT_DIR\n"
              "srun ./simulate --input cases/case-0042.in --steps 100000 --checkpoint every=600s\n")
    environment = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/home/user", "LANG": "C.UTF-8",
                   **{f"LOAD_VAR_{i:03d}": f"value-{i:03d}-" + "x" * 32 for i in range(n_env)}}
    return JobSpec(script=script, name=name, working_dir="/tmp", stdout_pattern="/dev/null",
                   environment=environment, time_limit_s=3600, hold=queue == "held",
                   begin_time=time.time() + 86400 if queue == "waiting" else None)


def occupy_nodes(client: Client, nodes: set[str]) -> list[int]:
    """One job of root's holding each node whole (sleeping past the run); returns their ids once
    all of them run, so that the queue's jobs wait for resources."""
    job_ids = [client.submit(JobSpec(script="#!/bin/sh\nsleep 100000\n", name="occupy", working_dir="/tmp",
                                     stdout_pattern="/dev/null", exclusive=True, time_limit_s=86400))
               for _ in nodes]
    _wait_for("the nodes to be occupied", lambda: {n for j in client.list_jobs(JobFilter(job_ids=frozenset(job_ids)))
                                                   if j.state is JobState.RUNNING for n in j.nodes} >= nodes, 120)
    return job_ids


# ------------------------------------------------------------------ cluster set-up

def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def _read_from(path: str, start: int, end: int | None = None) -> str:
    """The text of `path` from byte `start` (to byte `end`)."""
    with open(path, "rb") as f:
        f.seek(start)
        return f.read(-1 if end is None else end - start).decode(errors="replace")


def _wait_for(what: str, check, timeout_s: float, step_s: float = 0.1):
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = check()
        except Exception:   # noqa: BLE001 - not up yet, whatever it says
            if time.monotonic() > deadline:
                raise
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(step_s)


def create_users(names: list[str]) -> list[str]:
    """Create the Unix users that do not exist yet; returns those created."""
    created = []
    for name in names:
        try:
            pwd.getpwnam(name)
            continue
        except KeyError:
            pass
        subprocess.run(["useradd", "-m", name], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        created.append(name)
    return created


def remove_users(names: list[str]) -> None:
    for name in names:
        subprocess.run(["userdel", "-r", name], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_process(pid: int, timeout_s: float = 30.0) -> None:
    try:
        process = psutil.Process(pid)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout_s)
    except psutil.TimeoutExpired:
        process.kill()
        process.wait(10)
    except psutil.NoSuchProcess:
        pass


def start_controller(state_dir: str) -> subprocess.Popen:
    """The controller as `jem up` starts it (same command, log and cwd); the pids file updated
    so that `jem down` stops this one."""
    log_path = os.path.join(state_dir, "logs", "controller.log")
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen([sys.executable, "-m", "jem.cli.main", "controller", "--config",
                                    os.path.join(state_dir, "jem.toml")], stdin=subprocess.DEVNULL,
                                   stdout=log_file, stderr=log_file, start_new_session=True, cwd=state_dir)
    pids_path = os.path.join(state_dir, "pids")
    with open(pids_path) as f:
        record = json.load(f)
    record["controller"] = process.pid
    with open(pids_path + ".tmp", "w") as f:
        json.dump(record, f)
    os.replace(pids_path + ".tmp", pids_path)
    return process


def edit_config(path: str, *, max_job_count: int | None, scheduler: list[str], probe_cpus: int,
                probe_mem_mib: int) -> None:
    """jem.toml with max_job_count and the --scheduler settings (`key = value` lines in TOML's
    syntax) added to its [scheduler] table, and the probe node."""
    with open(path) as f:
        text = f.read()
    lines = ([f"max_job_count = {max_job_count}"] if max_job_count is not None else []) + \
        [setting.replace("=", " = ", 1) for setting in scheduler]
    if lines:
        if "[scheduler]\n" not in text:
            raise RuntimeError(f"{path}: no [scheduler] section to add {lines} to")
        text = text.replace("[scheduler]\n", "[scheduler]\n" + "".join(line + "\n" for line in lines), 1)
    text += f'\n[[nodes]]\nnames = "{PROBE_NODE}"\ncpus = {probe_cpus}\nmem_mib = {probe_mem_mib}\n'
    with open(path, "w") as f:
        f.write(text)


def fill_store(db_path: str, template_id: int, owners: list[tuple[str, int]], *, say) -> int:
    """Add copies of job `template_id`, `count` for each (user, count) of `owners` (the template
    counts as one of its own user's). Returns the number of jobs added."""
    from jem.store import SqliteStore

    store = SqliteStore(db_path)
    try:
        template = store.get_job(template_id)
        if template is None or template.state is not JobState.PENDING:
            raise RuntimeError(f"template job {template_id} is not a pending job: {template}")
        added, batch = 0, []
        now = time.time()
        for user, count in owners:
            entry = pwd.getpwnam(user)
            if user == template.user:
                count -= 1
            for _ in range(count):
                batch.append(dataclasses.replace(template, job_id=0, user=user, uid=entry.pw_uid, gid=entry.pw_gid,
                                                 submit_time=now))
                if len(batch) == 5000:
                    store.add_jobs(batch, time=now)
                    added += len(batch)
                    batch = []
                    say(f"store: {added} jobs written")
        if batch:
            store.add_jobs(batch, time=now)
            added += len(batch)
        return added
    finally:
        store.close()


# ------------------------------------------------------------------ the load's processes

@dataclasses.dataclass(frozen=True)
class Common:
    address: str
    ca_file: str
    go: object      # mp.Event: start measuring
    stop: object    # mp.Event: stop
    results: object  # mp.Queue: (kind, index, dict) once stopped; ("ready", kind, index) before


def _client(common: Common, token: str) -> Client:
    return Client(common.address, token=token, ca_file=common.ca_file, auth="jem", timeout_s=120.0)


def lister(common: Common, index: int, kind: str, user: str, token: str, hz: float) -> None:
    """List `user`'s jobs (kind "user") or everyone's ("all") in squeue's default states at up to `hz`."""
    job_filter = JobFilter(users=frozenset({user}) if kind == "user" else frozenset(), states=SQUEUE_STATES)
    samples, rows, errors = [], 0, {}
    with _client(common, token) as client:
        client.list_nodes()   # the channel up before the clock starts
        common.results.put(("ready", kind, index))
        common.go.wait()
        t_start = time.monotonic()
        next_t = t_start
        while not common.stop.is_set():
            t0 = time.perf_counter()
            try:
                rows = len(client.list_jobs(job_filter))
                samples.append((time.perf_counter() - t0) * 1000)
            except Exception as exc:   # noqa: BLE001 - counted and reported
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            next_t += 1.0 / hz
            delay = next_t - time.monotonic()
            if delay > 0:
                common.stop.wait(delay)
            else:
                next_t = time.monotonic()   # behind: go on at once, without catching up
        elapsed = time.monotonic() - t_start
    common.results.put((kind, index, {"samples_ms": samples, "rows": rows, "errors": errors,
                                      "rate_hz": len(samples) / elapsed if elapsed else 0.0}))


def submitters(common: Common, tokens: list[str], interval_s: float, n_env: int) -> None:
    """One thread per token, each submitting a held job every `interval_s` with Client.submit."""
    spec = job_spec(n_env, name="normal")
    lock = threading.Lock()
    samples, errors = [], {}

    def run(token: str, offset_s: float) -> None:
        with _client(common, token) as client:
            common.go.wait()
            common.stop.wait(offset_s)
            next_t = time.monotonic()
            while not common.stop.is_set():
                t0 = time.perf_counter()
                try:
                    client.submit(spec)
                    latency = (time.perf_counter() - t0) * 1000
                    with lock:
                        samples.append(latency)
                except Exception as exc:   # noqa: BLE001
                    with lock:
                        errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                next_t += interval_s
                delay = next_t - time.monotonic()
                if delay > 0:
                    common.stop.wait(delay)
                else:
                    next_t = time.monotonic()

    threads = [threading.Thread(target=run, args=(token, i * interval_s / max(1, len(tokens))), daemon=True)
               for i, token in enumerate(tokens)]
    for thread in threads:
        thread.start()
    common.results.put(("ready", "submit", 0))
    common.stop.wait()
    for thread in threads:
        thread.join(150)
    common.results.put(("submit", 0, {"samples_ms": samples, "errors": errors}))


def flooder(common: Common, token: str, n_env: int) -> None:
    """SubmitJob as fast as one caller can, never waiting out a rate-limit answer."""
    import grpc

    from jem import convert
    from jem.v1 import jobs_pb2

    request = jobs_pb2.SubmitJobRequest(spec=convert.spec_to_pb(job_spec(n_env, name="flood")))
    metadata = (("authorization", f"Bearer {token}"),)
    accepted, limited, other = [], 0, {}
    n_sent = 0
    with _client(common, token) as client:
        stub = client._jobs   # raw answers: Client.submit would wait out RESOURCE_EXHAUSTED itself
        client.list_nodes()
        common.results.put(("ready", "flood", 0))
        common.go.wait()
        t_start = time.monotonic()
        while not common.stop.is_set():
            t0 = time.perf_counter()
            n_sent += 1
            try:
                stub.SubmitJob(request, timeout=60, metadata=metadata)
                accepted.append((time.perf_counter() - t0) * 1000)
            except grpc.RpcError as exc:
                if exc.code() is grpc.StatusCode.RESOURCE_EXHAUSTED:
                    limited += 1
                else:
                    other[exc.code().name] = other.get(exc.code().name, 0) + 1
        elapsed = time.monotonic() - t_start
    common.results.put(("flood", 0, {"sent": n_sent, "accepted": len(accepted), "rate_limited": limited,
                                     "other": other, "elapsed_s": elapsed, "accepted_ms": accepted}))


def heartbeat_probe(common: Common, node_address: str, security_dir: str, cpus: int, mem_mib: int) -> None:
    """A node of our own: RegisterNode, then Heartbeat once a second, each round trip timed."""
    import grpc

    from jem import convert
    from jem.model.resources import Resources
    from jem.security import tls
    from jem.v1 import agent_pb2, agent_pb2_grpc

    channel = grpc.secure_channel(node_address, tls.channel_credentials(security_dir, f"nodes/{PROBE_NODE}"))
    stub = agent_pb2_grpc.NodeServiceStub(channel)
    boot_id = uuid.uuid4().hex

    def register() -> None:
        stub.RegisterNode(agent_pb2.RegisterNodeRequest(
            name=PROBE_NODE, agent_address="127.0.0.1:9", capacity=convert.resources_to_pb(Resources(cpus, mem_mib, 0)),
            epoch=1, cgroup_mode="none", boot_id=boot_id, gpu_isolation="none"), timeout=60)

    samples, errors, n_reregistered = [], {}, 0
    register()
    common.results.put(("ready", "heartbeat", 0))
    common.go.wait()
    next_t = time.monotonic()
    while not common.stop.is_set():
        t0 = time.perf_counter()
        try:
            response = stub.Heartbeat(agent_pb2.HeartbeatRequest(name=PROBE_NODE, boot_id=boot_id), timeout=60)
            samples.append((time.perf_counter() - t0) * 1000)
            if not response.is_registered:
                n_reregistered += 1
                register()
        except grpc.RpcError as exc:
            errors[exc.code().name] = errors.get(exc.code().name, 0) + 1
        next_t += 1.0
        delay = next_t - time.monotonic()
        if delay > 0:
            common.stop.wait(delay)
        else:
            next_t = time.monotonic()
    channel.close()
    common.results.put(("heartbeat", 0, {"samples_ms": samples, "errors": errors, "reregistered": n_reregistered}))


# ------------------------------------------------------------------ watching the controller

class Watcher:
    """Once a second: the nodes (DOWN transitions, agents' heartbeat gaps) and the controller's RSS and CPU."""

    def __init__(self, root: Client, controller_pid: int):
        self._root = root
        self._process = psutil.Process(controller_pid)
        self._stop = threading.Event()
        self.rss_mib: list[float] = []
        self.cpu_percent: list[float] = []
        self.down_transitions: list[tuple[str, float]] = []
        self.last_state: dict[str, NodeState] = {}
        self.heartbeat_seen: dict[str, float] = {}
        self.heartbeat_gaps_s: list[float] = []
        self.max_silence_s = 0.0
        self.poll_ms: list[float] = []
        self.poll_errors = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._process.cpu_percent(None)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(120)

    def _run(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.rss_mib.append(self._process.memory_info().rss / 2**20)
                self.cpu_percent.append(self._process.cpu_percent(None))
            except psutil.Error:
                pass
            t0 = time.perf_counter()
            try:
                nodes = self._root.list_nodes()
            except Exception:   # noqa: BLE001
                self.poll_errors += 1
                continue
            self.poll_ms.append((time.perf_counter() - t0) * 1000)
            now = time.time()
            for info in nodes:
                name = info.node.name
                if info.state is NodeState.DOWN and self.last_state.get(name) is not NodeState.DOWN:
                    self.down_transitions.append((name, now))
                self.last_state[name] = info.state
                if name == PROBE_NODE:
                    continue
                beat = info.node.last_heartbeat
                if beat:
                    self.max_silence_s = max(self.max_silence_s, now - beat)
                    seen = self.heartbeat_seen.get(name)
                    if seen is not None and beat > seen:
                        self.heartbeat_gaps_s.append(beat - seen)
                    self.heartbeat_seen[name] = beat


def cycle_figures(log_path: str, start: int, end: int) -> dict:
    text = _read_from(log_path, start, end)
    cycles = [(int(m[1]), int(m[2]), float(m[3]), float(m[4])) for m in CYCLE_LINE.finditer(text)]
    times = [ms for _, _, _, ms in cycles]
    locked = [ms for _, _, ms, _ in cycles]
    return {"cycles": len(cycles), "cycle_ms_p50": percentile(times, 50), "cycle_ms_p99": percentile(times, 99),
            "cycle_ms_max": max(times) if times else None,
            "cycle_snapshot_ms_max": max(locked) if locked else None,   # the cycle's first hold of the lock
            "cycle_pending_max": max((p for _, p, _, _ in cycles), default=None),
            "log_node_down_lines": text.count(" node down "),
            "log_controller_stalled_lines": text.count("controller stalled")}


def py_spy(pid: int, seconds: int, out: str) -> subprocess.Popen | None:
    exe = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    if not os.path.exists(exe):
        return None
    return subprocess.Popen([exe, "record", "-f", "raw", "-d", str(seconds), "-p", str(pid), "-o", out,
                             "--nonblocking"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ------------------------------------------------------------------ the run

def run(args: argparse.Namespace, state_dir: str, users: dict, say) -> dict:
    result: dict = {"queued": args.queued, "clients": args.clients, "duration_s": args.duration_s,
                    "nodes": args.nodes, "queued_by": "store", "queue": args.queue, "cpus": os.cpu_count()}
    listers, flood_user, bulk = users["listers"], users["flood"], users["bulk"]
    t = time.monotonic()
    up = ("up", "--nodes", str(args.nodes), "--cpus-per-node", str(args.cpus_per_node), "--mem-per-node",
          str(args.mem_per_node))
    try:
        jem(*up, state_dir=state_dir)
    except subprocess.CalledProcessError:   # on a loaded machine the agents can miss `jem up`'s 30 s: once more
        say("jem up failed; once more")
        jem("down", state_dir=state_dir)
        jem(*up, state_dir=state_dir)
    say(f"cluster up in {time.monotonic() - t:.1f} s")
    use_cluster_env(state_dir)
    security_dir = os.path.join(state_dir, "security")
    ca_file = os.path.join(security_dir, "ca.crt")
    address = _read(os.path.join(state_dir, "controller.addr"))
    with Client(address) as root:
        tokens = {name: root.issue_token(user=name)[0] for name in [*listers, flood_user, *bulk]}
    real_nodes = {f"n{i}" for i in range(1, args.nodes + 1)}
    if args.queue == "blocked":
        with Client(address) as root:
            occupy_nodes(root, real_nodes)
    template_owner = bulk[0] if bulk else listers[0]
    with Client(address, token=tokens[template_owner], ca_file=ca_file, auth="jem") as client:
        template_id = client.submit(job_spec(args.env_vars, queue=args.queue))

    # The queue: written into the store while the controller is down, loaded when it starts again.
    n_own = min(args.own_jobs, args.queued // max(1, len(listers)))
    owners = [(name, n_own) for name in listers]
    rest = args.queued - n_own * len(listers)
    if bulk:
        owners += [(name, rest // len(bulk) + (1 if i < rest % len(bulk) else 0)) for i, name in enumerate(bulk)]
    elif rest:
        owners[0] = (owners[0][0], owners[0][1] + rest)
    if template_owner not in dict(owners) or dict(owners)[template_owner] < 1:
        raise RuntimeError("the template job's owner must own at least one queued job")
    pids = json.loads(_read(os.path.join(state_dir, "pids")))
    stop_process(pids["controller"])
    t = time.monotonic()
    fill_store(os.path.join(state_dir, "jem.db"), template_id, owners, say=say)
    result["store_fill_s"] = time.monotonic() - t
    room = args.max_job_count or (DEFAULT_MAX_JOB_COUNT if args.queued + 20_000 <= DEFAULT_MAX_JOB_COUNT
                                  else args.queued + 20_000)
    from jem.security import ca
    ca.issue_node_cert(security_dir, PROBE_NODE, hosts=["127.0.0.1"])
    edit_config(os.path.join(state_dir, "jem.toml"), max_job_count=None if room == DEFAULT_MAX_JOB_COUNT else room,
                scheduler=args.scheduler, probe_cpus=1, probe_mem_mib=1024)
    result["max_job_count"] = room
    log_path = os.path.join(state_dir, "logs", "controller.log")
    restart_log_start = os.path.getsize(log_path) if os.path.exists(log_path) else 0
    t = time.monotonic()
    controller = start_controller(state_dir)
    def served() -> str:
        if controller.poll() is not None:
            raise SystemExit(f"the controller exited with status {controller.returncode}; see its log")
        return _read(os.path.join(state_dir, "controller.addr"))

    address = _wait_for("the controller to serve again", served, 600)
    result["controller_start_s"] = time.monotonic() - t
    node_address = _read(os.path.join(state_dir, "node.addr"))
    say(f"controller restarted with the queue in {result['controller_start_s']:.1f} s (pid {controller.pid})")
    root = Client(address)
    try:
        root.drain_node(PROBE_NODE, "load benchmark: heartbeat probe only")   # (it runs no job)
        _wait_for("every node up", lambda: all(
            i.state is not NodeState.DOWN for i in root.list_nodes() if i.node.name in real_nodes)
            and real_nodes <= {i.node.name for i in root.list_nodes()}, 120, 0.5)
        # Steady state: two cycles with every node up (the first plans the whole queue anew, its
        # nodes registered; what the restart costs is reported apart, restart_*).
        settled_from = os.path.getsize(log_path)
        _wait_for("two scheduling cycles with every node up",
                  lambda: len(CYCLE_LINE.findall(_read_from(log_path, settled_from))) >= 2, 600, 0.2)
        restart = cycle_figures(log_path, restart_log_start, os.path.getsize(log_path))
        result["restart_cycles"], result["restart_cycle_ms_max"] = restart["cycles"], restart["cycle_ms_max"]
        result["controller_rss_loaded_mib"] = psutil.Process(controller.pid).memory_info().rss / 2**20
        # The queue as the controller sees it: one full listing.
        t = time.monotonic()
        jobs = root.list_jobs(JobFilter(states=SQUEUE_STATES))
        result["first_list_all_s"] = time.monotonic() - t
        pending = sum(1 for j in jobs if j.state is JobState.PENDING)
        result["queue_listed"], result["queue_pending"] = len(jobs), pending
        say(f"queue: {len(jobs)} jobs listed ({pending} pending) in "
            f"{result['first_list_all_s']:.1f} s; controller RSS {result['controller_rss_loaded_mib']:.0f} MiB")
        if pending < args.queued:
            raise RuntimeError(f"the controller lists {pending} pending jobs, not {args.queued}")
        del jobs

        ctx = mp.get_context("spawn")
        common = Common(address=address, ca_file=ca_file, go=ctx.Event(), stop=ctx.Event(), results=ctx.Queue())
        processes = [ctx.Process(target=lister, args=(common, i, "user", name, tokens[name], args.list_hz), daemon=True)
                     for i, name in enumerate(listers)]
        if args.all_hz > 0:
            processes.append(ctx.Process(target=lister, args=(common, 0, "all", listers[0], tokens[listers[0]],
                                                              args.all_hz), daemon=True))
        submit_users = listers[:args.submitters]
        if submit_users:
            processes.append(ctx.Process(target=submitters, args=(common, [tokens[n] for n in submit_users],
                                                                  args.submit_interval_s, args.env_vars), daemon=True))
        if args.flood:
            processes.append(ctx.Process(target=flooder, args=(common, tokens[flood_user], args.env_vars), daemon=True))
        processes.append(ctx.Process(target=heartbeat_probe, args=(common, node_address, security_dir, 1, 1024),
                                     daemon=True))
        for process in processes:
            process.start()
        n_ready = 0
        deadline = time.monotonic() + 300
        while n_ready < len(processes):
            try:
                message = common.results.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise RuntimeError(f"only {n_ready} of {len(processes)} load processes started") from None
            if message[0] == "ready":
                n_ready += 1
        say(f"{len(processes)} load processes ready; measuring for {args.duration_s} s")
        log_start = os.path.getsize(log_path)
        watcher = Watcher(root, controller.pid)
        watcher.start()
        profiler = py_spy(controller.pid, args.duration_s, args.profile) if args.profile else None
        common.go.set()
        t_go = time.monotonic()
        while time.monotonic() - t_go < args.duration_s:
            time.sleep(min(10.0, args.duration_s - (time.monotonic() - t_go)))
            if watcher.rss_mib:
                say(f"  {time.monotonic() - t_go:.0f} s: controller RSS {watcher.rss_mib[-1]:.0f} MiB, "
                    f"CPU {watcher.cpu_percent[-1]:.0f}%, nodes down so far {len(watcher.down_transitions)}")
        common.stop.set()
        log_end = os.path.getsize(log_path)
        watcher.stop()
        reports: dict = {}
        deadline = time.monotonic() + 180
        n_expected = len(processes)
        while len(reports) < n_expected and time.monotonic() < deadline:
            try:
                kind, index, data = common.results.get(timeout=5)
            except queue.Empty:
                continue
            if kind != "ready":
                reports[(kind, index)] = data
        for process in processes:
            process.join(10)
        if profiler is not None:
            profiler.wait(60)
            result["profile"] = args.profile
        result.update(summarize(reports, watcher, args))
        result.update(cycle_figures(log_path, log_start, log_end))
        result["controller_rss_mib"] = psutil.Process(controller.pid).memory_info().rss / 2**20
        result["controller_rss_max_mib"] = max([result["controller_rss_mib"], *watcher.rss_mib])
        result["controller_rss_peak_mib"] = max(result["controller_rss_max_mib"], result["controller_rss_loaded_mib"])
        result["controller_cpu_percent_mean"] = (sum(watcher.cpu_percent) / len(watcher.cpu_percent)
                                                 if watcher.cpu_percent else None)
        result["processes_reported"] = f"{len(reports)}/{n_expected}"
    finally:
        root.close()
    return result


def summarize(reports: dict, watcher: Watcher, args: argparse.Namespace) -> dict:
    out: dict = {"list_user_what": "the user's own jobs in squeue's default states (squeue --me), "
                                   f"{args.clients} clients at {args.list_hz} Hz each",
                 "list_all_what": f"every job in squeue's default states (plain squeue), one client, "
                                  f"back to back up to {args.all_hz} Hz"}
    user = [r for (kind, _), r in reports.items() if kind == "user"]
    samples = [s for r in user for s in r["samples_ms"]]
    out["squeue_user_p50_ms"], out["squeue_user_p99_ms"] = percentile(samples, 50), percentile(samples, 99)
    out["squeue_user_max_ms"] = max(samples, default=None)
    out["squeue_user_rows"] = max((r["rows"] for r in user), default=0)
    out["squeue_user_rate_hz_total"] = sum(r["rate_hz"] for r in user)
    out["squeue_user_errors"] = _merged(r["errors"] for r in user)
    everything = reports.get(("all", 0))
    if everything:
        out["squeue_all_p50_ms"] = percentile(everything["samples_ms"], 50)
        out["squeue_all_p99_ms"] = percentile(everything["samples_ms"], 99)
        out["squeue_all_n"] = len(everything["samples_ms"])
        out["squeue_all_rows"] = everything["rows"]
        out["squeue_all_rate_hz"] = everything["rate_hz"]
        out["squeue_all_errors"] = everything["errors"]
    submit = reports.get(("submit", 0))
    if submit:
        out["submit_users"] = args.submitters
        out["submit_n"] = len(submit["samples_ms"])
        out["submit_p50_ms"] = percentile(submit["samples_ms"], 50)
        out["submit_p99_ms"] = percentile(submit["samples_ms"], 99)
        out["submit_max_ms"] = max(submit["samples_ms"], default=None)
        out["submit_errors"] = submit["errors"]
    flood = reports.get(("flood", 0))
    if flood:
        elapsed = flood["elapsed_s"] or 1.0
        out["flood_sent_per_s"] = flood["sent"] / elapsed
        out["flood_accepted_per_s"] = flood["accepted"] / elapsed
        out["flood_accepted"], out["flood_rate_limited"] = flood["accepted"], flood["rate_limited"]
        out["flood_other_errors"] = flood["other"]
        out["flood_accepted_p99_ms"] = percentile(flood["accepted_ms"], 99)
    beat = reports.get(("heartbeat", 0))
    if beat:
        out["heartbeat_n"] = len(beat["samples_ms"])
        out["heartbeat_p50_ms"] = percentile(beat["samples_ms"], 50)
        out["heartbeat_p99_ms"] = percentile(beat["samples_ms"], 99)
        out["heartbeat_max_ms"] = max(beat["samples_ms"], default=None)
        out["heartbeat_errors"] = beat["errors"]
        out["heartbeat_reregistered"] = beat["reregistered"]
    out["agent_heartbeat_gap_max_s"] = max(watcher.heartbeat_gaps_s, default=None)
    out["agent_heartbeat_silence_max_s"] = watcher.max_silence_s
    out["nodes_marked_down"] = len(watcher.down_transitions)
    out["nodes_down_names"] = sorted({name for name, _ in watcher.down_transitions})
    out["list_nodes_p99_ms"] = percentile(watcher.poll_ms, 99)
    out["list_nodes_errors"] = watcher.poll_errors
    return out


def _merged(dicts) -> dict:
    merged: dict = {}
    for d in dicts:
        for key, value in d.items():
            merged[key] = merged.get(key, 0) + value
    return merged


def targets(result: dict) -> dict:
    def below(key: str, limit: float):
        value = result.get(key)
        return None if value is None else value < limit

    return {"submit_p99_lt_50ms": below("submit_p99_ms", 50), "heartbeat_p99_lt_1s": below("heartbeat_p99_ms", 1000),
            "no_node_down": result.get("nodes_marked_down") == 0 and not result.get("log_node_down_lines"),
            "rss_lt_1gb": below("controller_rss_peak_mib", 1024)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queued", type=int, default=100_000, help="jobs in the queue (default 100000)")
    parser.add_argument("--queue", choices=["blocked", "waiting", "held"], default="blocked",
                        help="the queued jobs: blocked (eligible, waiting for resources: every scheduling cycle "
                             "plans them all; default), waiting (until --begin tomorrow) or held")
    parser.add_argument("--clients", type=int, default=10, help="listing clients, one user each (default 10)")
    parser.add_argument("--duration-s", type=int, default=60, help="measurement window (default 60)")
    parser.add_argument("--list-hz", type=float, default=10.0, help="each listing client's rate (default 10)")
    parser.add_argument("--all-hz", type=float, default=1.0,
                        help="the whole-queue lister's rate at most (default 1; 0: none)")
    parser.add_argument("--own-jobs", type=int, default=100, help="queued jobs of each listing user (default 100)")
    parser.add_argument("--bulk-users", type=int, default=5, help="users owning the rest of the queue (default 5)")
    parser.add_argument("--submitters", type=int, default=4,
                        help="of the listing users, how many also submit normally (default 4)")
    parser.add_argument("--submit-interval-s", type=float, default=0.2, help="each normal user's pace (default 0.2)")
    parser.add_argument("--no-flood", dest="flood", action="store_false", help="no flooding user")
    parser.add_argument("--env-vars", type=int, default=40, help="exported variables per job (default 40, ~2.5 KB)")
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--cpus-per-node", type=int, default=16)
    parser.add_argument("--mem-per-node", type=int, default=4096)
    parser.add_argument("--max-job-count", type=int, default=0,
                        help="[scheduler] max_job_count (default: 100000, or the queue + 20000 when that is more)")
    parser.add_argument("--scheduler", action="append", default=[], metavar="KEY=VALUE",
                        help="a [scheduler] setting of jem.toml, in TOML's syntax (repeatable), "
                             "e.g. estimate_depth=0")
    parser.add_argument("--keep-log", default="", metavar="FILE", help="copy the controller's log to FILE")
    parser.add_argument("--profile", default="", metavar="FILE",
                        help="py-spy record the controller over the window into FILE (raw format)")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    if os.geteuid() != 0:
        parser.error("run as root: the benchmark creates Unix users (useradd) and mints their tokens")
    if args.clients < 1 or args.queued < args.clients:
        parser.error("--clients must be at least 1 and --queued at least --clients")
    say = quiet if args.json else log
    users = {"listers": [f"{USER_PREFIX}u{i}" for i in range(args.clients)], "flood": f"{USER_PREFIX}flood",
             "bulk": [f"{USER_PREFIX}b{i}" for i in range(args.bulk_users)]}
    t_begin = time.monotonic()
    created: list[str] = []
    root_dir = tempfile.mkdtemp(prefix="jem-load-")
    os.chmod(root_dir, 0o755)
    state_dir = os.path.join(root_dir, "state")
    try:
        created = create_users([*users["listers"], users["flood"], *users["bulk"]])
        result = run(args, state_dir, users, say)
    finally:
        if args.keep_log and os.path.exists(os.path.join(state_dir, "logs", "controller.log")):
            shutil.copyfile(os.path.join(state_dir, "logs", "controller.log"), args.keep_log)
        if os.path.exists(os.path.join(state_dir, "pids")):
            try:
                jem("down", state_dir=state_dir)
            except subprocess.CalledProcessError as exc:
                say(f"jem down failed: {exc}")
        remove_users(created)
        shutil.rmtree(root_dir, ignore_errors=True)
    result["total_s"] = time.monotonic() - t_begin
    result["targets_met"] = targets(result)
    result = {k: round(v, 2) if isinstance(v, float) else v for k, v in result.items()}
    if not args.json:
        print(f"# JEM load, {os.cpu_count()} CPUs", file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
