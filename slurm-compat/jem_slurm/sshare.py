"""sshare: the fair-share tree (shares, usage, fair-share factors), as Slurm 22.05's sshare prints it.

Rows come from the controller's ListShares (jem.model.shares.ShareRow, which has
no `root` row: the root line is made here, as Slurm's tree has it) and print in
Slurm's order: root, then under each account its users and then its sub-accounts,
each by name; the Account column indents one space a level (slurmdb_tree_name_get).
What Slurm's columns mean depends on the algorithm, so they are derived here:

- Fair Tree: NormShares are shares over the siblings' (JEM's norm_shares is the
  product down the path, so it is divided by the parent's); EffectvUsage is the usage
  over the parent's; NormUsage over the root's; accounts have no FairShare.
- Classic: NormShares and EffectvUsage are JEM's; FairShare of an account is
  2^(-EffectvUsage / NormShares), as Slurm prints it. The root's EffectvUsage is 1 as in
  Slurm, but 0 while nothing was used, where JEM's Classic starts from 0.

Cells follow src/common/print_fields.c: fixed widths with one space after each
field (a long string ends in `+`), or `|`-separated with -p/-P; an unset number is
blank. JEM keeps no TRES minutes per association: GrpTRESMins and TRESRunMins are
blank, and GrpTRESRaw shows the CPU minutes of the usage alone.
"""

import math
import os
import pwd
import sys

from jem_slurm import layout
from jem_slurm.cluster import cluster_name
from jem_slurm.command import SLURM_VERSION, Failure, connect, current_user, run
from jem_slurm.getopt import NONE, REQUIRED, Option, OptionTable

PROG = "sshare"
VERSION = SLURM_VERSION
ROOT = "root"

# Slurm's field table (process.c): name, width (negative: left-justified), kind.
FIELDS = (("Account", -20, "str"), ("Cluster", 10, "str"), ("EffectvUsage", 13, "double"),
          ("FairShare", 10, "double"), ("GrpTRESMins", 30, "tres"), ("GrpTRESRaw", 30, "tres"),
          ("ID", 6, "uint"), ("LevelFS", 10, "double"), ("NormShares", 11, "double"),
          ("NormUsage", 11, "double"), ("Partition", 12, "str"), ("RawShares", 10, "uint"),
          ("RawUsage", 11, "uint"), ("TRESRunMins", 30, "tres"), ("User", 10, "str"))
FORMATS = {  # (fair tree, long, -m) -> the default field list
    (True, True, False): "A,User,RawShares,NormShares,RawUsage,NormUsage,Eff,Fairshare,LevelFS,GrpTRESMins,"
                         "TRESRunMins",
    (True, False, False): "A,User,RawShares,NormShares,RawUsage,Eff,Fairshare",
    (False, True, False): "A,User,RawShares,NormShares,RawUsage,NormUsage,Eff,Fairshare,GrpTRESMins,TRESRunMins",
    (False, False, False): "A,User,RawShares,NormShares,RawUsage,Eff,Fairshare",
}
for (_tree, _long, _), _text in list(FORMATS.items()):
    FORMATS[(_tree, _long, True)] = _text.replace("A,User,", "A,User,P,")

_O = Option
OPTIONS = OptionTable([
    _O("accounts", "A", REQUIRED), _O("all", "a", NONE), _O("helpformat", "e", NONE), _O("long", "l", NONE),
    _O("partition", "m", NONE), _O("noheader", "n", NONE), _O("format", "o", REQUIRED),
    _O("parsable", "p", NONE), _O("parsable2", "P", NONE), _O("users", "u", REQUIRED), _O("Users", "U", NONE),
    _O("verbose", "v", NONE), _O("version", "V", NONE), _O("help", "", NONE), _O("usage", "", NONE),
    _O("", "h", NONE, "noheader"), _O("", "q", NONE, "q"), _O("", "t", REQUIRED, "t"),
])

USAGE = """\
Usage:  sshare [OPTION]                                                    
  Valid OPTIONs are:                                                       
    -a or --all            list all users                                  
    -A or --accounts=      display specific accounts (comma separated list)
    -e or --helpformat     Print a list of fields that can be specified    
                           with the '--format' option                      
    -l or --long           include normalized usage in output              
    -m or --partition      print the partition part of the association     
    -n or --noheader       omit header from output                         
    -o or --format=        Comma separated list of fields (use             
                           "--helpformat" for a list of available fields).
    -p or --parsable       '|' delimited output with a trailing '|'        
    -P or --parsable2      '|' delimited output without a trailing '|'     
    -u or --users=         display specific users (comma separated list)   
    -U or --Users          display only user information                   
    -v or --verbose        display more information                        
    -V or --version        display tool version number                     
          --help           display this usage description                  
          --usage          display this usage description                  
                                                                           

"""


class Line:
    """One association as sshare prints it: the values of its cells (None: unset, printed blank)."""

    __slots__ = ("name", "parent", "is_user", "account", "user", "raw_shares", "norm_shares", "raw_usage",
                 "norm_usage", "effective", "fairshare", "level_fs", "children")

    def __init__(self, name: str, parent: str | None, is_user: bool, **values):
        self.name, self.parent, self.is_user = name, parent, is_user
        self.account = values.get("account", name)
        self.user = name if is_user else None
        self.raw_shares = values.get("raw_shares")
        self.norm_shares = values.get("norm_shares")
        self.raw_usage = values.get("raw_usage", 0.0)
        self.norm_usage = values.get("norm_usage")
        self.effective = values.get("effective")
        self.fairshare = values.get("fairshare")
        self.level_fs = values.get("level_fs")
        self.children: list[Line] = []


def classic_factor(effective: float, norm_shares: float) -> float:
    """Slurm's priority_p_calc_fs_factor: 2^(-UE / S), 0 without shares.

    >>> classic_factor(1.0, 1.0), classic_factor(0.5, 0.0)
    (0.5, 0.0)
    """
    return 0.0 if norm_shares <= 0 else 2.0 ** (-(effective / norm_shares))


def share_tree(algorithm: str, rows: list) -> Line:
    """The root Line, its children (and theirs) in Slurm's order, with Slurm's values.

    `rows` are ShareRows in the controller's depth-first order (an account's rows follow it,
    one level deeper). Worked example (Fair Tree): accounts a (1 share, 30 CPU-s used) and b (3,
    10), user u of a: a's NormShares 0.25, EffectvUsage 30 / 40 = 0.75; u's NormShares 1.0,
    EffectvUsage 30 / 30 = 1.0 and NormUsage 30 / 40 = 0.75.
    """
    is_tree = algorithm != "classic"
    total = sum(r.raw_usage for r in rows if not r.user and r.depth == 0)
    # Slurm's root: no shares (NormShares 0 under Fair Tree, 1 in Classic's product of fractions);
    # EffectvUsage 1, except that JEM's Classic starts from 0 while nothing was used.
    root_effective = 1.0 if is_tree or total > 0 else 0.0
    root = Line(ROOT, None, False, norm_shares=0.0 if is_tree else 1.0, raw_usage=total, effective=root_effective,
                fairshare=None if is_tree else classic_factor(root_effective, 1.0))
    accounts = {ROOT: (root, 1.0)}      # name -> (Line, JEM's norm_shares)
    path: list[str] = []                # the accounts above the current row, by depth
    for r in rows:
        del path[r.depth:]
        parent_name = r.account if r.user else (path[-1] if path else ROOT)
        parent, parent_norm = accounts.get(parent_name, (root, 1.0))
        norm_usage = min(r.raw_usage / total, 1.0) if total > 0 else 0.0
        if is_tree:
            norm_shares = r.norm_shares / parent_norm if parent_norm > 0 else 0.0
            effective = r.raw_usage / parent.raw_usage if parent.raw_usage > 0 else 0.0
        else:
            norm_shares, effective = r.norm_shares, r.effective_usage
        if r.user:
            fairshare = None if math.isnan(r.factor) else r.factor
        else:
            fairshare = None if is_tree else classic_factor(effective, norm_shares)
        line = Line(r.user or r.account, parent_name, bool(r.user), account=r.account, raw_shares=r.raw_shares,
                    norm_shares=norm_shares, raw_usage=r.raw_usage, norm_usage=norm_usage, effective=effective,
                    fairshare=fairshare, level_fs=r.level_fs)
        parent.children.append(line)
        if not r.user:
            accounts[r.account] = (line, r.norm_shares)
            path.append(r.account)
    return root


def slurm_order(root: Line) -> list[Line]:
    """Depth first: each account, then its users by name, then its sub-accounts by name (Slurm's
    _sort_children_list)."""
    out: list[Line] = []

    def visit(line: Line) -> None:
        out.append(line)
        for child in sorted(line.children, key=lambda c: (not c.is_user, c.name)):
            visit(child)

    visit(root)
    return out


def tree_names(lines: list[Line]) -> list[str]:
    """The Account column of each printed line (slurmdb_tree_name_get): an account one space
    deeper than its parent's printed line, a user's line one deeper than its account's and naming
    it; an account whose parent is not printed starts unindented."""
    spaces: dict[str, str] = {}
    names = []
    for line in lines:
        indent = " " + spaces[line.parent] if line.parent in spaces else ""
        if line.is_user:
            names.append(indent + line.account)
        else:
            names.append(spaces.setdefault(line.name, indent) + line.name)
    return names


# ---------------------------------------------------------------- cells (src/common/print_fields.c)

class Cells:
    """print_fields' routines for one output mode: fixed width, `-p` (a `|` after every field)
    or `-P` (between fields)."""

    def __init__(self, parsable: str):
        self.parsable = parsable   # "", "p" or "P"

    def parsable_cell(self, text: str, last: bool) -> str:
        return text if self.parsable == "P" and last else text + "|"

    def text(self, value: str | None, width: int, last: bool) -> str:
        if self.parsable:
            return self.parsable_cell(value or "", last)
        size = abs(width)
        if value is None:
            value = " "
        elif len(value) > size:
            value = value[:size - 1] + "+"
        return ("%*.*s " if width > 0 else "%-*.*s ") % (size, size, value)

    def number(self, value: int | None, width: int, last: bool) -> str:
        if value is None:
            return "" if self.parsable == "P" and last else "|" if self.parsable else "%*s " % (width, " ")
        if self.parsable:
            return self.parsable_cell(str(value), last)
        return ("%*d " if width > 0 else "%-*d ") % (abs(width), value)

    def double(self, value: float | None, width: int, last: bool) -> str:
        if value is None:
            return self.number(None, width, last)
        if self.parsable:
            return self.parsable_cell("%f" % value, last)
        size = abs(width)
        if len("%*f" % (size, value)) <= size:
            return ("%*f " if width > 0 else "%-*f ") % (size, value)
        # Too wide: in exponent form, as many digits as the width leaves.
        precision = size
        wide = len("%*.*e" % (size, size, value))
        if wide > size:
            precision -= wide - size
        if precision < 0:   # (C takes a negative width as left-justified, a negative precision as none)
            return "%-*e " % (-precision, value)
        return ("%*.*e " if width > 0 else "%-*.*e ") % (precision, precision, value)


def _value(name: str, line: Line, account_name: str, cluster: str):
    """The value of field `name` for `line` of cluster `cluster`: str, int, float or None (unset)."""
    if name == "Account":
        return account_name
    if name == "Cluster":
        return cluster
    if name == "User":
        return line.user
    if name == "RawShares":
        return line.raw_shares
    if name == "NormShares":
        return line.norm_shares
    if name == "RawUsage":
        return int(line.raw_usage)
    if name == "NormUsage":
        return line.norm_usage if line.parent is not None else None
    if name == "EffectvUsage":
        return line.effective
    if name == "FairShare":
        return line.fairshare
    if name == "LevelFS":
        return line.level_fs
    if name == "GrpTRESRaw":
        return f"cpu={int(line.raw_usage / 60)}"
    return None   # ID, Partition, GrpTRESMins, TRESRunMins: JEM keeps none


def render(fields: list[tuple[str, int, str]], lines: list[Line], cells: Cells, *, header: bool,
           cluster: str) -> list[str]:
    """The output lines: the header (and its dashes) when `header`, then one per Line; `cluster`
    is the cluster's name (needed only for a Cluster field)."""
    out = []
    last = len(fields) - 1
    if header:
        if cells.parsable:
            out.append("".join(cells.parsable_cell(name, i == last) for i, (name, _, _) in enumerate(fields)))
        else:
            out.append("".join("%*.*s " % (width, abs(width), name) for name, width, _ in fields))
            out.append("".join("-" * abs(width) + " " for _, width, _ in fields))
    for line, account_name in zip(lines, tree_names(lines)):
        row = []
        for i, (name, width, kind) in enumerate(fields):
            value = _value(name, line, account_name, cluster)
            if kind == "double":
                row.append(cells.double(value, width, i == last))
            elif kind == "uint":
                row.append(cells.number(value, width, i == last))
            else:
                row.append(cells.text(value, width, i == last))
        out.append("".join(row))
    return out


# ---------------------------------------------------------------- the command

def char_list(values: list[str], *, lower: bool = True) -> list[str]:
    """slurm_addto_char_list: comma-separated names (an opening quote runs to its match), lower-cased;
    a name given again moves to the end.

    >>> char_list(["A,User", "a"])
    ['user', 'a']
    """
    names: list[str] = []
    for text in values:
        if text[:1] in ("'", '"'):
            text = text[1:].split(text[0], 1)[0]
        for name in text.replace('"', "`").replace("'", "`").split(","):
            if not name:
                continue
            name = name.lower() if lower else name
            names = [n for n in names if n.lower() != name.lower()] + [name]
    return names


def atoi(text: str) -> int:
    """C's atoi: optional blanks and sign, then digits; 0 without any.

    >>> atoi(" -12x"), atoi("x"), atoi("99999")
    (-12, 0, 99999)
    """
    text = text.lstrip(" \t\n\v\f\r")
    sign = -1 if text[:1] == "-" else 1
    text = text[1:] if text[:1] in ("+", "-") else text
    digits = ""
    for ch in text:
        if ch not in "0123456789":
            break
        digits += ch
    return sign * int(digits) if digits else 0


def parse_fields(names: list[str]) -> list[tuple[str, int, str]]:
    """The -o (or default) list as fields: each name matches the first field it begins (any case),
    `name%N` sets that field's width (negative: left-justified) for every use of it."""
    widths = {name: width for name, width, _ in FIELDS}
    chosen = []
    for item in names:
        item, percent, size = item.partition("%")
        new_width = max(-layout.MAX_WIDTH, min(atoi(size), layout.MAX_WIDTH)) if percent else 0
        field = next((f for f in FIELDS if f[0].lower().startswith(item.lower())), None)
        if field is None:
            raise Failure(f'Invalid field requested: "{item}"')
        if new_width:
            widths[field[0]] = new_width
        chosen.append(field)
    return [(name, widths[name], kind) for name, _, kind in chosen]


def _user_names(text: str, names: list[str]) -> list[str]:
    """`names` and -u's users after them: names as given, numeric uids as their names (exit 1 for
    an unknown uid), each once (in any case)."""
    names = list(names)
    for name in text.split(","):
        if not name:
            continue
        if name[:1].isascii() and name[:1].isdigit():
            uid = min(atoi(name), (1 << 64) - 1) & 0xFFFFFFFF   # (strtoul, kept in a uint32_t)
            try:
                name = pwd.getpwuid(uid).pw_name
            except KeyError:
                raise Failure(f"Invalid user id: {uid}", prefix=None) from None
        if name.lower() not in (n.lower() for n in names):
            names.append(name)
    return names


def _help_format() -> str:
    text = ""
    for i, (name, _, _) in enumerate(FIELDS):
        text += (" " if i & 3 else "\n" if i else "") + "%-17s" % name
    return text + "\n"


def _options(argv: list[str]) -> dict:
    """sshare's options in order: -e, -V, --help and --usage end the command where they stand."""
    found, _ = OPTIONS.parse(argv, stop_at_operand=False)   # (operands are ignored, as Slurm's sshare does)
    args: dict = {"all": False, "users": None, "accounts": [], "format": [], "verbose": 0, "parsable": ""}
    for option, value in found:
        name = option.name
        if name in ("q", "t"):
            raise Failure(f"getopt error, returned {name}", prefix=None)
        if name in ("helpformat", "version", "help", "usage"):
            raise _Exit(_help_format() if name == "helpformat" else VERSION + "\n" if name == "version" else USAGE)
        if name == "all":
            args["all"] = True
        elif name == "users":
            if value == "-1":
                args["all"] = True
                continue
            args["all"] = False
            args["users"] = _user_names(value, args["users"] or [])
        elif name == "accounts":
            args["accounts"].append(value)
        elif name == "format":
            args["format"].append(value)
        elif name == "verbose":
            args["verbose"] += 1
        elif name in ("parsable", "parsable2"):
            args["parsable"] = "P" if name == "parsable2" else "p"   # (the last one given counts)
        else:
            args[name] = True
    args["accounts"] = char_list(args["accounts"])
    return args


class _Exit(Exception):
    """An option that ends the command with this text on stdout."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


def _sshare(argv: list[str]) -> int:
    try:
        args = _options(argv)
    except _Exit as done:
        print(done.text, end="")
        return 0
    users = None if args["all"] else (args["users"] or [current_user()])
    if args["verbose"]:
        print("Users requested:", file=sys.stderr)
        for name in users or ["all"]:
            print(f"\t: {name}", file=sys.stderr)
        print("Accounts requested:", file=sys.stderr)
        for name in args["accounts"] or ["all"]:
            print(f"\t: {name}", file=sys.stderr)
    with connect() as client:
        algorithm, rows = client.list_shares()
        is_tree = algorithm != "classic"
        if args["format"]:
            names = char_list(args["format"])
        else:
            names = char_list([FORMATS[(is_tree, "long" in args, "partition" in args)]])
        fields = parse_fields(names)
        cluster = cluster_name(client) if any(name == "Cluster" for name, _, _ in fields) else ""
    accounts = {a.lower() for a in args["accounts"]}
    wanted_users = None if users is None else {u.lower() for u in users}
    lines = [line for line in slurm_order(share_tree(algorithm, rows))
             if (not accounts or line.account.lower() in accounts)
             and (not line.is_user or wanted_users is None or line.name.lower() in wanted_users)
             and (line.is_user or "Users" not in args)]
    out = render(fields, lines, Cells(args["parsable"]), header="noheader" not in args, cluster=cluster)
    if out:
        sys.stdout.write("\n".join(out) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(PROG, _sshare, argv)


if __name__ == "__main__":
    sys.exit(main())
