"""Accounts, users and QOS with their limits: the site policy `sacctmgr` manages (Slurm's names).

An association is an account's own (`user` == "") or a user's in an account.
Accounts form a tree under `root` (`parent`); users are leaves. A QOS is a
named set of limits and a priority that jobs ask for with --qos.

Limits (None: not set; a `Tres` holds only the TRES it limits):

- Grp* limits hold for everything under the association (its subtree) or for
  every job of the QOS together, and apply at every level of the tree.
- Max* limits of an association are per user: a user association without one
  inherits its account's, and so on up to root. On a QOS, MaxJobs and
  MaxSubmitJobs are per user (MaxJobsPerUser, MaxSubmitJobsPerUser).
- Precedence (Slurm's): partition QOS, then the job's QOS, then the
  associations; a limit the QOS sets is not looked up in the associations.

`AccountingTable` is immutable: a change makes a new table (`jem.model.accounting`),
so the scheduler reads a consistent one without a lock.
"""

import dataclasses
import enum
import functools
from dataclasses import dataclass, field

from jem.model.tres import NO_TRES, Tres

ROOT = "root"              # the top of the account tree
DEFAULT_QOS_NAME = "normal"


@dataclass(frozen=True, slots=True)
class Limits:
    """One association's or QOS's limits (see the module docstring for whom each counts)."""

    grp_tres: Tres = NO_TRES              # TRES held by running jobs together
    grp_tres_run_mins: Tres = NO_TRES     # TRES-minutes left to run of running jobs together
    grp_jobs: int | None = None           # running jobs together
    grp_submit_jobs: int | None = None    # pending and running jobs together
    max_tres_per_job: Tres = NO_TRES      # one job's TRES (MaxTRES)
    max_tres_per_user: Tres = NO_TRES     # TRES held by one user's running jobs (QOS only)
    max_jobs: int | None = None           # one user's running jobs (QOS: MaxJobsPerUser)
    max_submit_jobs: int | None = None    # one user's pending and running jobs (QOS: MaxSubmitJobsPerUser)
    max_wall_s: int | None = None         # one job's time limit (MaxWall)


NO_LIMITS = Limits()
INT_LIMITS = ("grp_jobs", "grp_submit_jobs", "max_jobs", "max_submit_jobs", "max_wall_s")
TRES_LIMITS = ("grp_tres", "grp_tres_run_mins", "max_tres_per_job", "max_tres_per_user")


@dataclass(frozen=True, slots=True)
class Association:
    """An account's association (`user` == "") or a user's association in `account`."""

    account: str
    user: str = ""
    parent: str = ROOT                    # an account's parent account (root has "")
    shares: int = 1                       # Fairshare=
    limits: Limits = NO_LIMITS
    qos: tuple[str, ...] = ()             # QOS its jobs may ask for; (): its parent's
    default_qos: str = ""                 # "": its parent's (at root: "normal")
    description: str = ""                 # accounts only
    organization: str = ""                # accounts only

    @property
    def is_user(self) -> bool:
        return bool(self.user)

    @property
    def key(self) -> tuple[str, str]:
        return (self.account, self.user)


@dataclass(frozen=True, slots=True)
class User:
    """A user known to accounting: the account a job without --account goes to."""

    name: str
    default_account: str


class QosFlag(enum.Enum):
    """QOS flags JEM acts on; the value is Slurm's name."""

    DENY_ON_LIMIT = "DenyOnLimit"       # a job over a Max* limit is refused at submit, not left pending
    NO_RESERVE = "NoReserve"            # its jobs hold no backfill reservation
    OVER_PART_QOS = "OverPartQOS"       # its limits take precedence over the partition QOS's


class PreemptMode(enum.Enum):
    OFF = "OFF"
    CANCEL = "CANCEL"
    REQUEUE = "REQUEUE"
    SUSPEND = "SUSPEND"


@dataclass(frozen=True, slots=True)
class Qos:
    name: str
    description: str = ""
    priority: int = 0
    limits: Limits = NO_LIMITS
    flags: frozenset[QosFlag] = frozenset()
    preempt: tuple[str, ...] = ()              # the QOS whose jobs this one's may preempt
    preempt_mode: PreemptMode = PreemptMode.OFF    # OFF: the cluster's
    grace_time_s: int = 0
    preempt_exempt_time_s: int | None = None

    @property
    def denies_on_limit(self) -> bool:
        return QosFlag.DENY_ON_LIMIT in self.flags


DEFAULT_QOS = Qos(DEFAULT_QOS_NAME, description="Normal QOS default")


@dataclass(frozen=True, slots=True)
class AssociationFilter:
    """Which associations a listing, change or deletion is about (sacctmgr's `where`): each
    non-empty field must match; `users` of ("",) selects account associations only."""

    accounts: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()
    parents: frozenset[str] = frozenset()
    only_accounts: bool = False        # account associations only (sacctmgr's `account` entity)
    only_users: bool = False           # user associations only (the `user` entity)

    def matches(self, a: Association) -> bool:
        if self.only_accounts and a.is_user or self.only_users and not a.is_user:
            return False
        if self.accounts and a.account not in self.accounts:
            return False
        if self.users and a.user not in self.users:
            return False
        return not self.parents or (not a.is_user and a.parent in self.parents)


@dataclass(frozen=True)
class AccountingTable:
    """Every association, user and QOS. Build with `accounting.new_table`; change with the
    functions of jem.model.accounting, which check the tree stays whole."""

    associations: dict[tuple[str, str], Association] = field(default_factory=dict)   # (account, user) ->
    users: dict[str, User] = field(default_factory=dict)
    qos: dict[str, Qos] = field(default_factory=lambda: {DEFAULT_QOS.name: DEFAULT_QOS})
    version: int = 0                     # rises with each change

    def account(self, name: str) -> Association | None:
        return self.associations.get((name, ""))

    def association(self, account: str, user: str) -> Association | None:
        return self.associations.get((account, user))

    def chain(self, account: str, user: str = "") -> list[Association]:
        """The association of (`account`, `user`) and its accounts up to root, nearest first; those
        that do not exist are left out (a user without an association of their own; a job of an
        account accounting does not know is under root alone)."""
        chain = []
        own = self.associations.get((account, user)) if user else None
        if own is not None:
            chain.append(own)
        name, seen = (account if (account, "") in self.associations else ROOT), set()
        while name and name not in seen:
            seen.add(name)
            node = self.associations.get((name, ""))
            if node is None:
                break
            chain.append(node)
            name = node.parent
        return chain

    def children(self, account: str) -> list[Association]:
        return [a for a in self.associations.values() if not a.is_user and a.parent == account]

    def subtree_accounts(self, account: str) -> list[str]:
        """`account` and every account below it."""
        found, todo = [], [account]
        while todo:
            name = todo.pop()
            found.append(name)
            todo.extend(a.account for a in self.children(name))
        return found

    def allowed_qos(self, account: str, user: str = "") -> tuple[str, ...]:
        """The QOS a job of (`account`, `user`) may use: the nearest QOS list up the chain; at
        root without one, only "normal"."""
        for a in self.chain(account, user):
            if a.qos:
                return a.qos
        return (DEFAULT_QOS_NAME,)

    def default_qos(self, account: str, user: str = "") -> str:
        for a in self.chain(account, user):
            if a.default_qos:
                return a.default_qos
        allowed = self.allowed_qos(account, user)
        return DEFAULT_QOS_NAME if DEFAULT_QOS_NAME in allowed else allowed[0]

    def effective_max(self, account: str, user: str, name: str):
        """A Max* limit of (`account`, `user`): the nearest one set up the chain (None: none)."""
        for a in self.chain(account, user):
            value = getattr(a.limits, name)
            if value is not None and value != NO_TRES:
                return value
        return NO_TRES if name in TRES_LIMITS else None

    def effective_max_tres(self, account: str, user: str, name: str) -> Tres:
        """A Max* TRES limit, TRES by TRES: each one from the nearest association that sets it."""
        amounts: dict[str, int] = {}
        for a in reversed(self.chain(account, user)):
            amounts.update(getattr(a.limits, name))
        return Tres(amounts)

    def effective(self, assoc: Association) -> Association:
        """`assoc` as it applies (what sacctmgr shows): its Max* limits, QOS list and default QOS
        filled in from the nearest association up the tree that sets them."""
        account, user = assoc.account, assoc.user
        limits = dataclasses.replace(
            assoc.limits, max_tres_per_job=self.effective_max_tres(account, user, "max_tres_per_job"),
            **{name: self.effective_max(account, user, name) for name in ("max_jobs", "max_submit_jobs", "max_wall_s")})
        return dataclasses.replace(assoc, limits=limits, qos=self.allowed_qos(account, user),
                                   default_qos=self.default_qos(account, user))

    def default_account(self, user: str) -> str:
        record = self.users.get(user)
        return record.default_account if record is not None else ""

    def user_accounts(self, user: str) -> list[str]:
        return sorted(a.account for a in self.associations.values() if a.user == user)

    @functools.cached_property
    def has_limits(self) -> bool:
        """Whether any association or QOS sets a limit (else the scheduler need not count)."""
        return any(a.limits != NO_LIMITS for a in self.associations.values()) or \
            any(q.limits != NO_LIMITS for q in self.qos.values())

    @property
    def is_empty(self) -> bool:
        """Whether nothing but root is defined: no account, no user association."""
        return all(key == (ROOT, "") for key in self.associations)
