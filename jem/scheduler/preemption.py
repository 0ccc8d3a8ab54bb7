"""Preemption (Slurm's preempt/qos and preempt/partition_prio): which running jobs a blocked job
may push off, and which of them to take so that the fewest jobs and the least work are lost.

A running job is preemptable by a pending one when:

- preempt/qos: the pending job's QOS lists the running job's QOS in its Preempt=;
- preempt/partition_prio: the running job's partition has a lower PriorityTier;

and it is not exempt (it started less than its PreemptExemptTime ago: its QOS's, else the
cluster's), not being killed or suspended already, and its mode (its QOS's PreemptMode, else
the cluster's) is not OFF. Victims are chosen node by node: on each node the job may use, the
fewest preemptable jobs that make room for it, youngest first (the least work lost); then
the nodes that cost the fewest victims and the least work. Pure: the scheduler's cycle
calls it; the controller acts: it kills CANCEL and REQUEUE victims (GraceTime: SIGTERM now,
SIGKILL at its end), and suspends SUSPEND victims and starts the preemptor on their share
at once (GraceTime does not apply), resuming them when it ends.

A preemptor's victims are all of one kind: those it may suspend, if suspending them alone
makes room now (jobs being killed do not count: it starts at once), else those it may kill
(jobs being killed count as gone: their share frees soon).

Several preemptors a cycle (`Room`): each blocked job in queue order that may preempt gets
victims, and what one counts on (the free share of its nodes, the jobs being killed there,
its victims) is taken from what the next ones see, so that no two count on the same CPU.

Worked example: one 4-CPU node runs A (2 CPUs, started 1 h ago) and B (2 CPUs, started
5 min ago), both of QOS low; a job of QOS high (Preempt=low) needs 2 CPUs: B alone makes
room and loses the least work, so B is the victim. A second job of QOS high, also needing
2 CPUs, behind it in the queue, then takes A: B's share is the first one's.
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
    mode: PreemptMode          # CANCEL, REQUEUE (the controller cancels a job it may not requeue) or SUSPEND
    grace_time_s: int          # SIGTERM now, SIGKILL after this long (0 for SUSPEND)
    node_names: tuple[str, ...] = ()   # SUSPEND: where the preemptor starts, in the same cycle


def victim_mode(victim: RunningJob, table: AccountingTable | None, settings: PreemptPolicy) -> PreemptMode:
    qos = table.qos.get(victim.qos) if table is not None else None
    if qos is not None and qos.preempt_mode is not PreemptMode.OFF:
        return qos.preempt_mode
    return settings.mode


def may_preempt(job: PendingJob, victim: RunningJob, snapshot: Snapshot, settings: PreemptPolicy,
                now: float) -> bool:
    """Whether `job` may push `victim` off (see the module docstring)."""
    table = snapshot.accounting
    if victim.is_killed or victim.is_suspended or victim_mode(victim, table, settings) is PreemptMode.OFF:
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


class Room:
    """What the preemptors of one cycle have counted on so far, per node: the free share left
    (after the earlier preemptors' holds), the jobs being killed whose share is not counted on
    yet, and the victims taken (no later preemptor counts on them again)."""

    def __init__(self, snapshot: Snapshot):
        self.free = {n.name: n.capacity - n.allocated for n in snapshot.nodes}
        self.gres_free = {n.name: dict(n.gres_free) for n in snapshot.nodes}
        self.dying: dict[str, list[RunningJob]] = {}   # node name -> jobs whose share there frees soon
        for running in snapshot.running:
            if running.is_killed:
                for name in running.node_names:
                    self.dying.setdefault(name, []).append(running)
        self.taken: set[int] = set()
        self.n_claims = 0   # preemptors that counted on something (victims, or jobs being killed)

    def take(self, job: PendingJob, nodes: list[NodeView]) -> None:
        """`job` starts on `nodes` this cycle, on what is free there: no preemptor counts on that."""
        for node in nodes:
            self.free[node.name] = self.free[node.name] - (node.capacity if job.is_exclusive else job.per_node)
            _add(self.gres_free[node.name], node.gres if job.is_exclusive else job.gres_per_node, sign=-1)

    def claim(self, job: PendingJob, nodes: list[NodeView], *, victims: list[RunningJob], with_dying: bool,
              victims_die: bool) -> None:
        """`job` counts on `nodes`: its victims' share there (and, `with_dying`, that of the jobs
        being killed) is its now, and so its hold. Victims that die (not suspended) free their
        share of their other nodes soon: later preemptors may count on it. Suspended victims lend
        their share to `job` alone: what it does not use of it is no later preemptor's either."""
        self.n_claims += 1
        names = {n.name for n in nodes}
        for node in nodes:
            gone = [v for v in victims if node.name in v.node_names]
            if with_dying:
                gone += self.dying.pop(node.name, [])
            free, gres_free = self.free[node.name], self.gres_free[node.name]
            hold = node.capacity if job.is_exclusive else job.per_node
            if not victims_die:   # (it takes the lent share first, then what is free)
                lent = Resources()
                for victim in gone:
                    lent = lent + _held_on(victim, node)
                self.free[node.name] = free - _beyond(hold, lent)
                continue
            for job_gone in gone:
                free = free + _held_on(job_gone, node)
                _add(gres_free, node.gres if job_gone.is_exclusive else job_gone.gres_per_node)
            self.free[node.name] = free - hold
            _add(gres_free, node.gres if job.is_exclusive else job.gres_per_node, sign=-1)
        for victim in victims:
            self.taken.add(victim.job_id)
            if victims_die:
                for name in victim.node_names:
                    if name not in names:
                        self.dying.setdefault(name, []).append(victim)


def preempt_for(job: PendingJob, snapshot: Snapshot, candidates: list[RunningJob], settings: PreemptPolicy, *,
                node_ok, now: float, room: Room, grace_time) -> list[Preemption]:
    """One preemptor's victims among `candidates` (the running jobs it may push off), all of one
    kind (see the module docstring), claimed in `room`; [] if none make room. `grace_time(victim)`:
    the victim's GraceTime in seconds."""
    modes = {c.job_id: victim_mode(c, snapshot.accounting, settings) for c in candidates}
    suspendable = [c for c in candidates if modes[c.job_id] is PreemptMode.SUSPEND]
    if suspendable:   # (it starts now, on their share: the jobs being killed free theirs too late)
        chosen = choose_victims(job, snapshot, suspendable, node_ok=node_ok, now=now, room=room, with_dying=False)
        if chosen is not None and chosen[0]:
            victims, nodes = chosen
            room.claim(job, nodes, victims=victims, with_dying=False, victims_die=False)
            names = tuple(n.name for n in nodes)
            return [Preemption(v.job_id, job.job_id, PreemptMode.SUSPEND, 0, names) for v in victims]
    killable = [c for c in candidates if modes[c.job_id] is not PreemptMode.SUSPEND]
    chosen = choose_victims(job, snapshot, killable, node_ok=node_ok, now=now, room=room, with_dying=True)
    if chosen is None:
        return []
    victims, nodes = chosen
    room.claim(job, nodes, victims=victims, with_dying=True, victims_die=True)   # (no victims: the dying jobs make room)
    return [Preemption(v.job_id, job.job_id, modes[v.job_id], grace_time(v)) for v in victims]


def choose_victims(job: PendingJob, snapshot: Snapshot, candidates: list[RunningJob], *, node_ok, now: float,
                   room: Room, with_dying: bool) -> tuple[list[RunningJob], list[NodeView]] | None:
    """The running jobs to push off so that `job` fits on `job.n_nodes` nodes it may use
    (`node_ok(node)`), with those nodes; None if pushing off every candidate would not make
    room. Victims ([]) may be none: there is room already (`with_dying`: counting the share of
    the jobs being killed as free)."""
    on_node: dict[str, list[RunningJob]] = {}
    for victim in candidates:
        if victim.job_id not in room.taken:
            for name in victim.node_names:
                on_node.setdefault(name, []).append(victim)
    options = []   # (victims on it, work they lose, node name, the victims, the node)
    for node in snapshot.nodes:
        if not node_ok(node):
            continue
        chosen = _room_on(job, node, room=room,
                          youngest_first=sorted(on_node.get(node.name, ()), key=lambda v: (-v.start_time, v.job_id)),
                          dying=room.dying.get(node.name, ()) if with_dying else ())
        if chosen is not None:
            options.append((len(chosen), sum(now - v.start_time for v in chosen), node.name, chosen, node))
    if len(options) < job.n_nodes:
        return None
    options.sort(key=lambda o: o[:3])
    victims: dict[int, RunningJob] = {}
    for _, _, _, chosen, _ in options[:job.n_nodes]:
        victims.update((v.job_id, v) for v in chosen)
    return sorted(victims.values(), key=lambda v: v.job_id), [o[4] for o in options[:job.n_nodes]]


def _room_on(job: PendingJob, node: NodeView, *, room: Room, youngest_first: list[RunningJob],
             dying=()) -> list[RunningJob] | None:
    """The fewest of the node's victims, youngest first, whose end makes room for the job there
    (the `dying` jobs' share counted free already)."""
    free = room.free[node.name]
    gres_free = dict(room.gres_free[node.name])
    for gone in dying:
        free = free + _held_on(gone, node)
        _add(gres_free, node.gres if gone.is_exclusive else gone.gres_per_node)
    chosen: list[RunningJob] = []
    for victim in [None, *youngest_first]:
        if victim is not None:
            chosen.append(victim)
            free = free + _held_on(victim, node)
            _add(gres_free, node.gres if victim.is_exclusive else victim.gres_per_node)
        whole_node_free = not job.is_exclusive or free == node.capacity
        if job.per_node.fits_in(free) and whole_node_free and \
                all(gres_free.get(name, 0) >= count for name, count in job.gres_per_node):
            return chosen
    return None


def _held_on(victim: RunningJob, node: NodeView) -> Resources:
    return node.capacity if victim.is_exclusive else victim.per_node


def _add(counts: dict[str, int], gres: tuple[tuple[str, int], ...], *, sign: int = 1) -> None:
    for name, count in gres:
        counts[name] = counts.get(name, 0) + sign * count


def _beyond(need: Resources, lent: Resources) -> Resources:
    """What of `need` the `lent` units do not cover (never less than none, unit by unit)."""
    return Resources(max(0, need.cpus - lent.cpus), max(0, need.mem_mib - lent.mem_mib), max(0, need.gpus - lent.gpus))
