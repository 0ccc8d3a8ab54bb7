"""Job dependencies in the controller: which pending jobs may be scheduled.

Before each cycle, `resolve_dependencies` evaluates every pending job that
still has an unmet dependency against the referenced jobs' current states
(memory, else the store: history is never lost). A met dependency is cleared;
one that waits gives reason Dependency; one that can never be met gives
DependencyNeverSatisfied, and the job stays pending as in Slurm unless the
config's `kill_invalid_depend` cancels it. Callers hold the controller lock.
"""

from jem.controller import lifecycle
from jem.controller.state import ClusterState
from jem.model.dependency import DependencyStatus, DependencyTerm, JobRef, RefState, combine, parse_dependency, ref_status
from jem.model.job import Job
from jem.model.reasons import JobReason
from jem.model.states import JobEvent, JobState


def resolve_dependencies(state: ClusterState, *, now: float) -> None:
    """Clear met dependencies and set the reasons of the rest (commits any cancels)."""
    changes = []
    lookups = _Lookups(state)
    for job in state.jobs.waiting_on_dependencies():
        status = dependency_status(state, job, now=now, lookups=lookups)
        if status is DependencyStatus.MET:
            job.dependency = ""   # not stored: a restarted controller finds it met again
            state.jobs.reindex(job)
            if job.reason in (JobReason.DEPENDENCY, JobReason.DEPENDENCY_NEVER_SATISFIED):
                job.reason = JobReason.NONE
        elif status is DependencyStatus.WAITING:
            if not job.held_by and job.reason is not JobReason.DEPENDENCY:   # (set only when it changes)
                job.reason = JobReason.DEPENDENCY
        elif state.config.scheduler.kill_invalid_depend:
            changes.append(lifecycle.end_job(job, JobEvent.CANCEL, state.nodes, now,
                                             reason=JobReason.DEPENDENCY_NEVER_SATISFIED,
                                             detail=f"dependency never satisfied: {job.dependency}"))
        elif not job.held_by and job.reason is not JobReason.DEPENDENCY_NEVER_SATISFIED:
            job.reason = JobReason.DEPENDENCY_NEVER_SATISFIED
    state.commit(changes)


class _Lookups:
    """What one pass over the pending jobs reads, read once: each referenced job (memory, else
    the store), each array's records, and the oldest queued job per (user, name) for singleton.
    Without it a pass cost (dependent jobs x their references) store reads, and every singleton
    job a scan of the whole queue, all under the controller's lock."""

    def __init__(self, state: ClusterState):
        self._state = state
        self._jobs: dict[int, Job | None] = {}
        self._records: dict[int, list[Job]] = {}
        self._first_queued: dict[tuple[str, str], int] | None = None

    def job(self, job_id: int) -> Job | None:
        if job_id not in self._jobs:
            self._jobs[job_id] = self._state.jobs.get(job_id)
        return self._jobs[job_id]

    def array_records(self, array_job_id: int) -> list[Job]:
        if array_job_id not in self._records:
            self._records[array_job_id] = self._state.jobs.array_records(array_job_id)
        return self._records[array_job_id]

    def first_queued(self, user: str, name: str) -> int | None:
        """The submit order (array id, else job id) of the oldest queued or running job of `user` named `name`."""
        if self._first_queued is None:
            self._first_queued = {}
            for other in self._state.jobs.all():
                if not other.state.is_terminal:
                    key, order = (other.user, other.spec.name), other.array_job_id or other.job_id
                    self._first_queued[key] = min(order, self._first_queued.get(key, order))
        return self._first_queued.get((user, name))


def dependency_status(state: ClusterState, job: Job, *, now: float,
                      lookups: _Lookups | None = None) -> DependencyStatus:
    dependency = parse_dependency(job.dependency)
    if dependency is None:
        return DependencyStatus.MET
    lookups = lookups or _Lookups(state)
    return combine([_term_status(lookups, job, term, now=now) for term in dependency.terms],
                   is_any=dependency.is_any)


def _term_status(lookups: _Lookups, job: Job, term: DependencyTerm, *, now: float) -> DependencyStatus:
    if term.kind == "singleton":
        return _singleton_status(lookups, job)
    if term.kind == "aftercorr" and job.array_task_id is None and job.array_pending:
        # An array's record waits for nothing itself: each task split off checks its own counterpart.
        return DependencyStatus.MET
    statuses = []
    for ref in term.refs:
        if term.kind == "aftercorr" and job.array_task_id is not None and ref.task_id is None:
            ref = JobRef(ref.job_id, job.array_task_id)
            found = _ref_states(lookups, ref)
            statuses.append(ref_status("afterok", found, now=now) if found else DependencyStatus.MET)
            continue
        found = _ref_states(lookups, ref)
        if not found:
            statuses.append(DependencyStatus.NEVER)
            continue
        statuses.append(ref_status(term.kind, found, now=now, delay_s=ref.delay_s))
    return combine(statuses, is_any=False)


def _ref_states(lookups: _Lookups, ref: JobRef) -> list[RefState]:
    """The states a reference stands for: one job, every task of an array, or one task of it."""
    job = lookups.job(ref.job_id)
    if job is None:
        return []
    if job.array_job_id != job.job_id:
        # A plain job, or a task named by its own id.
        is_match = ref.task_id is None or job.array_task_id == ref.task_id
        return [RefState(job.state, job.start_time, job.array_task_id)] if is_match else []
    found = []
    for record in lookups.array_records(job.job_id):
        if record.array_task_id is not None and (ref.task_id is None or record.array_task_id == ref.task_id):
            found.append(RefState(record.state, record.start_time, record.array_task_id))
        for index in record.array_pending:   # tasks not split off yet are pending
            if ref.task_id is None or index == ref.task_id:
                found.append(RefState(JobState.PENDING, None, index))
    return found


def _singleton_status(lookups: _Lookups, job: Job) -> DependencyStatus:
    """Met once no job of the same user and name submitted earlier is still queued or running
    (an array's tasks count as submitted with the array)."""
    first = lookups.first_queued(job.user, job.spec.name)
    return DependencyStatus.WAITING if first is not None and first < (job.array_job_id or job.job_id) \
        else DependencyStatus.MET
