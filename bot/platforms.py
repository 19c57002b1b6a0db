"""From config and environment to running channels: what `dutybot run` connects.

Secrets come only from the environment variables the config names (SPEC §8); a missing one
stops start-up with a message naming the variable, never printing a value.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from wechatpy.enterprise.crypto import WeChatCrypto

from bot.app import App
from bot.calendar_sync import schedule_answered
from bot.channels.base import Outbound
from bot.channels.telegram import TelegramBot, TelegramChannel
from bot.channels.wecom import WeComAPI, WeComChannel, WeComLimits
from bot.channels.wecom_callback import WeComCallback
from bot.channels.wecom_robot import RobotChannel
from bot.config import Config, ServerSettings
from bot.metrics import Metrics
from bot.runner import Service
from bot.server import HttpServer, make_app

log = logging.getLogger(__name__)

WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as secret_token


class MissingSecret(Exception):
    """An environment variable the config names is not set (or not usable)."""


@dataclass
class Platforms:
    outbound: dict[str, Outbound] = field(default_factory=dict)
    wecom: WeComCallback | None = None
    telegram: TelegramBot | None = None
    notes: list[str] = field(default_factory=list)  # what is not connected, and why

    @property
    def needs_server(self) -> bool:
        """Whether callbacks come over HTTP: WeCom always, Telegram in webhook mode."""
        return self.wecom is not None or (self.telegram is not None
                                          and self.telegram.settings.mode == "webhook")

    def services(self, health: Callable[[], tuple[int, dict[str, Any]]],
                 settings: ServerSettings, metrics: Metrics | None = None) -> list[Service]:
        """What `dutybot run` starts, in order (and stops in reverse): WeCom's follow-ups
        outlive the HTTP server, so replies set in motion by its last requests go out. The
        server runs when callbacks need it or `[server]` is configured (for `/healthz` and
        `/metrics`)."""
        started: list[Service] = []
        if self.wecom is not None:
            started.append(self.wecom)
        if self.needs_server or settings.configured:
            started.append(HttpServer(make_app(health, self.wecom, self.telegram, metrics),
                                      settings))
        if self.telegram is not None:
            started.append(self.telegram)
        return started


def _secret(env: Mapping[str, str], name: str, what: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise MissingSecret(f"环境变量 {name}（{what}）未设置")
    return value


def connect(config: Config, app: App, env: Mapping[str, str],
            clock: Callable[[], float] = time.monotonic,
            sleep: Callable[[float], None] = time.sleep,
            wall: Callable[[], float] = time.time) -> Platforms:
    """The enabled platforms' channels and callbacks, built from config and `env`. `clock`
    and `sleep` pace sending; `wall` is the real time callbacks' timestamps are checked
    against."""
    platforms = Platforms()
    if config.wecom.enabled:
        _connect_wecom(config, app, env, clock, sleep, wall, platforms)
    if config.telegram.enabled:
        _connect_telegram(config, app, env, clock, sleep, platforms)
    return platforms


def _connect_telegram(config: Config, app: App, env: Mapping[str, str],
                      clock: Callable[[], float], sleep: Callable[[float], None],
                      platforms: Platforms) -> None:
    t = config.telegram
    token = _secret(env, t.token_env, "Telegram 机器人 token")
    secret = ""
    if t.mode == "webhook":
        secret = _secret(env, t.secret_token_env, "Telegram webhook 校验密钥")
        if not WEBHOOK_SECRET.fullmatch(secret):
            raise MissingSecret(f"环境变量 {t.secret_token_env} 应为 1–256 个字母、数字、_ 或 -")
    bot = TelegramBot(t, token, secret, app.handle, app.quick, app.store, app.clock.now,
                      clock=clock, sleep=sleep)
    platforms.telegram = bot
    channel = TelegramChannel(config.org, app.store, bot)
    platforms.outbound[channel.name] = channel


def _connect_wecom(config: Config, app: App, env: Mapping[str, str],
                   clock: Callable[[], float], sleep: Callable[[float], None],
                   wall: Callable[[], float], platforms: Platforms) -> None:
    w = config.wecom
    token = _secret(env, w.token_env, "企业微信回调 Token")
    aes_key = _secret(env, w.aes_key_env, "企业微信回调 EncodingAESKey")
    secret = _secret(env, w.secret_env, "企业微信应用 Secret")
    try:
        crypto = WeChatCrypto(token, aes_key, w.corp_id)
    except (AssertionError, ValueError):
        raise MissingSecret(f"环境变量 {w.aes_key_env} 不是有效的 EncodingAESKey"
                            "（应为 43 个字符）") from None
    api = WeComAPI(w.corp_id, secret, w.agent_id, w.api_base_url, clock=clock, sleep=sleep)
    channel = WeComChannel(config.org, api, cards=w.cards,
                           limits=WeComLimits(w.member_per_minute, w.member_per_hour,
                                              w.api_per_minute),
                           clock=clock, sleep=sleep)
    platforms.outbound[channel.name] = channel
    keys: dict[str, str] = {}
    for unit in config.org.units.values():
        name = unit.group.wecom_robot_key_env if unit.group else ""
        if not name:
            continue
        if env.get(name, "").strip():
            keys[unit.id] = env[name].strip()
        else:
            platforms.notes.append(f"{unit.name}的群机器人未接入：环境变量 {name} 未设置")
    if keys:
        robot = RobotChannel(config.org, keys, w.api_base_url, per_minute=w.robot_per_minute,
                             clock=clock, sleep=sleep)
        platforms.outbound[robot.name] = robot
    answered = partial(schedule_answered, app, channel) if w.calendar else None
    platforms.wecom = WeComCallback(app.handle, app.store, crypto, w.agent_id, channel, api,
                                    app.clock.now, quick=app.quick, wall=wall,
                                    schedule_answered=answered)
