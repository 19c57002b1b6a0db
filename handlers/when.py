"""A meeting's time as people type it (SPEC §6): `12月5日15:00`, `12月5日 下午3点`,
`12-05 15:00`, `2026-12-05 15:00`, `周五下午3点`, `本周五 15:00`, `下周一上午9点半`,
`明天下午3点`, `今天晚上7点`, with Chinese numerals (`下午三点半`) read by `cn2an`.

Pure: `read_time` takes the text and `now` and returns the moment and what follows it
(the place and topic), or why it is not a time. No library reads these forms as a prefix
of a longer message (see the README's dependency notes), so this is a small grammar of
its own; numerals are `cn2an`'s.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from handlers.parse import chinese_number

_NUM = r"[0-9]{1,2}|[零〇一二两三四五六七八九十]{1,3}"
_WEEKDAY = "一二三四五六日天"
_PATTERN = re.compile(
    r"^\s*(?:"
    r"(?P<ymd>(?P<y>\d{4})\s*[-/.年]\s*(?P<ym>\d{1,2})\s*[-/.月]\s*(?P<yd>\d{1,2})\s*[日号]?)"
    r"|(?P<md>(?P<m>\d{1,2}|[一二三四五六七八九十]{1,3})\s*(?:月|-|/)\s*(?P<d>" + _NUM +
    r")\s*[日号]?)"
    r"|(?P<rel>今天|今日|今晚|明天|明日|明晚|后天)"
    r"|(?P<wk>(?P<which>下下个?|下个?|本|这个?|这)?\s*(?:周|星期|礼拜)(?P<wd>[" + _WEEKDAY +
    r"1-7]))"
    r")?\s*"
    r"(?P<part>上午|早上|早晨|中午|下午|傍晚|晚上|凌晨)?\s*"
    r"(?:(?P<hm>(?P<hh>\d{1,2})\s*:\s*(?P<mm>\d{2}))"
    r"|(?P<hour>" + _NUM + r")\s*[点时](?P<min>半|一刻|三刻|整|(?:" + _NUM + r")\s*分?)?)?"
)
_AFTERNOON = ("下午", "傍晚", "晚上")


@dataclass(frozen=True)
class When:
    moment: datetime
    rest: str  # what followed the time: place and topic
    explicit_day: bool  # a date or weekday was given (not just a time of today)


class NotATime(ValueError):
    """The text does not begin with a time; the message says what was missing."""


def _number(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    return chinese_number(text)


def read_time(text: str, now: datetime) -> When:
    """The moment `text` begins with, in `now`'s time zone, and the text after it."""
    folded = unicodedata.normalize("NFKC", text)
    match = _PATTERN.match(folded)
    if match is None or not (match["hm"] or match["hour"]):
        raise NotATime("time" if match is not None and match.group(0).strip() else "none")
    tz = now.tzinfo
    today = now.date()
    day = _day(match, today)
    clock = _clock(match)
    if day is None:
        raise NotATime("day")
    if clock is None:
        raise NotATime("time")
    moment = datetime.combine(day, clock, tz)
    rest = folded[match.end():].strip()
    explicit = any(match[g] for g in ("ymd", "md", "rel", "wk"))
    return When(moment, rest, explicit)


def _day(match: re.Match[str], today: date) -> date | None:
    try:
        if match["ymd"]:
            return date(int(match["y"]), int(match["ym"]), int(match["yd"]))
        if match["md"]:
            month, day_ = _number(match["m"]), _number(match["d"])
            if month is None or day_ is None:
                return None
            found = date(today.year, month, day_)
            return found if found >= today else date(today.year + 1, month, day_)
    except ValueError:
        return None
    if match["rel"]:
        offset = {"今天": 0, "今日": 0, "今晚": 0, "明天": 1, "明日": 1, "明晚": 1, "后天": 2}
        return today + timedelta(days=offset[match["rel"]])
    if match["wk"]:
        wd = match["wd"]
        weekday = int(wd) - 1 if wd.isdigit() else _WEEKDAY.index(wd)
        weekday = min(weekday, 6)  # 日 and 天 are both Sunday
        which = (match["which"] or "").replace("个", "")
        monday = today - timedelta(days=today.weekday())
        if which in ("本", "这"):
            return monday + timedelta(days=weekday)
        if which in ("下", "下下"):
            return monday + timedelta(days=weekday + 7 * len(which))
        found = monday + timedelta(days=weekday)  # `周五`: the coming one
        return found if found >= today else found + timedelta(days=7)
    return today


def _clock(match: re.Match[str]) -> time | None:
    part = match["part"] or ("晚上" if match["rel"] in ("今晚", "明晚") else "")
    if match["hm"]:
        hour, minute = int(match["hh"]), int(match["mm"])
    else:
        found = _number(match["hour"])
        if found is None:
            return None
        hour, minute = found, 0
        spoken = (match["min"] or "").replace(" ", "").removesuffix("分")
        if spoken == "半":
            minute = 30
        elif spoken in ("一刻", "三刻"):
            minute = 15 if spoken == "一刻" else 45
        elif spoken and spoken != "整":
            counted = _number(spoken)
            if counted is None:
                return None
            minute = counted
    if (part in _AFTERNOON and hour < 12) or (part == "中午" and hour < 3):
        hour += 12
    elif not part and not match["hm"] and 1 <= hour <= 6:
        hour += 12  # `周五3点` is three in the afternoon
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        return None
    return time(hour, minute)


def at_night(moment: datetime) -> bool:
    """Late evening or small hours: a slip, most likely (`晚上11点` for `上午11点`)."""
    t = moment.timetz().replace(tzinfo=None)
    return t >= time(22, 0) or t < time(7, 0)
