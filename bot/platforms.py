"""From config and environment to running channels: what `dutybot run` connects.

Each enabled channel module (`bot.channels.registry`) builds its own senders, routes and
services. Secrets come only from the environment variables the config names (SPEC §8); a
missing one stops start-up with a message naming the variable, never printing a value.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from bot.app import App
from bot.channels import registry
from bot.channels.base import Outbound
from bot.channels.plugin import MissingSecret, Wiring
from bot.config import Config, ServerSettings
from bot.evidence import Evidence
from bot.metrics import Metrics
from bot.runner import Service

__all__ = ["MissingSecret", "Platforms", "connect"]


class Platforms:
    def __init__(self, wiring: Wiring) -> None:
        self.wiring = wiring

    @property
    def outbound(self) -> dict[str, Outbound]:
        return self.wiring.outbound

    @property
    def notes(self) -> list[str]:
        return self.wiring.notes  # what is not connected, and why

    def adapter(self, channel: str) -> Any:
        """A channel's running adapter (the WeCom callback, the Telegram bot, …), or None."""
        return self.wiring.adapters.get(channel)

    @property
    def needs_server(self) -> bool:
        """Whether callbacks come over HTTP."""
        return bool(self.wiring.routes)

    def services(self, health: Callable[[], tuple[int, dict[str, Any]]],
                 settings: ServerSettings, metrics: Metrics | None = None) -> list[Service]:
        """What `dutybot run` starts, in order (and stops in reverse): services that must
        outlive the HTTP server (WeCom's follow-ups, so replies set in motion by its last
        requests go out) come first. The server runs when callbacks need it or `[server]`
        is configured (for `/healthz` and `/metrics`)."""
        started: list[Service] = list(self.wiring.early)
        if self.needs_server or settings.configured:
            from bot.server import HttpServer, make_app

            started.append(HttpServer(make_app(health, self.wiring.routes, metrics), settings))
        return started + self.wiring.late


def connect(config: Config, app: App, env: Mapping[str, str],
            clock: Callable[[], float] = time.monotonic,
            sleep: Callable[[float], None] = time.sleep,
            wall: Callable[[], float] = time.time) -> Platforms:
    """The enabled channels, built from config and `env`. `clock` and `sleep` pace sending;
    `wall` is the real time callbacks' timestamps are checked against."""
    wiring = Wiring(config, app, env, clock, sleep, wall, Evidence(app.store.files, sleep=sleep))
    for channel, settings in registry.enabled(config.channels):
        channel.connect(settings, wiring)
    return Platforms(wiring)
