"""Meeting times as people type them (SPEC §6), read against a fixed `now`."""

from __future__ import annotations

import pytest

from handlers.when import NotATime, at_night, read_time
from tests.builders import at

NOW = at("2026-12-01 10:00")  # a Tuesday


@pytest.mark.parametrize("typed, moment, rest", [
    ("12月5日15:00", "2026-12-05 15:00", ""),
    ("12月5日 下午3点 三楼", "2026-12-05 15:00", "三楼"),
    ("12-05 15:00 三楼会议室 议题", "2026-12-05 15:00", "三楼会议室 议题"),
    ("2026-12-05 15:00", "2026-12-05 15:00", ""),
    ("周五下午3点 三楼会议室 学习贯彻全会精神", "2026-12-04 15:00", "三楼会议室 学习贯彻全会精神"),
    ("本周五 15:00", "2026-12-04 15:00", ""),
    ("下周一上午9点半", "2026-12-07 09:30", ""),
    ("下周一上午九点半", "2026-12-07 09:30", ""),
    ("明天下午3点", "2026-12-02 15:00", ""),
    ("星期五下午三点一刻", "2026-12-04 15:15", ""),
    ("周五3点", "2026-12-04 15:00", ""),  # a bare 3 o'clock is in the afternoon
    ("今晚7点 党员活动室", "2026-12-01 19:00", "党员活动室"),
    ("周日上午10点", "2026-12-06 10:00", ""),
    ("下下周三14:00", "2026-12-16 14:00", ""),
    ("1月5日 9:00", "2027-01-05 09:00", ""),  # a day already past this year: next year's
    ("十二月五日下午3点", "2026-12-05 15:00", ""),
    ("１２月５日　１５：００", "2026-12-05 15:00", ""),  # full-width
])
def test_times_people_type(typed: str, moment: str, rest: str) -> None:
    when = read_time(typed, NOW)
    assert when.moment == at(moment)
    assert when.rest == rest


@pytest.mark.parametrize("typed, why", [("三楼会议室", "none"), ("12月5日 三楼", "time"),
                                        ("13月40日 15:00", "day"), ("周五25点", "time")])
def test_what_is_not_a_time(typed: str, why: str) -> None:
    with pytest.raises(NotATime) as e:
        read_time(typed, NOW)
    assert str(e.value) == why


def test_night() -> None:
    assert at_night(at("2026-12-04 23:00")) and at_night(at("2026-12-04 06:30"))
    assert not at_night(at("2026-12-04 19:30"))
