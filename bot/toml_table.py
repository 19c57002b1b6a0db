"""One TOML table being read, with the typed getters every config section uses.

Every problem becomes one `ConfigError` naming the file, the key path and what is wrong.
Channel modules read their `[channels.*]` sections with these, so they live apart from the
bureau's own config (`bot.config`), which imports the channels.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any, NoReturn

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ConfigError(Exception):
    """A config problem: `file: key: problem`."""

    def __init__(self, file: Path, key: str, problem: str) -> None:
        self.file, self.key, self.problem = file, key, problem
        where = f"{file}: {key}: " if key else f"{file}: "
        super().__init__(where + problem)


# Keys renamed since an earlier release: "table.old" (tables of [[...]] without the index)
# -> the new name in the same table. The old name is still read; `check` says to rename it.
RENAMED: dict[str, str] = {}


class Table:
    """One TOML table being read: typed getters, and a check that no key is left unknown."""

    def __init__(self, file: Path, path: str, data: Any, present: bool = True,
                 renamed: list[str] | None = None) -> None:
        self.file, self.path = file, path
        self.present = present  # written in the file (not an absent table read as empty)
        if not isinstance(data, dict):
            self.fail("", f"应为表（table），而不是{kind_of(data)}")
        self.data: dict[str, Any] = data
        self.used: set[str] = set()
        self.renamed = [] if renamed is None else renamed  # shared by a file's tables
        kind = re.sub(r"\[\d+\]", "", path) if RENAMED else ""
        for old_key, new in RENAMED.items():
            table, _, old = old_key.rpartition(".")
            if table != kind or old not in data:
                continue
            if new in data:
                self.fail(old, f"已更名为 {new}，两个名字不能同时写；请删去 {old}")
            self.data = data = {(new if k == old else k): v for k, v in data.items()}
            self.renamed.append(f"{self.key(old)} 已更名为 {self.key(new)}")

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def fail(self, name: str, problem: str) -> NoReturn:
        raise ConfigError(self.file, self.key(name) if name else self.path, problem)

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = ..., *,
            kind_name: str) -> Any:
        self.used.add(name)
        if name not in self.data:
            if default is ...:
                self.fail(name, "缺少此项（必填）")
            return default
        value = self.data[name]
        # TOML booleans are ints to Python; keep them apart.
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
            self.fail(name, f"应为{kind_name}，而不是{kind_of(value)}")
        return value

    def text(self, name: str, default: Any = ...) -> Any:
        value = self.get(name, str, default, kind_name="字符串")
        if name in self.data and not value.strip():
            self.fail(name, "不能为空（不需要时整行删去）")
        return value

    def ident(self, name: str) -> str:
        value: str = self.text(name)
        if not ID_PATTERN.match(value):
            self.fail(name, f"“{value}”不是有效的 id（只能用字母、数字和 - _ .，以字母或数字开头，"
                            "最长 64 个字符，不能有空格、冒号或汉字）")
        return value

    def texts(self, name: str, default: Any = ...) -> list[str]:
        value = self.get(name, list, default, kind_name="字符串列表")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.fail(f"{name}[{i}]", f"应为非空字符串，而不是{kind_of(item)}")
            if item in value[:i]:
                self.fail(f"{name}[{i}]", f"“{item}”重复列出")
        return list(value)

    def table(self, name: str) -> Table:
        return Table(self.file, self.key(name), self.get(name, dict, {}, kind_name="表（table）"),
                      present=name in self.data, renamed=self.renamed)

    def unique_id(self, seen: dict[str, str]) -> str:
        """This table's `id`, checked against the ids (and where they were) seen so far."""
        value = self.ident("id")
        if value in seen:
            self.fail("id", f"“{value}”重复使用（{seen[value]} 也用了它）")
        seen[value] = self.path
        return value

    def tables(self, name: str) -> list[Table]:
        items = self.get(name, list, [], kind_name="多段表（[[...]]）")
        return [Table(self.file, f"{self.key(name)}[{i + 1}]", item, renamed=self.renamed)
                for i, item in enumerate(items)]

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            known = "、".join(sorted(self.used)) or "无"
            self.fail(unknown[0], f"不是这里可用的配置项（可用：{known}），请检查拼写")


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def kind_of(value: Any) -> str:
    names = {str: "字符串", int: "数字", float: "数字", bool: "true/false",
             list: "列表", dict: "表（table）", date: "日期"}
    return names.get(type(value), type(value).__name__)


def positive(t: Table, name: str, default: int) -> int:
    value: int = t.get(name, int, default, kind_name="正整数")
    if value <= 0:
        t.fail(name, "应为正整数")
    return value


def refuse_literal_secrets(t: Table, names: Iterable[str]) -> None:
    for name in names:
        if name in t.data:
            t.fail(name, f"密钥不能写在配置文件里；请放进环境变量，"
                         f"在这里写变量名：{name}_env = \"变量名\"")


ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


def _looks_secret(value: str) -> bool:
    """A value that is more likely a pasted secret than a variable name: not a valid name
    (a Telegram token's colon, a robot key's dashes), or letters of both cases mixed with
    digits, as keys and tokens are and names like DUTYBOT_WECOM_SECRET are not."""
    if not ENV_NAME.fullmatch(value):
        return True
    mixed = (any(c.islower() for c in value) and any(c.isupper() for c in value)
             and any(c.isdigit() for c in value))
    return mixed or (len(value) >= 24 and "_" not in value)


def env_name(t: Table, name: str) -> str:
    value: str = t.text(name, "")
    if value and _looks_secret(value):
        # Never echoed: it may be the secret itself, and config errors end up in logs.
        t.fail(name, "看起来像密钥本身，请写环境变量名（如 DUTYBOT_WECOM_SECRET），"
                     "把密钥放进该环境变量")
    return value


def choice(t: Table, name: str, options: tuple[str, ...], default: str) -> str:
    value: str = t.text(name, default)
    if value not in options:
        t.fail(name, f"“{value}”不是可选值（可选：{'、'.join(options)}）")
    return value
