"""sreport: CPU time reports of a period, as Slurm 22.05's sreport prints them.

Reports: `cluster Utilization`, `cluster AccountUtilizationByUser` (`Tree`),
`cluster UserUtilizationByAccount` and `user TopUsage` (`TopCount=N`, `Group`), with
`Start=`/`End=`/`Accounts=`/`Users=`/`Clusters=`/`Format=` and the options -n, -p, -P,
-t, -T cpu, -s, -a, -M. The figures come from the controller's UsageReport
(jem.model.utilization); everything else follows src/sreport of Slurm 22.05:

- The period is whole hours: start and end round to the nearest hour (from HH:29:30
  up), the end never after now, at least one hour; by default yesterday. The header
  prints the end less a second.
- Time columns take the width of their largest value (8 characters, one more per
  digit past 8 of the seconds, 9 more with a /Percentage format), whatever `%N` asks.
- Without words on the command line, commands are read from stdin, one a line.
"""

import os
import pwd
import sys
import time

from jem_slurm import layout
from jem_slurm.cluster import cluster_name
from jem_slurm.command import SLURM_VERSION, Failure, connect, run
from jem_slurm.getopt import NONE, REQUIRED, Option, OptionTable
from jem_slurm.sshare import atoi, char_list

PROG = "sreport"
VERSION = SLURM_VERSION
RULE = "-" * 80
OPTIONS = OptionTable([
    Option("all_clusters", "a", NONE), Option("cluster", "M", REQUIRED), Option("federation", "", NONE),
    Option("help", "h", NONE), Option("local", "", NONE), Option("noheader", "n", NONE),
    Option("parsable", "p", NONE), Option("parsable2", "P", NONE), Option("quiet", "Q", NONE),
    Option("sort", "s", REQUIRED), Option("", "t", REQUIRED, "time"), Option("tres", "T", REQUIRED),
    Option("usage", "", NONE, "help"), Option("verbose", "v", NONE), Option("version", "V", NONE),
])
TIME_FORMATS = (("SecPer", 6, "Seconds/Percentage of Total"), ("MinPer", 6, "Minutes/Percentage of Total"),
                ("HourPer", 6, "Hours/Percentage of Total"), ("Seconds", 1, "Seconds"), ("Minutes", 1, "Minutes"),
                ("Hours", 1, "Hours"), ("Percent", 1, "Percentage of Total"))
# Cluster reports' fields (cluster_reports.c, in its matching order): name, shortest prefix,
# header, width (None: a time column), kind. TresCount also answers to CPUCount and Count.
CLUSTER_FIELDS = (("Accounts", 2, "Account", 15, "str"), ("allocated", 2, "Allocated", None, "time"),
                  ("Cluster", 2, "Cluster", 9, "str"), ("down", 1, "Down", None, "time"),
                  ("idle", 1, "Idle", None, "time"), ("Login", 1, "Login", 9, "str"),
                  ("overcommitted", 1, "Over Comm", None, "time"), ("PlannedDown", 2, "PLND Down", None, "time"),
                  ("Proper", 2, "Proper Name", 15, "str"), ("reported", 3, "Reported", None, "time"),
                  ("reserved", 3, "Planned", None, "time"), ("planned", 4, "Planned", None, "time"),
                  ("TresCount", 5, "TRES Count", 10, "uint"), ("cpucount", 2, "TRES Count", 10, "uint"),
                  ("count", 2, "TRES Count", 10, "uint"), ("TresName", 5, "TRES Name", 14, "str"),
                  ("Used", 1, "Used", None, "time"), ("WCKey", 2, "WCKey", 15, "str"),
                  ("Energy", 1, "Energy", None, "time"))
USER_FIELDS = (("Accounts", 1, "Account", 15, "str"), ("Cluster", 1, "Cluster", 9, "str"),
               ("Energy", 1, "Energy", None, "time"), ("Login", 1, "Login", 9, "str"),
               ("Proper", 1, "Proper Name", 15, "str"), ("TresName", 5, "TRES Name", 14, "str"),
               ("Used", 1, "Used", None, "time"))
# Default time widths before a report sets them (plain, /Percentage).
TIME_WIDTHS = {"Allocated": (12, 20), "Down": (10, 18), "Idle": (12, 20), "Over Comm": (9, 18),
               "PLND Down": (10, 18), "Reported": (12, 20), "Planned": (9, 18), "Used": (10, 18), "Energy": (10, 18)}


class Session:
    """sreport's settings, which commands (`time`, `parsable`, ...) change as they go."""

    def __init__(self):
        self.exit_code = 0
        self.header = True
        self.parsable = ""             # "", "p" or "P"
        self.time_format = "Minutes"
        self.time_text = "Minutes"
        self.sort_by_name = False
        self.tres = ""                 # -T: "" or "cpu"
        self.clusters: list[str] = []  # -M
        self.client = None

    @property
    def is_percent_pair(self) -> bool:
        return self.time_format in ("SecPer", "MinPer", "HourPer")

    def set_time_format(self, text: str) -> None:
        for name, shortest, words in TIME_FORMATS:
            if _matches(text, name, shortest):
                self.time_format, self.time_text = name, words
                return
        sys.stderr.write(f"unknown time format {text}")   # (no newline, and no exit code: Slurm's)
        sys.stderr.flush()

    def time_cell(self, seconds: int, total: int) -> str:
        """slurmdb_report_print_time's text of `seconds` out of `total`."""
        total = total or 1
        percent = seconds / total * 100
        fmt = self.time_format
        if fmt == "Seconds":
            return str(seconds)
        if fmt == "Percent":
            return f"{percent:.2f}%"
        if fmt == "SecPer":
            return f"{seconds}({percent:.2f}%)"
        value = f"{seconds / (3600 if fmt.startswith('Hour') else 60):.0f}"
        return f"{value}({percent:.2f}%)" if self.is_percent_pair else value

    def usage_words(self) -> str:
        if self.time_format == "Percent":
            return f"Usage reported in {self.time_text}"
        return f"Usage reported in {'TRES' if self.tres else 'CPU'} {self.time_text}"


class Column:
    """One field of the output: header, width (negative: left-justified), kind and what it shows."""

    def __init__(self, key: str, header: str, width: int, kind: str):
        self.key, self.header, self.width, self.kind = key, header, width, kind

    def fit(self, largest_s: int, session: Session) -> None:
        """sreport_set_usage_col_width: 8 characters, one more per digit past 8 of `largest_s`."""
        width, order = 8, 100_000_000
        while largest_s >= order and order < 10 ** 25:
            width, order = width + 1, order * 10
        self.width = width + (9 if session.is_percent_pair else 0)


def _matches(word: str, name: str, shortest: int) -> bool:
    """Slurm's xstrncasecmp(name, word, MAX(len(word), shortest)) == 0."""
    n = max(len(word), shortest)
    return name.lower()[:n] == word.lower()[:n]


def columns(names: list[str], table, session: Session, *, is_tree: bool = False) -> list[Column]:
    """The Format= (or default) list as Columns; an unknown name is reported and skipped (exit 1)."""
    out = []
    for item in names:
        name, percent, size = item.partition("%")
        entry = next((e for e in table if _matches(name, e[0], e[1])), None)
        if entry is None:
            session.exit_code = 1
            print(f" Unknown field '{name}'", file=sys.stderr)
            continue
        _, _, header, width, kind = entry
        if width is None:
            width = TIME_WIDTHS[header][session.is_percent_pair]
        elif header == "Account" and is_tree:
            width = -20
        new_width = max(-layout.MAX_WIDTH, min(atoi(size), layout.MAX_WIDTH)) if percent else 0
        out.append(Column(header, header, new_width or width, kind))
    return out


def render(cols: list[Column], rows: list[dict], session: Session) -> list[str]:
    """The header (unless -n) and one line per row (print_fields.c's cells)."""
    lines, last = [], len(cols) - 1
    if session.header:
        if session.parsable:
            lines.append("".join(_parsable(c.header, i == last, session) for i, c in enumerate(cols)))
        else:
            lines.append("".join("%*.*s " % (c.width, abs(c.width), c.header) for c in cols))
            lines.append("".join("-" * abs(c.width) + " " for c in cols))
    for row in rows:
        cells = []
        for i, c in enumerate(cols):
            value = row.get(c.key)
            if c.kind == "time":
                text = session.time_cell(*(value or (0, row.get("_total", 0))))
            elif c.kind == "uint":
                text = str(value or 0)
            else:
                text = value
            cells.append(_cell(text, c, i == last, session))
        lines.append("".join(cells))
    return lines


def _parsable(text: str, last: bool, session: Session) -> str:
    return text if session.parsable == "P" and last else text + "|"


def _cell(text: str | None, column: Column, last: bool, session: Session) -> str:
    if session.parsable:
        return _parsable(text or "", last, session)
    size = abs(column.width)
    if column.kind == "uint":   # (printed whole, however wide)
        return ("%*s " if column.width > 0 else "%-*s ") % (size, text)
    if text is None:
        text = " "
    elif len(text) > size and column.kind == "str":
        text = text[:size - 1] + "+"
    return ("%*.*s " if column.width > 0 else "%-*.*s ") % (size, size, text)


def proper_name(user: str) -> str | None:
    """The user's full name: the passwd GECOS field up to its first comma (None: no such user)."""
    try:
        gecos = pwd.getpwnam(user).pw_gecos
    except KeyError:
        return None
    words = [word for word in gecos.split(",") if word]   # (strtok: empty fields are skipped)
    return words[0] if words else gecos


# ---------------------------------------------------------------- the period

def stamp(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(t))


def period(start: float | None, end: float | None, *, now: float) -> tuple[int, int]:
    """slurmdb_report_set_start_end_time: (start, end) as whole hours, by default yesterday."""
    def round_hour(t: float) -> float:
        tm = time.localtime(int(t))
        minute = tm.tm_min + (tm.tm_sec >= 30)
        return time.mktime((tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour + (minute >= 30), 0, 0, 0, 0, -1))

    today = time.localtime(int(now))
    midnight = time.mktime((today.tm_year, today.tm_mon, today.tm_mday, 0, 0, 0, 0, 0, -1))
    last = round_hour(min(end, now)) if end else midnight
    first = round_hour(start) if start else time.mktime(
        (today.tm_year, today.tm_mon, today.tm_mday - 1, 0, 0, 0, 0, 0, -1))
    if last - first < 3600:
        last = first + 3600
    return int(first), int(last)


def parse_when(text: str, *, now: float) -> float | None:
    """Slurm's parse_time: a time form, or None (and Slurm's message) when it is none."""
    from jem_slurm.times import parse_time

    try:
        return parse_time(text, now=now)
    except ValueError:
        print(f"Invalid time specification (pos=0): {text}", file=sys.stderr)
        return None


# ---------------------------------------------------------------- conditions (Name=Value words)

class Conditions:
    """What a report's words ask for."""

    def __init__(self):
        self.start = self.end = None
        self.accounts: list[str] = []
        self.users: list[str] = []
        self.clusters: list[str] = []
        self.format: list[str] = []
        self.is_tree = self.is_grouped = False
        self.top_count = 10


def conditions(words: list[str], session: Session, *, report: str, now: float) -> Conditions:
    """Each report's _set_*_cond: keywords by their shortest prefix, any case; a bare word is a
    user (a cluster for Utilization); an unknown keyword is reported (exit 1) and skipped."""
    cond = Conditions()
    for word in words:
        key, eq, value = word.partition("=")
        bare = not eq
        if bare and _matches(key, "all_clusters", 1):
            continue
        if report == "top" and bare and _matches(key, "group", 1):
            cond.is_grouped = True
        elif report == "au" and bare and _matches(key, "Tree", 4):
            cond.is_tree = True
        elif report == "util" and (bare or _matches(key, "Clusters", 1)):
            cond.clusters += char_list([value if eq else key])
        elif report != "util" and (bare or _matches(key, "Users", 1)):
            cond.users += char_list([value if eq else key])
        elif report != "util" and (_matches(key, "Accounts", 2) or _matches(key, "Acct", 4)):
            cond.accounts += char_list([value])
        elif _matches(key, "Clusters", 1):
            cond.clusters += char_list([value])
        elif _matches(key, "End", 1):
            cond.end = parse_when(value, now=now) or None
        elif _matches(key, "Format", 1):
            cond.format += [name for name in value.split(",") if name]
        elif _matches(key, "Start", 1):
            cond.start = parse_when(value, now=now) or None
        elif report == "top" and _matches(key, "TopCount", 1):
            if value.isascii() and value.isdigit():
                cond.top_count = int(value)
            else:
                session.exit_code = 1
                print(f"sreport: error: Invalid value for TopCount ({value})", file=sys.stderr)
        else:
            session.exit_code = 1
            print(f" Unknown condition: {word}\nUse keyword set to modify value", file=sys.stderr)
    return cond


# ---------------------------------------------------------------- the reports

def _framing(title: str, first: int, last: int, session: Session, *, with_secs: bool = True) -> list[str]:
    if not session.header:
        return []
    secs = f" ({last - first} secs)" if with_secs else ""
    return [RULE, f"{title} {stamp(first)} - {stamp(last - 1)}{secs}", session.usage_words(), RULE]


def _our_cluster(cond: Conditions, session: Session, cluster: str) -> bool:
    wanted = {c.lower() for c in cond.clusters + session.clusters}
    return not wanted or cluster.lower() in wanted


def utilization(session: Session, cond: Conditions, first: int, last: int) -> list[str]:
    from jem.model.utilization import ReportKind

    client = session.client
    cluster = cluster_name(client)
    default = "Cl,TresName,al,d,planned,i,res,rep" if session.tres else "Cl,al,d,planned,i,res,rep"
    cols = columns(char_list(cond.format or [default]), CLUSTER_FIELDS, session)
    out = _framing("Cluster Utilization", first, last, session, with_secs=False)
    report = client.usage_report(ReportKind.CLUSTER, start=first, end=last).cluster
    reported = report.reported_cpu_s
    values = {"Allocated": report.allocated_cpu_s, "Down": report.down_cpu_s, "Idle": report.idle_cpu_s,
              "Planned": report.planned_cpu_s, "Over Comm": report.over_committed_cpu_s,
              "PLND Down": report.planned_down_cpu_s, "Reported": reported, "Energy": 0}
    widths = dict(values, Energy=report.allocated_cpu_s)   # (Slurm sizes Energy by Allocated)
    for col in cols:
        if col.key in widths:
            col.fit(widths[col.key], session)
    row = {key: (value, reported) for key, value in values.items()}
    row.update({"Reported": (reported, (last - first) * report.n_cpus), "Cluster": cluster, "TRES Name": "cpu",
                "TRES Count": report.n_cpus, "Energy": (0, 0)})
    return out + render(cols, [row] if _our_cluster(cond, session, cluster) else [], session)


def associations(session: Session, cond: Conditions, first: int, last: int, *, report: str) -> list[str]:
    """AccountUtilizationByUser ("au"), UserUtilizationByAccount ("ua") and TopUsage ("top")."""
    from jem.model.utilization import ReportKind

    client = session.client
    cluster = cluster_name(client)
    kind = ReportKind.ACCOUNT_TREE if report == "au" else ReportKind.USERS
    result = client.usage_report(kind, start=first, end=last, accounts=cond.accounts, users=cond.users)
    reported = result.cluster.reported_cpu_s
    rows = list(result.rows) if _our_cluster(cond, session, cluster) else []
    if report == "au":
        title, default = "Cluster/Account/User Utilization", "Cluster,Ac,Login,Proper,{}"
        names = tree_names(rows) if cond.is_tree else [r.account for r in rows]
    else:
        rows = _ordered(rows, session, grouped=cond.is_grouped and report == "top")
        title = "Cluster/User/Account Utilization" if report == "ua" else f"Top {cond.top_count} Users"
        default = "Cluster,Login,Proper,Ac,{}" if report == "ua" else "Cl,L,P,A,{}"
        names = [r.account for r in rows]
        if report == "top":   # (Slurm counts after printing a line: TopCount=0 prints one)
            rows, names = rows[:max(1, cond.top_count)], names[:max(1, cond.top_count)]
    default = default.format("TresName,Used" if session.tres else ("U,Energy" if report == "top" else "Used,Energy"))
    cols = columns(char_list(cond.format or [default]), USER_FIELDS if report == "top" else CLUSTER_FIELDS,
                   session, is_tree=cond.is_tree)
    for col in cols:
        if col.key in ("Used", "Energy"):
            col.fit(max((r.cpu_s for r in rows), default=0) if col.key == "Used" else 0, session)
    lines = [{"Cluster": cluster, "Account": name, "Login": r.user or None,
              "Proper Name": proper_name(r.user) if r.user else None, "Used": (r.cpu_s, reported),
              "Energy": (0, 0), "TRES Name": "cpu", "_total": reported} for r, name in zip(rows, names)]
    return _framing(title, first, last, session) + render(cols, lines, session)


def tree_names(rows) -> list[str]:
    """slurmdb_tree_name_get: an account one space deeper than its parent's line, a user's line
    naming its account one space deeper than the account's."""
    spaces: dict[str, str] = {}
    names = []
    for row in rows:
        if row.user:   # (under an account not printed: unindented)
            names.append(" " + spaces[row.account] + row.account if row.account in spaces else row.account)
        else:
            indent = " " + spaces[row.parent_account] if row.parent_account in spaces else ""
            names.append(spaces.setdefault(row.account, indent) + row.account)
    return names


def _ordered(rows, session: Session, *, grouped: bool) -> list:
    """sort_user_dec over the rows in tree order (ties keep it): by usage, most first, then user
    name (-s name: by name alone); `grouped` makes one row per user, naming their accounts most
    used first (Slurm: in its own order of associations) and summing their usage."""
    from jem.model.utilization import AssociationUsage

    if grouped:
        merged: dict[str, list] = {}
        for r in rows:
            merged.setdefault(r.user, []).append(r)
        rows = [AssociationUsage(", ".join(x.account for x in sorted(rs, key=lambda x: -x.cpu_s)), user,
                                 sum(x.cpu_s for x in rs)) for user, rs in merged.items()]
    return sorted(rows, key=(lambda r: r.user) if session.sort_by_name else (lambda r: (-r.cpu_s, r.user)))

USAGE = """\
sreport [<OPTION>] [<COMMAND>]                                             
    Valid <OPTION> values are:                                             
     -a or --all_clusters: Use all clusters instead of current             
     --federation: Generate reports for the federation if a member of one  
     -h or --help: equivalent to "help" command                          
     --local: Report local cluster, even when in federation of clusters    
     -n or --noheader: equivalent to "noheader" command                  
     -p or --parsable: output will be '|' delimited with a '|' at the end  
     -P or --parsable2: output will be '|' delimited without a '|' at the end
     -Q or --quiet: equivalent to "quiet" command                        
     -t <time_format>: Second, Minute, Hour, Percent, SecPer, MinPer, HourPer
     -T or --tres: comma separated list of TRES, or 'ALL' for all TRES     
     -v or --verbose: equivalent to "verbose" command                    
     -V or --version: equivalent to "version" command                    
                                                                           
  <keyword> may be omitted from the execute line and sreport will execute  
  in interactive mode. It will process commands as entered until explicitly
  terminated.                                                              
                                                                           
    Valid <COMMAND> values are:                                            
     exit                Terminate sreport                                 
     help                Print this description of use.                    
     nonparsable         Return output to normal                           
     parsable            Output will be | delimited with an ending '|'     
     parsable2           Output will be | delimited without an ending '|'  
     quiet               Print no messages other than error messages.      
     quit                Terminate this command.                           
     time <time_format>  Second, Minute, Hour, Percent, SecPer, MinPer, HourPer
     verbose             Enable detailed logging.                          
     version             Display tool version number.                      
     !!                  Repeat the last command entered.                  
                                                                           
    Valid report types are:                                                
     cluster <REPORT> <OPTIONS>                                            
     job <REPORT> <OPTIONS>                                                
     user <REPORT> <OPTIONS>                                               
                                                                           
  <REPORT> is different for each report type.                              
     cluster - AccountUtilizationByUser, UserUtilizationByAccount,         
               UserUtilizationByWckey, Utilization, WCKeyUtilizationByUser 
     job     - SizesByAccount, SizesByAccountAndWckey, SizesByWckey        
     reservation                                                           
             - Utilization                                                 
     user    - TopUsage                                                    
                                                                           
  <OPTIONS> are different for each report type.                            
                                                                           
     COMMON FOR ALL TYPES                                                  
             - All_Clusters     - Use all monitored clusters default is    
                                  local cluster.                           
             - Clusters=<OPT>   - List of clusters to include in report    
                                  Default is local cluster.                
             - End=<OPT>        - Period ending for report.                
                                  Default is 23:59:59 of previous day.     
             - Format=<OPT>     - Comma separated list of fields to display
                                  in report.                               
             - Start=<OPT>      - Period start for report.                 
                                  Default is 00:00:00 of previous day.     
                                                                           
     cluster - Accounts=<OPT>   - When used with the UserUtilizationByAccount,
                                  or AccountUtilizationByUser, List of accounts
                                  to include in report.  Default is all.   
             - Tree             - When used with the AccountUtilizationByUser
                                  report will span the accounts as they    
                                  in the hierarchy.                        
             - Users=<OPT>      - When used with any report other than     
                                  Utilization, List of users to include in 
                                  report.  Default is all.                 
             - Wckeys=<OPT>     - When used with the UserUtilizationByWckey
                                  or WCKeyUtilizationByUser, List of wckeys
                                  to include in report.  Default is all.   
                                                                           
     job     - Accounts=<OPT>   - List of accounts to use for the report.  
                                  Default is all, which will show only     
                                  one line corresponding to the totals of  
                                  all accounts in the hierarchy.           
                                  This explanation does not apply when ran 
                                  with the FlatView or AcctAsParent option.
             - AcctAsParent     - When used with the SizesbyAccount(*)     
                                  will take specified accounts as parents  
                                  and the next layer of accounts under     
                                  those specified will be displayed.       
                                  Default is root if no Accounts specified.
                                  When FlatView is used, this option is    
                                  ignored.                                 
             - FlatView         - When used with the SizesbyAccount(*)     
                                  will not group accounts in a             
                                  hierarchical level, but print each       
                                  account where jobs ran on a separate     
                                  line without any hierarchy.              
             - GID=<OPT>        - List of group ids to include in report.  
                                  Default is all.                          
             - Grouping=<OPT>   - Comma separated list of size groupings.  
                                  (i.e. 50,100,150 would group job cpu count
                                   1-49, 50-99, 100-149, > 150).           
                                  grouping=individual will result in a     
                                  single column for each job size found.   
             - Jobs=<OPT>       - List of jobs/steps to include in report. 
                                  Default is all.                          
             - Nodes=<OPT>      - Only show jobs that ran on these nodes.  
                                  Default is all.                          
             - Partitions=<OPT> - List of partitions jobs ran on to include
                                  in report.  Default is all.              
             - PrintJobCount    - When used with the any Sizes report      
                                  will print number of jobs ran instead of 
                                  time used.                               
             - Users=<OPT>      - List of users jobs to include in report. 
                                  Default is all.                          
             - Wckeys=<OPT>     - List of wckeys to use for the report.    
                                  Default is all.  The SizesbyWckey        
                                  report all users summed together.  If    
                                  you want only certain users specify them 
                                  them with the Users= option.             
                                                                           
     reservation                                                           
             - Names=<OPT>      - List of reservations to use for the report
                                  Default is all.                          
             - Nodes=<OPT>      - Only show reservations that used these   
                                  nodes.  Default is all.                  
                                                                           
     user    - Accounts=<OPT>   - List of accounts to use for the report   
                                  Default is all.                          
             - Group            - Group all accounts together for each user.
                                  Default is a separate entry for each user
                                  and account reference.                   
             - TopCount=<OPT>   - Used in the TopUsage report.  Change the 
                                  number of users displayed.  Default is 10.
             - Users=<OPT>      - List of users jobs to include in report. 
                                  Default is all.                          
                                                                           
  Below are the format options for each report.                            
                                                                           
  One can get an number of characters by following the field option with   
  a %NUMBER option.  i.e. format=name%30 will print 30 chars of field name.
                                                                           
       Cluster                                                             
       - AccountUtilizationByUser                                          
       - UserUtilizationByAccount                                          
             - Accounts, Cluster, Count, Login, Proper, Used               
       - UserUtilizationByWckey                                            
       - WCKeyUtilizationByUser                                            
             - Cluster, Count, Login, Proper, Used, Wckey                  
       - Utilization                                                       
             - Allocated, Cluster, Count, Down, Idle, Overcommitted,       
               Planned, PlannedDown, Reported                              
                                                                           
       Job                                                                 
       - Sizes                                                             
             - Account, Cluster                                            
                                                                           
       Reservation                                                         
       - Utilization                                                       
             - Allocated, Associations, Cluster, Count, CPUTime,           
               End, Flags, Idle, Name, Nodes, ReservationId, Start, TotalTime 
                                                                           
       User                                                                
       - TopUsage                                                          
             - Account, Cluster, Login, Proper, Used                       
                                                                           
                                                                           
  Note, valid start/end time formats are...                                
       HH:MM[:SS] [AM|PM]                                                  
       MMDD[YY] or MM/DD[/YY] or MM.DD[.YY]                                
       MM/DD[/YY]-HH:MM[:SS]                                               
       YYYY-MM-DD[THH:MM[:SS]]                                             
       now[{+|-}count[seconds(default)|minutes|hours|days|weeks]]          
                                                                           
                                                                           
  All commands and options are case-insensitive.                         

"""


# ---------------------------------------------------------------- commands

def process(words: list[str], session: Session) -> bool:
    """One command (sreport.c's _process_command); False when it asks to quit."""
    if not words:
        session.exit_code = 1
        return True
    word, args = words[0], words[1:]
    is_ = lambda name, shortest: _matches(word, name, shortest)   # noqa: E731
    if is_("cluster", 2) or is_("user", 1) or is_("job", 1) or is_("reservation", 2) or is_("resv", 2):
        if not args:
            session.exit_code = 1
            print(f"too few arguments for keyword:{word}", file=sys.stderr)
        elif is_("cluster", 2):
            _cluster_report(args, session)
        elif is_("user", 1):
            _user_report(args, session)
        else:
            session.exit_code = 1
            print(f"{PROG}: error: {'job' if is_('job', 1) else 'reservation'} reports are not supported by JEM",
                  file=sys.stderr)
        return True
    settings = {("help", 2): None, ("quiet", 4): None, ("local", 3): None, ("nonparsable", 4): "",
                ("parsable", 8): "p", ("parsable2", 9): "P", ("verbose", 4): None, ("version", 4): None}
    for (name, shortest), parsable in settings.items():
        if is_(name, shortest):
            if args:
                session.exit_code = 1
                print(f"too many arguments for {word} keyword" if name in ("verbose", "version")
                      else f"too many arguments for keyword:{word}", file=sys.stderr)
            if name == "help":
                sys.stdout.write(USAGE)
            elif name == "version":
                print(VERSION)
            elif parsable is not None:
                session.parsable = parsable
            return True
    if is_("exit", 1) or is_("\\q", 2) or is_("quit", 4):
        if args:
            session.exit_code = 1
            print(f"too many arguments for keyword:{word}", file=sys.stderr)
        return False
    if is_("sort", 1) or is_("time", 1):
        if not args:
            session.exit_code = 1
            print(f"too few arguments for keyword:{word}", file=sys.stderr)
        elif is_("time", 1):
            session.set_time_format(args[0])
        else:
            _set_sort(args[0], session)
        return True
    session.exit_code = 1
    print(f"invalid keyword: {word}", file=sys.stderr)
    return True


def _cluster_report(args: list[str], session: Session) -> None:
    name, words, now = args[0], args[1:], time.time()
    if _matches(name[:1], "AccountUtilizationByUser", 1):
        _print(associations, session, conditions(words, session, report="au", now=now), now, report="au")
    elif _matches(name[:18], "UserUtilizationByAccount", 18) or _matches(name[:2], "UA", 2):
        _print(associations, session, conditions(words, session, report="ua", now=now), now, report="ua")
    elif _matches(name[:18], "UserUtilizationByWckey", 18) or _matches(name[:2], "UW", 2) \
            or _matches(name[:1], "WCKeyUtilizationByUser", 1):
        session.exit_code = 1
        print(f"{PROG}: error: WCKey reports are not supported by JEM", file=sys.stderr)
    elif _matches(name[:2], "Utilization", 2):
        _print(utilization, session, conditions(words, session, report="util", now=now), now)
    else:
        session.exit_code = 1
        print(f"Not valid report {name}\nValid cluster reports are, \"AccountUtilizationByUser\", "
              "\"UserUtilizationByAccount\", \"UserUtilizationByWckey\", \"Utilization\", and "
              "\"WCKeyUtilizationByUser\"", file=sys.stderr)


def _user_report(args: list[str], session: Session) -> None:
    now = time.time()
    if _matches(args[0][:1], "Top", 1):
        _print(associations, session, conditions(args[1:], session, report="top", now=now), now, report="top")
    else:
        session.exit_code = 1
        print(f"Not valid report {args[0]}\nValid user reports are, \"Top\"", file=sys.stderr)


def _print(build, session: Session, cond: Conditions, now: float, **kwargs) -> None:
    first, last = period(cond.start, cond.end, now=now)
    if session.client is None:
        session.client = connect()
    lines = build(session, cond, first, last, **kwargs)
    if lines:
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()


def _set_sort(text: str, session: Session) -> None:
    if _matches(text, "Name", 1):
        session.sort_by_name = True
    elif _matches(text, "Time", 6):
        session.sort_by_name = False
    else:
        sys.stderr.write(f"unknown timesort format {text}")


def _interactive(session: Session) -> None:
    """Commands from stdin, one a line, after Slurm's `sreport: ` prompt (readline echoes a line
    that does not come from a terminal); end of input ends it with a newline."""
    is_terminal = sys.stdin.isatty()
    while True:
        sys.stdout.write("sreport: ")
        sys.stdout.flush()
        line = sys.stdin.readline()
        if not line:
            sys.stdout.write("\n")
            return
        line = line.rstrip("\n")
        if not is_terminal:
            sys.stdout.write(line + "\n")
        if line.startswith("#"):
            continue
        if not process(_words(line), session):
            return


def _words(line: str) -> list[str]:
    """_get_command's split: at blanks outside quotes, the quotes kept."""
    words, word, quote = [], "", ""
    for ch in line:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch.isspace():
            if word:
                words.append(word)
            word = ""
            continue
        word += ch
    return words + [word] if word else words


def _sreport(argv: list[str]) -> int:
    session = Session()
    if os.environ.get("SREPORT_TRES"):
        session.tres = os.environ["SREPORT_TRES"]
    found, operands = OPTIONS.parse(argv, stop_at_operand=False)
    n_cluster_options = 0
    for option, value in found:
        name = option.name
        if name == "help":
            sys.stdout.write(USAGE)
            return 0
        if name == "version":
            print(VERSION)
            return 0
        if name == "noheader":
            session.header = False
        elif name in ("parsable", "parsable2"):
            session.parsable = "P" if name == "parsable2" else "p"
        elif name == "time":
            session.set_time_format(value)
        elif name == "sort":
            _set_sort(value, session)
        elif name == "tres":
            session.tres = value
        elif name == "cluster":
            session.clusters = char_list([value])
            n_cluster_options += 1
        elif name in ("all_clusters", "local"):
            n_cluster_options += 1
    if n_cluster_options > 1:
        raise Failure("Only one cluster option can be used (--all_clusters OR --cluster OR --local)", prefix=None)
    if session.tres and any(t.lower() != "cpu" for t in session.tres.split(",") if t):
        raise Failure(f"TRES other than cpu are not supported by JEM: {session.tres}")
    try:
        if operands:
            process(operands, session)
        else:
            _interactive(session)
    finally:
        if session.client is not None:
            session.client.close()
    return session.exit_code


def main(argv: list[str] | None = None) -> int:
    return run(PROG, _sreport, argv)


if __name__ == "__main__":
    sys.exit(main())
