"""Associations, QOS and their changes to and from jem.v1 messages (AdminService's accounting calls).

Used by the controller's servicer and the client library alike, as jem.convert
is for jobs; kept apart from it because accounting is a concern of its own.
A change's integer limit of -1 and TRES amount of -1 clear that limit on both sides.
"""

from jem.model.accounting import AssociationChange, QosChange
from jem.model.associations import (INT_LIMITS, TRES_LIMITS, Association, AssociationFilter, Limits, PreemptMode, Qos,
                                    QosFlag, User)
from jem.model.errors import InvalidSetting
from jem.model.tres import CLEAR, Tres, is_tres_name
from jem.v1 import admin_pb2


def limits_to_pb(limits: Limits | dict, out: admin_pb2.Limits) -> None:
    """`limits` (a Limits, or a change's {field: value}) into `out`."""
    values = limits if isinstance(limits, dict) else {name: getattr(limits, name) for name in INT_LIMITS + TRES_LIMITS}
    for name, value in values.items():
        if name in TRES_LIMITS:
            getattr(out, name).update(dict(value))
        elif value is not None:
            setattr(out, name, value)


def limits_from_pb(pb: admin_pb2.Limits) -> Limits:
    return Limits(**limit_changes_from_pb(pb))


def limit_changes_from_pb(pb: admin_pb2.Limits) -> dict:
    """The limits set in `pb`, by field: TRES limits as Tres (only those given), others as ints."""
    values: dict = {name: _checked_tres(name, dict(getattr(pb, name))) for name in TRES_LIMITS if getattr(pb, name)}
    values.update({name: getattr(pb, name) for name in INT_LIMITS if pb.HasField(name)})
    return values


def _checked_tres(field: str, amounts: dict[str, int]) -> Tres:
    """A TRES limit off the wire, checked as sacctmgr's text is (parse_tres): known TRES names only,
    amounts of 0 or more, or CLEAR. (A fuzzed empty name reached the scheduler, whose reason for the
    limit then failed every cycle.)"""
    for name, amount in amounts.items():
        if not is_tres_name(name) or (amount < 0 and amount != CLEAR):
            raise InvalidSetting(f"{field}: invalid TRES {name!r}={amount}")
    return Tres(amounts)


def association_to_pb(a: Association) -> admin_pb2.Association:
    pb = admin_pb2.Association(account=a.account, user=a.user, parent=a.parent, shares=a.shares, qos=a.qos,
                               default_qos=a.default_qos, description=a.description, organization=a.organization)
    limits_to_pb(a.limits, pb.limits)
    return pb


def association_from_pb(pb: admin_pb2.Association) -> Association:
    return Association(account=pb.account, user=pb.user, parent=pb.parent, shares=pb.shares,
                       limits=limits_from_pb(pb.limits), qos=tuple(pb.qos), default_qos=pb.default_qos,
                       description=pb.description, organization=pb.organization)


def user_to_pb(user: User, admin_level: str) -> admin_pb2.AccountingUser:
    return admin_pb2.AccountingUser(name=user.name, default_account=user.default_account, admin_level=admin_level)


def filter_to_pb(where: AssociationFilter, out: admin_pb2.AssociationFilter) -> None:
    out.accounts.extend(sorted(where.accounts))
    out.users.extend(sorted(where.users))
    out.parents.extend(sorted(where.parents))
    out.only_accounts, out.only_users = where.only_accounts, where.only_users


def filter_from_pb(pb: admin_pb2.AssociationFilter) -> AssociationFilter:
    return AssociationFilter(accounts=frozenset(pb.accounts), users=frozenset(pb.users),
                             parents=frozenset(pb.parents), only_accounts=pb.only_accounts, only_users=pb.only_users)


def association_change_to_pb(change: AssociationChange) -> admin_pb2.AssociationChange:
    pb = admin_pb2.AssociationChange(qos_added=change.qos_added, qos_removed=change.qos_removed)
    for name in ("shares", "default_qos", "description", "organization", "parent", "default_account"):
        value = getattr(change, name)
        if value is not None:
            setattr(pb, name, value)
    if change.qos is not None:
        pb.qos.SetInParent()
        pb.qos.names.extend(change.qos)
    limits_to_pb(dict(change.limits), pb.limits)
    return pb


def association_change_from_pb(pb: admin_pb2.AssociationChange) -> AssociationChange:
    fields = {name: getattr(pb, name) for name in ("shares", "default_qos", "description", "organization", "parent",
                                                   "default_account") if pb.HasField(name)}
    return AssociationChange(limits=limit_changes_from_pb(pb.limits),
                             qos=tuple(pb.qos.names) if pb.HasField("qos") else None,
                             qos_added=tuple(pb.qos_added), qos_removed=tuple(pb.qos_removed), **fields)


def qos_to_pb(q: Qos) -> admin_pb2.Qos:
    pb = admin_pb2.Qos(name=q.name, description=q.description, priority=q.priority,
                       flags=sorted(f.value for f in q.flags), preempt=q.preempt, preempt_mode=q.preempt_mode.value,
                       grace_time_s=q.grace_time_s)
    if q.preempt_exempt_time_s is not None:
        pb.preempt_exempt_time_s = q.preempt_exempt_time_s
    limits_to_pb(q.limits, pb.limits)
    return pb


def qos_from_pb(pb: admin_pb2.Qos) -> Qos:
    return Qos(name=pb.name, description=pb.description, priority=pb.priority, limits=limits_from_pb(pb.limits),
               flags=_flags(pb.flags), preempt=tuple(pb.preempt), preempt_mode=_mode(pb.preempt_mode or "OFF"),
               grace_time_s=pb.grace_time_s,
               preempt_exempt_time_s=pb.preempt_exempt_time_s if pb.HasField("preempt_exempt_time_s") else None)


def qos_change_to_pb(change: QosChange) -> admin_pb2.QosChange:
    pb = admin_pb2.QosChange(flags_added=sorted(f.value for f in change.flags_added),
                             flags_removed=sorted(f.value for f in change.flags_removed))
    for name in ("description", "priority", "grace_time_s", "preempt_exempt_time_s"):
        value = getattr(change, name)
        if value is not None:
            setattr(pb, name, value)
    if change.preempt_mode is not None:
        pb.preempt_mode = change.preempt_mode.value
    for name, values in (("flags", change.flags and sorted(f.value for f in change.flags)),
                         ("preempt", change.preempt)):
        if getattr(change, name) is not None:
            getattr(pb, name).SetInParent()
            getattr(pb, name).names.extend(values or ())
    limits_to_pb(dict(change.limits), pb.limits)
    return pb


def qos_change_from_pb(pb: admin_pb2.QosChange) -> QosChange:
    fields = {name: getattr(pb, name) for name in ("description", "priority", "grace_time_s", "preempt_exempt_time_s")
              if pb.HasField(name)}
    if pb.HasField("preempt_mode"):
        fields["preempt_mode"] = _mode(pb.preempt_mode)
    return QosChange(limits=limit_changes_from_pb(pb.limits),
                     flags=_flags(pb.flags.names) if pb.HasField("flags") else None,
                     flags_added=_flags(pb.flags_added), flags_removed=_flags(pb.flags_removed),
                     preempt=tuple(pb.preempt.names) if pb.HasField("preempt") else None, **fields)


def _flags(names) -> frozenset[QosFlag]:
    try:
        return frozenset(QosFlag(name) for name in names)
    except ValueError:
        raise InvalidSetting(f"Flags: JEM knows {', '.join(f.value for f in QosFlag)}") from None


def _mode(name: str) -> PreemptMode:
    try:
        return PreemptMode(name)
    except ValueError:
        raise InvalidSetting(f"PreemptMode: expected one of {', '.join(m.value for m in PreemptMode)}") from None
