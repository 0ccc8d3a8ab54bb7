"""The controller's own statistics since it started or they were reset: what `sdiag` prints.

JEM plans the whole queue, backfill included, in one pass per scheduling cycle, where Slurm
runs a quick main scheduler and a separate backfill scheduler: both of sdiag's sections read
the same cycles (`CycleCounts`).
"""

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RpcCount:
    """The calls of one RPC method, or of one user: how many, and the time they took to serve."""

    name: str          # the method's name (SubmitJob), or the user's
    id: int            # the method's number (jem.controller.stats.METHOD_IDS), or the user's uid
    count: int
    total_us: int

    @property
    def average_us(self) -> int:
        return self.total_us // self.count if self.count else 0


@dataclass(frozen=True, slots=True)
class CycleCounts:
    """The scheduling cycles: their times (microseconds), depths (jobs planned) and queue lengths."""

    count: int = 0
    last_us: int = 0
    max_us: int = 0
    sum_us: int = 0
    last_depth: int = 0
    depth_sum: int = 0
    last_queue_len: int = 0
    queue_len_sum: int = 0
    last_time: float = 0.0     # when the last one ended (0: none yet)
    last_nodes: int = 0        # the nodes the last one planned on (sdiag's table size)
    nodes_sum: int = 0


@dataclass(frozen=True, slots=True)
class Diagnostics:
    time: float                    # when these were read
    since: float                   # when counting began (the start, or the last reset)
    rpcs_in_flight: int            # calls being served as these were read
    agent_calls_in_flight: int     # orders to agents sent and not yet answered
    jobs_submitted: int
    jobs_started: int
    jobs_completed: int
    jobs_canceled: int
    jobs_failed: int               # ended otherwise: failed, timed out, out of memory, node failure, preempted
    jobs_pending: int
    jobs_running: int
    cycles: CycleCounts
    backfilled_since_start: int    # jobs started ahead of a job before them in the queue
    backfilled_since_reset: int
    by_method: tuple[RpcCount, ...]
    by_user: tuple[RpcCount, ...]
    clock_latency_us: int = 0      # what 1000 reads of the clock took, measured at the controller's start
