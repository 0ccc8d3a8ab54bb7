"""The scheduling policy a cycle runs under: reservation depth, priority weights, fair-share.

Built once from the configuration (`Policy.from_config`) and passed to every
cycle; a reload builds a new one. Depth 0 is plain priority order (fcfs), 1
is EASY, CONSERVATIVE_DEPTH gives every pending job a reservation.
"""

from dataclasses import dataclass, field

from jem.model import defaults
from jem.model.config import CONSERVATIVE_DEPTH, AccountConfig, Config, FairshareConfig, PriorityConfig

POLICY_DEPTHS = {"fcfs": 0, "easy": defaults.RESERVATION_DEPTH, "conservative": CONSERVATIVE_DEPTH}


@dataclass(frozen=True, slots=True)
class Policy:
    reservation_depth: int = defaults.RESERVATION_DEPTH
    priority: PriorityConfig = field(default_factory=PriorityConfig)
    fairshare: FairshareConfig = field(default_factory=FairshareConfig)
    accounts: tuple[AccountConfig, ...] = ()

    @classmethod
    def from_config(cls, config: Config) -> "Policy":
        return cls(reservation_depth=config.scheduler.effective_depth, priority=config.priority,
                   fairshare=config.fairshare, accounts=config.accounts)

    @property
    def name(self) -> str:
        """fcfs, easy (depth k shown as easy:k when k > 1) or conservative."""
        if self.reservation_depth == 0:
            return "fcfs"
        if self.reservation_depth >= CONSERVATIVE_DEPTH:
            return "conservative"
        return "easy" if self.reservation_depth == 1 else f"easy:{self.reservation_depth}"


FCFS = Policy(reservation_depth=0)
EASY = Policy(reservation_depth=1)
CONSERVATIVE = Policy(reservation_depth=CONSERVATIVE_DEPTH)
