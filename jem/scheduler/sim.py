"""Discrete-event simulation of a trace through the controller's own planning pass.

A virtual clock jumps from event to event. At each instant, completions are
processed first, then arrivals, then one scheduling pass over the queue in
submit order (ties: file order), or in multifactor priority order, recomputed
every pass, when the policy has priority weights. A job then runs for its
trace run time, and the planner sees it until its estimate.

Every pass is the kernel's `backfill_pass`, the function the controller's
cycle ends in. In submit order the event loop itself runs in C
(jem._core.replay); with priority weights it runs here, in Python, because
priorities and fair-share are computed here (`plan.plan_pass` each pass).
Both loops give the same start times for the same order (tests check it).

The machine of P single-CPU nodes is planned as one node of P CPUs: rigid
jobs of single-CPU nodes only ever need a count of free processors, so every
start time is the same, and a pass costs O(queue) instead of O(queue x P).
A pass is skipped when no queued job fits in the free processors (it could
start nothing). Times are integer seconds.
"""

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from jem._core.records import format_records
from jem._core.replay import replay
from jem.model.resources import N_RES, Res
from jem.model.associations import AccountingTable
from jem.model.tres import job_tres
from jem.scheduler import fairshare, plan
from jem.scheduler.limits import LimitedJob, plan_limits
from jem.scheduler.policy import Policy
from jem.scheduler.priority import multifactor_priority, queue_order
from jem.scheduler.swf import Trace

BSLD_TAU_S = 10    # bounded slowdown: max((wait + run) / max(run, tau), 1)


@dataclass(slots=True)
class SimResult:
    """Per-job outcome (trace order) and the summary figures of one simulation."""

    trace: Trace
    start_s: np.ndarray                 # (n_jobs,) int64
    sim_seconds: float
    accounts: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def end_s(self) -> np.ndarray:
        return self.start_s + self.trace.run_s

    def csv_bytes(self) -> bytes:
        """`job_id,submit,start,end,procs` then one line per job, in submit order (job_id: the SWF job number)."""
        trace = self.trace
        table = np.column_stack((trace.job_number, trace.submit_s, self.start_s, self.end_s, trace.size))
        return b"job_id,submit,start,end,procs\n" + format_records(np.ascontiguousarray(table, dtype=np.int64))

    def series(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(t, busy processors, queued jobs) just after each distinct event time."""
        tr = self.trace
        times = np.concatenate((tr.submit_s, self.start_s, self.end_s))
        busy_delta = np.concatenate((np.zeros(len(tr), dtype=np.int64), tr.size, -tr.size))
        queue_delta = np.concatenate((np.ones(len(tr), dtype=np.int64), -np.ones(len(tr), dtype=np.int64),
                                      np.zeros(len(tr), dtype=np.int64)))
        order = np.argsort(times, kind="stable")
        t, busy, queued = times[order], np.cumsum(busy_delta[order]), np.cumsum(queue_delta[order])
        last = np.ones(len(t), dtype=bool)
        last[:-1] = t[1:] != t[:-1]
        return t[last], busy[last], queued[last]

    def summary(self) -> dict:
        """The figures `jem sim --json` prints (exactly these keys)."""
        tr = self.trace
        if len(tr) == 0:
            return {"jobs": 0, "makespan_s": 0, "avg_wait_s": 0.0, "avg_bsld": 0.0, "utilization": 0.0,
                    "sim_seconds": round(self.sim_seconds, 3), "accounts": {}}
        wait = self.start_s - tr.submit_s
        span = int(self.end_s.max() - tr.submit_s.min())
        bsld = np.maximum((wait + tr.run_s) / np.maximum(tr.run_s, BSLD_TAU_S), 1.0)
        work = float((tr.run_s * tr.size).sum())
        accounts = {name: dict(figures) for name, figures in self.accounts.items()}
        groups = np.array([f"g{g}" for g in tr.group.tolist()])
        started = self.start_s >= 0
        for name, figures in accounts.items():
            mine = (groups == name) & started
            figures["avg_wait_s"] = round(float(wait[mine].mean()), 3) if mine.any() else None
            figures["avg_bsld"] = round(float(bsld[mine].mean()), 4) if mine.any() else None
            figures["never_started"] = int(((groups == name) & ~started).sum())
        done = started if not started.all() else slice(None)
        return {"jobs": len(tr), "makespan_s": span, "avg_wait_s": round(float(wait[done].mean()), 3),
                "avg_bsld": round(float(bsld[done].mean()), 4),
                "utilization": round(work / (tr.procs * span), 6) if span > 0 else 0.0,
                "sim_seconds": round(self.sim_seconds, 3), "accounts": accounts}


def account_usage(trace: Trace) -> dict[str, dict[str, float]]:
    """CPU-seconds (run x size) per account g<gid>, and each account's fraction of the total."""
    groups, inverse = np.unique(trace.group, return_inverse=True)
    cpu_s = np.bincount(inverse.reshape(-1), weights=trace.run_s * trace.size, minlength=len(groups))
    total = cpu_s.sum()
    return {f"g{g}": {"cpu_seconds": int(c), "usage_fraction": round(float(c / total), 6) if total else 0.0}
            for g, c in zip(groups.tolist(), cpu_s.tolist())}


class _Machine:
    """Free processors, and the running jobs' expected ends in fixed slots (<= procs of them)."""

    def __init__(self, procs: int):
        self.free = procs
        self.exp_end = np.zeros(procs, dtype=np.int64)   # (procs,) slot -> start + estimate
        self.size = np.zeros(procs, dtype=np.int64)      # (procs,) slot -> processors, 0 if empty
        self.slot_of: dict[int, int] = {}
        self.open_slots = list(range(procs - 1, -1, -1))

    def start(self, job: int, size: int, exp_end: int) -> None:
        slot = self.open_slots.pop()
        self.slot_of[job] = slot
        self.exp_end[slot], self.size[slot] = exp_end, size
        self.free -= size

    def finish(self, job: int) -> None:
        slot = self.slot_of.pop(job)
        self.free += int(self.size[slot])
        self.size[slot] = 0
        self.open_slots.append(slot)

    def arrays(self) -> tuple[plan.Cluster, plan.Running]:
        busy = self.size > 0
        n = int(busy.sum())
        alloc = np.zeros((n, N_RES), dtype=np.int64)
        alloc[:, Res.CPU] = self.size[busy]
        free = np.zeros((1, N_RES), dtype=np.int64)
        free[0, Res.CPU] = self.free
        one = np.ones(1, dtype=np.uint8)
        return (plan.Cluster(free, one, one.reshape(1, 1)),
                plan.Running(np.zeros(n, dtype=np.intp), np.ascontiguousarray(self.exp_end[busy]), alloc))


class _Ordering:
    """The queue order: submit order, or multifactor priority with fair-share usage charged as jobs run."""

    def __init__(self, trace: Trace, policy: Policy):
        self.trace, self.policy = trace, policy
        self.keys = [(f"g{g}", f"u{u}") for g, u in zip(trace.group.tolist(), trace.user.tolist())]
        self.usage = fairshare.Usage(half_life_s=policy.fairshare.half_life_s)
        self.factors = fairshare.FactorCache(policy.fairshare.algorithm, policy.accounts)
        self.running: dict[int, tuple[str, str, int, int, int]] = {}   # job -> (account, user, cpus, start, end)
        self.limits: AccountingTable | None = None       # the limits planned under (None: none)
        self.expected_ends: dict[int, int] = {}          # running job -> start + estimate
        self._limited: dict[int, LimitedJob] = {}

    def limited(self, job: int) -> LimitedJob:
        """What limits read of trace job `job` (account g<gid>, user u<uid>, QOS normal, 1 node)."""
        view = self._limited.get(job)
        if view is None:
            size, tr = int(self.trace.size[job]), self.trace
            view = self._limited[job] = LimitedJob(
                self.keys[job][0], self.keys[job][1], "normal", "",
                job_tres(cpus=size, mem_mib=0, n_nodes=1, gpus=0), int(tr.estimate_s[job]))
        return view

    def advance(self, now: int) -> None:
        """Charge fair-share usage up to `now` (before the jobs ending by now are forgotten)."""
        if self.policy.priority.weight_fairshare:
            self.usage.advance(now, list(self.running.values()))

    def order(self, pending: np.ndarray, now: int) -> np.ndarray:
        if not self.policy.priority.is_multifactor:
            return pending
        tr, keys = self.trace, [self.keys[j] for j in pending.tolist()]
        factors = self.factors.factors(self.usage.by_user, set(keys))
        priority = multifactor_priority(
            self.policy.priority, age_s=now - tr.submit_s[pending], fairshare=np.array([factors[k] for k in keys]),
            cpus=tr.size[pending], cluster_cpus=tr.procs, partition_factor=np.zeros(len(pending)),
            nice=np.zeros(len(pending), dtype=np.int64))
        return pending[queue_order(priority, tr.submit_s[pending], pending)]


def simulate(trace: Trace, policy: Policy, *, progress: Callable[[int, int], None] | None = None,
             accounting: AccountingTable | None = None) -> SimResult:
    """Replay `trace` under `policy`; `progress(arrived, total)` is called now and then.
    `accounting`: the associations' and QOS' limits to plan under (a trace's jobs are of
    account g<gid>, user u<uid>, QOS normal), as the controller's cycle plans them."""
    t0 = time.perf_counter()
    if progress is not None:
        progress(0, len(trace))
    limits = accounting if accounting is not None and accounting.has_limits else None
    if policy.priority.is_multifactor or limits is not None:
        start = _simulate_by_priority(trace, policy, progress, limits)
    else:
        start = replay(trace.submit_s, trace.run_s, trace.size, trace.estimate_s, procs=trace.procs,
                       reservation_depth=policy.reservation_depth)
    if progress is not None:
        progress(len(trace), len(trace))
    return SimResult(trace, start, time.perf_counter() - t0, accounts=account_usage(trace))


def _simulate_by_priority(trace: Trace, policy: Policy, progress: Callable[[int, int], None] | None,
                          limits: AccountingTable | None = None) -> np.ndarray:
    """The event loop in Python, for queues in multifactor priority order or under limits."""
    n = len(trace)
    start = np.full(n, -1, dtype=np.int64)
    machine, ordering = _Machine(trace.procs), _Ordering(trace, policy)
    ordering.limits = limits
    completions: list[tuple[int, int]] = []
    pending = np.zeros(0, dtype=np.int64)
    arrived, step = 0, max(n // 100, 1)
    while arrived < n or completions:
        now = min(int(trace.submit_s[arrived]) if arrived < n else plan.UNLIMITED_S,
                  completions[0][0] if completions else plan.UNLIMITED_S)
        ordering.advance(now)
        while completions and completions[0][0] <= now:
            job = heapq.heappop(completions)[1]
            machine.finish(job)
            ordering.running.pop(job, None)
            ordering.expected_ends.pop(job, None)
        first = arrived
        while arrived < n and trace.submit_s[arrived] <= now:
            arrived += 1
        if arrived > first:
            pending = np.concatenate((pending, np.arange(first, arrived, dtype=np.int64)))
            if progress is not None and arrived // step != first // step:
                progress(arrived, n)
        if len(pending) and trace.size[pending].min() <= machine.free:
            pending = _schedule(trace, policy, machine, ordering, pending, now, start, completions)
    return start


def _schedule(trace: Trace, policy: Policy, machine: _Machine, ordering: _Ordering, pending: np.ndarray,
              now: int, start: np.ndarray, completions: list[tuple[int, int]]) -> np.ndarray:
    """One pass at `now`: start what the planner starts; return the jobs still pending, in order."""
    queue_jobs = ordering.order(pending, now)
    n_jobs = len(queue_jobs)
    requests = np.zeros((n_jobs, N_RES), dtype=np.int64)
    requests[:, Res.CPU] = trace.size[queue_jobs]
    queue = plan.Queue(requests, np.ones(n_jobs, dtype=np.int64), np.zeros(n_jobs, dtype=np.intp),
                       np.ascontiguousarray(trace.estimate_s[queue_jobs]))
    cluster, running = machine.arrays()
    limits = None
    if ordering.limits is not None:
        limits = plan_limits(ordering.limits, [ordering.limited(j) for j in queue_jobs.tolist()],
                             [(ordering.limited(j), end) for j, end in ordering.expected_ends.items()])
    result = plan.plan_pass(cluster, running, queue, now_s=now, reservation_depth=policy.reservation_depth,
                            shape_idx=trace.size[queue_jobs].astype(np.intp),   # one node: the size is the shape
                            limits=limits)
    started = (result.status == plan.STARTED) | (result.status == plan.BACKFILLED)
    for job in queue_jobs[started].tolist():
        start[job] = now
        machine.start(job, int(trace.size[job]), now + int(trace.estimate_s[job]))
        heapq.heappush(completions, (now + int(trace.run_s[job]), job))
        ordering.running[job] = (ordering.keys[job][0], ordering.keys[job][1], int(trace.size[job]), now,
                                 now + int(trace.run_s[job]))
        ordering.expected_ends[job] = now + int(trace.estimate_s[job])
    return queue_jobs[~started]
