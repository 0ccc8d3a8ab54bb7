"""Slurm's forms of a point in time on the command line (sacct -S/-E), to epoch seconds in the local zone.

Accepted: now[{+|-}N[seconds|minutes|hours|days|weeks]], today, midnight,
noon, teatime (16:00), tomorrow, YYYY-MM-DD[THH:MM[:SS]], HH:MM[:SS][AM|PM]
(today), MMDD[YY], MM/DD[/YY] and MM.DD[.YY], each with an optional
-HH:MM[:SS] (sacct also accepts THH:MM[:SS]).
"""

import datetime as dt
import re

_UNITS = {"": 1, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "m": 60, "min": 60, "mins": 60,
          "minute": 60, "minutes": 60, "h": 3600, "hour": 3600, "hours": 3600, "d": 86400, "day": 86400,
          "days": 86400, "w": 604800, "week": 604800, "weeks": 604800}


def _clock(text: str) -> tuple[int, int, int]:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?\s*([AaPp][Mm])?", text)
    if not match:
        raise ValueError(text)
    hour, minute, second = int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
    if match.group(4):
        hour = hour % 12 + (12 if match.group(4).lower() == "pm" else 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(text)
    return hour, minute, second


def parse_time(text: str, *, now: float) -> float:
    """Epoch seconds for one of Slurm's time forms; ValueError if none fits.

    >>> parse_time("now-1hour", now=7200.0)
    3600.0
    """
    value = text.strip()
    lower = value.lower()
    today = dt.datetime.fromtimestamp(now).replace(hour=0, minute=0, second=0, microsecond=0)
    match = re.fullmatch(r"now(?:([+-])(\d+)([a-z]*))?", lower)
    if match:
        if match.group(1) is None:
            return now
        if match.group(3) not in _UNITS:
            raise ValueError(text)
        offset = int(match.group(2)) * _UNITS[match.group(3)]
        return now + offset if match.group(1) == "+" else now - offset
    named = {"today": today, "midnight": today, "noon": today.replace(hour=12),
             "teatime": today.replace(hour=16), "tomorrow": today + dt.timedelta(days=1)}
    if lower in named:
        return named[lower].timestamp()
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})(?:[T ](.+))?", value)
    if match:
        day = dt.datetime(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        h, m, s = _clock(match.group(4)) if match.group(4) else (0, 0, 0)
        return day.replace(hour=h, minute=m, second=s).timestamp()
    match = re.fullmatch(r"(\d{2})(?:([/.]?)(\d{2}))(?:\2(\d{2}))?(?:[-T](.+))?", value)
    if match and not re.fullmatch(r"\d{1,2}:\d{2}.*", value):
        month, mday = int(match.group(1)), int(match.group(3))
        year = 2000 + int(match.group(4)) if match.group(4) else today.year
        h, m, s = _clock(match.group(5)) if match.group(5) else (0, 0, 0)
        return dt.datetime(year, month, mday, h, m, s).timestamp()
    h, m, s = _clock(value)
    return today.replace(hour=h, minute=m, second=s).timestamp()
