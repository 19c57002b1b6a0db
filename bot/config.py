"""Reading `config.toml` into the typed domain (`schedules.model`) and settings.

Every problem becomes one `ConfigError` naming the file, the key path and what is wrong;
only the CLI prints it. Secrets never live in the file: channel sections name the
environment variables that hold them.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from schedules.model import (
    STATED_ROLES,
    Cadence,
    DueRule,
    Duty,
    Org,
    Owners,
    Person,
    Role,
    Unit,
    build_org,
)
from schedules.periods import PERIODS_PER_YEAR, SHORTEST_DAYS, period_of

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
OFFSET_PATTERN = re.compile(r"^(start|end)\s*(?:([+-])\s*(\d+)\s*d)?$")
EVENT_DUE_PATTERN = re.compile(r"^\+?(\d+)\s*wd$")
MONTH_DAY_PATTERN = re.compile(r"^(\d{2})-(\d{2})$")


class ConfigError(Exception):
    """A config problem: `file: key: problem`."""

    def __init__(self, file: Path, key: str, problem: str) -> None:
        self.file, self.key, self.problem = file, key, problem
        where = f"{file}: {key}: " if key else f"{file}: "
        super().__init__(where + problem)


@dataclass(frozen=True)
class WeComSettings:
    enabled: bool = False
    corp_id: str = ""
    agent_id: int = 0
    token_env: str = ""
    aes_key_env: str = ""
    secret_env: str = ""
    api_base_url: str = "https://qyapi.weixin.qq.com/cgi-bin/"


@dataclass(frozen=True)
class TelegramSettings:
    enabled: bool = False
    token_env: str = ""
    mode: str = "polling"  # "polling" | "webhook"
    webhook_url: str = ""
    secret_token_env: str = ""
    detail: str = "full"  # "full" | "minimal"


@dataclass(frozen=True)
class Config:
    path: Path
    org: Org
    store_path: Path
    holidays: tuple[date, ...] = ()
    workdays: tuple[date, ...] = ()
    wecom: WeComSettings = field(default_factory=WeComSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)

    def env_names(self) -> dict[str, str]:
        """Environment variables the enabled channels read, by what they hold."""
        names: dict[str, str] = {}
        if self.wecom.enabled:
            names |= {"WeCom token": self.wecom.token_env,
                      "WeCom EncodingAESKey": self.wecom.aes_key_env,
                      "WeCom secret": self.wecom.secret_env}
        if self.telegram.enabled:
            names["Telegram bot token"] = self.telegram.token_env
            if self.telegram.mode == "webhook":
                names["Telegram webhook secret"] = self.telegram.secret_token_env
        return names


class _Table:
    """One TOML table being read: typed getters, and a check that no key is left unknown."""

    def __init__(self, file: Path, path: str, data: Any) -> None:
        self.file, self.path = file, path
        if not isinstance(data, dict):
            self.fail("", f"must be a table, not {_kind(data)}")
        self.data: dict[str, Any] = data
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def fail(self, name: str, problem: str) -> NoReturn:
        raise ConfigError(self.file, self.key(name) if name else self.path, problem)

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = ..., *,
            kind_name: str) -> Any:
        self.used.add(name)
        if name not in self.data:
            if default is ...:
                self.fail(name, "is required but missing")
            return default
        value = self.data[name]
        # TOML booleans are ints to Python; keep them apart.
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in _as_tuple(kind)):
            self.fail(name, f"must be {kind_name}, not {_kind(value)}")
        return value

    def text(self, name: str, default: Any = ...) -> Any:
        value = self.get(name, str, default, kind_name="a string")
        if isinstance(value, str) and not value.strip():
            self.fail(name, "must not be empty")
        return value

    def ident(self, name: str) -> str:
        value: str = self.text(name)
        if not ID_PATTERN.match(value):
            self.fail(name, f"{value!r} is not a valid id (letters, digits, '-', '_', '.'; "
                            "at most 64; no spaces or ':')")
        return value

    def texts(self, name: str, default: Any = ...) -> list[str]:
        value = self.get(name, list, default, kind_name="a list of strings")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.fail(f"{name}[{i}]", f"must be a non-empty string, not {_kind(item)}")
        return list(value)

    def table(self, name: str) -> _Table:
        return _Table(self.file, self.key(name), self.get(name, dict, {}, kind_name="a table"))

    def tables(self, name: str) -> list[_Table]:
        items = self.get(name, list, [], kind_name="an array of tables ([[...]])")
        return [_Table(self.file, f"{self.key(name)}[{i + 1}]", item)
                for i, item in enumerate(items)]

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            known = ", ".join(sorted(self.used)) or "none"
            self.fail(unknown[0], f"is not a known key here (known keys: {known})")


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind(value: Any) -> str:
    names = {str: "a string", int: "a number", float: "a number", bool: "true/false",
             list: "a list", dict: "a table", date: "a date"}
    return names.get(type(value), type(value).__name__)


def _date(table: _Table, name: str, value: Any) -> date:
    if isinstance(value, date) and not hasattr(value, "hour"):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    table.fail(name, f"{value!r} is not a date (write it as 2026-10-01)")


def load(path: Path) -> Config:
    """Read and validate a config file, or raise `ConfigError`."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except OSError as e:
        raise ConfigError(path, "", f"cannot be read ({e.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise ConfigError(path, "", f"is not UTF-8 text (byte {e.start})") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, "", f"TOML syntax error: {e}") from None
    return _Reader(path, data).read()


class _Reader:
    def __init__(self, file: Path, data: dict[str, Any]) -> None:
        self.file = file
        self.root = _Table(file, "", data)

    def read(self) -> Config:
        bureau = self.root.table("bureau")
        name = bureau.text("name")
        tz_name = bureau.text("timezone", "Asia/Shanghai")
        try:
            timezone = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            bureau.fail("timezone", f"{tz_name!r} is not a known time zone (e.g. Asia/Shanghai)")
        bureau.done()

        store = self.root.table("store")
        store_path = (self.file.parent / store.text("path", "data")).resolve()
        store.done()

        holidays, workdays = self._calendar(self.root.table("calendar"))
        people = self._people(self.root.tables("people"))
        units = self._units(self.root.tables("units"), people)
        self._check_memberships(self.root.tables("people"), people, units)
        duties = self._duties(self.root.tables("duties"), people, units)
        wecom, telegram = self._channels(self.root.table("channels"))
        self.root.done()
        if not people:
            self.root.fail("people", "lists nobody; add at least one [[people]] entry")
        org = build_org(name, timezone, people, units, duties)
        return Config(self.file, org, store_path, holidays, workdays, wecom, telegram)

    def _calendar(self, t: _Table) -> tuple[tuple[date, ...], tuple[date, ...]]:
        lists = {}
        for name in ("holidays", "workdays"):
            values = t.get(name, list, [], kind_name="a list of dates")
            lists[name] = tuple(_date(t, f"{name}[{i}]", v) for i, v in enumerate(values))
        both = set(lists["holidays"]) & set(lists["workdays"])
        if both:
            t.fail("workdays", f"{min(both)} is listed both as a holiday and as a workday")
        t.done()
        return lists["holidays"], lists["workdays"]

    def _people(self, tables: list[_Table]) -> list[Person]:
        people: list[Person] = []
        seen: dict[str, str] = {}
        names: dict[str, str] = {}
        userids: dict[str, str] = {}
        for t in tables:
            pid = t.ident("id")
            if pid in seen:
                t.fail("id", f"{pid!r} is used twice (also at {seen[pid]})")
            seen[pid] = t.path
            name = t.text("name")
            if name in names:
                t.fail("name", f"{name!r} is the name of {names[name]!r} too; names must differ")
            names[name] = pid
            roles: set[Role] = set()
            for i, r in enumerate(t.texts("roles", [])):
                if r in (Role.UNIT_HEAD, Role.MEMBER):
                    t.fail(f"roles[{i}]", f"{r!r} follows from [[units]] (head) and this "
                                          "person's units; do not list it")
                if r not in {x.value for x in STATED_ROLES}:
                    t.fail(f"roles[{i}]", f"{r!r} is not a role (choose from "
                                          f"{', '.join(sorted(STATED_ROLES))})")
                roles.add(Role(r))
            t.texts("units", [])  # checked against [[units]] once those are read
            userid = t.get("wecom_userid", str, None, kind_name="a string")
            if userid is not None:
                if userid in userids:
                    t.fail("wecom_userid", f"{userid!r} is also {userids[userid]!r}'s")
                userids[userid] = pid
            mobile = t.get("mobile", str, None, kind_name="a string")
            telegram_id = t.get("telegram_id", int, None, kind_name="a number")
            t.done()
            people.append(Person(pid, name, frozenset(roles), (), userid, mobile, telegram_id))
        return people

    def _units(self, tables: list[_Table], people: list[Person]) -> list[Unit]:
        by_id = {p.id: p for p in people}
        units: list[Unit] = []
        seen: dict[str, str] = {}
        for t in tables:
            uid = t.ident("id")
            if uid in seen:
                t.fail("id", f"{uid!r} is used twice (also at {seen[uid]})")
            if uid in by_id:
                t.fail("id", f"{uid!r} is already a person's id; unit and person ids must differ")
            seen[uid] = t.path
            name = t.text("name")
            kind = t.ident("kind")
            head = t.text("head")
            if head not in by_id:
                t.fail("head", f"no person has id {head!r}")
            supervisor = t.get("supervisor", str, None, kind_name="a string")
            if supervisor is not None:
                if supervisor not in by_id:
                    t.fail("supervisor", f"no person has id {supervisor!r}")
                if Role.LEADER not in by_id[supervisor].roles:
                    t.fail("supervisor", f"{supervisor!r} must have the role 'leader' "
                                         "(a member of the party group) to supervise a unit")
            t.done()
            units.append(Unit(uid, name, kind, head, supervisor))
        return units

    def _check_memberships(self, tables: list[_Table], people: list[Person],
                           units: list[Unit]) -> None:
        unit_ids = {u.id for u in units}
        for i, (t, person) in enumerate(zip(tables, people, strict=True)):
            member_of = tuple(t.data.get("units", []))
            for j, uid in enumerate(member_of):
                if uid not in unit_ids:
                    t.fail(f"units[{j}]", f"no unit has id {uid!r}")
            people[i] = Person(person.id, person.name, person.roles, member_of,
                               person.wecom_userid, person.mobile, person.telegram_id)

    def _duties(self, tables: list[_Table], people: list[Person], units: list[Unit]) -> list[Duty]:
        duties: list[Duty] = []
        seen: dict[str, str] = {}
        for t in tables:
            did = t.ident("id")
            if did in seen:
                t.fail("id", f"{did!r} is used twice (also at {seen[did]})")
            seen[did] = t.path
            title = t.text("title")
            clause = t.text("clause")
            cadence_text = t.text("cadence")
            try:
                cadence = Cadence(cadence_text)
            except ValueError:
                t.fail("cadence", f"{cadence_text!r} is not a cadence (choose from "
                                  f"{', '.join(c.value for c in Cadence)})")
            due = self._due(t, cadence)
            owners = self._owners(t.table("owners"), people, units)
            evidence = t.text("evidence", "")
            t.done()
            duties.append(Duty(did, title, clause, cadence, due, owners, evidence))
        return duties

    def _due(self, t: _Table, cadence: Cadence) -> DueRule:
        t.used.add("due")
        value = t.data.get("due")
        if cadence is Cadence.EVENT:
            if value is None:
                return DueRule(anchor="opened", days=1)
            match = EVENT_DUE_PATTERN.match(str(value).strip())
            if not isinstance(value, str) or not match or int(match[1]) < 1:
                t.fail("due", f"{value!r} does not fit an event duty; write how many working "
                              "days after it is opened, e.g. \"1wd\"")
            return DueRule(anchor="opened", days=int(match[1]) if match else 1)
        if cadence is Cadence.AS_REQUIRED:
            if not isinstance(value, list) or not value:
                t.fail("due", "an as-required duty needs its deadlines as a list of dates, "
                              "e.g. [\"2026-12-10\"]")
            dates = tuple(_date(t, f"due[{i}]", v) for i, v in enumerate(value))
            if len(set(dates)) != len(dates):
                t.fail("due", "lists a date twice")
            return DueRule(anchor="dates", dates=tuple(sorted(dates)))
        if value is None:
            return DueRule()
        if isinstance(value, str):
            return self._offset(t, cadence, value)
        if isinstance(value, list):
            return self._month_days(t, cadence, value)
        t.fail("due", f"must be a string such as \"end\" or a list of month-days, "
                      f"not {_kind(value)}")

    def _offset(self, t: _Table, cadence: Cadence, value: str) -> DueRule:
        match = OFFSET_PATTERN.match(value.strip())
        if not match:
            t.fail("due", f"{value!r} is not a due rule (write \"end\", \"end-10d\", "
                          "\"start+14d\" or a list of month-days like [\"06-20\", \"12-20\"])")
        anchor, sign, number = match[1], match[2], int(match[3] or 0)
        days = -number if sign == "-" else number
        limit = SHORTEST_DAYS[cadence] - 1
        if anchor == "start" and not 0 <= days <= limit:
            t.fail("due", f"{value!r} falls outside a {cadence.value} period "
                          f"(start+0d … start+{limit}d)")
        if anchor == "end" and not -limit <= days <= 0:
            t.fail("due", f"{value!r} falls outside a {cadence.value} period "
                          f"(end-{limit}d … end)")
        return DueRule(anchor=anchor, days=days)

    def _month_days(self, t: _Table, cadence: Cadence, values: list[Any]) -> DueRule:
        pairs: list[tuple[int, int]] = []
        for i, v in enumerate(values):
            match = MONTH_DAY_PATTERN.match(v.strip()) if isinstance(v, str) else None
            if match is None:
                t.fail(f"due[{i}]", f"{v!r} is not a month-day like \"06-20\"")
            month, day = int(match[1]), int(match[2])
            try:
                date(2026, month, day)  # 02-29 is refused: it would vanish in most years
            except ValueError:
                t.fail(f"due[{i}]", f"{v!r} is not a day of the year")
            pairs.append((month, day))
        expected = PERIODS_PER_YEAR[cadence]
        periods = {period_of(cadence, date(2026, m, d)).key[4:] for m, d in pairs}
        if len(pairs) != expected or len(periods) != expected:
            t.fail("due", f"a {cadence.value} duty needs exactly one month-day in each of its "
                          f"{expected} periods of the year; got {values!r}")
        return DueRule(anchor="month-days", month_days=tuple(sorted(pairs)))

    def _owners(self, t: _Table, people: list[Person], units: list[Unit]) -> Owners:
        if not t.data:
            t.fail("", "is required: say who the duty applies to, e.g. "
                       "owners = { kinds = [\"branch\"] }")
        kinds = t.texts("kinds", [])
        named = t.texts("units", [])
        role_text = t.get("role", str, None, kind_name="a string")
        t.done()
        if sum(map(bool, (kinds, named, role_text))) != 1:
            t.fail("", "give exactly one of kinds, units or role")
        unit_kinds = {u.kind for u in units}
        for i, kind in enumerate(kinds):
            if kind not in unit_kinds:
                t.fail(f"kinds[{i}]", f"no unit has kind {kind!r} "
                                      f"(kinds in use: {', '.join(sorted(unit_kinds))})")
        unit_ids = {u.id for u in units}
        for i, uid in enumerate(named):
            if uid not in unit_ids:
                t.fail(f"units[{i}]", f"no unit has id {uid!r}")
        role = None
        if role_text is not None:
            if role_text not in {r.value for r in STATED_ROLES}:
                t.fail("role", f"{role_text!r} is not a role (choose from "
                               f"{', '.join(sorted(STATED_ROLES))})")
            role = Role(role_text)
            if not any(role in p.roles for p in people):
                t.fail("role", f"nobody has the role {role_text!r}")
        return Owners(tuple(kinds), tuple(named), role)

    def _channels(self, t: _Table) -> tuple[WeComSettings, TelegramSettings]:
        w = t.table("wecom")
        wecom = WeComSettings()
        if w.data:
            _refuse_literal_secrets(w, ("token", "aes_key", "secret", "corp_secret"))
            wecom = WeComSettings(
                enabled=w.get("enabled", bool, False, kind_name="true or false"),
                corp_id=w.text("corp_id", ""),
                agent_id=w.get("agent_id", int, 0, kind_name="a number"),
                token_env=_env_name(w, "token_env"),
                aes_key_env=_env_name(w, "aes_key_env"),
                secret_env=_env_name(w, "secret_env"),
                api_base_url=w.text("api_base_url", WeComSettings.api_base_url),
            )
            w.done()
        g = t.table("telegram")
        telegram = TelegramSettings()
        if g.data:
            _refuse_literal_secrets(g, ("token", "secret_token"))
            telegram = TelegramSettings(
                enabled=g.get("enabled", bool, False, kind_name="true or false"),
                token_env=_env_name(g, "token_env"),
                mode=_choice(g, "mode", ("polling", "webhook"), "polling"),
                webhook_url=g.text("webhook_url", ""),
                secret_token_env=_env_name(g, "secret_token_env"),
                detail=_choice(g, "detail", ("full", "minimal"), "full"),
            )
            g.done()
        t.done()
        return wecom, telegram


def _refuse_literal_secrets(t: _Table, names: Iterable[str]) -> None:
    for name in names:
        if name in t.data:
            t.fail(name, f"secrets are never written in the config; put it in an environment "
                         f"variable and name that variable with {name}_env = \"...\"")


def _env_name(t: _Table, name: str) -> str:
    value: str = t.text(name, "")
    if value and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        t.fail(name, f"{value!r} is not an environment variable name")
    return value


def _choice(t: _Table, name: str, options: tuple[str, ...], default: str) -> str:
    value: str = t.text(name, default)
    if value not in options:
        t.fail(name, f"{value!r} is not one of {', '.join(options)}")
    return value
