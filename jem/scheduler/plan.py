"""One planning pass over arrays: the cluster, the running allocations and the ordered
queue in, each job's outcome out, through jem._core.backfill.

Both the controller's cycle (jem.scheduler.cycle) and the simulator
(jem.scheduler.sim) build these arrays and call `plan_pass`; nothing else
calls the kernel. Times are integer epoch (or virtual) seconds; resources are
int64 units in jem.model.resources.Res column order.
"""

from dataclasses import dataclass

import numpy as np

from jem._core import backfill
from jem.model.resources import N_RES

STARTED = backfill.STARTED
BACKFILLED = backfill.BACKFILLED
RESOURCES = backfill.RESOURCES
PRIORITY = backfill.PRIORITY
LIMIT = backfill.LIMIT
UNLIMITED_S = backfill.INF     # a time limit or an end that never comes
ESTIMATE = 1                   # PassResult.estimated: an estimate (where conservative backfill would plan it)
FORECAST = 2                   # ... a forecast (beyond the estimates: the partition pooled, the queue in order)


@dataclass(frozen=True, slots=True)
class Cluster:
    free: np.ndarray          # (n_nodes, n_res) int64 units free now
    usable: np.ndarray        # (n_nodes,) uint8: 1 where new jobs may start
    membership: np.ndarray    # (n_parts, n_nodes) uint8: 1 where the node is in the partition
    node_features: np.ndarray | None = None   # (n_nodes,) uint64 feature bitmask; None: no features


@dataclass(frozen=True, slots=True)
class Running:
    node_idx: np.ndarray      # (n_pairs,) intp: one row per (running job, node)
    end_s: np.ndarray         # (n_pairs,) int64 expected end (start + time limit), UNLIMITED_S if none
    alloc: np.ndarray         # (n_pairs, n_res) int64 units the job holds there


@dataclass(frozen=True, slots=True)
class Queue:
    """Pending jobs in priority order (queue_order)."""

    requests: np.ndarray      # (n_jobs, n_res) int64 per-node request
    n_nodes: np.ndarray       # (n_jobs,) int64 >= 1
    part_idx: np.ndarray      # (n_jobs,) intp row of `Cluster.membership`
    duration_s: np.ndarray    # (n_jobs,) int64 time limit >= 1, UNLIMITED_S if none
    feat_all: np.ndarray | None = None    # (n_jobs,) uint64 features a node must all have; None: none
    feat_any: np.ndarray | None = None    # (n_jobs,) uint64 features a node must have one of (0: no rule)
    exclusive: np.ndarray | None = None   # (n_jobs,) uint8 1 where the job takes whole nodes
    no_reserve: np.ndarray | None = None  # (n_jobs,) uint8 1 where a blocked job takes no reservation (NoReserve)


@dataclass(frozen=True, slots=True)
class PassResult:
    status: np.ndarray        # (n_jobs,) STARTED, BACKFILLED, RESOURCES, PRIORITY or LIMIT
    start_s: np.ndarray       # (n_jobs,) now if started, the reserved or estimated start, else -1
    offsets: np.ndarray       # (n_jobs + 1,) intp
    nodes: np.ndarray         # (offsets[-1],) intp node indices of started, reserved or estimated jobs
    estimated: np.ndarray     # (n_jobs,) uint8: ESTIMATE or FORECAST where start_s is one, else 0

    def nodes_of(self, job_idx: int) -> np.ndarray:
        return self.nodes[self.offsets[job_idx]:self.offsets[job_idx + 1]]


NO_RUNNING = Running(np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.int64), np.zeros((0, N_RES), dtype=np.int64))


def plan_pass(cluster: Cluster, running: Running, queue: Queue, *, now_s: int, reservation_depth: int,
              shape_idx: np.ndarray | None = None, limits: tuple | None = None, estimate_depth: int = 0,
              blocks: tuple | None = None, estimate_budget_s: float = 0.0, forecast: bool = False) -> PassResult:
    """Plan one pass: which jobs start now and where, and when the reserved ones will.
    `shape_idx` (n_jobs,) intp, optional: equal for jobs of equal partition, node count
    and request, different otherwise (the kernel computes it when None). `limits`: the
    association and QOS limits as jem.scheduler.limits.plan_limits gives them (None: none);
    `estimate_depth`: jobs left waiting that get an estimated start, `estimate_budget_s` the
    seconds those may take (0: no bound), `forecast`: the rest get a forecast; `blocks`: (node,
    start, end) arrays of windows the pass's jobs may not use (reservations they are not in)."""
    status, start, offsets, nodes, estimated = backfill.backfill(
        cluster.free, cluster.usable, membership=cluster.membership, requests=queue.requests,
        n_nodes_req=queue.n_nodes, part_idx=queue.part_idx, duration_s=queue.duration_s,
        run_node=running.node_idx, run_end=running.end_s, run_alloc=running.alloc, now=now_s,
        reservation_depth=reservation_depth, shape_idx=shape_idx, node_features=cluster.node_features,
        feat_all=queue.feat_all, feat_any=queue.feat_any, exclusive=queue.exclusive, limits=limits,
        estimate_depth=estimate_depth, blocks=blocks, no_reserve=queue.no_reserve,
        estimate_budget_s=estimate_budget_s, forecast=forecast)
    return PassResult(status, start, offsets, nodes, estimated)
