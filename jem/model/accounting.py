"""Changes to the accounting table: add, modify and delete accounts, user associations and QOS.

Each function takes an `AccountingTable` and returns a new one (the old is
untouched), with the entities it changed; a change that would break the tree
(a parent that does not exist, a cycle, an account deleted from under its
children or users, a QOS still named by an association) raises a JemError and
changes nothing. Changes are typed (`AssociationChange`, `QosChange`); their
textual form, sacctmgr's `Name=Value`, is parsed in jem.model.settings.
"""

import dataclasses
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from jem.model.associations import (DEFAULT_QOS, INT_LIMITS, ROOT, TRES_LIMITS, AccountingTable, Association, AssociationFilter,
                                    Limits, PreemptMode, Qos, QosFlag, User)
from jem.model.errors import AccountingEntityExists, AccountingEntityInUse, AccountingEntityNotFound, InvalidSetting

UNSET = -1   # an integer limit changed to -1 is cleared (sacctmgr's MaxJobs=-1)


@dataclass(frozen=True, slots=True)
class AssociationChange:
    """What to set on associations; None leaves a field as it is. Integer limits given as UNSET
    and TRES given as CLEAR are cleared; TRES given are merged into the limit's."""

    shares: int | None = None
    limits: Mapping[str, object] = field(default_factory=dict)   # Limits field -> int or {tres: amount}
    qos: tuple[str, ...] | None = None
    qos_added: tuple[str, ...] = ()
    qos_removed: tuple[str, ...] = ()
    default_qos: str | None = None
    description: str | None = None
    organization: str | None = None
    parent: str | None = None
    default_account: str | None = None   # of the users (user associations only)

    @property
    def is_empty(self) -> bool:
        return self == AssociationChange()


@dataclass(frozen=True, slots=True)
class QosChange:
    description: str | None = None
    priority: int | None = None
    limits: Mapping[str, object] = field(default_factory=dict)
    flags: frozenset[QosFlag] | None = None
    flags_added: frozenset[QosFlag] = frozenset()
    flags_removed: frozenset[QosFlag] = frozenset()
    preempt: tuple[str, ...] | None = None
    preempt_mode: PreemptMode | None = None
    grace_time_s: int | None = None
    preempt_exempt_time_s: int | None = None

    @property
    def is_empty(self) -> bool:
        return self == QosChange()


def new_table(associations: Iterable[Association] = (), users: Iterable[User] = (), qos: Iterable[Qos] = (), *,
              version: int = 0) -> AccountingTable:
    """A table of these entities, with root and the QOS "normal" always there."""
    by_key = {(ROOT, ""): Association(ROOT, parent="")}
    by_key.update({a.key: a for a in associations})
    by_name = {DEFAULT_QOS.name: DEFAULT_QOS}
    by_name.update({q.name: q for q in qos})
    return AccountingTable(associations=by_key, users={u.name: u for u in users}, qos=by_name, version=version)


def _replaced(table: AccountingTable, **fields) -> AccountingTable:
    return dataclasses.replace(table, version=table.version + 1, **fields)


def add_accounts(table: AccountingTable, accounts: Iterable[Association]) -> tuple[AccountingTable, list[Association]]:
    """Add account associations (parents first, or parents among them); AccountingEntityExists
    if one is there already."""
    assocs = dict(table.associations)
    added = []
    for account in accounts:
        if account.is_user:
            raise InvalidSetting(f"account {account.account}: an account association has no user")
        if account.key in assocs:
            raise AccountingEntityExists(f"account {account.account} already exists")
        check_name("account", account.account)
        check_limits(account.limits, f"account {account.account}")
        added.append(account)
        assocs[account.key] = account
    result = _replaced(table, associations=assocs)
    for account in added:
        _check_parent(result, account)
        _check_qos_names(result, account)
    return result, added


def add_users(table: AccountingTable, associations: Iterable[Association], *,
              default_account: str = "") -> tuple[AccountingTable, list[Association]]:
    """Add user associations to existing accounts. A user new to accounting gets
    `default_account` (else the account of their first association) as their default."""
    assocs, users = dict(table.associations), dict(table.users)
    added = []
    for assoc in associations:
        if not assoc.is_user:
            raise InvalidSetting(f"account {assoc.account}: a user association names its user")
        if (assoc.account, "") not in assocs:
            raise AccountingEntityNotFound(f"account {assoc.account} does not exist")
        if assoc.key in assocs:
            raise AccountingEntityExists(f"user {assoc.user} already has an association with account {assoc.account}")
        check_name("user", assoc.user)
        check_limits(assoc.limits, _describe(assoc))
        assoc = dataclasses.replace(assoc, parent=assoc.account)
        assocs[assoc.key] = assoc
        added.append(assoc)
        if assoc.user not in users:
            users[assoc.user] = User(assoc.user, default_account or assoc.account)
    result = _replaced(table, associations=assocs, users=users)
    for assoc in added:
        _check_qos_names(result, assoc)
    for user in {a.user for a in added}:
        _check_default_account(result, user)
    return result, added


def modify_associations(table: AccountingTable, where: AssociationFilter,
                        change: AssociationChange) -> tuple[AccountingTable, list[Association]]:
    """Apply `change` to every association `where` selects; AccountingEntityNotFound if none."""
    chosen = [a for a in table.associations.values() if where.matches(a)]
    if not chosen:
        raise AccountingEntityNotFound("no association matches")
    if change.parent is not None and any(a.is_user for a in chosen):
        raise InvalidSetting("parent: only accounts have a parent")
    assocs, users = dict(table.associations), dict(table.users)
    changed = []
    for assoc in chosen:
        new = changed_association(assoc, change, inherited_qos=table.allowed_qos(assoc.account, assoc.user))
        if assoc.account == ROOT and not assoc.is_user and new.parent != "":
            raise InvalidSetting("parent: root is the top of the tree")
        check_limits(new.limits, _describe(new))
        assocs[assoc.key] = new
        changed.append(new)
    if change.default_account is not None:
        for user in {a.user for a in chosen if a.is_user}:
            users[user] = User(user, change.default_account)
    result = _replaced(table, associations=assocs, users=users)
    for assoc in changed:
        _check_parent(result, assoc)
        _check_qos_names(result, assoc)
    for user in {a.user for a in chosen if a.is_user}:
        _check_default_account(result, user)
    return result, changed


def delete_associations(table: AccountingTable, where: AssociationFilter, *,
                        in_use: Callable[[Association], bool] | None = None) -> tuple[AccountingTable, list[Association]]:
    """Delete the associations `where` selects; an account's user associations go with it.
    Refused (AccountingEntityInUse) for root, for an account with sub-accounts not deleted too,
    and for an association `in_use` says active jobs still run or wait under."""
    chosen = {a.key: a for a in table.associations.values() if where.matches(a)}
    if not chosen:
        raise AccountingEntityNotFound("no association matches")
    for assoc in list(chosen.values()):
        if assoc.account == ROOT and not assoc.is_user:
            raise AccountingEntityInUse("root cannot be deleted")
        if not assoc.is_user:
            for child in table.children(assoc.account):
                if child.key not in chosen:
                    raise AccountingEntityInUse(f"account {assoc.account} has sub-account {child.account}")
            for member in table.associations.values():
                if member.is_user and member.account == assoc.account:
                    chosen[member.key] = member
    if in_use is not None:
        for assoc in chosen.values():
            if in_use(assoc):
                raise AccountingEntityInUse(f"jobs are active under {_describe(assoc)}; cancel them first")
    assocs = {k: a for k, a in table.associations.items() if k not in chosen}
    users = dict(table.users)
    for user in {a.user for a in chosen.values() if a.is_user}:
        left = sorted(a.account for a in assocs.values() if a.user == user)
        if not left:
            users.pop(user, None)
        elif users.get(user) is not None and users[user].default_account not in left:
            users[user] = User(user, left[0])
    deleted = sorted(chosen.values(), key=lambda a: (a.account, a.user))
    return _replaced(table, associations=assocs, users=users), deleted


def add_qos(table: AccountingTable, qos: Iterable[Qos]) -> tuple[AccountingTable, list[Qos]]:
    by_name = dict(table.qos)
    added = []
    for q in qos:
        if q.name in by_name:
            raise AccountingEntityExists(f"QOS {q.name} already exists")
        check_name("QOS", q.name)
        check_limits(q.limits, f"QOS {q.name}")
        by_name[q.name] = q
        added.append(q)
    result = _replaced(table, qos=by_name)
    for q in added:
        _check_preempt(result, q)
    return result, added


def modify_qos(table: AccountingTable, names: Iterable[str], change: QosChange) -> tuple[AccountingTable, list[Qos]]:
    names = list(names)
    missing = [n for n in names if n not in table.qos]
    if missing or not names:
        raise AccountingEntityNotFound(f"no QOS named {', '.join(missing) or '(none given)'}")
    by_name = dict(table.qos)
    changed = [changed_qos(table.qos[n], change) for n in names]
    for q in changed:
        check_limits(q.limits, f"QOS {q.name}")
    by_name.update({q.name: q for q in changed})
    result = _replaced(table, qos=by_name)
    for q in changed:
        _check_preempt(result, q)
    return result, changed


def delete_qos(table: AccountingTable, names: Iterable[str], *,
               in_use: Callable[[str], bool] | None = None) -> tuple[AccountingTable, list[Qos]]:
    names = list(names)
    missing = [n for n in names if n not in table.qos]
    if missing or not names:
        raise AccountingEntityNotFound(f"no QOS named {', '.join(missing) or '(none given)'}")
    for name in names:
        if name == DEFAULT_QOS.name:
            raise AccountingEntityInUse(f"QOS {name} is the default")
        for assoc in table.associations.values():
            if name in assoc.qos or assoc.default_qos == name:
                raise AccountingEntityInUse(f"QOS {name} is named by {_describe(assoc)}")
        if in_use is not None and in_use(name):
            raise AccountingEntityInUse(f"QOS {name} is in use (by active jobs, or as a partition's QOS)")
    deleted = [table.qos[n] for n in names]
    by_name = {n: q for n, q in table.qos.items() if n not in names}
    by_name = {n: dataclasses.replace(q, preempt=tuple(p for p in q.preempt if p not in names))
               for n, q in by_name.items()}
    return _replaced(table, qos=by_name), deleted


_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,63}")


def check_name(kind: str, name: str) -> None:
    """An account, user or QOS name: up to 64 letters, digits and _ . @ + - (InvalidSetting)."""
    if not _NAME.fullmatch(name):
        raise InvalidSetting(f"{kind} name {name[:70]!r}: use up to 64 letters, digits and _ . @ + -")


def check_limits(limits: Limits, where: str) -> None:
    """Every limit of a new association or QOS is a whole number of at least 0 (InvalidSetting)."""
    for name in INT_LIMITS:
        value = getattr(limits, name)
        if value is not None and value < 0:
            raise InvalidSetting(f"{where}: {name} must be at least 0, got {value}")
    for name in TRES_LIMITS:
        for tres, amount in getattr(limits, name).items():
            if amount < 0:
                raise InvalidSetting(f"{where}: {name} {tres} must be at least 0, got {amount}")


def _describe(assoc: Association) -> str:
    return f"user {assoc.user} in account {assoc.account}" if assoc.is_user else f"account {assoc.account}"


def _changed_limits(limits: Limits, changes: Mapping[str, object]) -> Limits:
    values = {}
    for name, value in changes.items():
        if name in TRES_LIMITS:
            values[name] = getattr(limits, name).merged(value)   # type: ignore[arg-type]
        else:
            values[name] = None if value == UNSET else value
    return dataclasses.replace(limits, **values)


def changed_association(assoc: Association, change: AssociationChange, *,
                        inherited_qos: tuple[str, ...] = ()) -> Association:
    """`assoc` with `change` applied; QOS+= and QOS-= start from `inherited_qos` when it has no
    list of its own."""
    qos = (assoc.qos or (inherited_qos if change.qos_added or change.qos_removed else ())) \
        if change.qos is None else change.qos
    qos = tuple(dict.fromkeys(q for q in qos + change.qos_added if q not in change.qos_removed))
    values: dict[str, object] = {"limits": _changed_limits(assoc.limits, change.limits), "qos": qos}
    for name in ("shares", "default_qos", "description", "organization", "parent"):
        value = getattr(change, name)
        if value is not None:
            values[name] = value
    return dataclasses.replace(assoc, **values)


def changed_qos(qos: Qos, change: QosChange) -> Qos:
    flags = qos.flags if change.flags is None else change.flags
    values: dict[str, object] = {"limits": _changed_limits(qos.limits, change.limits),
                                 "flags": frozenset((flags | change.flags_added) - change.flags_removed)}
    for name in ("description", "priority", "preempt", "preempt_mode", "grace_time_s", "preempt_exempt_time_s"):
        value = getattr(change, name)
        if value is not None:
            values[name] = None if name == "preempt_exempt_time_s" and value == UNSET else value
    return dataclasses.replace(qos, **values)


def _check_parent(table: AccountingTable, assoc: Association) -> None:
    if assoc.is_user or assoc.account == ROOT:
        return
    name, seen = assoc.parent, {assoc.account}
    while name != ROOT:
        parent = table.account(name)
        if parent is None:
            raise AccountingEntityNotFound(f"parent account {name} does not exist")
        if name in seen:
            raise InvalidSetting(f"parent: {assoc.account} would be below itself")
        seen.add(name)
        name = parent.parent


def _check_qos_names(table: AccountingTable, assoc: Association) -> None:
    for name in assoc.qos + ((assoc.default_qos,) if assoc.default_qos else ()):
        if name not in table.qos:
            raise AccountingEntityNotFound(f"QOS {name} does not exist")
    if assoc.default_qos and assoc.default_qos not in table.allowed_qos(assoc.account, assoc.user):
        raise InvalidSetting(f"DefaultQOS: {assoc.default_qos} is not among the QOS {_describe(assoc)} may use")


def _check_default_account(table: AccountingTable, user: str) -> None:
    record = table.users.get(user)
    if record is not None and table.association(record.default_account, user) is None:
        raise InvalidSetting(f"DefaultAccount: user {user} has no association with account {record.default_account}")


def _check_preempt(table: AccountingTable, qos: Qos) -> None:
    for name in qos.preempt:
        if name not in table.qos:
            raise AccountingEntityNotFound(f"QOS {name} does not exist")
        if name == qos.name:
            raise InvalidSetting(f"Preempt: QOS {name} cannot preempt itself")
