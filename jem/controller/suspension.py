"""Job suspension: an operator's `scontrol suspend`/`resume`, the victims of PreemptMode SUSPEND,
and their resumption when their preemptor ends.

A suspended job's processes are frozen by its agents (the cgroup freezer) and its time limit's
clock stops: the agent moves the run's deadline by the time it spent suspended, and the
controller's own view of its end (what the planner reads, `planning_times`) moves with it.

Resources: a job an operator suspends keeps its share of its nodes (nobody else may use them
meanwhile; as safe as it is simple: it can be resumed at any time). A job suspended by
preemption lends its share to its preemptor alone, which starts on it in the same locked section
(`suspend_for`); no other job is ever given it (`NodeTable.lend`). When the preemptor ends, in
whatever way, the section that releases its allocation marks its lenders owed their resumption
(`NodeTable.resume_owed`): their share never left them, so nothing can take it in between. The
next scheduling cycle (every job end wakes the loop) commits their RESUME and thaws them
(`resume_owed`), before it plans.

Every change is committed before the agents are told. A controller restarted meanwhile rebuilds
the suspensions and loans of its live jobs from their event log (`restore`).
"""

import logging
import re

from jem.controller import lifecycle
from jem.controller.nodes import Suspension
from jem.controller.state import ClusterState
from jem.model import policy
from jem.model.errors import (AlreadyDone, JobIsPending, JobNotFound, JobNotRunning, JobNotSuspended,
                              SuspendedForPreemptor)
from jem.model.identity import Identity
from jem.model.job import Job
from jem.model.resources import Resources
from jem.model.states import JobEvent, JobState
from jem.scheduler.snapshot import OwnShare
from jem.store import JobChange

log = logging.getLogger(__name__)

Order = tuple[str, str, int, int, bool]   # (node name, agent address, job id, run, resume)

PREEMPTED_BY = "preempted by job {}"   # a SUSPEND event's detail, read back by `restore`
_PREEMPTED_BY = re.compile(r"^preempted by job (\d+)$")


def suspend_job(state: ClusterState, job_id: int, identity: Identity, *, now: float, resume: bool) -> Job:
    """scontrol suspend (or resume) JOBID: operators only (Slurm: "Only an operator,
    administrator, SlurmUser, or root can suspend jobs"). The job after the change."""
    policy.require_operator(identity, "suspend or resume jobs")
    with state.lock:
        job = state.jobs.find(job_id)
        if job is None:
            if state.jobs.get(job_id) is None:
                raise JobNotFound(str(job_id))
            raise AlreadyDone(str(job_id))
        change = (_resume_by(state, job, identity, now) if resume else _suspend_by(state, job, identity, now))
        if change is None:
            return job
        state.commit([change])
        orders = orders_for(state, job, resume=resume)
    send(state, orders)
    state.wake_scheduler()
    return job


def _suspend_by(state: ClusterState, job: Job, identity: Identity, now: float) -> JobChange | None:
    """None for a job suspended already: as Slurm's, suspending it again succeeds and does nothing."""
    _check_started(job)
    if job.state is JobState.SUSPENDED:
        return None
    if job.state is not JobState.RUNNING or job.kill_cause is not None:
        raise JobNotRunning(f"job {job.job_id} is {job.state.value}")
    return lifecycle.suspend_job(job, state.nodes, now, detail=f"by {identity.user}")


def _resume_by(state: ClusterState, job: Job, identity: Identity, now: float) -> JobChange:
    _check_started(job)
    if job.state is not JobState.SUSPENDED:
        raise JobNotSuspended(f"job {job.job_id} is {job.state.value}")
    preemptor = state.nodes.borrower_of(job.job_id)
    if preemptor:   # (its share is its preemptor's until that ends: resuming it would run two jobs on it)
        raise SuspendedForPreemptor(f"job {job.job_id} was suspended by preemption; it resumes when job "
                                    f"{preemptor} ends")
    return lifecycle.resume_job(job, state.nodes, now, detail=f"by {identity.user}")


def _check_started(job: Job) -> None:
    if job.state is JobState.PENDING:
        raise JobIsPending(str(job.job_id))
    if job.state.is_terminal or job.state is JobState.COMPLETING:
        raise AlreadyDone(str(job.job_id))


def orders_for(state: ClusterState, job: Job, *, resume: bool) -> list[Order]:
    """The suspend (or resume) orders for every node of the job (its step tasks run on all of
    them). Lock held."""
    orders = []
    for name in job.nodes:
        node = state.nodes.get(name)
        if node.agent_address:
            orders.append((name, node.agent_address, job.job_id, job.restart_count, resume))
    return orders


def send(state: ClusterState, orders: list[Order]) -> None:
    """Send the orders (lock not held): asynchronous, failures logged."""
    for node_name, address, job_id, run, resume in orders:
        state.agents.suspend(node_name, address, job_id, resume=resume, restart_count=run)


# ---------------------------------------------------------------- PreemptMode SUSPEND

def suspend_for(state: ClusterState, preemptor: Job, *, victims: list[Job], node_names: tuple[str, ...],
                now: float, changes: list[JobChange]) -> list[Order] | None:
    """Suspend `victims` for `preemptor` and start it on `node_names`, on their share and what is
    free there. None, with nothing changed, when live state no longer allows it (a victim ended,
    a node filled up since the plan). Lock held; appends the changes to commit (the victims'
    SUSPEND, then the preemptor's START); returns the victims' suspend orders, to send once
    committed (before the preemptor's launch)."""
    if not _may_suspend_for(state, preemptor, victims=victims, node_names=node_names):
        return None
    for victim in victims:
        changes.append(lifecycle.suspend_job(victim, state.nodes, now, preemptor_id=preemptor.job_id,
                                             detail=PREEMPTED_BY.format(preemptor.job_id)))
        log.info("preempt job_id=%d by=%d mode=suspend", victim.job_id, preemptor.job_id)
    changes.append(lifecycle.start_job(preemptor, node_names, state.nodes, now))
    return [order for victim in victims for order in orders_for(state, victim, resume=False)]


def _may_suspend_for(state: ClusterState, preemptor: Job, *, victims: list[Job], node_names: tuple[str, ...]) -> bool:
    """Whether the preemptor fits on each node now, with the victims' share there lent to it."""
    if preemptor.state is not JobState.PENDING or preemptor.held_by or preemptor.dependency or not victims:
        return False
    if any(v.state is not JobState.RUNNING or v.kill_cause is not None or state.nodes.borrower_of(v.job_id)
           for v in victims):
        return False
    partition = state.partition(preemptor.spec.partition)
    victim_ids = {v.job_id for v in victims}
    for name in node_names:
        node = state.nodes.get(name)
        if partition is None or not partition.has_node(name) or not node.is_schedulable:
            return False
        lent = Resources()
        lent_gres: dict[str, int] = {}
        for victim in victims:
            if name in victim.nodes:
                lent = lent + node.held.get(victim.job_id, Resources())
                for gres, count in (tuple(node.gres.items()) if victim.spec.exclusive else victim.spec.gres_per_node):
                    lent_gres[gres] = lent_gres.get(gres, 0) + count
        need = node.capacity if preemptor.spec.exclusive else preemptor.shape.per_node
        if not need.fits_in(node.free + lent):
            return False
        if preemptor.spec.exclusive and not node.job_ids <= victim_ids:
            return False
        need_gres = tuple(node.gres.items()) if preemptor.spec.exclusive else preemptor.spec.gres_per_node
        if any(count > node.gres_free(gres) + lent_gres.get(gres, 0) for gres, count in need_gres):
            return False
    return True


def resume_owed(state: ClusterState, *, now: float) -> list[Order]:
    """Resume the jobs whose preemptor ended (`NodeTable.resume_owed`): commits their RESUME;
    returns the orders to send once the lock is released. Lock held."""
    owed, state.nodes.resume_owed = state.nodes.resume_owed, set()
    changes, orders = [], []
    for job_id in sorted(owed):
        job = state.jobs.find(job_id)
        if job is None or job.state is not JobState.SUSPENDED or state.nodes.borrower_of(job_id):
            continue   # (ended or killed meanwhile: its kill thaws it)
        record = state.nodes.suspensions.get(job_id)
        preemptor = record.preemptor_id if record is not None else 0
        changes.append(lifecycle.resume_job(job, state.nodes, now, detail=f"preemptor job {preemptor} ended"))
        orders += orders_for(state, job, resume=True)
        log.info("job resumed job_id=%d after=%d", job_id, preemptor)
    state.commit(changes)
    return orders


# ---------------------------------------------------------------- the planner's view

def planning_times(state: ClusterState, live: list[Job], *, now: float) -> tuple[dict[int, int | None],
                                                                                   dict[int, OwnShare]]:
    """(seconds to add to each live job's time limit: the time it was suspended, and for a job
    suspended by preemption the time until its preemptor ends, None when that is unknown; what
    each preemptor on lent resources holds of its own). For take_snapshot. Lock held."""
    suspensions = state.nodes.suspensions
    extra: dict[int, int | None] = {}
    own: dict[int, OwnShare] = {}
    for job in live:
        record = suspensions.get(job.job_id)
        if record is not None:
            extra[job.job_id] = _extra_s(state, job, record, now)
        share = state.nodes.own_share(job.job_id)
        if share is not None:
            own[job.job_id] = OwnShare(*share)
    return extra, own


def extra_time_s(state: ClusterState, job: Job, *, now: float) -> int | None:
    """The seconds `job`'s end moves by suspension (see `planning_times`). Lock held."""
    record = state.nodes.suspensions.get(job.job_id)
    return 0 if record is None else _extra_s(state, job, record, now)


def _extra_s(state: ClusterState, job: Job, record: Suspension, now: float) -> int | None:
    if record.since is None or job.state is not JobState.SUSPENDED:
        return int(record.total_s)
    preemptor = state.jobs.find(record.preemptor_id) if record.preemptor_id else None
    if preemptor is None or not preemptor.is_live or preemptor.time_limit_s is None or preemptor.start_time is None:
        return None   # (an operator's suspend: it resumes when an operator says so)
    preemptor_extra = extra_time_s(state, preemptor, now=now) if preemptor.job_id != job.job_id else 0
    if preemptor_extra is None:
        return None
    resumes_at = max(now, preemptor.start_time + preemptor.time_limit_s + preemptor_extra)
    return int(record.total_s + resumes_at - record.since)


# ---------------------------------------------------------------- controller restart

def restore(state: ClusterState) -> int:
    """Rebuild the suspensions and loans of the live jobs from their event log, once, at
    controller start, after their allocations (each job's whole share) were made again: each
    preemptor running on lent resources is allocated again on them. A victim whose preemptor
    ended is owed its resumption. Returns how many jobs were or are suspended. Takes the lock."""
    found = 0
    with state.lock:
        for job in state.jobs.live():
            record = _record_from_events(state, job)
            if record is None:
                continue
            found += 1
            state.nodes.suspensions[job.job_id] = record
        lenders: dict[int, list[int]] = {}   # preemptor id -> the victims it runs on
        for job in state.jobs.live():
            record = state.nodes.suspensions.get(job.job_id)
            if record is not None and job.state is JobState.SUSPENDED and record.preemptor_id:
                lenders.setdefault(record.preemptor_id, []).append(job.job_id)
        for preemptor_id, victim_ids in sorted(lenders.items()):
            preemptor = state.jobs.find(preemptor_id)
            if preemptor is None or not preemptor.is_live or not preemptor.nodes:
                state.nodes.resume_owed.update(victim_ids)
                continue
            _allocate_on_loan(state, preemptor, victim_ids=victim_ids)
    if found:
        log.info("suspensions restored jobs=%d", found)
    return found


def _allocate_on_loan(state: ClusterState, preemptor: Job, *, victim_ids: list[int]) -> None:
    """Allocate `preemptor` again, on what its victims lend it (it was allocated whole). Lock held."""
    spec = preemptor.spec
    own_record = state.nodes.suspensions.get(preemptor.job_id)   # (a release ends it: kept)
    state.nodes.release(preemptor.nodes, preemptor.shape.per_node, preemptor.job_id,
                        gres=spec.gres_per_node, is_exclusive=spec.exclusive)
    if own_record is not None:
        state.nodes.suspensions[preemptor.job_id] = own_record
    for victim_id in victim_ids:
        state.nodes.lend(victim_id, preemptor.job_id)
    state.nodes.allocate(preemptor.nodes, preemptor.shape.per_node, preemptor.job_id, cpu_ids=preemptor.cpu_ids,
                         gpu_ids=preemptor.gpu_ids, gres=spec.gres_per_node, is_exclusive=spec.exclusive)


def _record_from_events(state: ClusterState, job: Job) -> Suspension | None:
    """The job's suspension in its current run (the events since its last start), or None."""
    record = None
    for event in state.store.job_events(job.job_id):
        if event.event == JobEvent.START.value:
            record = None
        elif event.event == JobEvent.SUSPEND.value:
            match = _PREEMPTED_BY.match(event.detail)
            total = record.total_s if record is not None else 0.0
            record = Suspension(event.time, total, int(match.group(1)) if match else 0)
        elif event.event == JobEvent.RESUME.value and record is not None:
            record = Suspension(None, record.suspended_s(event.time))
    return record
