"""The controller's in-memory jobs, written through to the store.

Holds every job not ended plus those ended within `min_job_age_s` (the queue
view); older ones are read from the store on demand. Every change goes
through `add` or `commit`, which write the store first and publish to
watchers after. Callers hold the controller lock.
"""

from jem.model.job import Job
from jem.model.states import JobEvent, JobState
from jem.store import JobChange, Store
from jem.controller.watch import EventBus


class JobTable:
    def __init__(self, store: Store, bus: EventBus):
        self._store = store
        self._bus = bus
        self._jobs: dict[int, Job] = {}
        self._pending_ids: set[int] = set()

    def load(self, *, ended_after: float) -> int:
        """Fill the table from the store (at controller start); returns the count."""
        for job in self._store.load_jobs(ended_after=ended_after):
            self._remember(job)
        return len(self._jobs)

    def add(self, job: Job, *, now: float) -> int:
        """Store a new job (assigning its id) and remember it."""
        job_id, seq = self._store.add_job(job, time=now)
        job.job_id = job_id
        self._remember(job)
        self._bus.publish(seq, now, JobEvent.SUBMIT.value, job)
        return job_id

    def commit(self, changes: list[JobChange]) -> None:
        """Store changes of known jobs in one transaction, then publish them."""
        if not changes:
            return
        seqs = self._store.commit(changes)
        for change, seq in zip(changes, seqs):
            self._remember(change.job)
            self._bus.publish(seq, change.time, change.event.value, change.job)

    def get(self, job_id: int) -> Job | None:
        """A job from memory, else from the store (read-only: old jobs don't change)."""
        job = self._jobs.get(job_id)
        return job if job is not None else self._store.get_job(job_id)

    def find(self, job_id: int) -> Job | None:
        """A job in the queue view, or None."""
        return self._jobs.get(job_id)

    def pending(self) -> list[Job]:
        return [self._jobs[job_id] for job_id in sorted(self._pending_ids)]

    def all(self) -> list[Job]:
        return [self._jobs[job_id] for job_id in sorted(self._jobs)]

    def live(self) -> list[Job]:
        return [job for job in self._jobs.values() if job.is_live]

    def forget_ended(self, *, ended_before: float) -> int:
        """Drop jobs that ended before `ended_before` from memory (they stay stored)."""
        old = [j.job_id for j in self._jobs.values()
               if j.state.is_terminal and j.end_time is not None and j.end_time < ended_before]
        for job_id in old:
            del self._jobs[job_id]
        return len(old)

    def count_active(self) -> int:
        return sum(1 for j in self._jobs.values() if not j.state.is_terminal)

    def _remember(self, job: Job) -> None:
        self._jobs[job.job_id] = job
        if job.state is JobState.PENDING:
            self._pending_ids.add(job.job_id)
        else:
            self._pending_ids.discard(job.job_id)
