"""What the domain says in words: periods as people name them, and the calendar's warning.

`schedules/` must not import `handlers/` (the arrows point the other way), so the few
sentences the domain itself forms live here; `handlers.text` holds everything the bot says.
"""

from __future__ import annotations

QUARTERS = "一二三四"
HALVES = "上下"

# Logged once per year the holiday package does not know (`%d`: the year).
YEAR_NOT_COVERED = ("%d 年的放假安排尚未收录：法定节假日已按《全国年节及纪念日放假办法》推算，"
                    "调休上班日无从得知；请在配置的 [calendar] 中补充当年的放假和调休日期")


def week(year: str, number: int) -> str:
    return f"{year}年第{number}周"


def half_month(year: str, month: int, first: bool) -> str:
    return f"{year}年{month}月{'上' if first else '下'}半月"


def quarter(year: str, number: int) -> str:
    return f"{year}年第{QUARTERS[number - 1]}季度"


def half_year(year: str, number: int) -> str:
    return f"{year}年{HALVES[number - 1]}半年"


def whole_year(year: str) -> str:
    return f"{year}年"


def month(year: str, number: int) -> str:
    return f"{year}年{number}月"


def deadline(key: str) -> str:
    """A period that is only its deadline (as required by a higher body)."""
    return f"{key}截止"
