"""Job priority: the basic one (a base value lowered by nice) and Slurm's multifactor one.

Higher starts first; ties are broken by submit time, then job id. Multifactor
priority is computed for the whole queue at once with numpy:

    priority = w_age * min(age, max_age) / max_age + w_fairshare * fairshare
             + w_job_size * min(cpus / cluster_cpus, 1) + w_partition * tier / max_tier
             + w_qos * qos - nice

rounded down, at least 1 (0 means held, as in Slurm). The QOS factor is the
job's QOS priority over the largest configured one (Slurm's
PriorityWeightQOS * qos_priority / max). Age counts from the
later of submit and begin time. Worked example: weights age 1000, fairshare
10000, max age 7 days; a job queued 3.5 days whose user has factor 0.25 and
nice 0 gets 1000 * 0.5 + 10000 * 0.25 = 3000.
"""

import numpy as np

from jem.model import defaults
from jem.model.config import PriorityConfig


def basic_priority(nice: int, *, is_held: bool) -> int:
    """A held job has priority 0 (as in Slurm); otherwise PRIORITY_BASE - nice, at least 1."""
    if is_held:
        return 0
    return max(1, defaults.PRIORITY_BASE - nice)


def queue_order_key(priority: int, submit_time: float, job_id: int) -> tuple[int, float, int]:
    """Sort key for the queue: priority descending, then submit time, then id."""
    return (-priority, submit_time, job_id)


def queue_order(priority: np.ndarray, submit_time: np.ndarray, job_id: np.ndarray) -> np.ndarray:
    """Indices that sort the queue by queue_order_key: priority desc, submit time asc, job id asc."""
    return np.lexsort((job_id, submit_time, -priority))


FACTORS = ("age", "fairshare", "job_size", "partition", "qos")   # Slurm's factors JEM computes, in sprio's order


def factor_values(weights: PriorityConfig, *, age_s: np.ndarray, fairshare: np.ndarray, cpus: np.ndarray,
                  cluster_cpus: int, partition_factor: np.ndarray,
                  qos_factor: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Each factor of each job, normalized to [0, 1] ((n_jobs,) float64 per name of FACTORS):
    what sprio -n shows; the priority adds them up times their weights."""
    n_jobs = len(age_s)
    return {"age": np.minimum(np.maximum(age_s, 0), weights.max_age_s) / weights.max_age_s,
            "fairshare": np.asarray(fairshare, dtype=np.float64),
            "job_size": np.minimum(cpus / max(cluster_cpus, 1), 1.0),
            "partition": np.asarray(partition_factor, dtype=np.float64),
            "qos": np.zeros(n_jobs) if qos_factor is None else np.asarray(qos_factor, dtype=np.float64)}


def weighted(weights: PriorityConfig, factors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each factor times its PriorityWeight (float64: sprio shows each to the nearest whole number)."""
    return {name: getattr(weights, f"weight_{name}") * values for name, values in factors.items()}


def multifactor_priority(weights: PriorityConfig, *, age_s: np.ndarray, fairshare: np.ndarray, cpus: np.ndarray,
                         cluster_cpus: int, partition_factor: np.ndarray, nice: np.ndarray,
                         qos_factor: np.ndarray | None = None) -> np.ndarray:
    """Priorities (n_jobs,) int64 from per-job factors, all arrays (n_jobs,):
    age_s seconds queued, fairshare in [0, 1], cpus requested in all, partition_factor in [0, 1], nice,
    qos_factor in [0, 1] (None: all 0)."""
    parts = weighted(weights, factor_values(weights, age_s=age_s, fairshare=fairshare, cpus=cpus,
                                            cluster_cpus=cluster_cpus, partition_factor=partition_factor,
                                            qos_factor=qos_factor))
    total = parts["age"] + parts["fairshare"] + parts["job_size"] + parts["partition"] + parts["qos"]
    return np.maximum(np.floor(total).astype(np.int64) - nice.astype(np.int64), 1)
