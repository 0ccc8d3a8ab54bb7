"""Job priority until multifactor priority exists: a base value lowered by nice.

Higher starts first; ties are broken by submit time, then job id.
"""

from jem.model import defaults


def basic_priority(nice: int, *, is_held: bool) -> int:
    """A held job has priority 0 (as in Slurm); otherwise PRIORITY_BASE - nice, at least 1."""
    if is_held:
        return 0
    return max(1, defaults.PRIORITY_BASE - nice)


def queue_order_key(priority: int, submit_time: float, job_id: int) -> tuple[int, float, int]:
    """Sort key for the queue: priority descending, then submit time, then id."""
    return (-priority, submit_time, job_id)
