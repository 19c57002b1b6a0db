"""The WeCom 智能机器人 (AI bot, API mode): `[channels.wecom_aibot]`, the bot people @ in their
work group and talk to in private (SPEC §7, PLATFORMS.md §7).

Long connection: the bot connects out to WeCom's gateway by WebSocket with the official SDK
(`wecom-aibot-python-sdk`, import name `aibot`) and subscribes with bot id and secret — no
public IP, no callback URL. It runs on `dutybot run`'s event loop; commands that write run in
worker threads, as on the other channels.

- In a group, text arrives only when the bot is @-mentioned, mention included: it is
  stripped before parsing, and the reply follows SPEC §6's group rules (the dispatcher's).
- Images and files come with a per-message AES key: the SDK downloads and decrypts them,
  and they are kept in the store (`bot.evidence`) before the message is handled.
- A message or tap delivered again acts once: its `msgid` is the store's source key, so a
  restart does not forget it either.
- Pushes: reminders to a person's single chat (their `wecom_userid`), digests and meeting
  notices to a unit's group (`aibot_chatid` on `[units.group]`), markdown or a template card
  whose buttons work. Where a group has a chat id, its group robot is not used as well;
  where the WeCom app is connected, it reaches people and this bot only their groups.
- One connection per bot: when WeCom says a newer connection replaced this one, this
  instance stops (no reconnecting against the other) and says so in the log and health.

The SDK's rate limits for active pushes are not published; we pace each chat to
`per_chat_per_minute` (default 20, as WeCom's group robots) and sends overall to
`per_minute`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import ssl
import uuid
import warnings
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.channels import wecom
from bot.channels.base import (
    Background,
    ChannelUnavailable,
    PermanentSendError,
    Recent,
    TransientSendError,
    Turns,
    clip,
    split_text,
)
from bot.channels.buttons import CHECKIN_KEY, button_key, command_of
from bot.channels.plugin import AddressKey, HttpRoute, MissingSecret, Wiring
from bot.channels.ratelimit import Limit, RateLimiter
from bot.evidence import Evidence, Fetched, FetchFailed, FetchTooBig
from bot.toml_table import Table, choice, env_name, positive, refuse_literal_secrets
from handlers import text
from handlers.messages import Inbound, Reply
from schedules.model import Org
from schedules.tasks import Attachment
from storage.atomic import atomic_write
from storage.repository import Repository

log = logging.getLogger(__name__)

NAME = "wecom_aibot"
CHATID = AddressKey("aibot_chatid", str, "智能机器人群聊 chatid")
GATEWAY = "wss://openws.work.weixin.qq.com"
CALLBACK_PATH = "/wecom/aibot"
MAX_BODY = 64 * 1024  # a real callback is a few kilobytes
DRAIN_SECONDS = 10.0  # at shutdown, how long answers in flight may take
REPLY_BUDGET = 3.0  # seconds a passive answer may take; slower ones go to response_url
TEXT_LIMIT = 20_000  # bytes of markdown in one message (WeCom's markdown limit)
CARD_TEXT = 112
REMEMBERED = 10_000  # recent msgids kept for dropping redeliveries in memory
SEND_TIMEOUT = 30.0  # a push waits this long for the bot's loop and the gateway's ack
WATCH_SECONDS = 5.0  # how often the watchdog looks at the connection
WATCH_CHECKS = 3  # looks in a row offline before the client is rebuilt
MAX_BACKOFF = 60.0
CLOSE_WAIT_STEPS = 500  # × 10 ms: how long `stop` waits for the connection to close
REPLACED = "disconnected_event"  # WeCom: a newer connection replaced this one
MENTION = re.compile(r"^\s*@\S+\s*")


@dataclass(frozen=True)
class AibotSettings:
    enabled: bool = False
    bot_id: str = ""
    secret_env: str = ""
    transport: str = "websocket"  # or "callback": JSON callbacks on /wecom/aibot
    token_env: str = ""  # callback only: the bot's Token …
    aes_key_env: str = ""  # … and EncodingAESKey
    ws_url: str = GATEWAY
    ca_file: str = ""  # extra CA certificates to trust (an intranet TLS proxy; tests)
    cards: bool = True
    per_chat_per_minute: int = 20
    per_minute: int = 600


def _chatid(org: Org, unit_id: str) -> str:
    unit = org.units.get(unit_id)
    return (unit.group.address(CHATID.key) or "") if unit and unit.group else ""


class WeComAibot:
    name = NAME
    label = "企业微信智能机器人"
    person_keys: tuple[AddressKey, ...] = (wecom.USERID,)
    group_keys: tuple[AddressKey, ...] = (CHATID,)
    bindable = False
    precedence: tuple[tuple[str, str, bool], ...] = (
        (NAME, wecom.ROBOT, True),  # a group with a chat id: not also its robot
        (wecom.NAME, NAME, False),  # the WeCom app reaches people: this bot their groups
    )

    def settings(self, t: Table) -> AibotSettings:
        if not t.data:
            return AibotSettings()
        refuse_literal_secrets(t, ("secret", "token", "aes_key"))
        settings = AibotSettings(
            enabled=t.get("enabled", bool, False, kind_name="true 或 false"),
            bot_id=t.text("bot_id", ""),
            secret_env=env_name(t, "secret_env"),
            transport=choice(t, "transport", ("websocket", "callback"), "websocket"),
            token_env=env_name(t, "token_env"),
            aes_key_env=env_name(t, "aes_key_env"),
            ws_url=t.text("ws_url", GATEWAY),
            ca_file=t.text("ca_file", ""),
            cards=t.get("cards", bool, True, kind_name="true 或 false"),
            per_chat_per_minute=positive(t, "per_chat_per_minute", 20),
            per_minute=positive(t, "per_minute", 600),
        )
        if settings.enabled:
            if not settings.bot_id:
                t.fail("bot_id", "启用智能机器人时必须填写机器人的 Bot ID（bot_id）")
            if settings.transport == "websocket" and not settings.secret_env:
                t.fail("secret_env", "启用智能机器人时必须指定保存机器人 Secret 的环境变量名")
            for name in ("token_env", "aes_key_env"):
                if settings.transport == "callback" and not getattr(settings, name):
                    t.fail(name, "回调方式（transport = \"callback\"）须指定保存该密钥的环境变量名")
            if not settings.ws_url.startswith(("wss://", "ws://")):
                t.fail("ws_url", "应以 wss:// 开头（默认为企业微信的长连接地址，一般不用写）")
        t.done()
        return settings

    def secret_envs(self, settings: AibotSettings, org: Org) -> dict[str, str]:
        if settings.transport == "callback":
            return {"WeCom AI bot token": settings.token_env,
                    "WeCom AI bot EncodingAESKey": settings.aes_key_env}
        return {"WeCom AI bot secret": settings.secret_env}

    def routes(self, settings: AibotSettings, org: Org, recipient: str, group: bool) -> list[str]:
        if settings.transport == "callback":
            return []  # callbacks answer messages; pushing needs the long connection
        if group:
            return [NAME] if _chatid(org, recipient) else []
        person = org.people.get(recipient)
        return [NAME] if person and person.address(wecom.USERID.key) else []

    def states(self, settings: AibotSettings, config: Any, env: Mapping[str, str]) -> list[str]:
        org = config.org
        groups = sum(1 for u in org.units.values() if _chatid(org, u.id))
        ready = ("已启用" if all(env.get(n) for n in self.secret_envs(settings, org).values())
                 else "已启用但未就绪")
        if settings.transport == "callback":
            return [f"企业微信智能机器人 {ready}（回调地址 http://{config.server.host}:"
                    f"{config.server.port}{CALLBACK_PATH}，经反向代理对外提供 HTTPS；"
                    "回调方式只能答复消息，提醒和群通知请用长连接或群机器人）"]
        states = [f"企业微信智能机器人 {ready}（长连接 {settings.ws_url}，无需公网地址；"
                  f"{groups} 个单位群设置了 aibot_chatid）"]
        ended = read_link_end(config.store_path)
        if ended is not None:
            states.append(ended)
        return states

    def summary(self, settings: AibotSettings, config: Any) -> dict[str, Any]:
        return {"bot_id": settings.bot_id, "transport": settings.transport,
                "ws_url": settings.ws_url}

    def missing_address(self, settings: AibotSettings) -> str:
        return f"未登记企业微信账号（{wecom.USERID.key}）"

    def identify(self, settings: AibotSettings, org: Org, store: Repository,
                 sender: str) -> str | None:
        person = org.by_address(wecom.USERID.key, fold_case=True).get(sender.lower())
        return person.id if person else None

    def connect(self, settings: AibotSettings, wiring: Wiring) -> None:
        if settings.transport == "callback":
            callback = AibotCallback(settings, wiring)
            wiring.adapters[NAME] = callback
            wiring.early.append(callback)  # its follow-ups outlive the HTTP server
            wiring.routes += callback.routes()
            return
        secret = wiring.secret(settings.secret_env, "企业微信智能机器人 Secret")
        link = AibotLink(settings, secret, wiring)
        wiring.adapters[NAME] = link
        org = wiring.app.org
        wiring.outbound[NAME] = AibotOutbound(org, link)
        wiring.late.append(link)


LINK_STATE = "wecom_aibot-link.json"  # in the store folder: why the last run's link ended


def note_link_end(folder: Path, why: str, at: datetime) -> None:
    """Remember, for `check`, that the long connection ended for good (`why`: "replaced" or
    "refused"); `why` "" forgets it (connected again)."""
    path = folder / LINK_STATE
    try:
        if why:
            atomic_write(path, json.dumps({"why": why, "at": at.isoformat()}).encode())
        else:
            path.unlink(missing_ok=True)
    except OSError as e:
        log.warning("could not note the AI bot link's state in %s: %s", path, e)


def read_link_end(folder: Path) -> str | None:
    """What `check` says about how the last run's long connection ended, if it did."""
    try:
        found = json.loads((folder / LINK_STATE).read_text(encoding="utf-8"))
        at = datetime.fromisoformat(found["at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    when = f"{at:%Y-%m-%d %H:%M}"
    if found.get("why") == "replaced":
        return (f"注意：{when} 智能机器人的长连接被另一处使用同一 Bot ID 的连接取代，"
                "本机已停止连接。请确认只有一处在运行 dutybot run，然后重启本机的服务。")
    return (f"注意：{when} 企业微信拒绝了智能机器人的 Bot ID 或 Secret，本机已停止连接。"
            "请核对 bot_id 和保存 Secret 的环境变量，然后重启服务。")


def sdk() -> Any:
    """The official SDK (`aibot`), imported on first use: only `run` needs it."""
    with warnings.catch_warnings():  # aibot/ws.py imports a deprecated websockets name
        warnings.simplefilter("ignore", DeprecationWarning)
        import aibot
        import aibot.ws
    return aibot


class _Answering:
    """What both transports share: a message's files are kept before it is handled, reads
    are answered on the loop and writes in a worker thread, redeliveries are dropped, and
    the answers set going are drained at shutdown."""

    def __init__(self, wiring: Wiring) -> None:
        app = wiring.app
        self.handle_message, self.quick, self.now = app.handle, app.quick, app.clock.now
        self.evidence: Evidence = wiring.evidence
        self.org = app.org
        self._seen = Recent(REMEMBERED)
        self._told: set[str] = set()  # group chats no unit names, logged once
        self._background = Background()

    def _fetch(self, attachment: Attachment, limit: int) -> Fetched:
        raise NotImplementedError

    def handle(self, inbound: Inbound) -> Reply:
        """Files first (downloaded, decrypted and kept), then the reply."""
        return self.handle_message(self.evidence.collect(inbound, self._fetch))

    async def _reply_to(self, inbound: Inbound) -> Reply:
        if self.quick(inbound):
            return self.handle(inbound)
        return await asyncio.to_thread(self.handle, inbound)

    def _later(self, job: Any) -> None:
        self._background.later(job)

    async def drain(self) -> None:
        """Wait for answers in flight (tests, shutdown)."""
        await self._background.drain()


class AibotLink(_Answering):
    """The long connection: a service of `dutybot run`, on its event loop."""

    watch_seconds = WATCH_SECONDS

    def __init__(self, settings: AibotSettings, secret: str, wiring: Wiring) -> None:
        super().__init__(wiring)
        self.settings, self._secret = settings, secret
        self.folder = wiring.config.store_path
        self.client: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.replaced = False  # WeCom said a newer connection took over
        self.refused = ""  # WeCom refused the bot id and secret: why
        self.stopping = False
        self._watch: asyncio.Task[None] | None = None
        self._backoff = self.watch_seconds  # the watchdog's next pause; doubles while offline
        self._connecting: asyncio.Future[Any] | None = None
        self.authenticated = asyncio.Event()
        self._turns = Turns()
        self.limiter = RateLimiter([Limit(settings.per_chat_per_minute, 60.0 + 1.0)],
                                   wiring.clock, wiring.sleep)
        self.overall = RateLimiter([Limit(settings.per_minute, 60.0 + 1.0)], wiring.clock,
                                   wiring.sleep)

    # ---- lifecycle ------------------------------------------------------------------------
    # The SDK reconnects after a dropped network by itself, but goes silent after a clean
    # close (its own dead-peer check included) and retries a refused secret forever: a
    # watchdog rebuilds the client when it stays offline, and a refusal or a replacement
    # ends the link for good (PLATFORMS.md §7; /healthz and the log say which).

    async def start(self) -> None:
        aibot = sdk()
        if self.settings.ca_file:
            # The SDK takes no TLS option; its module-level context is the one it uses.
            aibot.ws._SSL_CONTEXT = ssl.create_default_context(cafile=self.settings.ca_file)
        self.loop = asyncio.get_running_loop()
        self._watch = asyncio.create_task(self._supervise(aibot))
        log.info("WeCom AI bot connecting to %s", self.settings.ws_url)

    def _new_client(self, aibot: Any) -> Any:
        client = aibot.WSClient(aibot.WSClientOptions(
            bot_id=self.settings.bot_id, secret=self._secret, ws_url=self.settings.ws_url,
            max_reconnect_attempts=-1, logger=_SdkLog()))
        client.on("authenticated", self._on_authenticated)
        client.on("error", self._on_error)
        client.on("message", self._on_message)
        client.on("event", self._on_event)
        return client

    async def _supervise(self, aibot: Any) -> None:
        self._backoff = self.watch_seconds
        while not self.ended:
            self.client = self._new_client(aibot)
            self._connecting = asyncio.ensure_future(self.client.connect())
            offline = 0
            while not self.ended:
                await asyncio.sleep(self.watch_seconds)
                offline = 0 if self.client.is_connected else offline + 1
                if offline >= WATCH_CHECKS:
                    break
            if self.ended:
                break
            log.warning("WeCom AI bot: offline for %.0f s; connecting anew in %.0f s",
                        self.watch_seconds * WATCH_CHECKS, self._backoff)
            self._close_client()
            await asyncio.sleep(self._backoff)
            self._backoff = min(self._backoff * 2, MAX_BACKOFF)  # until subscribed again

    @property
    def ended(self) -> bool:
        return self.stopping or self.replaced or bool(self.refused)

    def _on_authenticated(self) -> None:
        self.authenticated.set()
        self._backoff = self.watch_seconds
        note_link_end(self.folder, "", self.now())
        log.info("WeCom AI bot: subscribed as %s", self.settings.bot_id)

    def _on_error(self, error: Exception) -> None:
        if str(error).startswith("Authentication failed"):
            self.refused = str(error)[:200]
            note_link_end(self.folder, "refused", self.now())
            log.error("WeCom AI bot: WeCom refused bot id %s and its secret (%s); not "
                      "retrying — check bot_id and the variable %s", self.settings.bot_id,
                      self.refused, self.settings.secret_env)
            self._close_client()
        else:
            log.warning("WeCom AI bot: %s", str(error)[:200])

    def _close_client(self) -> None:
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()  # a back-off sleep inside the SDK's connect
        if self.client is not None and self.client._started:
            self.client.disconnect()

    async def stop(self) -> None:
        self.stopping = True
        await self.drain()
        if self._watch is not None:
            self._watch.cancel()
            with suppress(asyncio.CancelledError):
                await self._watch
        if self.client is None:
            return
        self._close_client()  # schedules the close: wait for it, briefly
        for _ in range(CLOSE_WAIT_STEPS):
            if not self.client.is_connected:
                break
            await asyncio.sleep(0.01)
        if self._connecting is not None:
            with suppress(asyncio.CancelledError, Exception):
                await self._connecting

    def health(self) -> dict[str, Any]:
        connected = self.client is not None and self.client.is_connected
        return {"connected": connected, "replaced": self.replaced,
                "refused": bool(self.refused)}

    # ---- inbound --------------------------------------------------------------------------

    def _on_message(self, frame: dict[str, Any]) -> None:
        self._later(self._answer(frame, self.inbound(frame)))

    def _on_event(self, frame: dict[str, Any]) -> None:
        body = frame.get("body") or {}
        event = body.get("event") or {}
        kind = event.get("eventtype")
        if kind == REPLACED:
            self.replaced = True
            note_link_end(self.folder, "replaced", self.now())
            log.error("WeCom AI bot: a newer connection with the same bot id replaced this "
                      "one; this instance stops (run one dutybot per bot)")
            self._close_client()
            return
        if kind == "template_card_event":
            self._later(self._tap(frame, body, event.get("template_card_event") or {}))

    def inbound(self, frame: dict[str, Any]) -> Inbound | None:
        body = frame.get("body") or {}
        if not self._seen.first_time(str(body.get("msgid") or "")):
            return None
        found = message_of(body, self.now(), frame)
        if found is not None:
            note_unknown_group(self.org, found.conversation, self._told)
        return found

    async def _answer(self, frame: dict[str, Any], inbound: Inbound | None) -> None:
        if inbound is None:
            return
        async with self._turns.of(inbound.sender):  # side by side, each sender in order
            reply = await self._reply_to(inbound)
        body = reply.for_detail(inbound.detail)
        try:
            await self.client.reply(frame, {"msgtype": "markdown",
                                            "markdown": {"content": body[:TEXT_LIMIT]}})
        except Exception as e:  # noqa: BLE001 - the SDK raises bare RuntimeErrors
            log.warning("could not answer on the WeCom AI bot: %s", e)

    async def _tap(self, frame: dict[str, Any], body: dict[str, Any],
                   card: dict[str, Any]) -> None:
        found = tap_of(body, self.now(), frame)
        if found is None or not self._seen.first_time(str(found[0].message_id)):
            return
        inbound, key = found
        task_id = str(card.get("task_id") or "")
        async with self._turns.of(inbound.sender):
            reply = await self._reply_to(inbound)
        done = any(f"{CHECKIN_KEY}{d.number}" == key for d in reply.done)
        try:
            if done:
                await self.client.update_template_card(
                    frame, done_card(task_id, reply.for_detail(inbound.detail)),
                    userids=[inbound.sender])
            else:
                await self.client.send_message(inbound.conversation or inbound.sender, {
                    "msgtype": "markdown",
                    "markdown": {"content": reply.for_detail(inbound.detail)[:TEXT_LIMIT]}})
        except Exception as e:  # noqa: BLE001 - the SDK raises bare RuntimeErrors
            log.warning("could not answer a card tap on the WeCom AI bot: %s", e)

    def _fetch(self, attachment: Attachment, limit: int) -> Fetched:
        """The file of one message, decrypted with its own key (in a worker thread)."""
        url, _, aeskey = attachment.ref.partition(" ")
        if self.loop is None or self.client is None:
            raise FetchFailed("the AI bot is not running", transient=False)
        future = asyncio.run_coroutine_threadsafe(self.client.download_file(url, aeskey or None),
                                                  self.loop)
        try:
            data, name = future.result(SEND_TIMEOUT)
        except TimeoutError:
            future.cancel()
            raise FetchFailed("download timed out") from None
        except Exception as e:  # noqa: BLE001 - aiohttp's and the decryptor's errors
            status = getattr(e, "status", 0)
            raise FetchFailed(f"{type(e).__name__} {status or ''}".strip(),
                              transient=not 400 <= status < 500) from None
        if len(data) > limit:
            raise FetchTooBig(len(data))
        return Fetched(bytes(data), name or "")

    # ---- outbound -------------------------------------------------------------------------

    def push(self, chatid: str, body: dict[str, Any]) -> None:
        """An active push (`aibot_send_msg`), from a worker thread; raises `SendError`."""
        if self.replaced:
            raise ChannelUnavailable("智能机器人的长连接已被另一处连接取代")
        if self.loop is None or self.client is None or not self.client.is_connected:
            raise ChannelUnavailable("智能机器人尚未连上企业微信")
        if not self.overall.acquire(["all"], SEND_TIMEOUT) or not self.limiter.acquire(
                [chatid], SEND_TIMEOUT):
            raise TransientSendError("为遵守发送频率限制，稍后发送")
        future = asyncio.run_coroutine_threadsafe(self.client.send_message(chatid, body),
                                                  self.loop)
        try:
            future.result(SEND_TIMEOUT)
        except TimeoutError:
            future.cancel()
            raise TransientSendError("智能机器人发送超时") from None
        except Exception as e:  # noqa: BLE001 - the SDK turns an error ack into RuntimeError
            raise TransientSendError(f"智能机器人发送失败：{str(e)[:120]}") from None


def message_of(body: Mapping[str, Any], now: datetime, raw: object) -> Inbound | None:
    """A message callback's body (接收消息, the same in both transports) as an `Inbound`."""
    sender = str((body.get("from") or {}).get("userid") or "")
    msgid = str(body.get("msgid") or "")
    if not sender:
        return None
    group = body.get("chattype") == "group"
    kind = body.get("msgtype")
    said, attachments = "", []
    if kind == "text":
        said = str((body.get("text") or {}).get("content") or "")
    elif kind in ("image", "file"):
        attachments.append(_attachment(str(kind), body.get(str(kind)) or {}))
    elif kind == "mixed":
        for item in (body.get("mixed") or {}).get("msg_item") or []:
            if item.get("msgtype") == "text":
                said += str((item.get("text") or {}).get("content") or "")
            elif item.get("msgtype") == "image":
                attachments.append(_attachment("image", item.get("image") or {}))
    elif kind == "voice":
        said = str((body.get("voice") or {}).get("content") or "")
    if group:
        said = MENTION.sub("", said, count=1)
    return Inbound(channel=NAME, sender=sender, text=said.strip(), received_at=now,
                   conversation=str(body.get("chatid") or "") if group else "",
                   message_id=msgid or None, attachments=tuple(attachments), raw=raw,
                   detail="minimal" if group else "full")


def note_unknown_group(org: Org, chatid: str, told: set[str]) -> None:
    """Log a group chat no unit names, once (`told`): how an admin finds the `aibot_chatid`
    to set."""
    if chatid and chatid not in told and chatid not in _named_groups(org):
        told.add(chatid)
        log.info("WeCom AI bot: a message in group chat %s, which no unit's aibot_chatid "
                 "names (set it on that unit's [units.group] to send its digests there)",
                 chatid[:64])


def _named_groups(org: Org) -> set[str]:
    return {c for u in org.units.values() if (c := _chatid(org, u.id))}


def tap_of(body: Mapping[str, Any], now: datetime, raw: object) -> tuple[Inbound, str] | None:
    """A template-card button tap as an `Inbound` of the command it stands for, with the
    button's key; None for any other event."""
    event = body.get("event") or {}
    card = event.get("template_card_event") or {}
    sender = str((body.get("from") or {}).get("userid") or "")
    key, task_id = str(card.get("event_key") or ""), str(card.get("task_id") or "")
    command = command_of(key)
    if not sender or command is None:
        return None
    group = body.get("chattype") == "group"
    msgid = str(body.get("msgid") or f"card:{sender}:{task_id}:{key}")
    return Inbound(channel=NAME, sender=sender, text=command, received_at=now,
                   conversation=str(body.get("chatid") or "") if group else "",
                   message_id=msgid, raw=raw, detail="minimal" if group else "full"), key


def _attachment(kind: str, item: Mapping[str, Any]) -> Attachment:
    # The download URL and the message's own key travel in `ref` until the file is kept.
    return Attachment(kind, f"{item.get('url') or ''} {item.get('aeskey') or ''}".strip())


class AibotCallback(_Answering):
    """The JSON callback transport (`POST /wecom/aibot`): the app callback's signature and
    AES scheme with an empty ReceiveId, a body `{"encrypt": …}`, the five-minute timestamp
    window and a size cap. Answers go back in the HTTP response (encrypted JSON), or, when
    handling takes longer than `REPLY_BUDGET`, to the message's `response_url`."""

    def __init__(self, settings: AibotSettings, wiring: Wiring) -> None:
        from wechatpy.enterprise.crypto import WeChatCrypto

        super().__init__(wiring)
        token = wiring.secret(settings.token_env, "企业微信智能机器人回调 Token")
        aes_key = wiring.secret(settings.aes_key_env, "企业微信智能机器人回调 EncodingAESKey")
        try:
            self.crypto = WeChatCrypto(token, aes_key, "")  # a self-built bot's ReceiveId
        except (AssertionError, ValueError):
            raise MissingSecret(f"环境变量 {settings.aes_key_env} 不是有效的 EncodingAESKey"
                                "（应为 43 个字符）") from None
        self.aes_key = aes_key
        self.wall = wiring.wall

    def routes(self) -> list[HttpRoute]:
        from starlette.requests import Request
        from starlette.responses import Response

        from bot.server import peer, read_capped

        async def verify(request: Request) -> Response:
            status, body = self.verify(dict(request.query_params), peer(request))
            return Response(body, status_code=status, media_type="text/plain")

        async def receive(request: Request) -> Response:
            body = await read_capped(request, MAX_BODY)
            if body is None:
                log.warning("AI bot callback from %s refused (413)", peer(request))
                return Response(status_code=413)
            status, answer = await self.receive(dict(request.query_params), body,
                                                peer(request))
            return Response(answer, status_code=status, media_type="application/json")

        return [HttpRoute(CALLBACK_PATH, "GET", NAME, verify),
                HttpRoute(CALLBACK_PATH, "POST", NAME, receive)]

    def _refuse(self, status: int, why: str, peer: str) -> tuple[int, bytes]:
        log.warning("AI bot callback from %s refused (%d): %s", peer, status, why)
        return status, b""

    def verify(self, query: Mapping[str, str], peer: str) -> tuple[int, bytes]:
        from bot.channels.wecom_callback import MALFORMED, stale

        if (found := stale(query, self.wall())) is not None:
            return self._refuse(*found, peer)
        try:
            echo = self.crypto.check_signature(query["msg_signature"], query["timestamp"],
                                               query["nonce"], query["echostr"])
        except KeyError:
            return self._refuse(400, "URL verification without its parameters", peer)
        except MALFORMED:
            return self._refuse(400, "URL verification with a malformed echostr", peer)
        except Exception:  # noqa: BLE001 - wechatpy's signature and id exceptions
            return self._refuse(403, "URL verification with a wrong signature", peer)
        return 200, (echo.encode() if isinstance(echo, str) else bytes(echo))

    async def receive(self, query: Mapping[str, str], body: bytes,
                      peer: str) -> tuple[int, bytes]:
        from bot.channels.wecom_callback import MALFORMED, stale

        if len(body) > MAX_BODY:
            return self._refuse(413, f"a body of {len(body)} bytes", peer)
        if (found := stale(query, self.wall())) is not None:
            return self._refuse(*found, peer)
        try:
            encrypted = json.loads(body)["encrypt"]
            if not isinstance(encrypted, str):
                raise TypeError
            plain = self.crypto.decrypt_message({"Encrypt": encrypted},
                                                query.get("msg_signature", ""),
                                                query.get("timestamp", ""),
                                                query.get("nonce", ""))
            message = json.loads(plain)
            if not isinstance(message, dict):
                raise TypeError
        except MALFORMED:
            return self._refuse(400, "a body that is not an encrypted callback", peer)
        except Exception:  # noqa: BLE001 - wechatpy's signature and id exceptions
            return self._refuse(403, "a wrong signature or ReceiveId", peer)
        if not self._seen.first_time(str(message.get("msgid") or "")):
            return 200, b""  # WeCom retried: answered already
        tapped = tap_of(message, self.now(), message) if message.get("msgtype") == "event" \
            else None
        inbound = tapped[0] if tapped else (
            None if message.get("msgtype") == "event" else message_of(message, self.now(),
                                                                     message))
        if inbound is not None:
            note_unknown_group(self.org, inbound.conversation, self._told)
        if inbound is None:
            return 200, b""
        job = asyncio.ensure_future(self._reply_to(inbound))
        try:
            reply = await asyncio.wait_for(asyncio.shield(job), REPLY_BUDGET)
        except TimeoutError:  # too slow for the passive answer: to response_url when done
            self._later(self._follow_up(job, inbound, str(message.get("response_url") or "")))
            return 200, b""
        answer = self._answer(reply, inbound, tapped[1] if tapped else "", message)
        return 200, self._seal(answer, query.get("nonce", ""))

    def _answer(self, reply: Reply, inbound: Inbound, key: str,
                message: Mapping[str, Any]) -> dict[str, Any]:
        words = reply.for_detail(inbound.detail)
        if key and any(f"{CHECKIN_KEY}{d.number}" == key for d in reply.done):
            task_id = str(((message.get("event") or {}).get("template_card_event") or {})
                          .get("task_id") or "")
            return {"response_type": "update_template_card",
                    "template_card": done_card(task_id, words)}
        return {"msgtype": "markdown", "markdown": {"content": words[:TEXT_LIMIT]}}

    def _seal(self, answer: dict[str, Any], nonce: str) -> bytes:
        """The encrypted JSON answer (回调和回复的加解密方案)."""
        from wechatpy.crypto import _get_signature
        from wechatpy.enterprise.crypto import PrpCrypto

        stamp = str(int(self.wall()))
        encrypt = PrpCrypto(self.crypto.key).encrypt(json.dumps(answer, ensure_ascii=False),
                                                     "")
        encrypt = encrypt.decode() if isinstance(encrypt, bytes) else encrypt
        return json.dumps({"encrypt": encrypt, "nonce": nonce, "timestamp": stamp,
                           "msgsignature": _get_signature(self.crypto.token, stamp, nonce,
                                                          encrypt)}).encode()

    async def _follow_up(self, job: asyncio.Future[Reply], inbound: Inbound, url: str) -> None:
        reply = await job
        if not url.startswith(("https://", "http://")):
            log.warning("a slow AI bot answer had no usable response_url; not sent")
            return
        body = {"msgtype": "markdown",
                "markdown": {"content": reply.for_detail(inbound.detail)[:TEXT_LIMIT]}}
        try:
            await asyncio.to_thread(_post, url, body)
        except Exception as e:  # noqa: BLE001 - requests' errors
            log.warning("could not answer on the AI bot's response_url: %s", e)

    def _fetch(self, attachment: Attachment, limit: int) -> Fetched:
        """A callback's file: fetched from its URL, decrypted with the bot's EncodingAESKey."""
        import requests

        url, _, aeskey = attachment.ref.partition(" ")
        try:
            response = requests.get(url, timeout=SEND_TIMEOUT, stream=True)
            if response.status_code != 200:
                raise FetchFailed(f"HTTP {response.status_code}",
                                  transient=response.status_code >= 500)
            from bot.channels.wecom_api import read_capped as read_body
            data = read_body(response, limit * 2)
        except requests.RequestException as e:
            raise FetchFailed(type(e).__name__) from None
        try:
            plain = sdk().crypto_utils.decrypt_file(data, aeskey or self.aes_key)
        except Exception as e:  # noqa: BLE001 - the SDK's decryptor
            raise FetchFailed(f"decrypt: {e}"[:120], transient=False) from None
        if len(plain) > limit:
            raise FetchTooBig(len(plain))
        return Fetched(bytes(plain), "")

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        await self._background.settle(DRAIN_SECONDS, "AI bot answer(s)")


def _post(url: str, body: dict[str, Any]) -> None:
    import requests

    requests.post(url, json=body, timeout=SEND_TIMEOUT).raise_for_status()


def done_card(task_id: str, words: str) -> dict[str, Any]:
    """A tapped card, updated to say the task is recorded done."""
    return {"card_type": "text_notice", "task_id": task_id,
            "main_title": {"title": text.CHECKED_IN},
            "sub_title_text": clip(words, CARD_TEXT),
            "card_action": {"type": 1, "url": "https://work.weixin.qq.com"}}


class AibotOutbound:
    """Reminders to people's single chats and digests to units' groups."""

    name = NAME

    def __init__(self, org: Org, link: AibotLink) -> None:
        self.org, self.link = org, link
        self._userids = {p.id: a for p in org.people.values()
                         if (a := p.address(wecom.USERID.key))}

    def chat_of(self, recipient: str, group: bool) -> str | None:
        if group:
            return _chatid(self.org, recipient) or None
        return self._userids.get(recipient)

    def reaches(self, recipient: str, group: bool) -> bool:
        return self.chat_of(recipient, group) is not None

    def health(self) -> dict[str, Any]:
        return self.link.health()

    def send(self, recipient: str, group: bool, reply: Reply) -> None:
        chat = self.chat_of(recipient, group)
        if chat is None:
            raise PermanentSendError("此人没有登记企业微信账号（wecom_userid）")
        for body in self.messages(reply):
            self.link.push(chat, body)

    def messages(self, reply: Reply) -> list[dict[str, Any]]:
        if reply.buttons and self.link.settings.cards:
            return [self.card(reply)]
        mentions = [u for p in reply.mentions if (u := self._userids.get(p))]
        content = reply.text + ("\n" + " ".join(f"<@{u}>" for u in mentions)
                                if mentions else "")
        return [{"msgtype": "markdown", "markdown": {"content": part}}
                for part in split_text(content, TEXT_LIMIT)]

    def card(self, reply: Reply) -> dict[str, Any]:
        buttons = [{"text": b.label[:10], "style": 1, "key": button_key(b)}
                   for b in reply.buttons[:6]]
        return {"msgtype": "template_card", "template_card": {
            "card_type": "button_interaction",
            "main_title": {"title": clip(reply.title or reply.text.split("\n")[0], 26)},
            "sub_title_text": clip(reply.summary or reply.text, CARD_TEXT),
            "button_list": buttons,
            "task_id": f"{uuid.uuid4().hex}"}}


class _SdkLog:
    """The SDK's logger protocol (debug/info/warn/error with extra args) onto `logging`."""

    def debug(self, message: str, *args: Any) -> None:
        log.debug("aibot: %s", message)

    def info(self, message: str, *args: Any) -> None:
        log.info("aibot: %s", message)

    def warn(self, message: str, *args: Any) -> None:
        log.warning("aibot: %s %s", message, " ".join(map(str, args)))

    def error(self, message: str, *args: Any) -> None:
        log.error("aibot: %s %s", message, " ".join(map(str, args)))


CHANNEL = WeComAibot()
