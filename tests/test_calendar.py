"""The working-day calendar: 2026 statutory data, config overrides, and the 2027 fallback."""

from __future__ import annotations

import logging
from datetime import date

import pytest

from schedules.calendar import WorkCalendar


@pytest.mark.parametrize(("day", "working"), [
    (date(2026, 9, 20), True),  # Sunday, make-up workday for National Day
    (date(2026, 10, 10), True),  # Saturday, make-up workday
    (date(2026, 9, 19), False),  # ordinary Saturday
    (date(2026, 9, 30), True),
    *[(date(2026, 10, d), False) for d in range(1, 8)],  # National Day holiday
    (date(2026, 10, 8), True),
    (date(2026, 1, 1), False),  # New Year's Day, a Thursday
    (date(2026, 2, 14), True),  # Saturday before Spring Festival, make-up workday
    (date(2026, 2, 17), False),  # Spring Festival
    (date(2026, 11, 26), True),
    (date(2026, 11, 28), False),
])
def test_2026_statutory_calendar(day: date, working: bool) -> None:
    assert WorkCalendar().is_workday(day) is working


def test_overrides_win_over_the_package() -> None:
    cal = WorkCalendar(holidays=[date(2026, 11, 26)], workdays=[date(2026, 11, 28)])
    assert not cal.is_workday(date(2026, 11, 26))
    assert cal.is_workday(date(2026, 11, 28))


def test_neighbouring_workdays_skip_the_national_day_week() -> None:
    cal = WorkCalendar()
    assert cal.next_workday(date(2026, 9, 30)) == date(2026, 10, 8)
    assert cal.previous_workday(date(2026, 10, 8)) == date(2026, 9, 30)
    assert cal.on_or_before(date(2026, 10, 4)) == date(2026, 9, 30)
    assert cal.on_or_after(date(2026, 10, 4)) == date(2026, 10, 8)
    assert cal.next_workday(date(2026, 10, 9)) == date(2026, 10, 10)  # make-up Saturday
    assert cal.workdays_after(date(2026, 9, 30), date(2026, 10, 9)) == 2


STATUTORY_2027 = [date(2027, 1, 1), *(date(2027, 2, d) for d in range(5, 9)), date(2027, 4, 5),
                  date(2027, 5, 1), date(2027, 5, 2), date(2027, 6, 9), date(2027, 9, 15),
                  *(date(2027, 10, d) for d in (1, 2, 3))]


def test_2027_statutory_holidays_are_computed_and_warned_once(
        caplog: pytest.LogCaptureFixture) -> None:
    """元旦, 春节 (4 days, from 除夕), 清明, 劳动节 (2), 端午, 中秋, 国庆 (3): lunar dates
    computed, though the package has no 2027 calendar yet."""
    cal = WorkCalendar()
    with caplog.at_level(logging.WARNING):
        assert [d for d in STATUTORY_2027 if cal.is_workday(d)] == []
        assert cal.is_workday(date(2027, 1, 4))  # Monday
        assert cal.is_workday(date(2027, 2, 4))  # Thursday before 除夕
        assert not cal.is_workday(date(2027, 1, 9))  # Saturday
        assert cal.next_workday(date(2026, 12, 31)) == date(2027, 1, 4)
    warnings = [r for r in caplog.records if "2027" in r.getMessage()]
    assert len(warnings) == 1
    assert cal.fallback_years == {2027}
    assert not WorkCalendar.has_statutory_data(2027)
    assert WorkCalendar.has_statutory_data(2026)


def test_2027_overrides_from_config_apply_on_top_of_weekdays() -> None:
    cal = WorkCalendar(holidays=[date(2027, 2, 9)], workdays=[date(2027, 1, 30),
                                                              date(2027, 10, 1)])
    assert not cal.is_workday(date(2027, 2, 9))  # a bridging day the config adds
    assert cal.is_workday(date(2027, 1, 30))  # a Saturday made a 调休 workday by config
    assert not cal.is_workday(date(2027, 10, 1))  # but never a statutory holiday


def test_a_year_is_estimated_until_config_lists_every_statutory_holiday() -> None:
    gap = WorkCalendar().gap(2027)
    assert gap is not None and list(gap.missing) == STATUTORY_2027
    guide_example = [date(2027, 1, 1), date(2027, 10, 1), date(2027, 10, 2)]
    partial = WorkCalendar(holidays=guide_example).gap(2027)
    assert partial is not None and len(partial.missing) == 10
    assert WorkCalendar(holidays=STATUTORY_2027).gap(2027) is None
    assert WorkCalendar().gap(2026) is None  # the package has 2026
    assert WorkCalendar().gaps(date(2026, 10, 31)) == []  # asked for from 1 November
    assert [g.year for g in WorkCalendar().gaps(date(2026, 11, 1))] == [2027]
    assert [g.year for g in WorkCalendar().gaps(date(2027, 3, 1))] == [2027]


def test_counting_workdays_across_years_matches_a_day_by_day_count() -> None:
    cal = WorkCalendar(holidays=[date(2027, 1, 1)])
    start, end = date(2024, 3, 5), date(2027, 2, 10)
    by_hand, day = 0, start
    while day < end:
        day = date.fromordinal(day.toordinal() + 1)
        by_hand += cal.is_workday(day)
    assert cal.workdays_after(start, end) == by_hand
    assert cal.workdays_after(end, start) == 0
    assert cal.workdays_after(date(2026, 11, 30), date(2026, 12, 3)) == 3


def test_a_complete_new_year_silences_the_fallback_warning(
        caplog: pytest.LogCaptureFixture) -> None:
    cal = WorkCalendar(holidays=STATUTORY_2027)
    with caplog.at_level(logging.WARNING):
        assert cal.is_workday(date(2027, 1, 4))
    assert not caplog.records
    assert not cal.needs_holidays(2027)
    assert WorkCalendar().needs_holidays(2027)
    assert not WorkCalendar().needs_holidays(2026)
