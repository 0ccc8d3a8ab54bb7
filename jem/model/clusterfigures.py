"""The cluster's figures for its metrics: jobs counted by state for the cluster, each partition, user
and account, with what they hold; nodes counted by state, and each node's and partition's CPUs and
memory. A pure function of the jobs and nodes given (jem.controller.metrics turns them into Slurm
25.11's OpenMetrics names), so an oracle test can check it by hand; the job counts are kept as
jobs change (`JobTally`), so that reading them does not cost a pass over every job.

Each job state counts under Slurm's metric word for it (`JOB_STATE_WORDS`: pending, running,
node_failed, outofmemory, ...); besides those, `hold` (pending and held), `started` (has started
at some time), `finished` (in a state it never leaves) and the job total. What a job holds
(CPUs, memory, nodes) counts while it has nodes (running, suspended, completing).
"""

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from jem.model.job import Job
from jem.model.node import Node, NodeState
from jem.model.partition import Partition
from jem.model.states import JobState

MIB = 1024 * 1024

# Slurm's word for each job state in its metric names (slurm_jobs_<word>).
JOB_STATE_WORDS = {
    JobState.PENDING: "pending", JobState.RUNNING: "running", JobState.SUSPENDED: "suspended",
    JobState.COMPLETING: "completing", JobState.COMPLETED: "completed", JobState.FAILED: "failed",
    JobState.CANCELLED: "cancelled", JobState.TIMEOUT: "timeout", JobState.NODE_FAIL: "node_failed",
    JobState.OUT_OF_MEMORY: "outofmemory", JobState.PREEMPTED: "preempted", JobState.REQUEUED: "requeued",
    JobState.BOOT_FAIL: "bootfail", JobState.DEADLINE: "deadline",
}
JOB_COUNT_WORDS = (*JOB_STATE_WORDS.values(), "hold", "started", "finished")
NODE_STATE_WORDS = ("alloc", "idle", "mixed", "down", "drain", "drained", "draining", "noresp")


@dataclass
class JobFigures:
    """Jobs of one group (the cluster, a partition, a user, an account): how many in each of
    JOB_COUNT_WORDS, in all, and what those with nodes hold."""

    counts: Counter = field(default_factory=Counter)
    total: int = 0
    cpus_alloc: int = 0
    memory_alloc_bytes: int = 0
    nodes_alloc: int = 0
    max_job_nodes: int = 0           # the most nodes a pending job asks for (0: none pending)
    max_job_nodes_nohold: int = 0    # the same, of the pending jobs not held


_HOLDING = (JobState.RUNNING, JobState.SUSPENDED, JobState.COMPLETING)
_SUMS = ("jobs", "cpus_alloc", "memory_alloc", "nodes_alloc")


class JobTally:
    """Running totals of a set of jobs by group, kept as each job changes (`update` with the job as it
    now stands, `remove` when it is gone): reading them (`snapshot`) costs the number of groups, not
    of jobs. The controller's job index keeps one over the jobs in memory (a scrape of 100,000 jobs
    would otherwise recount them all, ~0.5 s in Python); `cluster_figures` recounts with a fresh one.

    Totals are keyed (kind, key, word): kind "" (the cluster, key ""), "partition" (the job's own
    partition, "" when it named none), "user" or "account"; word one of JOB_COUNT_WORDS or _SUMS.
    A key whose total comes back to 0 is dropped. Changed only by one thread at a time (the
    controller's lock); `snapshot` copies in C calls that no other thread interleaves.
    """

    def __init__(self):
        self._of: dict[int, tuple] = {}                     # job id -> (groups, words, sums, pending key)
        # (kind, key, word) -> total: the cluster's and partitions' apart from the users' and accounts'
        # (many more), so that a reader of the first needs no copy of the second.
        self._totals: dict[tuple[str, str, str], int] = {}
        self._totals_by_owner: dict[tuple[str, str, str], int] = {}
        self._pending_nodes: dict[tuple[str, int, bool], int] = {}   # (partition, nodes asked, held) -> jobs

    def update(self, job: Job) -> None:
        self.remove(job.job_id)
        state = job.state
        words = [JOB_STATE_WORDS[state]]
        pending_key = None
        if state is JobState.PENDING:
            pending_key = (job.spec.partition, job.shape.n_nodes, bool(job.held_by))
            if job.held_by:
                words.append("hold")
        if job.start_time is not None:
            words.append("started")
        if state.is_terminal:
            words.append("finished")
        sums = (1, 0, 0, 0)
        if job.nodes and state in _HOLDING:
            per_node, n_nodes = job.shape.per_node, len(job.nodes)
            sums = (1, per_node.cpus * n_nodes, per_node.mem_mib * n_nodes * MIB, n_nodes)
        groups = (("", ""), ("partition", job.spec.partition), ("user", job.user), ("account", job.spec.account))
        entry = (groups, tuple(words), sums, pending_key)
        self._of[job.job_id] = entry
        self._apply(entry, 1)

    def remove(self, job_id: int) -> None:
        entry = self._of.pop(job_id, None)
        if entry is not None:
            self._apply(entry, -1)

    def _apply(self, entry: tuple, sign: int) -> None:
        groups, words, sums, pending_key = entry
        for kind, key in groups:
            if not key and kind in ("user", "account"):
                continue   # (a job with no account counts in no account's group; one with no partition in the default's)
            totals = self._totals_by_owner if kind in ("user", "account") else self._totals
            for word in words:
                _add(totals, (kind, key, word), sign)
            for word, amount in zip(_SUMS, sums):
                if amount:
                    _add(totals, (kind, key, word), sign * amount)
        if pending_key is not None:
            _add(self._pending_nodes, pending_key, sign)

    def snapshot(self, *, with_owners: bool = True) -> tuple[dict, dict]:
        """(totals, pending jobs by (partition, nodes asked, held)): copies, for any thread; without
        the users' and accounts' totals unless `with_owners`."""
        totals = self._totals.copy()
        if with_owners:
            totals.update(self._totals_by_owner.copy())
        return totals, self._pending_nodes.copy()


def _add(table: dict, key, amount: int) -> None:
    value = table.get(key, 0) + amount
    if value:
        table[key] = value
    else:
        table.pop(key, None)


def job_figures(totals: dict, pending_nodes: dict, *, default_partition: str = "") -> tuple[JobFigures, dict, dict, dict]:
    """The cluster's, each partition's, each user's and each account's JobFigures from a tally's snapshot
    (a job that named no partition counts in `default_partition`)."""
    cluster = JobFigures()
    by_kind: dict[str, dict[str, JobFigures]] = {"partition": {}, "user": {}, "account": {}}
    for (kind, key, word), value in totals.items():
        if kind == "partition":
            key = key or default_partition
        group = cluster if not kind else by_kind[kind].get(key)
        if group is None:
            group = by_kind[kind][key] = JobFigures()
        if word == "jobs":
            group.total += value
        elif word == "cpus_alloc":
            group.cpus_alloc += value
        elif word == "memory_alloc":
            group.memory_alloc_bytes += value
        elif word == "nodes_alloc":
            group.nodes_alloc += value
        else:
            group.counts[word] += value
    for (partition, n_nodes, is_held), _ in pending_nodes.items():
        for group in (cluster, by_kind["partition"].setdefault(partition or default_partition, JobFigures())):
            group.max_job_nodes = max(group.max_job_nodes, n_nodes)
            if not is_held:
                group.max_job_nodes_nohold = max(group.max_job_nodes_nohold, n_nodes)
    return cluster, by_kind["partition"], by_kind["user"], by_kind["account"]


@dataclass(frozen=True)
class NodeFigures:
    """One node as its metrics show it."""

    name: str
    state_words: tuple[str, ...]   # its words of NODE_STATE_WORDS (a drained node is "drain" and "drained")
    cpus: int
    cpus_alloc: int
    memory_bytes: int
    memory_alloc_bytes: int

    @property
    def cpus_idle(self) -> int:
        return max(self.cpus - self.cpus_alloc, 0) if "down" not in self.state_words else 0


@dataclass
class NodeGroupFigures:
    """Nodes of one group (the cluster, a partition): how many in each state word, and their CPUs and memory."""

    counts: Counter = field(default_factory=Counter)
    total: int = 0
    cpus: int = 0
    cpus_alloc: int = 0
    cpus_idle: int = 0
    memory_bytes: int = 0
    memory_alloc_bytes: int = 0

    def add(self, node: NodeFigures) -> None:
        self.total += 1
        self.counts.update(node.state_words)
        self.cpus += node.cpus
        self.cpus_alloc += node.cpus_alloc
        self.cpus_idle += node.cpus_idle
        self.memory_bytes += node.memory_bytes
        self.memory_alloc_bytes += node.memory_alloc_bytes


@dataclass
class ClusterFigures:
    jobs: JobFigures
    jobs_by_partition: dict[str, JobFigures]
    jobs_by_user: dict[str, JobFigures]
    jobs_by_account: dict[str, JobFigures]
    nodes: NodeGroupFigures
    nodes_by_partition: dict[str, NodeGroupFigures]
    node_list: list[NodeFigures]


def node_figures(node: Node) -> NodeFigures:
    state = node.state
    words = {NodeState.ALLOCATED: ("alloc",), NodeState.IDLE: ("idle",), NodeState.MIXED: ("mixed",),
             NodeState.DRAINING: ("drain", "draining"), NodeState.DRAINED: ("drain", "drained"),
             NodeState.DOWN: ("down",)}[state]
    if not node.is_responding:
        words = (*words, "noresp")
    if state is NodeState.DOWN and node.is_drained:
        words = (*words, "drain")
    return NodeFigures(node.name, words, node.capacity.cpus, node.allocated.cpus, node.capacity.mem_mib * MIB,
                       node.allocated.mem_mib * MIB)


def cluster_figures(jobs: Iterable[Job], nodes: Iterable[Node], partitions: Iterable[Partition],
                    *, default_partition: str = "") -> ClusterFigures:
    """The figures of `jobs` (counted afresh) and `nodes`; see `figures_of`."""
    tally = JobTally()
    for job in jobs:
        tally.update(job)
    return figures_of(tally.snapshot(), nodes, partitions, default_partition=default_partition)


def figures_of(tally_snapshot: tuple[dict, dict], nodes: Iterable[Node], partitions: Iterable[Partition],
               *, default_partition: str = "") -> ClusterFigures:
    """The figures of a JobTally's snapshot and of `nodes`; a job that names no partition counts in
    `default_partition`. Every partition has its groups, jobs or not."""
    partitions = list(partitions)
    jobs, by_partition, by_user, by_account = job_figures(*tally_snapshot, default_partition=default_partition)
    for partition in partitions:
        by_partition.setdefault(partition.name, JobFigures())
    figures = ClusterFigures(jobs, by_partition, by_user, by_account, NodeGroupFigures(),
                             {p.name: NodeGroupFigures() for p in partitions}, [])
    for node in nodes:
        one = node_figures(node)
        figures.node_list.append(one)
        figures.nodes.add(one)
        for partition in partitions:
            if partition.has_node(node.name):
                figures.nodes_by_partition[partition.name].add(one)
    return figures
