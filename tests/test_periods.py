"""Period keys and due dates, as tables."""

from __future__ import annotations

from datetime import date

import pytest

from schedules.calendar import WorkCalendar
from schedules.model import Adjust, Cadence, DueRule
from schedules.periods import Period, due_date, parse_period_key, period_of, periods_overlapping

CAL = WorkCalendar()


@pytest.mark.parametrize(("cadence", "day", "key", "start", "end"), [
    (Cadence.MONTHLY, date(2026, 2, 14), "2026-02", date(2026, 2, 1), date(2026, 2, 28)),
    (Cadence.MONTHLY, date(2024, 2, 29), "2024-02", date(2024, 2, 1), date(2024, 2, 29)),
    (Cadence.QUARTERLY, date(2026, 11, 26), "2026-Q4", date(2026, 10, 1), date(2026, 12, 31)),
    (Cadence.QUARTERLY, date(2026, 3, 31), "2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),
    (Cadence.QUARTERLY, date(2026, 4, 1), "2026-Q2", date(2026, 4, 1), date(2026, 6, 30)),
    (Cadence.HALF_YEARLY, date(2026, 6, 30), "2026-H1", date(2026, 1, 1), date(2026, 6, 30)),
    (Cadence.HALF_YEARLY, date(2026, 7, 1), "2026-H2", date(2026, 7, 1), date(2026, 12, 31)),
    (Cadence.YEARLY, date(2027, 1, 1), "2027", date(2027, 1, 1), date(2027, 12, 31)),
])
def test_period_of(cadence: Cadence, day: date, key: str, start: date, end: date) -> None:
    assert period_of(cadence, day) == Period(start, end, key)
    assert parse_period_key(key) == (cadence, Period(start, end, key))


@pytest.mark.parametrize("bad", ["2026-Q5", "2026-H3", "2026-13", "26-Q1", "2026Q1", "", "abcd"])
def test_bad_period_keys_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_period_key(bad)


@pytest.mark.parametrize(("key", "label"), [
    ("2026-Q4", "2026年第四季度"), ("2026-H1", "2026年上半年"), ("2026", "2026年"),
    ("2026-11", "2026年11月"), ("2026-W48", "2026年第48周"), ("2026-11A", "2026年11月上半月"),
    ("2026-02B", "2026年2月下半月"),
])
def test_period_labels(key: str, label: str) -> None:
    assert parse_period_key(key)[1].label() == label


@pytest.mark.parametrize(("rule", "key", "due"), [
    (DueRule(), "2026-Q4", date(2026, 12, 31)),
    (DueRule(), "2026-02", date(2026, 2, 28)),
    (DueRule(anchor="end", days=-10), "2026-Q4", date(2026, 12, 21)),
    (DueRule(anchor="start", days=14), "2026-11", date(2026, 11, 15)),
    (DueRule(anchor="month-days", month_days=((6, 20), (12, 20))), "2026-H1", date(2026, 6, 20)),
    (DueRule(anchor="month-days", month_days=((6, 20), (12, 20))), "2026-H2", date(2026, 12, 20)),
    (DueRule(anchor="month-days", month_days=((12, 15),)), "2027", date(2027, 12, 15)),
])
def test_due_dates(rule: DueRule, key: str, due: date) -> None:
    assert due_date(rule, parse_period_key(key)[1], CAL) == due


FIRST_FRI = DueRule(anchor="weekday", ordinal=1, weekday=4)
LAST_FRI = DueRule(anchor="weekday", ordinal=-1, weekday=4)
THIRD_WED = DueRule(anchor="weekday", ordinal=3, weekday=2)
LAST_WORKDAY = DueRule(anchor="workday", ordinal=-1)
FIFTH_WORKDAY = DueRule(anchor="workday", ordinal=5)


@pytest.mark.parametrize(("rule", "key", "due"), [
    (FIRST_FRI, "2026-12", date(2026, 12, 4)),  # 主题党日 固定每月第一个周五
    (FIRST_FRI, "2027-01", date(2027, 1, 1)),  # 元旦 itself: adjust decides (below)
    (LAST_FRI, "2026-10", date(2026, 10, 30)),
    (THIRD_WED, "2026-11", date(2026, 11, 18)),
    (LAST_WORKDAY, "2026-10", date(2026, 10, 30)),
    (LAST_WORKDAY, "2026-09", date(2026, 9, 30)),
    (FIFTH_WORKDAY, "2026-10", date(2026, 10, 13)),  # 10-08, 09, 10 (make-up Sat), 12, 13
    (LAST_WORKDAY, "2026-W48", date(2026, 11, 27)),  # the weekly default: Friday
    (LAST_WORKDAY, "2026-W40", date(2026, 9, 30)),  # National Day week: Wednesday
    (DueRule(anchor="weekday", ordinal=1, weekday=4), "2026-W48", date(2026, 11, 27)),
    (DueRule(), "2026-11A", date(2026, 11, 15)),
    (DueRule(), "2026-02B", date(2026, 2, 28)),
])
def test_ordinal_and_working_day_rules(rule: DueRule, key: str, due: date) -> None:
    assert due_date(rule, parse_period_key(key)[1], CAL) == due


def test_a_week_without_working_days_falls_on_its_last_day() -> None:
    week = parse_period_key("2026-W08")[1]  # 16–22 February: Spring Festival
    assert due_date(LAST_WORKDAY, week, CAL) == date(2026, 2, 22)


@pytest.mark.parametrize(("adjust", "due"), [
    (Adjust.NONE, date(2026, 12, 20)),  # a Sunday, as written
    (Adjust.PREVIOUS, date(2026, 12, 18)),
    (Adjust.NEXT, date(2026, 12, 21)),
])
def test_a_deadline_on_a_sunday_is_adjusted_as_the_duty_says(adjust: Adjust, due: date) -> None:
    rule = DueRule(anchor="month-days", month_days=((6, 20), (12, 20)))
    assert due_date(rule, parse_period_key("2026-H2")[1], CAL, adjust) == due


def test_weeks_and_half_months_in_order() -> None:
    weeks = [p.key for p in periods_overlapping(Cadence.WEEKLY, date(2026, 12, 28),
                                                 date(2027, 1, 12))]
    assert weeks == ["2026-W53", "2027-W01", "2027-W02"]
    halves = [p.key for p in periods_overlapping(Cadence.SEMI_MONTHLY, date(2026, 11, 10),
                                                  date(2026, 12, 20))]
    assert halves == ["2026-11A", "2026-11B", "2026-12A", "2026-12B"]


def test_periods_overlapping_a_span_in_order() -> None:
    keys = [p.key for p in periods_overlapping(Cadence.QUARTERLY, date(2026, 2, 1),
                                                date(2027, 1, 1))]
    assert keys == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4", "2027-Q1"]
