"""The scheduling policy a cycle runs under: reservation depth, priority weights, fair-share.

Built once from the configuration (`Policy.from_config`) and passed to every
cycle; a reload builds a new one. Depth 0 is plain priority order (fcfs), 1
is EASY, CONSERVATIVE_DEPTH gives every pending job a reservation.
"""

import dataclasses
from dataclasses import dataclass, field

from jem.model import defaults
from jem.model.associations import ROOT, AccountingTable, PreemptMode
from jem.model.config import (CONSERVATIVE_DEPTH, DEFAULT_QOS, AccountConfig, Config, FairshareConfig, PriorityConfig,
                              QosConfig)
from jem.model.units import parse_time_limit
from jem.scheduler.preemption import PreemptPolicy

POLICY_DEPTHS = {"fcfs": 0, "easy": defaults.RESERVATION_DEPTH, "conservative": CONSERVATIVE_DEPTH}


@dataclass(frozen=True, slots=True)
class Policy:
    reservation_depth: int = defaults.RESERVATION_DEPTH
    estimate_depth: int = 0            # waiting jobs given an estimated start after the pass (0: none)
    estimate_budget_s: float = 0.0     # seconds those estimates may take (0: no bound); the rest are forecast
    preemption: PreemptPolicy = field(default_factory=PreemptPolicy)
    priority: PriorityConfig = field(default_factory=PriorityConfig)
    fairshare: FairshareConfig = field(default_factory=FairshareConfig)
    accounts: tuple[AccountConfig, ...] = ()
    qos: tuple[QosConfig, ...] = (DEFAULT_QOS,)

    @classmethod
    def from_config(cls, config: Config) -> "Policy":
        scheduler = config.scheduler
        preemption = PreemptPolicy(preempt_type=scheduler.preempt_type, mode=PreemptMode(scheduler.preempt_mode.upper()),
                                   exempt_time_s=parse_time_limit(scheduler.preempt_exempt_time) or 0)
        return cls(reservation_depth=scheduler.effective_depth, estimate_depth=scheduler.estimate_depth,
                   estimate_budget_s=scheduler.estimate_budget_ms / 1000,
                   preemption=preemption, priority=config.priority,
                   fairshare=config.fairshare, accounts=config.accounts, qos=config.qos)

    def with_accounting(self, table: AccountingTable) -> "Policy":
        """This policy with the fair-share tree and QOS priorities of `table` (itself when they are
        the same already)."""
        accounts = accounts_of(table)
        qos = tuple(QosConfig(q.name, q.priority) for q in table.qos.values())
        if accounts == self.accounts and qos == self.qos:
            return self
        return dataclasses.replace(self, accounts=accounts, qos=qos)

    def qos_factor(self, name: str) -> float:
        """A QOS's priority over the largest one, in [0, 1] ("" is "normal"; unknown: 0)."""
        largest = max((q.priority for q in self.qos), default=0)
        priority = next((q.priority for q in self.qos if q.name == (name or DEFAULT_QOS.name)), 0)
        return priority / largest if largest > 0 else 0.0

    @property
    def name(self) -> str:
        """fcfs, easy (depth k shown as easy:k when k > 1) or conservative."""
        if self.reservation_depth == 0:
            return "fcfs"
        if self.reservation_depth >= CONSERVATIVE_DEPTH:
            return "conservative"
        return "easy" if self.reservation_depth == 1 else f"easy:{self.reservation_depth}"


def accounts_of(table: AccountingTable) -> tuple[AccountConfig, ...]:
    """The fair-share tree's accounts (name, shares, parent) in an accounting table."""
    return tuple(AccountConfig(a.account, a.shares, a.parent) for a in table.associations.values()
                 if not a.is_user and a.account != ROOT)


FCFS = Policy(reservation_depth=0)
EASY = Policy(reservation_depth=1)
CONSERVATIVE = Policy(reservation_depth=CONSERVATIVE_DEPTH)
