"""Job mail: the events a job's user may be mailed about (sbatch --mail-type) and who is mailed
(--mail-user), parsed and checked as Slurm 22.05 parses them.

A job keeps its mail types as canonical text (`JobSpec.mail_type`: Slurm's names in Slurm's
order, comma-separated, "" for none), as it keeps its --array and --dependency text.

>>> sorted(t.value for t in parse_mail_type("begin,End"))
['BEGIN', 'END']
>>> mail_type_text(parse_mail_type("ALL"))
'INVALID_DEPEND,BEGIN,END,FAIL,REQUEUE,STAGE_OUT'
"""

import enum
import re


class MailType(enum.Enum):
    """One mail event, by Slurm's name; members in the order Slurm prints them (print_mail_type)."""

    ARRAY_TASKS = "ARRAY_TASKS"          # mail each array task instead of the array as a whole
    INVALID_DEPEND = "INVALID_DEPEND"
    BEGIN = "BEGIN"
    END = "END"
    FAIL = "FAIL"
    REQUEUE = "REQUEUE"
    STAGE_OUT = "STAGE_OUT"              # (burst buffers: JEM has none, so never sent)
    TIME_LIMIT_50 = "TIME_LIMIT_50"
    TIME_LIMIT_80 = "TIME_LIMIT_80"
    TIME_LIMIT_90 = "TIME_LIMIT_90"
    TIME_LIMIT = "TIME_LIMIT"


# What sbatch's ALL stands for (sbatch(1): BEGIN, END, FAIL, INVALID_DEPEND, REQUEUE, STAGE_OUT).
ALL_MAIL_TYPES = frozenset({MailType.BEGIN, MailType.END, MailType.FAIL, MailType.INVALID_DEPEND,
                            MailType.REQUEUE, MailType.STAGE_OUT})
# The time-limit mails with the share of the limit each is sent at (percent), in the order Slurm
# checks them each pass: several due at once go out 100 first.
TIME_LIMIT_SHARES = ((MailType.TIME_LIMIT, 100), (MailType.TIME_LIMIT_90, 90), (MailType.TIME_LIMIT_80, 80),
                     (MailType.TIME_LIMIT_50, 50))
_BY_NAME = {t.value: t for t in MailType}

MAX_MAIL_USER_LEN = 254   # RFC 5321's limit on a forward path: no address is longer
# A user name, or user@domain: a conservative part of RFC 5322's atoms. Nothing a mail program
# could read as an option ('-' first), a pipe or file recipient ('|', '/'), a list (',', space)
# or a header line (control characters).
_MAIL_USER = re.compile(r"[A-Za-z0-9_%+=][A-Za-z0-9._%+=-]*(@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)?")


def parse_mail_type(text: str) -> frozenset[MailType]:
    """The types of one --mail-type value, as Slurm 22.05's parse_mail_type reads it: names
    are case-insensitive, ALL adds BEGIN, END, FAIL, INVALID_DEPEND, REQUEUE and STAGE_OUT, NONE
    stops the reading with nothing (so "BEGIN,NONE" is none), and names it does not know are
    skipped. ValueError when nothing known is named (Slurm's "Invalid --mail-type
    specification").

    >>> parse_mail_type("NONE"), sorted(t.value for t in parse_mail_type("fail,bogus"))
    (frozenset(), ['FAIL'])
    """
    found: set[MailType] = set()
    for token in text.split(","):
        name = token.strip().upper()
        if name == "NONE":
            return frozenset()
        if name == "ALL":
            found |= ALL_MAIL_TYPES
        elif name in _BY_NAME:
            found.add(_BY_NAME[name])
    if not found:
        raise ValueError(f"invalid mail type {text!r}: expected some of NONE, ALL, "
                         f"{', '.join(_BY_NAME)}")
    return frozenset(found)


def mail_type_text(types) -> str:
    """The canonical text of a set of types: Slurm's names in Slurm's order ("" for none)."""
    return ",".join(t.value for t in MailType if t in types)


def mail_types_of(text: str) -> frozenset[MailType]:
    """The types in a job's canonical `mail_type` text; ValueError naming one that is not a type.

    >>> mail_types_of("BEGIN,END") == {MailType.BEGIN, MailType.END}
    True
    """
    if not text:
        return frozenset()
    types = set()
    for name in text.split(","):
        if name not in _BY_NAME:
            raise ValueError(f"unknown mail type {name!r}: expected some of {', '.join(_BY_NAME)}")
        types.add(_BY_NAME[name])
    return frozenset(types)


def check_mail_user(text: str) -> None:
    """ValueError unless `text` is "" (the submitting user) or one plain address or user name.

    >>> check_mail_user("ann@example.org"), check_mail_user("ann")
    (None, None)
    """
    if not text:
        return
    if len(text) > MAX_MAIL_USER_LEN:
        raise ValueError(f"{len(text)} characters, more than {MAX_MAIL_USER_LEN}")
    if not _MAIL_USER.fullmatch(text):
        raise ValueError(f"{text!r} is not an address (user@host) or a user name: it may hold letters, digits and "
                         f"._%+=- (not first: . or -), with one @ before a host name")


def mail_recipient(mail_user: str, user: str, domain: str) -> str:
    """Who a job's mail goes to: its --mail-user, else its user with the site's MailDomain
    appended when there is one (Slurm's _get_mail_user).

    >>> mail_recipient("", "ann", "example.org"), mail_recipient("bo@x.org", "ann", "example.org")
    ('ann@example.org', 'bo@x.org')
    """
    if mail_user:
        return mail_user
    return f"{user}@{domain}" if domain else user
