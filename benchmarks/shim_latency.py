"""Wall time of each user command against an idle cluster, JEM's and (with --slurm) the real Slurm's on this
machine side by side, and of calls started all at once (--burst); prints one JSON line.

    python benchmarks/shim_latency.py                  # JEM, through the resident command server
    python benchmarks/shim_latency.py --slurm          # and the same commands against the Slurm on this host
    python benchmarks/shim_latency.py --no-server      # JEM_NO_SERVER=1: every JEM call in-process
    python benchmarks/shim_latency.py --queued 10000 --runs 10
    python benchmarks/shim_latency.py --queued 0 --burst 1000   # 1000 sinfo, scontrol show job, jem show at once

JEM: starts `jem up` (one node, 64 CPUs) and the `jem slurm-path` wrappers in a
temporary directory, with the command server in its own runtime directory, and
runs hyperfine (`-N`, warm-up calls first, so the server is up) on `sbatch`,
`squeue`, `sacct -j N`, `scontrol show job N`, `sinfo`, `salloc --no-shell`
and the native `jem submit` and `jem jobs`, both through the `jem` of `jem
slurm-path` and through the `jem` script installed beside this interpreter
(`installed_jem_*`). Then it queues `--queued` held jobs (through the Python client)
and times `squeue` again, and with them queued also its other listing paths:
`-o` with a dozen fields, `-O`, `-t PD -u USER` and `--json` (`--no-formats`:
the default format only). Reports hyperfine's median wall time of each in ms.

--slurm: the same commands, from /usr/bin, against the Slurm already running
on this host (never started or stopped here): its held jobs are `sbatch -H`
one by one (an array would show as one line), after checking its MaxJobCount.
Every job it makes is named `jem-shim-bench*` and cancelled at the end.

--burst N: N calls each of `sinfo`, `scontrol show job N` and `jem show N`
released at the same instant (all waiting on one FIFO first), against the warm
server: how many answered exactly as one call alone does, and the wall time
until the last one did.

It imports only the installed `jem` (no path into a checkout), so it runs from
a non-editable install in any directory. Everything it started is stopped.
"""

import argparse
import getpass
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

JEM = [sys.executable, "-m", "jem.cli.main"]
INSTALLED_JEM = os.path.join(os.path.dirname(sys.executable), "jem")   # beside this interpreter
NAME = "jem-shim-bench"   # every job this makes (the Slurm side cancels them by name)
JEM_NODE_CPUS = 64        # so that the salloc runs (one CPU each) never wait for one another


def idle_commands(job_id: str) -> dict[str, str]:
    """Figure name -> command, timed on an idle cluster; `job_id` is a job that exists there."""
    return {
        "sbatch_ms": f"sbatch -J {NAME} -o /dev/null --wrap true",
        "squeue_ms": "squeue",
        "sacct_ms": f"sacct -j {job_id}",
        "scontrol_show_job_ms": f"scontrol show job {job_id}",
        "sinfo_ms": "sinfo",
        "salloc_no_shell_ms": f"salloc --no-shell -J {NAME}-salloc -n 1 --mem=10M -t 10",
        "jem_submit_ms": f"jem submit -J {NAME} -o /dev/null --wrap true",
        "jem_jobs_ms": "jem jobs",
        # The installed `jem` (the compiled launcher; its first call, untimed, ran jem-python, which
        # recorded the server's key for it).
        "installed_jem_submit_ms": f"{INSTALLED_JEM} submit -J {NAME} -o /dev/null --wrap true",
        "installed_jem_jobs_ms": f"{INSTALLED_JEM} jobs",
    }


# squeue's listing paths timed with the held jobs queued: figure name -> command.
LISTINGS = {
    "squeue_ms": "squeue",
    "squeue_o_ms": "squeue -o '%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R %V %S %E %K'",
    "squeue_O_ms": "squeue -O jobid,name,state,timeused,numnodes,reasonlist",
    "squeue_t_u_ms": f"squeue -t PD -u {getpass.getuser()}",
    "squeue_json_ms": "squeue --json",
}


def median_ms(env: dict, command: str, *, runs: int, cwd: str, prepare: str | None = None) -> float | None:
    """hyperfine's median of `command` in ms; None when the command fails (the reason on stderr)."""
    out = os.path.join(cwd, "hyperfine.json")
    argv = ["hyperfine", "-N", "--warmup", "3", "--runs", str(runs), "--export-json", out, command]
    if prepare:
        argv[1:1] = ["--prepare", prepare]
    result = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        print(f"{command!r} failed: {result.stderr.strip()[-500:]}", file=sys.stderr)
        return None
    with open(out) as f:
        return round(json.load(f)["results"][0]["median"] * 1000, 1)


def run(env: dict, command: str, cwd: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(shlex.split(command), env=env, cwd=cwd, capture_output=True, text=True, **kwargs)


class JemCluster:
    """A one-node `jem up` in `root`, with the Slurm-named commands and `jem` first on PATH."""

    name = "jem"

    def __init__(self, root: str, *, use_server: bool):
        self.root = root
        self.state_dir = os.path.join(root, "state")
        up = subprocess.run([*JEM, "up", "--nodes", "1", "--cpus-per-node", str(JEM_NODE_CPUS), "--state-dir",
                             self.state_dir], capture_output=True, text=True)
        if up.returncode != 0:   # what it did start, it stops
            self.stop()
            raise SystemExit(f"jem up failed: {up.stderr.strip()}")
        env = dict(os.environ, JEM_RUNTIME_DIR=os.path.join(root, "run"))
        if not use_server:
            env["JEM_NO_SERVER"] = "1"
        with open(os.path.join(self.state_dir, "env")) as f:
            for line in f:
                key, value = line.removeprefix("export ").strip().split("=", 1)
                env[key] = value
        path = subprocess.run([*JEM, "slurm-path", "--state-dir", self.state_dir], check=True, capture_output=True,
                              text=True, env=env).stdout.strip()
        env["PATH"] = f"{path}:{env['PATH']}"   # (its `jem` too: the stub `jem slurm-path` writes)
        self.env = env

    def queue_held(self, n_jobs: int) -> None:
        from jem.client import Client
        from jem.model.job import JobSpec

        os.environ["JEM_CONFIG"] = self.env["JEM_CONFIG"]   # the cluster's CA and credential service
        with Client(self.env["JEM_CONTROLLER"]) as client:
            for i in range(n_jobs):
                client.submit(JobSpec(script="#!/bin/sh\ntrue\n", name=f"{NAME}-held", hold=True, working_dir="/tmp"))

    def stop(self) -> None:
        if hasattr(self, "env"):
            subprocess.run([*JEM, "slurm-path", "--stop-server"], env=self.env, capture_output=True)
        subprocess.run([*JEM, "down", "--state-dir", self.state_dir], capture_output=True)


class SlurmCluster:
    """The Slurm running on this host, its commands from /usr/bin; only the jobs made here are touched."""

    name = "slurm"

    def __init__(self, root: str):
        self.root = root
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("JEM_", "SLURM_", "SBATCH_", "SQUEUE_"))}
        self.env["PATH"] = "/usr/bin:/bin"
        check = run(self.env, "sinfo -h", root)
        if check.returncode != 0:
            raise SystemExit(f"--slurm: no Slurm answers on this host: {check.stderr.strip()}")
        self.config = self._limits()

    def _limits(self) -> dict:
        config = {}
        for line in run(self.env, "scontrol show config", self.root, check=True).stdout.splitlines():
            key, _, value = line.partition("=")
            if key.strip() in ("MaxJobCount", "MaxArraySize", "SLURM_VERSION"):
                config[key.strip()] = value.strip()
        return config

    def queue_held(self, n_jobs: int) -> None:
        queued = len(run(self.env, "squeue -h -o %i", self.root, check=True).stdout.split())
        if queued + n_jobs > int(self.config["MaxJobCount"]):
            raise SystemExit(f"--slurm: {queued} jobs queued + {n_jobs} > MaxJobCount {self.config['MaxJobCount']}")
        # One by one (an array would be one line of squeue), four at a time.
        subprocess.run(["xargs", "-P", "4", "-n", "1", "sh", "-c", f"sbatch -H -J {NAME}-held -o /dev/null --wrap true"
                        " >/dev/null"], input="\n".join(map(str, range(n_jobs))), env=self.env, cwd=self.root,
                       check=True, text=True)

    def stop(self) -> None:
        for suffix in ("", "-salloc", "-held"):
            run(self.env, f"scancel --name={NAME}{suffix}", self.root)


def time_idle(cluster, *, runs: int) -> dict:
    job_id = run(cluster.env, f"sbatch --parsable -J {NAME} -o /dev/null --wrap true", cluster.root,
                 check=True).stdout.strip().split(";")[0]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not run(cluster.env, f"sacct -n -X -j {job_id}", cluster.root).stdout:
        time.sleep(0.2)   # until accounting has it (Slurm's slurmdbd gets it a moment later)
    figures = {}
    for name, command in idle_commands(job_id).items():
        if "jem_" in name and cluster.name != "jem":
            continue
        prepare = f"scancel --name={NAME}-salloc" if name.startswith("salloc") else None
        figures[name] = median_ms(cluster.env, command, runs=runs, cwd=cluster.root, prepare=prepare)
    return figures


def time_queued(cluster, n_jobs: int, *, runs: int, all_formats: bool) -> dict:
    cluster.queue_held(n_jobs)
    listings = LISTINGS if all_formats else {"squeue_ms": LISTINGS["squeue_ms"]}
    return {name.replace("_ms", f"_{n_jobs}_queued_ms"): median_ms(cluster.env, command, runs=runs, cwd=cluster.root)
            for name, command in listings.items()}


def burst(cluster, command: str, n_calls: int) -> dict:
    """`command` started `n_calls` times at the same instant: each forked child opens its own output files and
    waits for a shared flock that this process holds, then execs; the lock is let go when all are forked."""
    import fcntl

    argv = shlex.split(command)
    alone = run(cluster.env, command, cluster.root)
    directory = tempfile.mkdtemp(prefix="burst-", dir=cluster.root)
    gate_path = os.path.join(directory, "gate")
    gate = os.open(gate_path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(gate, fcntl.LOCK_EX)
    pids = [_start_waiting(argv, cluster, os.path.join(directory, str(i)), gate) for i in range(n_calls)]
    t_release = time.monotonic()
    os.close(gate)
    ends, codes = {}, {}
    while len(ends) < n_calls:
        pid, status = os.wait()
        ends[pid], codes[pid] = time.monotonic() - t_release, os.waitstatus_to_exitcode(status)
    n_answered = n_identical = 0
    for i, pid in enumerate(pids):
        with open(os.path.join(directory, f"{i}.out")) as out, open(os.path.join(directory, f"{i}.err")) as err:
            stdout, stderr = out.read(), err.read()
        n_answered += codes[pid] == 0 and bool(stdout) and not stderr
        n_identical += (codes[pid], stdout, stderr) == (alone.returncode, alone.stdout, alone.stderr)
    latencies = sorted(ends.values())
    shutil.rmtree(directory, ignore_errors=True)
    return {"calls": n_calls, "answered": n_answered, "identical_to_one_call": n_identical,
            "median_s": round(latencies[len(latencies) // 2], 2), "last_s": round(latencies[-1], 2)}


def _start_waiting(argv: list[str], cluster, output: str, gate: int) -> int:
    """Fork a child that waits for the gate (a shared flock of the file that `gate`, held exclusively by this
    process, is open on), then execs `argv` with its stdout and stderr in `output`.out and .err."""
    import fcntl

    pid = os.fork()
    if pid:
        return pid
    try:
        gate_path = f"/proc/self/fd/{gate}"
        waiting = os.open(gate_path, os.O_RDONLY | os.O_CLOEXEC)
        os.close(gate)   # (the exclusive lock's own description: held, it would keep the gate shut on us)
        for fd, suffix in ((1, ".out"), (2, ".err")):
            os.dup2(os.open(output + suffix, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), fd)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.chdir(cluster.root)
        fcntl.flock(waiting, fcntl.LOCK_SH)
        os.execvpe(argv[0], argv, cluster.env)
    finally:
        os._exit(127)


def time_bursts(cluster, n_calls: int) -> dict:
    job_id = run(cluster.env, f"sbatch --parsable -H -J {NAME}-held -o /dev/null --wrap true", cluster.root,
                 check=True).stdout.strip().split(";")[0]
    commands = {"sinfo": "sinfo", "scontrol_show_job": f"scontrol show job {job_id}"}
    if cluster.name == "jem":
        commands["jem_show"] = f"jem show {job_id}"
    return {f"burst_{name}": burst(cluster, command, n_calls) for name, command in commands.items()}


def measure(cluster, args) -> dict:
    figures = time_idle(cluster, runs=args.runs)
    if args.burst:
        figures.update(time_bursts(cluster, args.burst))
    if args.queued:
        figures.update(time_queued(cluster, args.queued, runs=max(5, args.runs // 3), all_formats=not args.no_formats))
    return figures


def python_start_ms(runs: int) -> dict:
    """What any Python command pays before its own code: this interpreter with no site (the Slurm-named
    wrappers' Python fallback) and with site (the installed `jem-python`, what `jem` runs when it
    cannot hand a call over itself)."""
    return {name: median_ms(dict(os.environ), f"{sys.executable} {flags} -c pass", runs=runs, cwd=tempfile.gettempdir())
            for name, flags in (("python_IS_ms", "-I -S"), ("python_site_ms", "-I"))}


def side_by_side(result: dict) -> str:
    """The figures as a Markdown table: one row per figure, a column per system."""
    systems = [s for s in ("jem", "slurm") if s in result]
    names = list(dict.fromkeys(n for s in systems for n in result[s]))
    lines = ["| figure | " + " | ".join(systems) + " |", "| --- |" + " --- |" * len(systems)]
    for name in names:
        cells = [json.dumps(result[s].get(name)) for s in systems]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slurm", action="store_true", help="also time the Slurm running on this host (/usr/bin)")
    parser.add_argument("--no-server", action="store_true", help="JEM_NO_SERVER=1: run every JEM call in-process")
    parser.add_argument("--queued", type=int, default=10000, help="held jobs queued for the last squeue (0: skip)")
    parser.add_argument("--runs", type=int, default=30, help="hyperfine runs per command")
    parser.add_argument("--no-formats", action="store_true", help="with --queued, time the default squeue only")
    parser.add_argument("--burst", type=int, default=0, metavar="N",
                        help="N concurrent calls of sinfo, scontrol show job and jem show (the issue's figure: 1000)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))   # (so that the clusters are stopped)
    if args.burst and args.no_server:
        parser.error("--burst measures the command server: a thousand in-process calls would need ~60 GB")
    if shutil.which("hyperfine") is None:
        parser.error("needs hyperfine (apt-get install -y hyperfine)")
    result = {"server": not args.no_server, "load_average_before": list(os.getloadavg()),
              "python_start": python_start_ms(args.runs)}
    root = tempfile.mkdtemp(prefix="jem-shim-bench-")
    try:
        for system in ("jem", "slurm") if args.slurm else ("jem",):
            os.makedirs(os.path.join(root, system))
            cluster = (JemCluster(os.path.join(root, system), use_server=not args.no_server) if system == "jem"
                       else SlurmCluster(os.path.join(root, system)))
            try:
                result[system] = measure(cluster, args)
            finally:
                cluster.stop()
            if system == "slurm":
                result["slurm_config"] = cluster.config
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result["load_average_after"] = list(os.getloadavg())
    print(side_by_side(result), file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
