"""jem.model.units: Slurm's time limits, memory sizes, begin times, and how they print."""

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jem.model.units import format_duration, format_mem_mib, parse_begin_time, parse_mem_mib, parse_time_limit

MINUTE, HOUR, DAY = 60, 3600, 86400


# ---------------------------------------------------------------- time limits

@pytest.mark.parametrize("text, seconds", [
    ("90", 90 * MINUTE),                                    # MM
    ("5", 5 * MINUTE),
    ("1:30", 1 * MINUTE + 30),                              # MM:SS
    ("90:00", 90 * MINUTE),
    ("1:02:03", HOUR + 2 * MINUTE + 3),                     # HH:MM:SS
    ("48:00:00", 2 * DAY),
    ("1-2", DAY + 2 * HOUR),                                # D-HH
    ("1-02:30", DAY + 2 * HOUR + 30 * MINUTE),              # D-HH:MM
    ("2-03:04:05", 2 * DAY + 3 * HOUR + 4 * MINUTE + 5),    # D-HH:MM:SS
    ("0-0:0:1", 1),
    ("  30 ", 30 * MINUTE),
])
def test_parse_time_limit_accepts_slurm_forms(text, seconds):
    assert parse_time_limit(text) == seconds


@pytest.mark.parametrize("text", ["UNLIMITED", "unlimited", "Infinite", "-1", "0", "0:00", "0-0"])
def test_parse_time_limit_unlimited_is_none(text):
    assert parse_time_limit(text) is None


@pytest.mark.parametrize("text", ["", "abc", "1:2:3:4", "1-", "-5", "1.5", "10m", "1-2:3:4:5", "1:", ":30", "1 2",
                                  "1--2", "forever"])
def test_parse_time_limit_rejects_bad_input(text):
    with pytest.raises(ValueError, match="MM:SS") as info:
        parse_time_limit(text)
    assert repr(text) in str(info.value)


# ---------------------------------------------------------------- durations

@pytest.mark.parametrize("seconds, text", [
    (0, "0:00"),
    (59, "0:59"),
    (60, "1:00"),
    (3599, "59:59"),
    (3600, "1:00:00"),
    (86399, "23:59:59"),
    (86400, "1-00:00:00"),
    (90061, "1-01:01:01"),
    (10 * DAY + 5, "10-00:00:05"),
    (None, "UNLIMITED"),
    (-5, "0:00"),
])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.integers(1, 400 * DAY))
def test_formatted_duration_parses_back_to_the_same_seconds(seconds):
    assert parse_time_limit(format_duration(seconds)) == seconds


# ---------------------------------------------------------------- memory

@pytest.mark.parametrize("text, mib", [
    ("500", 500),
    ("500M", 500),
    ("4G", 4096),
    ("4g", 4096),
    ("4GB", 4096),
    ("1T", 1024 * 1024),
    ("1K", 1),          # K rounds up to the next MiB
    ("1024K", 1),
    ("1025K", 2),
    ("0", 0),
    (" 16G ", 16384),
])
def test_parse_mem_mib(text, mib):
    assert parse_mem_mib(text) == mib


@pytest.mark.parametrize("text", ["", "abc", "-1", "1.5G", "4X", "G", "4 G B", "4GiB", "1e3"])
def test_parse_mem_mib_rejects_bad_input(text):
    with pytest.raises(ValueError, match="invalid memory size"):
        parse_mem_mib(text)


@pytest.mark.parametrize("mib, text", [(500, "500M"), (4096, "4G"), (1536, "1536M"), (1024 * 1024, "1T"),
                                       (0, "0M"), (3 * 1024 * 1024 + 1024, "3073G")])
def test_format_mem_mib(mib, text):
    assert format_mem_mib(mib) == text


@settings(derandomize=True, max_examples=200, deadline=None)
@given(st.integers(0, 10 * 1024 * 1024))
def test_formatted_memory_parses_back(mib):
    assert parse_mem_mib(format_mem_mib(mib)) == mib


# ---------------------------------------------------------------- begin times

NOW = dt.datetime(2024, 3, 5, 10, 0, 0).timestamp()  # local time, like the parser


@pytest.mark.parametrize("text, offset_s", [
    ("now", 0),
    ("now+0", 0),
    ("now+10", 10),
    ("now+30s", 30),
    ("now+5min", 5 * MINUTE),
    ("now+1hour", HOUR),
    ("now+2days", 2 * DAY),
    ("now+1week", 7 * DAY),
    ("NOW+1H", HOUR),
])
def test_parse_begin_time_relative(text, offset_s):
    assert parse_begin_time(text, now=NOW) == NOW + offset_s


def test_parse_begin_time_clock_time_later_today():
    assert parse_begin_time("11:30", now=NOW) == dt.datetime(2024, 3, 5, 11, 30).timestamp()


def test_parse_begin_time_clock_time_already_past_means_tomorrow():
    assert parse_begin_time("09:00", now=NOW) == dt.datetime(2024, 3, 6, 9, 0).timestamp()


@pytest.mark.parametrize("word, hour", [("noon", 12), ("teatime", 16)])
def test_parse_begin_time_named_times(word, hour):
    assert parse_begin_time(word, now=NOW) == dt.datetime(2024, 3, 5, hour, 0).timestamp()


def test_parse_begin_time_midnight_is_the_coming_one():
    assert parse_begin_time("midnight", now=NOW) == dt.datetime(2024, 3, 6, 0, 0).timestamp()


@pytest.mark.parametrize("text, expected", [
    ("2024-04-01", dt.datetime(2024, 4, 1)),
    ("2024-04-01T08:15", dt.datetime(2024, 4, 1, 8, 15)),
    ("2024-04-01T08:15:30", dt.datetime(2024, 4, 1, 8, 15, 30)),
])
def test_parse_begin_time_iso_dates(text, expected):
    assert parse_begin_time(text, now=NOW) == expected.timestamp()


@pytest.mark.parametrize("text", ["now+1fortnight", "tomorrow-ish", "2024-13-01", "25:99x", ""])
def test_parse_begin_time_rejects_bad_input(text):
    with pytest.raises(ValueError, match="begin time"):
        parse_begin_time(text, now=NOW)
