"""Shared fixtures: the example bureau in a temporary folder, a fake clock, and a guard that
fails any test trying to reach a non-loopback address."""

from __future__ import annotations

import ipaddress
import shutil
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.clock import FakeClock
from bot.config import Config, load
from tests.builders import EXAMPLE, Chat, at


@pytest.fixture(autouse=True)
def no_outside_network(monkeypatch: pytest.MonkeyPatch) -> None:
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
                raise AssertionError(f"test tried to reach {address!r}: loopback only")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    """The example bureau copied into a temporary folder (its store goes there too)."""
    path = tmp_path / "config.toml"
    shutil.copy(EXAMPLE, path)
    return path


@pytest.fixture
def config(config_path: Path) -> Config:
    return load(config_path)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(at("2026-11-26 10:00"))


@pytest.fixture
def app(config: Config, clock: FakeClock) -> Iterator[App]:
    opened = App.open(config, clock)
    yield opened
    opened.close()


@pytest.fixture
def chat_as(app: App, clock: FakeClock) -> Callable[[str], Chat]:
    return lambda sender: Chat(app, clock, sender)
