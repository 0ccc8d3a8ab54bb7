"""What pending jobs' multifactor priorities are made of (sprio): the same factors the scheduling
cycle computes (jem.scheduler.cycle.priority_factors), for the jobs a caller may see.

Views of the chosen jobs, the nodes and the fair-share usage are copied under the lock; the
factors are computed after it is released.
"""

import dataclasses

from jem.controller.state import ClusterState
from jem.model import policy
from jem.model.identity import Identity
from jem.model.jobpriority import JobPriority
from jem.scheduler.cycle import priority_factors
from jem.scheduler.policy import Policy
from jem.scheduler.priority import FACTORS, weighted
from jem.scheduler.snapshot import pending_views, take_snapshot


def list_priorities(state: ClusterState, identity: Identity, *, now: float, job_ids: frozenset[int] = frozenset(),
                    users: frozenset[str] = frozenset(), partitions: frozenset[str] = frozenset()
                    ) -> tuple[dict[str, float], list[JobPriority]]:
    """(the weights by factor, the pending jobs chosen that `identity` may see, by id)."""
    jobs_private = state.config.cluster.is_private("jobs")
    with state.lock:
        chosen = [j for j in state.jobs.pending()
                  if (j.spec.begin_time is None or j.spec.begin_time <= now)   # (Slurm's: not before it is eligible)
                  and (not job_ids or j.job_id in job_ids) and (not users or j.user in users)
                  and (not partitions or j.spec.partition in partitions)
                  and policy.may_see_job(identity, j.uid, jobs_private=jobs_private)]
        chosen.sort(key=lambda j: j.job_id)
        snapshot = dataclasses.replace(take_snapshot([], state.nodes.all(), state.partitions,
                                                     usage=state.usage.by_user),
                                       share_users=state.jobs.share_users())
        views = pending_views(chosen)
        priorities = [j.priority for j in chosen]
    scheduling = Policy.from_config(state.config).with_accounting(state.accounting_table)
    weights = {name: float(getattr(scheduling.priority, f"weight_{name}")) for name in FACTORS}
    if not views:
        return weights, []
    factors = priority_factors(list(views), snapshot, scheduling, now)
    parts = weighted(scheduling.priority, factors)
    return weights, [
        JobPriority(job_id=v.job_id, user=v.user, account=v.account, partition=v.partition, priority=priority,
                    nice=v.nice, cpus=v.per_node.cpus * v.n_nodes,
                    factors={name: float(factors[name][i]) for name in FACTORS},
                    weighted={name: float(parts[name][i]) for name in FACTORS})
        for i, (v, priority) in enumerate(zip(views, priorities))]
