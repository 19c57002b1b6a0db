"""Text → command. Pure, total and fuzzable: any string gives a `Parsed` or an `Unknown`.

Tolerates full-width spaces, digits and punctuation, `/cmd@botname`, a command word glued
to its argument (`打卡3`), a space inside one (`待　办`), extra spaces, the way people ask
(`我要打卡 80`, `查一下待办`, `今天有什么任务`) and Chinese numerals (`完成 二十二`, via
`cn2an`). Greetings and thanks are understood too. The argument text is kept as the user
typed it (only trimmed), so notes are stored verbatim.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from handlers.table import COMMANDS as TABLE
from handlers.text import TEXT_LIMIT
from schedules.model import Cadence
from schedules.periods import Period, parse_period_key, period_of

# Canonical command name → the words that invoke it: the table's rows, as data.
COMMANDS: dict[str, tuple[str, ...]] = {c.name: c.words for c in TABLE if c.words}
# How people lead into a command: `我要打卡 80`, `查一下待办`, `我的待办`.
LEAD_INS = ("请帮我", "帮我", "我要", "我想", "我来", "给我", "麻烦", "请", "查一下", "查下",
            "看一下", "看看", "查看", "显示", "我的")

_WORDS = {word: name for name, words in COMMANDS.items() for word in words}
# Chinese words may be glued to what follows (`打卡3`); longest first so prefixes lose.
_GLUED = sorted((w for w in _WORDS if not w.isascii()), key=len, reverse=True)
_EDGE_PUNCT = " \t:：,，、。.!！?？;；"
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Parsed:
    name: str  # canonical command name, a key of COMMANDS
    args: str  # the rest, as typed (trimmed)


@dataclass(frozen=True)
class Unknown:
    word: str  # what the user typed first, normalised; "" for an empty message
    suggestion: str | None  # the closest command word, if any is close
    rest: str = ""  # what followed it, kept for the suggestion (`打开 80` → `打卡 80`)


def normalise(text: str) -> str:
    """Full-width forms to half-width, lower case, no NULs or control characters."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if ch.isprintable() or ch.isspace()).lower()


@lru_cache(maxsize=4096)  # pure, and the same few commands arrive over and over
def parse(text: str) -> Parsed | Unknown:
    stripped = text.strip().strip("\x00")
    if not stripped:
        return Unknown("", None)
    found = _match(stripped)
    if found is not None:
        return found
    bare = stripped
    for _ in range(3):  # 请帮我查一下待办: lead-ins may come in a row
        lead = next((w for w in LEAD_INS if normalise(bare).startswith(w)), None)
        if lead is None:
            break
        bare = bare[_original_prefix_length(bare, lead):].lstrip(_EDGE_PUNCT)
        found = _match(bare) if bare else None
        if found is not None:
            return found
    first, rest = _split(stripped)
    word = normalise(first).strip(_EDGE_PUNCT)
    return Unknown(word[:40], suggest(word), _clean_args(rest)[:100])


def _match(text: str) -> Parsed | None:
    first, rest = _split(text)
    word = normalise(first).strip(_EDGE_PUNCT)
    if word.startswith("/"):
        word = word[1:].split("@", 1)[0]  # /done@dutybot → done
    whole = normalise(text).strip(_EDGE_PUNCT)
    if whole in _WORDS and not whole.isascii():  # 今天有什么任务, thank you
        return Parsed(_WORDS[whole], "")
    if whole in _WORDS:
        return Parsed(_WORDS[whole], "")
    if word in _WORDS:
        return Parsed(_WORDS[word], _clean_args(rest))
    for glued in _GLUED:
        if word.startswith(glued):
            # Keep the user's own characters for the argument: cut the original token.
            cut = _original_prefix_length(first, glued)
            args = first[cut:] + (" " + rest if rest else "")
            return Parsed(_WORDS[glued], _clean_args(args))
    joined = _joined_word(text)  # 待　办: a space typed inside the word
    if joined is not None:
        return _match(joined)
    return None


def _joined_word(text: str) -> str | None:
    """The text with the spaces inside a leading command word taken out, if that makes
    one: `待 办 ` → `待办`, `撤 销 22` → `撤销 22`."""
    parts = _SPACE.split(text.strip())
    for n in range(2, min(len(parts), 4) + 1):
        word = "".join(parts[:n])
        if normalise(word) in _WORDS and all(len(p) <= 2 for p in parts[:n]):
            return " ".join([word, *parts[n:]])
    return None


def suggest(word: str) -> str | None:
    if not word:
        return None
    close = difflib.get_close_matches(word, list(_WORDS), n=1, cutoff=0.5)
    return close[0] if close else None


_CN_NUMERAL = "零〇一二两三四五六七八九十百千万"


def chinese_number(token: str) -> int | None:
    """`二十二` → 22 (cn2an); None for anything that is not a Chinese numeral."""
    if not token or len(token) > 12 or any(ch not in _CN_NUMERAL for ch in token):
        return None
    import cn2an  # 0.13 s to import: paid by the first numeral typed, not by every start
    try:
        value = cn2an.cn2an(token, "normal")
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return int(value) if float(value).is_integer() and 0 < value < 10**9 else None


def number_arg(token: str) -> int | None:
    """`3`, `３`, `#3`, `第3项`, `3号`, `三` → 3; anything else → None."""
    t = normalise(token).strip(_EDGE_PUNCT).removeprefix("#").removeprefix("no.")
    t = t.removeprefix("第").removesuffix("号").removesuffix("项")
    if t.isascii() and t.isdigit() and len(t) <= 9:
        return int(t)
    return chinese_number(t)


_DURATION = re.compile(r"^(.+?)(个月|月|个星期|星期|周|天|日)?$")
_DURATION_DAYS = {"个月": 30, "月": 30, "个星期": 7, "星期": 7, "周": 7, "天": 1, "日": 1}


def days_arg(token: str) -> int | None:
    """A span as people write it: `30`, `30天`, `三十`, `一个月`, `两周` → days."""
    t = normalise(token).strip(_EDGE_PUNCT).replace(" ", "")
    match = _DURATION.match(t)
    if match is None:
        return None
    count = number_arg(match[1])
    if count is None:
        return None
    return count * _DURATION_DAYS.get(match[2] or "天", 1)


_LEADING_NUMBER = re.compile(
    r"^\s*(?:第|#|＃|no\.?\s*)?(?:([0-9０-９]{1,9})|([零〇一二两三四五六七八九十百千万]{1,12})"
    r"(?=$|[\s,，、;；:：。.!！?？]))(?:\s*(?:号|项))?(?![0-9０-９])", re.IGNORECASE)
_NOTE_SEPARATORS = "，、,：:；;。.\u3000 \t"
_KEYWORD_END = re.compile(r"[\s，、,：:；;。]")


def split_number(args: str) -> tuple[int | None, str]:
    """A leading task number and the note after it: `22，已召开` → (22, "已召开").

    The number may be full-width and may be written 第22项 or #22; the note may follow a
    space, a comma or nothing at all. Without a leading number: (None, args)."""
    match = _LEADING_NUMBER.match(args)
    number = _number_of(match)
    if match is None or number is None:
        return None, args.strip()
    return number, args[match.end():].lstrip(_NOTE_SEPARATORS).strip()


def _number_of(match: re.Match[str] | None) -> int | None:
    if match is None:
        return None
    if match[1]:
        return int(unicodedata.normalize("NFKC", match[1]))
    return chinese_number(match[2])


_MORE_NUMBERS = re.compile(
    r"^[\s,，、;；]+(?:第|#|＃|no\.?\s*)?(?:([0-9０-９]{1,9})|([零〇一二两三四五六七八九十百千万]{1,12}))"
    r"(?:\s*(?:号|项))?(?=$|[\s,，、;；:：。.!！?？])", re.IGNORECASE)


def split_numbers(args: str) -> tuple[list[int], str]:
    """Leading task numbers and the note after them: `116 120、124 已召开` → ([116, 120,
    124], "已召开"). The first number is read as `split_number` reads it; each further one
    must stand alone (`22 3人参加` is task 22 with the note "3人参加")."""
    match = _LEADING_NUMBER.match(args)
    first = _number_of(match)
    if match is None or first is None:
        return [], args.strip()
    numbers = [first]
    end = match.end()
    while (more := _MORE_NUMBERS.match(args[end:])) is not None:
        number = _number_of(more)
        if number is None:
            break
        numbers.append(number)
        end += more.end()
    return list(dict.fromkeys(numbers)), args[end:].lstrip(_NOTE_SEPARATORS).strip()


def clip(text: str) -> tuple[str, bool]:
    """Free text as stored: at most `TEXT_LIMIT` characters; says whether it was cut."""
    return (text, False) if len(text) <= TEXT_LIMIT else (text[:TEXT_LIMIT], True)


def split_keyword(args: str) -> tuple[str, str]:
    """A leading keyword and the note after it, split at a space or Chinese punctuation."""
    args = args.strip()
    match = _KEYWORD_END.search(args)
    if match is None:
        return args, ""
    return args[:match.start()], args[match.end():].lstrip(_NOTE_SEPARATORS).strip()


def split_first(args: str) -> tuple[str, str]:
    """The first word of an argument and the rest, both trimmed."""
    first, rest = _split(args.strip())
    return first, _clean_args(rest)


def _split(text: str) -> tuple[str, str]:
    parts = _SPACE.split(text, maxsplit=1)
    return parts[0], parts[1] if len(parts) > 1 else ""


def _clean_args(args: str) -> str:
    return args.strip().lstrip(_EDGE_PUNCT).strip()


def _original_prefix_length(token: str, word: str) -> int:
    """How many characters of `token` make up `word` once normalised."""
    for i in range(1, len(token) + 1):
        if normalise(token[:i]).lstrip("/") == word:
            return i
    return len(word)


_DATE = re.compile(r"^(?:(\d{4})\s*[-/.年]\s*)?(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?$")
_UNTIL = ("截至", "直到", "至", "到")


def date_arg(token: str, today: date) -> date | None:
    """A day as people write it: `12月15日`, `至12月15日`, `12-15`, `2026-12-15`; without a
    year, the next such day from `today` on. None if it is not a date."""
    t = normalise(token).strip(_EDGE_PUNCT).replace(" ", "")
    for word in _UNTIL:
        t = t.removeprefix(word)
    match = _DATE.match(t)
    if match is None:
        return None
    try:
        year = int(match[1]) if match[1] else today.year
        found = date(year, int(match[2]), int(match[3]))
        if not match[1] and found < today:
            found = date(year + 1, found.month, found.day)
    except ValueError:
        return None
    return found


_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}
_PERIOD_CN = re.compile(
    r"^(?:(?P<year>\d{4})年?)?"
    r"(?:(?P<half>上|下)半年|第?(?P<quarter>[一二三四1-4])季度?|q(?P<q>[1-4])"
    r"|(?P<month>\d{1,2})月份?)?$")
_RELATIVE = {
    "本月": (Cadence.MONTHLY, 0), "上月": (Cadence.MONTHLY, -1),
    "本季度": (Cadence.QUARTERLY, 0), "上季度": (Cadence.QUARTERLY, -1),
    "本半年": (Cadence.HALF_YEARLY, 0),
    "今年": (Cadence.YEARLY, 0), "本年": (Cadence.YEARLY, 0), "本年度": (Cadence.YEARLY, 0),
    "去年": (Cadence.YEARLY, -1), "上年": (Cadence.YEARLY, -1),
}


def period_arg(token: str, today: date) -> Period | None:
    """A period as people write it: `2026-H1`, `2026-Q4`, `2026-11`, `2026`, `2026年上半年`,
    `第三季度`, `11月`, `本季度`, `去年` … (a missing year is this year); else None."""
    t = normalise(token).strip(_EDGE_PUNCT).replace(" ", "")
    if not t:
        return None
    try:
        return parse_period_key(t)[1]
    except ValueError:
        pass
    if t in _RELATIVE:
        cadence, step = _RELATIVE[t]
        period = period_of(cadence, today)
        return period_of(cadence, period.start - timedelta(days=1)) if step else period
    match = _PERIOD_CN.match(t)
    if match is None or not any(match.groupdict().values()):
        return None
    year = int(match["year"]) if match["year"] else today.year
    if not 2000 <= year <= 2100:
        return None
    if match["half"]:
        return period_of(Cadence.HALF_YEARLY, date(year, 1 if match["half"] == "上" else 7, 1))
    quarter = match["quarter"] or match["q"]
    if quarter:
        return period_of(Cadence.QUARTERLY, date(year, _CN_DIGITS[quarter] * 3 - 2, 1))
    if match["month"]:
        month = int(match["month"])
        return period_of(Cadence.MONTHLY, date(year, month, 1)) if 1 <= month <= 12 else None
    return period_of(Cadence.YEARLY, date(year, 1, 1))
