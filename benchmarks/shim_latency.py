"""Wall time of one Slurm-compatible command against an idle `jem up` cluster; prints one JSON line.

    python benchmarks/shim_latency.py                 # resident command server (the default)
    python benchmarks/shim_latency.py --no-server     # JEM_NO_SERVER=1: every call in-process
    python benchmarks/shim_latency.py --queued 10000 --runs 10

Starts `jem up` (one node) and the `jem slurm-path` wrappers in a temporary
directory, with the command server in its own runtime directory, and runs
hyperfine (`-N`, warm-up calls first, so the server is up) on `sbatch --wrap
true`, `squeue` and `sacct -j N`, then queues `--queued` held jobs (through
the Python client, ~5 ms each) and times `squeue` again, and with them queued
also squeue's other listing paths: `-o` with a dozen fields, `-O`, `-t PD -u
USER` and `--json` (skipped with `--no-formats`). Reports hyperfine's median
wall time of each in ms. Everything it started is stopped at the end.
"""

import argparse
import getpass
import json
import os
import shutil
import subprocess
import sys
import tempfile

JEM = [sys.executable, "-m", "jem.cli.main"]


def _median_ms(env: dict, command: str, *, runs: int, cwd: str) -> float:
    out = os.path.join(cwd, "hyperfine.json")
    subprocess.run(["hyperfine", "-N", "--warmup", "3", "--runs", str(runs), "--export-json", out, command],
                   env=env, cwd=cwd, check=True, capture_output=True)
    with open(out) as f:
        return round(json.load(f)["results"][0]["median"] * 1000, 1)


# squeue's listing paths timed with the held jobs queued: figure name -> command.
LISTINGS = {
    "squeue_o_ms": "squeue -o '%.18i %.9P %.8j %.8u %.2t %.10M %.6D %R %V %S %E %K'",
    "squeue_O_ms": "squeue -O jobid,name,state,timeused,numnodes,reasonlist",
    "squeue_t_u_ms": f"squeue -t PD -u {getpass.getuser()}",
    "squeue_json_ms": "squeue --json",
}


def _queue_held_jobs(env: dict, n_jobs: int) -> None:
    from jem.client import Client
    from jem.model.job import JobSpec

    os.environ["JEM_CONFIG"] = env["JEM_CONFIG"]   # the cluster's CA and credential service
    with Client(env["JEM_CONTROLLER"]) as client:
        for i in range(n_jobs):
            client.submit(JobSpec(script="#!/bin/sh\ntrue\n", name=f"held{i}", hold=True, working_dir="/tmp"))


def _cluster_env(root: str, *, use_server: bool) -> dict:
    state = os.path.join(root, "state")
    up = subprocess.run([*JEM, "up", "--nodes", "1", "--state-dir", state], capture_output=True, text=True)
    if up.returncode != 0:   # what it did start, it stops
        subprocess.run([*JEM, "down", "--state-dir", state], capture_output=True)
        raise SystemExit(f"jem up failed: {up.stderr.strip()}")
    env = dict(os.environ, JEM_RUNTIME_DIR=os.path.join(root, "run"))
    if not use_server:
        env["JEM_NO_SERVER"] = "1"
    with open(os.path.join(state, "env")) as f:
        for line in f:
            key, value = line.removeprefix("export ").strip().split("=", 1)
            env[key] = value
    path = subprocess.run([*JEM, "slurm-path", "--state-dir", state], check=True, capture_output=True, text=True,
                          env=env).stdout.strip()
    env["PATH"] = f"{path}:{env['PATH']}"
    return env


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-server", action="store_true", help="JEM_NO_SERVER=1: run every call in-process")
    parser.add_argument("--queued", type=int, default=10000, help="held jobs queued for the last squeue (0: skip)")
    parser.add_argument("--runs", type=int, default=30, help="hyperfine runs per command")
    parser.add_argument("--no-formats", action="store_true", help="with --queued, time the default squeue only")
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="jem-shim-bench-")
    try:
        env = _cluster_env(root, use_server=not args.no_server)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        job_id = subprocess.run(["sbatch", "--parsable", "--wrap", "true"], env=env, cwd=root, check=True,
                                capture_output=True, text=True).stdout.strip()
        figures = {"server": not args.no_server}
        for name, command in (("sbatch_ms", "sbatch --wrap true"), ("squeue_ms", "squeue"),
                              ("sacct_ms", f"sacct -j {job_id}")):
            figures[name] = _median_ms(env, command, runs=args.runs, cwd=root)
        if args.queued:
            _queue_held_jobs(env, args.queued)
            runs = max(5, args.runs // 3)
            figures[f"squeue_{args.queued}_queued_ms"] = _median_ms(env, "squeue", runs=runs, cwd=root)
            for name, command in ({} if args.no_formats else LISTINGS).items():
                figures[name.replace("_ms", f"_{args.queued}_queued_ms")] = _median_ms(env, command, runs=runs, cwd=root)
        figures["load_average"] = round(os.getloadavg()[0], 2)
        print(json.dumps(figures))
    finally:
        subprocess.run([*JEM, "slurm-path", "--stop-server"], env=env, capture_output=True)
        subprocess.run([*JEM, "down", "--state-dir", os.path.join(root, "state")], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
