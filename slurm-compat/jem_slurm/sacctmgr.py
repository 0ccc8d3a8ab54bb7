"""sacctmgr: add, modify, delete and show JEM's accounts, user associations and QOS, as Slurm 22.05 does.

The command line is Slurm's: `sacctmgr [-inpPQrsvV] VERB ENTITY [where COND...] [set NAME=VALUE...]`
with verbs add/create, modify/update, delete/remove, show/list and entities
account, user, qos and (show only) association. Words match as Slurm matches
them (case-insensitive prefixes of at least a set length: `MaxW=` is MaxWall,
`assoc` is association). Settings go to jem.model.settings in the names it
knows; a setting JEM has no notion of (GrpTRESMins, GrpWall, ...) is refused.

Without -i a change is shown and then asked for on stdin (`(N/y): `); anything
but y/Y, end of input, or 30 silent seconds discards it (" Changes Discarded",
exit 0). Unlike Slurm, which makes the change first and commits or rolls it
back, JEM asks before it sends the change, so an error the controller finds
comes after the question. Messages and exit codes are Slurm's: " Nothing new
added." and exit 1 for an add that adds nothing, " Nothing modified" / " Nothing
deleted" likewise; errors the controller reports map by their type.
"""

import dataclasses
import os
import select
import sys
from dataclasses import dataclass, field

from jem_slurm import sacctmgr_fields as out
from jem_slurm.cluster import cluster_name
from jem_slurm.command import SLURM_VERSION, Failure, connect, run
from jem_slurm.getopt import NONE, Option, OptionTable
from jem_slurm.sacctmgr_fields import matches

PROG = "sacctmgr"
VERSION = SLURM_VERSION
OPTIONS = OptionTable([Option(long, short, NONE) for long, short in (
    ("help", "h"), ("usage", ""), ("immediate", "i"), ("noheader", "n"), ("oneliner", "o"), ("parsable", "p"),
    ("parsable2", "P"), ("quiet", "Q"), ("readonly", "r"), ("associations", "s"), ("verbose", "v"),
    ("version", "V"))])

_NAMED = ("accounts", "users", "parents", "clusters")   # the conditions JEM's AssociationFilter holds
_LOWER_VALUES = {"Parent", "DefaultQOS", "QOS", "Preempt"}   # names: Slurm lowers them
_UNKNOWN_CONDITION = " Unknown condition: %s\n Use keyword 'set' to modify value"
_UNKNOWN_OPTION = " Unknown option: %s\n Use keyword 'where' to modify condition"
_UNKNOWN_QOS_CONDITION = " Unknown condition: %s\n Use keyword 'set' to modify SLURM_PRINT_VALUE"
_NOTHING = frozenset({""})   # no association has this account or user: a filter selecting nothing


@dataclass
class Words:
    """What an entity's words said: names, conditions, settings (as jem.model.settings takes them)."""

    names: list[str] = field(default_factory=list)
    where: dict[str, list[str]] = field(default_factory=lambda: {k: [] for k in _NAMED})
    settings: list[str] = field(default_factory=list)
    text: dict[str, str] = field(default_factory=dict)    # description, organization, default_account
    formats: list[str] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)          # withassoc, tree, raw (WOPLimits)
    errors: list[str] = field(default_factory=list)
    has_conditions: bool = False
    has_assoc_words: bool = False   # add user: a setting or condition of the associations


def _option(word: str) -> tuple[str, str, str] | None:
    """Slurm's parse_option_end: `Name=V`, `Name+=V`, `Name-=V` -> (name, op, value); None when bare."""
    for i, char in enumerate(word):
        if char == "=":
            return word[:i], "=", word[i + 1:]
        if char in "+-" and word[i + 1:i + 2] == "=":
            return word[:i], char + "=", word[i + 2:]
    return None


def _unquoted(text: str) -> str:
    """Slurm's strip_quotes(…, make_lower): a leading quote to its match, other quotes as `, lower case."""
    if text[:1] in ("'", '"'):
        text = text[1:].split(text[0], 1)[0]
    return text.replace('"', "`").replace("'", "`").lower()


def _values(text: str) -> list[str]:
    """Slurm's slurm_addto_char_list: a comma list, unquoted and in lower case, without repeats."""
    return list(dict.fromkeys(v for v in _unquoted(text).split(",") if v))


def _parse(words: list[str], table, p: Words, *, bare: str, unknown: str, is_add: bool = True) -> Words:
    """Apply each word to `p` through `table` of (Slurm's name, least prefix, action); a bare word
    takes the actions marked "!" and else `bare`, a `Name=Value` word the others."""
    for word in words:
        parsed = _option(word)
        name, op, value = parsed or (word, "=", word)
        found = next(((entry, action) for entry, least, action in table
                      if (str(action).startswith("!") == (parsed is None)) and matches(name, entry, least)), None)
        if found:
            name, action = found[0], found[1].lstrip("!") if found[1] else found[1]
        else:
            action = bare if parsed is None else "?"
        _apply(p, action, name, op, value, word, unknown=unknown, is_add=is_add)
    return p


def _apply(p: Words, action, name: str, op: str, value: str, word: str, *, unknown: str, is_add: bool) -> None:
    if action == "?":
        p.errors.append(unknown % word)
    elif action is None or action.startswith("-"):
        p.errors.append(f"{PROG}: error: {action[1:] if action else name} is not supported by JEM")
    elif action == "bad-format":
        p.errors.append(f" Bad format on {word}: End your option with an '=' sign")
    elif action == "name" and not is_add:
        p.errors.append(" Can't modify the name of an account")
    elif action == "name":
        p.names += [v for v in _values(value) if v not in p.names]
        p.has_conditions = True
    elif action in _NAMED:
        p.where[action] += _values(value)
        p.has_conditions = p.has_assoc_words = True
    elif action == "format":
        p.formats += [v for v in value.split(",") if v]
    elif action in ("withassoc", "tree", "raw"):
        p.flags.add(action)
    elif action in ("description", "organization", "default_account"):
        p.text[action] = _unquoted(value)
    elif action != "ignore":   # a setting jem.model.settings parses ("GrpTRES/cpu": GrpTRES=cpu=VALUE)
        setting, _, tres = action.partition("/")
        value = _unquoted(value) if setting in _LOWER_VALUES else value
        p.settings.append(f"{setting}{op[:-1]}={tres + '=' if tres else ''}{value}")
        p.has_assoc_words = True


def _split(words: list[str]) -> tuple[list[str], list[str]]:
    """modify's words -> (conditions, settings): `where` starts conditions, `set` settings."""
    parts: tuple[list[str], list[str]] = ([], [])
    part = parts[0]
    for word in words:
        if word.lower() in ("where", "set"):
            part = parts[word.lower() == "set"]
        else:
            part.append(word)
    return parts


def _plain(words: list[str]) -> list[str]:
    """add, show and delete skip `where` and `set`."""
    return [w for w in words if w.lower() not in ("where", "set")]


def _checked(p: Words, *, unknown_to_stdout: bool = False) -> Words:
    """`p`, unless a word was refused: then the refusals and exit 1 (QOS's unknown options go to
    stdout, as in Slurm)."""
    for line in p.errors:
        print(line, file=sys.stdout if unknown_to_stdout and line.startswith(" Unknown option") else sys.stderr)
    if p.errors:
        raise Failure(code=1)
    return p


def _filter(p: Words, *, names_are: str, cluster: str, only: str = ""):
    """The AssociationFilter of `p`'s names (accounts or users) and conditions on cluster `cluster`;
    `only` "accounts" or "users" keeps to those associations."""
    from jem.model.associations import AssociationFilter

    where = {k: frozenset(v) for k, v in p.where.items()}
    where[names_are] |= frozenset(p.names)
    if where["clusters"] and cluster not in where["clusters"]:
        where["accounts"] = _NOTHING   # another cluster's
    return AssociationFilter(accounts=where["accounts"], users=where["users"], parents=where["parents"],
                             only_accounts=only == "accounts", only_users=only == "users")


def _named(where, p: Words, everything: list, names_are: str):
    """`where`, naming what it selects when `p` gave no condition: Slurm then changes every account
    (user), JEM's controller wants them named."""
    if p.has_conditions:
        return where
    names = frozenset(a.account if names_are == "accounts" else a.user for a in everything if where.matches(a))
    return dataclasses.replace(where, **{names_are: names or _NOTHING})


def _change(p: Words, parse):
    """`p`'s settings through jem.model.settings' `parse`; MaxWall in whole minutes, rounded up, as
    Slurm keeps it (MaxWall=1-02:03:04 is 1-02:04:00)."""
    from jem.model.errors import InvalidSetting

    try:
        change = parse(p.settings)
    except InvalidSetting as exc:
        raise Failure(str(exc)) from None
    seconds = change.limits.get("max_wall_s")
    if seconds and seconds > 0 and seconds % 60:
        change = dataclasses.replace(change, limits={**change.limits, "max_wall_s": (seconds // 60 + 1) * 60})
    return change


# ------------------------------------------------------------------ asking, then changing


@dataclass(frozen=True, slots=True)
class Session:
    """The options that apply to every verb: -i, -s and how tables print."""

    is_immediate: bool
    with_assoc: bool
    style: out.Style


def _confirmed(s: Session, question: str = "Would you like to commit changes?") -> bool:
    """Slurm's commit_check: y/Y commits; n/N/newline, any other answer then a newline, end of
    input or 30 s of silence do not. (Slurm spins forever at end of input; JEM takes it as no.)"""
    if s.is_immediate:
        return True
    print(f"{question} (You have 30 seconds to decide)")
    answer = ""
    while answer not in ("Y", "y", "N", "n", "\n"):
        if answer:
            print("Y or N please")
        print("(N/y): ", end="", flush=True)
        try:
            data = os.read(0, 1) if select.select([0], [], [], 30)[0] else None
        except OSError:   # no stdin
            data = b""
        if data is None:
            print("timeout")
            return False
        print()
        if not data:
            return False
        answer = data.decode("latin-1")
    return answer in ("Y", "y")


def _run(s: Session, steps: list) -> int:
    """Make changes: `steps` are (what Slurm prints about one change, the call making it). With -i
    each is made, then printed; otherwise all are printed, asked for, then made."""
    if not s.is_immediate:
        print("".join(text for text, _ in steps), end="")
        if not _confirmed(s):
            print(" Changes Discarded")
            return 0
    for text, apply in steps:
        status = apply()
        if status:
            return status
        if s.is_immediate:
            print(text, end="")
    return 0


def _call(fn, failed, *args):
    """A step's call: `fn()`, with a JemError reported by `failed(exc, *args)` (its exit status)."""
    from jem.model.errors import JemError

    def apply() -> int:
        try:
            fn()
        except JemError as exc:
            if exc.reason == "ControllerUnreachable":
                raise
            return failed(exc, *args)
        return 0
    return apply


def _add_failed(exc, noun: str) -> int:
    from jem.model.errors import AccountingEntityExists, PermissionDenied

    if isinstance(exc, AccountingEntityExists):
        print(" Nothing new added.")
    else:
        print(f" Problem adding {noun}: {exc.message if isinstance(exc, PermissionDenied) else exc}",
              file=sys.stderr)
    return 1


def _modify_failed(exc, what: str) -> int:
    from jem.model.errors import PermissionDenied

    if isinstance(exc, PermissionDenied):
        print(" Nothing modified")
        print(f"{PROG}: accounting_storage/slurmdbd: acct_storage_p_modify_{what}: Request didn't affect anything "
              "or your user doesn't have privilege to perform this action", file=sys.stderr)
    else:
        print(f" Error with request: {exc}", file=sys.stderr)
    return 1


def _delete_failed(exc) -> int:
    from jem.model.errors import AccountingEntityNotFound, PermissionDenied

    if isinstance(exc, AccountingEntityNotFound):
        print(" Nothing deleted")
    elif isinstance(exc, PermissionDenied):
        print(f"{PROG}: error: Your user doesn't have privilege to perform this action\n"
              f" Error with request: {exc.message}", file=sys.stderr)
    else:
        print(f" Error with request: {exc}", file=sys.stderr)
    return 1


def _no_conditions_ok(p: Words, s: Session) -> bool:
    if p.has_conditions or _confirmed(s, "You didn't set any conditions with 'WHERE'.\n"
                                         "Are you sure you want to continue?"):
        return True
    print("Aborted")
    return False


def _check_clusters(p: Words, cluster: str) -> None:
    """add's `cluster=`: JEM's one cluster (named `cluster`), or Slurm's refusal of another."""
    unknown = [c for c in p.where["clusters"] if c != cluster]
    if unknown:
        raise Failure(*[f" This cluster '{c}' doesn't exist.\n        Contact your admin to add it to accounting."
                        for c in unknown], prefix=None)


def _doesnt_exist(account: str) -> None:
    print(f" This account '{account}' doesn't exist.\n        Contact your admin to add this account.",
          file=sys.stderr)


# ------------------------------------------------------------------ add


def add_account(words: list[str], s: Session) -> int:
    from jem.model.accounting import changed_association
    from jem.model.associations import ROOT, Association, AssociationFilter
    from jem.model.settings import parse_association_settings

    p = _checked(_parse(_plain(words), out.ACCOUNT_SETTINGS, Words(), bare="name", unknown=_UNKNOWN_OPTION))
    if not p.names:
        raise Failure(" Need name of account to add.", prefix=None)
    change = _change(p, parse_association_settings)
    parent = change.parent or ROOT
    desc, org = p.text.get("description"), p.text.get("organization")
    with connect() as client:
        cluster = cluster_name(client)
        _check_clusters(p, cluster)
        where = AssociationFilter(accounts=frozenset(p.names + [parent]), only_accounts=True)
        existing = {a.account for a in client.list_associations(where)[0]}
        new = [n for n in p.names if n not in existing]
        if not new:
            print(" Nothing new added.")
            return 1
        if parent not in existing:
            raise Failure(*[f" Parent account '{parent}' doesn't exist on cluster {cluster}\n        Contact your "
                            "admin to add this account." for _ in new], " No associations created.", prefix=None)
        print(" Adding Account(s)\n" + "".join(f"  {n}\n" for n in new) + " Settings\n"
              f"  Description     = {desc or 'Account Name'}\n"
              f"  Organization    = {org or 'Parent/Account Name'}\n Associations\n"
              + "".join(f"  A = {n:<10.10} C = {cluster:<10.10}\n" for n in new)
              + (" Settings\n" + out.association_settings(change, parent=parent) if p.settings or desc or org else ""),
              end="")
        accounts = [changed_association(Association(n, parent=parent, description=desc or n,
                                                    organization=org or (n if parent == ROOT else parent)), change)
                    for n in new]
        return _run(s, [("", _call(lambda: client.add_accounts(accounts), _add_failed, "accounts"))])


def add_user(words: list[str], s: Session) -> int:
    import pwd

    from jem.model.accounting import changed_association
    from jem.model.associations import Association
    from jem.model.settings import parse_association_settings

    p = _checked(_parse(_plain(words), out.ADD_USER_WORDS, Words(), bare="name", unknown=" Unknown option: %s"))
    if not p.names:
        raise Failure(" Need name of user to add.", prefix=None)
    default = p.text.get("default_account")
    accounts = p.where["accounts"] + ([default] if default and default not in p.where["accounts"] else [])
    if not accounts:
        raise Failure(" Need name of account to add user to.", prefix=None)
    change = _change(p, parse_association_settings)
    with connect() as client:
        cluster = cluster_name(client)
        _check_clusters(p, cluster)
        everything = client.list_associations()[0]
        existing = {a.account for a in everything if not a.is_user}
        known, pairs = {a.user for a in everything if a.is_user}, {a.key for a in everything}
        new_users, added, is_first = [], [], True
        for user in p.names:
            if user not in known:
                if default and not new_users and default not in existing:
                    _doesnt_exist(default)
                    continue
                try:
                    pwd.getpwnam(user)
                except KeyError:
                    if not _confirmed(s, f"There is no uid for user '{user}'\nAre you sure you want to continue?"):
                        return 1
                new_users.append(user)
            for account in accounts:
                if account not in existing and is_first:
                    _doesnt_exist(account)
                elif account in existing and (account, user) not in pairs:
                    added.append(Association(account, user))
            is_first = False
        if not new_users and not added:
            print(" Nothing new added.")
            return 1
        if not added:
            raise Failure(" No associations or wckeys created.", prefix=None)
        if new_users:
            print(" Adding User(s)\n" + "".join(f"  {u}\n" for u in new_users)
                  + (f" Settings =\n  Default Account = {default}\n" if default else ""), end="")
        print(" Associations =\n" + "".join(f"  U = {a.user:<9.9} A = {a.account:<10.10} C = {cluster:<10.10}\n"
                                            for a in added)
              + (" Non Default Settings\n" + out.association_settings(change) if p.has_assoc_words else ""), end="")
        assocs = [changed_association(a, change) for a in added]
        return _run(s, [("", _call(lambda: client.add_users(assocs, default_account=default or ""),
                                   _add_failed, "users"))])


def add_qos(words: list[str], s: Session) -> int:
    from jem.model.accounting import changed_qos
    from jem.model.associations import Qos
    from jem.model.settings import parse_qos_settings

    p = _checked(_parse(_plain(words), (("Name", 1, "name"),) + out.QOS_SETTINGS, Words(), bare="name",
                        unknown=_UNKNOWN_OPTION), unknown_to_stdout=True)
    if not p.names:
        raise Failure(" Need name of qos to add.", prefix=None)
    change = _change(p, parse_qos_settings)
    description = p.text.get("description")
    with connect() as client:
        existing = {q.name for q in client.list_qos()}
        new = [n for n in p.names if n not in existing]
        if not new:
            print(" Nothing new added.")
            return 1
        print(" Adding QOS(s)\n" + "".join(f"  {n}\n" for n in new) + " Settings\n"
              f"  Description    = {description or new[-1]}\n" + out.qos_settings(change), end="")
        qos = [changed_qos(Qos(n, description=description or n), change) for n in new]
        return _run(s, [("", _call(lambda: client.add_qos(qos), _add_failed, "QOS"))])


# ------------------------------------------------------------------ show


def _fields(p: Words, default: str, *, is_tree: bool = False) -> list:
    try:
        return out.parse_format(p.formats or default.split(","), is_tree=is_tree)
    except out.UnknownField as exc:
        raise Failure(f"Unknown field '{str(exc).lower()}'", prefix=None) from None


def _listing(p: Words, *, names_are: str, only: str = ""):
    """(the associations `p` selects (see `_filter`), as they apply unless WOPLimits; their users
    and admin levels; every association as set, in a table; the cluster's name)."""
    from jem.model.accounting import new_table

    with connect() as client:
        cluster = cluster_name(client)
        where = _filter(p, names_are=names_are, only=only, cluster=cluster)
        shown, users = client.list_associations(where, effective="raw" not in p.flags)
        return shown, users, new_table(client.list_associations()[0]), cluster


def _default_qos(a, table, p: Words) -> str:
    """Def QOS as Slurm shows it: the nearest one set up the tree, "" when none is."""
    chain = [a] if "raw" in p.flags else table.chain(a.account, a.user)
    return next((c.default_qos for c in chain if c.default_qos), "")


def _print_table(fields: list, rows: list[dict], s: Session) -> int:
    print(out.render(fields, rows, s.style), end="")
    return 0


def show_account(words: list[str], s: Session) -> int:
    p = _checked(_parse(_plain(words), out.ACCOUNT_CONDS, Words(), bare="name", unknown=_UNKNOWN_CONDITION))
    with_assoc = s.with_assoc or "withassoc" in p.flags
    fields = _fields(p, out.ACCOUNT_FORMAT + (out.WITH_ASSOC_FORMAT if with_assoc else ""))
    shown, _, table, cluster = _listing(p, names_are="accounts", only="" if with_assoc else "accounts")
    rows = []
    for a in sorted(shown, key=out.name_key):
        own = out.account_values(table.account(a.account) or a)
        rows.append({**out.association_values(a, default_qos=_default_qos(a, table, p), cluster=cluster), **own}
                    if with_assoc else own)
    return _print_table(fields, rows, s)


def show_user(words: list[str], s: Session) -> int:
    p = _checked(_parse(_plain(words), out.USER_CONDS, Words(), bare="name", unknown=_UNKNOWN_CONDITION))
    with_assoc = s.with_assoc or "withassoc" in p.flags
    fields = _fields(p, out.USER_FORMAT + (out.USER_ASSOC_FORMAT if with_assoc else ""))
    shown, users, table, cluster = _listing(p, names_are="users", only="users")
    rows = []
    for user, level in sorted(users, key=lambda u: u[0].name):
        own = {"user": user.name, "default_account": user.default_account, "admin": level}
        rows += [{**out.association_values(a, default_qos=_default_qos(a, table, p), cluster=cluster), **own}
                 for a in sorted(shown, key=out.name_key) if a.user == user.name] if with_assoc else [own]
    return _print_table(fields, rows, s)


def show_association(words: list[str], s: Session) -> int:
    p = _checked(_parse(_plain(words), out.LIST_ASSOC_CONDS, Words(), bare="-Ids", unknown=" Unknown condition: %s"))
    is_tree = "tree" in p.flags
    fields = _fields(p, out.ASSOC_FORMAT + ("" if "raw" in p.flags else out.ASSOC_LIMITS_FORMAT), is_tree=is_tree)
    shown, _, table, cluster = _listing(p, names_are="accounts")
    rows = []
    for depth, a in out.hierarchy(shown):
        rows.append(out.association_values(a, default_qos=_default_qos(a, table, p), cluster=cluster))
        if is_tree:
            rows[-1]["account"] = " " * depth + a.account
    return _print_table(fields, rows, s)


def show_qos(words: list[str], s: Session) -> int:
    p = _checked(_parse(_plain(words), out.QOS_CONDS, Words(), bare="name", unknown=_UNKNOWN_QOS_CONDITION))
    fields = _fields(p, out.QOS_FORMAT)
    with connect() as client:
        qos = out.qos_order(client.list_qos(p.names))
    return _print_table(fields, [out.qos_values(q) for q in qos], s)


# ------------------------------------------------------------------ modify


def modify_account(words: list[str], s: Session) -> int:
    return _modify(words, s, noun="account")


def modify_user(words: list[str], s: Session) -> int:
    return _modify(words, s, noun="user")


def _modify(words: list[str], s: Session, *, noun: str) -> int:
    """modify account|user: the account's (user's) own fields (Description, Organization,
    DefaultAccount), then the associations' settings, as one change to commit."""
    from jem.model.accounting import AssociationChange
    from jem.model.settings import parse_association_settings

    is_account = noun == "account"
    conds, sets = _split(words)
    p = _parse(conds, out.ACCOUNT_CONDS if is_account else out.USER_CONDS, Words(), bare="name",
               unknown=_UNKNOWN_CONDITION)
    p = _checked(_parse(sets, out.ACCOUNT_SETTINGS if is_account else out.USER_SETTINGS, p,
                        bare="name" if is_account else "bad-format", unknown=_UNKNOWN_OPTION, is_add=False))
    own = {k: v for k, v in p.text.items() if k in ("description", "organization", "default_account")}
    if not p.settings and not own:
        raise Failure(" You didn't give me anything to set", prefix=None)
    change = _change(p, parse_association_settings)
    if not _no_conditions_ok(p, s):
        return 0
    names_are = f"{noun}s"
    with connect() as client:
        cluster = cluster_name(client)
        everything = client.list_associations()[0]
        steps, status = [], 0
        if own:
            where = _named(_filter(p, names_are=names_are, only=names_are, cluster=cluster), p, everything,
                           names_are)
            names = sorted({a.account if is_account else a.user for a in everything if where.matches(a)})
            default = own.get("default_account")
            lacking = [u for u in names if default and (default, u) not in {a.key for a in everything}]
            if lacking:
                print(f" Can't modify because these users aren't associated with new default account '{default}'...\n"
                      + "".join(f"  U = {u} C = {cluster}\n" for u in lacking), end="")
                return 1
            if not names:
                print(" Nothing modified")
                status = 1
            else:
                steps.append((f" Modified {noun}s...\n" + "".join(f"  {n}\n" for n in names),
                              _call(lambda: client.modify_associations(where, AssociationChange(**own)),
                                    _modify_failed, names_are)))
        if p.settings:
            status |= _association_step(client, p, change, noun=noun, everything=everything, steps=steps,
                                        cluster=cluster)
        return (_run(s, steps) or status) if steps else status


def _association_step(client, p: Words, change, *, noun: str, everything: list, steps: list, cluster: str) -> int:
    """Add the step changing the associations `p` selects: accounts' own (or, `where user=`, their
    users'), or users'. With an account Slurm lists the users that take a changed Max* limit or
    QOS from it. 1 (no step) when nothing is selected; 0 and no step, with Slurm's message, when the
    change would leave some outside their default QOS."""
    names_are = f"{noun}s"
    only = "users" if noun == "user" or p.where["users"] else "accounts"
    where = _named(_filter(p, names_are=names_are, only=only, cluster=cluster), p, everything, names_are)
    chosen = sorted((a for a in everything if where.matches(a)), key=out.name_key)
    if not chosen:
        print(" Nothing modified")
        return 1
    if change.default_qos is not None or change.qos is not None or change.qos_added or change.qos_removed:
        effective = {a.key: a for a in client.list_associations(where, effective=True)[0]}
        lacking = _outside_default_qos(chosen, effective, change)
        if lacking:
            print(" These associations don't have access to their default qos.\n Please give them access before "
                  "they the default can be set to this.", file=sys.stderr)
            for a in lacking:
                user = f"U = {a.user:<9}" if a.is_user else ""
                print(f"  DefQOS = {a.default_qos:<10} C = {cluster:<10} A = {a.account:<20} {user}", file=sys.stderr)
            return 0
    handed_down = {name for name in ("max_jobs", "max_submit_jobs", "max_wall_s", "max_tres_per_job")
                   if name in change.limits}
    handed_down |= {"default_qos"} if change.default_qos is not None else set()
    handed_down |= {"qos"} if change.qos is not None or change.qos_added or change.qos_removed else set()
    lines = []
    for a in chosen:
        lines.append(out.change_line(a, cluster=cluster))
        if not a.is_user and handed_down:
            lines += [out.change_line(u, cluster=cluster)
                      for u in out.inheriting_users(a.account, handed_down, everything)]
    steps.append((f" Modified {noun} associations...\n" + "".join(line + "\n" for line in lines),
                  _call(lambda: client.modify_associations(where, change), _modify_failed, "assocs")))
    return 0


def _outside_default_qos(chosen: list, effective: dict, change) -> list:
    """The associations (changed) whose default QOS would not be among the QOS they may use."""
    from jem.model.accounting import changed_association

    lacking = []
    for a in chosen:
        inherited = effective[a.key].qos if a.key in effective else ()
        new = changed_association(a, change, inherited_qos=inherited)
        allowed = new.qos or (inherited if change.qos is None else ())
        if new.default_qos and allowed and new.default_qos not in allowed:
            lacking.append(new)
    return lacking


def modify_qos(words: list[str], s: Session) -> int:
    from jem.model.settings import parse_qos_settings

    conds, sets = _split(words)
    p = _parse(conds, out.QOS_CONDS, Words(), bare="name", unknown=_UNKNOWN_QOS_CONDITION)
    p = _checked(_parse(sets, (("Name", 1, "ignore"),) + out.QOS_SETTINGS, p, bare="ignore", unknown=_UNKNOWN_OPTION),
                 unknown_to_stdout=True)
    if not p.settings and "description" not in p.text:
        raise Failure(" You didn't give me anything to set", prefix=None)
    change = _change(p, parse_qos_settings)
    if "description" in p.text:
        change = dataclasses.replace(change, description=p.text["description"])
    if not _no_conditions_ok(p, s):
        return 0
    with connect() as client:
        names = [q.name for q in out.qos_order(client.list_qos(p.names))]
        if not names:
            print(" Nothing modified")
            return 1
        return _run(s, [(" Modified qos...\n" + "".join(f"  {n}\n" for n in names),
                         _call(lambda: client.modify_qos(names, change), _modify_failed, "qos"))])


# ------------------------------------------------------------------ delete


def delete_account(words: list[str], s: Session) -> int:
    p = _checked(_parse(_plain(words), out.ACCOUNT_CONDS, Words(), bare="name", unknown=_UNKNOWN_CONDITION))
    if "root" in p.names:
        raise Failure(" You are not allowed to remove the root account.", " Use remove cluster instead.", prefix=None)
    return _delete(p, s, noun="account")


def delete_user(words: list[str], s: Session) -> int:
    return _delete(_checked(_parse(_plain(words), out.USER_CONDS, Words(), bare="name",
                                   unknown=_UNKNOWN_CONDITION)), s, noun="user")


def _delete(p: Words, s: Session, *, noun: str) -> int:
    """delete account|user: named ones (an account with its users and, as in Slurm, sub-accounts),
    or with conditions the associations they select; a user left without one goes too."""
    from jem.model.accounting import new_table

    if not p.has_conditions:
        raise Failure(" No conditions given to remove, not executing.", prefix=None)
    is_account, is_assoc = noun == "account", any(p.where.values())
    with connect() as client:
        cluster = cluster_name(client)
        where = _filter(p, names_are=f"{noun}s", only="" if is_account else "users", cluster=cluster)
        everything = client.list_associations()[0]
        if is_account and not is_assoc:
            table = new_table(everything)
            below = {b for a in where.accounts if table.account(a) for b in table.subtree_accounts(a)}
            where = dataclasses.replace(where, accounts=frozenset(below) | where.accounts)
        chosen = sorted((a for a in everything if where.matches(a)), key=out.name_key)
        if not chosen:
            print(" Nothing deleted")
            return 1
        if is_assoc:
            left = {a.user for a in everything if a.is_user and not where.matches(a)}
            gone = sorted({a.user for a in chosen if a.is_user} - left)
            text = (f" Deleting {noun} associations...\n"
                    + "".join(out.change_line(a, cluster=cluster, account_width=10) + "\n" for a in chosen)
                    + (" Deleting users (No Associations)...\n" + "".join(f"  {u}\n" for u in gone) if gone else ""))
        else:
            names = sorted({a.account for a in chosen if a.account in p.names} if is_account
                           else {a.user for a in chosen})
            text = f" Deleting {noun}s...\n" + "".join(f"  {n}\n" for n in names)
        return _run(s, [(text, _call(lambda: client.delete_associations(where), _delete_failed))])


def delete_qos(words: list[str], s: Session) -> int:
    p = _checked(_parse(_plain(words), out.QOS_CONDS, Words(), bare="name", unknown=_UNKNOWN_QOS_CONDITION))
    if not p.has_conditions:
        raise Failure(" No conditions given to remove, not executing.", prefix=None)
    with connect() as client:
        names = [q.name for q in out.qos_order(client.list_qos(p.names))]
        if not names:
            print(" Nothing deleted")
            return 1
        return _run(s, [(" Deleting QOS(s)...\n" + "".join(f"  {n}\n" for n in names),
                         _call(lambda: client.delete_qos(names), _delete_failed))])


# ------------------------------------------------------------------ the command line


VERBS = {("add", "account"): add_account, ("add", "user"): add_user, ("add", "qos"): add_qos,
         ("show", "account"): show_account, ("show", "user"): show_user, ("show", "association"): show_association,
         ("show", "qos"): show_qos, ("modify", "account"): modify_account, ("modify", "user"): modify_user,
         ("modify", "qos"): modify_qos, ("delete", "account"): delete_account, ("delete", "user"): delete_user,
         ("delete", "qos"): delete_qos}


def _entity(verb: str, words: list[str]) -> str:
    word = words[0] if words else ""
    for names, entity in out.ENTITIES[verb]:
        if word and any(matches(word, name, least) for name, least in names):
            if entity is None:
                raise Failure(f"{verb} {word} is not supported by JEM")
            return entity
    raise Failure(f"No valid entity in {'list' if verb == 'show' else verb} command",
                  "Input line must include " + out.NO_ENTITY[verb][0], *out.NO_ENTITY[verb][1:], prefix=None)


def _sacctmgr(argv: list[str]) -> int:
    found, words = OPTIONS.parse(argv, stop_at_operand=False)
    given = {o.long for o, _ in found}
    command = "help" if given & {"help", "usage"} else "version" if "version" in given else ""
    if not command and not words:
        raise Failure("no command given (JEM's sacctmgr has no interactive mode)")
    if not command:
        command = next((action for name, least, action in out.COMMANDS if matches(words[0], name, least)), "?")
    if command == "?":
        raise Failure(f"invalid keyword: {words[0]}", prefix=None)
    if command is None:
        raise Failure(f"{words[0]} is not supported by JEM")
    if command in ("help", "version"):
        print(out.USAGE if command == "help" else VERSION)
    if command in ("help", "version", "ignore"):   # (Slurm's interactive-mode keywords do nothing here)
        return 0
    if command != "show" and "readonly" in given:
        raise Failure("Can't run this command in readonly mode.", prefix=None)
    style = out.Style(parsable=2 if "parsable2" in given else 1 if "parsable" in given else 0,
                      has_header="noheader" not in given)
    session = Session(is_immediate="immediate" in given, with_assoc="associations" in given, style=style)
    return VERBS[command, _entity(command, words[1:])](words[2:], session)


def main(argv: list[str] | None = None) -> int:
    return run(PROG, _sacctmgr, argv)


if __name__ == "__main__":
    sys.exit(main())
