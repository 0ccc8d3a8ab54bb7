"""One scheduling cycle: eligibility, priority, queue order, and a backfill pass through jem._core.

`plan_cycle(snapshot, now, policy)` is a pure function of its arguments (the
clock is an argument), so the controller and the simulator run the same code:
both end in `jem.scheduler.plan.plan_pass`.
"""

import dataclasses
import operator

import numpy as np

from jem.model.associations import QosFlag
from jem.model.features import FeatureBits, parse_constraint
from jem.model.node import node_list
from jem.model.reasons import HOLD_REASONS, JobReason
from jem.model.reservation import ReservationFlag
from jem.model.resources import N_RES, ROW_FIELDS, Res
from jem.scheduler import bulk, fairshare, plan
from jem.scheduler.decisions import Decisions, Start, StartKind
from jem.scheduler.limits import Ledger, plan_limits
from jem.scheduler.preemption import Preemption, Room, may_preempt, preempt_for
from jem.scheduler.policy import Policy
from jem.scheduler.priority import factor_values, multifactor_priority, queue_order
from jem.scheduler.snapshot import PendingJob, RunningJob, Snapshot

_REASON = {plan.RESOURCES: JobReason.RESOURCES, plan.PRIORITY: JobReason.PRIORITY}
# What Slurm's squeue shows for a job that names no nodes and fits only with nodes out of service
# (its state description; the reason is ReqNodeNotAvail).
NODES_NOT_AVAILABLE = "Nodes required for job are DOWN, DRAINED or reserved for jobs in higher priority partitions"


def ineligibility(job: PendingJob, snapshot_partitions: dict, now: float) -> JobReason | None:
    """Why `job` may not be considered at all this cycle, or None if it may."""
    if job.held_by:
        return HOLD_REASONS[job.held_by]
    if job.begin_time is not None and job.begin_time > now:
        return JobReason.BEGIN_TIME
    partition = snapshot_partitions.get(job.partition)
    if partition is None or not partition.is_up:
        return JobReason.PARTITION_DOWN
    return None


def job_priorities(jobs: list[PendingJob], snapshot: Snapshot, policy: Policy, now: float) -> np.ndarray:
    """(n_jobs,) int64: multifactor priorities under the policy's weights, else each job's own."""
    if not policy.priority.is_multifactor:
        return bulk.column(_PRIORITY, jobs, np.int64)
    return multifactor_priority(policy.priority, nice=bulk.column(_NICE, jobs, np.int64),
                                **_factor_inputs(jobs, snapshot, policy, now))


def priority_factors(jobs: list[PendingJob], snapshot: Snapshot, policy: Policy, now: float) -> dict[str, np.ndarray]:
    """Each of FACTORS of each job normalized to [0, 1] ((n_jobs,) float64 per name), as the
    cycle computes them (what sprio shows; all zero when the policy has no weights)."""
    return factor_values(policy.priority, **_factor_inputs(jobs, snapshot, policy, now))


def _factor_inputs(jobs: list[PendingJob], snapshot: Snapshot, policy: Policy, now: float) -> dict:
    keys = [(j.account or fairshare.DEFAULT_ACCOUNT, j.user) for j in jobs]
    factors = fairshare.user_factors(policy.fairshare.algorithm, policy.accounts, dict(snapshot.usage),
                                     set(keys) | snapshot.share_users)
    tiers = {p.name: p.priority_tier for p in snapshot.partitions}
    qos_factors = {name: policy.qos_factor(name) for name in {j.qos for j in jobs}}
    max_tier = max(max(tiers.values(), default=1), 1)
    return dict(
        age_s=bulk.to_array([now - max(j.submit_time, j.begin_time or 0.0) for j in jobs], np.float64),
        fairshare=bulk.to_array([factors[k] for k in keys], np.float64),
        cpus=bulk.to_array([j.per_node.cpus * j.n_nodes for j in jobs], np.int64),
        cluster_cpus=sum(n.capacity.cpus for n in snapshot.nodes),
        partition_factor=bulk.to_array([tiers.get(j.partition, 0) / max_tier for j in jobs], np.float64),
        qos_factor=bulk.to_array([qos_factors[j.qos] for j in jobs], np.float64))


_PER_NODE, _CONSTRAINT = operator.attrgetter("per_node"), operator.attrgetter("constraint")
_N_NODES, _PARTITION = operator.attrgetter("n_nodes"), operator.attrgetter("partition")
_TIME_LIMIT, _EXCLUSIVE = operator.attrgetter("time_limit_s"), operator.attrgetter("is_exclusive")
_GRES, _RESERVATION = operator.attrgetter("gres_per_node"), operator.attrgetter("reservation")
_PRIORITY, _NICE = operator.attrgetter("priority"), operator.attrgetter("nice")
_SUBMIT_TIME, _JOB_ID = operator.attrgetter("submit_time"), operator.attrgetter("job_id")


def pass_inputs(snapshot: Snapshot, queue: list[PendingJob], now_s: int) -> tuple[plan.Cluster, plan.Running, plan.Queue]:
    """The arrays of one pass: node matrices, running allocations, and `queue` (in priority order).
    Columns are Res's, then one per GRES name (sorted) that a node has or a job asks for."""
    nodes = snapshot.nodes
    # (what the queue's jobs ask for read in C-level loops, as in _queue_arrays)
    asked = {name for gres in bulk.distinct(_GRES, queue) for name, _ in gres}
    gres_names = sorted({name for n in nodes for name, _ in n.gres} | asked)
    bits = FeatureBits(name for n in nodes for name in n.features)
    partitions = {p.name: p for p in snapshot.partitions}
    part_names = sorted(bulk.distinct(_PARTITION, queue))
    part_row = {name: row for row, name in enumerate(part_names)}
    node_idx = {n.name: i for i, n in enumerate(nodes)}
    n_res = N_RES + len(gres_names)
    free = np.array([(n.capacity - n.allocated).as_row() + _gres_row(n.gres_free, gres_names) for n in nodes],
                    dtype=np.int64).reshape(len(nodes), n_res)
    usable = np.array([n.is_schedulable for n in nodes], dtype=np.uint8)
    membership = np.ones((len(part_names), len(nodes)), dtype=np.uint8)  # (n_parts, n_nodes)
    for row, name in enumerate(part_names):
        if not partitions[name].has_all_nodes:
            members = set(partitions[name].node_names)   # a set: node lists can be long
            membership[row] = [n.name in members for n in nodes]
    node_features = np.array([bits.mask(n.features) for n in nodes], dtype=np.uint64)
    cluster = plan.Cluster(free, usable, membership, node_features)
    queue_arrays = _queue_arrays(queue, part_row, gres_names, bits)
    table = snapshot.accounting
    no_reserve = {q.name for q in table.qos.values() if QosFlag.NO_RESERVE in q.flags} if table is not None else ()
    if no_reserve:   # (a QOS's NoReserve: its blocked jobs take no reservation)
        queue_arrays = dataclasses.replace(queue_arrays, no_reserve=bulk.column(
            lambda j: (j.qos or "normal") in no_reserve, queue, np.uint8))
    return cluster, _running_arrays(snapshot, node_idx, gres_names), queue_arrays


def _gres_row(counts: tuple[tuple[str, int], ...], gres_names: list[str]) -> tuple[int, ...]:
    """The counts in `gres_names` order (0 for a name not listed)."""
    by_name = dict(counts)
    return tuple(by_name.get(name, 0) for name in gres_names)


def _running_arrays(snapshot: Snapshot, node_idx: dict[str, int], gres_names: list[str]) -> plan.Running:
    """One row per (running job, node); an exclusive job holds all of the node."""
    pairs = []
    for r in snapshot.running:
        for name in r.node_names:
            if name not in node_idx:
                continue
            node = snapshot.nodes[node_idx[name]]
            row = (node.capacity.as_row() + _gres_row(node.gres, gres_names) if r.is_exclusive
                   else r.per_node.as_row() + _gres_row(r.gres_per_node, gres_names))
            pairs.append((node_idx[name], _end_s(r.start_time, r.time_limit_s), row))
    return plan.Running(
        node_idx=np.array([p[0] for p in pairs], dtype=np.intp),
        end_s=np.array([p[1] for p in pairs], dtype=np.int64),
        alloc=np.array([p[2] for p in pairs], dtype=np.int64).reshape(len(pairs), N_RES + len(gres_names)))


def _queue_arrays(queue: list[PendingJob], part_row: dict[str, int], gres_names: list[str],
                  bits: FeatureBits) -> plan.Queue:
    # Each column is read in C-level loops (map over attribute getters, jem.scheduler.bulk): a
    # queue of 100,000 read job by job in Python took most of a cycle's time in the controller.
    n_jobs = len(queue)
    requests = np.zeros((n_jobs, N_RES + len(gres_names)), dtype=np.int64)
    per_node = bulk.mapped(_PER_NODE, queue)
    for column, name in enumerate(ROW_FIELDS):
        requests[:, column] = bulk.column(operator.attrgetter(name), per_node, np.int64)
    if gres_names:
        for job_idx, j in enumerate(queue):
            if j.gres_per_node:
                requests[job_idx, N_RES:] = _gres_row(j.gres_per_node, gres_names)
    # Each distinct constraint is parsed once per pass: a queue of 100,000 holds few distinct
    # ones, and parsing each job's own took most of a pass's time.
    constraints = bulk.mapped(_CONSTRAINT, queue)
    parsed = {text: parse_constraint(text) for text in bulk.distinct(_CONSTRAINT, queue)}
    all_of = {text: bits.mask(c.all_of) for text, c in parsed.items()}
    any_of = {text: bits.mask(c.any_of) for text, c in parsed.items()}
    durations = bulk.mapped(_TIME_LIMIT, queue)
    if None in durations or 0 in durations:   # (no limit, as is 0)
        durations = [d or plan.UNLIMITED_S for d in durations]
    return plan.Queue(
        requests=requests,
        n_nodes=bulk.column(_N_NODES, queue, np.int64),
        part_idx=bulk.column(part_row.__getitem__, bulk.mapped(_PARTITION, queue), np.intp),
        duration_s=bulk.to_array(durations, np.int64),
        feat_all=bulk.column(all_of.__getitem__, constraints, np.uint64),
        feat_any=bulk.column(any_of.__getitem__, constraints, np.uint64),
        exclusive=bulk.column(_EXCLUSIVE, queue, np.uint8))


def _end_s(start_time: float, time_limit_s: int | None) -> int:
    return plan.UNLIMITED_S if time_limit_s is None else int(start_time) + time_limit_s


def plan_cycle(snapshot: Snapshot, now: float, *, policy: Policy = Policy(), forecast: bool = True) -> Decisions:
    """Decide which pending jobs start now and on which nodes; give every other a reason,
    and those holding a reservation a planned start. `forecast`: the jobs beyond the exact
    estimates get forecasts (the controller makes them every FORECAST_EVERY_S, not each cycle)."""
    decisions = Decisions(forecasts_made=forecast and policy.estimate_depth > 0)
    partitions = {p.name: p for p in snapshot.partitions}
    eligible: list[PendingJob] = []
    waiting: list[PendingJob] = []   # not eligible this cycle, not held: their priority is still shown
    for job in snapshot.pending:
        reason = ineligibility(job, partitions, now)
        if reason is None:
            eligible.append(job)
        else:
            decisions.reasons[job.job_id] = reason
            if not job.held_by:
                waiting.append(job)
    if not eligible and not waiting:
        return decisions
    # (as Slurm's, a job not eligible this cycle (a DOWN partition) has a priority too)
    ranked = job_priorities(eligible + waiting, snapshot, policy, now)
    priorities = ranked[:len(eligible)]
    if policy.priority.is_multifactor:
        decisions.priorities = {j.job_id: int(p) for j, p in zip(eligible + waiting, bulk.to_list(ranked))}
    if not eligible:
        return decisions
    order = queue_order(priorities, bulk.column(_SUBMIT_TIME, eligible, np.float64),
                        bulk.column(_JOB_ID, eligible, np.int64))
    queue = [eligible[i] for i in order]
    now_s = int(now)
    windows = {r.name: (r, w) for r in snapshot.reservations if (w := r.window(now)) is not None}
    in_order = queue
    queue, members, second_try = _by_reservation(queue, windows, decisions, now, partitions)
    # A reservation's jobs run on its nodes and end by its end, and the main pass blocks those
    # nodes over that window: the two passes never share a node at a time. A job a MAGNETIC
    # reservation drew in, or one of a FLEX reservation, that does not start in it is planned
    # by the main pass too (outside the reservation's window and nodes).
    retry = []
    for name, jobs in members.items():
        reservation, (_, end) = windows[name]
        result, member_ledger = _member_pass(snapshot, jobs, reservation, end, windows, now_s, policy)
        _record_pass(decisions, snapshot, jobs, result, member_ledger, now)
        started = {s.job_id for s in decisions.starts}
        for job in jobs:
            if job.job_id not in second_try:
                continue
            if job.job_id not in started:
                decisions.forget(job.job_id)
                retry.append(job)
            elif not job.reservation:   # (drawn in: it runs in the reservation, and ends by its end)
                decisions.starts = [dataclasses.replace(s, reservation=name) if s.job_id == job.job_id else s
                                    for s in decisions.starts]
    if retry:   # (back into the main pass's queue, in queue order)
        again = {job.job_id for job in queue} | {job.job_id for job in retry}
        queue = [job for job in in_order if job.job_id in again]
    if not queue:
        return decisions
    blocks = reservation_blocks(snapshot, windows.values()) if windows else None
    result, ledger = main_pass(_cores_as_blocked(snapshot, windows, now), queue, now_s, policy, blocks=blocks,
                               forecast=decisions.forecasts_made)
    _record_pass(decisions, snapshot, queue, result, ledger, now)
    if windows:
        _maintenance_reasons(decisions, snapshot, queue, result, windows, now)
    if policy.preemption.preempt_type != "none":
        decisions.preemptions = _preemptions(snapshot, queue, bulk.to_list(result.status), policy, now, ledger,
                                             starts=decisions.starts)
    return decisions


def _record_pass(decisions: Decisions, snapshot: Snapshot, queue: list[PendingJob], result: plan.PassResult,
                 ledger: Ledger | None, now: float) -> None:
    """The starts, reasons and planned starts of one pass's `queue` into `decisions`."""
    reasons, planned, estimated = decisions.reasons, decisions.planned_starts, decisions.estimated
    blocked: dict = {}   # (unavailable_nodes' answers per job shape)
    names = [node.name for node in snapshot.nodes]
    some_out_of_service = not all(n.is_schedulable for n in snapshot.nodes)
    # (plain ints from the arrays: per job they are read faster)
    node_idx, offsets = bulk.to_list(result.nodes), bulk.to_list(result.offsets)

    def nodes_of(k: int) -> tuple[str, ...]:
        return tuple(names[i] for i in node_idx[offsets[k]:offsets[k + 1]])

    # The planned starts, in C-level loops (with every waiting job planned, ~100,000 of them).
    waiting = (result.start_s >= 0) & (result.status != plan.STARTED) & (result.status != plan.BACKFILLED)
    ids = bulk.column(_JOB_ID, queue, np.int64)
    planned.update(zip(bulk.to_list(ids[waiting]), bulk.to_list(result.start_s[waiting].astype(np.float64))))
    estimated.update(bulk.to_list(ids[waiting & (result.estimated != 0)]))
    decisions.forecast.update(bulk.to_list(ids[waiting & (result.estimated == plan.FORECAST)]))
    for job_idx in bulk.to_list(np.flatnonzero(waiting & (result.estimated != plan.FORECAST))):
        decisions.planned_nodes[queue[job_idx].job_id] = nodes_of(job_idx)
    for job_idx, (job, status, start_s) in enumerate(zip(queue, bulk.to_list(result.status),
                                                         bulk.to_list(result.start_s))):
        if status == plan.STARTED or status == plan.BACKFILLED:
            kind = StartKind.BACKFILL if status == plan.BACKFILLED else (
                StartKind.RESERVED if job.planned_start is not None and not job.planned_is_estimate
                else StartKind.IMMEDIATE)
            decisions.starts.append(Start(job.job_id, nodes_of(job_idx), kind))
            if ledger is not None:   # (what it takes of its limits counts for the jobs after it)
                ledger.take(snapshot.limited[job.job_id])
            continue
        # A limit that holds the job shows before Resources or Priority, as in Slurm.
        rule = ledger.blocking(snapshot.limited[job.job_id]) if ledger is not None else None
        if rule is not None:
            reasons[job.job_id] = rule.reason
        else:
            reasons[job.job_id] = JobReason.RESOURCES if status == plan.LIMIT else _REASON[status]
        if start_s < 0 and status == plan.RESOURCES and some_out_of_service and rule is None:
            if unavailable_nodes(job, snapshot, blocked):   # (it fits only with nodes out of service)
                reasons[job.job_id] = JobReason.REQ_NODE_NOT_AVAIL
                decisions.reason_details[job.job_id] = NODES_NOT_AVAILABLE


# ---------------------------------------------------------------- advance reservations

def _by_reservation(queue: list[PendingJob], windows: dict, decisions: Decisions, now: float, partitions: dict):
    """(the jobs of no reservation, in order; each reservation's jobs whose window is on, in
    order; the ids of those among them to plan in the main pass too if they do not start in
    their reservation: the jobs a MAGNETIC reservation drew in, and a FLEX reservation's). A
    job whose reservation has not begun waits (Reservation) with its start as an estimate,
    but a FLEX reservation's is planned as any job; one whose reservation is gone waits
    (ReservationDeleted)."""
    rest, members, second_try = [], {}, set()
    magnets = [r for r, (start, _) in windows.values() if ReservationFlag.MAGNETIC in r.flags and start <= now]
    if not magnets and not any(bulk.distinct(_RESERVATION, queue)):   # (the common case, in C-level loops)
        return list(queue), members, second_try
    for job in queue:
        if not job.reservation:
            magnet = next((r for r in magnets if _draws(r, job, partitions)), None) if magnets else None
            if magnet is None:
                rest.append(job)
            else:
                members.setdefault(magnet.name, []).append(job)
                second_try.add(job.job_id)
            continue
        found = windows.get(job.reservation)
        if found is None:
            decisions.reasons[job.job_id] = JobReason.RESERVATION_DELETED
            continue
        if not found[0].admits(job.user, job.account):   # (it may have changed since the job was submitted)
            decisions.reasons[job.job_id] = JobReason.RESERVATION
            continue
        start, _ = found[1]
        is_flex = ReservationFlag.FLEX in found[0].flags
        if start > now and is_flex:
            rest.append(job)
            continue
        if start > now:
            decisions.reasons[job.job_id] = JobReason.RESERVATION
            decisions.planned_starts[job.job_id] = float(start)
            decisions.estimated.add(job.job_id)
            continue
        members.setdefault(job.reservation, []).append(job)
        if is_flex:
            second_try.add(job.job_id)
    return rest, members, second_try


def _draws(reservation, job: PendingJob, partitions: dict) -> bool:
    """Whether a MAGNETIC reservation draws `job` in: it admits its user or account, and some of
    its nodes are in the job's partition."""
    if not reservation.admits(job.user, job.account) or reservation.partition not in ("", job.partition):
        return False
    partition = partitions.get(job.partition)
    return partition is not None and any(partition.has_node(name) for name in reservation.node_names)


def _cores_as_blocked(snapshot: Snapshot, windows: dict, now: float) -> Snapshot:
    """The snapshot the main pass plans on where a reservation of cores is on: the CPUs its own
    running jobs hold there are counted in its blocked window (which takes all its cores, used or
    not), not a second time as held (their memory and GPUs stay held)."""
    on = {r.name: r for r, (start, _) in windows.values() if r.core_count and start <= now}
    if not on:
        return snapshot
    freed: dict[str, int] = {}
    running = []
    for r in snapshot.running:
        if r.reservation in on and not r.is_exclusive:
            for name in r.node_names:
                freed[name] = freed.get(name, 0) + r.per_node.cpus
            r = dataclasses.replace(r, per_node=dataclasses.replace(r.per_node, cpus=0))
        running.append(r)
    if not freed:
        return snapshot
    nodes = tuple(dataclasses.replace(n, allocated=dataclasses.replace(n.allocated, cpus=n.allocated.cpus - freed[n.name]))
                  if n.name in freed else n for n in snapshot.nodes)
    return dataclasses.replace(snapshot, nodes=nodes, running=tuple(running))


def main_pass(snapshot: Snapshot, queue: list[PendingJob], now_s: int, policy: Policy, *, blocks,
              estimate_depth: int | None = None, forecast: bool = True) -> tuple[plan.PassResult, Ledger | None]:
    """The cycle's main pass over `queue` (in queue order, no reservation's jobs), kept out of the
    reservations' `blocks` (reservation_blocks), with the association and QOS limits, and the
    ledger of the running jobs' limits. `estimate_depth` (None: the policy's, with its time
    budget and forecasts) plans that many exact estimates instead (jem why's what-ifs)."""
    limits, ledger = limit_inputs(snapshot, queue, now_s)
    cluster, running, q = pass_inputs(snapshot, queue, now_s)
    if estimate_depth is None:
        estimates = dict(estimate_depth=policy.estimate_depth, estimate_budget_s=policy.estimate_budget_s,
                         forecast=forecast and policy.estimate_depth > 0)
    else:
        estimates = dict(estimate_depth=estimate_depth)
    result = plan.plan_pass(cluster, running, q, now_s=now_s, reservation_depth=policy.reservation_depth,
                            limits=limits, blocks=blocks, **estimates)
    return result, ledger


def result_duration(job: PendingJob, end: float, now_s: int) -> int:
    """A reservation's job runs until the reservation's end at the latest."""
    limit = job.time_limit_s or plan.UNLIMITED_S
    return max(1, min(limit, int(end) - now_s))


def _member_pass(snapshot: Snapshot, jobs: list[PendingJob], reservation, end: float, windows: dict, now_s: int,
                 policy: Policy) -> plan.PassResult:
    """A pass over a reservation's jobs: on its nodes only, ending by its end, kept out of the
    windows of the other reservations. A reservation of cores (CoreCnt=) gives them those cores
    of each node, less what its running jobs hold there (the other jobs' CPUs are not its: of
    the running jobs, only its own are planned to free theirs)."""
    if reservation.core_count:
        snapshot = dataclasses.replace(snapshot, running=tuple(r for r in snapshot.running
                                                               if r.reservation == reservation.name))
    cluster, running, q = pass_inputs(snapshot, jobs, now_s)
    names = set(reservation.node_names)
    mine = np.array([n.name in names for n in snapshot.nodes], dtype=np.uint8)
    cluster = dataclasses.replace(cluster, membership=np.ascontiguousarray(cluster.membership & mine))
    if reservation.core_count:
        free = cluster.free.copy()
        for i, node in enumerate(snapshot.nodes):
            if node.name in names:
                held = sum(r.per_node.cpus for r in snapshot.running if node.name in r.node_names)
                free[i, Res.CPU] = max(0, min(free[i, Res.CPU], reservation.cores_on(node.name) - held))
        cluster = dataclasses.replace(cluster, free=free)
    blocks = [w for name, w in windows.items() if name != reservation.name]   # (the other reservations' windows)
    if ReservationFlag.FLEX not in reservation.flags:   # (its jobs end by its end: no plan past it)
        q = dataclasses.replace(q, duration_s=bulk.to_array([result_duration(j, end, now_s) for j in jobs], np.int64))
        blocks.append((reservation, (end, plan.UNLIMITED_S)))
    limits, ledger = limit_inputs(snapshot, jobs, now_s)
    return plan.plan_pass(cluster, running, q, now_s=now_s, reservation_depth=policy.reservation_depth,
                          limits=limits, estimate_depth=policy.estimate_depth,
                          blocks=reservation_blocks(snapshot, blocks)), ledger


REPEAT_HORIZON_S = 30 * 86400   # a DAILY or WEEKLY reservation's windows are blocked this far ahead


def reservation_blocks(snapshot: Snapshot, windows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(node, start, end) of every reservation window given, for the kernel; a DAILY or WEEKLY
    one's later windows too, up to REPEAT_HORIZON_S ahead (a job longer than its period must
    not run across the next one)."""
    index = {n.name: i for i, n in enumerate(snapshot.nodes)}
    spans = []
    for reservation, (start, end) in windows:
        period = reservation.period_s if end < plan.UNLIMITED_S else 0
        repeats = range(REPEAT_HORIZON_S // period + 1) if period else range(1)
        spans.extend((reservation, start + k * period, end + k * period) for k in repeats)
    rows = [(index[name], int(start), int(min(end, plan.UNLIMITED_S)), reservation.cores_on(name))
            for reservation, start, end in spans for name in reservation.node_names if name in index]
    if any(r[3] is not None for r in rows):   # (a reservation of cores takes those, the others whole nodes)
        units = np.array([[-1 if r[3] is None else r[3]] for r in rows], dtype=np.int64).reshape(len(rows), 1)
        return (np.array([r[0] for r in rows], dtype=np.intp), np.array([r[1] for r in rows], dtype=np.int64),
                np.array([r[2] for r in rows], dtype=np.int64), units)
    return (np.array([r[0] for r in rows], dtype=np.intp), np.array([r[1] for r in rows], dtype=np.int64),
            np.array([r[2] for r in rows], dtype=np.int64))


MAINTENANCE = "ReqNodeNotAvail, Reserved for maintenance"   # what Slurm's squeue shows for such a job


def _maintenance_reasons(decisions: Decisions, snapshot: Snapshot, queue: list[PendingJob],
                         result: plan.PassResult, windows: dict, now: float) -> None:
    """A job waiting for resources that cannot end before a maintenance reservation on its
    partition's nodes begins waits for it: Slurm's "ReqNodeNotAvail, Reserved for maintenance"."""
    maint = [(r, w) for r, w in windows.values() if ReservationFlag.MAINT in r.flags]
    if not maint:
        return
    partitions = {p.name: p for p in snapshot.partitions}
    for job, status in zip(queue, bulk.to_list(result.status)):
        if status not in (plan.RESOURCES, plan.PRIORITY) or \
                decisions.reasons.get(job.job_id) not in (JobReason.RESOURCES, JobReason.PRIORITY):
            continue   # (a limit's reason, or ReqNodeNotAvail already, shows first)
        partition = partitions.get(job.partition)
        limit = job.time_limit_s or plan.UNLIMITED_S
        if partition is not None and any(now + limit > start and any(partition.has_node(n) for n in r.node_names)
                                         for r, (start, _) in maint):
            decisions.reasons[job.job_id] = JobReason.REQ_NODE_NOT_AVAIL
            decisions.reason_details[job.job_id] = MAINTENANCE


def _preemptions(snapshot: Snapshot, queue: list[PendingJob], statuses: list[int], policy: Policy,
                 now: float, ledger: Ledger | None, *, starts: list[Start] = ()) -> list[Preemption]:
    """The victims of the jobs in queue order that wait for resources or behind a blocked job
    (not for a limit: pushing others off would not start it) and may push running jobs off to
    get them, up to the first blocked job of their partition that does not preempt: what its
    reservation covers, a job behind it would not get, however many it pushed off (and it would
    push more off next cycle: `jem sim` on a real trace showed one job preempting thousands).
    What one preemptor counts on, a later one does not (`preemption.Room`), nor what this
    cycle's `starts` take."""
    settings = policy.preemption
    table = snapshot.accounting
    tiers = {p.name: p.priority_tier for p in snapshot.partitions}
    lowest_tier = min(tiers.values(), default=0)
    room = Room(snapshot)
    if starts:
        by_id = {job.job_id: job for job in queue}
        nodes = {node.name: node for node in snapshot.nodes}
        for start in starts:
            if (started := by_id.get(start.job_id)) is not None:
                room.take(started, [nodes[name] for name in start.node_names])
    by_kind: dict[tuple[str, str], list[RunningJob]] = {}   # (QOS, partition) -> the running jobs it may push off
    # (once every job that could be a victim is taken and no killed job's share is left, the rest
    # of a long queue has nothing to count on: not looked at)
    could_go = {r.job_id for r in snapshot.running if not r.is_killed and not r.is_suspended}
    found: list[Preemption] = []
    held_up: set[str] = set()   # partitions where a blocked job ahead preempts nobody
    for job, status in zip(queue, statuses):
        if not room.dying and could_go <= room.taken:
            break
        if status not in (plan.RESOURCES, plan.PRIORITY) or job.partition in held_up:
            continue
        if ledger is not None and ledger.blocking(snapshot.limited[job.job_id]) is not None:
            continue
        mine: list[Preemption] = []
        claims = room.n_claims
        if settings.preempt_type == "qos":   # (most jobs' QOS preempt nothing: skipped at once)
            qos = table.qos.get(job.qos or "normal") if table is not None else None
            may = qos is not None and bool(qos.preempt)
        else:
            may = tiers.get(job.partition, 0) > lowest_tier
        if may:
            key = (job.qos, job.partition)
            if key not in by_kind:
                by_kind[key] = [r for r in snapshot.running if may_preempt(job, r, snapshot, settings, now)]
            candidates = [r for r in by_kind[key] if r.job_id not in room.taken]
            if candidates or room.dying:
                mine = _preempt_for(job, snapshot, candidates=candidates, settings=settings, now=now, room=room)
        if room.n_claims == claims:   # (it counted on nothing: no victims, no jobs being killed)
            held_up.add(job.partition)
        found += mine
    return found


def _preempt_for(job: PendingJob, snapshot: Snapshot, *, candidates: list[RunningJob], settings, now: float,
                 room: Room) -> list[Preemption]:
    """One preemptor's victims (all of one kind: see jem.scheduler.preemption), claimed in `room`."""
    partition = next(p for p in snapshot.partitions if p.name == job.partition)
    constraint = parse_constraint(job.constraint)
    reserved = _reserved_nodes(snapshot, job, now)   # (a job outside a reservation never gets those)

    def node_ok(node) -> bool:
        return node.is_schedulable and partition.has_node(node.name) and constraint.is_met_by(node.features) \
            and node.name not in reserved and _could_hold(job, node)

    return preempt_for(job, snapshot, candidates, settings, node_ok=node_ok, now=now, room=room,
                       grace_time=lambda victim: _grace_time(victim, snapshot))


def _reserved_nodes(snapshot: Snapshot, job: PendingJob, now: float) -> set[str]:
    """The nodes of reservations whose window meets [now, now + the job's time limit)."""
    end = now + (job.time_limit_s or plan.UNLIMITED_S)
    found: set[str] = set()
    for reservation in snapshot.reservations:
        window = reservation.window(now)
        if window is not None and window[0] < end:
            found.update(reservation.node_names)
    return found


def _grace_time(victim: RunningJob, snapshot: Snapshot) -> int:
    qos = snapshot.accounting.qos.get(victim.qos) if snapshot.accounting is not None else None
    return qos.grace_time_s if qos is not None else 0


def limit_inputs(snapshot: Snapshot, queue: list[PendingJob], now_s: int) -> tuple[tuple | None, Ledger | None]:
    """The kernel's limit arrays for `queue` and a ledger of the running jobs (for the reason of a
    job a limit holds), or (None, None) when no limit applies."""
    table, limited = snapshot.accounting, snapshot.limited
    if table is None or not table.has_limits or not limited:
        return None, None
    running = [(limited[r.job_id], _end_s(r.start_time, r.time_limit_s)) for r in snapshot.running
               if r.job_id in limited]
    limits = plan_limits(table, [limited[j.job_id] for j in queue], running)
    ledger = Ledger(table, [(job, None if end_s >= plan.UNLIMITED_S else end_s - now_s) for job, end_s in running])
    return limits, ledger


def unavailable_nodes(job: PendingJob, snapshot: Snapshot, cache: dict) -> str:
    """When `job` could never start on its partition's nodes in service, however long it waited,
    but could with the drained or down ones: those (a hostlist); else "". `cache` holds the
    answer per job shape (jobs of one shape share it)."""
    key = (job.partition, job.n_nodes, job.per_node, job.constraint, job.gres_per_node, job.is_exclusive)
    answer = cache.get(key)
    if answer is None:
        partition = next((p for p in snapshot.partitions if p.name == job.partition), None)
        members = [n for n in snapshot.nodes if partition is not None and partition.has_node(n.name)]
        able = [n for n in members if _could_hold(job, n)]
        usable = [n for n in able if n.is_schedulable]
        answer = cache[key] = node_list(n.name for n in members if not n.is_schedulable) \
            if len(usable) < job.n_nodes <= len(able) else ""
    return answer


def _could_hold(job: PendingJob, node) -> bool:
    """Whether `node` could hold one node's share of `job` were it empty."""
    if not job.per_node.fits_in(node.capacity):
        return False
    if job.constraint and not parse_constraint(job.constraint).is_met_by(node.features):
        return False
    gres = dict(node.gres)
    return all(gres.get(name, 0) >= count for name, count in job.gres_per_node)
