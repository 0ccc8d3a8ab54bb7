"""Which jobs a listing wants: the one filter squeue, sacct and `jem jobs` share.

Clients fill a JobFilter from their options and send it; the controller applies
it (to its queue view, or to the store for old jobs), so no client pulls a
user's whole history to filter it. Each field that is set must match; an empty
field matches every job.
"""

from dataclasses import dataclass, field

from jem.model.job import Job
from jem.model.states import JobState


@dataclass(frozen=True, slots=True)
class JobFilter:
    users: frozenset[str] = frozenset()
    states: frozenset[JobState] = frozenset()
    partitions: frozenset[str] = frozenset()
    names: frozenset[str] = frozenset()
    accounts: frozenset[str] = frozenset()
    qos: frozenset[str] = frozenset()                  # "" in a job means the default QOS, "normal"
    nodes: frozenset[str] = frozenset()                # jobs given any of these nodes
    job_ids: frozenset[int] = frozenset()              # a job, or an array's id for all its records
    array_tasks: frozenset[tuple[int, int]] = frozenset()   # (array id, task id): of those arrays, only these tasks
    alive_from: float | None = None                    # jobs not ended before this time ...
    alive_until: float | None = None                   # ... and submitted by this one (sacct -S/-E)
    _tasks_by_array: dict[int, frozenset[int]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_array: dict[int, set[int]] = {}
        for array, task in self.array_tasks:
            by_array.setdefault(array, set()).add(task)
        object.__setattr__(self, "_tasks_by_array", {a: frozenset(t) for a, t in by_array.items()})

    def matches(self, job: Job) -> bool:
        return ((not self.users or job.user in self.users)
                and (not self.states or job.state in self.states)
                and (not self.partitions or job.spec.partition in self.partitions)
                and (not self.names or job.spec.name in self.names)
                and (not self.accounts or job.spec.account in self.accounts)
                and (not self.qos or (job.spec.qos or "normal") in self.qos)
                and (not self.nodes or not self.nodes.isdisjoint(job.nodes))
                and (not self.job_ids or job.job_id in self.job_ids or job.array_job_id in self.job_ids)
                and self._matches_tasks(job)
                and (self.alive_from is None or job.end_time is None or job.end_time >= self.alive_from)
                and (self.alive_until is None or job.submit_time <= self.alive_until))

    def wants_task(self, array_job_id: int, task_id: int | None) -> bool:
        """Whether a row for task `task_id` of array `array_job_id` is wanted (arrays named
        without tasks, and jobs outside arrays: every row)."""
        tasks = self._tasks_of(array_job_id)
        return tasks is None or task_id in tasks

    def _matches_tasks(self, job: Job) -> bool:
        tasks = self._tasks_of(job.array_job_id) if job.array_job_id else None
        if tasks is None:
            return True
        return job.array_task_id in tasks or not tasks.isdisjoint(job.array_pending)

    def _tasks_of(self, array_job_id: int) -> frozenset[int] | None:
        return self._tasks_by_array.get(array_job_id)
