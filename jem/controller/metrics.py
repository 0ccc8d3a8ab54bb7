"""The controller's metrics (prometheus-client): Slurm 25.11's OpenMetrics names where Slurm has
one, and JEM's own histograms and counters where it has none.

Five sections, as Slurm's endpoints are split (`/metrics/<section>`):

- `jobs`: slurm_jobs, slurm_jobs_<state> (pending, running, hold, ...), what running jobs hold;
- `nodes`: slurm_nodes, slurm_nodes_<state>, and each node's CPUs and memory (slurm_node_cpus{node}, ...);
- `partitions`: slurm_partitions and each partition's jobs and nodes (slurm_partition_jobs_pending{partition}, ...);
- `scheduler`: sdiag's figures under Slurm's names (slurm_schedule_cycle_last, slurm_bf_cycle_last,
  slurm_backfilled_jobs, ...: JEM's one planning pass is its backfill pass, so the bf_ cycle figures
  are the cycle's), and JEM's own: RPC latency per method and status, scheduling cycle time, store
  commit time (histograms), agent RPC errors by method and status, and queue wait per partition;
- `jobs-users-accts`: each user's and account's jobs by state (slurm_user_jobs_pending{username}, ...:
  the total always, each state and holding only when not 0).

The job figures come from the job index's tally (jem.model.clusterfigures.JobTally: the jobs counted
by state per group, kept as each job changes, so a scrape costs the number of groups, not of jobs)
and the node figures from the nodes as they stand, both copied without the cluster state's lock
(`JobTable.tally_snapshot`, `NodeTable.snapshot_unlocked`): a scrape never waits for the scheduler
nor holds it up. One copy serves every scrape within FIGURES_MAX_AGE_S. Who may see which section
follows the privacy settings (`visible_sections`), and `/metrics` leaves out the per-user and
per-account section (`DEFAULT_SECTIONS`): a series per user and state, its own scrape target.
"""

import threading
import time
from typing import Callable, Iterable

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from jem.model.clusterfigures import (JOB_COUNT_WORDS, NODE_STATE_WORDS, ClusterFigures, JobFigures,
                                      NodeGroupFigures, figures_of)
from jem.model.identity import Identity

FIGURES_MAX_AGE_S = 1.0
SECTIONS = ("jobs", "nodes", "partitions", "scheduler", "jobs-users-accts")
DEFAULT_SECTIONS = SECTIONS[:-1]   # what /metrics serves (see above)
# The privacy classes (cluster.private_data) that keep a section from ordinary users.
SECTION_PRIVACY = {"scheduler": ("usage",), "jobs-users-accts": ("jobs", "users", "accounts")}

_LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_WAIT_BUCKETS = (1, 10, 60, 300, 900, 1800, 3600, 2 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 7 * 86400)
# Slurm's partition node-state words where they differ from the cluster's (slurm_partition_nodes_no_resp).
_PARTITION_NODE_WORDS = {"noresp": "no_resp"}


def visible_sections(identity: Identity | None, private_data: Iterable[str]) -> tuple[str, ...]:
    """The sections `identity` (None: a caller with no token, where anonymous scrapes are allowed) may
    see: all for an operator; for anyone else, those no private class of the cluster hides."""
    if identity is not None and identity.is_operator:
        return SECTIONS
    private = set(private_data)
    return tuple(s for s in SECTIONS if not private.intersection(SECTION_PRIVACY.get(s, ())))


class ControllerInstruments:
    """JEM's own histograms, observed where things happen (each with its own lock)."""

    def __init__(self):
        self.rpc_seconds = Histogram("jem_rpc_duration_seconds", "Time to serve an RPC, by method and status code",
                                     ["method", "code"], buckets=_LATENCY_BUCKETS, registry=None)
        self.cycle_seconds = Histogram("jem_schedule_cycle_duration_seconds", "Time of a scheduling cycle",
                                       buckets=_LATENCY_BUCKETS, registry=None)
        self.commit_seconds = Histogram("jem_store_commit_duration_seconds",
                                        "Time to commit a change of jobs to the store", buckets=_LATENCY_BUCKETS,
                                        registry=None)
        self.queue_wait_seconds = Histogram("jem_job_queue_wait_seconds",
                                            "From submission to start, of the jobs that started, by partition",
                                            ["partition"], buckets=_WAIT_BUCKETS, registry=None)

    def collectors(self) -> list:
        return [self.rpc_seconds, self.cycle_seconds, self.commit_seconds, self.queue_wait_seconds]


class FiguresSource:
    """The cluster's figures (with the users' and accounts' or without: two sets), each made again when
    it is older than FIGURES_MAX_AGE_S."""

    def __init__(self, snapshot: Callable[..., ClusterFigures], clock: Callable[[], float] = time.monotonic):
        self._snapshot, self._clock = snapshot, clock
        self._lock = threading.Lock()   # (one scrape makes them; those at the same time wait for it)
        self._made: dict[bool, tuple[float, ClusterFigures]] = {}

    def current(self, *, with_owners: bool = False) -> ClusterFigures:
        with self._lock:
            made = self._made.get(with_owners)
            if made is None or self._clock() - made[0] > FIGURES_MAX_AGE_S:
                made = self._made[with_owners] = (self._clock(), self._snapshot(with_owners=with_owners))
            return made[1]


def state_figures(state, *, with_owners: bool = False) -> ClusterFigures:
    """The figures of a controller's ClusterState: the job index's tally and the nodes (no lock: see
    above); the users' and accounts' only `with_owners`."""
    default = state.config.default_partition
    return figures_of(state.jobs.tally_snapshot(with_owners=with_owners), state.nodes.snapshot_unlocked(),
                      state.partitions, default_partition=default.name if default else "")


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"slurm_{name}", documentation, value=value)


def _job_values(group: JobFigures):
    """(name, doc, value, is_total) of each of a group's job gauges: slurm_<prefix>jobs, _jobs_<word>, what they hold."""
    yield "jobs", "Total number of jobs", group.total, True
    for word in JOB_COUNT_WORDS:
        yield f"jobs_{word}", f"Number of jobs in {word} state", group.counts[word], False
    yield "jobs_cpus_alloc", "Total number of CPUs allocated by jobs", group.cpus_alloc, False
    yield "jobs_memory_alloc", "Total memory bytes allocated by jobs", group.memory_alloc_bytes, False
    yield "jobs_nodes_alloc", "Total number of nodes allocated by jobs", group.nodes_alloc, False


class _Labelled:
    """Gauge families by name, each filled with one sample per labelled group."""

    def __init__(self, prefix: str, label: str):
        self.prefix, self.label = prefix, label
        self.families: dict[str, GaugeMetricFamily] = {}

    def add(self, name: str, doc: str, key: str, value: float) -> None:
        family = self.families.get(name)
        if family is None:
            family = self.families[name] = GaugeMetricFamily(f"slurm_{self.prefix}{name}", doc, labels=[self.label])
        family.add_metric([key], value)


def _add_job_groups(out: _Labelled, groups: dict[str, JobFigures], *, partition: bool = False,
                    sparse: bool = False) -> None:
    """Each group's job gauges; `sparse`: only those not 0, besides the total (users and accounts: a
    series per user and state that stays 0 would be most of the text)."""
    for key, group in sorted(groups.items()):
        for name, doc, value, is_total in _job_values(group):
            if value or is_total or not sparse:
                out.add(name, doc, key, value)
        if partition:
            # (JEM's jobs ask for one node count: its minimum and maximum are the same)
            for kind in ("max", "min"):
                out.add(f"jobs_{kind}_job_nodes", f"{kind.title()} nodes required by pending jobs", key,
                        group.max_job_nodes)
                out.add(f"jobs_{kind}_job_nodes_nohold", f"{kind.title()} nodes required by pending jobs not held",
                        key, group.max_job_nodes_nohold)


class JobsCollector:
    def __init__(self, source: FiguresSource):
        self._source = source

    def collect(self):
        for name, doc, value, _ in _job_values(self._source.current().jobs):
            yield _gauge(name, doc, value)


class NodesCollector:
    def __init__(self, source: FiguresSource):
        self._source = source

    def collect(self):
        figures = self._source.current()
        nodes: NodeGroupFigures = figures.nodes
        yield _gauge("nodes", "Total number of nodes", nodes.total)
        for word in NODE_STATE_WORDS:
            yield _gauge(f"nodes_{word}", f"Number of nodes in {word} state", nodes.counts[word])
        per_node = _Labelled("node_", "node")
        for node in figures.node_list:
            per_node.add("cpus", "Total number of CPUs in the node", node.name, node.cpus)
            per_node.add("cpus_alloc", "Allocated CPUs in the node", node.name, node.cpus_alloc)
            per_node.add("cpus_idle", "Idle CPUs in the node", node.name, node.cpus_idle)
            per_node.add("memory_bytes", "Total memory in bytes of the node", node.name, node.memory_bytes)
            per_node.add("memory_alloc_bytes", "Bytes allocated to jobs in the node", node.name,
                         node.memory_alloc_bytes)
        yield from per_node.families.values()


class PartitionsCollector:
    def __init__(self, source: FiguresSource):
        self._source = source

    def collect(self):
        figures = self._source.current()
        yield _gauge("partitions", "Total number of partitions", len(figures.nodes_by_partition))
        out = _Labelled("partition_", "partition")
        _add_job_groups(out, figures.jobs_by_partition, partition=True)
        for name, nodes in sorted(figures.nodes_by_partition.items()):
            out.add("nodes", "Partition total nodes", name, nodes.total)
            out.add("cpus", "Partition total CPUs", name, nodes.cpus)
            for word in NODE_STATE_WORDS:
                out.add(f"nodes_{_PARTITION_NODE_WORDS.get(word, word)}", f"Nodes in {word} state", name,
                        nodes.counts[word])
            out.add("nodes_cpus_alloc", "Number of allocated CPUs", name, nodes.cpus_alloc)
            out.add("nodes_cpus_idle", "Number of idle CPUs on all nodes", name, nodes.cpus_idle)
            out.add("nodes_mem_alloc", "Amount of allocated memory of all nodes", name, nodes.memory_alloc_bytes)
            out.add("nodes_mem_tot", "Total amount of memory of all nodes", name, nodes.memory_bytes)
        yield from out.families.values()


class UsersAccountsCollector:
    def __init__(self, source: FiguresSource):
        self._source = source

    def collect(self):
        figures = self._source.current(with_owners=True)
        for prefix, label, groups in (("user_", "username", figures.jobs_by_user),
                                      ("account_", "account", figures.jobs_by_account)):
            out = _Labelled(prefix, label)
            _add_job_groups(out, groups, sparse=True)
            yield from out.families.values()


class SchedulerCollector:
    """sdiag's figures (jem.controller.stats) under Slurm's names, and the agent RPC errors."""

    def __init__(self, source: FiguresSource, diagnostics: Callable, agent_errors: Callable[[], dict]):
        self._source, self._diagnostics, self._agent_errors = source, diagnostics, agent_errors

    def collect(self):
        jobs = self._source.current().jobs
        d = self._diagnostics(jobs_pending=jobs.counts["pending"], jobs_running=jobs.counts["running"])
        c = d.cycles
        mean_cycle = c.sum_us // c.count if c.count else 0
        mean_depth = c.depth_sum // c.count if c.count else 0
        for prefix in ("schedule_cycle", "bf_cycle"):   # (one pass plans and backfills: see the module's docstring)
            yield _gauge(f"{prefix}_cnt", "Scheduling cycle count", c.count)
            yield _gauge(f"{prefix}_last", "Last scheduling cycle time (microseconds)", c.last_us)
            yield _gauge(f"{prefix}_max", "Max scheduling cycle time (microseconds)", c.max_us)
            yield _gauge(f"{prefix}_tot", "Sum of scheduling cycle times (microseconds)", c.sum_us)
        yield _gauge("schedule_cycle_depth", "Processed jobs depth total", c.depth_sum)
        yield _gauge("schedule_queue_len", "Jobs pending queue length", c.last_queue_len)
        yield _gauge("sched_mean_cycle", "Mean scheduling cycle time (microseconds)", mean_cycle)
        yield _gauge("sched_mean_depth_cycle", "Mean depth of scheduling cycles", mean_depth)
        yield _gauge("bf_mean_cycle", "Mean backfill cycle time (microseconds)", mean_cycle)
        yield _gauge("bf_last_depth", "Last backfill depth", c.last_depth)
        yield _gauge("bf_queue_len", "Backfill queue length", c.last_queue_len)
        yield _gauge("bf_when_last_cycle", "Timestamp of last backfill cycle", c.last_time)
        yield _gauge("backfilled_jobs", "Total backfilled jobs since reset", d.backfilled_since_reset)
        for word in ("submitted", "started", "completed", "canceled", "failed", "pending", "running"):
            yield _gauge(f"sdiag_jobs_{word}", f"Jobs {word} since reset", getattr(d, f"jobs_{word}"))
        yield _gauge("server_thread_cnt", "RPCs being served", d.rpcs_in_flight)
        yield _gauge("agent_queue_size", "Orders to agents sent and not yet answered", d.agent_calls_in_flight)
        yield _gauge("sched_stats_timestamp", "Statistics snapshot timestamp", d.time)
        errors = CounterMetricFamily("jem_agent_rpc_errors", "Calls to agents that failed, by method and status",
                                     labels=["method", "code"])
        for (method, code), n in sorted(self._agent_errors().items()):
            errors.add_metric([method, code], n)
        yield errors


class ControllerMetrics:
    """The instruments, and a registry per section (the `scheduler` section holds the instruments too)."""

    def __init__(self, state, instruments: ControllerInstruments):
        source = FiguresSource(lambda **kind: state_figures(state, **kind))
        diagnostics = lambda **jobs: state.stats.snapshot(agent_calls_in_flight=state.agents.in_flight, **jobs)
        self.private_data = state.config.cluster.private_data
        self._collectors = {
            "jobs": [JobsCollector(source)], "nodes": [NodesCollector(source)],
            "partitions": [PartitionsCollector(source)],
            "scheduler": [SchedulerCollector(source, diagnostics, state.agents.error_counts), *instruments.collectors()],
            "jobs-users-accts": [UsersAccountsCollector(source)],
        }

    def registry(self, sections: Iterable[str]) -> CollectorRegistry:
        """A registry of `sections`' collectors (made per scrape: registering is a few dict writes)."""
        registry = CollectorRegistry(auto_describe=False)
        for section in sections:
            for collector in self._collectors[section]:
                registry.register(collector)
        return registry
