"""sacctmgr's fields: the names its words answer to (commands, entities, `where` conditions, `set`
settings and `format=` columns), what each column shows of an association, account, user or QOS,
and how tables, change listings and `add`'s summaries print.

Every name resolves as Slurm resolves it: a case-insensitive prefix of at least
a set length, tried in Slurm's order, so `MaxW` is MaxWall, `Prio` Priority and
`assoc` association. `Name%20` widens a column, `%-20` also left-justifies it.
A field of a limit JEM has no notion of (GrpTRESMins, GrpWall, MaxTRESPerNode,
...) or of another entity prints empty. Cells follow Slurm's print_fields: right-
justified, a text cut to the width ends in `+`, numbers and times are never cut;
-p/-P print `|`-separated cells (-p with a trailing `|`).

Times print as Slurm's mins2time_str/secs2time_str: `00:10:00`, `1-02:04:00`.
"""

from dataclasses import dataclass

from jem.model.accounting import UNSET
from jem.model.associations import Association, PreemptMode, Qos, QosFlag
from jem.model.tres import format_tres

from jem_slurm.sacct_fields import hms

USAGE = """\
sacctmgr [<OPTION>] [<COMMAND>]
    Valid <OPTION> values are:
     -h or --help: equivalent to "help" command
     -i or --immediate: commit changes immediately
     -n or --noheader: no header will be added to the beginning of output
     -p or --parsable: output will be '|' delimited with a '|' at the end
     -P or --parsable2: output will be '|' delimited without a '|' at the end
     -r or --readonly: equivalent to "readonly" command
     -s or --associations: equivalent to "associations" command
     -V or --version: equivalent to "version" command

  Valid <COMMAND> values are:
     add <ENTITY> <SPECS>     add entity
     delete <ENTITY> <SPECS>  delete the specified entity(s)
     list <ENTITY> [<SPECS>]  display info of identified entity, default is display all.
     modify <ENTITY> <SPECS>  modify entity
     show                     same as list
     version                  display tool version number.

  <ENTITY> may be "account", "association", "qos" or "user" (JEM).
  See sacctmgr(1) for <SPECS>."""

# ------------------------------------------------------------------ the words of the command line

ENTITIES = {
    "add": (((("Account", 1), ("Acct", 4)), "account"), ((("Cluster", 2),), None), ((("Coordinator", 2),), None),
            ((("Federation", 1),), None), ((("QOS", 1),), "qos"), ((("Resource", 1),), None),
            ((("User", 1),), "user")),
    "show": (((("Accounts", 2), ("Acct", 4)), "account"), ((("Associations", 2),), "association"),
             ((("Clusters", 2), ("Configuration", 2), ("Events", 1), ("Federation", 1), ("Problems", 1),
               ("RunawayJobs", 2), ("OrphanJobs", 1), ("LostJobs", 1)), None), ((("QOS", 1),), "qos"),
             ((("Resource", 4), ("Reservations", 4), ("Resv", 4), ("Stats", 1), ("Transactions", 1),
               ("Txn", 1)), None), ((("Users", 1),), "user"), ((("WCKeys", 1), ("tres", 2)), None)),
    "modify": (((("Accounts", 1), ("Acct", 4)), "account"), ((("Clusters", 5), ("Federation", 1), ("Job", 1)), None),
               ((("QOSs", 1),), "qos"), ((("Resource", 1),), None), ((("Users", 1),), "user")),
    "delete": (((("Accounts", 1), ("Acct", 4)), "account"), ((("Clusters", 2), ("Coordinators", 2),
                                                             ("Federations", 1)), None),
               ((("QOS", 2),), "qos"), ((("Resource", 1),), None), ((("Users", 1),), "user")),
}
NO_ENTITY = {
    "add": ('"Account", "Cluster", "Coordinator", "Federation", "QOS", "Resource", or "User"',),
    "show": ('"Account", "Association", "Cluster", "Configuration",', '"Event", "Federation", "Problem", "QOS", '
             '"Resource", "Reservation",', '"RunAwayJobs", "Stats", "Transaction", "TRES", "User", or "WCKey"'),
    "modify": ('"Account", "Cluster", "Federation", "Job", "QOS", "Resource" or "User"',),
    "delete": ('"Account", "Cluster", "Coordinator", "Federation", "QOS", "Resource", or "User"',),
}
COMMANDS = (("associations", 3, "ignore"), ("dump", 3, None), ("help", 2, "help"), ("load", 2, None),
            ("oneliner", 1, "ignore"), ("quiet", 4, "ignore"), ("exit", 4, "ignore"), ("\\q", 2, "ignore"),
            ("quit", 4, "ignore"), ("add", 3, "add"), ("create", 3, "add"), ("archive", 3, None),
            ("clear", 3, None), ("show", 3, "show"), ("list", 3, "show"), ("modify", 1, "modify"),
            ("update", 1, "modify"), ("delete", 3, "delete"), ("remove", 3, "delete"), ("verbose", 4, "ignore"),
            ("readonly", 4, "ignore"), ("reconfigure", 4, None), ("rollup", 2, None), ("shutdown", 4, None),
            ("version", 4, "version"))


# Conditions as Slurm's _set_cond functions take them: (name, least prefix, action). Actions:
# "!x" takes a bare word only; "-X" is a Slurm condition JEM has no notion of.
ASSOC_CONDS = (("Accounts", 2, "accounts"), ("Acct", 4, "accounts"), ("Ids", 1, "-Ids"),
               ("Associations", 2, "-Associations"), ("Clusters", 1, "clusters"), ("DefaultQOS", 8, "-DefaultQOS"),
               ("Partitions", 3, "-Partitions"), ("Parents", 4, "parents"), ("QosLevel", 1, "-QosLevel"),
               ("Users", 1, "users"))
_WITH = (("WithAssoc", 5, "!withassoc"), ("WithCoordinators", 5, "!-WithCoordinators"),
         ("WithDeleted", 5, "!ignore"), ("WithRawQOSLevel", 5, "!ignore"), ("WOPLimits", 4, "!raw"))
ACCOUNT_CONDS = _WITH + (("Names", 1, "name"), ("Accounts", 1, "name"), ("Acct", 4, "name"),
                         ("Descriptions", 1, "-Descriptions"), ("Format", 1, "format"),
                         ("Organizations", 1, "-Organizations")) + ASSOC_CONDS
USER_CONDS = _WITH + (("Names", 1, "name"), ("Users", 1, "name"), ("AdminLevel", 2, "-AdminLevel"),
                      ("Clusters", 1, "clusters"), ("DefaultAccount", 8, "-DefaultAccount"),
                      ("DefaultWCKey", 8, "-DefaultWCKey"), ("Format", 1, "format"),
                      ("WCKeys", 1, "-WCKeys")) + ASSOC_CONDS
LIST_ASSOC_CONDS = (("OnlyDefaults", 2, "!-OnlyDefaults"), ("Tree", 4, "!tree"), ("WithDeleted", 5, "!ignore"),
                    ("WithRawQOSLevel", 5, "!ignore"), ("WithSubAccounts", 5, "!-WithSubAccounts"),
                    ("WOPInfo", 4, "!ignore"), ("WOPLimits", 4, "!raw"), ("WOLimits", 3, "!raw"),
                    ("Format", 1, "format")) + ASSOC_CONDS
QOS_CONDS = (("WithDeleted", 5, "!ignore"), ("Names", 1, "name"), ("QOSLevel", 1, "name"),
             ("Clusters", 1, "-Clusters"), ("Descriptions", 1, "-Descriptions"), ("Format", 1, "format"),
             ("Ids", 1, "-Ids"), ("PreemptMode", 8, "-PreemptMode"))

# Settings as Slurm's _set_rec functions take them -> the name jem.model.settings takes ("X/cpu":
# X=cpu=VALUE), or None for a limit JEM has no notion of.
ASSOC_SETTINGS = (
    ("DefaultQOS", 8, "DefaultQOS"), ("FairShare", 1, "Fairshare"), ("Shares", 1, "Fairshare"),
    ("GrpCPUMins", 7, None), ("GrpCPURunMins", 7, "GrpTRESRunMins/cpu"), ("GrpCpus", 7, "GrpTRES/cpu"),
    ("GrpJobs", 4, "GrpJobs"), ("GrpJobsAccrue", 8, None), ("GrpMemory", 4, "GrpTRES/mem"),
    ("GrpNodes", 4, "GrpTRES/node"), ("GrpSubmitJobs", 4, "GrpSubmitJobs"), ("GrpTRES", 7, "GrpTRES"),
    ("GrpTRESMins", 8, None), ("GrpTRESRunMins", 8, "GrpTRESRunMins"), ("GrpWall", 4, None),
    ("MaxCPUMinsPerJob", 7, None), ("MaxCPURunMins", 7, None), ("MaxCpusPerJob", 7, "MaxTRES/cpu"),
    ("MaxJobs", 4, "MaxJobs"), ("MaxJobsAccrue", 8, None), ("MaxNodesPerJob", 4, "MaxTRES/node"),
    ("MinPrioThresh", 4, None), ("MaxSubmitJobs", 4, "MaxSubmitJobs"), ("MaxTRESPerJob", 7, "MaxTRES"),
    ("MaxTRESPerNode", 11, None), ("MaxTRESMinsPerJob", 8, None), ("MaxTRESRunMins", 8, None),
    ("MaxWallDurationPerJob", 4, "MaxWall"), ("Parent", 2, "Parent"), ("Priority", 2, None),
    ("QosLevel", 1, "QOS"))
QOS_SETTINGS = (
    ("Description", 1, "description"), ("Flags", 2, "Flags"), ("GraceTime", 3, "GraceTime"),
    ("GrpCPUMins", 7, None), ("GrpCPURunMins", 7, "GrpTRESRunMins/cpu"), ("GrpCPUs", 7, "GrpTRES/cpu"),
    ("GrpJobs", 4, "GrpJobs"), ("GrpJobsAccrue", 8, None), ("GrpMemory", 4, "GrpTRES/mem"),
    ("GrpNodes", 4, "GrpTRES/node"), ("GrpSubmitJobs", 4, "GrpSubmitJobs"), ("GrpTRES", 7, "GrpTRES"),
    ("GrpTRESMins", 8, None), ("GrpTRESRunMins", 8, "GrpTRESRunMins"), ("GrpWall", 4, None),
    ("LimitFactor", 6, None), ("MaxCPUMinsPerJob", 7, None), ("MaxCPUsPerJob", 7, "MaxTRESPerJob/cpu"),
    ("MaxCPUsPerUser", 11, "MaxTRESPerUser/cpu"), ("MaxCPUsPU", 9, "MaxTRESPerUser/cpu"),
    ("MaxJobsAccruePerAccount", 17, None), ("MaxJobsAccruePA", 15, None), ("MaxJobsAccruePerUser", 17, None),
    ("MaxJobsAccruePU", 15, None), ("MaxJobsPerAccount", 11, None), ("MaxJobsPA", 9, None),
    ("MaxJobsPerUser", 4, "MaxJobsPerUser"), ("MaxJobsPU", 4, "MaxJobsPerUser"),
    ("MaxNodesPerJob", 4, "MaxTRESPerJob/node"), ("MaxNodesPerUser", 8, "MaxTRESPerUser/node"),
    ("MaxNodesPU", 8, "MaxTRESPerUser/node"), ("MaxSubmitJobsPerAccount", 17, None), ("MaxSubmitJobsPA", 15, None),
    ("MaxSubmitJobsPerUser", 4, "MaxSubmitJobsPerUser"), ("MaxSubmitJobsPU", 4, "MaxSubmitJobsPerUser"),
    ("MaxTRESPerAccount", 11, None), ("MaxTRESPA", 9, None), ("MaxTRESPerJob", 7, "MaxTRESPerJob"),
    ("MaxTRESPerNode", 11, None), ("MaxTRESPerUser", 11, "MaxTRESPerUser"), ("MaxTRESPU", 9, "MaxTRESPerUser"),
    ("MaxTRESMinsPerJob", 8, None), ("MaxTRESRunMinsPA", 16, None), ("MaxTRESRunMinsPU", 8, None),
    ("MaxWallDurationPerJob", 4, "MaxWall"), ("MinCPUsPerJob", 7, None), ("MinPrioThresh", 4, None),
    ("MinTRESPerJob", 7, None), ("PreemptMode", 8, "PreemptMode"), ("Preempt", 7, "Preempt"),
    ("PreemptExemptTime", 8, "PreemptExemptTime"), ("Priority", 3, "Priority"), ("RawUsage", 7, None),
    ("UsageFactor", 6, None), ("UsageThreshold", 6, None))
ACCOUNT_SETTINGS = (("Accounts", 1, "name"), ("Names", 1, "name"), ("Acct", 4, "name"),
                    ("Clusters", 1, "clusters"), ("Description", 1, "description"),
                    ("Organization", 1, "organization"), ("RawUsage", 7, None)) + ASSOC_SETTINGS
USER_SETTINGS = (("AdminLevel", 2, None), ("DefaultAccount", 8, "default_account"), ("DefaultWCKey", 8, None),
                 ("NewName", 1, None), ("RawUsage", 7, None)) + ASSOC_SETTINGS
ADD_USER_WORDS = (("Names", 1, "name"), ("Users", 1, "name"), ("AdminLevel", 2, None),
                  ("DefaultAccount", 8, "default_account"), ("DefaultWCKey", 8, None),
                  ("WCKeys", 1, None)) + ASSOC_SETTINGS + ASSOC_CONDS

# Slurm's names (with the least prefix each accepts) | header | width | kind | value key.
# Kind "s" (text) is cut to its width with "+", "n" (number or time) never. Order decides ties.
_TABLE = """
Account:3,Acct:4|Account|10|s|account
ActionRaw:7|ActionRaw|10|n|
Action:4|Action|20|s|
Actor:4|Actor|10|s|
AdminLevel:2|Admin|9|s|admin
Allowed:2|% Allowed|10|n|
Associations:2|Assocs|10|s|
TRES:2|TRES|20|s|
Classification:3|Class|9|s|
ClusterNodes:8|Cluster Nodes|20|s|
Clusters:2|Cluster|10|s|cluster
Coordinators:2|Coord Accounts|20|s|
ControlHost:8|ControlHost|15|s|
ControlPort:8|ControlPort|12|n|
Count:3|Count|6|n|
CountAllowed:6|# Allowed|10|n|
CountUsed:6|# Used|10|n|
CPUCount:2|CPU Cnt|7|s|
DefaultAccount:8|Def Acct|10|s|default_account
DefaultQOS:8|Def QOS|9|s|default_qos
DefaultWCKey:8|Def WCKey|10|s|
Description:3|Descr|20|s|description
Duration:2|Duration|13|n|
EventRaw:6|EventRaw|8|n|
Event:2|Event|7|s|
Features:3|Features|20|s|
Federation:3|Federation|10|s|
FedState:4|FedState|12|s|
FedStateRaw:9|FedStateRaw|11|n|
Flags:2|Flags|20|s|flags
GraceTime:3|GraceTime|10|n|grace
GrpCPUs:6|GrpCPUs|8|n|grp_cpus
GrpCPUMins:7|GrpCPUMins|11|n|
GrpCPURunMins:7|GrpCPURunMins|13|n|grp_cpu_run_mins
GrpTRES:7|GrpTRES|13|s|grp_tres
GrpTRESMins:7|GrpTRESMins|13|s|
GrpTRESRunMins:7|GrpTRESRunMins|13|s|grp_tres_run_mins
GrpJobs:4|GrpJobs|7|n|grp_jobs
GrpJobsAccrue:8|GrpJobsAccrue|13|n|
GrpMemory:4|GrpMem|7|n|grp_mem
GrpNodes:4|GrpNodes|8|n|grp_nodes
GrpSubmitJobs:4|GrpSubmit|9|n|grp_submit
GrpWall:4|GrpWall|11|n|
ID:2|ID|6|n|
Info:2|Info|20|s|
LFT:1|LFT|6|n|
servertype:10|ServerType|10|s|
MaxCPUMinsPerJob:7|MaxCPUMins|11|n|
MaxCPURunMinsPerUser:7,MaxCPURunMinsPU:7|MaxCPURunMinsPU|15|n|
MaxCPUsPerJob:7|MaxCPUs|8|n|max_cpus
MaxCPUsPerUser:11,MaxCPUsPU:9|MaxCPUsPU|9|n|max_cpus_pu
MaxTRES:7,MaxTRESPerJob:11|MaxTRES|13|s|max_tres
MaxTRESPerNode:11|MaxTRESPerNode|14|s|
MaxTRESMinsPerJob:8|MaxTRESMins|13|s|
MaxTRESRunMinsPerAccount:18,MaxTRESRunMinsPerAcct:18,MaxTRESRunMinsPA:15|MaxTRESRunMinsPA|15|s|
MaxTRESRunMinsPerUser:8,MaxTRESRunMinsPU:8|MaxTRESRunMinsPU|15|s|
MaxTRESPerAccount:11,MaxTRESPerAcct:11,MaxTRESPA:9|MaxTRESPA|13|s|
MaxTRESPerUser:11,MaxTRESPU:9|MaxTRESPU|13|s|max_tres_pu
MaxJobs:4|MaxJobs|7|n|max_jobs
MaxJobsAccrue:4|MaxJobsAccrue|13|n|
MaxJobsAccruePerAccount:17,MaxJobsAccruePerAcct:17,MaxJobsAccruePA:15|MaxJobsAccruePA|15|n|
MaxJobsAccruePerUser:17,MaxJobsAccruePU:15|MaxJobsAccruePU|15|n|
MaxJobsPerAccount:11,MaxJobsPerAcct:11,MaxJobsPA:9|MaxJobsPA|9|n|
MaxJobsPerUser:11,MaxJobsPU:9|MaxJobsPU|9|n|max_jobs
MaxNodesPerJob:4|MaxNodes|8|n|max_nodes
MaxNodesPerUser:12,MaxNodesPU:10|MaxNodesPU|10|n|max_nodes_pu
MinPrioThreshold:4|MinPrioThres|12|n|
MaxSubmitJobs:4|MaxSubmit|9|n|max_submit
MaxSubmitJobsPerAccount:17,MaxSubmitJobsPerAcct:17,MaxSubmitJobsPA:15,MaxSubmitPA:11|MaxSubmitPA|11|n|
MaxSubmitJobsPerUser:10,MaxSubmitJobsPU:10,MaxSubmitPU:6|MaxSubmitPU|11|n|max_submit
MaxWallDurationPerJob:4|MaxWall|11|n|max_wall
MinCPUsPerJob:7|MinCPUs|8|n|
MinTRESPerJob:7|MinTRES|13|s|
Name:2|Name|10|s|name
NodeCount:5|NodeCount|9|n|
NodeInx:5|NodeInx|9|s|
NodeNames:5|NodeName|-15|s|
Organization:1|Org|20|s|organization
ParentID:7|ParentID|8|n|
ParentName:7|ParentName|10|s|parent
Partition:4|Partition|10|s|
PluginIDSelect:2|PluginIDSelect|14|n|
PreemptMode:8|PreemptMode|11|s|preempt_mode
Preempt:7|Preempt|10|s|preempt
PreemptExemptTime:8|PreemptExemptTime|19|n|preempt_exempt
Priority:3|Priority|10|n|priority
Problem:1|Problem|40|s|
QOSLevel:3|QOS|20|s|qos
QOSRAWLevel:4|QOS_RAW|10|s|
Reason:1|Reason|30|s|
RGT:1|RGT|6|n|
RPC:1|RPC|5|n|
Server:3|Server|10|s|
Share:1,FairShare:2|Share|9|n|share
StateRaw:6|StateRaw|8|n|
State:1|State|6|s|
TimeStamp:2|Time|19|n|
TimeEligible:6,Eligible:2|TimeEligible|19|n|
TimeEnd:6,End:2|TimeEnd|19|n|
TimeStart:7,Start:3|TimeStart|19|n|
TimeSubmit:6,Submit:2|TimeSubmit|19|n|
TRES:2|TRES|20|s|
Type:2|Type|8|s|
UnusedWall:2|UnusedWall|10|n|
UsageFactor:6|UsageFactor|11|n|usage_factor
UsageThreshold:6|UsageThres|10|n|
LimitFactor:6|LimitFactor|11|n|
Allocated:7|% Allocated|11|n|
User:1|User|10|s|user
WCKeys:2|WCKeys|20|s|
Where:2|Where|20|s|
"""


# The columns each listing shows without format= (as Slurm names them).
ACCOUNT_FORMAT = "Acc,Des,O"
WITH_ASSOC_FORMAT = (",Cl,ParentN,U,Share,Priority,GrpJ,GrpN,GrpCPUs,GrpMEM,GrpS,GrpWall,GrpCPUMins,MaxJ,MaxN,"
                     "MaxCPUs,MaxS,MaxW,MaxCPUMins,QOS,DefaultQOS")
USER_FORMAT = "U,DefaultA,Ad"
USER_ASSOC_FORMAT = ",Cl,Acc,Part,Share,Priority,MaxJ,MaxN,MaxCPUs,MaxS,MaxW,MaxCPUMins,QOS,DefaultQOS"
ASSOC_FORMAT = "Cluster,Account,User,Part"
ASSOC_LIMITS_FORMAT = (",Share,Priority,GrpJ,GrpTRES,GrpS,GrpWall,GrpTRESMins,MaxJ,MaxTRES,MaxTRESPerN,MaxS,MaxW,"
                       "MaxTRESMins,QOS,DefaultQOS,GrpTRESRunMins")
QOS_FORMAT = ("Name,Prio,GraceT,Preempt,PreemptE,PreemptM,Flags%40,UsageThres,UsageFactor,GrpTRES,GrpTRESMins,"
              "GrpTRESRunMins,GrpJ,GrpS,GrpW,MaxTRES,MaxTRESPerN,MaxTRESMins,MaxW,MaxTRESPerUser,MaxJobsPerUser,"
              "MaxSubmitJobsPerUser,MaxTRESPerAcct,MaxJobsPerAcct,MaxSubmitJobsPerAcct,MinTRES")


@dataclass(frozen=True, slots=True)
class Field:
    """One printed column: its header, width (negative: left-justified), and the value it shows."""

    header: str
    width: int
    is_text: bool    # cut to the width (ending in "+") when longer; numbers and times never are
    key: str         # the value's key in a row ("" for one JEM has no notion of)


def _entries():
    for line in _TABLE.strip().splitlines():
        names, header, width, kind, key = line.split("|")
        prefixes = [(n, int(least)) for n, least in (p.split(":") for p in names.split(","))]
        yield prefixes, Field(header, int(width), kind == "s", key)


ENTRIES = tuple(_entries())


def matches(word: str, name: str, least: int) -> bool:
    """Slurm's `!xstrncasecmp(name, word, MAX(strlen(word), least))`: `word` is a prefix of `name`
    at least `least` long (or all of it)."""
    n = max(len(word), least)
    return name.lower()[:n] == word.lower()[:n]


class UnknownField(Exception):
    """A format= name no field answers to (Slurm: `Unknown field 'X'`)."""


def parse_format(items: list[str], *, is_tree: bool = False) -> list[Field]:
    """format= items (`name`, `name%width`) -> fields; `Account` is 20 wide, left, in a tree."""
    fields = []
    for item in items:
        name, _, digits = item.partition("%")
        for prefixes, field in ENTRIES:
            if any(matches(name, p, least) for p, least in prefixes):
                break
        else:
            raise UnknownField(name)
        if field.key == "account" and is_tree:
            field = Field(field.header, -20, True, "account")
        width = _atoi(digits)
        fields.append(Field(field.header, width, field.is_text, field.key) if width else field)
    return fields


def _atoi(text: str) -> int:
    """C's atoi: the leading signed digits, 0 without any."""
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
    count = len(digits) - len(digits.lstrip("0123456789"))
    return sign * int(digits[:count]) if count else 0


@dataclass(frozen=True, slots=True)
class Style:
    """How tables print: -p (PARSABLE), -P (PARSABLE2), and -n (no header)."""

    parsable: int = 0          # 0, 1 (-p: a "|" after every cell) or 2 (-P: "|" between cells)
    has_header: bool = True


def render(fields: list[Field], rows: list[dict[str, str]], style: Style) -> str:
    """The table as Slurm prints it (every line ends in a newline)."""
    lines = []
    if style.has_header:
        if style.parsable:
            lines.append(_joined([f.header for f in fields], style))
        else:
            lines.append("".join(f"{_justified(f.header[:abs(f.width)], f.width)} " for f in fields))
            lines.append("".join("-" * abs(f.width) + " " for f in fields))
    for row in rows:
        values = [row.get(f.key, "") if f.key else "" for f in fields]
        if style.parsable:
            lines.append(_joined(values, style))
        else:
            lines.append("".join(f"{_justified(_cut(v, f), f.width)} " for v, f in zip(values, fields)))
    return "".join(line + "\n" for line in lines)


def _joined(values: list[str], style: Style) -> str:
    return "|".join(values) + ("|" if style.parsable == 1 else "")


def _cut(value: str, field: Field) -> str:
    width = abs(field.width)
    return value[:width - 1] + "+" if field.is_text and len(value) > width else value


def _justified(value: str, width: int) -> str:
    return value.rjust(width) if width > 0 else value.ljust(-width)


# ------------------------------------------------------------------ values


def _number(value: int | None) -> str:
    return "" if value is None else str(value)


def _tres_count(tres, name: str) -> str:
    return str(tres[name]) if name in tres else ""


def flags_text(flags) -> str:
    """QOS flags in Slurm's order (QosFlag lists them in it)."""
    return ",".join(f.value for f in QosFlag if f in flags)


def association_values(a: Association, *, default_qos: str, cluster: str) -> dict[str, str]:
    """What an association's fields show (Max* limits and QOS as they apply, from `effective`);
    `cluster` is the cluster's name."""
    limits = a.limits
    return {
        "account": a.account, "user": a.user, "cluster": cluster, "share": str(a.shares),
        "parent": "" if a.is_user else a.parent, "qos": ",".join(sorted(a.qos)), "default_qos": default_qos,
        "grp_jobs": _number(limits.grp_jobs), "grp_submit": _number(limits.grp_submit_jobs),
        "grp_tres": format_tres(limits.grp_tres), "grp_tres_run_mins": format_tres(limits.grp_tres_run_mins),
        "grp_cpus": _tres_count(limits.grp_tres, "cpu"), "grp_mem": _tres_count(limits.grp_tres, "mem"),
        "grp_nodes": _tres_count(limits.grp_tres, "node"),
        "grp_cpu_run_mins": _tres_count(limits.grp_tres_run_mins, "cpu"),
        "max_jobs": _number(limits.max_jobs), "max_submit": _number(limits.max_submit_jobs),
        "max_tres": format_tres(limits.max_tres_per_job), "max_cpus": _tres_count(limits.max_tres_per_job, "cpu"),
        "max_nodes": _tres_count(limits.max_tres_per_job, "node"),
        "max_wall": "" if limits.max_wall_s is None else hms(limits.max_wall_s),
    }


def account_values(a: Association) -> dict[str, str]:
    """An account's own fields. Root without a description shows what Slurm gives its root."""
    is_bare_root = a.account == "root" and not a.description and not a.organization
    return {"account": a.account, "description": "default root account" if is_bare_root else a.description,
            "organization": "root" if is_bare_root else a.organization}


def qos_values(q: Qos) -> dict[str, str]:
    limits = q.limits
    return {
        "name": q.name, "description": q.description, "priority": str(q.priority), "grace": hms(q.grace_time_s),
        "preempt": ",".join(sorted(q.preempt)), "flags": flags_text(q.flags),
        "preempt_mode": "cluster" if q.preempt_mode is PreemptMode.OFF else q.preempt_mode.value.lower(),
        "preempt_exempt": "" if q.preempt_exempt_time_s is None else hms(q.preempt_exempt_time_s),
        "usage_factor": "1.000000",   # JEM counts a QOS's usage as it is
        "grp_jobs": _number(limits.grp_jobs), "grp_submit": _number(limits.grp_submit_jobs),
        "grp_tres": format_tres(limits.grp_tres), "grp_tres_run_mins": format_tres(limits.grp_tres_run_mins),
        "grp_cpus": _tres_count(limits.grp_tres, "cpu"), "grp_mem": _tres_count(limits.grp_tres, "mem"),
        "grp_nodes": _tres_count(limits.grp_tres, "node"),
        "grp_cpu_run_mins": _tres_count(limits.grp_tres_run_mins, "cpu"),
        "max_tres": format_tres(limits.max_tres_per_job), "max_cpus": _tres_count(limits.max_tres_per_job, "cpu"),
        "max_nodes": _tres_count(limits.max_tres_per_job, "node"), "max_tres_pu": format_tres(limits.max_tres_per_user),
        "max_cpus_pu": _tres_count(limits.max_tres_per_user, "cpu"),
        "max_nodes_pu": _tres_count(limits.max_tres_per_user, "node"),
        "max_jobs": _number(limits.max_jobs), "max_submit": _number(limits.max_submit_jobs),
        "max_wall": "" if limits.max_wall_s is None else hms(limits.max_wall_s),
    }


# ------------------------------------------------------------------ add's settings summaries


def _limit_text(name: str, value) -> str:
    if isinstance(value, int):
        return "NONE" if value == UNSET else hms(value) if name == "max_wall_s" else str(value)
    return format_tres(value)


_ASSOC_LIMIT_LINES = (("grp_jobs", "GrpJobs"), ("grp_submit_jobs", "GrpSubmitJobs"), ("grp_tres", "GrpTRES"),
                      ("grp_tres_run_mins", "GrpTRESRunMins"), ("max_jobs", "MaxJobs"),
                      ("max_submit_jobs", "MaxSubmitJobs"), ("max_tres_per_job", "MaxTRES"), ("max_wall_s", "MaxWall"))


def association_settings(change, *, parent: str = "") -> str:
    """Slurm's sacctmgr_print_assoc_limits for the settings of an `add account` or `add user`."""
    lines = [("Fairshare", str(change.shares))] if change.shares is not None else []
    lines += [(label, _limit_text(name, change.limits[name])) for name, label in _ASSOC_LIMIT_LINES
              if name in change.limits]
    if parent:
        lines.append(("Parent", parent))
    qos = ",".join(sorted(change.qos or ())) + "".join(f",+{q}" for q in change.qos_added) + \
        "".join(f",-{q}" for q in change.qos_removed)
    if qos.strip(","):
        lines.append(("QOS", qos.strip(",")))
    if change.default_qos:
        lines.append(("DefQOS", change.default_qos))
    return "".join(f"  {label:<14}= {text}\n" for label, text in lines)


_QOS_LIMIT_LINES = (("grp_jobs", "GrpJobs"), ("grp_submit_jobs", "GrpSubmitJobs"), ("grp_tres", "GrpTRES"),
                    ("grp_tres_run_mins", "GrpTRESRunMins"), ("max_jobs", "MaxJobsPerUser"),
                    ("max_submit_jobs", "MaxSubmitJobsPerUser"), ("max_tres_per_job", "MaxTRESPerJob"),
                    ("max_tres_per_user", "MaxTRESPerUser"), ("max_wall_s", "MaxWall"))


def qos_settings(change) -> str:
    """Slurm's sacctmgr_print_qos_limits for the settings of an `add qos` (its odd `MaxJobsPerUser =`
    alignment included)."""
    lines = []
    flags = (change.flags or frozenset()) | change.flags_added
    if flags:
        lines.append(("Flags", flags_text(flags)))
    if change.grace_time_s is not None:
        lines.append(("GraceTime", str(change.grace_time_s)))
    lines += [(label, _limit_text(name, change.limits[name])) for name, label in _QOS_LIMIT_LINES
              if name in change.limits]
    if change.preempt:
        lines.append(("Preempt", ",".join(sorted(change.preempt))))
    if change.preempt_mode is not None and change.preempt_mode is not PreemptMode.OFF:
        lines.append(("PreemptMode", change.preempt_mode.value))
    if change.preempt_exempt_time_s is not None:
        exempt = change.preempt_exempt_time_s
        lines.append(("PreemptExemptTime", "NONE" if exempt == UNSET else hms(exempt)))
    if change.priority is not None:
        lines.append(("Priority", str(change.priority)))
    return "".join(f"  {label} = {text}\n" if label == "MaxJobsPerUser" else f"  {label:<25}= {text}\n"
                   for label, text in lines)


# ------------------------------------------------------------------ orders and change listings


def name_key(a: Association):
    """Associations in name order: an account's own before its users'."""
    return (a.account, a.is_user, a.user)


def hierarchy(assocs: list[Association]) -> list[tuple[int, Association]]:
    """(depth, association) in Slurm's hierarchical order: an account, its users by name, then its
    sub-accounts by name (each followed by its own); one whose parent is not listed starts a tree.

    >>> [(d, a.account, a.user) for d, a in hierarchy([Association("root", parent=""),
    ...     Association("b"), Association("a"), Association("b", "u")])]
    [(0, 'root', ''), (1, 'a', ''), (1, 'b', ''), (2, 'b', 'u')]
    """
    accounts = {a.account for a in assocs if not a.is_user}
    children: dict[str, list[Association]] = {}
    roots = []
    for a in assocs:
        parent = a.account if a.is_user else a.parent
        (children.setdefault(parent, []) if parent in accounts else roots).append(a)
    order: list[tuple[int, Association]] = []
    todo = [(0, a) for a in sorted(roots, key=_sibling_key, reverse=True)]
    while todo:
        depth, a = todo.pop()
        order.append((depth, a))
        if not a.is_user:
            todo += [(depth + 1, c) for c in sorted(children.get(a.account, ()), key=_sibling_key, reverse=True)]
    return order


def _sibling_key(a: Association):
    return (not a.is_user, a.user or a.account, a.account)


def change_line(a: Association, *, cluster: str, account_width: int = 20) -> str:
    """An association of cluster `cluster` changed or deleted, as slurmdbd names it: `C = x A = acct
    of parent`, or `C = x A = acct U = user` (deletions pad the account to 10, modifications to 20)."""
    if a.is_user:
        return f"  C = {cluster:<10} A = {a.account:<{account_width}} U = {a.user:<9}"
    return f"  C = {cluster:<10} A = {a.account}" + (f" of {a.parent}" if a.parent else "")


def qos_order(qos: list) -> list:
    """Slurm lists QOS by id: "normal", its first, then (JEM has no ids) by name."""
    return sorted(qos, key=lambda q: (q.name != "normal", q.name))


def _sets_itself(a, name: str) -> bool:
    """Whether association `a` sets `name` itself (slurmdbd hands a MaxTRES change down regardless)."""
    if name in ("default_qos", "qos"):
        return bool(getattr(a, name))
    return name != "max_tres_per_job" and getattr(a.limits, name) is not None


def inheriting_users(account: str, names: set[str], everything: list) -> list:
    """The users of `account`, and of its sub-accounts that do not set some of `names`, that take
    one of `names` from it (slurmdbd's _modify_unset_users)."""
    found = [a for a in sorted(everything, key=name_key) if a.is_user and a.account == account
             and not all(_sets_itself(a, n) for n in names)]
    for sub in sorted((a for a in everything if not a.is_user and a.parent == account), key=name_key):
        left = {n for n in names if not _sets_itself(sub, n)}
        if left:
            found += inheriting_users(sub.account, left, everything)
    return found
