"""sacctmgr's `Name=Value` settings of associations and QOS, parsed into typed changes.

Names are Slurm's and case-insensitive, with its short forms (MaxTRES for
MaxTRESPerJob, MaxJobsPU for MaxJobsPerUser, ...). A value of -1 clears a
limit; `QOS+=high` and `QOS-=low` (and `Flags+=`/`Flags-=`) add to or take
from a list. Times are Slurm time limits (`1:00:00`, `2-0`); TRES are
`cpu=4,mem=8G,gres/gpu=2` (jem.model.tres). Every error is an InvalidSetting
naming the setting.

>>> parse_association_settings(["MaxJobs=5", "GrpTRES=cpu=8"]).limits
{'max_jobs': 5, 'grp_tres': Tres(cpu=8)}
"""

from collections.abc import Iterable

from jem.model.accounting import UNSET, AssociationChange, QosChange
from jem.model.associations import Limits, PreemptMode, QosFlag
from jem.model.errors import InvalidSetting
from jem.model.tres import format_tres, parse_tres
from jem.model.units import format_duration, parse_time_limit

# Setting name (lower case) -> Limits field, for associations and for QOS.
_ASSOC_LIMITS = {
    "grptres": "grp_tres", "grptresrunmins": "grp_tres_run_mins", "grpjobs": "grp_jobs",
    "grpsubmitjobs": "grp_submit_jobs", "grpsubmit": "grp_submit_jobs",
    "maxtres": "max_tres_per_job", "maxtresperjob": "max_tres_per_job", "maxtrespj": "max_tres_per_job",
    "maxjobs": "max_jobs", "maxsubmitjobs": "max_submit_jobs", "maxsubmit": "max_submit_jobs",
    "maxwall": "max_wall_s", "maxwalldurationperjob": "max_wall_s",
}
_QOS_LIMITS = {
    "grptres": "grp_tres", "grptresrunmins": "grp_tres_run_mins", "grpjobs": "grp_jobs",
    "grpsubmitjobs": "grp_submit_jobs", "grpsubmit": "grp_submit_jobs",
    "maxtres": "max_tres_per_job", "maxtresperjob": "max_tres_per_job", "maxtrespj": "max_tres_per_job",
    "maxtresperuser": "max_tres_per_user", "maxtrespu": "max_tres_per_user",
    "maxjobsperuser": "max_jobs", "maxjobspu": "max_jobs",
    "maxsubmitjobsperuser": "max_submit_jobs", "maxsubmitjobspu": "max_submit_jobs", "maxsubmitpu": "max_submit_jobs",
    "maxwall": "max_wall_s", "maxwalldurationperjob": "max_wall_s",
}
_FLAGS = {f.value.lower(): f for f in QosFlag}
_MODES = {m.value.lower(): m for m in PreemptMode}


def split_setting(item: str) -> tuple[str, str, str]:
    """`Name=Value`, `Name+=Value` or `Name-=Value` -> (name in lower case, "=", "+=" or "-=", value)."""
    name, sep, value = item.partition("=")
    if not sep or not name:
        raise InvalidSetting(f"{item!r}: expected Name=Value")
    op = "="
    if name[-1] in "+-":
        op, name = name[-1] + "=", name[:-1]
    return name.strip().lower(), op, value.strip()


def parse_association_settings(items: Iterable[str]) -> AssociationChange:
    fields: dict[str, object] = {}
    limits: dict[str, object] = {}
    for item in items:
        name, op, value = split_setting(item)
        if name in ("qos", "qoslevel"):
            names = _names(value)
            if op == "=":
                fields["qos"] = () if value in ("", "-1", "''") else names
            else:
                fields["qos_added" if op == "+=" else "qos_removed"] = names
            continue
        _only_assign(item, op)
        if name in _ASSOC_LIMITS:
            limits[_ASSOC_LIMITS[name]] = _limit_value(item, _ASSOC_LIMITS[name], value)
        elif name in ("fairshare", "shares"):
            fields["shares"] = _count(item, value, least=0)
        elif name in ("defaultqos", "defqos"):
            fields["default_qos"] = "" if value == "-1" else value
        elif name in ("description", "organization", "parent", "defaultaccount"):
            fields["default_account" if name == "defaultaccount" else name] = value
        else:
            raise InvalidSetting(f"{item!r}: unknown setting for an account or user")
    return AssociationChange(limits=limits, **fields)   # type: ignore[arg-type]


def parse_qos_settings(items: Iterable[str]) -> QosChange:
    fields: dict[str, object] = {}
    limits: dict[str, object] = {}
    for item in items:
        name, op, value = split_setting(item)
        if name == "flags":
            flags = frozenset() if value in ("-1", "") else frozenset(_flag(item, f) for f in _names(value))
            fields[{"=": "flags", "+=": "flags_added", "-=": "flags_removed"}[op]] = flags
            continue
        _only_assign(item, op)
        if name in _QOS_LIMITS:
            limits[_QOS_LIMITS[name]] = _limit_value(item, _QOS_LIMITS[name], value)
        elif name == "priority":
            fields["priority"] = 0 if value == "-1" else _count(item, value, least=0)
        elif name == "description":
            fields["description"] = value
        elif name == "preempt":
            fields["preempt"] = () if value in ("", "-1", "''") else _names(value)
        elif name == "preemptmode":
            mode = _MODES.get(value.lower())
            if mode is None:
                raise InvalidSetting(f"{item!r}: expected one of {', '.join(m.value for m in PreemptMode)}")
            fields["preempt_mode"] = mode
        elif name == "gracetime":
            fields["grace_time_s"] = 0 if value == "-1" else _count(item, value, least=0)   # (seconds, as Slurm's)
        elif name == "preemptexempttime":
            fields["preempt_exempt_time_s"] = UNSET if value == "-1" else _seconds(item, value)
        else:
            raise InvalidSetting(f"{item!r}: unknown setting for a QOS")
    return QosChange(limits=limits, **fields)   # type: ignore[arg-type]


def _only_assign(item: str, op: str) -> None:
    if op != "=":
        raise InvalidSetting(f"{item!r}: only QOS and Flags take += and -=")


def _names(value: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip()))


def _flag(item: str, name: str) -> QosFlag:
    flag = _FLAGS.get(name.lower())
    if flag is None:
        raise InvalidSetting(f"{item!r}: JEM knows the QOS flags {', '.join(f.value for f in QosFlag)}")
    return flag


def _count(item: str, value: str, *, least: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise InvalidSetting(f"{item!r}: expected a whole number") from None
    if number < least:
        raise InvalidSetting(f"{item!r}: expected a whole number of at least {least}")
    return number


def _seconds(item: str, value: str) -> int:
    """A time in Slurm's forms (a bare number is minutes), in seconds."""
    try:
        seconds = parse_time_limit(value)
    except ValueError as exc:
        raise InvalidSetting(f"{item!r}: {exc}") from None
    return seconds or 0


def _limit_value(item: str, field: str, value: str) -> object:
    if "tres" in field:
        try:
            return parse_tres(value, allow_clear=True)
        except ValueError as exc:
            raise InvalidSetting(f"{item!r}: {exc}") from None
    if value == "-1":
        return UNSET
    if field == "max_wall_s":
        seconds = _seconds(item, value)
        return seconds if seconds else UNSET
    return _count(item, value, least=0)


# Each limit's name as sacctmgr shows it (Slurm's long names), for associations and for QOS.
ASSOCIATION_LIMIT_NAMES = {"grp_tres": "GrpTRES", "grp_tres_run_mins": "GrpTRESRunMins", "grp_jobs": "GrpJobs",
                           "grp_submit_jobs": "GrpSubmitJobs", "max_tres_per_job": "MaxTRES", "max_jobs": "MaxJobs",
                           "max_submit_jobs": "MaxSubmitJobs", "max_wall_s": "MaxWall"}
QOS_LIMIT_NAMES = ASSOCIATION_LIMIT_NAMES | {"max_tres_per_user": "MaxTRESPerUser", "max_jobs": "MaxJobsPerUser",
                                             "max_submit_jobs": "MaxSubmitJobsPerUser"}


def limit_settings(limits: Limits, *, is_qos: bool) -> list[str]:
    """The limits set, as `Name=Value` settings this module parses back (MaxWall as Slurm prints times)."""
    names = QOS_LIMIT_NAMES if is_qos else ASSOCIATION_LIMIT_NAMES
    settings = []
    for field, name in names.items():
        value = getattr(limits, field)
        if value is None or (not isinstance(value, int) and not value):
            continue
        text = format_duration(value) if field == "max_wall_s" else \
            format_tres(value) if not isinstance(value, int) else str(value)
        settings.append(f"{name}={text}")
    return settings
