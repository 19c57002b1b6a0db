"""Periods (week, half-month, month, quarter, half-year, year) and when a duty's task is due
within one."""

from __future__ import annotations

import calendar as _calendar
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from schedules import wording
from schedules.calendar import WorkCalendar
from schedules.model import Adjust, Cadence, DueRule

_MONTHS_PER_PERIOD = {
    Cadence.MONTHLY: 1,
    Cadence.QUARTERLY: 3,
    Cadence.HALF_YEARLY: 6,
    Cadence.YEARLY: 12,
}

# The shortest period of each cadence, for checking that a rule stays inside it.
SHORTEST_DAYS = {
    Cadence.WEEKLY: 7,
    Cadence.SEMI_MONTHLY: 13,  # 16–28 February
    Cadence.MONTHLY: 28,
    Cadence.QUARTERLY: 90,
    Cadence.HALF_YEARLY: 181,
    Cadence.YEARLY: 365,
}

PERIODS_PER_YEAR = {c: 12 // m for c, m in _MONTHS_PER_PERIOD.items()}  # month-day rules

_WEEK_KEY = re.compile(r"^(\d{4})-W(\d{2})$")
_HALF_MONTH_KEY = re.compile(r"^(\d{4})-(\d{2})([AB])$")


@dataclass(frozen=True, order=True)
class Period:
    """A span of days with a stable key such as `2026-W48`, `2026-11A`, `2026-11`,
    `2026-Q4`, `2026-H2`, `2026`."""

    start: date
    end: date  # inclusive
    key: str

    def label(self) -> str:
        """The period as people say it, e.g. 2026年第四季度."""
        k = self.key
        if "-W" in k:
            return wording.week(k[:4], int(k[6:]))
        if _HALF_MONTH_KEY.match(k):
            return wording.half_month(k[:4], int(k[5:7]), k[7] == "A")
        if "-Q" in k:
            return wording.quarter(k[:4], int(k[-1]))
        if "-H" in k:
            return wording.half_year(k[:4], int(k[-1]))
        if len(k) == 4:
            return wording.whole_year(k)
        if len(k) == 7:
            return wording.month(k[:4], int(k[5:]))
        return wording.deadline(k)


def period_of(cadence: Cadence, day: date) -> Period:
    """The calendar period of `cadence` that contains `day`."""
    if cadence is Cadence.WEEKLY:
        start = day - timedelta(days=day.weekday())
        year, week, _ = start.isocalendar()
        return Period(start, start + timedelta(days=6), f"{year}-W{week:02d}")
    if cadence is Cadence.SEMI_MONTHLY:
        last = _calendar.monthrange(day.year, day.month)[1]
        first_half = day.day <= 15
        start = date(day.year, day.month, 1 if first_half else 16)
        end = date(day.year, day.month, 15 if first_half else last)
        return Period(start, end, f"{day.year}-{day.month:02d}{'A' if first_half else 'B'}")
    months = _MONTHS_PER_PERIOD[cadence]
    index = (day.month - 1) // months
    first_month = index * months + 1
    last_month = first_month + months - 1
    start = date(day.year, first_month, 1)
    end = date(day.year, last_month, _calendar.monthrange(day.year, last_month)[1])
    if cadence is Cadence.MONTHLY:
        key = f"{day.year}-{first_month:02d}"
    elif cadence is Cadence.QUARTERLY:
        key = f"{day.year}-Q{index + 1}"
    elif cadence is Cadence.HALF_YEARLY:
        key = f"{day.year}-H{index + 1}"
    else:
        key = f"{day.year}"
    return Period(start, end, key)


def previous_period(period: Period, cadence: Cadence) -> Period:
    return period_of(cadence, period.start - timedelta(days=1))


def parse_period_key(key: str) -> tuple[Cadence, Period]:
    """`2026-Q4` → (quarterly, that quarter). Raises ValueError for anything else."""
    key = key.strip().upper()
    try:
        if len(key) == 4 and key.isdigit():
            return Cadence.YEARLY, period_of(Cadence.YEARLY, date(int(key), 1, 1))
        if (week := _WEEK_KEY.match(key)) is not None:
            monday = date.fromisocalendar(int(week[1]), int(week[2]), 1)
            return Cadence.WEEKLY, period_of(Cadence.WEEKLY, monday)
        if (half := _HALF_MONTH_KEY.match(key)) is not None:
            first = date(int(half[1]), int(half[2]), 1 if half[3] == "A" else 16)
            return Cadence.SEMI_MONTHLY, period_of(Cadence.SEMI_MONTHLY, first)
        year, rest = int(key[:4]), key[5:]
        if key[4] != "-":
            raise ValueError(key)
        if rest.startswith("Q") and rest[1:] in {"1", "2", "3", "4"}:
            month = (int(rest[1:]) - 1) * 3 + 1
            return Cadence.QUARTERLY, period_of(Cadence.QUARTERLY, date(year, month, 1))
        if rest.startswith("H") and rest[1:] in {"1", "2"}:
            month = (int(rest[1:]) - 1) * 6 + 1
            return Cadence.HALF_YEARLY, period_of(Cadence.HALF_YEARLY, date(year, month, 1))
        if rest.isdigit() and 1 <= int(rest) <= 12:
            return Cadence.MONTHLY, period_of(Cadence.MONTHLY, date(year, int(rest), 1))
    except (ValueError, IndexError):
        pass
    raise ValueError(f"not a period key: {key!r}")


@functools.lru_cache(maxsize=8192)
def period_end(key: str) -> date | None:
    """The last day of the period `key` names; None for a one-off or event key. Cached: a
    store has a few hundred distinct keys and 总览 asks for every task's."""
    try:
        return parse_period_key(key)[1].end
    except ValueError:
        return None


MAKEUP_KIND = "makeup"  # the period of a 补学 task: 2026-12-04@57 (see schedules.meetings)


@functools.lru_cache(maxsize=8192)
def period_kind(key: str) -> str:
    """What kind of period a task's key names: a cadence's value, "as-required" for a
    one-off deadline, "event" for a reported event, "makeup" for an absentee's 补学."""
    if "#" in key:
        return Cadence.EVENT.value
    if "@" in key:
        return MAKEUP_KIND
    try:
        return parse_period_key(key)[0].value
    except ValueError:
        return Cadence.AS_REQUIRED.value


def periods_overlapping(cadence: Cadence, first: date, last: date) -> Iterator[Period]:
    """Every period of `cadence` that shares a day with [first, last], oldest first."""
    period = period_of(cadence, first)
    while period.start <= last:
        yield period
        period = period_of(cadence, period.end + timedelta(days=1))


def due_date(rule: DueRule, period: Period, calendar: WorkCalendar,
             adjust: Adjust = Adjust.NONE) -> date:
    """The due date of a calendar-cadence task in `period` (the config checked it fits),
    moved off a non-working day if the duty says so."""
    return adjusted(_within(rule, period, calendar), calendar, adjust)


def adjusted(day: date, calendar: WorkCalendar, adjust: Adjust) -> date:
    if adjust is Adjust.PREVIOUS:
        return calendar.on_or_before(day)
    if adjust is Adjust.NEXT:
        return calendar.on_or_after(day)
    return day


def _within(rule: DueRule, period: Period, calendar: WorkCalendar) -> date:
    if rule.anchor == "start":
        return period.start + timedelta(days=rule.days)
    if rule.anchor == "month-days":
        for month, day in rule.month_days:
            candidate = date(period.start.year, month, day)
            if period.start <= candidate <= period.end:
                return candidate
        raise ValueError(f"no month-day of {rule.describe()} falls in {period.key}")
    if rule.anchor in ("weekday", "workday"):
        days = [period.start + timedelta(days=i) for i in range((period.end - period.start)
                                                                 .days + 1)]
        if rule.anchor == "weekday":
            matching = [d for d in days if d.weekday() == rule.weekday]
        else:
            matching = [d for d in days if calendar.is_workday(d)]
        if not matching:  # a week that is all holiday: its last day
            return period.end
        if rule.ordinal <= 0 or rule.ordinal > len(matching):  # "fri" in a week, the last,
            # or fewer than N: the last
            return matching[-1]
        return matching[rule.ordinal - 1]
    return period.end + timedelta(days=rule.days)


def as_required_period(due: date) -> Period:
    """A one-off deadline is its own period, keyed by its date and open from the start."""
    return Period(date.min, due, due.isoformat())


def event_due(opened: date, rule: DueRule, calendar: WorkCalendar) -> date:
    """An event task is due `rule.days` working days after it was opened (default 1)."""
    day = opened
    for _ in range(max(rule.days, 1)):
        day = calendar.next_workday(day)
    return day
