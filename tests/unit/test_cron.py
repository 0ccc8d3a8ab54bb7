"""jem.model.cron: what a schedule means (its values, against sets built by hand), when it next
falls due (against tests/oracle/cron_ref.py, a minute-by-minute walk), and how it meets daylight
saving time on the local clock."""

import contextlib
import datetime as dt
import os
import time

import pytest
from hypothesis import assume, given, settings, strategies as st

from jem.model.cron import parse_schedule, split_entry
from jem.model.errors import InvalidCrontab
from tests.oracle.cron_ref import RefSchedule, next_wall_time

BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
STEP_LIMITS = (61, 25, 32, 13, 8)
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
LONGEST = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


@st.composite
def field(draw, index: int) -> tuple[str, frozenset[int], bool]:
    """(text, the values it means, whether it is a plain `*`) for field `index`."""
    low, high = BOUNDS[index]
    kind = draw(st.sampled_from(["any", "step", "list", "name"] if index >= 3 else ["any", "step", "list"]))
    if kind == "any":
        return "*", frozenset(range(low, high + 1)), True
    if kind == "step":
        step = draw(st.integers(2, STEP_LIMITS[index] - 1))
        return f"*/{step}", frozenset(range(low, high + 1, step)), False
    if kind == "name":
        names = MONTHS if index == 3 else DAYS
        at = draw(st.integers(0, len(names) - 1))
        name = draw(st.sampled_from([names[at], names[at].upper(), names[at].title()]))
        return name, frozenset({at + 1 if index == 3 else at}), False
    ranges = []
    for _ in range(draw(st.integers(1, 3))):
        first = draw(st.integers(low, high))
        ranges.append((first, draw(st.integers(first, high))))
    step = 1
    if ranges[-1][0] < ranges[-1][1] and draw(st.booleans()):   # a step on the last range
        step = draw(st.integers(2, STEP_LIMITS[index] - 1))
    values = {v for first, last in ranges[:-1] for v in range(first, last + 1)}
    values.update(range(ranges[-1][0], ranges[-1][1] + 1, step))
    text = ",".join(str(first) if first == last else f"{first}-{last}" for first, last in ranges)
    return text + (f"/{step}" if step > 1 else ""), frozenset(values), False


@st.composite
def schedules(draw) -> tuple[str, RefSchedule]:
    fields = [draw(field(index)) for index in range(5)]
    text = " ".join(f[0] for f in fields)
    minutes, hours, days, months, weekdays = (f[1] for f in fields)
    reference = RefSchedule(minutes, hours, days, months, frozenset(d % 7 for d in weekdays),
                            is_any_day=fields[2][2], is_any_weekday=fields[4][2])
    return text, reference


def _exists(reference: RefSchedule) -> bool:
    return reference.is_any_day or any(d <= LONGEST[m - 1] for d in reference.days for m in reference.months)


moments = st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2120, 12, 31))


@settings(max_examples=150, deadline=None)
@given(schedules(), moments)
def test_the_next_wall_time_is_the_first_matching_minute_a_minute_by_minute_walk_finds(drawn, after):
    text, reference = drawn
    assume(_exists(reference))
    schedule = parse_schedule(text)
    assert (set(schedule.minutes), set(schedule.hours), set(schedule.days), set(schedule.months),
            set(schedule.weekdays)) == (reference.minutes, reference.hours, reference.days, reference.months,
                                        reference.weekdays)
    assert schedule.next_wall_time(after) == next_wall_time(reference, after)


@settings(max_examples=150, deadline=None)
@given(schedules())
def test_a_schedule_written_back_means_the_same(drawn):
    text, reference = drawn
    assume(_exists(reference))
    schedule = parse_schedule(text)
    assert parse_schedule(schedule.text) == schedule


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_a_day_no_month_of_the_schedule_has_is_refused(data):
    days = data.draw(st.sampled_from([[31], [30], [30, 31]]))
    short = [m for m in range(1, 13) if LONGEST[m - 1] < min(days)]
    months = data.draw(st.lists(st.sampled_from(short), min_size=1, unique=True))
    weekday = data.draw(st.sampled_from(["*", "1", "sun"]))   # (a day of week does not save it: Slurm's rule)
    with pytest.raises(InvalidCrontab, match="no month of the schedule has day"):
        parse_schedule(f"0 0 {','.join(map(str, days))} {','.join(map(str, months))} {weekday}")


@pytest.mark.parametrize("text, written", [
    ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"), ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"), ("@hourly", "0 * * * *"), ("@HOURLY", "0 * * * *"),
    ("1-5,30 8-17/2 * * wed", "1-5,30 8,10,12,14,16 * * 3"), ("0 0 * * 7", "0 0 * * 0"), ("0 0 * * 0-7", "0 0 * * 0-6"),
    ("*/15 */6 */10 */3 */2", "0,15,30,45 0,6,12,18 1,11,21,31 1,4,7,10 0,2,4,6"), ("0 12 * Dec SUN", "0 12 * 12 0"),
    ("0 0 29 2 *", "0 0 29 2 *"), ("5,1,3 * * * *", "1,3,5 * * * *"), ("0-59/30 * * * *", "0,30 * * * *"),
])
def test_schedules_are_written_back_as_slurm_writes_them(text, written):
    assert parse_schedule(text).text == written


@pytest.mark.parametrize("text, why", [
    ("*/1 * * * *", "bad step value"), ("*/61 * * * *", "bad step value"), ("* * * * */8", "bad step value"),
    ("60 * * * *", "out of range"), ("* 24 * * *", "out of range"), ("* * 0 * *", "out of range"),
    ("* * * 13 *", "out of range"), ("* * * * 8", "out of range"), ("10-5 * * * *", "runs backwards"),
    ("5/10 * * * *", "a step needs"), ("* * * jan/2 *", "a step needs"), ("* * * jan-mar *", "not a month name"),
    ("* * * * mon,fri", "not a day of week name"), ("* * * * monday", "not a day of week name"),
    ("* * 31 4,6 *", "no month of the schedule has day 31"), ("* * 30 2 *", "no month of the schedule has day 30"),
    ("@reboot", "is not one of"), ("* * * *", "4 time fields"), ("a * * * *", r"not \*, a number"),
    ("-1 * * * *", r"not \*, a number"), ("1,,2 * * * *", r"not \*, a number"), ("١ * * * *", r"not \*, a number"),
])
def test_what_slurm_refuses_is_refused_with_why(text, why):
    with pytest.raises(InvalidCrontab, match=why):
        parse_schedule(text)


def test_an_entry_splits_into_schedule_and_command_as_written():
    assert split_entry("*/5  *\t* * *   echo  a\tb ") == ("*/5 * * * *", "echo  a\tb ")
    assert split_entry("@daily run") == ("@daily", "run")
    for line, why in (("* * * * *", "command is missing"), ("* * *", "after 3 of 5"), ("@daily   ", "command")):
        with pytest.raises(InvalidCrontab, match=why):
            split_entry(line)


def test_when_both_day_fields_are_restricted_either_day_runs():
    friday_13th_or_friday = parse_schedule("0 0 13 * 5")   # the 13th, and every Friday
    after = dt.datetime(2026, 3, 1, 12, 0)                 # a Sunday
    assert friday_13th_or_friday.next_wall_time(after) == dt.datetime(2026, 3, 6)   # a Friday
    assert friday_13th_or_friday.next_wall_time(dt.datetime(2026, 3, 12, 1)) == dt.datetime(2026, 3, 13)
    only_13th = parse_schedule("0 0 13 * *")
    assert only_13th.next_wall_time(after) == dt.datetime(2026, 3, 13)


def test_february_29th_waits_for_a_leap_year_and_2100_is_none():
    schedule = parse_schedule("0 0 29 2 *")
    assert schedule.next_wall_time(dt.datetime(2097, 3, 1)) == dt.datetime(2104, 2, 29)
    assert schedule.next_wall_time(dt.datetime(2024, 2, 29, 0, 0)) == dt.datetime(2028, 2, 29)


def test_the_next_time_is_always_in_a_later_minute():
    every_minute = parse_schedule("* * * * *")
    assert every_minute.next_wall_time(dt.datetime(2026, 1, 1, 10, 0, 0)) == dt.datetime(2026, 1, 1, 10, 1)
    assert every_minute.next_wall_time(dt.datetime(2026, 1, 1, 10, 0, 59, 999)) == dt.datetime(2026, 1, 1, 10, 1)
    assert parse_schedule("0 0 31 12 *").next_wall_time(dt.datetime(9999, 12, 31, 0, 0)) is None


# ---------------------------------------------------------------- the local clock

@contextlib.contextmanager
def local_zone(zone: str):
    """The process's time zone set to `zone` (TZ + tzset) for a block, and put back after."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def _epoch(zone_offset_h: int, *args) -> float:
    return dt.datetime(*args, tzinfo=dt.timezone(dt.timedelta(hours=zone_offset_h))).timestamp()


@settings(max_examples=80, deadline=None)
@given(schedules(), st.integers(631152000, 4102444800))
def test_in_utc_the_next_run_is_the_next_wall_time(drawn, t):
    text, reference = drawn
    assume(_exists(reference))
    with local_zone("UTC"):
        expected = next_wall_time(reference, dt.datetime.fromtimestamp(t))
        assert parse_schedule(text).next_after(t) == (expected.replace(tzinfo=dt.timezone.utc).timestamp()
                                                      if expected else None)


@local_zone("America/New_York")   # 2024-03-10: 02:00 EST becomes 03:00 EDT
def test_a_time_the_clock_skips_runs_as_soon_as_it_has_jumped():
    schedule = parse_schedule("30 2 * * *")
    first = schedule.next_after(_epoch(-5, 2024, 3, 10, 0, 0))
    assert first == _epoch(-4, 2024, 3, 10, 3, 30)             # glibc mktime's place for 02:30, and Slurm's
    assert schedule.next_after(first) == _epoch(-4, 2024, 3, 11, 2, 30)
    hourly = parse_schedule("0 * * * *")
    assert hourly.next_after(_epoch(-5, 2024, 3, 10, 1, 30)) == _epoch(-4, 2024, 3, 10, 3, 0)


@local_zone("America/New_York")   # 2024-11-03: 02:00 EDT becomes 01:00 EST
def test_a_time_in_the_repeated_hour_runs_once_and_frequent_schedules_pause():
    schedule = parse_schedule("30 1 * * *")
    first = schedule.next_after(_epoch(-4, 2024, 11, 3, 0, 0))
    assert first == _epoch(-4, 2024, 11, 3, 1, 30)              # its first pass
    assert schedule.next_after(first + 60) == _epoch(-5, 2024, 11, 4, 1, 30)   # not again at 01:30 EST
    quarterly = parse_schedule("*/15 * * * *")
    assert quarterly.next_after(_epoch(-4, 2024, 11, 3, 1, 50)) == _epoch(-5, 2024, 11, 3, 2, 0)
    # A job requeued during the repeated hour runs at its next time in that pass.
    assert quarterly.next_after(_epoch(-5, 2024, 11, 3, 1, 10)) == _epoch(-5, 2024, 11, 3, 1, 15)
