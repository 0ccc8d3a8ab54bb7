"""Reference for jem.model.cron's next wall-clock time: walk the calendar a minute at a time.

A schedule here is plain sets (minutes, hours, days of month, months, days of week with
Sunday 0) and whether the day of month and the day of week were written `*`. Days are
stepped one by one (a day the schedule does not run on has no minute to try); on a day it
runs on, every minute is tried in order. Cron's day rule, written out: with both day fields
restricted a day matches either, else the restricted one decides.
"""

import datetime as dt
from dataclasses import dataclass

SEARCH_DAYS = 366 * 9   # the rarest schedule (Feb 29) may wait 8 years across 2100


@dataclass(frozen=True)
class RefSchedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    is_any_day: bool
    is_any_weekday: bool


def runs_on(schedule: RefSchedule, date: dt.date) -> bool:
    if date.month not in schedule.months:
        return False
    cron_weekday = date.isoweekday() % 7   # Sunday 0
    by_day, by_weekday = date.day in schedule.days, cron_weekday in schedule.weekdays
    if schedule.is_any_day and schedule.is_any_weekday:
        return True
    if schedule.is_any_day:
        return by_weekday
    if schedule.is_any_weekday:
        return by_day
    return by_day or by_weekday


def next_wall_time(schedule: RefSchedule, after: dt.datetime) -> dt.datetime | None:
    """The first whole minute strictly after `after`'s minute that the schedule runs at."""
    start = after.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    day = dt.datetime(start.year, start.month, start.day)
    for _ in range(SEARCH_DAYS):
        if runs_on(schedule, day.date()):
            minute = day
            while minute.date() == day.date():
                if minute >= start and minute.hour in schedule.hours and minute.minute in schedule.minutes:
                    return minute
                minute += dt.timedelta(minutes=1)
        day += dt.timedelta(days=1)
    return None
