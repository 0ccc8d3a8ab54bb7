"""The simulated machine's running jobs: P processors planned as one node of P CPUs, each job
in a pool (the processors outside every reservation, or one reservation's), and the arrays of
one planning pass over a pool.

A slot holds what one live job holds of the machine in the planner's view: a running job its
size; a job suspended by preemption (jem.scheduler.sim_suspension) its whole size still, lent
to its preemptor; that preemptor only its own part, what it needs beyond what its victims lend
it (0 where they lend it all). So the slots' sizes sum to the processors in use, none counted
twice. Slots are reused; there are at least P (each running job holds >= 1 processor, but a
preemptor's own part may be 0: the table grows if needed). Times are integer seconds.
"""

import numpy as np

from jem.model.resources import N_RES, Res
from jem.scheduler import plan

OUTSIDE = -1    # the pool of the jobs of no reservation


class Machine:
    """Free processors, and per slot a live job's expected end (start + time limit, moved by
    its suspensions), the processors it holds and its pool (OUTSIDE, or the index of the
    reservation it runs in)."""

    def __init__(self, procs: int):
        self.procs = procs
        self.free = procs
        self.exp_end = np.zeros(procs, dtype=np.int64)      # (n_slots,) slot -> planned end
        self.size = np.zeros(procs, dtype=np.int64)         # (n_slots,) slot -> processors held, 0 if empty
        self.pool = np.full(procs, OUTSIDE, dtype=np.int64)  # (n_slots,) slot -> pool
        self.slot_of: dict[int, int] = {}
        self.open_slots = list(range(procs - 1, -1, -1))

    def start(self, job: int, size: int, exp_end: int, pool: int = OUTSIDE) -> None:
        """`job` holds `size` processors (its own part, for a preemptor on lent ones) until `exp_end`."""
        assert 0 <= size <= self.free, (job, size, self.free)
        if not self.open_slots:
            self._grow()
        slot = self.open_slots.pop()
        self.slot_of[job] = slot
        self.exp_end[slot], self.size[slot], self.pool[slot] = exp_end, size, pool
        self.free -= size

    def finish(self, job: int) -> None:
        slot = self.slot_of.pop(job)
        self.free += int(self.size[slot])
        self.size[slot] = 0
        self.open_slots.append(slot)

    def size_of(self, job: int) -> int:
        return int(self.size[self.slot_of[job]])

    def move_end(self, job: int, exp_end: int) -> None:
        self.exp_end[self.slot_of[job]] = exp_end

    def used(self, pool: int) -> int:
        return int(self.size[(self.size > 0) & (self.pool == pool)].sum())

    def _grow(self) -> None:
        n = len(self.size)
        self.exp_end = np.concatenate((self.exp_end, np.zeros(n, dtype=np.int64)))
        self.size = np.concatenate((self.size, np.zeros(n, dtype=np.int64)))
        self.pool = np.concatenate((self.pool, np.full(n, OUTSIDE, dtype=np.int64)))
        self.open_slots = list(range(2 * n - 1, n - 1, -1))

    def arrays(self, pool: int = OUTSIDE, *, free_now: int | None = None, step_s: np.ndarray | None = None,
               step_amount: np.ndarray | None = None) -> tuple[plan.Cluster, plan.Running]:
        """The pass's node (free: `free_now`, else all free processors) and the running jobs of
        `pool` as allocations, with the (time, amount) steps appended as more of them (a
        negative amount takes processors from then on: jem.scheduler.sim_reservations)."""
        busy = (self.size > 0) & (self.pool == pool)
        ends, sizes = self.exp_end[busy], self.size[busy]
        if step_s is not None and len(step_s):
            ends, sizes = np.concatenate((ends, step_s)), np.concatenate((sizes, step_amount))
        alloc = np.zeros((len(sizes), N_RES), dtype=np.int64)
        alloc[:, Res.CPU] = sizes
        free = np.zeros((1, N_RES), dtype=np.int64)
        free[0, Res.CPU] = self.free if free_now is None else free_now
        one = np.ones(1, dtype=np.uint8)
        return (plan.Cluster(free, one, one.reshape(1, 1)),
                plan.Running(np.zeros(len(sizes), dtype=np.intp), np.ascontiguousarray(ends), alloc))
