"""Milliseconds to serve one scrape of the controller's metrics over a synthetic cluster, and the
microseconds each job change costs to keep their counts; prints one JSON line.

    python benchmarks/metrics_scrape.py --jobs 100000 --nodes 1000 --json

The jobs: a fifth running (on one to four nodes), a tenth ended, the rest pending (a tenth of those
held), of 2,000 users in 200 accounts, over 20 partitions of the nodes. Timed, the median of
`--runs`: `/metrics` as an operator sees it (jobs, nodes, partitions, scheduler: the figures from the
job index's tally and the nodes, then prometheus-client's OpenMetrics text), and apart from it the
per-user and per-account section (`/metrics/jobs-users-accts`); and `tally_update_us`, what the
controller pays per job change to keep the tally (jem.model.clusterfigures.JobTally), measured over
every job once. HTTP and TLS around a scrape are left out (a few ms, whatever the cluster's size).
The controller's state is a stand-in holding only what the metrics read; they take no lock, so no
scheduling cycle waits for a scrape. Imports only the installed `jem`.
"""

import argparse
import json
import random
import statistics
import time

from prometheus_client.openmetrics.exposition import generate_latest

from jem.controller.metrics import DEFAULT_SECTIONS, ControllerInstruments, ControllerMetrics, state_figures
from jem.controller.stats import ControllerStats
from jem.model.clusterfigures import JobTally
from jem.model.config import ClusterConfig, Config
from jem.model.job import Job, JobShape, JobSpec
from jem.model.node import Node
from jem.model.partition import Partition
from jem.model.resources import Resources
from jem.model.states import JobState


class _Nodes:
    def __init__(self, nodes):
        self._nodes = nodes

    def snapshot_unlocked(self):
        return list(self._nodes)


class _Jobs:
    def __init__(self, tally):
        self._tally = tally

    def tally_snapshot(self, *, with_owners: bool = True):
        return self._tally.snapshot(with_owners=with_owners)


class _Agents:
    in_flight = 0

    def error_counts(self):
        return {("LaunchJobs", "UNAVAILABLE"): 3}


class _State:
    """What ControllerMetrics reads of a controller's ClusterState."""

    def __init__(self, tally, nodes, partitions):
        self.config = Config(cluster=ClusterConfig(name="bench"), partitions=tuple(partitions))
        self.jobs, self.nodes, self.partitions = _Jobs(tally), _Nodes(nodes), tuple(partitions)
        self.stats, self.agents = ControllerStats(), _Agents()


def cluster(n_jobs: int, n_nodes: int, seed: int = 1) -> tuple[_State, float]:
    """The stand-in state, and the microseconds per job its tally's updates took."""
    rng = random.Random(seed)
    names = [f"n{i:05d}" for i in range(n_nodes)]
    partitions = [Partition(f"p{k}", tuple(names[k::20])) for k in range(20)]
    nodes = [Node(name, Resources(64, 256 * 1024), is_responding=rng.random() > 0.01) for name in names]
    ended = (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED, JobState.TIMEOUT)
    jobs = []
    for job_id in range(1, n_jobs + 1):
        roll = rng.random()
        n = rng.choice((1, 1, 1, 2, 4))
        state = JobState.RUNNING if roll < 0.2 else rng.choice(ended) if roll < 0.3 else JobState.PENDING
        on = tuple(rng.sample(names, n)) if state is JobState.RUNNING else ()
        user = rng.randrange(2000)
        job = Job(job_id=job_id, spec=JobSpec(script="", account=f"a{user % 200}", partition=f"p{rng.randrange(20)}"),
                  user=f"u{user}", uid=10000 + user, gid=100, submit_time=0.0,
                  shape=JobShape(n, n, Resources(rng.choice((1, 4, 16)), 4096)), time_limit_s=3600, state=state,
                  nodes=on, held_by="user" if state is JobState.PENDING and rng.random() < 0.1 else "",
                  start_time=1.0 if state is JobState.RUNNING else None)
        jobs.append(job)   # (the nodes' allocations are left empty: the figures read them, nothing plans here)
    tally = JobTally()
    t0 = time.perf_counter()
    for job in jobs:
        tally.update(job)   # (each an update of a job it had not seen: a remove of nothing, then the add)
    update_us = (time.perf_counter() - t0) * 1e6 / max(len(jobs), 1)
    return _State(tally, nodes, partitions), update_us


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100000)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    state, update_us = cluster(args.jobs, args.nodes)
    timings: dict[str, list[float]] = {"figures_ms": [], "scrape_ms": [], "users_accts_scrape_ms": []}
    sizes = {}
    for _ in range(args.runs):
        t0 = time.perf_counter()
        state_figures(state)
        timings["figures_ms"].append((time.perf_counter() - t0) * 1000)
        for name, sections in (("scrape_ms", DEFAULT_SECTIONS), ("users_accts_scrape_ms", ("jobs-users-accts",))):
            metrics = ControllerMetrics(state, ControllerInstruments())   # (a fresh source: the figures made again)
            t1 = time.perf_counter()
            body = generate_latest(metrics.registry(sections))
            timings[name].append((time.perf_counter() - t1) * 1000)
            sizes[name.replace("scrape_ms", "bytes")] = len(body)
    result = {"benchmark": "metrics_scrape", "jobs": args.jobs, "nodes": args.nodes,
              **{name: round(statistics.median(values), 1) for name, values in timings.items()},
              **sizes, "tally_update_us": round(update_us, 2)}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
