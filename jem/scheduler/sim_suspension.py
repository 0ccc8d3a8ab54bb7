"""Suspension in the simulator (PreemptMode SUSPEND): which jobs are suspended, for which
preemptor, since when, with how much of their run left, and how far each one's planned end
moves, as the controller keeps them (jem.controller.suspension, NodeTable's loans).

A victim stops progressing at the instant it is suspended: the rest of its run is kept. Its
processors are lent to its preemptor alone, which starts at that instant on them, and on free
processors for what they do not cover (its own part: max(its size - its victims' shares, 0)).
The machine (jem.scheduler.sim_machine) keeps each victim's whole share in the victim's slot
and only the own part in the preemptor's: nothing is counted twice, and what a larger victim
lends beyond the preemptor's size stays idle, given to nobody. When the preemptor ends, in
any way, its victims resume at that instant and run the rest of their run. A suspended job is
never a victim again while suspended (jem.scheduler.preemption.may_preempt); a preemptor on
lent processors may be, and lends then only its own part (the controller's `_borrow`).

Planned end (what the planner sees, as the controller's `planning_times` moves a time limit
by `extra_time_s`): start + time limit + the seconds suspended so far in the run, and, while
suspended, + the seconds from its suspension to its preemptor's planned end. Worked example:
V (time limit 100 s) starts at 0 and is suspended at 10 by X, planned to end at 60: V's
planned end moves from 100 to 100 + (60 - 10) = 150. X ends at 40 (its run is shorter than
its limit): V resumes at 40 with 90 s left, ends at 130, and is planned to end at 100 + 30.
Times are integer seconds.
"""

from collections.abc import Callable

import numpy as np


class Suspensions:
    """The suspended jobs of one replay, and what every job has spent suspended."""

    def __init__(self, n_jobs: int):
        self.lent_to: dict[int, int] = {}          # suspended job -> the preemptor it lends its share to
        self.lenders: dict[int, list[int]] = {}    # preemptor -> the jobs suspended for it
        self.since: dict[int, int] = {}            # suspended job -> when it was suspended
        self.left_s: dict[int, int] = {}           # suspended job -> seconds of its run still to go
        self.run_suspended_s: dict[int, int] = {}  # live job -> seconds suspended in its run, before `since`
        self.count = np.zeros(n_jobs, dtype=np.int64)     # (n_jobs,) times suspended, every run
        self.cpu_s = np.zeros(n_jobs, dtype=np.int64)     # (n_jobs,) processors x seconds suspended, every run
        self.intervals: list[tuple[int, int, int, int]] = []   # (job, from, to, preemptor) of every one over

    def is_suspended(self, job: int) -> bool:
        return job in self.lent_to

    def suspend(self, job: int, preemptor: int, *, now: int, left_s: int) -> None:
        """`job`, running with `left_s` > 0 seconds to go, lends its share to `preemptor` from `now`."""
        assert job not in self.lent_to and left_s > 0, (job, left_s)
        self.lent_to[job] = preemptor
        self.lenders.setdefault(preemptor, []).append(job)
        self.since[job], self.left_s[job] = now, left_s
        self.count[job] += 1

    def resume_for(self, preemptor: int, *, now: int, size_of: Callable[[int], int]) -> list[tuple[int, int]]:
        """The jobs suspended for `preemptor`, which ends at `now`: each resumes, with the
        seconds of its run still to go. `size_of(job)`: its size (all of it is frozen, lent or not)."""
        resumed = []
        for job in self.lenders.pop(preemptor, []):
            since = self.since.pop(job)
            del self.lent_to[job]
            self.run_suspended_s[job] = self.run_suspended_s.get(job, 0) + now - since
            self.cpu_s[job] += (now - since) * size_of(job)
            self.intervals.append((job, since, now, preemptor))
            resumed.append((job, self.left_s.pop(job)))
        return resumed

    def end_run(self, job: int) -> int:
        """The seconds `job` (ending now, running) spent suspended in the run; forgets them."""
        assert job not in self.lent_to, job
        return self.run_suspended_s.pop(job, 0)

    def planned_end(self, job: int, base_end: Callable[[int], int], *, now: int) -> int:
        """`job`'s planned end (module docstring); `base_end(j)`: j's start + time limit."""
        end = base_end(job) + self.run_suspended_s.get(job, 0)
        preemptor = self.lent_to.get(job)
        if preemptor is not None:
            end += max(now, self.planned_end(preemptor, base_end, now=now)) - self.since[job]
        return end

    def affected(self, job: int) -> list[int]:
        """`job` and every job whose planned end depends on its (suspended for it, or for one of those)."""
        found, todo = [], [job]
        while todo:
            j = todo.pop()
            found.append(j)
            todo += self.lenders.get(j, [])
        return found
