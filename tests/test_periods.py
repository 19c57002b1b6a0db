"""Period keys and due dates, as tables."""

from __future__ import annotations

from datetime import date

import pytest

from schedules.model import Cadence, DueRule
from schedules.periods import Period, due_date, parse_period_key, period_of, periods_overlapping


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
    ("2026-11", "2026年11月"),
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
    assert due_date(rule, parse_period_key(key)[1]) == due


def test_periods_overlapping_a_span_in_order() -> None:
    keys = [p.key for p in periods_overlapping(Cadence.QUARTERLY, date(2026, 2, 1),
                                                date(2027, 1, 1))]
    assert keys == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4", "2027-Q1"]
