"""One pending job's multifactor priority and its factors, as sprio shows them."""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class JobPriority:
    """Factors are keyed by jem.scheduler.priority.FACTORS' names (age, fairshare, job_size,
    partition, qos): `factors` in [0, 1], `weighted` times their PriorityWeight."""

    job_id: int
    user: str
    account: str
    partition: str
    priority: int
    nice: int
    cpus: int
    factors: dict[str, float]
    weighted: dict[str, float]
