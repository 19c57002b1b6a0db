"""Telegram: the only module that knows python-telegram-bot (PTB).

`TelegramBot` owns PTB's `Application`: it receives updates by long polling (PTB's
`Updater`) or through our HTTP server's `POST /telegram/webhook` (secret header checked,
then processed before the 200 — PTB's own webhook server answers first and would lose an
update to a crash), turns each into a neutral `Inbound`, and answers. `TelegramChannel` is
the delivery loop's way out: it runs in a worker thread and hands each send to the bot's
event loop.

Limits: PTB's `AIORateLimiter` keeps the overall rate (30/s) and each group's (20/min) and
retries a 429 once after its `retry_after`; it does not pace private chats, so we keep about
one message a second per private chat ourselves (Telegram's advice).
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Mapping
from contextlib import suppress
from datetime import datetime, timedelta
from typing import Any

from telegram import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
)
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, TypeHandler

from bot.channels.base import (
    ChannelStartFailed,
    ChannelUnavailable,
    PermanentSendError,
    Recent,
    TransientSendError,
    Turns,
    split_text,
)
from bot.channels.buttons import CHECKIN_KEY, button_key, command_of
from bot.channels.ratelimit import Limit, RateLimiter
from bot.channels.telegram import ACCOUNT, GROUP, TelegramSettings
from bot.evidence import Evidence, Fetched, FetchFailed, FetchTooBig
from handlers import text
from handlers.messages import Inbound, Reply
from handlers.parse import Parsed, parse
from schedules.model import Org
from schedules.tasks import Attachment
from storage.repository import Repository

log = logging.getLogger(__name__)

# PTB 22.2+ warns when a `RetryAfter` carries seconds as an int; opt in to the timedelta the
# next major version uses (read by PTB at run time, so setting it here is enough).
os.environ.setdefault("PTB_TIMEDELTA", "true")

CHANNEL = "telegram"
TEXT_LIMIT = 4096  # characters in a Telegram message
ANSWER_LIMIT = 200  # characters in a callback query answer
MAX_WEBHOOK_BODY = 256 * 1024
REMEMBERED = 10_000  # update ids kept for dropping redeliveries
SEND_TIMEOUT = 60.0  # a send waits this long for the bot's loop (rate limits included)
REPLY_WAIT = 2.0  # seconds an answer may wait for the private chat's pacing
MARGIN = 0.05  # seconds added to each window: Telegram counts when a message arrives


def keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    if not reply.buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(
        ("✅ " if button_key(b).startswith(CHECKIN_KEY) else "") + b.label,
        callback_data=button_key(b))] for b in reply.buttons])


def without(markup: object, key: str) -> InlineKeyboardMarkup | None:
    """The keyboard once the tapped button is done: that button gone, and the keyboard
    too when no 已完成 button is left in it."""
    rows = getattr(markup, "inline_keyboard", None) or ()
    kept = [[b for b in row if b.callback_data != key] for row in rows]
    kept = [row for row in kept if row]
    if not any(str(b.callback_data or "").startswith(CHECKIN_KEY) for row in kept for b in row):
        return None
    return InlineKeyboardMarkup(kept)


class TelegramBot:
    def __init__(self, settings: TelegramSettings, token: str, webhook_secret: str,
                 handle: Callable[[Inbound], Reply], quick: Callable[[Inbound], bool],
                 now: Callable[[], datetime], evidence: Evidence,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings, self.webhook_secret = settings, webhook_secret
        self._token = token
        self._handle, self.quick, self.now, self.evidence = handle, quick, now, evidence
        # About one message a second per private chat, replies and reminders alike; and the
        # overall rate kept strictly (a sliding window: PTB's limiter is a leaky bucket that
        # lets a second's worth through at once on top of the steady rate).
        self.pacing = RateLimiter([Limit(1, 1.0 / settings.private_per_second + MARGIN)],
                                  clock, sleep)
        self.overall = RateLimiter([Limit(settings.overall_per_second, 1.0 + MARGIN)], clock,
                                   sleep)
        builder = (ApplicationBuilder().token(token).base_url(settings.api_base_url)
                   .base_file_url(settings.file_base_url)
                   .rate_limiter(AIORateLimiter(
                       overall_max_rate=settings.overall_per_second, overall_time_period=1,
                       group_max_rate=settings.group_per_minute, group_time_period=60,
                       max_retries=1))
                   # Updates side by side, each sender's in order (`Turns`).
                   .concurrent_updates(True))
        if settings.mode == "webhook":
            builder = builder.updater(None)
        self.application: Application[Any, Any, Any, Any, Any, Any] = builder.build()
        self.application.add_handler(TypeHandler(Update, self._on_update))
        self.loop: asyncio.AbstractEventLoop | None = None
        self.username = ""
        self._seen = Recent(REMEMBERED)
        self._turns = Turns()  # each sender's updates in order

    # ---- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, or raise `ChannelStartFailed` with one clear line. PTB's own messages
        can carry the token (a refused `getMe` quotes it), so none is passed on as it is."""
        self.loop = asyncio.get_running_loop()
        try:
            await self._start()
        except InvalidToken:
            raise ChannelStartFailed(
                f"Telegram 拒绝了机器人 token（getMe 返回 401 未授权）：请核对环境变量 "
                f"{self.settings.token_env} 中的 token，或向 @BotFather 重新获取") from None
        except NetworkError as e:
            if isinstance(e, BadRequest):
                raise ChannelStartFailed(
                    f"Telegram 拒绝启动：{str(e).replace(self._token, '***')}") from None
            raise ChannelStartFailed(
                f"无法连接 Telegram（{type(e).__name__}）：请检查网络，"
                "或 [channels.telegram] api_base_url 的设置") from None
        except TelegramError as e:
            raise ChannelStartFailed(
                f"Telegram 拒绝启动：{str(e).replace(self._token, '***')}") from None

    async def _start(self) -> None:
        await self.application.initialize()  # getMe: a wrong token fails here
        self.username = (self.application.bot.username or "").lower()
        await self.application.start()
        allowed = ["message", "callback_query"]
        if self.settings.mode == "webhook":
            await self.application.bot.set_webhook(
                self.settings.webhook_url, secret_token=self.webhook_secret,
                allowed_updates=allowed)
        else:
            assert self.application.updater is not None
            await self.application.updater.start_polling(allowed_updates=allowed)

    async def stop(self) -> None:
        if self.application.updater is not None and self.application.updater.running:
            await self.application.updater.stop()
        if self.application.running:
            await self.application.stop()
        with suppress(TelegramError):  # never initialised (start failed): nothing to shut
            await self.application.shutdown()

    # ---- webhook (our HTTP server) --------------------------------------------------------

    async def webhook(self, headers: Mapping[str, str], body: bytes, peer: str) -> int:
        """The HTTP status for one POST to /telegram/webhook; the update is processed (and
        any check-in durably recorded) before 200 is returned."""
        given = headers.get("x-telegram-bot-api-secret-token", "")
        if not secrets.compare_digest(given.encode(), self.webhook_secret.encode()):
            log.warning("Telegram webhook from %s refused (403): wrong secret token", peer)
            return 403
        if len(body) > MAX_WEBHOOK_BODY:
            log.warning("Telegram webhook from %s refused (413): %d bytes", peer, len(body))
            return 413
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            data = None
        update = None
        if isinstance(data, dict) and type(data.get("update_id")) is int:
            try:
                update = Update.de_json(data, self.application.bot)
            except Exception:  # noqa: BLE001 - hostile input of any shape: PTB may raise anything
                update = None
        if update is None:
            log.warning("Telegram webhook from %s refused (400): not an update", peer)
            return 400
        await self.application.process_update(update)
        return 200

    # ---- updates --------------------------------------------------------------------------

    def _first_time(self, update_id: int) -> bool:
        """Telegram redelivers what it thinks was not received; each update is acted on
        once (the store also remembers each one that changed something)."""
        return self._seen.first_time(update_id)

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if not self._first_time(update.update_id):
            return
        user = update.effective_user.id if update.effective_user is not None else 0
        async with self._turns.of(user):  # a check-in, then the photo that belongs to it
            await self._dispatch(update)

    async def _dispatch(self, update: Update) -> None:
        try:
            if update.callback_query is not None:
                await self._on_tap(update, update.callback_query)
            elif update.message is not None:
                await self._on_message(update, update.message)
        except TelegramError as e:  # the answer could not be sent; the action stands
            log.warning("could not answer a Telegram update: %s", e)

    def _inbound(self, update: Update, text: str, chat: int | None,
                 attachments: tuple[Attachment, ...] = ()) -> Inbound | None:
        user = update.effective_user
        if user is None or user.is_bot:
            return None
        return Inbound(channel=CHANNEL, sender=str(user.id), text=text, received_at=self.now(),
                       conversation=str(chat) if chat is not None and chat < 0 else "",
                       message_id=str(update.update_id), attachments=attachments,
                       detail=self.settings.detail)

    def handle(self, inbound: Inbound) -> Reply:
        """Files first (downloaded with getFile and kept), then the reply; in a worker
        thread when there are files."""
        return self._handle(self.evidence.collect(inbound, self._fetch))

    def _fetch(self, attachment: Attachment, limit: int) -> Fetched:
        if self.loop is None:
            raise FetchFailed("the bot is not running", transient=False)
        future = asyncio.run_coroutine_threadsafe(self._download(attachment, limit), self.loop)
        try:
            return future.result(SEND_TIMEOUT)
        except TimeoutError:
            future.cancel()
            raise FetchFailed("getFile timed out") from None

    async def _download(self, attachment: Attachment, limit: int) -> Fetched:
        """getFile, then the file. `attachment.size` is the size the message stated (0 when
        it stated none): over `limit`, nothing is fetched. Telegram hands a bot files of up
        to 20 MB only (getFile answers "file is too big"): taken as over the cap when the
        message stated no size, and as the platform's refusal when it stated one within the
        cap (a cap above 20 MB)."""
        if attachment.size > limit:
            raise FetchTooBig(attachment.size)
        try:
            found = await self.application.bot.get_file(attachment.ref)
            if found.file_size is not None and found.file_size > limit:
                raise FetchTooBig(found.file_size)
            data = bytes(await found.download_as_bytearray())
        except BadRequest as e:  # an unknown or expired file id, or too big for a bot
            if "file is too big" in e.message.lower() and not attachment.size:
                raise FetchTooBig(0) from None  # its size unknown
            raise FetchFailed(f"Telegram refused the file: {e.message}", transient=False) from None
        except InvalidToken:  # a 404 for the file_path: gone since getFile
            raise FetchFailed("Telegram: the file is no longer there", transient=False) from None
        except (NetworkError, RetryAfter) as e:  # TimedOut included
            raise FetchFailed(f"Telegram: {type(e).__name__}") from None
        except (TelegramError, RuntimeError) as e:  # RuntimeError: getFile gave no file_path
            raise FetchFailed(f"Telegram: {type(e).__name__}: {e}", transient=False) from None
        if len(data) > limit:
            raise FetchTooBig(len(data))
        return Fetched(data)

    async def _answer(self, inbound: Inbound) -> Reply:
        if self.quick(inbound):
            return self.handle(inbound)
        return await asyncio.to_thread(self.handle, inbound)

    async def _on_message(self, update: Update, message: Message) -> None:
        said = message.text or message.caption or ""
        in_group = message.chat.type in ("group", "supergroup")
        if in_group and not self._addressed_to_me(said):
            return  # group chatter, or a command for another bot
        attachments: tuple[Attachment, ...] = ()
        # The size the message states (0: none) lets `_download` refuse a big file unfetched.
        if message.photo:
            largest = message.photo[-1]  # sizes come smallest first
            attachments = (Attachment("image", largest.file_id, size=largest.file_size or 0),)
        elif message.document is not None:
            document = message.document
            attachments = (Attachment("file", document.file_id, document.file_name or "",
                                      size=document.file_size or 0),)
        parsed = parse(said)
        if in_group and isinstance(parsed, Parsed) and parsed.name == "bind":
            await message.reply_text(text.BIND_IN_PRIVATE)
            return
        inbound = self._inbound(update, said, message.chat.id, attachments)
        if inbound is None:
            return
        reply = await self._answer(inbound)
        body = reply.for_detail(self.settings.detail)
        parts = split_text(body, TEXT_LIMIT, len)
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if not in_group:  # an answer waits its turn a moment, then goes regardless
                await asyncio.to_thread(self.pacing.acquire, [message.chat.id], REPLY_WAIT)
            await asyncio.to_thread(self.overall.acquire, ["all"], REPLY_WAIT)
            await message.reply_text(part, reply_markup=keyboard(reply) if last else None,
                                     do_quote=False)

    def _addressed_to_me(self, said: str) -> bool:
        first = said.strip().split(maxsplit=1)[0] if said.strip() else ""
        if not first.startswith("/"):
            return False
        if "@" in first:
            return first.split("@", 1)[1].lower() == self.username
        return True

    async def _on_tap(self, update: Update, query: CallbackQuery) -> None:
        command = command_of(query.data or "")
        inbound = self._inbound(update, command or "", None)
        if command is None or inbound is None:
            await query.answer(text.BUTTON_EXPIRED)
            return
        reply = await self._answer(inbound)
        key = query.data or ""
        done = next((d for d in reply.done if f"{CHECKIN_KEY}{d.number}" == key), None)
        if done is not None:
            await query.answer(text.TAP_RECORDED)
            message = query.message if isinstance(query.message, Message) else None
            done_at = done.at.astimezone(self.now().tzinfo)
            if message is not None and message.text:
                await query.edit_message_text(
                    f"{message.text}\n\n{text.card_done_line(done.number, done_at)}",
                    reply_markup=without(message.reply_markup, key))
            return
        short = reply.for_detail(self.settings.detail)
        await query.answer(short[:ANSWER_LIMIT - 1] + "…" if len(short) > ANSWER_LIMIT else short)
        if command == "待办" or len(short) > ANSWER_LIMIT:
            chat = query.message.chat.id if query.message is not None else query.from_user.id
            await self.application.bot.send_message(chat, short[:TEXT_LIMIT],
                                                    reply_markup=keyboard(reply))


class TelegramChannel:
    """Reminders and digests out through the bot: private chats of bound people, and the
    unit groups whose `telegram_chat_id` the config names."""

    name = CHANNEL

    def __init__(self, org: Org, store: Repository, bot: TelegramBot,
                 max_wait: float = 5.0) -> None:
        self.org, self.store, self.bot, self.max_wait = org, store, bot, max_wait

    def chat_of(self, recipient: str, group: bool) -> int | None:
        if group:
            unit = self.org.units.get(recipient)
            chat = unit.group.address(GROUP.key) if unit and unit.group else None
            return int(chat) if chat else None
        bound = self.store.account_of(CHANNEL, recipient)
        if bound is not None:
            return int(bound)
        person = self.org.people.get(recipient)
        listed = person.address(ACCOUNT.key) if person else None
        return int(listed) if listed else None

    def reaches(self, recipient: str, group: bool) -> bool:
        return self.chat_of(recipient, group) is not None

    def send(self, recipient: str, group: bool, reply: Reply) -> None:
        chat = self.chat_of(recipient, group)
        if chat is None:
            raise PermanentSendError("此人尚未绑定 Telegram 账号")
        if not group and not self.bot.pacing.acquire([chat], self.max_wait):
            raise TransientSendError("为遵守 Telegram 每个私聊约每秒 1 条的建议，稍后发送")
        if not self.bot.overall.acquire(["all"], max(self.max_wait, 1.0 + MARGIN)):
            raise TransientSendError("为遵守 Telegram 的总发送频率，稍后发送")
        text, mode = self.render(reply, group)
        loop = self.bot.loop
        if loop is None:
            raise ChannelUnavailable("Telegram 机器人尚未启动")
        future = asyncio.run_coroutine_threadsafe(self._send(chat, text, mode, reply), loop)
        try:
            future.result(timeout=SEND_TIMEOUT)
        except Forbidden:
            raise PermanentSendError("对方已屏蔽或停用机器人（403），无法发送") from None
        except BadRequest as e:
            if "chat not found" in str(e).lower():
                raise PermanentSendError("找不到该聊天（chat not found）：请核对群 ID，"
                                         "或请本人先与机器人开始对话") from None
            raise PermanentSendError(f"Telegram 拒绝了这条消息：{e}") from None
        except RetryAfter as e:
            wait = e.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            raise TransientSendError(f"Telegram 限频（429），{seconds:.0f} 秒后重试") from None
        except (TelegramError, TimeoutError) as e:
            raise ChannelUnavailable(f"Telegram 暂时无法送达：{type(e).__name__}") from None

    def render(self, reply: Reply, group: bool) -> tuple[str, str | None]:
        """The text to send, with @mentions of bound people in a group (HTML links)."""
        detail = self.bot.settings.detail
        body = reply.for_detail(detail)
        if not group or not reply.mentions or detail == "minimal":
            return body, None
        links = []
        for person_id in reply.mentions:
            chat = self.chat_of(person_id, False)
            person = self.org.people.get(person_id)
            if chat is not None and person is not None:
                links.append(f'<a href="tg://user?id={chat}">{html.escape(person.name)}</a>')
        if not links:
            return body, None
        return f"{html.escape(body)}\n{' '.join(links)}", ParseMode.HTML

    async def _send(self, chat: int, text: str, mode: str | None, reply: Reply) -> None:
        parts = split_text(text, TEXT_LIMIT, len)
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            await self.bot.application.bot.send_message(
                chat, part, parse_mode=mode, reply_markup=keyboard(reply) if last else None)
