"""Telegram: `[channels.telegram]`, private chats and groups, by polling or webhook.

People link their account with `绑定 CODE` (codes from `dutybot bind-code`), or a bureau that
knows them lists `telegram_id` on `[[people]]`; a unit's group is `telegram_chat_id` on its
`[units.group]`. The bot itself lives in `bot.channels.telegram_bot` (python-telegram-bot).

Personal information a state organ processes must stay in China (个人信息保护法 第三十六条):
`check` says so whenever Telegram is enabled.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.channels.plugin import AddressKey, HttpRoute, MissingSecret, Wiring
from bot.toml_table import Table, choice, env_name, positive, refuse_literal_secrets
from schedules.model import Org
from storage.repository import Repository

NAME = "telegram"
ACCOUNT = AddressKey("telegram_id", int, "Telegram 账号")
GROUP = AddressKey("telegram_chat_id", int, "Telegram 群")
WEBHOOK_PATH = "/telegram/webhook"
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")  # what Telegram accepts as secret_token
# PTB builds `api_base_url + token + "/" + method` (or fills in a `{token}` placeholder); files
# are served beside the methods, at `…/file/bot<token>/<file_path>` (a local Bot API server too).
API_BASE = re.compile(r"(.*)/bot(\{token\})?")
PIPL_NOTE = ("注意：Telegram 的服务器在境外。国家机关处理的个人信息应当在境内存储"
             "（《个人信息保护法》第三十六条），机关单位请改用企业微信（见管理员指南）")


@dataclass(frozen=True)
class TelegramSettings:
    enabled: bool = False
    token_env: str = ""
    mode: str = "polling"  # "polling" | "webhook"
    webhook_url: str = ""
    secret_token_env: str = ""
    detail: str = "full"  # "full" | "minimal": no notes or other people's names on this channel
    api_base_url: str = "https://api.telegram.org/bot"
    bind_code_hours: int = 24
    private_per_second: float = 1.0  # our own pacing per private chat (PTB does not do it)
    group_per_minute: int = 20
    overall_per_second: int = 30

    @property
    def file_base_url(self) -> str:
        """Where getFile's files are downloaded from, beside `api_base_url`:
        `https://api.telegram.org/bot` → `https://api.telegram.org/file/bot`."""
        found = API_BASE.fullmatch(self.api_base_url)
        if found is None:  # refused by `settings`; only a hand-built TelegramSettings
            return self.api_base_url
        return f"{found[1]}/file/bot{found[2] or ''}"


class Telegram:
    name = NAME
    label = "Telegram"
    person_keys: tuple[AddressKey, ...] = (ACCOUNT,)
    group_keys: tuple[AddressKey, ...] = (GROUP,)
    bindable = True
    precedence: tuple[tuple[str, str, bool], ...] = ()

    def settings(self, g: Table) -> TelegramSettings:
        if not g.data:
            return TelegramSettings()
        refuse_literal_secrets(g, ("token", "secret_token"))
        telegram = TelegramSettings(
            enabled=g.get("enabled", bool, False, kind_name="true 或 false"),
            token_env=env_name(g, "token_env"),
            mode=choice(g, "mode", ("polling", "webhook"), "polling"),
            webhook_url=g.text("webhook_url", ""),
            secret_token_env=env_name(g, "secret_token_env"),
            detail=choice(g, "detail", ("full", "minimal"), "full"),
            api_base_url=g.text("api_base_url", TelegramSettings.api_base_url),
            bind_code_hours=positive(g, "bind_code_hours", 24),
            private_per_second=float(g.get("private_per_second", (int, float), 1.0,
                                           kind_name="数字")),
            group_per_minute=positive(g, "group_per_minute", 20),
            overall_per_second=positive(g, "overall_per_second", 30),
        )
        if not API_BASE.fullmatch(telegram.api_base_url):
            g.fail("api_base_url",
                   "应以 /bot 结尾（如 https://api.telegram.org/bot）：机器人 token 接在其后")
        if telegram.private_per_second <= 0:
            g.fail("private_per_second", "应为正数")
        if telegram.enabled and not telegram.token_env:
            g.fail("token_env", "启用 Telegram 时必须指定保存机器人 token 的环境变量名")
        if telegram.enabled and telegram.mode == "webhook":
            if not telegram.webhook_url.startswith("https://"):
                g.fail("webhook_url", "webhook 模式需要以 https:// 开头的公网地址")
            if not telegram.secret_token_env:
                g.fail("secret_token_env", "webhook 模式必须指定保存校验密钥的环境变量名")
        g.done()
        return telegram

    def secret_envs(self, settings: TelegramSettings, org: Org) -> dict[str, str]:
        names = {"Telegram bot token": settings.token_env}
        if settings.mode == "webhook":
            names["Telegram webhook secret"] = settings.secret_token_env
        return names

    def routes(self, settings: TelegramSettings, org: Org, recipient: str,
               group: bool) -> list[str]:
        if group:
            unit = org.units.get(recipient)
            return [NAME] if unit and unit.group and unit.group.address(GROUP.key) else []
        person = org.people.get(recipient)
        return [NAME] if person and person.address(ACCOUNT.key) else []

    def states(self, settings: TelegramSettings, config: Any,
               env: Mapping[str, str]) -> list[str]:
        t = settings
        how = "轮询" if t.mode == "polling" else f"webhook {t.webhook_url}（本机 {WEBHOOK_PATH}）"
        detail = "信息从简" if t.detail == "minimal" else "信息完整"
        groups = sum(1 for u in config.org.units.values()
                     if u.group and u.group.address(GROUP.key))
        return [f"Telegram 已启用（{how}，{detail}，{groups} 个单位群；"
                "人员用 dutybot bind-code 绑定）", PIPL_NOTE]

    def summary(self, settings: TelegramSettings, config: Any) -> dict[str, Any]:
        return {"mode": settings.mode, "detail": settings.detail}

    def missing_address(self, settings: TelegramSettings) -> str:
        return "未绑定 Telegram（dutybot bind-code）"

    def identify(self, settings: TelegramSettings, org: Org, store: Repository,
                 sender: str) -> str | None:
        bound = store.account_person(NAME, sender)
        if bound is not None:
            return bound if bound in org.people else None
        person = org.by_address(ACCOUNT.key).get(sender)
        return person.id if person else None

    def connect(self, settings: TelegramSettings, wiring: Wiring) -> None:
        from bot.channels.telegram_bot import TelegramBot, TelegramChannel

        t, app = settings, wiring.app
        token = wiring.secret(t.token_env, "Telegram 机器人 token")
        secret = ""
        if t.mode == "webhook":
            secret = wiring.secret(t.secret_token_env, "Telegram webhook 校验密钥")
            if not WEBHOOK_SECRET.fullmatch(secret):
                raise MissingSecret(f"环境变量 {t.secret_token_env} 应为 1–256 个字母、数字、"
                                    "_ 或 -")
        bot = TelegramBot(t, token, secret, app.handle, app.quick, app.clock.now,
                          clock=wiring.clock, sleep=wiring.sleep, evidence=wiring.evidence)
        channel = TelegramChannel(app.org, app.store, bot)
        wiring.outbound[channel.name] = channel
        wiring.adapters[NAME] = bot
        wiring.late.append(bot)
        if t.mode == "webhook":
            wiring.routes.append(_webhook_route(bot))


def _webhook_route(bot: Any) -> HttpRoute:
    from starlette.requests import Request
    from starlette.responses import Response

    from bot.channels.telegram_bot import MAX_WEBHOOK_BODY
    from bot.server import peer, read_capped

    async def receive(request: Request) -> Response:
        body = await read_capped(request, MAX_WEBHOOK_BODY)
        if body is None:
            return Response(status_code=413)
        return Response(status_code=await bot.webhook(request.headers, body, peer(request)))

    return HttpRoute(WEBHOOK_PATH, "POST", NAME, receive)


CHANNEL = Telegram()
