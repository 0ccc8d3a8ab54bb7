"""What-if planning for `jem why`: the start a pending job would get were its owner to change
it (a shorter time limit, fewer nodes, another partition), from the planner the cycle runs.

Each variant is planned by the cycle's own main pass (jem.scheduler.cycle: its eligibility,
priorities, queue order, arrays, association and QOS limits, reservation windows, NoReserve,
reservation depth) over the queue truncated just after the variant: the jobs ahead of it in
queue order, then it. Jobs after it never move a reservation it would hold nor, in a
conservative plan, its estimate, so the truncation is exact for those (the one thing left out:
under EASY, a job behind it that backfills now may take what its estimate counted on), and each
pass costs what the jobs ahead cost. Every job without a start gets an estimate (estimate
depth = queue length), so each variant has a start unless it could not start at all. The job
as it is is planned the same way, and only a variant that starts strictly sooner is suggested.

Cost: at most 1 + (1 + MAX_BISECTION) + MAX_NODE_TRIES + MAX_MOVES = 15 planner passes, each
over the jobs ahead of the job (in any partition) plus one. A pass costs what a cycle over
that queue costs (the kernel's estimates grow faster than the queue: on 500 full 32-CPU nodes,
~0.07 s for 2,000 jobs ahead, ~6 s for 20,000), so callers plan what-ifs only for a job with
at most MAX_AHEAD jobs ahead.

Times are integer epoch seconds; time limits are seconds.
"""

import bisect
import dataclasses
import enum
import operator
from collections import ChainMap
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from jem.scheduler import bulk, fairshare, plan
from jem.scheduler.cycle import ineligibility, job_priorities, limit_inputs, main_pass, reservation_blocks
from jem.scheduler.limits import PLANNED_KINDS, LimitedJob
from jem.scheduler.policy import Policy
from jem.scheduler.priority import queue_order, queue_order_key
from jem.scheduler.snapshot import PendingJob, Snapshot

MIN_TIME_LIMIT_S = 60    # no shorter time limit is suggested
MAX_BISECTION = 6        # passes spent finding the longest time limit (exact among up to 63 candidates)
MAX_NODE_TRIES = 4       # node counts planned
MAX_MOVES = 3            # other partitions planned
MAX_AHEAD = 2000         # jobs ahead beyond which the controller plans no what-ifs
_SUBMIT_TIME, _JOB_ID = operator.attrgetter("submit_time"), operator.attrgetter("job_id")


class Knob(enum.Enum):
    """What a variant changes, named as scontrol update names it."""

    TIME_LIMIT = "TimeLimit"
    NUM_NODES = "NumNodes"
    PARTITION = "Partition"


@dataclass(frozen=True, slots=True)
class Variant:
    """The job as one change would make it, shaped as the controller would shape it."""

    job: PendingJob
    limited: LimitedJob | None = None   # what limits read of it (None: no limits are enforced)


@dataclass(frozen=True, slots=True)
class PlannedStart:
    start_s: int | None       # None: no start could be planned
    is_estimate: bool = False

    def is_sooner_than(self, other: "PlannedStart") -> bool:
        return self.start_s is not None and (other.start_s is None or self.start_s < other.start_s)


@dataclass(frozen=True, slots=True)
class Suggestion:
    knob: Knob
    value: int | str          # the time limit (s), the node count or the partition's name
    start: PlannedStart


@dataclass(frozen=True, slots=True)
class WhatIfs:
    start: PlannedStart                   # the job as it is, planned the same way
    suggestions: tuple[Suggestion, ...]   # at most one per knob, each strictly sooner than `start`
    n_passes: int                         # planner passes spent


def node_counts_to_try(n_nodes: int) -> tuple[int, ...]:
    """The fewer node counts worth planning, most first: n-1, n-2, then halvings, then 1 (the
    first MAX_NODE_TRIES). A job's start need not fall with its node count (a job of fixed tasks
    takes more of each node on fewer), so counts are tried, not bisected.

    >>> node_counts_to_try(16), node_counts_to_try(3), node_counts_to_try(1)
    ((15, 14, 8, 4), (2, 1), ())
    """
    counts = {n_nodes - 1, n_nodes - 2, 1} | {n_nodes >> shift for shift in range(1, n_nodes.bit_length())}
    return tuple(sorted((n for n in counts if 1 <= n < n_nodes), reverse=True)[:MAX_NODE_TRIES])


def plan_what_ifs(snapshot: Snapshot, job_id: int, now: float, *, policy: Policy,
                  fewer_nodes: Sequence[Variant] = (), moves: Sequence[Variant] = ()) -> WhatIfs | None:
    """The job `job_id` of `snapshot.pending` planned as it is and with each change; None when it
    is not pending there or runs in an advance reservation (its start is the reservation's).

    A shorter time limit: the longest, in whole minutes and at least MIN_TIME_LIMIT_S, that
    gives the earliest start any shorter limit gives (the longest that starts it now when one
    does). `fewer_nodes` and `moves` are the job with fewer nodes (node_counts_to_try) and in
    each other partition its owner may use, as the controller would shape it; of those that
    start it sooner, the earliest is suggested (ties: the first given: the most nodes, the
    partition first in the configuration).
    `snapshot.pending` needs only the job and those that may come before it.
    """
    target = next((j for j in snapshot.pending if j.job_id == job_id), None)
    if target is None or target.reservation:
        return None
    planner = _Planner(snapshot, target, now, policy)
    job = Variant(target, snapshot.limited.get(job_id))
    as_is, _ = planner.plan(job)
    suggestions = [s for s in (_shorter_limit(planner, job, as_is),
                               _best(planner, Knob.NUM_NODES, fewer_nodes[:MAX_NODE_TRIES], as_is),
                               _best(planner, Knob.PARTITION, moves[:MAX_MOVES], as_is)) if s is not None]
    return WhatIfs(as_is, tuple(suggestions), planner.n_passes)


class _Planner:
    """The cycle's main pass over the jobs ahead of a variant, then the variant."""

    def __init__(self, snapshot: Snapshot, target: PendingJob, now: float, policy: Policy):
        if not snapshot.share_users:   # (fixed, so that a variant's fair share is the queue's)
            snapshot = dataclasses.replace(snapshot, share_users=frozenset(
                (j.account or fairshare.DEFAULT_ACCOUNT, j.user) for j in snapshot.pending))
        self.snapshot, self.now, self.policy = snapshot, now, policy
        self.now_s = int(now)
        self.partitions = {p.name: p for p in snapshot.partitions}
        _, self.ledger = limit_inputs(snapshot, [], self.now_s)
        windows = [(r, w) for r in snapshot.reservations if (w := r.window(now)) is not None]
        self.blocks = reservation_blocks(snapshot, windows) if windows else None
        self.block_starts = [int(start) for _, (start, _) in windows]
        # The jobs the cycle's main pass plans, in queue order: eligible, in no reservation (a
        # reservation's jobs run on its nodes, which the main pass never uses in its window),
        # not held back unplanned by a limit (as the controller's loop holds them back).
        others = [j for j in snapshot.pending if j.job_id != target.job_id and not j.reservation
                  and self._may_plan(j, snapshot.limited.get(j.job_id))]
        priorities = job_priorities(others, snapshot, policy, now)
        order = bulk.to_list(queue_order(priorities, bulk.column(_SUBMIT_TIME, others, np.float64),
                                         bulk.column(_JOB_ID, others, np.int64)))
        ranked = bulk.to_list(priorities)
        self.ahead = [others[i] for i in order]
        self.keys = [queue_order_key(ranked[i], others[i].submit_time, others[i].job_id) for i in order]
        self.n_passes = 0

    def _may_plan(self, job: PendingJob, limited: LimitedJob | None) -> bool:
        if ineligibility(job, self.partitions, self.now) is not None:
            return False
        return self.ledger is None or limited is None or self.ledger.blocking(limited, skip=PLANNED_KINDS) is None

    def limit_bounds(self, limited: LimitedJob | None) -> list[int]:
        """The longest time limits (s) the job's MaxWall and GrpTRESRunMins limits allow it now."""
        if self.ledger is None or limited is None:
            return []
        bounds = []
        for rule in self.ledger.rules(limited):
            asked = limited.tres.get(rule.tres, 0) if rule.tres else 0
            if rule.kind == "job_wall":
                bounds.append(rule.limit)
            elif rule.kind == "run_mins" and asked:
                bounds.append((rule.limit - self.ledger.in_use(rule)) // asked * 60)
        return bounds

    def plan(self, variant: Variant) -> tuple[PlannedStart, list[int]]:
        """(the variant's start in a pass over the jobs ahead of it, the times after now at which
        that pass takes resources away: the jobs ahead's planned starts, reservations' starts)."""
        job = variant.job
        if not self._may_plan(job, variant.limited):
            return PlannedStart(None), []
        priority = int(job_priorities([job], self.snapshot, self.policy, self.now)[0])
        queue = self.ahead[:bisect.bisect_left(self.keys, queue_order_key(priority, job.submit_time, job.job_id))]
        queue.append(job)
        snapshot = self.snapshot
        if snapshot.limited and variant.limited is not None:
            snapshot = dataclasses.replace(snapshot, limited=ChainMap({job.job_id: variant.limited}, snapshot.limited))
        result, _ = main_pass(snapshot, queue, self.now_s, self.policy, blocks=self.blocks,
                              estimate_depth=len(queue))
        self.n_passes += 1
        starts = bulk.to_list(result.start_s)
        cuts = [t for t in starts[:-1] if t > self.now_s] + self.block_starts
        if int(result.status[-1]) in (plan.STARTED, plan.BACKFILLED):
            return PlannedStart(self.now_s), cuts
        if starts[-1] < 0:
            return PlannedStart(None), cuts
        return PlannedStart(starts[-1], bool(result.estimated[-1])), cuts


def _with_limit(variant: Variant, limit_s: int) -> Variant:
    limited = variant.limited
    return Variant(dataclasses.replace(variant.job, time_limit_s=limit_s),
                   None if limited is None else dataclasses.replace(limited, time_limit_s=limit_s))


def _shorter_limit(planner: _Planner, job: Variant, as_is: PlannedStart) -> Suggestion | None:
    """The longest shorter time limit that gives the earliest start a shorter one gives.

    A start never comes later with a shorter limit (whatever fits a window fits a shorter one),
    so the earliest is the shortest limit's, t*; and the longest limit that still starts at t*
    runs up to a time the plan takes resources away (a job ahead's start, a reservation's), or
    is the most a limit allows (MaxWall, GrpTRESRunMins): bisected among those, in whole minutes
    (the jobs ahead plan the same whatever its limit, so those times are the shortest's pass').

    Worked example: one 1-CPU node whose job ends at now + 600, a job ahead that reserves it
    from then, this 1-CPU job of 1 hour (start: after the job ahead): t* = now, the one cut is
    now + 600, so TimeLimit=00:10:00 starts it now.
    """
    own_s = job.job.time_limit_s
    if own_s is None or own_s <= MIN_TIME_LIMIT_S:   # (no limit: only an operator may set one)
        return None
    shortest, cuts = planner.plan(_with_limit(job, MIN_TIME_LIMIT_S))
    if not shortest.is_sooner_than(as_is):
        return None
    t_star = shortest.start_s
    bounds = [cut - t_star for cut in cuts] + planner.limit_bounds(job.limited)
    candidates = sorted({limit for bound in bounds if MIN_TIME_LIMIT_S < (limit := bound // 60 * 60) < own_s})
    best = Suggestion(Knob.TIME_LIMIT, MIN_TIME_LIMIT_S, shortest)
    lo, hi = 0, len(candidates) - 1
    for _ in range(MAX_BISECTION):   # (invariant: best starts by t*; candidates above hi do not)
        if lo > hi:
            break
        mid = (lo + hi) // 2
        start, _ = planner.plan(_with_limit(job, candidates[mid]))
        if start.start_s is not None and start.start_s <= t_star:
            best, lo = Suggestion(Knob.TIME_LIMIT, candidates[mid], start), mid + 1
        else:
            hi = mid - 1
    return best


def _best(planner: _Planner, knob: Knob, variants: Sequence[Variant], as_is: PlannedStart) -> Suggestion | None:
    """The variant that starts soonest, if sooner than `as_is` (ties: the first given)."""
    best = None
    for variant in variants:
        start, _ = planner.plan(variant)
        if start.is_sooner_than(as_is) and (best is None or start.is_sooner_than(best.start)):
            value = variant.job.n_nodes if knob is Knob.NUM_NODES else variant.job.partition
            best = Suggestion(knob, value, start)
    return best
