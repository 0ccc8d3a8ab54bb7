"""Seconds per backfill planning pass on a synthetic cluster; prints one JSON line.

    python benchmarks/backfill_pass.py --nodes 10000 --pending 100000 --running 20000 --policy easy --json
    python benchmarks/backfill_pass.py --nodes 1000 --pending 10000 --running 2000 --policy conservative --json
    python benchmarks/backfill_pass.py --nodes 100 --pending 300 --running 200 --policy easy --impl reference --json
    python benchmarks/backfill_pass.py --nodes 10000 --pending 100000 --running 20000 --limits --estimates 0 --json

The cluster: nodes with 64 CPUs and 256 GiB, every eighth with 4 GPUs. Jobs
are either 1-32 CPUs on one node (97% of the running, half of the pending ones)
or whole nodes, with heavy-tailed node counts (1 to 1,024, P(n) ~ 1/n over
powers of two), 2-8 GiB
per CPU, GPUs on a tenth of them, and round time limits (10 min to 2 days). The
running jobs are placed by a backfill pass on the empty cluster and given
random elapsed times (jobs that do not fit are dropped). Seeded: the same arguments give the same workload.
`--impl reference` runs the plain-Python oracle of tests/oracle/ instead of the
Cython core (only at small sizes: it is slow by design). `--level cycle` times
the controller's whole `plan_cycle` instead (snapshot objects -> priority
order -> arrays -> kernel -> decisions) on the same workload.

`--maintenance` adds one maintenance reservation (a tenth of the nodes blocked from 2 h to
6 h from now). `--limits` adds site policy: 200 accounts (GrpTRES=cpu= a share of the cluster)
and 2,000 users, ten per account (MaxJobs and MaxTRESPerUser-like per-user
limits as user associations: MaxJobs=20, GrpTRES=cpu=256), each job of a
random user, planned as resources over time. `--estimates N` gives the first N
waiting jobs an estimated start after the pass (default: all); 0 plans
reservations only. `--estimate-budget S` ends the estimates after S seconds and
`--forecast` forecasts the rest, as the controller does ([scheduler]
estimate_budget_ms, 300 by default):

    python benchmarks/backfill_pass.py --nodes 10000 --pending 100000 --running 20000 --estimate-budget 0.3 --forecast --json
"""

import argparse
import json
import pathlib
import resource
import sys
import time

import numpy as np

from jem._core import backfill as bf
from jem.model.accounting import add_accounts, add_users, new_table
from jem.model.associations import Association, Limits
from jem.model.tres import Tres, job_tres
from jem.scheduler.limits import LimitedJob, plan_limits
from jem.model.partition import Partition
from jem.model.resources import N_RES, Resources
from jem.scheduler.cycle import plan_cycle
from jem.scheduler.policy import POLICY_DEPTHS, Policy
from jem.scheduler.snapshot import NodeView, PendingJob, RunningJob, Snapshot

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from tests.oracle import backfill_ref  # noqa: E402

DEPTH = {"fcfs": 0, "easy": 1, "conservative": bf.CONSERVATIVE}
NOW = 1_700_000_000
CPUS, MEM_MIB, GPUS = 64, 256 * 1024, 4
LIMITS_S = np.array([600, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600, 48 * 3600], dtype=np.int64)


def cluster(n_nodes: int):
    capacity = np.zeros((n_nodes, N_RES), dtype=np.int64)  # (n_nodes, n_res)
    capacity[:, 0], capacity[:, 1] = CPUS, MEM_MIB
    capacity[::8, 2] = GPUS
    return capacity


def jobs(rng, n_jobs: int, n_nodes: int, *, p_small: float):
    """(requests (n, n_res), n_nodes_req (n,), duration_s (n,)) with heavy-tailed sizes;
    a fraction p_small are single-node jobs of 1-32 CPUs."""
    exponents = np.arange(11)                       # 1 .. 1024 nodes
    weights = 1.0 / 2.0 ** exponents
    n_req = 2 ** rng.choice(exponents, size=n_jobs, p=weights / weights.sum())
    small = rng.random(n_jobs) < p_small
    n_req = np.where(small, 1, np.minimum(n_req, max(n_nodes // 2, 1))).astype(np.int64)
    whole = ~small
    cpus = np.where(whole, CPUS, rng.integers(1, 33, size=n_jobs))
    mem = np.minimum(cpus * 1024 * rng.integers(2, 9, size=n_jobs), MEM_MIB)
    gpus = np.where(rng.random(n_jobs) < 0.1, rng.integers(1, GPUS + 1, size=n_jobs), 0)
    requests = np.ascontiguousarray(np.column_stack((cpus, mem, gpus)), dtype=np.int64)
    return requests, n_req, rng.choice(LIMITS_S, size=n_jobs, p=[.15, .15, .25, .2, .1, .1, .05])


def workload(n_nodes: int, n_pending: int, n_running: int, seed: int):
    rng = np.random.default_rng(seed)
    capacity = cluster(n_nodes)
    usable = np.ones(n_nodes, dtype=np.uint8)
    membership = np.ones((1, n_nodes), dtype=np.uint8)
    requests, n_req, limits = jobs(rng, n_running, n_nodes, p_small=0.97)
    empty = np.zeros(0, dtype=np.intp)
    status, _, offsets, nodes, _ = bf.backfill(
        capacity, usable, membership=membership, requests=requests, n_nodes_req=n_req,
        part_idx=np.zeros(n_running, dtype=np.intp), duration_s=np.ones(n_running, dtype=np.int64),
        run_node=empty, run_end=np.zeros(0, dtype=np.int64), run_alloc=np.zeros((0, N_RES), dtype=np.int64),
        now=NOW, reservation_depth=1)  # 1 s limits: the one reservation (at now + 1) blocks nobody now
    placed = np.flatnonzero((status == bf.STARTED) | (status == bf.BACKFILLED))
    per_job = np.diff(offsets)[placed]
    run_node = np.ascontiguousarray(np.concatenate([nodes[offsets[j]:offsets[j + 1]] for j in placed]))
    elapsed = (rng.random(len(placed)) * limits[placed]).astype(np.int64)
    run_end = np.repeat(NOW - elapsed + limits[placed], per_job).astype(np.int64)
    run_alloc = np.ascontiguousarray(np.repeat(requests[placed], per_job, axis=0))
    free = capacity.copy()
    np.subtract.at(free, run_node, run_alloc)
    p_requests, p_n_req, p_limits = jobs(rng, n_pending, n_nodes, p_small=0.5)
    return dict(free=free, usable=usable, membership=membership, requests=p_requests, n_nodes_req=p_n_req,
                part_idx=np.zeros(n_pending, dtype=np.intp), duration_s=p_limits, run_node=run_node,
                run_end=run_end, run_alloc=run_alloc), len(placed)


N_ACCOUNTS, USERS_PER_ACCOUNT = 200, 10


def policy_table(n_nodes: int):
    """200 accounts, each with GrpTRES=cpu= a fiftieth of the cluster, and ten users each with
    MaxJobs=20 and GrpTRES=cpu=256."""
    table = new_table()
    table, _ = add_accounts(table, [Association(f"a{a}", limits=Limits(grp_tres=Tres(cpu=max(n_nodes * CPUS // 50, 64))))
                                    for a in range(N_ACCOUNTS)])
    table, _ = add_users(table, [Association(f"a{a}", f"u{a}_{u}", limits=Limits(max_jobs=20, grp_tres=Tres(cpu=256)))
                                 for a in range(N_ACCOUNTS) for u in range(USERS_PER_ACCOUNT)])
    return table


def limit_inputs(rng, inputs: dict, n_running_jobs: int):
    """(the kernel's limit arrays, seconds plan_limits took): every pending and running (job, node)
    pair of a random user."""
    table = policy_table(len(inputs["free"]))

    def limited(n_jobs, requests, n_req, limits):
        users = rng.integers(0, N_ACCOUNTS * USERS_PER_ACCOUNT, size=n_jobs)
        return [LimitedJob(f"a{u // USERS_PER_ACCOUNT}", f"u{u // USERS_PER_ACCOUNT}_{u % USERS_PER_ACCOUNT}", "normal",
                           "", job_tres(cpus=int(r[0]) * int(n), mem_mib=int(r[1]) * int(n), n_nodes=int(n),
                                        gpus=int(r[2])), int(t))
                for u, r, n, t in zip(users, requests, n_req, limits)]

    queue = limited(len(inputs["requests"]), inputs["requests"], inputs["n_nodes_req"], inputs["duration_s"])
    pairs = len(inputs["run_node"])
    running = limited(pairs, inputs["run_alloc"], np.ones(pairs, dtype=np.int64), inputs["run_end"] - NOW)
    running_ends = [(job, int(end)) for job, end in zip(running, inputs["run_end"])]
    t0 = time.perf_counter()   # (what the controller does each cycle: the views above it keeps from cycle to cycle)
    arrays = plan_limits(table, queue, running_ends)
    return arrays, time.perf_counter() - t0


def snapshot_of(inputs: dict, capacity: np.ndarray) -> Snapshot:
    """The same workload as the controller's snapshot objects: one partition of every node,
    each running (job, node) pair as a one-node running job."""
    names = [f"n{i:05d}" for i in range(len(capacity))]
    nodes = tuple(NodeView(name, Resources(*map(int, cap)), Resources(*map(int, cap - free)), True)
                  for name, cap, free in zip(names, capacity, inputs["free"]))
    running = tuple(RunningJob(job_id=10_000_000 + k, node_names=(names[int(node)],),
                               per_node=Resources(*map(int, alloc)), start_time=float(NOW), time_limit_s=int(end - NOW))
                    for k, (node, end, alloc) in enumerate(zip(inputs["run_node"], inputs["run_end"], inputs["run_alloc"])))
    pending = tuple(PendingJob(job_id=j + 1, priority=1, submit_time=float(NOW - 100_000 + j), partition="all",
                               n_nodes=int(n), per_node=Resources(*map(int, req)), held_by="", begin_time=None,
                               time_limit_s=int(limit))
                    for j, (req, n, limit) in enumerate(zip(inputs["requests"], inputs["n_nodes_req"],
                                                            inputs["duration_s"])))
    return Snapshot(nodes=nodes, partitions=(Partition("all", (), has_all_nodes=True),), pending=pending,
                    running=running)


def time_cycle(inputs: dict, policy_name: str, repeat: int) -> tuple[float, dict]:
    snapshot = snapshot_of(inputs, cluster(len(inputs["free"])))
    policy = Policy(reservation_depth=POLICY_DEPTHS[policy_name])
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        decisions = plan_cycle(snapshot, float(NOW), policy=policy)
        times.append(time.perf_counter() - t0)
    return min(times), {"started": len(decisions.starts), "backfilled": decisions.n_backfilled,
                        "reserved": len(decisions.planned_starts)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10000)
    parser.add_argument("--pending", type=int, default=100000)
    parser.add_argument("--running", type=int, default=20000)
    parser.add_argument("--policy", choices=sorted(DEPTH), default="easy")
    parser.add_argument("--impl", choices=("core", "reference"), default="core")
    parser.add_argument("--level", choices=("kernel", "cycle"), default="kernel",
                        help="time the kernel's pass alone, or the controller's whole plan_cycle")
    parser.add_argument("--repeat", type=int, default=3, help="passes to time (the best is reported)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--limits", action="store_true", help="200 accounts and 2,000 users with limits")
    parser.add_argument("--maintenance", action="store_true",
                        help="one maintenance reservation: a tenth of the nodes, from 2 h to 6 h from now")
    parser.add_argument("--estimates", type=int, default=None,
                        help="waiting jobs given an estimated start (default: all)")
    parser.add_argument("--estimate-budget", type=float, default=0.0,
                        help="seconds the estimates may take (default: no bound)")
    parser.add_argument("--forecast", action="store_true", help="forecast the jobs the estimates did not reach")
    parser.add_argument("--json", action="store_true", help="print one JSON line (the default output too)")
    args = parser.parse_args()
    inputs, n_running = workload(args.nodes, args.pending, args.running, args.seed)
    estimate_depth = args.pending if args.estimates is None else args.estimates
    limits_s, options = 0.0, {"estimate_depth": estimate_depth}
    if args.estimate_budget or args.forecast:   # (the oracle has neither: it plans every estimate)
        options.update(estimate_budget_s=args.estimate_budget, forecast=args.forecast)
    if args.limits:
        options["limits"], limits_s = limit_inputs(np.random.default_rng(args.seed + 1), inputs, n_running)
    if args.maintenance:
        nodes = np.arange(0, args.nodes, 10, dtype=np.intp)
        options["blocks"] = (nodes, np.full(len(nodes), NOW + 2 * 3600, dtype=np.int64),
                             np.full(len(nodes), NOW + 6 * 3600, dtype=np.int64))
    if args.level == "cycle":
        seconds, counts = time_cycle(inputs, args.policy, args.repeat)
        print(json.dumps({"level": "cycle", "policy": args.policy, "nodes": args.nodes, "pending": args.pending,
                          "running": n_running, "seconds_per_pass": round(seconds, 4), **counts,
                          "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
        return 0
    impl = bf if args.impl == "core" else backfill_ref
    times = []
    for _ in range(args.repeat if args.impl == "core" else 1):
        t0 = time.perf_counter()
        status, start, _, _, estimated = impl.backfill(now=NOW, reservation_depth=DEPTH[args.policy], **inputs,
                                                       **options)
        times.append(time.perf_counter() - t0)
    status, start, estimated = np.asarray(status), np.asarray(start), np.asarray(estimated)
    print(json.dumps({
        "level": "kernel", "impl": args.impl, "policy": args.policy, "nodes": args.nodes, "pending": args.pending,
        "running": n_running, "limits": args.limits, "maintenance": args.maintenance, "estimate_depth": estimate_depth,
        "seconds_per_pass": round(min(times), 4), "plan_limits_s": round(limits_s, 4),
        "started": int((status == bf.STARTED).sum()), "backfilled": int((status == bf.BACKFILLED).sum()),
        "limit_held": int((status == bf.LIMIT).sum()),
        "reserved": int(((start > NOW) & (estimated == 0)).sum()), "estimated": int((estimated == 1).sum()),
        "forecast": int((estimated == 2).sum()), "without_start": int(((start < 0) & (status != bf.STARTED)
                                                                      & (status != bf.BACKFILLED)).sum()),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
