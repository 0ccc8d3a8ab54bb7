"""Slurm's textual forms of durations, memory sizes and points in time.

Durations are whole seconds (`None` means UNLIMITED); memory is whole MiB
(K rounds up to the next MiB); points in time are epoch seconds.
"""

import datetime as _dt
import re

_TIME_FORMS = "MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS or UNLIMITED"
_UNLIMITED_WORDS = {"unlimited", "infinite", "-1"}


def parse_time_limit(text: str) -> int | None:
    """Parse a Slurm time limit into seconds; None for UNLIMITED (or 0).

    >>> parse_time_limit("90"), parse_time_limit("1:30"), parse_time_limit("1-2")
    (5400, 90, 93600)

    Raises ValueError naming the accepted forms.
    """
    value = text.strip()
    if value.lower() in _UNLIMITED_WORDS:
        return None
    days = 0
    match = re.fullmatch(r"(\d+)-(\d+(?::\d+){0,2})", value)
    if match:
        days = int(match.group(1))
        parts = [int(p) for p in match.group(2).split(":")]
        while len(parts) < 3:  # D-HH and D-HH:MM count from hours
            parts.append(0)
        hours, minutes, seconds = parts
    elif re.fullmatch(r"\d+(?::\d+){0,2}", value):
        parts = [int(p) for p in value.split(":")]
        if len(parts) == 1:
            hours, minutes, seconds = 0, parts[0], 0
        elif len(parts) == 2:
            hours, minutes, seconds = 0, parts[0], parts[1]
        else:
            hours, minutes, seconds = parts
    else:
        raise ValueError(f"invalid time limit {text!r}: use {_TIME_FORMS}")
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    return total or None


def format_duration(seconds: int | None) -> str:
    """Format seconds as Slurm prints durations: M:SS, H:MM:SS or D-HH:MM:SS.

    >>> format_duration(59), format_duration(3600), format_duration(90061), format_duration(None)
    ('0:59', '1:00:00', '1-01:01:01', 'UNLIMITED')
    """
    if seconds is None:
        return "UNLIMITED"
    seconds = max(0, int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}-{hours:02d}:{minutes:02d}:{secs:02d}"
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


_MEM_FACTOR_KIB = {"K": 1, "M": 1024, "G": 1024**2, "T": 1024**3}


def parse_mem_mib(text: str) -> int:
    """Parse a Slurm memory size (default unit MiB; suffix K, M, G or T) into MiB.

    >>> parse_mem_mib("500"), parse_mem_mib("4G"), parse_mem_mib("1T"), parse_mem_mib("1K")
    (500, 4096, 1048576, 1)
    """
    match = re.fullmatch(r"\s*(\d+)\s*([KMGTkmgt]?)[Bb]?\s*", text)
    if not match:
        raise ValueError(f"invalid memory size {text!r}: use a number with an optional K, M, G or T suffix")
    kib = int(match.group(1)) * _MEM_FACTOR_KIB[(match.group(2) or "M").upper()]
    return -(-kib // 1024)


def format_mem_mib(mib: int) -> str:
    """Format MiB the way Slurm prints memory requests: 500M, 4G, 1T.

    >>> format_mem_mib(500), format_mem_mib(4096), format_mem_mib(1536)
    ('500M', '4G', '1536M')
    """
    for unit, factor in (("T", 1024**2), ("G", 1024)):
        if mib and mib % factor == 0:
            return f"{mib // factor}{unit}"
    return f"{mib}M"


_OFFSET_UNITS = {"": 1, "s": 1, "sec": 1, "second": 1, "seconds": 1, "m": 60, "min": 60,
                 "minute": 60, "minutes": 60, "h": 3600, "hour": 3600, "hours": 3600,
                 "d": 86400, "day": 86400, "days": 86400, "w": 604800, "week": 604800,
                 "weeks": 604800}


def parse_begin_time(text: str, *, now: float) -> float:
    """Parse sbatch --begin forms into epoch seconds (local time zone).

    Accepts now[+N[units]], YYYY-MM-DD[THH:MM[:SS]], HH:MM[:SS] (today, or
    tomorrow if already past), midnight, noon and teatime (16:00).

    >>> parse_begin_time("now+1hour", now=1000.0)
    4600.0
    """
    value = text.strip().lower()
    match = re.fullmatch(r"now(?:\+(\d+)([a-z]*))?", value)
    if match:
        count, unit = match.group(1), match.group(2) or ""
        if unit not in _OFFSET_UNITS:
            raise ValueError(f"invalid begin time {text!r}: unknown unit {unit!r}")
        return now + (int(count) * _OFFSET_UNITS[unit] if count else 0)
    named = {"midnight": "00:00", "noon": "12:00", "teatime": "16:00"}
    value = named.get(value, value)
    today = _dt.datetime.fromtimestamp(now)
    if re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", value):
        parts = [int(p) for p in value.split(":")] + [0]
        at = today.replace(hour=parts[0], minute=parts[1], second=parts[2], microsecond=0)
        if at.timestamp() < now:
            at += _dt.timedelta(days=1)
        return at.timestamp()
    try:
        return _dt.datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ValueError(f"invalid begin time {text!r}: use now+N[units], YYYY-MM-DD[THH:MM[:SS]] or HH:MM[:SS]") from None


def parse_signal_warning(text: str) -> tuple[int, int, bool]:
    """sbatch --signal=[{R|B}:]SIG[@SECONDS] -> (signal number, seconds before the time limit
    (default 60), batch shell only). Raises ValueError when malformed."""
    import re
    import signal

    match = re.fullmatch(r"(?:([RB]+):)?([A-Za-z0-9]+)(?:@(\d+))?", text.strip())
    if not match:
        raise ValueError(f"invalid signal specification {text!r}")
    flags, name, seconds = match.group(1) or "", match.group(2).upper(), match.group(3)
    if name.isdigit():
        number = int(name)
    else:
        try:
            number = int(signal.Signals[name if name.startswith("SIG") else "SIG" + name])
        except KeyError:
            raise ValueError(f"unknown signal {name!r}") from None
    seconds_s = int(seconds) if seconds else 60
    if not 0 < number < 65 or seconds_s > 65535:
        raise ValueError(f"invalid signal specification {text!r}")
    return number, seconds_s, "B" in flags
