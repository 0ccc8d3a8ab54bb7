"""Usage reports: the CPU time jobs held or waited for over a period, as Slurm's sreport totals it.

Inputs are what the store keeps of each job (`JobActivity`: its CPUs, account, user and
the times of its events); outputs are whole CPU-seconds. Event times are cut to whole
seconds first (Slurm keeps time_t), so every figure is integer arithmetic and an
account's row is exactly the sum of the rows under it.

- **Allocated**: a job holds its CPUs from each `start` (or `resume`) to the next
  `suspend`, requeue or end, clipped to the period. Time after `now` is not counted.
- **Planned** (Slurm's reserved time): an eligible pending job's requested CPUs times
  the time it waited: from its submission (or requeue, or release; never before its
  begin time) to its start, hold or end. An array's record counts once per task it
  still stands for (Slurm's array_pending). A job that waits on a dependency now was
  never eligible; JEM does not record when a dependency was met, so a job whose
  dependency was met counts from its submission.
- **Idle** is what is left of the cluster's CPUs over the period. Like slurmdbd's
  hourly rollup, Planned and Idle are settled hour by hour from the period's start:
  in an hour where the waiting jobs asked for more than was free, Planned is what was
  free and the rest is Over Committed.
- **Down**: each node's CPUs times the time it was drained or DOWN (its events:
  jem.model.node_events), clipped to the period. As slurmdbd's rollup does, an hour's
  Down is at most what the jobs left unallocated then (a node drained while its jobs run
  is Allocated for them), and Idle and Planned share what is left after Allocated and Down.
- **Planned Down** is 0: JEM has no maintenance reservations, FUTURE or powered-down nodes.

Worked example: 8 CPUs, the hour 10:00-11:00, a 4-CPU job running 10:30-11:15 and a
2-CPU job waiting 10:00-10:30. Allocated 4 x 1800 = 7200, Planned 2 x 1800 = 3600,
Idle 8 x 3600 - 7200 - 3600 = 18000, Reported 28800.
"""

import enum
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from jem.model.associations import ROOT
from jem.model.node_events import NodeEvent
from jem.model.states import JobEvent

HOUR_S = 3600

_ENDS = frozenset(e.value for e in (JobEvent.COMPLETE, JobEvent.FAIL, JobEvent.CANCEL, JobEvent.TIMEOUT,
                                   JobEvent.OUT_OF_MEMORY, JobEvent.NODE_FAIL, JobEvent.PREEMPT))
_RUN_STARTS = frozenset((JobEvent.START.value, JobEvent.RESUME.value))
_RUN_STOPS = _ENDS | {JobEvent.SUSPEND.value, JobEvent.REQUEUE.value}
_WAIT_STARTS = frozenset((JobEvent.SUBMIT.value, JobEvent.RELEASE.value, JobEvent.REQUEUE.value))
_WAIT_STOPS = _ENDS | {JobEvent.START.value, JobEvent.HOLD.value}
USAGE_EVENTS = _RUN_STARTS | _RUN_STOPS | _WAIT_STARTS | _WAIT_STOPS   # the events a report reads


class ReportKind(enum.Enum):
    """What a usage report computes."""

    CLUSTER = "cluster"              # the cluster's totals (sreport cluster Utilization)
    ACCOUNT_TREE = "account_tree"    # accounts (subtree sums) and users, in tree order
    USERS = "users"                  # user associations, in tree order (sreport sorts them)


@dataclass(frozen=True, slots=True)
class JobActivity:
    """What a report needs of one job: who, how many CPUs, and its events in commit order."""

    job_id: int
    user: str
    account: str                          # "" (no accounting): counted under root
    n_cpus: int                           # CPUs it holds (or asks for) on all its nodes
    events: tuple[tuple[float, str], ...]  # (epoch seconds, JobEvent value), oldest first
    begin_time: float | None = None       # sbatch --begin: not eligible before
    is_held_at_submit: bool = False       # sbatch -H: eligible only once released
    is_waiting_on_dependency: bool = False   # a dependency unmet now: never eligible yet
    n_waiting_tasks: int = 1              # an array's record: the tasks it stands for


@dataclass(frozen=True, slots=True)
class ClusterUsage:
    """The cluster's CPU-seconds over a period. For the CLUSTER kind `reported_cpu_s` is the sum
    of allocated, down, planned down, idle and planned; the association kinds set only it (the
    CPUs over the period) and `allocated_cpu_s` (their rows' users' usage)."""

    n_cpus: int
    reported_cpu_s: int = 0
    allocated_cpu_s: int = 0
    down_cpu_s: int = 0
    planned_down_cpu_s: int = 0
    idle_cpu_s: int = 0
    planned_cpu_s: int = 0
    over_committed_cpu_s: int = 0


@dataclass(frozen=True, slots=True)
class AssociationUsage:
    """CPU-seconds of one user association (`user` set) or one account's whole subtree."""

    account: str
    user: str
    cpu_s: int
    parent_account: str = ""              # an account row's parent ("" for root and user rows)


@dataclass(frozen=True, slots=True)
class UsageReport:
    """A report over [start, end): the cluster's totals and, for the association kinds, its rows."""

    start: float
    end: float
    cluster: ClusterUsage
    rows: tuple[AssociationUsage, ...] = ()


def running_spans(activity: JobActivity, *, now: float) -> list[tuple[int, int]]:
    """The whole-second spans the job held its CPUs, up to `now` while it still runs."""
    return _spans(activity.events, _RUN_STARTS, _RUN_STOPS, until=int(now))


def waiting_spans(activity: JobActivity, *, now: float) -> list[tuple[int, int]]:
    """The whole-second spans the job waited while eligible (see the module docstring)."""
    if activity.is_waiting_on_dependency:
        return []
    events = activity.events
    if activity.is_held_at_submit:   # held from the start: its submission starts no wait
        events = tuple(e for e in events if e[1] != JobEvent.SUBMIT.value)
    spans = _spans(events, _WAIT_STARTS, _WAIT_STOPS, until=int(now))
    if activity.begin_time is None:
        return spans
    begin = int(activity.begin_time)
    return [(max(a, begin), b) for a, b in spans if b > begin]


def _spans(events, starts, stops, *, until: int) -> list[tuple[int, int]]:
    spans, opened = [], None
    for time, event in events:
        if event in starts and opened is None:
            opened = int(time)
        elif event in stops and opened is not None:
            if int(time) > opened:
                spans.append((opened, int(time)))
            opened = None
    if opened is not None and until > opened:
        spans.append((opened, until))
    return spans


def overlap_s(span: tuple[int, int], start: int, end: int) -> int:
    """Seconds of `span` within [start, end)."""
    return max(0, min(span[1], end) - max(span[0], start))


class HourTotals:
    """CPU-seconds per hour of [start, end), hour 0 starting at `start` (the last one may be short).

    A span adds its whole hours through a difference array and its partial first and last
    hours directly, so a job that waited a week costs two additions, not 168.
    """

    def __init__(self, start: int, end: int):
        self.start, self.end = start, end
        self.n_hours = max(0, -(-(end - start) // HOUR_S))
        self._partial = [0] * self.n_hours
        self._full = [0] * (self.n_hours + 1)   # the difference array of CPUs held all hour

    def add(self, span: tuple[int, int], n_cpus: int) -> None:
        a, b = max(span[0], self.start), min(span[1], self.end)
        if b <= a:
            return
        first, last = (a - self.start) // HOUR_S, (b - self.start) // HOUR_S
        if first == last:
            self._partial[first] += n_cpus * (b - a)
            return
        self._partial[first] += n_cpus * (self.start + (first + 1) * HOUR_S - a)
        self._full[first + 1] += n_cpus
        self._full[last] -= n_cpus
        if last < self.n_hours:
            self._partial[last] += n_cpus * (b - self.start - last * HOUR_S)

    def totals(self) -> list[int]:
        held = itertools.accumulate(self._full[:self.n_hours])   # CPUs held all hour, hour by hour
        return [partial + n_cpus * HOUR_S for partial, n_cpus in zip(self._partial, held)]

    def hour_length_s(self, hour: int) -> int:
        return min(HOUR_S, self.end - self.start - hour * HOUR_S)


def cluster_usage(activities, *, n_cpus: int, start: float, end: float, now: float,
                  node_events: Iterable[NodeEvent] = ()) -> ClusterUsage:
    """The cluster's totals over [start, end) counted up to `now`, settled hour by hour as
    slurmdbd's rollup does (_setup_cluster_tres_usage): Down is at most what was not allocated,
    what the waiting jobs asked for beyond the free time of an hour is Over Committed, and
    Idle is never negative."""
    first = int(start)
    last = first + counted_s(start=start, end=end, now=now)
    allocated, waiting, down = HourTotals(first, last), HourTotals(first, last), HourTotals(first, last)
    for event in node_events:
        down.add(event.span(now=now), event.cpus)
    for activity in activities:
        for span in running_spans(activity, now=now):
            allocated.add(span, activity.n_cpus)
        for span in waiting_spans(activity, now=now):
            waiting.add(span, activity.n_cpus * max(1, activity.n_waiting_tasks))
    alloc_by_hour, planned_by_hour = allocated.totals(), waiting.totals()
    idle = planned = over = down_total = 0
    full_hour_cpu_s = n_cpus * HOUR_S
    for hour, (alloc, wanted, was_down) in enumerate(zip(alloc_by_hour, planned_by_hour, down.totals())):
        free = (full_hour_cpu_s if hour + 1 < allocated.n_hours else n_cpus * allocated.hour_length_s(hour)) - alloc
        was_down = min(was_down, max(0, free))
        free, down_total = free - was_down, down_total + was_down
        if wanted <= free:
            idle, planned = idle + free - wanted, planned + wanted
        else:   # more asked for than was free: the rest is over-committed (alloc past the total too)
            planned, over = planned + max(0, free), over + wanted - free
    alloc = sum(alloc_by_hour)
    return ClusterUsage(n_cpus=n_cpus, reported_cpu_s=alloc + down_total + idle + planned, allocated_cpu_s=alloc,
                        down_cpu_s=down_total, idle_cpu_s=idle, planned_cpu_s=planned, over_committed_cpu_s=over)


def counted_s(*, start: float, end: float, now: float) -> int:
    """The whole seconds of [start, end) a report counts: none after `now`."""
    return max(0, min(int(end), int(now)) - int(start))


def used_by_association(activities, *, start: float, end: float, now: float) -> dict[tuple[str, str], int]:
    """(account, user) -> CPU-seconds its jobs held within [start, end), for every association
    with a job that held CPUs then (a job without an account counts under root)."""
    first, last = int(start), int(end)
    used: dict[tuple[str, str], int] = {}
    for activity in activities:
        seconds = sum(overlap_s(span, first, last) for span in running_spans(activity, now=now))
        if seconds > 0:
            key = (activity.account or ROOT, activity.user)
            used[key] = used.get(key, 0) + seconds * activity.n_cpus
    return used


def account_tree_rows(used: dict[tuple[str, str], int], *, parents: dict[str, str],
                      accounts: frozenset[str] = frozenset()) -> list[AssociationUsage]:
    """Rows for sreport's AccountUtilizationByUser: each account that has usage under it,
    with its subtree's sum, then its users by name, then its sub-accounts by name. `parents`
    maps each account to its parent (an account it lacks hangs under root). With `accounts`,
    only those accounts and their subtrees, each such account a top of the tree."""
    def parent_of(account: str) -> str:
        return "" if account == ROOT else parents.get(account, ROOT) or ROOT

    def path(account: str) -> list[str]:
        chain, seen = [account], {account}
        while (up := parent_of(chain[-1])) and up not in seen:
            chain.append(up)
            seen.add(up)
        return chain

    sums: dict[str, int] = {}
    users: dict[str, list[tuple[str, int]]] = {}
    children: dict[str, set[str]] = {}
    for (account, user), cpu_s in used.items():
        chain = path(account)
        if accounts:
            cut = next((i for i, name in enumerate(chain) if name in accounts), None)
            if cut is None:
                continue
            chain = chain[:cut + 1]
        users.setdefault(account, []).append((user, cpu_s))
        for i, name in enumerate(chain):
            sums[name] = sums.get(name, 0) + cpu_s
            if i + 1 < len(chain):
                children.setdefault(chain[i + 1], set()).add(name)
    tops = sorted(a for a in sums if not any(a in kids for kids in children.values()))
    rows: list[AssociationUsage] = []

    def visit(account: str) -> None:
        rows.append(AssociationUsage(account, "", sums[account], parent_account=parent_of(account)))
        for user, cpu_s in sorted(users.get(account, ())):
            rows.append(AssociationUsage(account, user, cpu_s))
        for child in sorted(children.get(account, ())):
            visit(child)

    for top in tops:
        visit(top)
    return rows


def user_rows(used: dict[tuple[str, str], int], *, parents: dict[str, str],
              accounts: frozenset[str] = frozenset()) -> list[AssociationUsage]:
    """Rows for UserUtilizationByAccount and TopUsage: each user association in `accounts`
    (all when empty), in the tree's order (sreport sorts them, keeping that order for ties)."""
    return [row for row in account_tree_rows(used, parents=parents)
            if row.user and (not accounts or row.account in accounts)]
