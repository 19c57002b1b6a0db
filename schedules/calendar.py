"""China's working-day calendar: statutory holidays and 调休 make-up workdays.

Order of authority for a day: the bureau's own `[calendar]` overrides, then the
`chinese-calendar` package, then (for years the package does not cover yet) Monday to
Friday. The fallback is announced once per year through the `fallback_years` set and a
log warning, so the admin knows to add that year's holidays to config.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import date, timedelta

import chinese_calendar

log = logging.getLogger(__name__)


class WorkCalendar:
    def __init__(self, holidays: Iterable[date] = (), workdays: Iterable[date] = ()) -> None:
        self._holidays = frozenset(holidays)
        self._workdays = frozenset(workdays)
        self._overridden_years = {d.year for d in self._holidays | self._workdays}
        self._cache: dict[date, bool] = {}
        self._year_counts: dict[int, list[int]] = {}  # year -> workdays up to each day
        self.fallback_years: set[int] = set()

    def is_workday(self, day: date) -> bool:
        cached = self._cache.get(day)
        if cached is None:
            cached = self._cache[day] = self._decide(day)
        return cached

    def _decide(self, day: date) -> bool:
        if day in self._holidays:
            return False
        if day in self._workdays:
            return True
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year not in self.fallback_years:
                self.fallback_years.add(day.year)
                if day.year in self._overridden_years:
                    log.info("no statutory data for %d: Monday to Friday plus the [calendar] "
                             "overrides", day.year)
                    return day.weekday() < 5
                log.warning("%d 年的法定节假日数据尚未收录，暂按周一至周五计算；"
                            "请在配置的 [calendar] 中补充当年的放假和调休日期", day.year)
            return day.weekday() < 5

    def needs_holidays(self, year: int) -> bool:
        """Whether the admin should add `year`'s holidays: no package data, no overrides."""
        return year not in self._overridden_years and not self.has_statutory_data(year)

    @staticmethod
    def has_statutory_data(year: int) -> bool:
        """Whether `chinese-calendar` knows that year's holidays."""
        try:
            chinese_calendar.is_workday(date(year, 6, 1))
        except NotImplementedError:
            return False
        return True

    def next_workday(self, day: date) -> date:
        """The first working day strictly after `day`."""
        day += timedelta(days=1)
        while not self.is_workday(day):
            day += timedelta(days=1)
        return day

    def previous_workday(self, day: date) -> date:
        """The last working day strictly before `day`."""
        day -= timedelta(days=1)
        while not self.is_workday(day):
            day -= timedelta(days=1)
        return day

    def on_or_before(self, day: date) -> date:
        return day if self.is_workday(day) else self.previous_workday(day)

    def on_or_after(self, day: date) -> date:
        return day if self.is_workday(day) else self.next_workday(day)

    def workdays_after(self, start: date, end: date) -> int:
        """How many working days lie in (start, end]: 0 when `end` is not after `start`."""
        if end <= start:
            return 0
        count = self._through(end) - self._through(start)
        for year in range(start.year, end.year):
            count += self._counts(year)[-1]
        return count

    def _through(self, day: date) -> int:
        """Working days from 1 January of `day`'s year up to and including `day`."""
        return self._counts(day.year)[day.timetuple().tm_yday - 1]

    def _counts(self, year: int) -> list[int]:
        counts = self._year_counts.get(year)
        if counts is None:
            counts, total, day = [], 0, date(year, 1, 1)
            while day.year == year:
                total += self.is_workday(day)
                counts.append(total)
                day += timedelta(days=1)
            self._year_counts[year] = counts
        return counts
