"""The controller's table of nodes: registration, heartbeats, silence, drains and allocations.

Allocation bookkeeping is exact integer arithmetic (CPUs, MiB, GPUs): a job's
per-node request is added to each of its nodes at start and removed at end.

Suspended jobs keep their share of their nodes (`suspensions`: since when,
and for how long before, each was suspended). One suspended by preemption
(PreemptMode SUSPEND) lends it to its preemptor alone (`lend`): the
preemptor's allocation takes what it can of its lenders' share on each node
(their CPU and GPU indices too) and adds only the rest, its own part, to the
node; so a node's allocation never exceeds its capacity and nothing is
counted twice. When the preemptor ends, its own part is freed and its lenders
are owed their resumption (`resume_owed`): their share was never anyone
else's. When a lender ends first (cancelled while suspended), what it lent
becomes the preemptor's.
An administrator's drains and DOWNs are written to the store (before memory
changes) so they survive a restart, with the node's event history in the same
commit (Down time in usage reports; an open event is ended by the resume, after
a restart too); a DOWN node stays DOWN, with the administrator's reason,
whether or not its agent answers, until resumed (what becomes of its jobs:
`nodedown.py`). Callers hold the controller lock.

Silence: a node not heard from for `node_timeout_s` is DOWN (it gets no new
work; its jobs stay as they are, see `reports.py`), and one silent for
`node_dead_timeout_s` is dead (its jobs are settled). Silence is
measured by the controller's clock, so a controller that stalls would blame the
nodes for its own pause: when it notices one of more than a heartbeat interval,
every node's silence counts again from the moment it resumed. It notices two
kinds: its whole process did not run (stopped, paused, starved: `StallWatch`,
a thread that should wake every fraction of a second, woke late), or heartbeats
waited for the controller's lock (`note_heartbeat_lag`). The scheduling loop's
own pace is no stall: it takes the lock only for its cycles, and heartbeats are
heard meanwhile.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from jem.model.config import Config
from jem.model.errors import InvalidArgument, NodeNotFound
from jem.model.node import Node
from jem.model.resources import Resources
from jem.store import Store
from jem.store.base import NodeRecord

log = logging.getLogger(__name__)

HEALTH_REASON_PREFIX = "health check: "
MAX_REASON_LEN = 512
EVENT_KEEP_UNIT_S = 86400   # node events are kept `audit_keep_days` days after they end


class StallWatch:
    """Notices pauses of the whole controller process: a thread that wakes every fraction of
    `stall_s`. A wake (or a look, when the thread has not woken yet) more than `stall_s` later
    than planned means no thread ran meanwhile: the process was stopped, paused or starved."""

    def __init__(self, *, stall_s: float):
        self._stall_s = stall_s
        self._period_s = min(1.0, max(0.05, stall_s / 4))
        self._lock = threading.Lock()
        self._last_wake = time.monotonic()
        self._paused_s = 0.0   # the longest pause seen since the last take
        threading.Thread(target=self._run, name="stall-watch", daemon=True).start()

    def take_pause_s(self) -> float:
        """The longest pause (seconds over `stall_s`) since the last call, then forget it; 0 if none."""
        with self._lock:
            self._note(time.monotonic())
            paused_s, self._paused_s = self._paused_s, 0.0
            return paused_s

    def _run(self) -> None:
        while True:
            time.sleep(self._period_s)
            with self._lock:
                self._note(time.monotonic())

    def _note(self, now: float) -> None:
        late_s = now - self._last_wake - self._period_s
        if late_s > self._stall_s:
            self._paused_s = max(self._paused_s, late_s)
        self._last_wake = now


@dataclass(slots=True)
class Suspension:
    """A job suspended in its current run, now or before: the time limit's clock stops while it
    is suspended."""

    since: float | None        # when it was suspended; None while it runs again
    total_s: float = 0.0       # seconds it was suspended before `since`
    preemptor_id: int = 0      # while suspended: the job it lends its share to (0: an operator's suspend)

    def suspended_s(self, now: float) -> float:
        """Seconds suspended in all, counting the suspension going on up to `now`."""
        return self.total_s + (max(0.0, now - self.since) if self.since is not None else 0.0)


@dataclass(frozen=True, slots=True)
class Loan:
    """What a suspended job lends its preemptor on one node."""

    lender_id: int
    amount: Resources
    gres: tuple[tuple[str, int], ...]
    cpu_ids: tuple[int, ...]
    gpu_ids: tuple[int, ...]


class NodeTable:
    def __init__(self, config: Config, store: Store, *, clock: Callable[[], float] = time.time):
        self._config = config
        self._store = store
        self._clock = clock   # the wall clock of node events (usage reports' Down time)
        self._nodes: dict[str, Node] = {n.name: Node(n.name, n.capacity, features=n.features, gres=dict(n.gres),
                                             gpu_type=n.gpu_type)
                                        for n in config.nodes}
        self._records = {record.name: record for record in store.load_nodes()}   # kept for dynamic nodes that join
        for node in self._nodes.values():
            self._restore(node)
        self._t_resumed = 0.0                  # when the controller last resumed from a stall of its own
        self._stall_watch: StallWatch | None = None   # started by the first check for silent nodes
        self.suspensions: dict[int, Suspension] = {}   # job id -> its suspension in its current run
        self.resume_owed: set[int] = set()             # lenders whose preemptor ended: to resume
        self._lent_to: dict[int, int] = {}             # lender id -> the preemptor it lends its share to
        self._loans: dict[int, dict[str, list[Loan]]] = {}   # preemptor id -> node -> what it borrows there
        self._gres_held: dict[int, dict[str, tuple[tuple[str, int], ...]]] = {}   # job -> node -> GRES it adds

    def _restore(self, node: Node) -> None:
        """Give `node` the drain and DOWN an administrator left on it before a restart."""
        record = self._records.pop(node.name, None)
        if record is not None and (record.is_drained or record.is_down):
            node.is_drained, node.is_down, node.reason = record.is_drained, record.is_down, record.reason

    def get(self, name: str) -> Node:
        node = self._nodes.get(name)
        if node is None:
            raise NodeNotFound(name)
        return node

    def all(self) -> list[Node]:
        return [self._nodes[name] for name in sorted(self._nodes)]

    def snapshot_unlocked(self) -> list[Node]:
        """The nodes by name, for a reader that must not take the lock (the metrics): the references
        copied in one C call, which no other thread interleaves; each node then read as it stands."""
        return sorted(list(self._nodes.values()), key=lambda node: node.name)

    def register(self, name: str, *, address: str, capacity: Resources, boot_id: str,
                 cgroup_mode: str, gpu_isolation: str = "", now: float) -> Node:
        """Mark a node's agent up at `address`. Unknown nodes join only in a dynamic cluster."""
        node = self._nodes.get(name)
        if node is None:
            if not self._config.cluster.dynamic_nodes:
                raise NodeNotFound(f"{name} is not configured and the cluster is not dynamic")
            node = self._nodes[name] = Node(name, capacity)
            self._restore(node)
            log.info("node joined node=%s cpus=%d mem_mib=%d", name, capacity.cpus, capacity.mem_mib)
        elif capacity != node.capacity:
            log.warning("node reports other resources than configured node=%s configured=%s reported=%s",
                        name, node.capacity, capacity)
        if not node.is_responding:
            log.info("node up node=%s address=%s", name, address)
        node.agent_address, node.boot_id, node.cgroup_mode = address, boot_id, cgroup_mode
        node.gpu_isolation = gpu_isolation
        node.is_responding, node.last_heartbeat = True, now
        if not node.is_drained and not node.is_down:
            node.reason = ""
        return node

    def heartbeat(self, name: str, *, boot_id: str, now: float) -> Node | None:
        """Record a heartbeat; None if the agent must register (unknown, down or rebooted)."""
        node = self._nodes.get(name)
        if node is None or not node.is_responding or node.boot_id != boot_id:
            return None
        node.last_heartbeat = now
        return node

    def mark_unresponsive(self, *, now: float, timeout_s: float, stall_s: float) -> list[Node]:
        """Take nodes silent for longer than `timeout_s` DOWN; returns them. A pause of the whole
        controller of more than `stall_s` first restarts every node's silence (module docstring)."""
        if self._stall_watch is None:
            self._stall_watch = StallWatch(stall_s=stall_s)
        paused_s = self._stall_watch.take_pause_s()
        if paused_s:
            self.note_stall(now=now, why=f"the controller did not run for {paused_s:.1f} s")
        silent = [n for n in self._nodes.values() if n.is_responding and self.silence_s(n, now=now) > timeout_s]
        for node in silent:
            node.is_responding = False
            if not node.is_down:   # an administrator's reason says more
                node.reason = "Not responding"
            log.warning("node down node=%s reason=%s silent_s=%.1f", node.name, node.reason,
                        self.silence_s(node, now=now))
        return silent

    def note_heartbeat_lag(self, lag_s: float, *, now: float, stall_s: float) -> None:
        """A heartbeat that arrived `lag_s` before it could be recorded (it waited for the
        controller's lock): more than `stall_s` is the controller's stall, not the nodes'."""
        if lag_s > stall_s:
            self.note_stall(now=now, why=f"a heartbeat waited {lag_s:.1f} s for the controller")

    def note_stall(self, *, now: float, why: str) -> None:
        """The controller could not hear nodes until `now`: their silence counts from then."""
        log.warning("controller stalled: node silence counts from now why=%r", why)
        self._t_resumed = max(self._t_resumed, now)

    def silence_s(self, node: Node, *, now: float, since: float = 0.0) -> float:
        """How long the controller has not heard from `node`: since its last heartbeat, since
        `since` (the controller's start, for nodes not heard from since), or since the
        controller resumed from a stall, whichever is latest."""
        return now - max(node.last_heartbeat, since, self._t_resumed)

    def dead(self, *, now: float, timeout_s: float, since: float) -> set[str]:
        """The DOWN nodes holding jobs that have been silent for longer than `timeout_s`
        (see `silence_s` for `since`)."""
        return {n.name for n in self._nodes.values()
                if not n.is_responding and n.job_ids and self.silence_s(n, now=now, since=since) > timeout_s}

    def mark_unreachable(self, name: str, *, address: str, why: str) -> bool:
        """Take a node DOWN at once because its agent at `address` failed a call; False if the
        node has since re-registered elsewhere or is already down. Its jobs are settled by
        the node timeout or by reconciliation when the agent registers again."""
        node = self._nodes.get(name)
        if node is None or not node.is_responding or node.agent_address != address:
            return False
        node.is_responding = False
        if not node.is_down:
            node.reason = why
        log.warning("node down node=%s reason=%r", name, why)
        return True

    def apply_health(self, node: Node, error: str) -> None:
        """Drain a node whose health check fails (reason: its output); undrain it when the
        check passes again, unless an administrator drained it for another reason. A node
        an administrator took DOWN is theirs: its health changes nothing."""
        if node.is_down:
            return
        reason = f"{HEALTH_REASON_PREFIX}{error}"[:MAX_REASON_LEN] if error else ""
        if error and (not node.is_drained or node.reason.startswith(HEALTH_REASON_PREFIX)) and node.reason != reason:
            self.drain(node.name, reason)
        elif not error and node.is_drained and node.reason.startswith(HEALTH_REASON_PREFIX):
            self.resume(node.name)

    def drain(self, name: str, reason: str) -> Node:
        _require_reason(reason, "drain")
        node = self.get(name)
        self._save(NodeRecord(name, True, reason, is_down=node.is_down), node)
        node.is_drained, node.reason = True, reason
        log.info("node drained node=%s reason=%r", name, reason)
        return node

    def undrain(self, name: str) -> Node:
        """Undo a drain only (scontrol update state=undrain): a node taken DOWN stays DOWN, with
        its reason."""
        node = self.get(name)
        self._save(NodeRecord(name, False, node.reason if node.is_down else "", is_down=node.is_down), node)
        node.is_drained = False
        if not node.is_down:
            node.reason = "" if node.is_responding else "Not responding"
        log.info("node undrained node=%s", name)
        return node

    def down(self, name: str, reason: str) -> Node:
        """Take a node DOWN until `resume` (scontrol update state=down): no new work, whatever
        its agent says. Its jobs are the caller's to kill or settle (`nodedown.py`)."""
        _require_reason(reason, "down")
        node = self.get(name)
        self._save(NodeRecord(name, node.is_drained, reason, is_down=True), node)
        node.is_down, node.reason = True, reason
        log.warning("node down by an administrator node=%s reason=%r responding=%s", name, reason,
                    node.is_responding)
        return node

    def resume(self, name: str) -> Node:
        """Undo a drain and an administrator's DOWN. A silent node stays DOWN until its agent
        registers again."""
        node = self.get(name)
        self._save(NodeRecord(name, False, ""), node)
        node.is_drained = node.is_down = False
        node.reason = "" if node.is_responding else "Not responding"
        log.info("node resumed node=%s", name)
        return node

    def _save(self, record: NodeRecord, node: Node) -> None:
        """Store `record` and, in the same commit, the node's event history (its CPUs, from
        now: Down time in usage reports). A node back in service also drops the events that
        ended longer ago than `[cluster] audit_keep_days`, the store's one retention setting."""
        now = self._clock()
        self._store.save_node(record, cpus=node.capacity.cpus, time=now)
        if not (record.is_drained or record.is_down):
            self._store.forget_node_events(before=now - self._config.cluster.audit_keep_days * EVENT_KEEP_UNIT_S)

    def allocate(self, names: tuple[str, ...], per_node: Resources, job_id: int, *,
                 cpu_ids: tuple[tuple[int, ...], ...] = (), gpu_ids: tuple[tuple[int, ...], ...] = (),
                 gres: tuple[tuple[str, int], ...] = (), is_exclusive: bool = False,
                 ) -> tuple[tuple[tuple[int, ...], ...], tuple[tuple[int, ...], ...]]:
        """Add a job's per-node request (an exclusive job: all of each node, GRES too) to
        its nodes and give it concrete CPU and GPU indices on each (the ones given, when
        re-deriving after a restart). A preemptor that was lent resources (`lend`) takes them
        first, their indices with them, and adds only the rest. Returns (cpu ids, gpu ids) per
        node, in `names` order."""
        lenders = sorted(lender for lender, borrower in self._lent_to.items() if borrower == job_id)
        cpus, gpus = [], []
        for i, name in enumerate(names):
            node = self._nodes[name]
            amount = node.capacity if is_exclusive else per_node
            node_gres = tuple(node.gres.items()) if is_exclusive else gres
            loans = self._borrow(node, job_id, lenders=lenders, need=amount, need_gres=node_gres) if lenders else []
            for loan in loans:
                amount = amount - loan.amount
                node_gres = _minus(node_gres, loan.gres)
            node.held[job_id] = amount
            node.allocated = node.allocated + amount
            for gres_name, count in node_gres:
                node.gres_allocated[gres_name] = node.gres_allocated.get(gres_name, 0) + count
            self._gres_held.setdefault(job_id, {})[name] = node_gres
            node.job_ids.add(job_id)
            given_cpus = cpu_ids[i] if i < len(cpu_ids) else ()
            given_gpus = gpu_ids[i] if i < len(gpu_ids) else ()
            borrowed_cpus = tuple(c for loan in loans for c in loan.cpu_ids)
            borrowed_gpus = tuple(g for loan in loans for g in loan.gpu_ids)
            node_cpus, node_gpus = node.take_ids(job_id, amount.cpus, amount.gpus, cpu_ids=given_cpus,
                                                 gpu_ids=given_gpus)
            if not given_cpus:
                node_cpus = borrowed_cpus + node_cpus
            if not given_gpus:
                node_gpus = borrowed_gpus + node_gpus
            node.cpu_ids[job_id], node.gpu_ids[job_id] = node_cpus, node_gpus
            cpus.append(node_cpus)
            gpus.append(node_gpus)
        return tuple(cpus), tuple(gpus)

    def _borrow(self, node: Node, borrower_id: int, *, lenders: list[int], need: Resources,
                need_gres: tuple[tuple[str, int], ...]) -> list[Loan]:
        """What `borrower_id` takes on `node` of its lenders' shares there, lender by lender, up to
        what it needs."""
        loans = []
        for lender in lenders:
            held = node.held.get(lender)
            if held is None:
                continue
            amount = Resources(min(need.cpus, held.cpus), min(need.mem_mib, held.mem_mib), min(need.gpus, held.gpus))
            lender_gres = dict(self._gres_held.get(lender, {}).get(node.name, ()))
            gres = tuple((g, min(count, lender_gres.get(g, 0))) for g, count in need_gres if lender_gres.get(g, 0))
            loan = Loan(lender, amount, gres, node.cpu_ids.get(lender, ())[:amount.cpus],
                        node.gpu_ids.get(lender, ())[:amount.gpus])
            loans.append(loan)
            need, need_gres = need - amount, _minus(need_gres, gres)
        self._loans.setdefault(borrower_id, {})[node.name] = loans
        return loans

    def release(self, names: tuple[str, ...], per_node: Resources, job_id: int, *,
                gres: tuple[tuple[str, int], ...] = (), is_exclusive: bool = False) -> None:
        """Take back what `allocate` gave the job (arguments as there): a preemptor's own part
        (its lenders are then owed their resumption), and a lender's share less what its
        preemptor borrows, which becomes the preemptor's. The job's suspension ends with it."""
        borrowed_from_me = self._lent_to.pop(job_id, None)
        for name in names:
            node = self._nodes.get(name)
            if node is None or job_id not in node.job_ids:
                continue
            held = node.held.pop(job_id, per_node)
            node_gres = self._gres_held.get(job_id, {}).get(name)
            if node_gres is None:   # (allocated before this table kept it)
                node_gres = tuple(node.gres.items()) if is_exclusive else gres
            if borrowed_from_me is not None:   # what the preemptor borrows here stays allocated, as its own
                for loan in self._loans.get(borrowed_from_me, {}).pop(name, []):
                    if loan.lender_id != job_id:
                        self._loans[borrowed_from_me].setdefault(name, []).append(loan)
                        continue
                    held, node_gres = held - loan.amount, _minus(node_gres, loan.gres)
                    node.held[borrowed_from_me] = node.held.get(borrowed_from_me, Resources()) + loan.amount
                    preemptor_gres = self._gres_held.setdefault(borrowed_from_me, {})
                    preemptor_gres[name] = _plus(preemptor_gres.get(name, ()), loan.gres)
            node.allocated = node.allocated - held
            for gres_name, count in node_gres:
                node.gres_allocated[gres_name] = node.gres_allocated.get(gres_name, 0) - count
            node.job_ids.discard(job_id)
            node.cpu_ids.pop(job_id, None)
            node.gpu_ids.pop(job_id, None)
        self._gres_held.pop(job_id, None)
        if self._loans.pop(job_id, None) is not None or job_id in self._lent_to.values():
            for lender in [lender for lender, borrower in self._lent_to.items() if borrower == job_id]:
                del self._lent_to[lender]
                self.resume_owed.add(lender)
        self.suspensions.pop(job_id, None)
        self.resume_owed.discard(job_id)

    # ------------------------------------------------------------ lending (PreemptMode SUSPEND)

    def lend(self, lender_id: int, borrower_id: int) -> None:
        """The suspended job `lender_id` lends its share of its nodes to `borrower_id` alone, whose
        `allocate` takes it (call this first)."""
        self._lent_to[lender_id] = borrower_id

    def borrower_of(self, lender_id: int) -> int:
        """The preemptor the job lends its share to (0: none)."""
        return self._lent_to.get(lender_id, 0)

    def own_share(self, borrower_id: int) -> tuple[Resources, tuple[tuple[str, int], ...]] | None:
        """What a preemptor running on lent resources holds of its own per node: the least over
        its nodes (the planner frees no more than that at its end). None for any other job."""
        if not self._loans.get(borrower_id):
            return None
        held = [n.held[borrower_id] for n in self._nodes.values() if borrower_id in n.held]
        gres = list(self._gres_held.get(borrower_id, {}).values())
        least = Resources(min(h.cpus for h in held), min(h.mem_mib for h in held), min(h.gpus for h in held))
        names = set.intersection(*(set(dict(g)) for g in gres)) if gres else set()
        return least, tuple(sorted((g, min(dict(node_gres)[g] for node_gres in gres)) for g in names))


def _minus(gres: tuple[tuple[str, int], ...], taken: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    less = dict(taken)
    return tuple((name, count - less.get(name, 0)) for name, count in gres)


def _plus(gres: tuple[tuple[str, int], ...], added: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    total = dict(gres)
    for name, count in added:
        total[name] = total.get(name, 0) + count
    return tuple(sorted(total.items()))


def _require_reason(reason: str, action: str) -> None:
    if not reason.strip():
        raise InvalidArgument(f"a reason is required to {action} a node")
