"""Milliseconds for the REST gateway's `GET /v1/jobs?users=U` (one user's jobs among many), and
the same call over gRPC for comparison; prints one JSON line.

    python benchmarks/rest_jobs.py --mine 1000 --queued 100000 --json

A fresh `jem up` cluster and a `jem gateway` in front of it, both on loopback (the cluster with
TLS and authentication as always). Queued, held: `--mine` jobs of one user (`nobody`, through a
JWT root mints for it: its submissions are held to the per-user submit rate, so a few per second)
and the rest of `--queued` root's. Timed, the median of `--runs` after two warm-up calls, with a
kept HTTP connection as a portal keeps one: `rest_ms`, the gateway's answer to
`GET /v1/jobs?users=nobody` (every page, until its last byte; the JSON is parsed outside the time,
as a portal's own work), and `grpc_ms`, ListJobs of the same jobs from the Python client. Everything it
started is stopped. Imports only the installed `jem`.
"""

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from localcluster import jem, use_cluster_env

from jem.client import Client
from jem.model.jobfilter import JobFilter
from jem.model.job import JobSpec


def _queue(n: int, *, token: str | None = None) -> None:
    with Client(os.environ["JEM_CONTROLLER"], token=token) as client:
        for _ in range(n):
            client.submit(JobSpec(script="#!/bin/sh\ntrue\n", name="rest-bench", hold=True, working_dir="/tmp"))


def _get_all(connection: http.client.HTTPConnection, token: str) -> tuple[float, int]:
    """Every page of GET /v1/jobs?users=nobody: (seconds until the last page's last byte, how many jobs).
    Each page's JSON is parsed (for the next page's start) outside the time: a portal's parsing is its own."""
    n_jobs, after, elapsed = 0, 0, 0.0
    while True:
        t0 = time.perf_counter()
        connection.request("GET", f"/v1/jobs?users=nobody&after_job_id={after}",
                           headers={"Authorization": f"Bearer {token}"})
        response = connection.getresponse()
        body = response.read()
        elapsed += time.perf_counter() - t0
        page = json.loads(body)
        if response.status != 200:
            raise SystemExit(f"rest_jobs: {response.status} {page}")
        n_jobs += len(page["jobs"])
        after = int(page["next_after_job_id"])
        if not after:
            return elapsed, n_jobs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mine", type=int, default=1000)
    parser.add_argument("--queued", type=int, default=100000, help="jobs queued in all (mine among them)")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="jem-rest-bench-")
    state_dir = os.path.join(root, "state")
    gateway = None
    try:
        jem("up", "--nodes", "1", "--cpus-per-node", "2", state_dir=state_dir)
        use_cluster_env(state_dir)
        with Client(os.environ["JEM_CONTROLLER"]) as client:
            token = client.issue_token()[0]
            others = client.issue_token(user="nobody")[0]
        t0 = time.monotonic()
        _queue(args.mine, token=others)
        _queue(max(args.queued - args.mine, 0))
        queue_s = time.monotonic() - t0
        address_file = os.path.join(root, "gateway.addr")
        gateway = subprocess.Popen([sys.executable, "-m", "jem.cli.main", "gateway", "--listen", "127.0.0.1:0",
                                    "--address-file", address_file], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        while not os.path.exists(address_file):
            if gateway.poll() is not None:
                raise SystemExit("rest_jobs: the gateway did not start")
            time.sleep(0.05)
        host, _, port = open(address_file).read().strip().rpartition(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        rest_ms, grpc_ms = [], []
        n_mine = 0
        with Client(os.environ["JEM_CONTROLLER"]) as client:
            for run in range(args.runs + 2):
                rest_s, n_mine = _get_all(connection, token)
                t2 = time.perf_counter()
                listed = client.list_jobs(JobFilter(users=frozenset({"nobody"})))
                t3 = time.perf_counter()
                if run >= 2:
                    rest_ms.append(rest_s * 1000)
                    grpc_ms.append((t3 - t2) * 1000)
        assert n_mine == len(listed) == args.mine, (n_mine, len(listed))
        result = {"benchmark": "rest_jobs", "mine": args.mine, "queued": args.queued,
                  "rest_ms": round(statistics.median(rest_ms), 1), "grpc_ms": round(statistics.median(grpc_ms), 1),
                  "queue_s": round(queue_s, 1)}
        print(json.dumps(result))
        return 0
    finally:
        if gateway is not None:
            gateway.terminate()
            gateway.wait(10)
        jem("down", state_dir=state_dir)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
