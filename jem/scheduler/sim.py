"""Discrete-event simulation of a trace through the controller's own planning pass.

A virtual clock jumps from event to event. At each instant, completions are
processed first, then arrivals, then one scheduling pass over the queue in
submit order (ties: file order), or in multifactor priority order, recomputed
every pass, when the policy has priority weights. A job then runs for its
trace run time, and the planner sees it until its estimate.

Every pass is the kernel's `backfill_pass`, the function the controller's
cycle ends in. The event loop runs in C (jem._core.replay) for the policies it
is proven identical on (tests compare the two): submit order, no limits, no
reservations, no preemption. Any other policy runs the Python loop
(jem.scheduler.sim_events), which plans each pass with `plan.plan_pass` as the
cycle does, and replays a site's reservations and preemption too (CANCEL, REQUEUE
and SUSPEND: jem.scheduler.sim_suspension).

The machine of P single-CPU nodes is planned as one node of P CPUs: rigid
jobs of single-CPU nodes only ever need a count of free processors, so every
start time is the same, and a pass costs O(queue) instead of O(queue x P).
A pass is skipped when it could start or preempt nothing. Times are integer seconds.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from jem._core.records import format_records
from jem._core.replay import replay
from jem.model.associations import AccountingTable
from jem.scheduler.policy import Policy
from jem.scheduler.sim_config import SimReservation
from jem.scheduler.sim_events import Outcome, Replay, no_reserve_of
from jem.scheduler.sim_preemption import SimPreemption
from jem.scheduler.sim_reservations import held_reservations
from jem.scheduler.swf import Trace

BSLD_TAU_S = 10    # bounded slowdown: max((end - submit) / max(run, tau), 1)


@dataclass(frozen=True, slots=True)
class SitePolicy:
    """What of a site's policy a replay takes beyond `Policy` and the limits."""

    reservations: tuple[SimReservation, ...] = ()   # [[sim.reservations]]
    qos: tuple[str, ...] | None = None               # each trace job's QOS (None: all "normal")
    table: AccountingTable | None = None             # QOS: Preempt=, PreemptMode, GraceTime, ..., NoReserve
    requeue_allowed: bool = True                     # the cluster requeues (its JobRequeue)


@dataclass(slots=True)
class SimResult:
    """Per-job outcome (trace order), every run, and the summary figures of one simulation."""

    trace: Trace
    outcome: Outcome
    sim_seconds: float
    accounts: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def start_s(self) -> np.ndarray:
        """(n_jobs,) int64 start of each job's last run, -1 if it never started."""
        return self.outcome.start_s

    @property
    def end_s(self) -> np.ndarray:
        """(n_jobs,) int64 end of each job's last run, -1 if it never started."""
        return self.outcome.end_s

    def csv_bytes(self) -> bytes:
        """`job_id,submit,start,end,procs` then one line per job, in submit order (job_id: the SWF job number)."""
        trace = self.trace
        table = np.column_stack((trace.job_number, trace.submit_s, self.start_s, self.end_s, trace.size))
        return b"job_id,submit,start,end,procs\n" + format_records(np.ascontiguousarray(table, dtype=np.int64))

    def series(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(t, busy processors, queued jobs) just after each distinct event time (a requeued job
        is queued again from the end of its run; a suspended one is not busy meanwhile)."""
        tr, o = self.trace, self.outcome
        sizes = tr.size[o.run_job]
        requeued = (o.run_start != self.start_s[o.run_job]).astype(np.int64)   # (not its last run)
        paused = tr.size[o.suspended[:, 0]]
        times = np.concatenate((tr.submit_s, o.run_start, o.run_end, o.suspended[:, 1], o.suspended[:, 2]))
        busy_delta = np.concatenate((np.zeros(len(tr), dtype=np.int64), sizes, -sizes, -paused, paused))
        queue_delta = np.concatenate((np.ones(len(tr), dtype=np.int64), -np.ones(len(sizes), dtype=np.int64),
                                      requeued, np.zeros(2 * len(paused), dtype=np.int64)))
        order = np.argsort(times, kind="stable")
        t, busy, queued = times[order], np.cumsum(busy_delta[order]), np.cumsum(queue_delta[order])
        last = np.ones(len(t), dtype=bool)
        last[:-1] = t[1:] != t[:-1]
        return t[last], busy[last], queued[last]

    def binned(self, width_s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(bin start times, mean busy processors, mean queued jobs) over bins of `width_s`
        from the first event to the last (the last bin ends there), each mean weighted by time:
        what a plot of a long trace can show, where the series changes thousands of times a day."""
        t, busy, queued = self.series()
        if len(t) < 2:
            return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
        n_bins = -(-int(t[-1] - t[0]) // width_s)
        edges = np.minimum(t[0] + np.arange(n_bins + 1, dtype=np.int64) * width_s, t[-1])
        widths = np.diff(edges)

        def means(values: np.ndarray) -> np.ndarray:
            # (the integral of a step function is piecewise linear between its steps: interp is exact)
            area = np.concatenate(([0], np.cumsum(values[:-1] * np.diff(t))))
            return np.diff(np.interp(edges, t, area)) / widths

        return edges[:-1], means(busy), means(queued)

    def summary(self) -> dict:
        """The figures `jem sim --json` prints (exactly these keys)."""
        tr, o = self.trace, self.outcome
        lost = {"preempted": int(o.preempted.sum()), "requeues": int(o.requeues.sum()),
                "lost_cpu_s": int(o.lost_cpu_s.sum()), "reservation_cuts": int(o.cut.sum()),
                "suspensions": int(o.suspensions.sum()), "suspended_cpu_s": int(o.suspended_cpu_s.sum()),
                "not_simulated": list(o.not_simulated)}
        if len(tr) == 0:
            return {"jobs": 0, "makespan_s": 0, "avg_wait_s": 0.0, "avg_bsld": 0.0, "utilization": 0.0,
                    "sim_seconds": round(self.sim_seconds, 3), "accounts": {}, **lost}
        started = self.start_s >= 0
        wait = self.start_s - tr.submit_s
        span = max(int(self.end_s.max() - tr.submit_s.min()), 0)
        bsld = np.maximum((self.end_s - tr.submit_s) / np.maximum(tr.run_s, BSLD_TAU_S), 1.0)
        # (busy: lost work too; suspended time not: the preemptor uses those processors meanwhile)
        work = float(((o.run_end - o.run_start) * tr.size[o.run_job]).sum() - o.suspended_cpu_s.sum())
        accounts = {name: dict(figures) for name, figures in self.accounts.items()}
        groups = np.array([f"g{g}" for g in tr.group.tolist()])
        for name, figures in accounts.items():
            account = groups == name
            mine = account & started
            figures["avg_wait_s"] = round(float(wait[mine].mean()), 3) if mine.any() else None
            figures["avg_bsld"] = round(float(bsld[mine].mean()), 4) if mine.any() else None
            figures["never_started"] = int((account & ~started).sum())
            figures["preempted"] = int(o.preempted[account].sum())
            figures["requeues"] = int(o.requeues[account].sum())
            figures["lost_cpu_s"] = int(o.lost_cpu_s[account].sum())
            figures["suspensions"] = int(o.suspensions[account].sum())
            figures["suspended_cpu_s"] = int(o.suspended_cpu_s[account].sum())
        done = started if not started.all() else slice(None)
        return {"jobs": len(tr), "makespan_s": span,
                "avg_wait_s": round(float(wait[done].mean()), 3) if started.any() else None,
                "avg_bsld": round(float(bsld[done].mean()), 4) if started.any() else None,
                "utilization": round(work / (tr.procs * span), 6) if span > 0 else 0.0,
                "sim_seconds": round(self.sim_seconds, 3), "accounts": accounts, **lost}


def account_usage(trace: Trace) -> dict[str, dict[str, float]]:
    """CPU-seconds (run x size) per account g<gid>, and each account's fraction of the total."""
    groups, inverse = np.unique(trace.group, return_inverse=True)
    cpu_s = np.bincount(inverse.reshape(-1), weights=trace.run_s * trace.size, minlength=len(groups))
    total = cpu_s.sum()
    return {f"g{g}": {"cpu_seconds": int(c), "usage_fraction": round(float(c / total), 6) if total else 0.0}
            for g, c in zip(groups.tolist(), cpu_s.tolist())}


def simulate(trace: Trace, policy: Policy, *, progress: Callable[[int, int], None] | None = None,
             accounting: AccountingTable | None = None, site: SitePolicy = SitePolicy()) -> SimResult:
    """Replay `trace` under `policy`; `progress(arrived, total)` is called now and then.
    `accounting`: the associations' and QOS' limits to plan under (a trace's jobs are of
    account g<gid>, user u<uid>, QOS `site.qos` else normal), as the controller's cycle plans
    them; `site`: the reservations and preemption settings to replay (ConfigError if a
    reservation does not fit the machine)."""
    t0 = time.perf_counter()
    if progress is not None:
        progress(0, len(trace))
    limits = accounting if accounting is not None and accounting.has_limits else None
    qos = site.qos if site.qos is not None else ("normal",) * len(trace)
    held = held_reservations(site.reservations, trace.procs)
    preemption = SimPreemption(trace, qos, site.table, policy.preemption, requeue_allowed=site.requeue_allowed)
    if policy.priority.is_multifactor or limits is not None or held or preemption.is_active or \
            no_reserve_of(qos, site.table) is not None:
        outcome = Replay(trace, policy, qos=qos, limits=limits, held=held, preemption=preemption,
                         progress=progress).run()
    else:
        outcome = _replay_in_c(trace, policy, preemption.not_simulated)
    if progress is not None:
        progress(len(trace), len(trace))
    return SimResult(trace, outcome, time.perf_counter() - t0, accounts=account_usage(trace))


def _replay_in_c(trace: Trace, policy: Policy, not_simulated: tuple[str, ...]) -> Outcome:
    """The C event loop (submit order, nothing but the machine): one run per job."""
    start = replay(trace.submit_s, trace.run_s, trace.size, trace.estimate_s, procs=trace.procs,
                   reservation_depth=policy.reservation_depth)
    n = len(trace)
    end = np.where(start >= 0, start + trace.run_s, -1)
    ran = np.flatnonzero(start >= 0)
    zeros = np.zeros(n, dtype=np.int64)
    return Outcome(start, end, ran, start[ran], end[ran], np.zeros(n, dtype=bool), zeros, zeros.copy(),
                   np.zeros(n, dtype=bool), zeros.copy(), zeros.copy(), np.zeros((0, 4), dtype=np.int64),
                   not_simulated=not_simulated)
