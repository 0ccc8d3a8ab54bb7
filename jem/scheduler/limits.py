"""Association and QOS limits over the running jobs: which job a limit holds back, and its reason.

A job's limits (`rules_of`) come from its partition's QOS, its own QOS, its
user association and its accounts up to root, in Slurm's precedence: a limit
(per TRES for TRES limits) set at one level is not looked up at the levels
after it. Max* limits of associations are the nearest set up the tree and
count the user's own jobs; Grp* limits count everything under each
association. Each rule names a holder whose running jobs it counts:

    ("qos", Q)           jobs of QOS Q (as their QOS or their partition's)
    ("qos_user", Q, U)   user U's jobs of QOS Q
    ("account", A)       jobs under account A (its sub-accounts included)
    ("user", A, U)       user U's jobs in account A

`Ledger` keeps what each holder's running jobs hold (TRES, job count, TRES-minutes
still to run by their time limits) and answers `blocking(job)`: the reason of the
first rule the job would break by starting now, or None. A job over a per-job
limit (MaxTRESPerJob, MaxWall) breaks it however long it waits.

Worked example: account physics has GrpTRES=cpu=8 and alice runs two 4-CPU jobs in
it; a third job of 1 CPU in physics (or in a sub-account) is held with
AssocGrpCpuLimit until one of them ends, while bob's jobs in chemistry are not.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from jem.model.associations import INT_LIMITS, AccountingTable, QosFlag
from jem.model.reasons import JobReason, limit_reason
from jem.model.tres import Tres

UNLIMITED_MINUTES = 1 << 40   # the minutes left of a job without a time limit


@dataclass(frozen=True, slots=True)
class LimitedJob:
    """What limits read of a job."""

    account: str
    user: str
    qos: str
    partition_qos: str          # "": its partition has none
    tres: Tres
    time_limit_s: int | None    # None: unlimited


@dataclass(frozen=True, slots=True)
class Rule:
    holder: tuple
    kind: str                   # "job_tres", "job_wall", "tres", "jobs", "run_mins", "submit"
    tres: str                   # the TRES of a TRES limit ("" for others)
    limit: int
    reason: JobReason


def holders_of(job: LimitedJob, table: AccountingTable) -> list[tuple]:
    """Every holder a running `job` counts for (see the module docstring)."""
    holders = [("user", job.account, job.user)]
    holders.extend(("account", a.account) for a in table.chain(job.account) if not a.is_user)
    for qos in dict.fromkeys(q for q in (job.partition_qos, job.qos) if q):
        holders.extend((("qos", qos), ("qos_user", qos, job.user)))
    return holders


def rules_of(job: LimitedJob, table: AccountingTable) -> list[Rule]:
    """The limits `job` is held to, each once, in precedence order."""
    rules: list[Rule] = []
    taken: set[tuple[str, str]] = set()    # (limit field, TRES or "") set at a level before
    qos_levels = [q for q in (job.partition_qos, job.qos) if q in table.qos]
    if len(qos_levels) == 2 and QosFlag.OVER_PART_QOS in table.qos[job.qos].flags:
        qos_levels.reverse()
    for name in dict.fromkeys(qos_levels):
        limits = table.qos[name].limits
        _add(rules, taken, limits, "grp_", ("qos", name), is_qos=True)
        _add(rules, taken, limits, "max_", ("qos_user", name, job.user), is_qos=True)
    chain = table.chain(job.account, job.user)
    user_holder = ("user", job.account, job.user)
    # Max* limits: the nearest association that sets each, counted over the user's own jobs.
    for field in ("max_tres_per_job", "max_jobs", "max_submit_jobs", "max_wall_s"):
        if field == "max_tres_per_job":
            _add_tres(rules, taken, field, table.effective_max_tres(job.account, job.user, field), user_holder,
                      is_qos=False)
        else:
            _add_int(rules, taken, field, table.effective_max(job.account, job.user, field), user_holder,
                     is_qos=False)
    # Grp* limits: every association up the tree, counted over all under it.
    grp_taken = set(taken)
    for assoc in chain:
        holder = ("user", assoc.account, assoc.user) if assoc.is_user else ("account", assoc.account)
        seen = set(grp_taken)
        _add(rules, seen, assoc.limits, "grp_", holder, is_qos=False)
    return rules


def _add(rules: list[Rule], taken: set, limits, prefix: str, holder: tuple, *, is_qos: bool) -> None:
    for field in ("grp_tres", "grp_tres_run_mins", "grp_jobs", "grp_submit_jobs",
                  "max_tres_per_job", "max_tres_per_user", "max_jobs", "max_submit_jobs", "max_wall_s"):
        if not field.startswith(prefix):
            continue
        value = getattr(limits, field)
        if field in INT_LIMITS:
            _add_int(rules, taken, field, value, holder, is_qos=is_qos)
        else:
            _add_tres(rules, taken, field, value, holder, is_qos=is_qos)


_KIND = {"grp_tres": "tres", "grp_tres_run_mins": "run_mins", "max_tres_per_job": "job_tres",
         "max_tres_per_user": "tres", "grp_jobs": "jobs", "max_jobs": "jobs", "grp_submit_jobs": "submit",
         "max_submit_jobs": "submit", "max_wall_s": "job_wall"}


def _add_int(rules: list[Rule], taken: set, field: str, value: int | None, holder: tuple, *, is_qos: bool) -> None:
    if value is None or (field, "") in taken:
        return
    taken.add((field, ""))
    rules.append(Rule(holder, _KIND[field], "", value, limit_reason(is_qos=is_qos, field=field)))


def _add_tres(rules: list[Rule], taken: set, field: str, value: Tres, holder: tuple, *, is_qos: bool) -> None:
    for tres, amount in value.items():
        if (field, tres) in taken:
            continue
        taken.add((field, tres))
        rules.append(Rule(holder, _KIND[field], tres, amount, limit_reason(is_qos=is_qos, field=field, tres=tres)))


def never_fits(job: LimitedJob, rule: Rule) -> bool:
    """Whether `rule` holds `job` back however long it waits (it asks more than the limit allows
    with nothing else running)."""
    if rule.kind == "job_wall":
        return job.time_limit_s is None or job.time_limit_s > rule.limit
    if rule.kind == "job_tres":
        return job.tres.get(rule.tres, 0) > rule.limit
    if rule.kind in ("jobs", "submit"):
        return rule.limit < 1
    asked = job.tres.get(rule.tres, 0) * (run_minutes(job) if rule.kind == "run_mins" else 1)
    return asked > rule.limit


def run_minutes(job: LimitedJob) -> int:
    return UNLIMITED_MINUTES if job.time_limit_s is None else -(-job.time_limit_s // 60)


class Ledger:
    """What the running jobs hold, per holder; `take` adds a job started meanwhile."""

    def __init__(self, table: AccountingTable, running: Iterable[tuple[LimitedJob, int]]):
        """`running`: each running job with the seconds left to its time limit (None: unlimited)."""
        self._table = table
        self._tres: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._jobs: dict[tuple, int] = defaultdict(int)
        self._run_mins: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self._rules: dict[tuple, list[Rule]] = {}
        self._holders: dict[tuple, list[tuple]] = {}
        for job, left_s in running:
            self._add(job, UNLIMITED_MINUTES if left_s is None else -(-max(left_s, 0) // 60))

    def rules(self, job: LimitedJob) -> list[Rule]:
        key = (job.account, job.user, job.qos, job.partition_qos)
        rules = self._rules.get(key)
        if rules is None:
            rules = self._rules[key] = rules_of(job, self._table)
        return rules

    def blocking(self, job: LimitedJob, *, skip: frozenset[str] = frozenset()) -> Rule | None:
        """The first rule `job` would break by starting now, of the kinds not in `skip`
        (submit-count rules are the submission's: never checked here)."""
        minutes = run_minutes(job)
        for rule in self.rules(job):
            kind = rule.kind
            if kind in skip:
                continue
            if kind == "job_tres":
                if job.tres.get(rule.tres, 0) > rule.limit:
                    return rule
            elif kind == "job_wall":
                if job.time_limit_s is None or job.time_limit_s > rule.limit:
                    return rule
            elif kind == "jobs":
                if self._jobs.get(rule.holder, 0) + 1 > rule.limit:
                    return rule
            elif kind == "tres":
                asked = job.tres.get(rule.tres, 0)
                if asked and self._held(self._tres, rule) + asked > rule.limit:
                    return rule
            elif kind == "run_mins":
                asked = job.tres.get(rule.tres, 0)
                if asked and self._held(self._run_mins, rule) + asked * minutes > rule.limit:
                    return rule
        return None

    def take(self, job: LimitedJob) -> None:
        self._add(job, run_minutes(job))

    def _held(self, table: dict, rule: Rule) -> int:
        counts = table.get(rule.holder)
        return counts.get(rule.tres, 0) if counts is not None else 0

    def _add(self, job: LimitedJob, minutes: int) -> None:
        key = (job.account, job.user, job.qos, job.partition_qos)
        holders = self._holders.get(key)
        if holders is None:
            holders = self._holders[key] = holders_of(job, self._table)
        for holder in holders:
            self._jobs[holder] += 1
            tres, run_mins = self._tres[holder], self._run_mins[holder]
            for name, amount in job.tres.items():
                tres[name] += amount
                run_mins[name] += amount * minutes


PLANNED_KINDS = frozenset({"tres", "jobs"})   # the limits the planner holds as resources over time


def column_amount(job: LimitedJob, column: str) -> int:
    """What `job` holds of a limit's column: 1 of "jobs", else its amount of that TRES."""
    return 1 if column == "jobs" else job.tres.get(column, 0)


def plan_limits(table: AccountingTable, queue: list[LimitedJob], running: list[tuple[LimitedJob, int]]):
    """The kernel's limit arrays (jem._core.backfill's `limits`) for `queue` (in plan order) and the
    running jobs (each with its expected end, backfill.INF if none); None when no limit the
    planner holds (GrpTRES, GrpJobs, MaxTRESPerUser, MaxJobs[PerUser]) binds a queued job.

    One group per (holder, column, limit) some queued job's rule names; a job counts in every
    group of a holder it belongs to (its usage counts whether or not the limit binds it), and
    must fit in those of its own rules."""
    groups: dict[tuple, int] = {}                 # (holder, column, limit) -> group index
    by_holder: dict[tuple, list[tuple[int, str]]] = defaultdict(list)   # holder -> (group, column)
    binding: dict[tuple, set[int]] = {}           # job key -> the groups binding its jobs
    keys = [(j.account, j.user, j.qos, j.partition_qos) for j in queue]
    for job, key in zip(queue, keys):
        if key in binding:
            continue
        bound = binding[key] = set()
        for rule in rules_of(job, table):
            if rule.kind in PLANNED_KINDS:
                column = rule.tres or "jobs"
                index = groups.get((rule.holder, column, rule.limit))
                if index is None:
                    index = groups[(rule.holder, column, rule.limit)] = len(groups)
                    by_holder[rule.holder].append((index, column))
                bound.add(index)
    if not groups:
        return None
    holders: dict[tuple, list[tuple]] = {}

    def members(job: LimitedJob, key: tuple) -> list[tuple[int, str]]:
        found = holders.get(key)
        if found is None:
            found = holders[key] = [g for h in holders_of(job, table) for g in by_holder.get(h, ())]
        return found

    free = [limit for (_, _, limit) in groups]
    grun_group, grun_end, grun_amt = [], [], []
    for job, end_s in running:
        for index, column in members(job, (job.account, job.user, job.qos, job.partition_qos)):
            amount = column_amount(job, column)
            if amount:
                free[index] -= amount
                grun_group.append(index)
                grun_end.append(end_s)
                grun_amt.append(amount)
    job_off, job_grp, job_amt, job_binds = [0], [], [], []
    for job, key in zip(queue, keys):
        bound = binding[key]
        for index, column in members(job, key):
            job_grp.append(index)
            job_amt.append(column_amount(job, column))
            job_binds.append(index in bound)
        job_off.append(len(job_grp))
    return (np.array(free, dtype=np.int64), np.array(grun_group, dtype=np.intp),
            np.array(grun_end, dtype=np.int64), np.array(grun_amt, dtype=np.int64),
            np.array(job_off, dtype=np.intp), np.array(job_grp, dtype=np.intp),
            np.array(job_amt, dtype=np.int64), np.array(job_binds, dtype=np.uint8))
