"""The simulated queue's order, and what limits read of each trace job.

Submit order without priority weights; else Slurm's multifactor priority (jem.scheduler.priority,
as the cycle computes it), recomputed every pass, with fair-share usage charged as jobs run.
A trace job is of account g<gid>, user u<uid>, its QOS ([sim] qos_by_queue, else normal), one
node of its size. Times are integer seconds.
"""

from collections.abc import Sequence

import numpy as np

from jem.model.associations import AccountingTable
from jem.model.tres import job_tres
from jem.scheduler import fairshare
from jem.scheduler.limits import LimitedJob
from jem.scheduler.policy import Policy
from jem.scheduler.priority import multifactor_priority, queue_order
from jem.scheduler.swf import Trace


class QueueOrder:
    """The queue order, and the fair-share usage and limit views it needs."""

    def __init__(self, trace: Trace, policy: Policy, qos: Sequence[str]):
        self.trace, self.policy, self.qos = trace, policy, qos
        self.keys = [(f"g{g}", f"u{u}") for g, u in zip(trace.group.tolist(), trace.user.tolist())]
        self.usage = fairshare.Usage(half_life_s=policy.fairshare.half_life_s)
        self.factors = fairshare.FactorCache(policy.fairshare.algorithm, policy.accounts)
        self.qos_factor = np.array([policy.qos_factor(name) for name in qos], dtype=np.float64)   # (n_jobs,)
        # Age counts from the later of submit and eligibility (a requeued job's begin time), as in the cycle.
        self.eligible_s = trace.submit_s.copy()                   # (n_jobs,) int64
        self.running: dict[int, tuple[str, str, int, int, int]] = {}   # job -> (account, user, cpus, start, end)
        self.limits: AccountingTable | None = None       # the limits planned under (None: none)
        self.expected_ends: dict[int, int] = {}          # running job -> start + time limit
        self._limited: dict[int, LimitedJob] = {}

    def limited(self, job: int) -> LimitedJob:
        """What limits read of trace job `job`."""
        view = self._limited.get(job)
        if view is None:
            size, tr = int(self.trace.size[job]), self.trace
            view = self._limited[job] = LimitedJob(
                self.keys[job][0], self.keys[job][1], self.qos[job], "",
                job_tres(cpus=size, mem_mib=0, n_nodes=1, gpus=0), int(tr.estimate_s[job]))
        return view

    def running_limited(self) -> list[tuple[LimitedJob, int]]:
        return [(self.limited(j), end) for j, end in self.expected_ends.items()]

    def advance(self, now: int) -> None:
        """Charge fair-share usage up to `now` (before the jobs ending by now are forgotten)."""
        if self.policy.priority.weight_fairshare:
            self.usage.advance(now, list(self.running.values()))

    def order(self, pending: np.ndarray, now: int) -> np.ndarray:
        """`pending` (trace indices, in submit order) in queue order."""
        if not self.policy.priority.is_multifactor:
            return pending
        tr, keys = self.trace, [self.keys[j] for j in pending.tolist()]
        factors = self.factors.factors(self.usage.by_user, set(keys))
        priority = multifactor_priority(
            self.policy.priority, age_s=now - self.eligible_s[pending], fairshare=np.array([factors[k] for k in keys]),
            cpus=tr.size[pending], cluster_cpus=tr.procs, partition_factor=np.zeros(len(pending)),
            nice=np.zeros(len(pending), dtype=np.int64), qos_factor=self.qos_factor[pending])
        return pending[queue_order(priority, tr.submit_s[pending], pending)]
