"""Throughput and latency of a fresh local JEM cluster; prints one JSON line.

    python benchmarks/throughput.py --nodes 4 --jobs 500 --json

Starts `jem up` in a temporary state directory, then measures, through the
client library:
- submit rate: `--jobs` trivial jobs (`true`, output to /dev/null) submitted one
  after another, jobs per second;
- drain time: first submit to the last of those jobs completed (seen through
  WatchJobs), seconds;
- array drain time: one array of `--jobs` trivial tasks, submit to the last
  task ended, seconds;
- idle start latency: on an idle cluster, the time from just before SubmitJob
  to the job's first instruction (a `date` the script runs), median and p90 of
  `--latency-runs` jobs, milliseconds.
Then `jem down`. Compare with ../shared/slurm-ref/baseline.sh on the same machine.
"""

import argparse
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import threading
import time

from jem.client import Client
from jem.model.job import JobSpec
from jem.model.jobfilter import JobFilter
from jem.model.states import JobState

from localcluster import jem, use_cluster_env


def trivial(workdir: str, body: str = "true", out: str = "/dev/null") -> JobSpec:
    return JobSpec(script=f"#!/bin/sh\n{body}\n", name="bench", working_dir=workdir, stdout_pattern=out,
                   environment={"PATH": "/usr/bin:/bin"})


def measure_drain(client: Client, workdir: str, n_jobs: int) -> dict:
    ended: set[int] = set()
    all_done = threading.Event()
    ids: set[int] = set()
    ready = threading.Event()

    def watch() -> None:
        with Client(client.address) as watcher:
            stream = watcher.watch()
            ready.set()
            for notice in stream:
                if notice.job.state.is_terminal:
                    ended.add(notice.job.job_id)
                    if len(ids) == n_jobs and ids <= ended:
                        all_done.set()
                        return

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    ready.wait(10)
    time.sleep(0.2)  # the stream is subscribed once the server has seen it
    t0 = time.perf_counter()
    for _ in range(n_jobs):
        ids.add(client.submit(trivial(workdir)))
    t_submitted = time.perf_counter()
    if ids <= ended:
        all_done.set()
    all_done.wait(600)
    t_drained = time.perf_counter()
    jobs = client.list_jobs(JobFilter(job_ids=frozenset(ids)))
    completed = sum(1 for j in jobs if j.state is JobState.COMPLETED)
    return {"submit_s": t_submitted - t0, "submit_rate_jobs_per_s": n_jobs / (t_submitted - t0),
            "drain_s": t_drained - t0, "drain_jobs_per_s": n_jobs / (t_drained - t0), "completed": completed}


def measure_array_drain(client: Client, workdir: str, n_tasks: int) -> dict:
    """One array of `n_tasks` trivial tasks: submit to the last task ended (Slurm's baseline has the same)."""
    ended: set[int] = set()
    all_done, ready = threading.Event(), threading.Event()
    array: list[int] = []

    def watch() -> None:
        with Client(client.address) as watcher:
            stream = watcher.watch()
            ready.set()
            for notice in stream:
                job = notice.job
                if job.state.is_terminal and job.array_task_id is not None:
                    ended.add(job.array_task_id)
                    if len(ended) == n_tasks:
                        all_done.set()
                        return

    threading.Thread(target=watch, daemon=True).start()
    ready.wait(10)
    time.sleep(0.2)
    t0 = time.perf_counter()
    array.append(client.submit(dataclasses.replace(trivial(workdir), array=f"0-{n_tasks - 1}")))
    all_done.wait(600)
    t_drained = time.perf_counter()
    records = client.list_jobs(JobFilter(job_ids=frozenset(array)))
    completed = sum(1 for j in records if j.state is JobState.COMPLETED)
    return {"array_drain_s": t_drained - t0, "array_completed": completed}


def measure_latency(client: Client, workdir: str, runs: int) -> dict:
    samples = []
    for i in range(runs):
        stamp = os.path.join(workdir, f"lat-{i}")
        t0 = time.time()
        job_id = client.submit(trivial(workdir, body=f"date +%s.%N > {stamp}"))
        deadline = time.monotonic() + 30
        while not client.get_job(job_id).state.is_terminal and time.monotonic() < deadline:
            time.sleep(0.01)
        with open(stamp) as f:
            samples.append((float(f.read()) - t0) * 1000)
        time.sleep(0.2)
    samples.sort()
    return {"start_latency_ms_median": statistics.median(samples),
            "start_latency_ms_p90": samples[min(len(samples) - 1, round(0.9 * (len(samples) - 1)))],
            "start_latency_ms_min": samples[0], "start_latency_ms_max": samples[-1]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=4)
    parser.add_argument("--cpus-per-node", type=int, default=16)
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--latency-runs", type=int, default=20)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jem-bench-") as root:
        state_dir, workdir = os.path.join(root, "state"), os.path.join(root, "work")
        os.makedirs(workdir)
        jem("up", "--nodes", str(args.nodes), "--cpus-per-node", str(args.cpus_per_node), "--mem-per-node", "4096",
            state_dir=state_dir)
        try:
            with open(os.path.join(state_dir, "controller.addr")) as f:
                address = f.read().strip()
            use_cluster_env(state_dir)   # its client.toml: the CA and the credential service
            with Client(address) as client:
                result = {"nodes": args.nodes, "cpus_per_node": args.cpus_per_node, "jobs": args.jobs}
                result.update(measure_latency(client, workdir, args.latency_runs))
                result.update(measure_drain(client, workdir, args.jobs))
                result.update(measure_array_drain(client, workdir, args.jobs))
        finally:
            jem("down", state_dir=state_dir)
    result = {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}
    if not args.json:
        print(f"# JEM throughput, {os.cpu_count()} CPUs", file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
