"""Cron schedules (scrontab's five fields or @ words): parsing, Slurm's canonical text, and the
next time a schedule falls due, on the controller's local clock.

What parses is what Slurm 22.05's scrontab accepts, with three exceptions: minute 60 and
hour 24 (which Slurm reads as 0) and a step after a single value (`5/10`) are refused.

    minute        0-59
    hour          0-23
    day of month  1-31
    month         1-12, or one name: jan ... dec
    day of week   0-7 (0 and 7 are Sunday), or one name: sun ... sat

A field is `*`, `*/STEP`, a list of values and ranges (`1-5,30`) whose last range may take a
step (`1-5,20-40/10`), or one name (month and day of week only; names are three letters,
any case). A step is 2 or more and less than the field's size (Slurm's bound). Shortcuts:
@yearly and @annually (`0 0 1 1 *`), @monthly (`0 0 1 * *`), @weekly (`0 0 * * 0`), @daily
and @midnight (`0 0 * * *`), @hourly (`0 * * * *`).

Where Slurm's steps differ: Slurm keeps the values of a field that fall on the step counted
from the field's first value (so `1-10/3` is 3,6,9 there, and `*/2` in the day of week
starts at Monday); JEM counts as cron does, from the range's start (`1-10/3` is 1,4,7,10;
`*/2` days of week are Sunday, Tuesday, Thursday, Saturday).

Days: when both the day of month and the day of week are restricted (not `*`), a day matches
either (cron's rule, and Slurm's); `*/2` restricts. A day of month that no month of the
schedule has (`31 4 * *` ... `30 2`) is refused, as Slurm refuses it; Feb 29 is allowed.

Time is the controller's local time, to the minute (Slurm's "the controller's timezone").
The next run after a moment T is the first wall-clock minute after T's that matches, taken
at the first instant after T that the clock shows it. So when the clock springs forward, a
time it skips runs as soon as the clock has jumped (02:30 runs at 03:30, as glibc's mktime
places it, which Slurm uses); when it falls back, a time in the hour it repeats runs once, in
its first pass; a schedule that runs more often than hourly pauses for the repeated hour
(the wall clock goes back to times already passed), as in Slurm.
"""

import bisect
import datetime as dt
import re
from dataclasses import dataclass

from jem.model.errors import InvalidCrontab
from jem.model.idlists import id_list_text

MINUTE, HOUR, DAY, MONTH, WEEKDAY = range(5)
_NAMES = ("minute", "hour", "day of month", "month", "day of week")
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_STEP_LIMITS = (61, 25, 32, 13, 8)        # a step must be below these (Slurm's bitstring sizes)
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
SHORTCUTS = {
    "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}
_LIST = re.compile(r"\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*", re.ASCII)
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)   # (February's longest)
LAST_YEAR = 9999                        # datetime's: a schedule due after it never comes


@dataclass(frozen=True, slots=True)
class Schedule:
    """The minutes, hours, days of month, months and days of week (0 Sunday ... 6) a schedule
    runs at, each sorted, and which fields were a plain `*` (that decides how days combine
    and how the schedule is written back)."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: tuple[int, ...]
    months: tuple[int, ...]
    weekdays: tuple[int, ...]
    wildcards: frozenset[int]             # MINUTE, HOUR, ... of the fields written `*`

    @property
    def text(self) -> str:
        """The schedule written back as Slurm writes it (scontrol's CrontabSpec): `*` for a
        wildcard, else the values with runs as ranges.

        >>> parse_schedule("*/20 9-17/4 * * mon").text
        '0,20,40 9,13,17 * * 1'
        """
        fields = (self.minutes, self.hours, self.days, self.months, self.weekdays)
        return " ".join("*" if index in self.wildcards else id_list_text(values) for index, values in enumerate(fields))

    def matches_date(self, date: dt.date) -> bool:
        """Whether the schedule runs on `date` at all (its month, and its day of month or week)."""
        if date.month not in self.months:
            return False
        by_day = date.day in self.days
        by_weekday = (date.weekday() + 1) % 7 in self.weekdays
        if DAY in self.wildcards and WEEKDAY in self.wildcards:
            return True
        if DAY in self.wildcards:
            return by_weekday
        if WEEKDAY in self.wildcards:
            return by_day
        return by_day or by_weekday

    def first_time_from(self, minute_of_day: int) -> dt.time | None:
        """The first time of day at or after `minute_of_day` (0-1439) the schedule runs at."""
        hour, minute = divmod(minute_of_day, 60)
        at = bisect.bisect_left(self.hours, hour)
        if at == len(self.hours):
            return None
        if self.hours[at] == hour:
            later = bisect.bisect_left(self.minutes, minute)
            if later < len(self.minutes):
                return dt.time(hour, self.minutes[later])
            at += 1
            if at == len(self.hours):
                return None
        return dt.time(self.hours[at], self.minutes[0])

    def next_wall_time(self, after: dt.datetime) -> dt.datetime | None:
        """The first wall-clock minute after `after` (a naive local time; its seconds are
        dropped) that the schedule runs at; None if none comes by the end of LAST_YEAR.
        Calendar arithmetic only: no time zone."""
        start = after.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        date, minute_of_day = start.date(), start.hour * 60 + start.minute
        while True:
            if date.month not in self.months:   # (the rest of this month is out: go to the next)
                if date.year == LAST_YEAR and date.month == 12:
                    return None
                date = dt.date(date.year + date.month // 12, date.month % 12 + 1, 1)
                minute_of_day = 0
                continue
            if self.matches_date(date):
                at = self.first_time_from(minute_of_day)
                if at is not None:
                    return dt.datetime.combine(date, at)
            if date == dt.date.max:
                return None
            date, minute_of_day = date + dt.timedelta(days=1), 0

    def next_after(self, t: float) -> float | None:
        """When the schedule next falls due after epoch second `t`, on the local clock (see
        the module's notes on daylight saving); None if never (past LAST_YEAR).

        The first instant after `t` at which the wall clock shows the next matching minute:
        in a repeated hour that is its later pass only when the earlier one is past."""
        after = dt.datetime.fromtimestamp(t)
        for _ in range(3):   # (a wall time whose every instant is past: look from it again)
            wall = self.next_wall_time(after)
            if wall is None:
                return None
            for fold in (0, 1):   # fold 0: the earlier instant (and, in a skipped hour, after the jump)
                instant = wall.replace(fold=fold).timestamp()
                if instant > t:
                    return instant
            after = wall
        return None


def parse_schedule(text: str) -> Schedule:
    """The schedule of five whitespace-separated fields or one @ word; InvalidCrontab naming
    what is wrong otherwise.

    >>> parse_schedule("@hourly").text
    '0 * * * *'
    >>> parse_schedule("1-5,30 8-17/2 * * wed").text
    '1-5,30 8,10,12,14,16 * * 3'
    """
    words = text.split()
    if len(words) == 1 and words[0].startswith("@"):
        expansion = SHORTCUTS.get(words[0].lower())
        if expansion is None:
            raise InvalidCrontab(f"{words[0]!r} is not one of {', '.join(SHORTCUTS)}")
        words = expansion.split()
    if len(words) != 5:
        raise InvalidCrontab(f"{len(words)} time fields where 5 (minute hour day-of-month month day-of-week) "
                             f"or one @ word are needed")
    values, wildcards = [], set()
    for index, word in enumerate(words):
        field_values, is_wildcard = _parse_field(word, index)
        values.append(field_values)
        if is_wildcard:
            wildcards.add(index)
    minutes, hours, days, months, weekdays = values
    weekdays = tuple(sorted({day % 7 for day in weekdays}))
    if DAY not in wildcards and not any(day <= _DAYS_IN_MONTH[month - 1] for day in days for month in months):
        raise InvalidCrontab(f"no month of the schedule has day {days[0]}")
    return Schedule(minutes, hours, days, months, weekdays, frozenset(wildcards))


def split_entry(line: str) -> tuple[str, str]:
    """(schedule text, command) of a cron line: the @ word or five fields, then, after blanks,
    the command (the rest of the line as written). InvalidCrontab if a part is missing."""
    rest = line.lstrip(" \t")
    n_fields = 1 if rest.startswith("@") else 5
    fields = []
    while len(fields) < n_fields:
        match = re.match(r"[^ \t]+", rest)
        if match is None:
            raise InvalidCrontab(f"unexpected end of line after {len(fields)} of {n_fields} time fields")
        fields.append(match.group())
        rest = rest[match.end():].lstrip(" \t")
    if not rest.strip():
        raise InvalidCrontab("the command is missing after the time fields")
    return " ".join(fields), rest


def _parse_field(word: str, index: int) -> tuple[tuple[int, ...], bool]:
    """(the field's values, whether it is a plain `*`)."""
    low, high = _BOUNDS[index]
    body, has_step, step_text = word.partition("/")
    step = _step(step_text, index) if has_step else 1
    if body == "*":
        return tuple(range(low, high + 1, step)), not has_step
    names = {MONTH: _MONTH_NAMES, WEEKDAY: _DAY_NAMES}.get(index)
    if names is not None and body[:1].isalpha():
        if body.lower() not in names:
            raise InvalidCrontab(f"{_NAMES[index]}: {body!r} is not a {_NAMES[index]} name ({', '.join(names)})")
        if has_step:
            raise InvalidCrontab(f"{_NAMES[index]}: a step needs * or a range, not {word!r}")
        return (names.index(body.lower()) + (1 if index == MONTH else 0),), False
    if not _LIST.fullmatch(body):
        raise InvalidCrontab(f"{_NAMES[index]}: {word!r} is not *, a number, a range, a list or a name")
    values: set[int] = set()
    items = body.split(",")
    for position, item in enumerate(items):
        first_text, is_range, last_text = item.partition("-")
        first, last = int(first_text), int(last_text) if is_range else int(first_text)
        for value in (first, last):
            if not low <= value <= high:
                raise InvalidCrontab(f"{_NAMES[index]}: {value} is out of range ({low}-{high})")
        if first > last:
            raise InvalidCrontab(f"{_NAMES[index]}: the range {item} runs backwards")
        if has_step and position == len(items) - 1 and not is_range:
            raise InvalidCrontab(f"{_NAMES[index]}: a step needs * or a range, not {word!r}")
        values.update(range(first, last + 1, step if position == len(items) - 1 else 1))
    return tuple(sorted(values)), False


def _step(text: str, index: int) -> int:
    if not text.isascii() or not text.isdigit() or not 2 <= int(text) < _STEP_LIMITS[index]:
        raise InvalidCrontab(f"{_NAMES[index]}: bad step value {text!r} (2-{_STEP_LIMITS[index] - 1})")
    return int(text)

