"""The WeCom callback: what WeCom POSTs to `/wecom/callback` when someone writes to the app
or taps a card button (PLATFORMS.md §1).

Order of checks, each refusing with a 4xx, recording nothing and logging one line without
secrets: size, entity declarations (entity-expansion and external-entity payloads), the
timestamp (within 5 minutes of our own clock — wechatpy never checks it, so an old request
replayed would otherwise be acted on), the signature and the corp id (wechatpy's
`WeChatCrypto`), well-formed XML, the agent id.

WeCom waits 5 seconds and then retries, three times in all. So a message is answered
passively (encrypted, in the HTTP response) when the bot has its answer within a budget of
3 seconds and it fits in 2048 bytes; otherwise the response is an empty 200 and the answer
follows as an app message. A retry is recognised (MsgId; sender + CreateTime + task + key
for card events) and gets the first answer, never a second check-in — the store also
remembers each message's source across restarts. With 日程 on, `respond_schedule` (someone
answered a 日程 the app made) is handed to `schedule_answered` after an empty 200.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from xml.parsers.expat import ExpatError

from wechatpy.enterprise import create_reply, parse_message
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.messages import UnknownMessage

from bot.channels.base import Background, SendError
from bot.channels.buttons import CHECKIN_KEY, command_of
from bot.channels.wecom_api import WeComAPI, WeComChannel
from bot.evidence import Evidence
from handlers import text
from handlers.messages import Inbound, Reply
from schedules.tasks import Attachment

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024  # a real callback is a few hundred bytes
MAX_AGE = 300  # seconds a callback's timestamp may differ from our clock (SPEC §7)
DRAIN_SECONDS = 10.0  # at shutdown, how long replies and card updates in flight may take
PASSIVE_LIMIT = 2048  # bytes of text in a passive reply
REMEMBERED = 10_000  # recent callbacks kept for answering retries
# What broken XML, base64 or padding raise inside wechatpy and xmltodict.
MALFORMED = (ExpatError, KeyError, ValueError, TypeError, IndexError, AttributeError)
# 日程 events (98111, 97731, 97732): their published samples carry no AgentID.
SCHEDULE_EVENTS = frozenset({"add_schedule", "modify_schedule", "delete_schedule",
                             "respond_schedule"})
USERID = re.compile(r"[\w.@-]{1,64}")  # a WeCom userid: letters, digits, 中文, _-.@
SCHEDULE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")  # e.g. 17c7d2bd9f20d652840f72f59e796AAA
# Someone answered a 日程 the app made: (userid, schedule id, message id, when).
ScheduleAnswer = Callable[[str, str, str, datetime], None]


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""


def stale(query: Mapping[str, str], wall: float) -> tuple[int, str] | None:
    """(status, why) for a callback whose timestamp is missing, malformed or more than
    five minutes from `wall` (SPEC §7: refused with a 4xx, no trace); else None."""
    stamp = query.get("timestamp", "")
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        return 400, "no usable timestamp"
    age = wall - int(stamp)
    if abs(age) > MAX_AGE:
        return 403, f"a timestamp {age:+.0f} s from our clock"
    return None


def _declares_entities(xml: bytes | str) -> bool:
    """XML that declares a DTD or entities: no callback needs one, so none is parsed."""
    head = xml.lower() if isinstance(xml, bytes) else xml.lower().encode()
    return b"<!doctype" in head or b"<!entity" in head


class WeComCallback:
    def __init__(self, handle: Callable[[Inbound], Reply],
                 crypto: WeChatCrypto, agent_id: int, channel: WeComChannel, api: WeComAPI,
                 now: Callable[[], datetime], evidence: Evidence, reply_budget: float = 3.0,
                 quick: Callable[[Inbound], bool] = lambda _: False,
                 wall: Callable[[], float] = time.time,
                 schedule_answered: ScheduleAnswer | None = None) -> None:
        self._handle, self.crypto, self.quick = handle, crypto, quick
        self.evidence = evidence
        self.schedule_answered = schedule_answered  # None: 日程 are off
        self.agent_id, self.channel, self.api = agent_id, channel, api
        self.now, self.reply_budget = now, reply_budget
        self.wall = wall  # unix seconds, as WeCom's timestamps are (not the bot's `now`)
        self._recent: OrderedDict[str, asyncio.Future[Reply]] = OrderedDict()
        self._background = Background()

    # ---- URL verification (GET) -----------------------------------------------------------

    def _stale(self, query: Mapping[str, str], peer: str) -> Answer | None:
        """A refusal for a missing, malformed or out-of-window timestamp; else None."""
        found = stale(query, self.wall())
        return self._refuse(*found, peer) if found is not None else None

    def verify(self, query: Mapping[str, str], peer: str) -> Answer:
        if (stale := self._stale(query, peer)) is not None:
            return stale
        try:
            echo = self.crypto.check_signature(query["msg_signature"], query["timestamp"],
                                               query["nonce"], query["echostr"])
        except KeyError:
            return self._refuse(400, "URL verification without its parameters", peer)
        except (InvalidSignatureException, InvalidCorpIdException):
            return self._refuse(403, "URL verification with a wrong signature or corp id",
                                peer)
        except MALFORMED:  # undecryptable echostr
            return self._refuse(400, "URL verification with a malformed echostr", peer)
        text = echo.decode() if isinstance(echo, bytes) else str(echo)
        return Answer(200, text.encode())

    # ---- messages and events (POST) -------------------------------------------------------

    async def receive(self, query: Mapping[str, str], body: bytes, peer: str) -> Answer:
        if len(body) > MAX_BODY:
            return self._refuse(413, f"a body of {len(body)} bytes", peer)
        if _declares_entities(body):
            return self._refuse(400, "XML with a DTD or entity declaration", peer)
        if (stale := self._stale(query, peer)) is not None:
            return stale
        try:
            plain = self.crypto.decrypt_message(body, query.get("msg_signature", ""),
                                                query.get("timestamp", ""),
                                                query.get("nonce", ""))
        except InvalidSignatureException:
            return self._refuse(403, "a wrong signature", peer)
        except InvalidCorpIdException:
            return self._refuse(403, "a message for another corp id", peer)
        except MALFORMED:
            return self._refuse(400, "malformed XML or ciphertext", peer)
        if _declares_entities(plain):
            return self._refuse(400, "inner XML with a DTD or entity declaration", peer)
        try:
            message = parse_message(plain)
            agent = str(message._data.get("AgentID", ""))
        except MALFORMED:
            return self._refuse(400, "an unparseable message", peer)
        event = _event(message)
        if agent != str(self.agent_id) and not (agent == "" and event in SCHEDULE_EVENTS):
            return self._refuse(403, f"a message for agent {agent[:20]}", peer)
        if event == "respond_schedule":
            return self._schedule_answer(message, peer)
        inbound = self.inbound(message)
        if inbound is None:
            return Answer(200)  # an event we have nothing to say to (entering the app …)
        key = inbound.source or ""
        task = self._recent.get(key)
        is_card = _event(message) == "template_card_event"
        if task is not None and is_card:
            return Answer(200)  # a retried tap: its follow-up is already under way
        if task is None and not is_card and self.quick(inbound):
            # Reads from memory, writes nothing: answered here, without a thread hop.
            reply = self.handle(inbound)
            self._remember(key, _done(reply))
            return self._respond(reply, message, query, is_card=False)
        if task is None:
            task = asyncio.create_task(asyncio.to_thread(self.handle, inbound))
            self._remember(key, task)
        try:
            reply = await asyncio.wait_for(asyncio.shield(task), self.reply_budget)
        except TimeoutError:  # too slow for the passive reply: answer as an app message
            self._later(self._follow_up(task, message, is_card))
            return Answer(200)
        except Exception:
            log.exception("WeCom callback could not be handled")
            return Answer(200)
        return self._respond(reply, message, query, is_card, task)

    def _schedule_answer(self, message: Any, peer: str) -> Answer:
        """An attendee answered one of our 日程: checked, then looked into after the 200
        (reading the answer back takes an API call); the event again is ignored."""
        data = message._data
        user, schedule, created = (str(data.get(k) or "") for k in
                                   ("FromUserName", "ScheduleId", "CreateTime"))
        if not (USERID.fullmatch(user) and len(user.encode()) <= 64
                and SCHEDULE_ID.fullmatch(schedule) and created.isascii()
                and created.isdigit() and len(created) <= 12):
            return self._refuse(400, "a malformed respond_schedule event", peer)
        key = f"schedule:{user}:{schedule}:{created}"
        if self.schedule_answered is None or key in self._recent:
            return Answer(200)
        self._remember(key, _done(Reply("")))  # seen: WeCom's retries change nothing
        self._later(self._look_into_answer(self.schedule_answered, user, schedule, key))
        return Answer(200)

    async def _look_into_answer(self, answered: ScheduleAnswer, user: str, schedule: str,
                                key: str) -> None:
        try:
            await asyncio.to_thread(answered, user, schedule, key, self.now())
        except Exception:
            log.exception("a WeCom 日程 answer could not be handled")

    def handle(self, inbound: Inbound) -> Reply:
        """Files first (downloaded and kept before the message is handled), then the reply."""
        return self._handle(self.evidence.collect(inbound, self.api.media))

    def _respond(self, reply: Reply, message: Any, query: Mapping[str, str], is_card: bool,
                 task: asyncio.Future[Reply] | None = None) -> Answer:
        """The passive reply when it can be one; otherwise an empty 200 and a follow-up."""
        if is_card or len(reply.text.encode()) > PASSIVE_LIMIT:
            self._later(self._follow_up(task or _done(reply), message, is_card))
            return Answer(200)
        return Answer(200, self._passive(reply, message, query))

    def inbound(self, message: Any) -> Inbound | None:
        """The neutral message, or None for an event that asks nothing of us."""
        sender = str(message.source)
        data: dict[str, Any] = getattr(message, "_data", None) or {}
        common: dict[str, Any] = {"channel": "wecom", "sender": sender,
                                  "received_at": self.now(), "raw": data}
        kind = message.type
        if kind == "text":
            return Inbound(text=str(message.content), message_id=str(message.id), **common)
        if kind == "image":
            picture = Attachment("image", str(message.media_id))  # PicUrl is no name
            return Inbound(text="", message_id=str(message.id), attachments=(picture,),
                           **common)
        if kind == "file" or data.get("MsgType") == "file":
            name = str(data.get("Title") or data.get("FileName") or "")
            document = Attachment("file", str(data.get("MediaId", "")), name)
            return Inbound(text="", message_id=str(data.get("MsgId", "")),
                           attachments=(document,), **common)
        if _event(message) == "template_card_event":
            command = command_of(str(data.get("EventKey", "")))
            if command is None:
                return None
            ident = ":".join(str(data.get(k, "")) for k in ("TaskId", "EventKey",
                                                              "CreateTime"))
            return Inbound(text=command, message_id=f"card:{sender}:{ident}", **common)
        if isinstance(message, UnknownMessage) and data.get("MsgType") == "event":
            return None
        if kind == "event":
            return None
        # Voice, video, location, links: the bot reads text; say so.
        return Inbound(text="", message_id=str(getattr(message, "id", "") or ""), **common)

    # ---- answering ------------------------------------------------------------------------

    def _passive(self, reply: Reply, message: Any, query: Mapping[str, str]) -> bytes:
        xml = create_reply(reply.text, message).render()
        encrypted: str = self.crypto.encrypt_message(xml, query.get("nonce", ""),
                                                     str(int(time.time())))
        return encrypted.encode()

    async def _follow_up(self, task: asyncio.Future[Reply], message: Any, is_card: bool) -> None:
        reply = await task
        person = self.channel.person_of(str(message.source))
        if person is None:  # not registered: the reply is the polite refusal
            return
        if is_card:
            data = dict(message._data)
            key, code = str(data.get("EventKey", "")), str(data.get("ResponseCode", ""))
            if key.startswith(CHECKIN_KEY) and code and any(
                    f"{CHECKIN_KEY}{d.number}" == key for d in reply.done):
                await asyncio.to_thread(self._mark_card, str(message.source), code)
                return
        await asyncio.to_thread(self._send, person, reply)

    def _mark_card(self, userid: str, response_code: str) -> None:
        try:
            self.api.update_card(userid, response_code, text.CARD_DONE_LABEL)
        except SendError as e:
            log.warning("could not mark a WeCom card done: %s", e)

    def _send(self, person: str, reply: Reply) -> None:
        try:
            self.channel.send(person, False, Reply(reply.text, reply.buttons,
                                                   title=reply.title))
        except SendError as e:
            log.warning("could not send a reply on WeCom: %s", e)

    def _later(self, job: Any) -> None:
        self._background.later(job)

    async def drain(self) -> None:
        """Wait for follow-ups in flight (at shutdown, and in tests)."""
        await self._background.drain()

    # A service of `dutybot run`: started before the HTTP server, so stopped after it —
    # what the last callbacks set in motion still goes out.
    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        await self._background.settle(DRAIN_SECONDS, "WeCom reply(s)")

    def _remember(self, key: str, task: asyncio.Future[Reply]) -> None:
        if not key:
            return
        self._recent[key] = task
        while len(self._recent) > REMEMBERED:
            self._recent.popitem(last=False)

    @staticmethod
    def _refuse(status: int, why: str, peer: str) -> Answer:
        log.warning("WeCom callback from %s refused (%d): %s", peer, status, why)
        return Answer(status)


def _done(reply: Reply) -> asyncio.Future[Reply]:
    future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
    future.set_result(reply)
    return future


def _event(message: Any) -> str:
    data = getattr(message, "_data", None) or {}
    if str(data.get("MsgType", "")).lower() != "event":
        return ""
    return str(data.get("Event", "")).lower()
