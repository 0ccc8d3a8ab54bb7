"""`jem accounts`: accounts, user associations and QOS with their limits (what sacctmgr manages).

    jem accounts list [-A ACCOUNTS] [-u USERS] [--json]
    jem accounts add ACCOUNT [Name=Value ...]          (Parent=, Fairshare=, GrpTRES=, MaxJobs=, QOS=, ...)
    jem accounts add-user USER -A ACCOUNT [Name=Value ...]
    jem accounts modify [-A ACCOUNTS] [-u USERS] Name=Value ...
    jem accounts delete [-A ACCOUNTS] [-u USERS]
    jem accounts qos [--json]
    jem accounts add-qos QOS [Name=Value ...]           (Priority=, Flags=, MaxJobsPerUser=, ...)
    jem accounts modify-qos QOS[,QOS...] Name=Value ...
    jem accounts delete-qos QOS[,QOS...]

Settings are sacctmgr's (jem.model.settings); -1 clears a limit. Changes need an
operator (QOS: an administrator) and apply from the next scheduling cycle.
"""

import argparse
import json

from jem.cli.connection import connect
from jem.cli.table import render_table
from jem.model.accounting import changed_association, changed_qos
from jem.model.associations import Association, AssociationFilter, Qos
from jem.model.settings import limit_settings, parse_association_settings, parse_qos_settings
from jem.model.units import format_duration


def add_parsers(sub) -> None:
    p = sub.add_parser("accounts", help="accounts, users and QOS with their limits (like sacctmgr)")
    verbs = p.add_subparsers(dest="verb", required=True)
    listing = verbs.add_parser("list", help="the associations, as a tree")
    _selection(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=run_list)
    add = verbs.add_parser("add", help="add an account")
    add.add_argument("name")
    add.add_argument("settings", nargs="*", metavar="Name=Value")
    add.set_defaults(run=run_add, trailing="settings")
    add_user = verbs.add_parser("add-user", help="give a user an association with an account")
    add_user.add_argument("name")
    add_user.add_argument("-A", "--account", required=True)
    add_user.add_argument("settings", nargs="*", metavar="Name=Value")
    add_user.set_defaults(run=run_add_user, trailing="settings")
    modify = verbs.add_parser("modify", help="change the associations selected")
    _selection(modify)
    modify.add_argument("settings", nargs="+", metavar="Name=Value")
    modify.set_defaults(run=run_modify, trailing="settings")
    delete = verbs.add_parser("delete", help="delete the associations selected")
    _selection(delete)
    delete.set_defaults(run=run_delete)
    qos = verbs.add_parser("qos", help="the QOS")
    qos.add_argument("--json", action="store_true", help="print JSON")
    qos.set_defaults(run=run_qos)
    add_qos = verbs.add_parser("add-qos", help="add a QOS")
    add_qos.add_argument("name")
    add_qos.add_argument("settings", nargs="*", metavar="Name=Value")
    add_qos.set_defaults(run=run_add_qos, trailing="settings")
    modify_qos = verbs.add_parser("modify-qos", help="change QOS")
    modify_qos.add_argument("names")
    modify_qos.add_argument("settings", nargs="+", metavar="Name=Value")
    modify_qos.set_defaults(run=run_modify_qos, trailing="settings")
    delete_qos = verbs.add_parser("delete-qos", help="delete QOS")
    delete_qos.add_argument("names")
    delete_qos.set_defaults(run=run_delete_qos)


def _selection(p) -> None:
    p.add_argument("-A", "--accounts", default="", help="these accounts (comma-separated)")
    p.add_argument("-u", "--users", default="", help="these users (comma-separated)")


def _names(text: str) -> frozenset[str]:
    return frozenset(n for n in text.split(",") if n)


def _where(args) -> AssociationFilter:
    return AssociationFilter(accounts=_names(args.accounts), users=_names(args.users))


def association_as_dict(a: Association) -> dict:
    return {"account": a.account, "user": a.user or None, "parent": a.parent or None, "shares": a.shares,
            "qos": list(a.qos), "default_qos": a.default_qos or None, "description": a.description,
            "organization": a.organization, "limits": _limits_dict(a.limits)}


def qos_as_dict(q: Qos) -> dict:
    return {"name": q.name, "description": q.description, "priority": q.priority,
            "flags": sorted(f.value for f in q.flags), "preempt": list(q.preempt), "preempt_mode": q.preempt_mode.value,
            "grace_time_s": q.grace_time_s, "preempt_exempt_time_s": q.preempt_exempt_time_s,
            "limits": _limits_dict(q.limits)}


def _limits_dict(limits) -> dict:
    out = {}
    for field in limits.__dataclass_fields__:
        value = getattr(limits, field)
        if value is not None and (isinstance(value, int) or value):
            out[field] = value if isinstance(value, int) else dict(value)
    return out


def _tree_order(assocs: list[Association]) -> list[tuple[int, Association]]:
    """(depth, association), depth first from root: accounts before their users, by name."""
    children: dict[str, list[Association]] = {}
    for a in assocs:
        children.setdefault(a.account if a.is_user else a.parent, []).append(a)
    out, seen = [], set()

    def visit(name: str, depth: int) -> None:
        for a in sorted(children.get(name, []), key=lambda a: (a.is_user is False, a.user, a.account)):
            if a.key in seen:
                continue
            seen.add(a.key)
            out.append((depth, a))
            if not a.is_user:
                visit(a.account, depth + 1)

    roots = [a for a in assocs if not a.is_user and a.parent not in {x.account for x in assocs if not x.is_user}]
    for top in sorted(roots, key=lambda a: a.account):
        if top.key not in seen:
            seen.add(top.key)
            out.append((0, top))
            visit(top.account, 1)
    out.extend((0, a) for a in assocs if a.key not in seen)   # (users whose account is not shown)
    return out


def run_list(args: argparse.Namespace) -> int:
    with connect() as client:
        assocs, users = client.list_associations(_where(args))
    if args.json:
        print(json.dumps({"associations": [association_as_dict(a) for a in assocs],
                          "users": [{"name": u.name, "default_account": u.default_account, "admin_level": level}
                                    for u, level in users]}, indent=2))
        return 0
    rows = [[" " * depth + a.account, a.user, str(a.shares), ",".join(a.qos), " ".join(limit_settings(a.limits,
                                                                                                     is_qos=False))]
            for depth, a in _tree_order(assocs)]
    print(render_table(["ACCOUNT", "USER", "SHARES", "QOS", "LIMITS"], rows))
    return 0


def run_add(args: argparse.Namespace) -> int:
    account = changed_association(Association(args.name), parse_association_settings(args.settings))
    with connect() as client:
        added = client.add_accounts([account])
    print(f"added account {added[0].account} under {added[0].parent}")
    return 0


def run_add_user(args: argparse.Namespace) -> int:
    change = parse_association_settings(args.settings)
    assoc = changed_association(Association(args.account, args.name), change)
    with connect() as client:
        added = client.add_users([assoc], default_account=change.default_account or "")
    print(f"added user {added[0].user} to account {added[0].account}")
    return 0


def run_modify(args: argparse.Namespace) -> int:
    with connect() as client:
        changed = client.modify_associations(_where(args), parse_association_settings(args.settings))
    for a in changed:
        print(f"modified {_label(a)}")
    return 0


def run_delete(args: argparse.Namespace) -> int:
    with connect() as client:
        deleted = client.delete_associations(_where(args))
    for a in deleted:
        print(f"deleted {_label(a)}")
    return 0


def run_qos(args: argparse.Namespace) -> int:
    with connect() as client:
        qos = client.list_qos()
    if args.json:
        print(json.dumps({"qos": [qos_as_dict(q) for q in qos]}, indent=2))
        return 0
    rows = [[q.name, str(q.priority), ",".join(sorted(f.value for f in q.flags)), ",".join(q.preempt),
             q.preempt_mode.value, format_duration(q.grace_time_s), " ".join(limit_settings(q.limits, is_qos=True))]
            for q in qos]
    print(render_table(["NAME", "PRIORITY", "FLAGS", "PREEMPT", "PREEMPTMODE", "GRACETIME", "LIMITS"], rows))
    return 0


def run_add_qos(args: argparse.Namespace) -> int:
    qos = changed_qos(Qos(args.name), parse_qos_settings(args.settings))
    with connect() as client:
        client.add_qos([qos])
    print(f"added QOS {qos.name}")
    return 0


def run_modify_qos(args: argparse.Namespace) -> int:
    with connect() as client:
        changed = client.modify_qos(sorted(_names(args.names)), parse_qos_settings(args.settings))
    for q in changed:
        print(f"modified QOS {q.name}")
    return 0


def run_delete_qos(args: argparse.Namespace) -> int:
    with connect() as client:
        deleted = client.delete_qos(sorted(_names(args.names)))
    for q in deleted:
        print(f"deleted QOS {q.name}")
    return 0


def _label(a: Association) -> str:
    return f"user {a.user} in account {a.account}" if a.is_user else f"account {a.account}"
