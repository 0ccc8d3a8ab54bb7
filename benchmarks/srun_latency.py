"""Wall time of one `srun` through the Slurm-compatible command; prints one JSON line.

    python benchmarks/srun_latency.py --runs 20

Starts `jem up --nodes 2` in a temporary state directory and measures, median
and p90 in milliseconds, each over `--runs` calls:
- in_job_1task_ms: `srun -n 1 true` in a running 2-node job (found from
  SLURM_JOB_ID, as inside a batch script);
- in_job_2nodes_ms: `srun -n 4 true` over both nodes of that job;
- new_job_ms: `srun true` outside a job (submit, allocation, step, job end).
Each includes the command's Python start-up. Then `jem down`. Compare with the
real Slurm's `srun` (../shared/slurm-ref) on the same machine.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from jem.client import Client
from jem.model.job import JobSpec
from jem.model.states import JobState


def timed(argv: list[str], env: dict, runs: int) -> dict:
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return {"median": round(statistics.median(samples), 1), "p90": round(samples[int(0.9 * (len(samples) - 1))], 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    jem = [sys.executable, "-m", "jem.cli.main"]
    with tempfile.TemporaryDirectory() as root:
        state_dir = os.path.join(root, "state")
        subprocess.run([*jem, "up", "--nodes", "2", "--cpus-per-node", "4", "--state-dir", state_dir], check=True,
                       stdout=subprocess.DEVNULL)
        try:
            env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
            with open(os.path.join(state_dir, "env")) as f:
                for line in f:
                    key, value = line.removeprefix("export ").strip().split("=", 1)
                    env[key] = value
            path = subprocess.run([*jem, "slurm-path", "--state-dir", state_dir], check=True, capture_output=True,
                                  text=True, env=env).stdout.strip()
            env["PATH"] = f"{path}:{env['PATH']}"
            srun = os.path.join(path, "srun")
            os.environ["JEM_CONFIG"] = env["JEM_CONFIG"]   # the cluster's CA and credential service
            with Client(env["JEM_CONTROLLER"]) as client:
                job_id = client.submit(JobSpec(script="#!/bin/sh\nsleep 3600\n", n_nodes=2, n_tasks=4,
                                               working_dir=root, stdout_pattern="/dev/null"))
                while client.get_job(job_id).state is not JobState.RUNNING:
                    time.sleep(0.05)
                in_job = dict(env, SLURM_JOB_ID=str(job_id))
                figures = {"in_job_1task_ms": timed([srun, "-n", "1", "true"], in_job, args.runs),
                           "in_job_2nodes_ms": timed([srun, "-n", "4", "true"], in_job, args.runs)}
                client.cancel(job_id)
                while not client.get_job(job_id).state.is_terminal:
                    time.sleep(0.05)
            figures["new_job_ms"] = timed([srun, "true"], env, args.runs)
        finally:
            subprocess.run([*jem, "down", "--state-dir", state_dir], stdout=subprocess.DEVNULL)
    print(json.dumps({"runs": args.runs, **figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
