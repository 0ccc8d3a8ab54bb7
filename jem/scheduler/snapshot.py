"""An immutable view of the cluster for one scheduling cycle.

The controller builds it under its lock from its live tables; the scheduler
reads only this, so a cycle never sees state change under it.

Suspension: a running job's view has its time limit lengthened by the time it
was suspended (its clock stopped meanwhile), and a suspended job's end is when
it would end resumed (after its preemptor, for a job suspended by preemption;
unknown, so never, for an operator's suspend). A preemptor running on the share
of the jobs it suspended is seen holding only its own part of each node (that
part frees when it ends; the rest goes back to them): each node's allocation is
the sum of its running jobs' views, never more, so the planner never counts a
CPU twice nor frees one that is not free.

GPU types are features here (jem.model.gres): a node's view carries the feature its GPU
type implies (`gpu:a100`) and a typed job's view requires it in its constraint, so the
cycle's feature masks, and preemption's node filter, match types with no code of their own.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from jem.model.associations import AccountingTable
from jem.model.gres import node_features, typed_constraint
from jem.model.job import Job
from jem.model.node import Node
from jem.model.partition import Partition
from jem.model.reservation import Reservation
from jem.model.resources import Resources
from jem.model.states import JobState
from jem.scheduler.limits import LimitedJob


@dataclass(frozen=True, slots=True)
class NodeView:
    name: str
    capacity: Resources
    allocated: Resources
    is_schedulable: bool
    features: tuple[str, ...] = ()                # with the one its GPU type implies (module docstring)
    gres: tuple[tuple[str, int], ...] = ()        # (name, count the node has), names sorted
    gres_free: tuple[tuple[str, int], ...] = ()   # (name, count free now)


@dataclass(frozen=True, slots=True)
class PendingJob:
    job_id: int
    priority: int
    submit_time: float
    partition: str
    n_nodes: int
    per_node: Resources
    held_by: str
    begin_time: float | None
    time_limit_s: int | None = None      # None: unlimited
    account: str = ""
    user: str = ""
    nice: int = 0
    planned_start: float | None = None   # the previous cycle's reservation or estimate, if any
    planned_is_estimate: bool = False    # planned_start is an estimate, not a reservation
    constraint: str = ""                 # required features (jem.model.features syntax), its GPU type's too
    is_exclusive: bool = False
    gres_per_node: tuple[tuple[str, int], ...] = ()
    qos: str = ""                        # "": the default QOS
    reservation: str = ""                # the advance reservation it runs in ("": none)


@dataclass(frozen=True, slots=True)
class RunningJob:
    job_id: int
    node_names: tuple[str, ...]
    per_node: Resources
    start_time: float
    time_limit_s: int | None             # None: unlimited
    account: str = ""
    user: str = ""
    is_exclusive: bool = False           # holds all of each node (GRES too)
    gres_per_node: tuple[tuple[str, int], ...] = ()
    qos: str = ""
    partition: str = ""
    is_killed: bool = False              # being killed already (its end is on its way)
    is_requeueable: bool = False         # --requeue, or the cluster's default
    is_suspended: bool = False           # its processes frozen (its share kept, or lent to its preemptor)
    reservation: str = ""                # the advance reservation it runs in ("": none)


@dataclass(frozen=True, slots=True)
class OwnShare:
    """What a preemptor holds of its own on each of its nodes, beyond what the jobs it suspended
    lent it (the least over its nodes, where they differ: the planner then frees no more than
    is freed at its end). Never exclusive: an exclusive one's whole node is partly lent."""

    per_node: Resources
    gres_per_node: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Snapshot:
    nodes: tuple[NodeView, ...]          # in name order: node index = position
    partitions: tuple[Partition, ...]
    pending: tuple[PendingJob, ...]
    running: tuple[RunningJob, ...] = ()
    usage: Mapping[tuple[str, str], float] = field(default_factory=dict)  # fair-share CPU-seconds (decayed)
    # The (account, user) pairs the fair-share tree ranks (Fair Tree's factor depends on the
    # siblings): every pair with a job queued or running; () means the pending jobs' own.
    share_users: frozenset[tuple[str, str]] = frozenset()
    # Association and QOS limits: the table (None: none enforced) and what limits read of each
    # pending and running job, by id (jem.scheduler.limits).
    accounting: AccountingTable | None = None
    limited: Mapping[int, LimitedJob] = field(default_factory=dict)
    reservations: tuple[Reservation, ...] = ()


def take_snapshot(pending_jobs: list[Job], nodes: list[Node], partitions: tuple[Partition, ...], *,
                  running_jobs: Iterable[Job] = (), usage: Mapping[tuple[str, str], float] | None = None,
                  requeue_by_default: bool = False, extra_time_s: Mapping[int, int | None] | None = None,
                  own_shares: Mapping[int, OwnShare] | None = None,
                  ends_by: Mapping[int, float] | None = None) -> Snapshot:
    """Copy what the scheduler needs out of the controller's live objects (`usage` is copied too).
    `extra_time_s`: seconds to add to a live job's time limit (the time it was, or will be,
    suspended; None: its end is unknown); `own_shares`: what a preemptor running on lent
    resources holds of its own on each node (see the module docstring); `ends_by`: when a
    job being killed is gone at the latest (its kill's SIGKILL): the planner sees it end then,
    not at its time limit (else what a preemptor waits for goes to the jobs behind it)."""
    extra_time_s = extra_time_s or {}
    own_shares = own_shares or {}
    ends_by = ends_by or {}

    def limit_of(j: Job) -> int | None:
        limit = _limit(j.time_limit_s, extra_time_s.get(j.job_id, 0))
        end_by = ends_by.get(j.job_id)
        if end_by is not None and j.start_time is not None:
            cut = max(1, int(end_by - j.start_time))
            limit = cut if limit is None else min(limit, cut)
        return limit

    node_views = tuple(
        NodeView(n.name, n.capacity, n.allocated, n.is_schedulable, node_features(n.features, n.gpu_type),
                 tuple(sorted(n.gres.items())),
                 tuple(sorted((name, n.gres_free(name)) for name in n.gres)))
        for n in sorted(nodes, key=lambda n: n.name)
    )
    pending = pending_views(pending_jobs)
    running = tuple(
        RunningJob(job_id=j.job_id, node_names=j.nodes, per_node=j.shape.per_node, start_time=j.start_time or 0.0,
                   time_limit_s=limit_of(j), account=j.spec.account,
                   user=j.user, is_exclusive=j.spec.exclusive, gres_per_node=j.spec.gres_per_node, qos=j.spec.qos,
                   partition=j.spec.partition, is_killed=j.kill_cause is not None,
                   is_requeueable=j.spec.requeue if j.spec.requeue is not None else requeue_by_default,
                   is_suspended=j.state is JobState.SUSPENDED, reservation=j.spec.reservation)
        if j.job_id not in own_shares else
        RunningJob(job_id=j.job_id, node_names=j.nodes, per_node=own_shares[j.job_id].per_node,
                   start_time=j.start_time or 0.0, time_limit_s=limit_of(j),
                   account=j.spec.account, user=j.user, gres_per_node=own_shares[j.job_id].gres_per_node,
                   qos=j.spec.qos, partition=j.spec.partition, is_killed=j.kill_cause is not None,
                   is_requeueable=j.spec.requeue if j.spec.requeue is not None else requeue_by_default,
                   is_suspended=j.state is JobState.SUSPENDED, reservation=j.spec.reservation)
        for j in running_jobs
    )
    return Snapshot(nodes=node_views, partitions=partitions, pending=pending, running=running,
                    usage=dict(usage or {}))


def _limit(time_limit_s: int | None, extra_s: int | None) -> int | None:
    """A time limit lengthened by `extra_s` (None: unknown, so no end)."""
    if time_limit_s is None or extra_s is None:
        return None
    return time_limit_s + extra_s


def pending_views(jobs: Iterable[Job]) -> tuple[PendingJob, ...]:
    """What the scheduler reads of each pending job. The controller may call this without its
    lock (a job's spec and shape are replaced whole, never changed in place): what changes
    meanwhile makes a decision stale, and the controller checks each one again before it acts."""
    return tuple(_view(j) for j in jobs)


class PendingViews:
    """Each pending job's view kept from one cycle to the next and made again only for a job
    that changed since: with a queue of 100,000, making every view each cycle cost ~0.4 s of
    the controller's CPU. A job changed when its `change_stamp` did (jem.model.job.ChangeStamped:
    any field set); the stamp is read before the fields, so a view made while the job changes
    is made again next cycle."""

    def __init__(self):
        self._views: dict[int, tuple[int, PendingJob]] = {}   # job id -> (its stamp, its view)

    def of(self, jobs: Sequence[Job]) -> tuple[PendingJob, ...]:
        """The views of `jobs` (distinct jobs, as `pending_views`); forgets the jobs not among them.

        The table is changed in place, never made anew: a new 100,000-entry dict would be
        young to the garbage collector, and the loop's collection after each cycle
        (jem.controller.collector) would walk every entry, tens of ms holding the GIL."""
        views = self._views
        out = []
        for job in jobs:
            stamp = job.change_stamp
            cached = views.get(job.job_id)
            if cached is None or cached[0] != stamp:
                cached = views[job.job_id] = (stamp, _view(job))
            out.append(cached[1])
        if len(views) > len(out):
            kept = {view.job_id for view in out}
            for job_id in [job_id for job_id in views if job_id not in kept]:
                del views[job_id]
        return tuple(out)


def _view(j: Job) -> PendingJob:
    return PendingJob(
        job_id=j.job_id, priority=j.priority, submit_time=j.submit_time,
        partition=j.spec.partition, n_nodes=j.shape.n_nodes, per_node=j.shape.per_node,
        held_by=j.held_by, begin_time=j.spec.begin_time, time_limit_s=j.time_limit_s,
        account=j.spec.account, user=j.user, nice=j.spec.nice, planned_start=j.planned_start,
        planned_is_estimate=j.planned_start_is_estimate,
        constraint=typed_constraint(j.spec.constraint, j.spec.gpu_type), is_exclusive=j.spec.exclusive,
        gres_per_node=j.spec.gres_per_node, qos=j.spec.qos, reservation=j.spec.reservation,
    )
