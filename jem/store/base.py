"""The store interface the controller writes every job state change through.

Invariant: a method returns only after its changes are committed, so the
controller may acknowledge or act on them as soon as it returns.
"""

from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence

from jem.model.associations import AccountingTable
from jem.model.crontab import Crontab
from jem.model.audit import AuditQuery, AuditRecord
from jem.model.job import Job
from jem.model.jobfilter import JobFilter
from jem.model.node_events import NodeEvent
from jem.model.partition import Partition
from jem.model.reservation import Reservation
from jem.model.run import RequeuedRun
from jem.model.states import JobEvent
from jem.model.step import Step
from jem.model.utilization import JobActivity


@dataclass(frozen=True, slots=True)
class JobChange:
    """A job (as it is after the event) and the event that made it so."""

    job: Job
    event: JobEvent
    time: float          # epoch seconds
    detail: str = ""
    run: RequeuedRun | None = None   # a requeue's: the run that ended, kept in the same transaction


@dataclass(frozen=True, slots=True)
class JobPage:
    """Some of a listing's jobs, and the id to go on after (0: no more rows)."""

    jobs: list[Job]
    next_after_job_id: int = 0


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One row of the append-only job event log."""

    seq: int
    job_id: int
    time: float
    event: str
    state: str
    detail: str


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """What survives a controller restart about a node: an administrator's drain and DOWN,
    and why (one reason for both, as Slurm keeps one)."""

    name: str
    is_drained: bool
    reason: str
    is_down: bool = False


class Store(Protocol):
    def add_job(self, job: Job, *, time: float) -> tuple[int, int]:
        """Assign the next job id (never reused), store the job and its submit event.
        Returns (job_id, event seq); `job.job_id` is ignored."""

    def add_jobs(self, jobs: Sequence[Job], *, time: float,
                 changes: Sequence[JobChange] = ()) -> tuple[list[tuple[int, int]], list[int]]:
        """Add jobs (as add_job) and commit changes of known jobs in one transaction, so that
        splitting tasks off an array never half happens. Returns ((job_id, seq) per job, change seqs)."""

    def commit(self, changes: Sequence[JobChange]) -> list[int]:
        """Write every job and its event in one transaction; returns the event seqs."""

    def load_jobs(self, *, ended_after: float | None) -> list[Job]:
        """Jobs not ended, plus those ended after `ended_after` (all if None)."""

    def get_job(self, job_id: int) -> Job | None:
        """One job, whatever its age."""

    def list_jobs(self, job_filter: JobFilter, *, after_job_id: int = 0, limit: int = 0) -> JobPage:
        """Jobs that `job_filter` matches, with ids above `after_job_id`, in id order; at most
        `limit` rows are read (0: all) and the page says where to go on."""

    def job_activity(self, *, start: float, end: float, users: frozenset[str] = frozenset()) -> Iterator[JobActivity]:
        """Each job submitted before `end` and not ended by `start` (only `users`' when given),
        with its events that usage reports read (jem.model.utilization.USAGE_EVENTS), in job id
        order. A read of its own that takes no lock the controller's writes wait for."""

    def add_audit(self, records: Sequence[AuditRecord]) -> None:
        """Append audit records (one transaction)."""

    def list_audit(self, query: AuditQuery) -> list[AuditRecord]:
        """The newest `query.limit` records that match, oldest first."""

    def forget_audit(self, *, before: float) -> int:
        """Drop records older than `before`; returns how many."""

    def job_events(self, job_id: int) -> list[EventRecord]:
        """The job's events in the order they were committed."""

    def list_runs(self, job_ids: Sequence[int]) -> list[RequeuedRun]:
        """The earlier runs of the given jobs (JobChange.run of each requeue), by job and run."""

    def save_node(self, record: NodeRecord, *, cpus: int = 0, time: float | None = None) -> None:
        """Remember a node's drain and DOWN state and, in the same transaction, keep its events
        (jem.model.node_events): a record drained or DOWN opens one at `time` (the store's clock
        when None) with `cpus`, unless the one open already has its state and reason; any other
        open event of the node ends at `time`."""

    def node_events(self, *, start: float, end: float) -> list[NodeEvent]:
        """The node events that overlap [start, end) (open ones included), by node and start."""

    def forget_node_events(self, *, before: float) -> int:
        """Drop the events that ended before `before`; returns how many."""

    def load_nodes(self) -> list[NodeRecord]:
        """Every node record."""

    def save_partitions(self, partitions: Sequence[Partition]) -> None:
        """Record the partitions in force (replaces the previous set)."""

    def load_accounting(self) -> AccountingTable:
        """Every association, accounting user and QOS stored (root and "normal" always)."""

    def save_accounting(self, table: AccountingTable, *, previous: AccountingTable) -> None:
        """Store `table`, which was `previous` before one change (only the difference is written)."""

    def load_reservations(self) -> list[Reservation]:
        """Every reservation stored, by name."""

    def save_reservation(self, reservation: Reservation) -> None:
        """Store a new or changed reservation."""

    def delete_reservation(self, name: str) -> None:
        """Forget a reservation."""

    def load_crontabs(self) -> list[Crontab]:
        """Every user's installed crontab (scrontab), by user."""

    def save_crontab(self, crontab: Crontab) -> None:
        """Store a user's crontab (insert, or replace the one of the same user)."""

    def delete_crontab(self, user: str) -> None:
        """Forget a user's crontab (none: nothing happens)."""

    def save_step(self, step: Step) -> None:
        """Store a job step (insert, or replace the record of the same job and step id)."""

    def list_steps(self, job_ids: Sequence[int]) -> list[Step]:
        """The steps of the given jobs, ordered by job and step id."""

    def next_step_id(self, job_id: int) -> int:
        """One more than the job's highest step id (0 for a job without steps)."""

    def running_steps(self) -> list[Step]:
        """Steps recorded as RUNNING (after a controller restart: steps it lost)."""

    def close(self) -> None:
        """Release the database."""
