"""Advance reservations (Slurm's `scontrol create reservation`): nodes set aside for some users or
accounts over a window of time, a maintenance window being the common case.

Times are epoch seconds. A DAILY or WEEKLY reservation repeats: its window is the current
or next occurrence (`window`). While a window is on, only the jobs that name the
reservation (sbatch --reservation) and whose user or account it admits may use its nodes;
other jobs may use them before it only if they end before it by their time limits.
A MAGNETIC reservation draws in the jobs it admits that name no reservation: they try it
first. A FLEX reservation's jobs may also start before it, use nodes outside it, and run
past its end.
"""

import enum
from dataclasses import dataclass

from jem.model.errors import InvalidReservation
from jem.model.limits import DEFAULT_LIMITS, MAX_EPOCH_S

DAY_S = 86400


class ReservationFlag(enum.Enum):
    """The flags JEM acts on; the value is Slurm's name."""

    MAINT = "MAINT"                # maintenance: jobs it blocks wait with "ReqNodeNotAvail, Reserved for maintenance"
    IGNORE_JOBS = "IGNORE_JOBS"    # created even where running jobs would still run at its start
    OVERLAP = "OVERLAP"            # may share nodes and time with other reservations
    DAILY = "DAILY"                # repeats every day
    WEEKLY = "WEEKLY"              # repeats every week
    FLEX = "FLEX"                  # its jobs may start before it, use nodes outside it, and run past its end
    MAGNETIC = "MAGNETIC"          # jobs it admits run in it without naming it (sbatch --reservation)


@dataclass(frozen=True, slots=True)
class Reservation:
    name: str
    start_time: float
    end_time: float
    node_names: tuple[str, ...]
    users: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    flags: frozenset[ReservationFlag] = frozenset()
    partition: str = ""
    core_count: int = 0        # CoreCnt=: cores reserved, spread over its nodes (cores_on); 0: whole nodes
    cores_per_node: tuple[int, ...] = ()   # CoreCnt=N,N: the cores of each node, in node_names order; (): spread

    def __post_init__(self):
        # core_count is the sum of the counts per node (so that every "is it of cores" test reads
        # core_count); a tuple even where a list came (a stored record's JSON)
        if self.cores_per_node:
            object.__setattr__(self, "cores_per_node", tuple(self.cores_per_node))
            object.__setattr__(self, "core_count", sum(self.cores_per_node))

    def cores_on(self, node_name: str) -> int | None:
        """The cores it takes of `node_name`: its count of that node (CoreCnt=N,N), or CoreCnt=
        spread evenly, the first nodes one more where it does not divide; None where it takes
        the whole node (or does not hold it). E.g. CoreCnt=5 over n1,n2: 3 of n1, 2 of n2;
        CoreCnt=2,4 over n1,n2: 2 of n1, 4 of n2."""
        if not self.core_count or node_name not in self.node_names:
            return None
        index = self.node_names.index(node_name)
        if self.cores_per_node:   # (check() holds: one count per node)
            return self.cores_per_node[index]
        share, extra = divmod(self.core_count, len(self.node_names))
        return share + (1 if index < extra else 0)

    @property
    def core_count_text(self) -> str:
        """CoreCnt= as it was given: "2,4" (a count per node) or "6"."""
        return ",".join(map(str, self.cores_per_node)) if self.cores_per_node else str(self.core_count)

    @property
    def period_s(self) -> int:
        """0, or the seconds after which it repeats."""
        if ReservationFlag.DAILY in self.flags:
            return DAY_S
        return 7 * DAY_S if ReservationFlag.WEEKLY in self.flags else 0

    def window(self, now: float) -> tuple[float, float] | None:
        """The current or next [start, end) of it; None once it is over for good."""
        start, end = self.start_time, self.end_time
        period = self.period_s
        if period and end <= now:
            skip = int((now - end) // period) + 1
            start, end = start + skip * period, end + skip * period
        return (start, end) if end > now else None

    def is_active(self, now: float) -> bool:
        window = self.window(now)
        return window is not None and window[0] <= now

    def admits(self, user: str, account: str) -> bool:
        return user in self.users or (bool(account) and account in self.accounts)

    def check(self) -> None:
        """InvalidReservation naming what is wrong."""
        if not self.name or len(self.name) > DEFAULT_LIMITS.max_name_len or any(c.isspace() or c in ",=" or
                                                                              c == "\0" for c in self.name):
            raise InvalidReservation(f"name {self.name[:70]!r}")
        names = self.users + self.accounts + (self.partition,)
        if len(names) > DEFAULT_LIMITS.max_args or any(len(n) > DEFAULT_LIMITS.max_name_len or "\0" in n
                                                       for n in names):
            raise InvalidReservation("users, accounts or partition: too many, too long, or with a NUL byte")
        if self.end_time <= self.start_time:
            raise InvalidReservation("its end is not after its start")
        if self.end_time > MAX_EPOCH_S:
            raise InvalidReservation("it ends after the year 9999")
        if not self.node_names:
            raise InvalidReservation("no nodes")
        if self.cores_per_node and (len(self.cores_per_node) != len(self.node_names) or
                                    min(self.cores_per_node) < 1):
            raise InvalidReservation(f"CoreCnt={self.core_count_text}: a count of 1 or more for each of its "
                                     f"{len(self.node_names)} nodes")
        if self.core_count < 0 or (self.core_count and self.core_count < len(self.node_names)):
            raise InvalidReservation(f"CoreCnt={self.core_count}: at least one core of each of its "
                                     f"{len(self.node_names)} nodes")
        if not self.users and not self.accounts:
            raise InvalidReservation("no users or accounts (Users= or Accounts=)")
        if ReservationFlag.DAILY in self.flags and ReservationFlag.WEEKLY in self.flags:
            raise InvalidReservation("DAILY and WEEKLY both")
        if self.period_s and self.end_time - self.start_time > self.period_s:
            raise InvalidReservation("longer than the period it repeats with")

    def overlaps(self, other: "Reservation", now: float) -> bool:
        """Whether the two share a node at some time from now: the windows of each are compared
        from now until a week past the later of their first windows (a week holds every way two
        daily or weekly ones can meet)."""
        if not set(self.node_names) & set(other.node_names):
            return False
        firsts = [r.window(now) for r in (self, other)]
        if None in firsts:
            return False
        until = max(first[0] for first in firsts) + 7 * DAY_S
        mine, theirs = self._windows(now, until), other._windows(now, until)
        return any(a < d and c < b for a, b in mine for c, d in theirs)

    def _windows(self, now: float, until: float) -> list[tuple[float, float]]:
        """Its windows from now that start before `until`."""
        first = self.window(now)
        if first is None:
            return []
        if not self.period_s:
            return [first]
        count = int((until - first[0]) // self.period_s) + 2
        return [(first[0] + k * self.period_s, first[1] + k * self.period_s) for k in range(max(count, 1))]
