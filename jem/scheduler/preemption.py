"""Preemption (Slurm's preempt/qos and preempt/partition_prio): which running jobs a blocked job
may push off, and which of them to take so that the fewest jobs and the least work are lost.

A running job is preemptable by a pending one when:

- preempt/qos: the pending job's QOS lists the running job's QOS in its Preempt=;
- preempt/partition_prio: the running job's partition has a lower PriorityTier;

and it is not exempt (it started less than its PreemptExemptTime ago: its QOS's, else the
cluster's), not being killed already, and its mode (its QOS's PreemptMode, else the
cluster's) is not OFF. Victims are chosen node by node: on each node the job may use, the
fewest preemptable jobs that make room for it, youngest first (the least work lost); then
the nodes that cost the fewest victims and the least work. Pure: the scheduler's cycle
calls it; the controller kills the victims (GraceTime: SIGTERM now, SIGKILL at its end).

Worked example: one 4-CPU node runs A (2 CPUs, started 1 h ago) and B (2 CPUs, started
5 min ago), both of QOS low; a job of QOS high (Preempt=low) needs 2 CPUs: B alone makes
room and loses the least work, so B is the victim.
"""

from dataclasses import dataclass

from jem.model.associations import AccountingTable, PreemptMode
from jem.model.resources import Resources
from jem.scheduler.snapshot import NodeView, PendingJob, RunningJob, Snapshot

PREEMPT_TYPES = ("none", "qos", "partition_prio")


@dataclass(frozen=True, slots=True)
class PreemptPolicy:
    """The cluster's preemption settings ([scheduler] preempt_*)."""

    preempt_type: str = "none"               # one of PREEMPT_TYPES
    mode: PreemptMode = PreemptMode.CANCEL   # the cluster's PreemptMode (a QOS's overrides it)
    exempt_time_s: int = 0                   # the cluster's PreemptExemptTime


@dataclass(frozen=True, slots=True)
class Preemption:
    victim_id: int
    preemptor_id: int
    mode: PreemptMode          # CANCEL or REQUEUE (the controller cancels a job it may not requeue)
    grace_time_s: int          # SIGTERM now, SIGKILL after this long


def victim_mode(victim: RunningJob, table: AccountingTable | None, settings: PreemptPolicy) -> PreemptMode:
    qos = table.qos.get(victim.qos) if table is not None else None
    if qos is not None and qos.preempt_mode is not PreemptMode.OFF:
        return qos.preempt_mode
    return settings.mode


def may_preempt(job: PendingJob, victim: RunningJob, snapshot: Snapshot, settings: PreemptPolicy,
                now: float) -> bool:
    """Whether `job` may push `victim` off (see the module docstring)."""
    table = snapshot.accounting
    if victim.is_killed or victim_mode(victim, table, settings) is PreemptMode.OFF:
        return False
    if settings.preempt_type == "qos":
        qos = table.qos.get(job.qos or "normal") if table is not None else None
        if qos is None or victim.qos not in qos.preempt:
            return False
    elif settings.preempt_type == "partition_prio":
        tiers = {p.name: p.priority_tier for p in snapshot.partitions}
        if tiers.get(victim.partition, 0) >= tiers.get(job.partition, 0):
            return False
    else:
        return False
    victim_qos = table.qos.get(victim.qos) if table is not None else None
    exempt = victim_qos.preempt_exempt_time_s if victim_qos is not None and \
        victim_qos.preempt_exempt_time_s is not None else settings.exempt_time_s
    return now - victim.start_time >= exempt


def choose_victims(job: PendingJob, snapshot: Snapshot, candidates: list[RunningJob], *, node_ok,
                   now: float) -> list[RunningJob] | None:
    """The running jobs to push off so that `job` fits on `job.n_nodes` nodes it may use
    (`node_ok(node)`), or None if pushing off every candidate would not make room."""
    on_node: dict[str, list[RunningJob]] = {}
    for victim in candidates:
        for name in victim.node_names:
            on_node.setdefault(name, []).append(victim)
    # Jobs being killed (victims of an earlier cycle among them) free their share soon: counted
    # as gone, so that a job waiting out its victims' grace time pushes nobody else off.
    dying: dict[str, list[RunningJob]] = {}
    for running in snapshot.running:
        if running.is_killed:
            for name in running.node_names:
                dying.setdefault(name, []).append(running)
    options = []   # (victims on it, work they lose, node name, the victims)
    for node in snapshot.nodes:
        if not node_ok(node):
            continue
        chosen = _room_on(job, node, sorted(on_node.get(node.name, ()), key=lambda v: (-v.start_time, v.job_id)),
                          dying.get(node.name, ()))
        if chosen is not None:
            options.append((len(chosen), sum(now - v.start_time for v in chosen), node.name, chosen))
    if len(options) < job.n_nodes:
        return None
    options.sort(key=lambda o: o[:3])
    victims: dict[int, RunningJob] = {}
    for _, _, _, chosen in options[:job.n_nodes]:
        victims.update((v.job_id, v) for v in chosen)
    return sorted(victims.values(), key=lambda v: v.job_id) or None   # (none: room without preempting)


def _room_on(job: PendingJob, node: NodeView, youngest_first: list[RunningJob],
             dying=()) -> list[RunningJob] | None:
    """The fewest of the node's victims, youngest first, whose end makes room for the job there
    (the `dying` jobs' share counted free already)."""
    free = node.capacity - node.allocated
    gres_free = dict(node.gres_free)
    for gone in dying:
        free = free + _held_on(gone, node)
        for name, count in (node.gres if gone.is_exclusive else gone.gres_per_node):
            gres_free[name] = gres_free.get(name, 0) + count
    chosen: list[RunningJob] = []
    for victim in [None, *youngest_first]:
        if victim is not None:
            chosen.append(victim)
            held = _held_on(victim, node)
            free = free + held
            for name, count in (node.gres if victim.is_exclusive else victim.gres_per_node):
                gres_free[name] = gres_free.get(name, 0) + count
        whole_node_free = not job.is_exclusive or free == node.capacity
        if job.per_node.fits_in(free) and whole_node_free and \
                all(gres_free.get(name, 0) >= count for name, count in job.gres_per_node):
            return chosen
    return None


def _held_on(victim: RunningJob, node: NodeView) -> Resources:
    return node.capacity if victim.is_exclusive else victim.per_node
