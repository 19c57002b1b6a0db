"""The WeCom self-built app (企业微信应用) and the group robots (群机器人): `[channels.wecom]`.

People are addressed by `wecom_userid` on `[[people]]`; a unit's group robot by the
environment variable its `[units.group]` names in `wecom_robot_key_env`. The app receives
messages and taps on `/wecom/callback` (`bot.channels.wecom_callback`) and sends through
the WeCom API (`bot.channels.wecom_api`); the robots only send (`bot.channels.wecom_robot`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from bot.channels.plugin import AddressKey, HttpRoute, MissingSecret, Wiring
from bot.toml_table import Table, env_name, positive, refuse_literal_secrets
from schedules.model import Org
from storage.repository import Repository

log = logging.getLogger(__name__)

NAME = "wecom"
ROBOT = "wecom-robot"  # the group robots' outbound name
USERID = AddressKey("wecom_userid", str, "企业微信账号")
ROBOT_KEY = AddressKey("wecom_robot_key_env", str, "群机器人 key 的环境变量名")
CALLBACK_PATH = "/wecom/callback"


@dataclass(frozen=True)
class WeComSettings:
    enabled: bool = False
    corp_id: str = ""
    agent_id: int = 0
    token_env: str = ""
    aes_key_env: str = ""
    secret_env: str = ""
    api_base_url: str = "https://qyapi.weixin.qq.com/cgi-bin/"
    cards: bool = True  # reminders as template cards with buttons; false: plain text
    calendar: bool = False  # meetings also as 日程 in the invitees' WeCom calendars
    member_per_minute: int = 30  # WeCom's published per-member limits (it drops the excess)
    member_per_hour: int = 1000
    api_per_minute: int = 10_000
    robot_per_minute: int = 20


def robot_key_env(org: Org, unit_id: str) -> str:
    unit = org.units.get(unit_id)
    return (unit.group.address(ROBOT_KEY.key) or "") if unit and unit.group else ""


class WeComApp:
    name = NAME
    label = "企业微信"
    person_keys: tuple[AddressKey, ...] = (USERID,)
    group_keys: tuple[AddressKey, ...] = (ROBOT_KEY,)
    bindable = False
    precedence: tuple[tuple[str, str, bool], ...] = ()

    def settings(self, w: Table) -> WeComSettings:
        if not w.data:
            return WeComSettings()
        refuse_literal_secrets(w, ("token", "aes_key", "secret", "corp_secret"))
        wecom = WeComSettings(
            enabled=w.get("enabled", bool, False, kind_name="true 或 false"),
            corp_id=w.text("corp_id", ""),
            agent_id=w.get("agent_id", int, 0, kind_name="数字"),
            token_env=env_name(w, "token_env"),
            aes_key_env=env_name(w, "aes_key_env"),
            secret_env=env_name(w, "secret_env"),
            api_base_url=w.text("api_base_url", WeComSettings.api_base_url),
            cards=w.get("cards", bool, True, kind_name="true 或 false"),
            calendar=w.get("calendar", bool, False, kind_name="true 或 false"),
            member_per_minute=positive(w, "member_per_minute", 30),
            member_per_hour=positive(w, "member_per_hour", 1000),
            api_per_minute=positive(w, "api_per_minute", 10_000),
            robot_per_minute=positive(w, "robot_per_minute", 20),
        )
        if wecom.enabled:
            if not wecom.corp_id:
                w.fail("corp_id", "启用企业微信时必须填写企业 ID（corp_id）")
            if wecom.agent_id <= 0:
                w.fail("agent_id", "启用企业微信时必须填写应用的 AgentId（agent_id）")
            for name in ("token_env", "aes_key_env", "secret_env"):
                if not getattr(wecom, name):
                    w.fail(name, "启用企业微信时必须指定保存该密钥的环境变量名")
        w.done()
        return wecom

    def secret_envs(self, settings: WeComSettings, org: Org) -> dict[str, str]:
        return {"WeCom token": settings.token_env,
                "WeCom EncodingAESKey": settings.aes_key_env,
                "WeCom secret": settings.secret_env}

    def routes(self, settings: WeComSettings, org: Org, recipient: str, group: bool) -> list[str]:
        if group:
            return [ROBOT] if robot_key_env(org, recipient) else []
        person = org.people.get(recipient)
        return [NAME] if person and person.address(USERID.key) else []

    def states(self, settings: WeComSettings, config: Any, env: Mapping[str, str]) -> list[str]:
        server = config.server
        org = config.org
        missing = [n for n in (settings.token_env, settings.aes_key_env, settings.secret_env)
                   if not env.get(n)]
        state = "企业微信 已启用" if not missing else "企业微信 已启用但未就绪"
        states = [f"{state}（回调地址 http://{server.host}:{server.port}{CALLBACK_PATH}，"
                  "经反向代理对外提供 HTTPS）"]
        robots = [(u.name, key) for u in org.units.values() if (key := robot_key_env(org, u.id))]
        ready = [name for name, key in robots if env.get(key)]
        unset = [f"{name}（{key}）" for name, key in robots if not env.get(key)]
        states.append(f"群机器人 {len(ready)}/{len(robots)} 个就绪"
                      + (f"，未设置环境变量：{'、'.join(unset)}" if unset else ""))
        return states

    def summary(self, settings: WeComSettings, config: Any) -> dict[str, Any]:
        return {"corp_id": settings.corp_id, "agent_id": settings.agent_id,
                "callback": f"http://{config.server.host}:{config.server.port}{CALLBACK_PATH}"}

    def missing_address(self, settings: WeComSettings) -> str:
        return f"未登记企业微信账号（{USERID.key}）"

    def identify(self, settings: WeComSettings, org: Org, store: Repository,
                 sender: str) -> str | None:
        person = org.by_address(USERID.key, fold_case=True).get(sender.lower())
        return person.id if person else None  # WeCom compares userids ignoring case

    def connect(self, settings: WeComSettings, wiring: Wiring) -> None:
        from wechatpy.enterprise.crypto import WeChatCrypto

        from bot.calendar_sync import schedule_answered
        from bot.channels.wecom_api import WeComAPI, WeComChannel, WeComLimits
        from bot.channels.wecom_callback import WeComCallback
        from bot.channels.wecom_robot import RobotChannel

        w, app = settings, wiring.app
        token = wiring.secret(w.token_env, "企业微信回调 Token")
        aes_key = wiring.secret(w.aes_key_env, "企业微信回调 EncodingAESKey")
        secret = wiring.secret(w.secret_env, "企业微信应用 Secret")
        try:
            crypto = WeChatCrypto(token, aes_key, w.corp_id)
        except (AssertionError, ValueError):
            raise MissingSecret(f"环境变量 {w.aes_key_env} 不是有效的 EncodingAESKey"
                                "（应为 43 个字符）") from None
        api = WeComAPI(w.corp_id, secret, w.agent_id, w.api_base_url, clock=wiring.clock,
                       sleep=wiring.sleep)
        channel = WeComChannel(app.org, api, cards=w.cards,
                               limits=WeComLimits(w.member_per_minute, w.member_per_hour,
                                                  w.api_per_minute),
                               clock=wiring.clock, sleep=wiring.sleep)
        wiring.outbound[channel.name] = channel
        keys: dict[str, str] = {}
        for unit in app.org.units.values():
            name = robot_key_env(app.org, unit.id)
            if not name:
                continue
            if wiring.env.get(name, "").strip():
                keys[unit.id] = wiring.env[name].strip()
            else:
                wiring.notes.append(f"{unit.name}的群机器人未接入：环境变量 {name} 未设置")
        if keys:
            robot = RobotChannel(app.org, keys, w.api_base_url, per_minute=w.robot_per_minute,
                                 clock=wiring.clock, sleep=wiring.sleep)
            wiring.outbound[robot.name] = robot
        answered = partial(schedule_answered, app, channel) if w.calendar else None
        callback = WeComCallback(app.handle, crypto, w.agent_id, channel, api,
                                 app.clock.now, quick=app.quick, wall=wiring.wall,
                                 schedule_answered=answered, evidence=wiring.evidence)
        wiring.adapters[NAME] = callback
        wiring.early.append(callback)  # its follow-ups outlive the HTTP server
        wiring.routes += _routes(callback)


def _routes(callback: Any) -> list[HttpRoute]:
    from starlette.requests import Request
    from starlette.responses import Response

    from bot.channels.wecom_callback import MAX_BODY, Answer
    from bot.server import peer, read_capped

    def answer(found: Answer) -> Response:
        return Response(found.body, status_code=found.status, media_type="text/plain")

    async def verify(request: Request) -> Response:
        return answer(callback.verify(dict(request.query_params), peer(request)))

    async def receive(request: Request) -> Response:
        body = await read_capped(request, MAX_BODY)
        if body is None:
            log.warning("WeCom callback from %s refused (413): body over %d bytes",
                        peer(request), MAX_BODY)
            return Response(status_code=413)
        return answer(await callback.receive(dict(request.query_params), body, peer(request)))

    return [HttpRoute(CALLBACK_PATH, "GET", NAME, verify),
            HttpRoute(CALLBACK_PATH, "POST", NAME, receive)]


CHANNEL = WeComApp()
