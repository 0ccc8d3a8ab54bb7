"""A user's crontab (scrontab): its text's lines read into entries, and the record the controller keeps.

Lines are numbered from 1. Each line is blank, a comment (`#`), an `#SCRON` line (sbatch
options for the next entry only), a variable setting (`NAME=value`, `NAME = "value"`), or
an entry: a schedule (jem.model.cron) and a command. An entry spans from its first #SCRON
line (since the previous entry) to its cron line: those are the lines scrontab -l shows
`#DISABLED: ` before once its job was cancelled, as Slurm does.

A variable's `$NAME` is replaced in the commands of the entries after it (only those, as
Slurm does; the user's own environment is not used). Where Slurm differs: its names are
letters and digits only and it replaces the first `$NAME` of a command; here names are shell
names (letters, digits, `_`) and every `$NAME` is replaced, `$NAMEX` being another name.
`${NAME}` is left for the shell, which does not know it.
"""

import re
from dataclasses import dataclass, field

from jem.model.cron import Schedule, parse_schedule, split_entry
from jem.model.errors import InvalidCrontab
from jem.model.job import JobSpec

SCRON = "#SCRON"
DISABLED_PREFIX = "#DISABLED: "    # scrontab -l's mark on the lines of an entry whose job was cancelled
BAD_PREFIX = "#BAD: "              # scrontab -e's mark on the lines it refused
_SETTING = re.compile(r"[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*=[ \t]*(.*)", re.S)
_REFERENCE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True, slots=True)
class Entry:
    """One cron entry as written: its lines, schedule, command and #SCRON options."""

    first_line: int                    # its first #SCRON line, or its cron line
    last_line: int                     # its cron line
    schedule: Schedule
    schedule_text: str                 # as written, fields joined by one space ("@hourly", "*/5 * * * *")
    command: str                       # with the variables set before it replaced
    option_lines: tuple[tuple[int, str], ...] = ()   # its #SCRON lines: (number, the line as written)

    @property
    def lines(self) -> str:
        """Its lines as scrontab names them: "3-4"."""
        return f"{self.first_line}-{self.last_line}"


@dataclass(frozen=True, slots=True)
class EntryRequest:
    """What a client sends for one entry: its schedule as written (to be checked against the
    text), the job it built from the entry's #SCRON options and command, and its signature."""

    schedule: str
    spec: JobSpec
    user_signature: str = ""


@dataclass(frozen=True, slots=True)
class InstalledEntry:
    """An entry the controller accepted, and the job that runs it."""

    first_line: int
    last_line: int
    schedule: str                      # canonical (Schedule.text): what the controller parsed
    job_id: int


@dataclass(frozen=True, slots=True)
class Crontab:
    """A user's installed crontab: the text as given, its entries' jobs, and the lines of the
    entries whose jobs were cancelled since (shown disabled)."""

    user: str
    text: str
    entries: tuple[InstalledEntry, ...] = ()
    disabled_lines: frozenset[int] = field(default_factory=frozenset)

    def entry_of_job(self, job_id: int) -> InstalledEntry | None:
        return next((entry for entry in self.entries if entry.job_id == job_id), None)


def lines_of(text: str) -> list[str]:
    """The text's lines (a last line without a newline counts; a final newline adds none)."""
    lines = text.split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def parse_crontab(text: str) -> tuple[Entry, ...]:
    """The entries of a crontab, in order; InvalidCrontab (its `line` set) at the first line
    that is not valid. #SCRON lines after the last entry belong to no entry and are ignored."""
    entries: list[Entry] = []
    variables: dict[str, str] = {}
    first_line, option_lines = 0, []
    for number, line in enumerate(lines_of(text), start=1):
        content = line.lstrip(" \t")
        if not content:
            continue
        if content.startswith(SCRON):
            first_line = first_line or number
            option_lines.append((number, line))
            continue
        if content.startswith("#"):
            continue
        setting = _SETTING.fullmatch(line)
        if setting is not None:
            name, value = setting.group(1), _setting_value(setting.group(2), number)
            variables[name] = value
            continue
        try:
            schedule_text, command = split_entry(content)
            schedule = parse_schedule(schedule_text)
        except InvalidCrontab as exc:
            raise InvalidCrontab(f"line {number}: {exc.detail}", line=number) from None
        command = _REFERENCE.sub(lambda m: variables.get(m.group(1), m.group(0)), command)
        entries.append(Entry(first_line or number, number, schedule, schedule_text, command, tuple(option_lines)))
        first_line, option_lines = 0, []
    return tuple(entries)


def scron_arguments(line: str) -> list[str]:
    """The sbatch options of an #SCRON line: what follows `#SCRON`, split at blanks (no quoting,
    as Slurm reads them)."""
    content = line.lstrip(" \t")
    return content[len(SCRON):].split() if content.startswith(SCRON) else []


def _setting_value(text: str, number: int) -> str:
    """A setting's value: what a pair of quotes holds (only blanks may follow), else the rest."""
    if text[:1] in ("'", '"'):
        end = text.find(text[0], 1)
        if end < 0 or text[end + 1:].strip(" \t"):
            raise InvalidCrontab(f"line {number}: the quoted value is not closed, or text follows it", line=number)
        return text[1:end]
    return text


def with_marked_lines(text: str, lines: set[int] | frozenset[int], prefix: str) -> str:
    """`text` with `prefix` before each of the numbered lines; unchanged when there are none
    (else, as Slurm writes it, every line ends with a newline)."""
    if not lines:
        return text
    return "".join(f"{prefix if number in lines else ''}{line}\n"
                   for number, line in enumerate(lines_of(text), start=1))


def line_numbers(first: int, last: int) -> frozenset[int]:
    return frozenset(range(first, last + 1))
