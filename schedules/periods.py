"""Periods (month, quarter, half-year, year) and when a duty's task is due within one."""

from __future__ import annotations

import calendar as _calendar
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from schedules.calendar import WorkCalendar
from schedules.model import Cadence, DueRule

_MONTHS_PER_PERIOD = {
    Cadence.MONTHLY: 1,
    Cadence.QUARTERLY: 3,
    Cadence.HALF_YEARLY: 6,
    Cadence.YEARLY: 12,
}

# The shortest period of each cadence, for checking that an offset stays inside it.
SHORTEST_DAYS = {
    Cadence.MONTHLY: 28,
    Cadence.QUARTERLY: 90,
    Cadence.HALF_YEARLY: 181,
    Cadence.YEARLY: 365,
}

PERIODS_PER_YEAR = {c: 12 // m for c, m in _MONTHS_PER_PERIOD.items()}


@dataclass(frozen=True, order=True)
class Period:
    """A span of days with a stable key such as `2026-11`, `2026-Q4`, `2026-H2`, `2026`."""

    start: date
    end: date  # inclusive
    key: str

    def label(self) -> str:
        """The period as people say it, e.g. 2026年第四季度."""
        k = self.key
        if "-Q" in k:
            return f"{k[:4]}年第{'一二三四'[int(k[-1]) - 1]}季度"
        if "-H" in k:
            return f"{k[:4]}年{'上下'[int(k[-1]) - 1]}半年"
        if len(k) == 4:
            return f"{k}年"
        if len(k) == 7:
            return f"{k[:4]}年{int(k[5:])}月"
        return f"{k}截止"


def period_of(cadence: Cadence, day: date) -> Period:
    """The calendar period of `cadence` that contains `day`."""
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


def parse_period_key(key: str) -> tuple[Cadence, Period]:
    """`2026-Q4` → (quarterly, that quarter). Raises ValueError for anything else."""
    key = key.strip().upper()
    try:
        if len(key) == 4 and key.isdigit():
            return Cadence.YEARLY, period_of(Cadence.YEARLY, date(int(key), 1, 1))
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


def periods_overlapping(cadence: Cadence, first: date, last: date) -> Iterator[Period]:
    """Every period of `cadence` that shares a day with [first, last], oldest first."""
    period = period_of(cadence, first)
    while period.start <= last:
        yield period
        period = period_of(cadence, period.end + timedelta(days=1))


def due_date(rule: DueRule, period: Period) -> date:
    """The due date of a calendar-cadence task in `period` (the config checked it fits)."""
    if rule.anchor == "start":
        return period.start + timedelta(days=rule.days)
    if rule.anchor == "month-days":
        for month, day in rule.month_days:
            candidate = date(period.start.year, month, day)
            if period.start <= candidate <= period.end:
                return candidate
        raise ValueError(f"no month-day of {rule.describe()} falls in {period.key}")
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
