"""What a channel module offers the rest of the bot (SPEC §7: one core, several adapters).

A channel module owns everything about its platform: its `[channels.NAME]` settings, the
addresses it reads on `[[people]]` and on a unit's `[units.group]`, whether its accounts are
bound with a code, whether it can reach someone (from config alone, for `check` and
`simulate`), who sent a message (identity stays at the edge: handlers get a person or
none), and how it connects when `dutybot run` starts (outbound senders, HTTP routes,
background services). `bot.channels.registry` lists the modules, in order; nothing else
names a platform.

Channel modules are imported by every command (config reads their settings), so they
import their platform's library only in `connect`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from bot.toml_table import Table

if TYPE_CHECKING:
    from bot.app import App
    from bot.channels.base import Outbound
    from bot.config import Config
    from bot.evidence import Evidence
    from bot.runner import Service
    from schedules.model import Org
    from storage.repository import Repository


@dataclass(frozen=True)
class AddressKey:
    """A config key holding a person's or a group's address on a platform."""

    key: str  # e.g. "wecom_userid" on [[people]], "aibot_chatid" on [units.group]; a key
    #           ending in "_env" names an environment variable that holds a secret
    kind: type  # str or int, as written in TOML
    label: str  # what it is, in Chinese, for config errors: "企业微信账号"


class Settings(Protocol):
    @property
    def enabled(self) -> bool: ...


@dataclass(frozen=True)
class HttpRoute:
    """One route a channel serves on `dutybot run`'s HTTP server; `name` labels its metrics."""

    path: str
    method: str
    name: str
    endpoint: Callable[[Any], Awaitable[Any]]  # a Starlette request handler


class MissingSecret(Exception):
    """An environment variable the config names is not set (or not usable)."""


@dataclass
class Wiring:
    """What a channel's `connect` receives, and fills in."""

    config: Config
    app: App
    env: Mapping[str, str]
    clock: Callable[[], float]  # paces sending (monotonic)
    sleep: Callable[[float], None]
    wall: Callable[[], float]  # the real time callbacks' timestamps are checked against
    evidence: Evidence
    outbound: dict[str, Outbound] = field(default_factory=dict)
    routes: list[HttpRoute] = field(default_factory=list)
    early: list[Service] = field(default_factory=list)  # started before the HTTP server
    late: list[Service] = field(default_factory=list)  # started after it
    adapters: dict[str, Any] = field(default_factory=dict)  # by channel, for tests and /healthz
    notes: list[str] = field(default_factory=list)  # what is not connected, and why

    def secret(self, name: str, what: str) -> str:
        value = self.env.get(name, "").strip()
        if not value:
            raise MissingSecret(f"环境变量 {name}（{what}）未设置")
        return value


class Channel(Protocol):
    """A channel module, as the registry lists it."""

    name: str  # its config section under [channels] and its ledger/outbox name
    label: str  # what `check` calls it: "企业微信应用"
    person_keys: tuple[AddressKey, ...]
    group_keys: tuple[AddressKey, ...]
    bindable: bool  # accounts are linked with `绑定 CODE`, not listed in config
    # (used, not used, for a group?): where both outbound channels reach the same recipient,
    # only the first delivers — one message per person or group, not one per channel.
    precedence: tuple[tuple[str, str, bool], ...]

    def settings(self, table: Table) -> Settings:
        """`[channels.NAME]` read and checked (`table.fail` on a problem)."""
        ...

    def secret_envs(self, settings: Any, org: Org) -> dict[str, str]:
        """The environment variables this channel needs when enabled: what → name."""
        ...

    def routes(self, settings: Any, org: Org, recipient: str, group: bool) -> list[str]:
        """The outbound channel names that would deliver to this person (or unit's group)
        by config alone; [] when none would."""
        ...

    def states(self, settings: Any, config: Config, env: Mapping[str, str]) -> list[str]:
        """What `check` says about this channel when it is enabled."""
        ...

    def summary(self, settings: Any, config: Config) -> dict[str, Any]:
        """What `check --json` says about it when enabled (never a secret)."""
        ...

    def missing_address(self, settings: Any) -> str:
        """Why someone cannot be reached here, for `check`: "未登记企业微信账号（wecom_userid）"."""
        ...

    def identify(self, settings: Any, org: Org, store: Repository, sender: str) -> str | None:
        """The person id behind an account on this channel, or None."""
        ...

    def connect(self, settings: Any, wiring: Wiring) -> None:
        """Build this channel's senders, routes and services into `wiring`."""
        ...
