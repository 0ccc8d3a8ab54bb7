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

import operator
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from jem.model.associations import INT_LIMITS, AccountingTable, QosFlag
from jem.model.reasons import JobReason, limit_reason
from jem.model.tres import Tres
from jem.scheduler import bulk

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
    field: str                  # the jem.model.associations.Limits field it comes from
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
    rules.append(Rule(holder, field, _KIND[field], "", value, limit_reason(is_qos=is_qos, field=field)))


def _add_tres(rules: list[Rule], taken: set, field: str, value: Tres, holder: tuple, *, is_qos: bool) -> None:
    for tres, amount in value.items():
        if (field, tres) in taken:
            continue
        taken.add((field, tres))
        rules.append(Rule(holder, field, _KIND[field], tres, amount,
                          limit_reason(is_qos=is_qos, field=field, tres=tres)))


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
        self._running: dict[tuple, list[tuple[int | None, Tres]]] = defaultdict(list)   # holder -> (s left, TRES)
        for job, left_s in running:
            self._add(job, UNLIMITED_MINUTES if left_s is None else -(-max(left_s, 0) // 60), left_s)

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

    def in_use(self, rule: Rule) -> int:
        """What the holder's running jobs hold of `rule`'s limit (jobs, TRES or TRES-minutes)."""
        if rule.kind == "jobs":
            return self._jobs.get(rule.holder, 0)
        if rule.kind == "tres":
            return self._held(self._tres, rule)
        if rule.kind == "run_mins":
            return self._held(self._run_mins, rule)
        return 0

    def take(self, job: LimitedJob) -> None:
        self._add(job, run_minutes(job), job.time_limit_s)

    def run_mins_wait_s(self, rule: Rule, job: LimitedJob) -> int | None:
        """Seconds from now until the holder's running jobs, each running to its time limit, have
        used enough of a GrpTRESRunMins `rule` for `job` to fit in it (0: it fits now); None if
        they never will (a job without a time limit, or one asking more than the limit). What the
        other waiting jobs will take meanwhile is not counted: a forecast, not a plan."""
        asked = job.tres.get(rule.tres, 0) * run_minutes(job)
        if asked > rule.limit:
            return None
        held = [(left_s, tres.get(rule.tres, 0)) for left_s, tres in self._running.get(rule.holder, ())]
        held = [(left_s, amount) for left_s, amount in held if amount]

        def fits_after(wait_s: int) -> bool:
            minutes = sum(amount * (UNLIMITED_MINUTES if left_s is None else -(-max(left_s - wait_s, 0) // 60))
                          for left_s, amount in held)
            return minutes + asked <= rule.limit

        latest = max((left_s for left_s, _ in held if left_s is not None), default=0)
        if not fits_after(max(latest, 0)):
            return None
        lo, hi = 0, max(latest, 0)   # (what the running jobs hold only falls as they run)
        while lo < hi:
            mid = (lo + hi) // 2
            if fits_after(mid):
                hi = mid
            else:
                lo = mid + 1
        return lo

    def _held(self, table: dict, rule: Rule) -> int:
        counts = table.get(rule.holder)
        return counts.get(rule.tres, 0) if counts is not None else 0

    def _add(self, job: LimitedJob, minutes: int, left_s: int | None) -> None:
        key = (job.account, job.user, job.qos, job.partition_qos)
        holders = self._holders.get(key)
        if holders is None:
            holders = self._holders[key] = holders_of(job, self._table)
        for holder in holders:
            self._running[holder].append((left_s, job.tres))
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
    must fit in those of its own rules. Jobs of one (account, user, QOS, partition QOS) share
    their groups: each such key's memberships are worked out once, and the per-job arrays are
    gathered from them with numpy (a queue of 100,000 has a few thousand keys)."""
    groups: dict[tuple, int] = {}                 # (holder, column, limit) -> group index
    by_holder: dict[tuple, list[tuple[int, str]]] = defaultdict(list)   # holder -> (group, column)
    queue_keys = bulk.mapped(_KEY, queue)
    key_jobs: dict[tuple, LimitedJob] = {}        # one job of each key
    for key, job in zip(queue_keys, queue):
        key_jobs.setdefault(key, job)
    binding: dict[tuple, set[int]] = {}
    for key, job in key_jobs.items():
        bound = binding[key] = set()
        for rule in rules_of(job, table):
            if rule.kind in PLANNED_KINDS:
                column = rule.tres or "jobs"
                index = groups.setdefault((rule.holder, column, rule.limit), len(groups))
                if index == len(groups) - 1 and (index, column) not in by_holder[rule.holder]:
                    by_holder[rule.holder].append((index, column))
                bound.add(index)
    if not groups:
        return None
    columns = sorted({column for _, column, _ in groups})
    column_idx = {column: i for i, column in enumerate(columns)}
    template_of: dict[tuple, int] = {}            # key -> its template's index
    t_grp: list[int] = []                          # the templates, one after another: each membership's
    t_col: list[int] = []                          # group, column index and binding flag
    t_bind: list[int] = []
    t_off = [0]

    def template(key: tuple, job: LimitedJob) -> int:
        index = template_of.get(key)
        if index is None:
            bound = binding.get(key, set())
            for h in holders_of(job, table):
                for g, column in by_holder.get(h, ()):
                    t_grp.append(g)
                    t_col.append(column_idx[column])
                    t_bind.append(int(g in bound))
            t_off.append(len(t_grp))
            index = template_of[key] = len(t_off) - 2
        return index

    run_jobs = [job for job, _ in running]
    run_templates = [template(key, job) for key, job in zip(bulk.mapped(_KEY, run_jobs), run_jobs)]
    queue_templates = [template(key, job) for key, job in zip(queue_keys, queue)]
    t_grp_a, t_col_a, t_bind_a = (np.array(t_grp, dtype=np.intp), np.array(t_col, dtype=np.intp),
                                  np.array(t_bind, dtype=np.uint8))
    t_off_a = np.array(t_off, dtype=np.intp)
    grp_free = np.array([limit for (_, _, limit) in groups], dtype=np.int64)
    run_pos, run_off = _positions(t_off_a, run_templates)
    run_rows = np.repeat(np.arange(len(run_jobs)), np.diff(run_off))
    run_grp = t_grp_a[run_pos]
    run_amt = _amounts(run_jobs, columns)[run_rows, t_col_a[run_pos]]
    np.subtract.at(grp_free, run_grp, run_amt)
    held = run_amt > 0
    run_end = np.array([end for _, end in running], dtype=np.int64)[run_rows]
    pos, job_off = _positions(t_off_a, queue_templates)
    rows = np.repeat(np.arange(len(queue)), np.diff(job_off))
    job_amt = _amounts(queue, columns)[rows, t_col_a[pos]]
    # A job that asks none of a column is not held by its limit, even one over it already (as the
    # Ledger: a QOS's MaxTRESPerUser=mem=0 holds no job that asks no memory).
    binds = (t_bind_a[pos] & (job_amt > 0)).astype(np.uint8)
    return (grp_free, np.ascontiguousarray(run_grp[held]), np.ascontiguousarray(run_end[held]),
            np.ascontiguousarray(run_amt[held]), job_off, np.ascontiguousarray(t_grp_a[pos]),
            np.ascontiguousarray(job_amt), np.ascontiguousarray(binds))


def _KEY(job: LimitedJob) -> tuple:
    return (job.account, job.user, job.qos, job.partition_qos)


def _positions(t_off: np.ndarray, templates: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(each membership's position in the concatenated templates, (n + 1,) offsets) of jobs whose
    templates are `templates`."""
    index = np.array(templates, dtype=np.intp)
    lengths = (t_off[index + 1] - t_off[index]) if len(index) else np.zeros(0, dtype=np.intp)
    offsets = np.zeros(len(index) + 1, dtype=np.intp)
    np.cumsum(lengths, out=offsets[1:])
    pos = np.arange(offsets[-1], dtype=np.intp) - np.repeat(offsets[:-1], lengths) + np.repeat(t_off[index], lengths)
    return pos, offsets


def _amounts(jobs: list[LimitedJob], columns: list[str]) -> np.ndarray:
    """(n_jobs, n_columns) int64: each job's amount of each column ("jobs": 1)."""
    out = np.ones((len(jobs), len(columns)), dtype=np.int64)
    tres = bulk.mapped(_TRES, jobs)
    for i, column in enumerate(columns):
        if column != "jobs":
            out[:, i] = bulk.column(lambda t, c=column: t.get(c, 0), tres, np.int64)
    return out


_TRES = operator.attrgetter("tres")
