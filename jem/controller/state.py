"""Everything the controller's operations share, behind one lock.

Built whole at controller start (`Controller.__init__`): every part is given
to the constructor and none is replaced later.

Invariant: `lock` is held while reading or changing `jobs` or `nodes`; RPCs
to agents are sent after it is released. Job changes go to the store before
memory is trusted: `commit` puts memory back as the store has it when the
store refuses a change.
"""

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass, field

from jem.controller.accounting import AccountingBook, configured_table
from jem.controller.agents import AgentLinks
from jem.controller.reservations import ReservationBook
from jem.controller.metrics import ControllerInstruments
from jem.controller.stats import ControllerStats
from jem.controller.credentials import ControllerKeys
from jem.controller.crontable import CronTable
from jem.controller.fairuse import StreamSlots, SubmitRate
from jem.controller.jobtable import JobTable
from jem.controller.nodes import NodeTable
from jem.controller.steptable import StepTable
from jem.controller.watch import EventBus
from jem.model.accounting import new_table
from jem.model.associations import AccountingTable
from jem.model.config import AccountConfig, Config
from jem.scheduler.policy import accounts_of
from jem.model.partition import Partition
from jem.scheduler.fairshare import Usage
from jem.model.job import Job
from jem.store import JobChange, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterState:
    config: Config
    store: Store
    jobs: JobTable
    nodes: NodeTable
    bus: EventBus
    agents: AgentLinks
    steps: StepTable                     # the running job steps
    usage: Usage                         # fair-share usage, charged by the scheduling loop (under `lock`)
    submit_rate: SubmitRate              # each user's submissions per second (no lock needed)
    streams: StreamSlots                 # each user's open streams (no lock needed)
    keys: ControllerKeys | None = None   # the controller's signing key (jem token, credentials)
    accounting: AccountingBook | None = None   # associations and QOS (None: the configuration's alone)
    reservations: ReservationBook | None = None   # advance reservations (None: none)
    stats: ControllerStats = field(default_factory=ControllerStats)   # sdiag's counters (their own lock)
    instruments: ControllerInstruments = field(default_factory=ControllerInstruments)   # the metrics' histograms
    crontabs: CronTable = field(default_factory=CronTable)   # users' crontabs (scrontab), under `lock`
    lock: threading.RLock = field(default_factory=threading.RLock)
    wakeup: threading.Event = field(default_factory=threading.Event)   # the scheduling loop waits on it

    def __post_init__(self):
        self.bus.observe(self.stats.job_event)

    def wake_scheduler(self) -> None:
        """Plan a cycle now (a job or node changed)."""
        self.wakeup.set()

    def commit(self, changes: list[JobChange]) -> None:
        """Store `changes` (jobs already changed in memory), then publish them. If the store
        refuses, each job and its node allocation are put back as stored, and the error goes
        on to the caller: nothing in memory is ahead of the store. Lock held."""
        t0 = time.perf_counter()
        try:
            self.jobs.commit(changes)
            self.instruments.commit_seconds.observe(time.perf_counter() - t0)
        except Exception:
            for change in changes:
                self._restore(change.job)
            raise

    def add_with(self, jobs: list[Job], changes: list[JobChange], *, now: float) -> None:
        """Store new `jobs` and `changes` of known ones in one transaction, as `commit` does."""
        t0 = time.perf_counter()
        try:
            self.jobs.add_with(jobs, changes, now=now)
            self.instruments.commit_seconds.observe(time.perf_counter() - t0)
        except Exception:
            for change in changes:
                self._restore(change.job)
            raise

    def _restore(self, job: Job) -> None:
        try:
            stored = self.store.get_job(job.job_id)
        except Exception:   # the store cannot even be read: memory stays as it is, said loudly
            log.exception("job not restored from the store job_id=%d", job.job_id)
            return
        if stored is None:
            return
        if job.is_live and job.nodes:
            self.nodes.release(job.nodes, job.shape.per_node, job.job_id, gres=job.spec.gres_per_node,
                               is_exclusive=job.spec.exclusive)
        for f in dataclasses.fields(Job):
            if f.name not in ("planned_start", "planned_start_is_estimate", "planned_nodes", "planned_start_is_forecast"):
                setattr(job, f.name, getattr(stored, f.name))
        if job.is_live and job.nodes:
            self.nodes.allocate(job.nodes, job.shape.per_node, job.job_id, cpu_ids=job.cpu_ids, gpu_ids=job.gpu_ids,
                                gres=job.spec.gres_per_node, is_exclusive=job.spec.exclusive)
        self.jobs.reindex(job)
        log.warning("job restored from the store after a failed commit job_id=%d state=%s", job.job_id,
                    job.state.value)

    @property
    def partitions(self) -> tuple[Partition, ...]:
        return self.config.partitions

    def partition(self, name: str) -> Partition | None:
        for partition in self.config.partitions:
            if partition.name == name:
                return partition
        return None

    @property
    def accounting_table(self) -> AccountingTable:
        """The accounting table now (read without the lock: it is replaced whole, never changed)."""
        if self.accounting is None:
            return configured_table(new_table(), self.config)
        return self.accounting.table

    @property
    def reservation_list(self) -> tuple:
        """Every reservation (read without the lock: replaced whole, never changed)."""
        return self.reservations.all if self.reservations is not None else ()

    def fairshare_accounts(self) -> tuple[AccountConfig, ...]:
        """The fair-share tree's accounts as the accounting table has them now."""
        return accounts_of(self.accounting_table)

    def partition_names_of(self, node_name: str) -> list[str]:
        return [p.name for p in self.config.partitions if p.has_node(node_name)]

    def assert_locked(self) -> None:
        assert self.lock._is_owned(), "controller lock must be held"  # type: ignore[attr-defined]
