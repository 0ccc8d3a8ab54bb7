"""What the controller asks of its jobs, kept up to date as each job changes (JobTable calls
`update` with every job it remembers and `remove` with every one it forgets), so that no
question costs a scan of every job in memory: with 100,000 queued jobs a scan is ~50 ms,
and the scheduling loop, submissions and listings would each pay it under the lock.

A job waiting for its begin time (sbatch --begin) is not schedulable until then: the loop
advances the index's clock each cycle (`begun`), so that a queue of jobs that may not start
yet costs a cycle nothing.
"""

import bisect
import heapq
from collections import Counter

from jem.model.clusterfigures import JobTally
from jem.model.job import Job
from jem.model.states import JobState
from jem.scheduler import bulk


class JobIndex:
    def __init__(self):
        self.pending: set[int] = set()
        self.live: set[int] = set()                 # holding nodes: running, suspended, completing
        self.schedulable: set[int] = set()          # ready to plan: pending, not held, no unmet dependency,
                                                    # not an unsplit array, its begin time reached
        # Jobs otherwise ready whose begin time was still to come when the clock was last
        # advanced (`begun`): (begin time, id) soonest first, and each one's begin time.
        self._begins: list[tuple[float, int]] = []
        self._begin_at: dict[int, float] = {}
        self._newly_deferred: set[int] = set()      # deferred since `take_newly_deferred` last took them
        self._now = 0.0
        self.dependent: set[int] = set()            # pending with an unmet dependency
        self.unsplit: set[int] = set()              # array records with tasks not split off yet
        self.by_user: dict[str, set[int]] = {}
        # (end time, id) of ended jobs, soonest first: what forget_ended looks at.
        self.ended: list[tuple[float, int]] = []
        # Jobs not ended: id -> ((account, user, qos, partition), tasks it stands for), and the
        # tasks per user, per account, per (qos, partition) and per each such key (what
        # submit limits count: jem.controller.submitlimits).
        self._active: dict[int, tuple[tuple[str, str, str, str], int]] = {}
        self.active_tasks_by_user: Counter[str] = Counter()
        self.active_tasks_by_account: Counter[str] = Counter()
        self.active_tasks_by_qos_partition: Counter[tuple[str, str]] = Counter()
        self.active_tasks_by_key: Counter[tuple[str, str, str, str]] = Counter()
        self.active_keys_of_user: dict[str, set[tuple[str, str, str, str]]] = {}
        self.tally = JobTally()         # the jobs counted by state per group, for the metrics
        self._sorted: list[int] = []    # every id in memory, ascending (rebuilt when it falls out of order)
        self._is_sorted = True
        self._ids: set[int] = set()

    def update(self, job: Job) -> None:
        job_id = job.job_id
        if job_id not in self._ids:
            self._ids.add(job_id)
            if self._sorted and job_id < self._sorted[-1]:
                self._is_sorted = False
            self._sorted.append(job_id)
            self.by_user.setdefault(job.user, set()).add(job_id)
        is_pending = job.state is JobState.PENDING
        _put(self.pending, job_id, is_pending)
        _put(self.live, job_id, job.is_live)
        _put(self.dependent, job_id, is_pending and bool(job.dependency))
        _put(self.unsplit, job_id, is_pending and bool(job.array_pending))
        is_ready = is_pending and not job.held_by and not job.dependency and not job.array_pending
        begins = job.spec.begin_time if is_ready else None
        is_deferred = begins is not None and begins > self._now
        _put(self.schedulable, job_id, is_ready and not is_deferred)
        if not is_deferred:
            self._begin_at.pop(job_id, None)
        elif self._begin_at.get(job_id) != begins:
            self._begin_at[job_id] = begins
            heapq.heappush(self._begins, (begins, job_id))
            self._newly_deferred.add(job_id)
        if job.state.is_terminal and job.end_time is not None:
            heapq.heappush(self.ended, (job.end_time, job_id))
        self._count_active(job)
        self.tally.update(job)

    def remove(self, job: Job) -> None:
        job_id = job.job_id
        self._ids.discard(job_id)
        self._is_sorted = False   # the id leaves the sorted list when it is next rebuilt
        for ids in (self.pending, self.live, self.schedulable, self.dependent, self.unsplit, self._newly_deferred):
            ids.discard(job_id)
        self._begin_at.pop(job_id, None)
        user_ids = self.by_user.get(job.user)
        if user_ids is not None:
            user_ids.discard(job_id)
            if not user_ids:
                del self.by_user[job.user]
        self._uncount(job_id)
        self.tally.remove(job_id)

    def begun(self, now: float) -> list[int]:
        """Advance the index's clock to `now`; returns the deferred jobs whose begin time came (the
        caller updates each, which makes it schedulable)."""
        self._now = now
        due = []
        while self._begins and self._begins[0][0] <= now:
            begins, job_id = heapq.heappop(self._begins)
            if self._begin_at.get(job_id) == begins:   # (else a later update moved or cleared it)
                del self._begin_at[job_id]
                due.append(job_id)
        return due

    def take_newly_deferred(self) -> list[int]:
        """The jobs deferred to a begin time since the last call that still are."""
        ids = [job_id for job_id in self._newly_deferred if job_id in self._begin_at]
        self._newly_deferred = set()
        return ids

    def ids_after(self, after_job_id: int, *, limit: int = 0) -> list[int]:
        """Every id in memory above `after_job_id`, ascending (the first `limit` when given)."""
        if not self._is_sorted:
            self._sorted = bulk.sorted_ints(self._ids)
            self._is_sorted = True
        first = bisect.bisect_right(self._sorted, after_job_id)
        return self._sorted[first:first + limit] if limit else self._sorted[first:]

    def _count_active(self, job: Job) -> None:
        self._uncount(job.job_id)
        if not job.state.is_terminal:
            tasks = len(job.array_pending) + (1 if not job.array_pending or job.array_task_id is not None else 0)
            key = (job.spec.account, job.user, job.spec.qos, job.spec.partition)
            self._active[job.job_id] = (key, tasks)
            self.active_tasks_by_user[job.user] += tasks
            self.active_tasks_by_account[key[0]] += tasks
            self.active_tasks_by_qos_partition[key[2], key[3]] += tasks
            self.active_tasks_by_key[key] += tasks
            self.active_keys_of_user.setdefault(job.user, set()).add(key)

    def _uncount(self, job_id: int) -> None:
        before = self._active.pop(job_id, None)
        if before is not None:
            key, tasks = before
            self.active_tasks_by_user[key[1]] -= tasks
            self.active_tasks_by_account[key[0]] -= tasks
            self.active_tasks_by_qos_partition[key[2], key[3]] -= tasks
            self.active_tasks_by_key[key] -= tasks
            if not self.active_tasks_by_key[key]:
                del self.active_tasks_by_key[key]
                keys = self.active_keys_of_user[key[1]]
                keys.discard(key)
                if not keys:
                    del self.active_keys_of_user[key[1]]

    @property
    def n_active(self) -> int:
        return len(self._active)


def _put(ids: set[int], job_id: int, is_member: bool) -> None:
    if is_member:
        ids.add(job_id)
    else:
        ids.discard(job_id)
