"""The simulator's event loop in Python: a trace replayed under the site's policy (priority,
association and QOS limits, reservations, preemption) through the kernel's planning pass.

At each instant: fair-share usage is charged; the runs ending then end (a preempted one is
cancelled or requeued), requeued jobs eligible again rejoin the queue, arrivals join it; then
one pass, when it could start or preempt anything. A pass plans, as the controller's cycle
does (jem.scheduler.cycle.plan_cycle):

1. each reservation whose window is on, over its own processors: the queued jobs it admits,
   each planned to end by its end (cycle.result_duration) and cut there if it runs longer;
2. every other job over the processors outside the reservations, whose windows the profile
   holds out (jem.scheduler.sim_reservations), so a job outside starts before a window only
   if it ends before it by its time limit; a job whose reservation has not begun waits;
3. preemption for the waiting jobs that may (jem.scheduler.sim_preemption): CANCEL and REQUEUE
   victims end after their GraceTime; a cancelled one's remaining work is lost, a requeued one
   runs again from the start, eligible PREEMPT_REQUEUE_DELAY_S after it was preempted. SUSPEND
   victims stop at once and their preemptor starts then, on their processors; they resume when
   it ends (jem.scheduler.sim_suspension).

Instants: submits, ends, requeued jobs' eligibility, reservation window starts and ends (while
jobs wait), and the ends of PreemptExemptTime that a waiting job could preempt after.
Times are integer seconds.
"""

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from jem.model import defaults
from jem.model.associations import AccountingTable, PreemptMode, QosFlag
from jem.model.resources import N_RES, Res
from jem.scheduler import plan
from jem.scheduler.cycle import result_duration
from jem.scheduler.limits import Ledger, plan_limits
from jem.scheduler.policy import Policy
from jem.scheduler.preemption import Preemption
from jem.scheduler.sim_machine import OUTSIDE, Machine
from jem.scheduler.sim_order import QueueOrder
from jem.scheduler.sim_preemption import SimPreemption
from jem.scheduler.sim_reservations import HeldReservation, admitting, held_during, member_of, next_boundary, steps
from jem.scheduler.sim_suspension import Suspensions
from jem.scheduler.snapshot import RunningJob
from jem.scheduler.swf import Trace

HORIZON_CAP_S = 366 * 86400   # windows held out of plans at most this far ahead (and always a started job's span)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to each job (trace order) and each run."""

    start_s: np.ndarray          # (n_jobs,) int64 start of its last run, -1 if it never started
    end_s: np.ndarray            # (n_jobs,) int64 end of its last run, -1 if it never started
    run_job: np.ndarray          # (n_runs,) int64 trace index of each run (a requeued job has several)
    run_start: np.ndarray        # (n_runs,) int64
    run_end: np.ndarray          # (n_runs,) int64
    preempted: np.ndarray        # (n_jobs,) bool: cancelled by preemption
    requeues: np.ndarray         # (n_jobs,) int64 runs ended by preemption and run again
    lost_cpu_s: np.ndarray       # (n_jobs,) int64 work lost to preemption: a cancelled run's rest, a requeued run's all
    cut: np.ndarray              # (n_jobs,) bool: its last run ended at its reservation's end, unfinished
    suspensions: np.ndarray      # (n_jobs,) int64 times suspended by preemption (PreemptMode SUSPEND)
    suspended_cpu_s: np.ndarray  # (n_jobs,) int64 processors x seconds suspended
    suspended: np.ndarray        # (n_suspensions, 4) int64 (trace index, from, to, its preemptor's) of each
    not_simulated: tuple[str, ...] = ()


class Replay:
    """The state of one replay: queue, machine, runs, and the events to come."""

    def __init__(self, trace: Trace, policy: Policy, *, qos: Sequence[str], limits: AccountingTable | None,
                 held: tuple[HeldReservation, ...], preemption: SimPreemption,
                 progress: Callable[[int, int], None] | None = None):
        n = len(trace)
        self.trace, self.policy, self.held, self.preemption, self.progress = trace, policy, held, preemption, progress
        self.limits = limits
        self.machine, self.order = Machine(trace.procs), QueueOrder(trace, policy, qos)
        self.order.limits = limits
        self.start_s, self.end_s = np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64)
        self.preempted, self.cut = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        self.requeues, self.lost_cpu_s = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        self.runs: list[tuple[int, int, int]] = []
        self.pending = np.zeros(0, dtype=np.int64)        # trace indices in submit order
        self.completions: list[tuple[int, int]] = []      # heap of (end, job); stale when end_at differs
        self.returns: list[tuple[int, int]] = []          # heap of (eligible again, requeued job)
        self.wakeups: list[int] = []                      # heap of instants a preemption may become possible
        self.wakeup_set: set[int] = set()                 # (the same instant is pushed once)
        self.started_at: dict[int, int] = {}
        self.end_at: dict[int, int] = {}                  # running job -> the end of its run
        # victim -> (its mode, None where its run ends first on its own; when it was preempted)
        self.killed: dict[int, tuple[PreemptMode | None, int]] = {}
        self.views: dict[int, RunningJob] = {}            # running job outside reservations -> its view
        self.base_end: dict[int, int] = {}                # live job -> start + time limit (unmoved by suspension)
        self.suspensions = Suspensions(n)
        self.admitted = [admitting(held, *keys) for keys in self.order.keys] if held else []
        self.has_admitted = np.array([bool(a) for a in self.admitted], dtype=bool) if held else None
        self.preempts = np.array(preemption.preempts, dtype=bool)   # (n_jobs,)
        self.no_reserve = no_reserve_of(qos, preemption.table)          # (n_jobs,) uint8, or None
        self.now = int(trace.submit_s[0]) if n else 0
        self.last_event = self.now

    # ------------------------------------------------------------ the loop

    def run(self) -> Outcome:
        tr, n = self.trace, len(self.trace)
        arrived, step = 0, max(n // 100, 1)
        while (now := self._next_instant(arrived)) is not None:
            self.now = now
            self.order.advance(now)
            self._end_due(now)
            self._return_due(now)
            first = arrived
            while arrived < n and tr.submit_s[arrived] <= now:
                arrived += 1
            if arrived > first:
                self.pending = np.concatenate((self.pending, np.arange(first, arrived, dtype=np.int64)))
                self.last_event = now
                if self.progress is not None and arrived // step != first // step:
                    self.progress(arrived, n)
            if len(self.pending) and (tr.size[self.pending].min() <= self.machine.free
                                      or self.preempts[self.pending].any()):
                self._pass(now)
        runs = np.array(self.runs, dtype=np.int64).reshape(-1, 3)
        s = self.suspensions
        return Outcome(self.start_s, self.end_s, runs[:, 0].copy(), runs[:, 1].copy(), runs[:, 2].copy(),
                       self.preempted, self.requeues, self.lost_cpu_s, self.cut, s.count, s.cpu_s,
                       np.array(s.intervals, dtype=np.int64).reshape(-1, 4), self.preemption.not_simulated)

    def _next_instant(self, arrived: int) -> int | None:
        times = []
        if arrived < len(self.trace):
            times.append(int(self.trace.submit_s[arrived]))
        if self.completions:
            times.append(self.completions[0][0])
        if self.returns:
            times.append(self.returns[0][0])
        while self.wakeups and self.wakeups[0] <= self.now:
            self.wakeup_set.discard(heapq.heappop(self.wakeups))
        if self.wakeups and self.completions:   # (nothing running: nothing to preempt)
            times.append(self.wakeups[0])
        if self.held and len(self.pending):
            boundary = next_boundary(self.held, self.now)
            if boundary is not None and (times or boundary <= self._give_up_after()):
                times.append(boundary)
        return min(times, default=None)

    def _give_up_after(self) -> int:
        """With nothing running or to come, waiting jobs that a full period of every reservation's
        windows does not start never start: the windows repeat from there on."""
        t = self.last_event
        spans = [int(w[1]) - t for h in self.held if (w := h.reservation.window(t)) is not None]
        return t + max(spans, default=0) + max(h.reservation.period_s for h in self.held)

    def _end_due(self, now: int) -> None:
        while self.completions and self.completions[0][0] <= now:
            t, job = heapq.heappop(self.completions)
            if self.end_at.get(job) == t:
                self._end_run(job, t)

    def _return_due(self, now: int) -> None:
        back = []
        while self.returns and self.returns[0][0] <= now:
            back.append(heapq.heappop(self.returns)[1])
        if back:
            self.pending = np.sort(np.concatenate((self.pending, np.array(back, dtype=np.int64))))
            self.last_event = now

    # ------------------------------------------------------------ one pass

    def _pass(self, now: int) -> None:
        ordered = self.order.order(self.pending, now)
        outside, members = ordered, {}
        if self.held:
            outside, members = self._by_reservation(ordered, now)
        started: list[int] = []
        for r, jobs in members.items():
            started += self._member_pass(r, np.array(jobs, dtype=np.int64), now)
        blocked = []
        if len(outside):
            status = self._outside_pass(outside, now)
            is_started = (status == plan.STARTED) | (status == plan.BACKFILLED)
            for job in outside[is_started].tolist():
                self._start(job, now, OUTSIDE, now + int(self.trace.estimate_s[job]), now + int(self.trace.run_s[job]))
                started.append(job)
            if self.preemption.is_active:
                blocked = outside[(status == plan.RESOURCES) | (status == plan.PRIORITY)].tolist()
        if blocked:
            started += self._preempt(blocked, now, fresh=set(started))
        if started:
            self.pending = self.pending[~np.isin(self.pending, started)]
            self.last_event = now

    def _by_reservation(self, ordered: np.ndarray, now: int) -> tuple[np.ndarray, dict[int, list[int]]]:
        """(the jobs of no reservation, in order; each reservation's jobs whose window is on, in
        order). A job whose reservation has not begun is in neither: it waits for it."""
        maybe = self.has_admitted[ordered]
        if not maybe.any():
            return ordered, {}
        outside, members = [], {}
        for job, admitted in zip(ordered.tolist(), maybe.tolist()):
            r = member_of(self.held, self.admitted[job], now) if admitted else -1
            if r < 0:
                outside.append(job)
            elif self.held[r].reservation.is_active(now):
                members.setdefault(r, []).append(job)
        return np.array(outside, dtype=np.int64), members

    def _member_pass(self, r: int, jobs: np.ndarray, now: int) -> list[int]:
        """Plan reservation r's jobs over its processors, each to end by the window's end (no plan
        past it: its processors are taken from then on, and given back only at the end of time)."""
        procs, end = self.held[r].procs, int(self.held[r].reservation.window(now)[1])
        cluster, running = self.machine.arrays(
            r, free_now=procs - self.machine.used(r), step_s=np.array([end, plan.UNLIMITED_S - 1], dtype=np.int64),
            step_amount=np.array([-procs, procs], dtype=np.int64))
        limit_s = [result_duration(self.preemption.pending_view(j), end, now) for j in jobs.tolist()]
        status = self._plan(jobs, np.array(limit_s, dtype=np.int64), cluster, running, now)
        started = []
        for job, planned_s, is_started in zip(jobs.tolist(), limit_s, ((status == plan.STARTED) |
                                                                       (status == plan.BACKFILLED)).tolist()):
            if is_started:
                run_s = int(self.trace.run_s[job])
                self.cut[job] = run_s > end - now
                self._start(job, now, r, now + planned_s, now + min(run_s, end - now))
                started.append(job)
        return started

    def _outside_pass(self, jobs: np.ndarray, now: int) -> np.ndarray:
        limit_s = np.ascontiguousarray(self.trace.estimate_s[jobs])
        if not self.held:
            cluster, running = self.machine.arrays()
        else:
            # Windows are held out as far as any plan of this pass could reach (a started job's
            # span at least); beyond the cap, a blocked job's planned start may overlap one.
            latest = max(now, int(self.machine.exp_end[self.machine.size > 0].max(initial=now)))
            until = max(now + int(limit_s.max()), min(latest + int(limit_s.sum()), now + HORIZON_CAP_S))
            held_now, step_s, step_amount = steps(self.held, now, until)
            cluster, running = self.machine.arrays(
                OUTSIDE, free_now=self.trace.procs - self.machine.used(OUTSIDE) - held_now,
                step_s=step_s, step_amount=step_amount)
        return self._plan(jobs, limit_s, cluster, running, now)

    def _plan(self, jobs: np.ndarray, limit_s: np.ndarray, cluster: plan.Cluster, running: plan.Running,
              now: int) -> np.ndarray:
        """The kernel's pass over `jobs` (in order): each one's status."""
        n_jobs = len(jobs)
        requests = np.zeros((n_jobs, N_RES), dtype=np.int64)
        requests[:, Res.CPU] = self.trace.size[jobs]
        queue = plan.Queue(requests, np.ones(n_jobs, dtype=np.int64), np.zeros(n_jobs, dtype=np.intp), limit_s,
                           no_reserve=None if self.no_reserve is None else self.no_reserve[jobs])
        limits = None
        if self.limits is not None:
            limits = plan_limits(self.limits, [self.order.limited(j) for j in jobs.tolist()],
                                 self.order.running_limited())
        result = plan.plan_pass(cluster, running, queue, now_s=now, reservation_depth=self.policy.reservation_depth,
                                shape_idx=self.trace.size[jobs].astype(np.intp),   # one node: the size is the shape
                                limits=limits)
        return result.status

    # ------------------------------------------------------------ runs

    def _start(self, job: int, now: int, pool: int, planned_end: int, end: int, *, lent: int = 0) -> None:
        """`job` runs from `now` to `end`, planned to end at `planned_end`; `lent`: processors its
        SUSPEND victims lend it (it holds the rest of its size itself)."""
        size = int(self.trace.size[job])
        self.machine.start(job, max(size - lent, 0), planned_end, pool)
        self.started_at[job], self.end_at[job], self.base_end[job] = now, end, planned_end
        heapq.heappush(self.completions, (end, job))
        account, user = self.order.keys[job]
        self.order.running[job] = (account, user, size, now, end)
        self.order.expected_ends[job] = planned_end
        if pool == OUTSIDE and self.preemption.is_active:
            self._view(job)

    def _view(self, job: int, *, is_killed: bool = False) -> None:
        """What preemption sees of a job outside reservations: the processors its slot holds."""
        self.views[job] = self.preemption.running_view(job, self.started_at[job], cpus=self.machine.size_of(job),
                                                       is_killed=is_killed,
                                                       is_suspended=self.suspensions.is_suspended(job))

    def _end_run(self, job: int, t: int) -> None:
        start = self.started_at.pop(job)
        del self.end_at[job], self.base_end[job]
        self.machine.finish(job)
        self.order.running.pop(job, None)
        self.order.expected_ends.pop(job, None)
        self.views.pop(job, None)
        self.runs.append((job, start, t))
        self.last_event = t
        ran_s = t - start - self.suspensions.end_run(job)
        self._resume_for(job, t)
        mode, preempted_at = self.killed.pop(job, (None, t))
        size = int(self.trace.size[job])
        if mode is PreemptMode.REQUEUE:
            self.requeues[job] += 1
            self.lost_cpu_s[job] += ran_s * size
            eligible = max(t, preempted_at + defaults.PREEMPT_REQUEUE_DELAY_S)
            self.order.eligible_s[job] = eligible
            heapq.heappush(self.returns, (eligible, job))
            return
        if mode is PreemptMode.CANCEL:
            self.preempted[job] = True
            self.lost_cpu_s[job] += (int(self.trace.run_s[job]) - ran_s) * size
        self.start_s[job], self.end_s[job] = start, t

    def _preempt(self, blocked: list[int], now: int, *, fresh: set[int]) -> list[int]:
        """Preemption for the `blocked` jobs (in queue order); the preemptors started now (SUSPEND).
        `fresh`: the jobs this pass started, whose processors are taken but which are no victims
        (the cycle's victims are the jobs of its snapshot, running before its starts)."""
        if not self.preempts[blocked].any():
            return []
        ledger = None
        if self.limits is not None:   # (a job a limit holds does not preempt: it would not start)
            ledger = Ledger(self.limits, [(limited, None if end >= plan.UNLIMITED_S else end - now)
                                          for limited, end in self.order.running_limited()])
        views = [view for job, view in self.views.items() if job not in fresh]
        longest = int(self.trace.estimate_s[blocked].max())
        capacity = self.trace.procs - held_during(self.held, now, now + longest)
        preemptions = self.preemption.choose(
            blocked, views, now=now, used=self.machine.used(OUTSIDE), capacity=capacity,
            is_held=lambda job: ledger is not None and ledger.blocking(self.order.limited(job)) is not None)
        started = self._act(preemptions, now, capacity=capacity, ledger=ledger)
        if not preemptions:
            wake = self.preemption.next_exemption_end(blocked, views, now)
            if wake is not None and wake not in self.wakeup_set:
                heapq.heappush(self.wakeups, wake)
                self.wakeup_set.add(wake)
        return started

    def _act(self, preemptions: list[Preemption], now: int, *, capacity: int, ledger: Ledger | None) -> list[int]:
        """Act on each preemptor's victims, preemptor by preemptor in queue order, as the
        controller does (jem.controller.preemption): kill them, or suspend them and start the
        preemptor, if it still may (a limit an earlier start took, or processors that the plan
        counted on but are not free: a SUSPEND victim's share beyond its preemptor's size is
        lent to it alone). The preemptors started."""
        groups: dict[int, list[Preemption]] = {}
        for preemption in preemptions:
            groups.setdefault(preemption.preemptor_id, []).append(preemption)
        started = []
        for preemptor, group in groups.items():
            if group[0].mode is not PreemptMode.SUSPEND:
                for preemption in group:
                    self._kill(preemption, now)
                continue
            limited = self.order.limited(preemptor) if ledger is not None else None
            if ledger is not None and ledger.blocking(limited) is not None:
                continue
            victims = [p.victim_id for p in group]
            own = int(self.trace.size[preemptor]) - sum(self.machine.size_of(v) for v in victims)
            if own > min(self.machine.free, capacity - self.machine.used(OUTSIDE)):
                continue   # (the controller's live check finds it stale: nobody is suspended)
            if self.held and not self._fits_beside_windows(preemptor, victims, max(own, 0), now):
                continue
            if ledger is not None:
                ledger.take(limited)
            self._suspend_for(preemptor, victims, now)
            started.append(preemptor)
        return started

    def _kill(self, preemption: Preemption, now: int) -> None:
        """The victim gets SIGTERM now and ends after its grace time, unless it ends first on its own."""
        job = preemption.victim_id
        self._view(job, is_killed=True)
        end = now + preemption.grace_time_s
        if end >= self.end_at[job]:
            self.killed[job] = (None, now)
            return
        self.killed[job] = (preemption.mode, now)
        self.end_at[job] = end
        heapq.heappush(self.completions, (end, job))
        account, user, size, start, _ = self.order.running[job]
        self.order.running[job] = (account, user, size, start, end)

    def _suspend_for(self, preemptor: int, victims: list[int], now: int) -> None:
        """PreemptMode SUSPEND: the victims stop now, their run's rest kept, and the preemptor
        starts now on their processors (and free ones for what they do not cover)."""
        lent = 0
        for victim in victims:
            self.suspensions.suspend(victim, preemptor, now=now, left_s=self.end_at.pop(victim) - now)
            self.order.running.pop(victim)   # (charged no usage while suspended, as the controller's loop)
            lent += self.machine.size_of(victim)
        tr = self.trace
        self._start(preemptor, now, OUTSIDE, now + int(tr.estimate_s[preemptor]), now + int(tr.run_s[preemptor]),
                    lent=lent)
        for victim in victims:
            self._view(victim)
            self._replan(victim, now)

    def _fits_beside_windows(self, preemptor: int, victims: list[int], own: int, now: int) -> bool:
        """Whether the jobs outside reservations, with the victims' planned ends moved by the
        preemptor's time limit (and of the jobs suspended for them) and the preemptor's own part
        held until its end, leave every reservation window its processors. The controller keeps
        a preemptor and its victims off the nodes of the reservations whose windows meet its
        span; on one node only this count can: a victim held into a window is not suspended."""
        m, limit_s = self.machine, int(self.trace.estimate_s[preemptor])
        ends = m.exp_end.copy()
        for victim in victims:
            for job in self.suspensions.affected(victim):
                ends[m.slot_of[job]] += limit_s
        busy = (m.size > 0) & (m.pool == OUTSIDE)
        ends, sizes = np.append(ends[busy], now + limit_s), np.append(m.size[busy], own)
        held_now, step_s, step_amount = steps(self.held, now, int(ends.max()))
        free_now = self.trace.procs - held_now - int(sizes.sum())
        times, amounts = np.concatenate((ends, step_s)), np.concatenate((sizes, step_amount))
        order = np.argsort(times, kind="stable")
        times, free = times[order], free_now + np.cumsum(amounts[order])
        last = np.ones(len(times), dtype=bool)   # (what is free at t: every step at t counted)
        last[:-1] = times[1:] != times[:-1]
        return free_now >= 0 and bool((free[last] >= 0).all())

    def _resume_for(self, preemptor: int, t: int) -> None:
        """The jobs suspended for `preemptor`, which ends at `t`, resume at `t` (their processors
        never left them: nobody else can have taken them)."""
        for job, left_s in self.suspensions.resume_for(preemptor, now=t, size_of=self._size):
            end = t + left_s
            self.end_at[job] = end
            heapq.heappush(self.completions, (end, job))
            account, user = self.order.keys[job]
            self.order.running[job] = (account, user, int(self.trace.size[job]), t, end)
            self._view(job)
            self._replan(job, t)

    def _size(self, job: int) -> int:
        return int(self.trace.size[job])

    def _replan(self, job: int, now: int) -> None:
        """The planned ends of `job` and of the jobs suspended for it (or for those), after its
        suspension, resumption or preemptor's change."""
        for j in self.suspensions.affected(job):
            end = self.suspensions.planned_end(j, self.base_end.__getitem__, now=now)
            self.machine.move_end(j, end)
            self.order.expected_ends[j] = end


def no_reserve_of(qos: Sequence[str], table: AccountingTable | None) -> np.ndarray | None:
    """(n_jobs,) uint8, 1 where a job's QOS has NoReserve (a blocked one takes no reservation, as
    in the cycle's pass_inputs); None when no job's has."""
    flagged = {q.name for q in table.qos.values() if QosFlag.NO_RESERVE in q.flags} if table is not None else set()
    mask = np.array([name in flagged for name in qos], dtype=np.uint8) if flagged else None
    return mask if mask is not None and mask.any() else None
