"""The controller's in-memory jobs, written through to the store.

Holds every job not ended plus those ended within `min_job_age_s` (the queue
view); older ones are read from the store on demand. Every change goes
through `add` or `commit`, which write the store first and publish to
watchers after. Callers hold the controller lock.
"""

import heapq

from jem.controller.jobindex import JobIndex
from jem.model.arrays import accepted_array
from jem.model.job import Job
from jem.model.jobfilter import JobFilter
from jem.model.states import JobEvent
from jem.scheduler import bulk
from jem.scheduler.fairshare import DEFAULT_ACCOUNT
from jem.store import JobChange, Store
from jem.controller.watch import EventBus


class JobTable:
    def __init__(self, store: Store, bus: EventBus):
        self._store = store
        self._bus = bus
        self._jobs: dict[int, Job] = {}
        self._index = JobIndex()
        self._array_members: dict[int, set[int]] = {}   # array id -> ids of its records in memory

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

    def add_with(self, jobs: list[Job], changes: list[JobChange], *, now: float) -> None:
        """Store new jobs (assigning their ids) and changes of known jobs in one transaction."""
        if not jobs and not changes:
            return
        added, seqs = self._store.add_jobs(jobs, time=now, changes=changes)
        for job, (job_id, seq) in zip(jobs, added):
            job.job_id = job_id
            self._remember(job)
            self._bus.publish(seq, now, JobEvent.SUBMIT.value, job)
        for change, seq in zip(changes, seqs):
            self._remember(change.job)
            self._bus.publish(seq, change.time, change.event.value, change.job)

    def commit(self, changes: list[JobChange]) -> None:
        """Store changes of known jobs in one transaction, then publish them."""
        if not changes:
            return
        seqs = self._store.commit(changes)
        for change, seq in zip(changes, seqs):
            self._remember(change.job)
            self._bus.publish(seq, change.time, change.event.value, change.job)

    def reindex(self, job: Job) -> None:
        """Account again for a job whose fields were set back in place (ClusterState.commit)."""
        self._remember(job)

    def get(self, job_id: int) -> Job | None:
        """A job from memory, else from the store (read-only: old jobs don't change)."""
        job = self._jobs.get(job_id)
        return job if job is not None else self._store.get_job(job_id)

    def find(self, job_id: int) -> Job | None:
        """A job in the queue view, or None."""
        return self._jobs.get(job_id)

    def find_all(self, job_ids: list[int]) -> list[Job | None]:
        """`find` of each id, in order (in C-level loops over slices: jem.scheduler.bulk)."""
        return bulk.mapped(self._jobs.get, job_ids)

    def pending(self) -> list[Job]:
        return self._in_id_order(self._index.pending)

    def schedulable_ids(self) -> list[int]:
        """The pending jobs the scheduler may plan, in no order (copied in C-level slices, lock held):
        not held, no unmet dependency, not an array's record of tasks still to split off, begin
        time reached (as of the last `begin`)."""
        return bulk.listed(self._index.schedulable)

    def begin(self, now: float) -> list[int]:
        """Make the jobs whose begin time came by `now` schedulable; returns the jobs deferred to
        a begin time still to come since the last call (their reason is BeginTime)."""
        for job_id in self._index.begun(now):
            job = self._jobs.get(job_id)
            if job is not None:
                self._index.update(job)
        return self._index.take_newly_deferred()

    def waiting_on_dependencies(self) -> list[Job]:
        return self._in_id_order(self._index.dependent)

    def unsplit_arrays(self) -> list[Job]:
        """Array records that still stand for tasks not split off."""
        return self._in_id_order(self._index.unsplit)

    def count_in_memory(self) -> int:
        return len(self._jobs)

    def all(self) -> list[Job]:
        return [self._jobs[job_id] for job_id in self._index.ids_after(0)]

    def tally_snapshot(self, *, with_owners: bool = True) -> tuple[dict, dict]:
        """The jobs in memory counted by state per group (jem.model.clusterfigures.JobTally, kept as
        each job changes), for a reader that must not take the lock (the metrics): copied in C
        calls that no other thread interleaves (the GIL, or the dict's own lock where there is none)."""
        return self._index.tally.snapshot(with_owners=with_owners)

    def live(self) -> list[Job]:
        return self._in_id_order(self._index.live)

    def after(self, after_job_id: int, *, users: frozenset[str] = frozenset(), limit: int = 0) -> list[int]:
        """Ids in memory above `after_job_id`, ascending (the first `limit` of them when given);
        with `users`, only theirs."""
        if not users:
            return self._index.ids_after(after_job_id, limit=limit)
        ids = set().union(*(self._index.by_user.get(user, ()) for user in users))
        found = sorted(job_id for job_id in ids if job_id > after_job_id)
        return found[:limit] if limit else found

    def array_records(self, array_job_id: int) -> list[Job]:
        """Every record of an array (its own and its split-off tasks), in id order.

        From memory when memory holds them all (every split-off task of an array
        whose own record is in memory), else from the store.
        """
        members = self._array_members.get(array_job_id, set())
        own = self._jobs.get(array_job_id)
        if own is not None and own.spec.array:
            n_split = len(accepted_array(own.spec.array).indices) - len(own.array_pending) \
                - (own.array_task_id is not None)
            if len(members) - 1 == n_split:
                return [self._jobs[i] for i in sorted(members)]
        stored = self._store.list_jobs(JobFilter(job_ids=frozenset({array_job_id}))).jobs
        return [self._jobs.get(job.job_id, job) for job in stored]

    def array_tasks_in_memory(self, array_job_id: int) -> list[Job]:
        """The split-off tasks of an array that are in memory (all that are not long ended)."""
        return [self._jobs[i] for i in sorted(self._array_members.get(array_job_id, ())) if i != array_job_id]

    def forget_ended(self, *, ended_before: float) -> int:
        """Drop jobs that ended before `ended_before` from memory (they stay stored)."""
        n_forgotten = 0
        ended = self._index.ended
        while ended and ended[0][0] < ended_before:
            end_time, job_id = heapq.heappop(ended)
            job = self._jobs.get(job_id)
            if job is None or not job.state.is_terminal or job.end_time is None:
                continue    # forgotten already, or requeued since
            if job.end_time != end_time:
                heapq.heappush(ended, (job.end_time, job_id))
                continue
            del self._jobs[job_id]
            self._index.remove(job)
            n_forgotten += 1
            members = self._array_members.get(job.array_job_id)
            if members is not None:
                members.discard(job_id)
                if not members:
                    del self._array_members[job.array_job_id]
        return n_forgotten

    @property
    def index(self) -> JobIndex:
        """The table's index (read under the controller's lock only)."""
        return self._index

    def share_users(self) -> frozenset[tuple[str, str]]:
        """(account, user) of every job queued or running: the users the fair-share tree ranks
        ("" accounts as jem.scheduler.fairshare.DEFAULT_ACCOUNT)."""
        return frozenset((account or DEFAULT_ACCOUNT, user)
                         for user, keys in self._index.active_keys_of_user.items() for account, *_ in keys)

    def count_active(self) -> int:
        """Records not ended (an array's unsplit tasks share one)."""
        return self._index.n_active

    def active_tasks_of_user(self, user: str) -> int:
        """Queued or running jobs of `user`, each array task counted (Slurm's MaxSubmitJobs count)."""
        return self._index.active_tasks_by_user[user]

    def active_tasks_of_account(self, account: str) -> int:
        return self._index.active_tasks_by_account[account]

    def _remember(self, job: Job) -> None:
        self._jobs[job.job_id] = job
        if job.array_job_id:
            self._array_members.setdefault(job.array_job_id, set()).add(job.job_id)
        self._index.update(job)

    def _in_id_order(self, ids: set[int]) -> list[Job]:
        return [self._jobs[job_id] for job_id in sorted(ids)]
