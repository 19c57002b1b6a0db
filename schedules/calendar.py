"""China's working-day calendar: statutory holidays and 调休 make-up workdays.

Order of authority for a day: the bureau's own `[calendar]` overrides, then the
`chinese-calendar` package (the State Council's announced calendar, years it has). For a
year it does not cover yet, the statutory holidays of the 《全国年节及纪念日放假办法》 are
computed by the `holidays` package (元旦, 春节 4 days, 清明, 劳动节 2 days, 端午, 中秋, 国庆
3 days, lunar dates included) and are never working days; every other Monday to Friday
is, and 调休 comes only from `[calendar]`. Such a year is "estimated" until `[calendar]`
lists every statutory holiday of it: `gaps` says what is missing, for `check` and the
admins' weekly note; a log warning says it once per year.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

import chinese_calendar

from schedules import wording

log = logging.getLogger(__name__)

NOTE_FROM = (11, 1)  # from 1 November, next year's calendar is asked for


@lru_cache(maxsize=64)
def statutory_holidays(year: int) -> frozenset[date]:
    """The days the 放假办法 makes holidays in `year` (no 调休, no observed days)."""
    import holidays as holiday_rules  # its import loads every country's rules: only if needed

    rules = holiday_rules.country_holidays("CN", years=year, observed=False, language="zh_CN")
    return frozenset(d for d, name in rules.items() if "调休" not in name and "休息" not in name)


@dataclass(frozen=True)
class YearGap:
    """A year the package does not cover, and its statutory holidays `[calendar]` lacks."""

    year: int
    missing: tuple[date, ...]


class WorkCalendar:
    def __init__(self, holidays: Iterable[date] = (), workdays: Iterable[date] = ()) -> None:
        self._holidays = frozenset(holidays)
        self._workdays = frozenset(workdays)
        self._overridden_years = {d.year for d in self._holidays | self._workdays}
        self._cache: dict[date, bool] = {}
        self._year_counts: dict[int, list[int]] = {}  # year -> workdays up to each day
        self._statutory: dict[int, frozenset[date]] = {}
        self.fallback_years: set[int] = set()

    def statutory(self, year: int) -> frozenset[date]:
        """`statutory_holidays(year)`, or what `know_statutory` was told of that year."""
        found = self._statutory.get(year)
        if found is None:
            found = self._statutory[year] = statutory_holidays(year)
        return found

    def statutory_known(self) -> dict[int, frozenset[date]]:
        """The statutory holidays worked out so far, by year: working them out imports the
        `holidays` package (0.1 s), so a caller may keep them for a later calendar."""
        return dict(self._statutory)

    def know_statutory(self, known: Mapping[int, Iterable[date]]) -> None:
        """Take the statutory holidays of these years as `statutory_known` of a calendar
        under the same `holidays` release gave them, before any day is decided."""
        for year, days in known.items():
            self._statutory.setdefault(year, frozenset(days))

    def is_workday(self, day: date) -> bool:
        cached = self._cache.get(day)
        if cached is None:
            cached = self._cache[day] = self._decide(day)
        return cached

    def _decide(self, day: date) -> bool:
        covered = self.has_statutory_data(day.year)
        if not covered and day in self.statutory(day.year):
            self._note_fallback(day.year)
            return False  # a statutory holiday, whatever else the config says
        if day in self._holidays:
            return False
        if day in self._workdays:
            return True
        if covered:
            return bool(chinese_calendar.is_workday(day))
        self._note_fallback(day.year)
        return day.weekday() < 5

    def _note_fallback(self, year: int) -> None:
        if year in self.fallback_years:
            return
        self.fallback_years.add(year)
        gap = self.gap(year)
        if gap is None:
            log.info("no package data for %d: its statutory holidays and the [calendar] "
                     "dates apply", year)
        else:
            log.warning(wording.YEAR_NOT_COVERED, year)

    def gap(self, year: int) -> YearGap | None:
        """What `[calendar]` still lacks of a year the package does not cover: its statutory
        holidays not listed (a partial list is not enough). None for a covered year."""
        if self.has_statutory_data(year):
            return None
        missing = tuple(sorted(self.statutory(year) - self._holidays))
        return YearGap(year, missing) if missing else None

    def gaps(self, today: date) -> list[YearGap]:
        """The years the admins should complete now: this year, and from 1 November the
        next one too."""
        years = [today.year] + ([today.year + 1] if (today.month, today.day) >= NOTE_FROM
                                else [])
        return [g for g in (self.gap(y) for y in years) if g is not None]

    def needs_holidays(self, year: int) -> bool:
        """Whether the admin should add `year`'s holidays to `[calendar]`."""
        return self.gap(year) is not None

    @staticmethod
    @lru_cache(maxsize=64)
    def has_statutory_data(year: int) -> bool:
        """Whether `chinese-calendar` knows that year's holidays and 调休."""
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
