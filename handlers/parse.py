"""Text → command. Pure, total and fuzzable: any string gives a `Parsed` or an `Unknown`.

Tolerates full-width spaces, digits and punctuation, `/cmd@botname`, a command word glued
to its argument (`打卡3`), and extra spaces. The argument text is kept as the user typed
it (only trimmed), so notes are stored verbatim.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from schedules.model import Cadence
from schedules.periods import Period, parse_period_key, period_of

# Canonical command name → the words that invoke it. Chinese first; English and slash
# forms are aliases. Order is the order `帮助` lists them in.
COMMANDS: dict[str, tuple[str, ...]] = {
    "help": ("帮助", "help", "start", "菜单"),
    "todo": ("待办", "todo"),
    "checkin": ("打卡", "完成", "done", "checkin"),
    "undo": ("撤销", "撤消", "undo"),
    "restore": ("恢复", "restore"),
    "upcoming": ("近期", "upcoming"),
    "status": ("查询", "status", "query"),
    "overview": ("总览", "overview"),
    "overdue": ("逾期", "overdue"),
    "excuse": ("豁免", "excuse"),
    "unexcuse": ("撤销豁免", "取消豁免", "撤消豁免", "unexcuse"),
    "incident": ("舆情", "incident"),
    "bind": ("绑定", "bind"),
}

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


def normalise(text: str) -> str:
    """Full-width forms to half-width, lower case, no NULs or control characters."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if ch.isprintable() or ch.isspace()).lower()


@lru_cache(maxsize=4096)  # pure, and the same few commands arrive over and over
def parse(text: str) -> Parsed | Unknown:
    stripped = text.strip().strip("\x00")
    if not stripped:
        return Unknown("", None)
    first, rest = _split(stripped)
    word = normalise(first).strip(_EDGE_PUNCT)
    if word.startswith("/"):
        word = word[1:].split("@", 1)[0]  # /done@dutybot → done
    if word in _WORDS:
        return Parsed(_WORDS[word], _clean_args(rest))
    for glued in _GLUED:
        if word.startswith(glued):
            # Keep the user's own characters for the argument: cut the original token.
            cut = _original_prefix_length(first, glued)
            args = first[cut:] + (" " + rest if rest else "")
            return Parsed(_WORDS[glued], _clean_args(args))
    return Unknown(word[:40], suggest(word))


def suggest(word: str) -> str | None:
    if not word:
        return None
    close = difflib.get_close_matches(word, list(_WORDS), n=1, cutoff=0.5)
    return close[0] if close else None


def number_arg(token: str) -> int | None:
    """`3`, `３`, `#3`, `第3项`, `3号` → 3; anything else → None."""
    t = normalise(token).strip(_EDGE_PUNCT).removeprefix("#").removeprefix("no.")
    t = t.removeprefix("第").removesuffix("号").removesuffix("项")
    if t.isascii() and t.isdigit() and len(t) <= 9:
        return int(t)
    return None


_LEADING_NUMBER = re.compile(
    r"^\s*(?:第|#|＃|no\.?\s*)?([0-9０-９]{1,9})\s*(?:号|项)?(?![0-9０-９])", re.IGNORECASE)
_NOTE_SEPARATORS = "，、,：:；;。.\u3000 \t"
_KEYWORD_END = re.compile(r"[\s，、,：:；;。]")


def split_number(args: str) -> tuple[int | None, str]:
    """A leading task number and the note after it: `22，已召开` → (22, "已召开").

    The number may be full-width and may be written 第22项 or #22; the note may follow a
    space, a comma or nothing at all. Without a leading number: (None, args)."""
    match = _LEADING_NUMBER.match(args)
    if match is None:
        return None, args.strip()
    number = int(unicodedata.normalize("NFKC", match[1]))
    return number, args[match.end():].lstrip(_NOTE_SEPARATORS).strip()


_MORE_NUMBERS = re.compile(
    r"^[\s,，、;；]+(?:第|#|＃|no\.?\s*)?([0-9０-９]{1,9})\s*(?:号|项)?"
    r"(?=$|[\s,，、;；:：。.!！?？])", re.IGNORECASE)


def split_numbers(args: str) -> tuple[list[int], str]:
    """Leading task numbers and the note after them: `116 120、124 已召开` → ([116, 120,
    124], "已召开"). The first number is read as `split_number` reads it; each further one
    must stand alone (`22 3人参加` is task 22 with the note "3人参加")."""
    match = _LEADING_NUMBER.match(args)
    if match is None:
        return [], args.strip()
    numbers = [int(unicodedata.normalize("NFKC", match[1]))]
    end = match.end()
    while (more := _MORE_NUMBERS.match(args[end:])) is not None:
        numbers.append(int(unicodedata.normalize("NFKC", more[1])))
        end += more.end()
    return list(dict.fromkeys(numbers)), args[end:].lstrip(_NOTE_SEPARATORS).strip()


TEXT_LIMIT = 1000  # characters of a note, reason, incident text or record: one limit for all


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
