"""Reading `config.toml` into the typed domain (`schedules.model`) and settings.

Every problem becomes one `ConfigError` naming the file, the key path and what is wrong;
only the CLI prints it. Secrets never live in the file: channel sections name the
environment variables that hold them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import tomli

# `bot.channels.registry` (every channel's module) is imported where it is used: `audit
# verify` and `restore` read `[store]` alone (`store_path`) and start without it.
from bot.channels.plugin import AddressKey
from bot.toml_table import ConfigError as ConfigError  # for callers of `load`
from bot.toml_table import (
    Table,
    choice,
    env_name,
    kind_of,
    refuse_literal_secrets,
)
from schedules.model import (
    STATED_ROLES,
    Adjust,
    Attendees,
    Cadence,
    DueRule,
    Duty,
    GroupChat,
    Invitees,
    MeetingPolicy,
    Org,
    Owners,
    Person,
    Policy,
    Role,
    Unit,
    build_org,
)
from schedules.periods import PERIODS_PER_YEAR, SHORTEST_DAYS, period_of
from storage.backup import default_backups
from storage.files import DEFAULT_MAX_MB, MB

OFFSET_PATTERN = re.compile(r"^(start|end)\s*(?:([+-])\s*(\d+)\s*d)?$")
EVENT_DUE_PATTERN = re.compile(r"^\+?(\d+)\s*wd$")
MONTH_DAY_PATTERN = re.compile(r"^(\d{2})-(\d{2})$")
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ORDINAL_PATTERN = re.compile(
    r"^(first|last|\d{1,3}(?:st|nd|rd|th))-(mon|tue|wed|thu|fri|sat|sun|workday)$")
# The Nth working day a period of each cadence always has (a week may have fewer: then its
# last working day counts).
MAX_WORKDAY_ORDINAL = {Cadence.WEEKLY: 5, Cadence.SEMI_MONTHLY: 9, Cadence.MONTHLY: 19,
                       Cadence.QUARTERLY: 55, Cadence.HALF_YEARLY: 110, Cadence.YEARLY: 230}


@dataclass(frozen=True)
class ServerSettings:
    """Where `dutybot run` listens for callbacks (behind a reverse proxy with TLS)."""

    host: str = "127.0.0.1"
    port: int = 8080
    configured: bool = False  # [server] is in the config: serve /healthz and /metrics always


MAX_FILE_MB = 200  # [store] max_file_mb at most: one evidence file, held in memory once
MIN_LOG_DAYS = 180  # 网络安全法 第21条: network logs kept no less than six months


@dataclass(frozen=True)
class LogSettings:
    """Where `dutybot run` also writes its log, rotated daily and kept `keep_days` days."""

    file: Path | None = None  # None: the log goes to stderr only (journald under systemd)
    keep_days: int = MIN_LOG_DAYS


@dataclass(frozen=True)
class Config:
    path: Path
    org: Org
    store_path: Path
    holidays: tuple[date, ...] = ()
    workdays: tuple[date, ...] = ()
    reminders: Policy = field(default_factory=Policy)  # the bureau's defaults (and digests')
    # Each channel's settings by its name (`bot.channels.registry`), as its module read them.
    channels: Mapping[str, Any] = field(default_factory=dict)
    server: ServerSettings = field(default_factory=ServerSettings)
    backup_path: Path | None = None  # [store] backups; None: beside the store
    log: LogSettings = field(default_factory=LogSettings)
    renamed: tuple[str, ...] = ()  # old key names still read (see RENAMED), for `check`
    max_file_mb: int = DEFAULT_MAX_MB  # [store] max_file_mb: bigger evidence files not kept

    @property
    def backups(self) -> Path:
        return self.backup_path or default_backups(self.store_path)

    @property
    def max_file_bytes(self) -> int:
        return self.max_file_mb * MB

    def channel(self, name: str) -> Any:
        """A channel's settings when it is enabled, else None."""
        found = self.channels.get(name)
        return found if found is not None and found.enabled else None

    @property
    def any_channel(self) -> bool:
        """Whether a platform is enabled (if none is, the console reaches everyone)."""
        from bot.channels import registry
        return any(True for _ in registry.enabled(self.channels))

    def secret_env_names(self) -> list[str]:
        """Every environment variable the config names as holding a secret: the enabled
        channels' and every address key ending in `_env` (a group robot's key)."""
        from bot.channels import registry
        keys = [k.key for k in (*registry.person_keys(), *registry.group_keys())
                if k.key.endswith("_env")]
        held = [a for u in self.org.units.values() if u.group for k, a in u.group.addresses
                if k in keys]
        held += [a for p in self.org.people.values() for k, a in p.addresses if k in keys]
        return [n for n in [*self.env_names().values(), *held] if n]

    def env_names(self) -> dict[str, str]:
        """Environment variables the enabled channels read, by what they hold."""
        from bot.channels import registry
        names: dict[str, str] = {}
        for channel, settings in registry.enabled(self.channels):
            names |= channel.secret_envs(settings, self.org)
        return names


def _date(table: Table, name: str, value: Any) -> date:
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    table.fail(name, f"“{value}”不是日期（请写成 2026-10-01 的形式）")


def load(path: Path) -> Config:
    """Read and validate a config file, or raise `ConfigError`."""
    return _Reader(path, _parsed(path)).read()


def store_path(path: Path) -> Path:
    """Where the config file at `path` keeps its store (`[store] path`), reading nothing
    else: for the commands that only look at the store (`audit verify`, `restore`), which
    must work while the rest of the file is being put right, and start quickly — a city's
    file of 20,000 people takes half a second to parse, so only its `[store]` table is
    parsed when it can be cut out safely (`_store_table`)."""
    text = _text(path)
    table = _store_table(text)
    try:
        data = tomli.loads(table) if table is not None else _toml(path, text)
    except tomli.TOMLDecodeError:  # named where it is in the whole file
        data = _toml(path, text)
    reader = _Reader(path, data)
    return reader.store_path(reader.root.table("store"))


# The `[store]` table can be parsed alone when its header stands on a line of its own and
# nothing else in the file could hold or make it: no multi-line string (whose lines could
# look like a header) and no other way of writing it (`store = {…}`, `store.path = …`).
_STORE_HEADER = re.compile(r"^[ \t]*\[[ \t]*store[ \t]*\][ \t]*(#.*)?$", re.MULTILINE)
_ANY_HEADER = re.compile(r"^[ \t]*\[", re.MULTILINE)
_STORE_OTHERWISE = re.compile(r"^[ \t]*[\"']?store[\"']?[ \t]*[.=]|\"\"\"|'''", re.MULTILINE)


def _store_table(text: str) -> str | None:
    headers = list(_STORE_HEADER.finditer(text))
    if len(headers) != 1 or _STORE_OTHERWISE.search(text):
        return None
    after = _ANY_HEADER.search(text, headers[0].end())
    return text[headers[0].start():after.start() if after else len(text)]


def _parsed(path: Path) -> dict[str, Any]:
    return _toml(path, _text(path))


def _text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, "", "找不到该文件") from None
    except OSError as e:
        raise ConfigError(path, "", f"无法读取（{e.strerror}）") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(path, "", f"不是 UTF-8 编码的文本（第 {e.start} 字节）") from None


def _toml(path: Path, text: str) -> dict[str, Any]:
    try:
        return tomli.loads(text)
    except tomli.TOMLDecodeError as e:
        at = "文件末尾" if e.pos >= len(text) else f"第 {e.lineno} 行第 {e.colno} 列"
        raise ConfigError(path, "", f"TOML 语法错误，{at}：{e.msg}") from None


class _Reader:
    def __init__(self, file: Path, data: dict[str, Any]) -> None:
        self.file = file
        self.root = Table(file, "", data)

    def read(self) -> Config:
        bureau = self.root.table("bureau")
        name = bureau.text("name")
        tz_name = bureau.text("timezone", "Asia/Shanghai")
        try:
            timezone = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            bureau.fail("timezone", f"“{tz_name}”不是已知的时区（如 Asia/Shanghai）")
        bureau.done()

        store = self.root.table("store")
        store_path = self.store_path(store)
        backups = store.text("backups", "")
        backup_path = (self.file.parent / backups).resolve() if backups else None
        max_file_mb = store.get("max_file_mb", int, DEFAULT_MAX_MB, kind_name="数字")
        if not 1 <= max_file_mb <= MAX_FILE_MB:
            store.fail("max_file_mb", f"{max_file_mb} 不在 1–{MAX_FILE_MB} 之间（单位 MB）")
        store.done()

        holidays, workdays = self._calendar(self.root.table("calendar"))
        reminders = _policy(self.root.table("reminders"), Policy())
        meetings = _meetings(self.root.table("meetings"), reminders)
        people_tables, unit_tables = self.root.tables("people"), self.root.tables("units")
        people = self._people(people_tables)
        units = self._units(unit_tables, people)
        self._check_memberships(people_tables, people, unit_tables, units)
        duties = self._duties(self.root.tables("duties"), people, units, reminders)
        channels = self._channels(self.root.table("channels"))
        server = self._server(self.root.table("server"))
        log = self._log(self.root.table("log"))
        self.root.done()
        if not people:
            self.root.fail("people", "没有任何人员；请至少写一段 [[people]]")
        org = build_org(name, timezone, people, units, duties, meetings)
        return Config(self.file, org, store_path, holidays, workdays, reminders, channels,
                      server, backup_path, log, tuple(dict.fromkeys(self.root.renamed)),
                      max_file_mb)

    def store_path(self, store: Table) -> Path:
        folder: str = store.text("path", "data")
        return (self.file.parent / folder).resolve()

    def _server(self, t: Table) -> ServerSettings:
        settings = ServerSettings(host=t.text("host", ServerSettings.host),
                                  port=t.get("port", int, ServerSettings.port, kind_name="数字"),
                                  configured=t.present)
        if not 0 <= settings.port <= 65535:
            t.fail("port", f"{settings.port} 不是有效端口（0–65535）")
        t.done()
        return settings

    def _log(self, t: Table) -> LogSettings:
        file = t.text("file", "")
        keep = t.get("keep_days", int, MIN_LOG_DAYS, kind_name="天数")
        if keep < MIN_LOG_DAYS:
            t.fail("keep_days", f"{keep} 天太短：网络日志至少留存六个月"
                                f"（《网络安全法》第二十一条），请写 {MIN_LOG_DAYS} 或更多")
        t.done()
        return LogSettings((self.file.parent / file).resolve() if file else None, keep)

    def _calendar(self, t: Table) -> tuple[tuple[date, ...], tuple[date, ...]]:
        lists = {}
        for name in ("holidays", "workdays"):
            values = t.get(name, list, [], kind_name="日期列表")
            lists[name] = tuple(_date(t, f"{name}[{i}]", v) for i, v in enumerate(values))
        both = set(lists["holidays"]) & set(lists["workdays"])
        if both:
            t.fail("workdays", f"{min(both)} 同时列在 holidays 和 workdays 中，只能选一个")
        t.done()
        return lists["holidays"], lists["workdays"]

    def _people(self, tables: list[Table]) -> list[Person]:
        people: list[Person] = []
        seen: dict[str, str] = {}
        names: dict[str, str] = {}
        held: dict[tuple[str, str], str] = {}  # (address key, address) → person id
        from bot.channels import registry
        keys = registry.person_keys()
        for t in tables:
            pid = t.unique_id(seen)
            name = t.text("name")
            if name in names:
                t.fail("name", f"与 “{names[name]}” 重名（“{name}”）；姓名须各不相同，"
                               "可在姓名后注明单位以示区分")
            names[name] = pid
            roles: set[Role] = set()
            for i, r in enumerate(t.texts("roles", [])):
                if r in (Role.UNIT_HEAD, Role.MEMBER):
                    t.fail(f"roles[{i}]", f"“{r}”由 [[units]] 的 head 和本人的 units 自动得出，"
                                          "不要写在 roles 中")
                if r not in STATED_ROLES:  # a StrEnum's members are their values
                    t.fail(f"roles[{i}]", f"“{r}”不是可用的身份（可选："
                                          f"{'、'.join(sorted(STATED_ROLES))}）")
                roles.add(Role(r))
            t.texts("units", [])  # checked against [[units]] once those are read
            mobile = t.get("mobile", str, None, kind_name="字符串")
            addresses = _addresses(t, keys, held, pid)
            t.done()
            people.append(Person(pid, name, frozenset(roles), (), mobile, addresses))
        return people

    def _units(self, tables: list[Table], people: list[Person]) -> list[Unit]:
        by_id = {p.id: p for p in people}
        units: list[Unit] = []
        seen: dict[str, str] = {}
        for t in tables:
            uid = t.unique_id(seen)
            if uid in by_id:
                t.fail("id", f"“{uid}”已是某位人员的 id；单位和人员的 id 不能相同")
            name = t.text("name")
            kind = t.ident("kind")
            head = t.text("head")
            if head not in by_id:
                t.fail("head", f"没有 id 为 “{head}” 的人员")
            supervisor = t.get("supervisor", str, None, kind_name="字符串")
            if supervisor is not None:
                if supervisor not in by_id:
                    t.fail("supervisor", f"没有 id 为 “{supervisor}” 的人员")
                if Role.LEADER not in by_id[supervisor].roles:
                    t.fail("supervisor", f"分管领导 “{supervisor}” 须具有 leader 身份"
                                         "（党组成员），请在其 roles 中加上 \"leader\"")
            group = _group(t.table("group")) if "group" in t.data else None
            deputy = t.get("deputy", str, None, kind_name="字符串")
            if deputy is not None:
                if deputy not in by_id:
                    t.fail("deputy", f"没有 id 为 “{deputy}” 的人员")
                if deputy == head:
                    t.fail("deputy", "代理人不能是负责人本人")
            committee = tuple(t.texts("committee", []))
            for i, member in enumerate(committee):
                if member not in by_id:
                    t.fail(f"committee[{i}]", f"没有 id 为 “{member}” 的人员")
            t.done()
            units.append(Unit(uid, name, kind, head, supervisor, group, deputy, committee))
        return units

    @staticmethod
    def _check_memberships(tables: list[Table], people: list[Person],
                           unit_tables: list[Table], units: list[Unit]) -> None:
        unit_ids = {u.id for u in units}
        for i, (t, p) in enumerate(zip(tables, people, strict=True)):
            member_of = tuple(t.data.get("units", []))
            for j, uid in enumerate(member_of):
                if uid not in unit_ids:
                    t.fail(f"units[{j}]", f"没有 id 为 “{uid}” 的单位")
            people[i] = replace(p, units=member_of)
        members = {p.id: set(p.units) for p in people}
        for t, unit in zip(unit_tables, units, strict=True):
            for i, member in enumerate(unit.committee):
                if unit.id not in members[member]:
                    t.fail(f"committee[{i}]", f"“{member}”不是{unit.name}的成员；请先在其 "
                                              f"[[people]] 的 units 中加上 \"{unit.id}\"")

    def _duties(self, tables: list[Table], people: list[Person], units: list[Unit],
                reminders: Policy) -> list[Duty]:
        duties: list[Duty] = []
        seen: dict[str, str] = {}
        keywords: dict[str, str] = {}
        for t in tables:
            did = t.unique_id(seen)
            title = t.text("title")
            clause = t.text("clause")
            cadence_text = t.text("cadence")
            try:
                cadence = Cadence(cadence_text)
            except ValueError:
                t.fail("cadence", f"“{cadence_text}”不是可用的周期（可选："
                                  f"{'、'.join(c.value for c in Cadence)}）")
            due = self._due(t, cadence)
            owners = self._owners(t.table("owners"), people, units)
            evidence = t.text("evidence", "")
            policy = _policy(t.table("reminders"), reminders)
            adjust = Adjust(choice(t, "adjust", tuple(a.value for a in Adjust),
                                    Adjust.NONE.value))
            about = choice(t, "period", ("current", "previous"), "current")
            if about == "previous" and cadence in (Cadence.AS_REQUIRED, Cadence.EVENT):
                t.fail("period", "period = \"previous\" 只适用于按周期的事项")
            keyword = self._keyword(t, cadence, keywords)
            meeting = self._meeting(t, cadence, owners, people)
            t.done()
            duties.append(Duty(did, title, clause, cadence, due, owners, evidence, policy,
                               adjust, about == "previous", keyword, meeting))
        return duties

    @staticmethod
    def _meeting(t: Table, cadence: Cadence, owners: Owners,
                 people: list[Person]) -> Attendees | None:
        """`meeting = true`, `attendees`, `also`: a meeting duty and whom it invites."""
        meeting = t.get("meeting", bool, False, kind_name="true 或 false")
        if not meeting:
            for name in ("attendees", "also"):
                if name in t.data:
                    t.fail(name, "只有会议类事项（meeting = true）才有参会人员")
            return None
        if cadence is Cadence.EVENT:
            t.fail("meeting", "随时发生（event）的事项不能是会议")
        if owners.role is not None:
            t.fail("meeting", "会议类事项须适用于单位（owners 写 kinds 或 units），"
                              "由单位负责人召集")
        person_ids = {p.id for p in people}
        t.used.add("attendees")
        value = t.data.get("attendees", Invitees.MEMBERS.value)
        listed: tuple[str, ...] = ()
        if isinstance(value, list):
            listed = tuple(t.texts("attendees"))
            for i, pid in enumerate(listed):
                if pid not in person_ids:
                    t.fail(f"attendees[{i}]", f"没有 id 为 “{pid}” 的人员")
            who = Invitees.LISTED
        elif isinstance(value, str) and value in (Invitees.MEMBERS, Invitees.COMMITTEE,
                                                  Invitees.LEADERS):
            who = Invitees(value)
        else:
            t.fail("attendees", f"“{value}”不是可选值（可选：members 全体党员、committee "
                                "支部委员、leaders 党组成员，或人员 id 列表）")
        also = tuple(t.texts("also", []))
        for i, pid in enumerate(also):
            if pid not in person_ids:
                t.fail(f"also[{i}]", f"没有 id 为 “{pid}” 的人员")
        return Attendees(who, listed, also)

    @staticmethod
    def _keyword(t: Table, cadence: Cadence, seen: dict[str, str]) -> str:
        """An event duty's word (`舆情`, `汛情`): what opens it; one duty per word."""
        keyword: str = t.text("keyword", "")
        if cadence is not Cadence.EVENT:
            if keyword:
                t.fail("keyword", "只有随时发生（event）的事项才有关键词")
            return ""
        if not keyword:
            t.fail("keyword", "随时发生（event）的事项须写关键词，如 keyword = \"舆情\"；"
                              "报告时发送「舆情 描述」或「上报 关键词 描述」")
        keyword = keyword.strip()
        if len(keyword) > 10 or any(ch.isspace() for ch in keyword):
            t.fail("keyword", f"“{keyword}”应为不含空格的短词（不超过 10 个字）")
        if keyword in seen:
            t.fail("keyword", f"“{keyword}”已是事项 {seen[keyword]} 的关键词；"
                              "每个关键词只能开启一项事项")
        seen[keyword] = t.path
        return keyword

    def _due(self, t: Table, cadence: Cadence) -> DueRule:
        t.used.add("due")
        value = t.data.get("due")
        if cadence is Cadence.EVENT:
            if value is None:
                return DueRule(anchor="opened", days=1)
            match = EVENT_DUE_PATTERN.match(str(value).strip())
            if not isinstance(value, str) or not match or int(match[1]) < 1:
                t.fail("due", f"“{value}”不适用于随时发生（event）的事项；请写开启后第几个工作日，"
                              "如 \"1wd\"")
            return DueRule(anchor="opened", days=int(match[1]) if match else 1)
        if cadence is Cadence.AS_REQUIRED:
            if not isinstance(value, list) or not value:
                t.fail("due", "按要求（as-required）的事项须列出截止日期，"
                              "如 [\"2026-12-10\"]")
            dates = tuple(_date(t, f"due[{i}]", v) for i, v in enumerate(value))
            if len(set(dates)) != len(dates):
                t.fail("due", "同一日期列了两次")
            return DueRule(anchor="dates", dates=tuple(sorted(dates)))
        if value is None:  # a week's: its last working day; any other period's: its end
            return DueRule("workday", ordinal=-1) if cadence is Cadence.WEEKLY else DueRule()
        if isinstance(value, str):
            return self._offset(t, cadence, value)
        if isinstance(value, list):
            if cadence not in PERIODS_PER_YEAR:
                t.fail("due", f"{cadence.value} 事项不用月-日；可写 \"end\"、\"fri\"、"
                              "\"last-workday\" 等")
            return self._month_days(t, cadence, value)
        t.fail("due", f"应为 \"end\" 这样的字符串或月-日列表，而不是{kind_of(value)}")

    def _ordinal(self, t: Table, cadence: Cadence, value: str) -> DueRule | None:
        """`fri` (weekly), `first-fri`, `last-fri`, `3rd-wed`, `last-workday`,
        `5th-workday`; None when the value is not of this form."""
        text = value.strip().lower()
        if text in WEEKDAY_NAMES:
            if cadence is not Cadence.WEEKLY:
                t.fail("due", f"“{value}”只适用于每周（weekly）的事项；其他周期请写明第几个，"
                              f"如 \"first-{text}\"、\"last-{text}\"")
            return DueRule("weekday", ordinal=0, weekday=WEEKDAY_NAMES.index(text))
        match = ORDINAL_PATTERN.match(text)
        if match is None:
            return None
        which, what = match[1], match[2]
        ordinal = -1 if which == "last" else (1 if which == "first" else int(which[:-2]))
        if what == "workday":
            limit = MAX_WORKDAY_ORDINAL[cadence]
            if not 1 <= ordinal <= limit and ordinal != -1:
                t.fail("due", f"“{value}”超出了 {cadence.value} 周期的范围"
                              f"（第 1 至第 {limit} 个工作日，或 last-workday）")
            return DueRule("workday", ordinal=ordinal)
        limit = SHORTEST_DAYS[cadence] // 7
        if not 1 <= ordinal <= limit and ordinal != -1:
            t.fail("due", f"“{value}”不是每个 {cadence.value} 周期都有的日子"
                          f"（第 1 至第 {limit} 个，或 last-{what}）")
        return DueRule("weekday", ordinal=ordinal, weekday=WEEKDAY_NAMES.index(what))

    def _offset(self, t: Table, cadence: Cadence, value: str) -> DueRule:
        ordinal = self._ordinal(t, cadence, value)
        if ordinal is not None:
            return ordinal
        match = OFFSET_PATTERN.match(value.strip())
        if not match:
            t.fail("due", f"“{value}”不是截止日规则（可写 \"end\"、\"end-10d\"、"
                          "\"start+14d\"、\"first-fri\"、\"last-workday\"、\"5th-workday\"，"
                          "每周的事项可写 \"fri\"，或月-日列表如 [\"06-20\", \"12-20\"]）")
        anchor, sign, number = match[1], match[2], int(match[3] or 0)
        days = -number if sign == "-" else number
        limit = SHORTEST_DAYS[cadence] - 1
        if anchor == "start" and not 0 <= days <= limit:
            t.fail("due", f"“{value}”超出了 {cadence.value} 周期的范围"
                          f"（可用 start+0d … start+{limit}d）")
        if anchor == "end" and not -limit <= days <= 0:
            t.fail("due", f"“{value}”超出了 {cadence.value} 周期的范围"
                          f"（可用 end-{limit}d … end）")
        return DueRule(anchor=anchor, days=days)

    def _month_days(self, t: Table, cadence: Cadence, values: list[Any]) -> DueRule:
        pairs: list[tuple[int, int]] = []
        for i, v in enumerate(values):
            match = MONTH_DAY_PATTERN.match(v.strip()) if isinstance(v, str) else None
            if match is None:
                t.fail(f"due[{i}]", f"“{v}”不是 \"06-20\" 这样的月-日")
            month, day = int(match[1]), int(match[2])
            try:
                date(2026, month, day)  # 02-29 is refused: it would vanish in most years
            except ValueError:
                t.fail(f"due[{i}]", f"“{v}”不是一年中的日期（不收 02-29）")
            pairs.append((month, day))
        expected = PERIODS_PER_YEAR[cadence]
        periods = {period_of(cadence, date(2026, m, d)).key[4:] for m, d in pairs}
        if len(pairs) != expected or len(periods) != expected:
            t.fail("due", f"{cadence.value} 事项一年有 {expected} 个周期，每个周期须正好一个月-日；"
                          f"现在是 {values}")
        return DueRule(anchor="month-days", month_days=tuple(sorted(pairs)))

    def _owners(self, t: Table, people: list[Person], units: list[Unit]) -> Owners:
        if not t.data:
            t.fail("", "缺少此项（必填）：写明事项适用于谁，"
                       "如 owners = { kinds = [\"branch\"] }")
        kinds = t.texts("kinds", [])
        named = t.texts("units", [])
        role_text = t.get("role", str, None, kind_name="字符串")
        t.done()
        if sum(map(bool, (kinds, named, role_text))) != 1:
            t.fail("", "kinds、units、role 三者须正好写一个")
        unit_kinds = {u.kind for u in units}
        for i, kind in enumerate(kinds):
            if kind not in unit_kinds:
                t.fail(f"kinds[{i}]", f"没有类别为 “{kind}” 的单位"
                                      f"（现有类别：{'、'.join(sorted(unit_kinds))}）")
        unit_ids = {u.id for u in units}
        for i, uid in enumerate(named):
            if uid not in unit_ids:
                t.fail(f"units[{i}]", f"没有 id 为 “{uid}” 的单位")
        role = None
        if role_text is not None:
            if role_text not in STATED_ROLES:
                t.fail("role", f"“{role_text}”不是可用的身份（可选："
                               f"{'、'.join(sorted(STATED_ROLES))}）")
            role = Role(role_text)
            if not any(role in p.roles for p in people):
                t.fail("role", f"没有人具有 “{role_text}” 身份")
        return Owners(tuple(kinds), tuple(named), role)

    def _channels(self, t: Table) -> dict[str, Any]:
        from bot.channels import registry
        found = {c.name: c.settings(t.table(c.name)) for c in registry.CHANNELS}
        t.done()
        return found


def _group(t: Table) -> GroupChat:
    from bot.channels import registry
    group = GroupChat(name=t.text("name"), addresses=_addresses(t, registry.group_keys()))
    t.done()
    return group


def _addresses(t: Table, keys: tuple[AddressKey, ...],
               held: dict[tuple[str, str], str] | None = None,
               owner: str = "") -> tuple[tuple[str, str], ...]:
    """The channel addresses this table carries, as text; each at most once across `held`
    (compared ignoring case, as WeCom does). A key ending in `_env` names a variable."""
    found: list[tuple[str, str]] = []
    for key in keys:
        if key.key.endswith("_env"):
            refuse_literal_secrets(t, (key.key.removesuffix("_env"),))
            value = env_name(t, key.key)
        else:
            raw = t.get(key.key, key.kind, None, kind_name="数字" if key.kind is int else "字符串")
            value = "" if raw is None else str(raw)
        if not value:
            continue
        if held is not None:
            seen = held.get((key.key, value.lower()))
            if seen is not None:
                t.fail(key.key, f"“{value}”已是 “{seen}” 的{key.label}")
            held[key.key, value.lower()] = owner
        found.append((key.key, value))
    return tuple(found)


def _policy(t: Table, base: Policy) -> Policy:
    """A reminder policy: `base` with the keys this table sets."""
    if not t.data:
        return base
    changes: dict[str, Any] = {}
    for name, low, high in (("advance_days", 0, 60), ("overdue_max", 0, 30),
                            ("escalate_on", 0, 30)):
        if name in t.data:
            value = t.get(name, int, kind_name="整数")
            if not low <= value <= high:
                t.fail(name, f"应在 {low} 到 {high} 之间（0 表示不发）")
            changes[name] = value
    for name in ("eve", "due_day"):
        if name in t.data:
            changes[name] = t.get(name, bool, kind_name="true 或 false")
    if "send_at" in t.data:
        changes["send_at"] = _clock_time(t, "send_at", t.get("send_at", str, kind_name="字符串"))
    if "quiet_hours" in t.data:
        hours = t.get("quiet_hours", list, kind_name="两个时刻的列表，如 [\"20:00\", \"08:00\"]")
        if len(hours) not in (0, 2):
            t.fail("quiet_hours", "应写开始和结束两个时刻，如 [\"20:00\", \"08:00\"]；"
                                  "不需要免打扰时写 []")
        times = [_clock_time(t, f"quiet_hours[{i}]", h) for i, h in enumerate(hours)]
        changes["quiet_start"], changes["quiet_end"] = times or (time(0), time(0))
    if "timezone" in t.data:
        tz_name = t.text("timezone")
        try:
            changes["timezone"] = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            t.fail("timezone", f"“{tz_name}”不是已知的时区（如 Asia/Shanghai）")
    t.done()
    policy = replace(base, **changes)
    if policy.quiet(policy.send_at):
        t.fail("send_at", f"{policy.send_at:%H:%M} 落在免打扰时段 "
                          f"{policy.quiet_start:%H:%M}–{policy.quiet_end:%H:%M} 内，提醒将发不出去")
    return policy


def _meetings(t: Table, reminders: Policy) -> MeetingPolicy:
    """`[meetings]`: when meeting reminders go out and when 补学 is due."""
    base = MeetingPolicy()
    changes: dict[str, Any] = {}
    if "eve_at" in t.data:
        changes["eve_at"] = _clock_time(t, "eve_at", t.get("eve_at", str, kind_name="字符串"))
        if reminders.quiet(changes["eve_at"]):
            t.fail("eve_at", f"{changes['eve_at']:%H:%M} 在免打扰时段内，请改到白天")
    for name, low, high, unit in (("before_minutes", 0, 1440, "分钟（0 表示不提醒）"),
                                  ("makeup_days", 1, 60, "个工作日"),
                                  ("record_days", 1, 30, "个工作日")):
        if name in t.data:
            value = t.get(name, int, kind_name="整数")
            if not low <= value <= high:
                t.fail(name, f"应在 {low} 到 {high} {unit}之间")
            changes[name] = value
    t.done()
    return replace(base, **changes)


def _clock_time(t: Table, name: str, value: Any) -> time:
    match = re.fullmatch(r"(\d{1,2}):(\d{2})", value.strip()) if isinstance(value, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        t.fail(name, f"“{value}”不是时刻（请写成 09:00 的形式）")
    return time(int(match[1]), int(match[2]))
