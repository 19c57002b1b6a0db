"""A loopback fake of the Telegram Bot API, for tests that drive the real python-telegram-bot.

It serves `/bot<TOKEN>/<method>` on 127.0.0.1 with Telegram's wire shapes (HTTP status equal
to `error_code`, body `{"ok": false, "error_code", "description", "parameters"?}`) and records
what the bot did, so tests assert on effects instead of mocking our own code:

- getMe, sendMessage, editMessageText, editMessageReplyMarkup, answerCallbackQuery
- getUpdates (long polling, offset confirmation, 409 while a webhook is set or when a newer
  getUpdates arrives), setWebhook / deleteWebhook / getWebhookInfo
- setMyCommands / deleteMyCommands / getMyCommands
- getFile and the download at `/file/bot<TOKEN>/<file_path>` (files registered with
  `add_file`, sent by users with `push_photo` / `push_document`; `expire_file`; a file may
  be slow, and one over Telegram's 20 MB bot download limit is refused by getFile)

Point PTB at it with `Bot(token, base_url=fake.base_url, base_file_url=fake.base_file_url)`
or `ApplicationBuilder().token(fake.token).base_url(fake.base_url)`. PTB 22 builds each URL
as `base_url + token` (no `{token}` placeholder given) `+ "/" + method` (telegram/_bot.py
`_parse_base_url`, `_do_post`), and sends every parameter form-encoded (multipart only when
a file is attached), with non-string values (reply_markup, allowed_updates, ints, bools)
JSON-dumped into strings. The fake also takes JSON bodies and query strings, as Telegram does.

Facts come from /work/shared/PLATFORMS.md §5 and the descriptions Telegram is seen to answer
(collected in public issue threads and client libraries). Formatting is not rendered into
entities: with parse_mode HTML the answered text has its tags stripped, Markdown text is
answered as sent. Rate limits approximate the Bot FAQ advice (Telegram publishes no exact
numbers) and count sendMessage only.

Stdlib only. Time-based behaviour (limits, record timestamps) reads `clock` (float seconds,
default `time.monotonic`); message `date` fields read `wall_clock` (default `time.time`).
Long polling and `stall` wait in real time.
"""

from __future__ import annotations

import html
import itertools
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from tests.loopback import LoopbackServer, parse_multipart
from tests.loopback import Served as _Reply

# --- descriptions Telegram answers ----------------------------------------------------------
# Seen verbatim in public issue threads / error catalogues (TelegramBotAPI/errors, teloxide,
# aiogram): compare against these constants in tests, never against copied strings.
UNAUTHORIZED = "Unauthorized"
NOT_FOUND = "Not Found"
CHAT_NOT_FOUND = "Bad Request: chat not found"
BOT_BLOCKED = "Forbidden: bot was blocked by the user"
BOT_KICKED_GROUP = "Forbidden: bot was kicked from the group chat"
BOT_KICKED_SUPERGROUP = "Forbidden: bot was kicked from the supergroup chat"
CANT_INITIATE = "Forbidden: bot can't initiate conversation with a user"
TEXT_EMPTY = "Bad Request: message text is empty"
TEXT_TOO_LONG = "Bad Request: message is too long"
EDIT_TEXT_TOO_LONG = "Bad Request: MESSAGE_TOO_LONG"
MESSAGE_ID_MISSING = "Bad Request: message identifier is not specified"
MESSAGE_TO_EDIT_NOT_FOUND = "Bad Request: message to edit not found"
MESSAGE_CANT_BE_EDITED = "Bad Request: message can't be edited"
MESSAGE_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = (
    "Bad Request: query is too old and response timeout expired or query ID is invalid"
)
BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"
TEXT_BUTTONS_UNALLOWED = (
    "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the "
    "inline keyboard"
)
UNSUPPORTED_PARSE_MODE = "Bad Request: unsupported parse_mode"
MARKUP_UNPARSABLE = "Bad Request: can't parse reply keyboard markup JSON object"
BOT_COMMAND_INVALID = "Bad Request: BOT_COMMAND_INVALID"
WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)
OTHER_GET_UPDATES = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
WEBHOOK_NOT_HTTPS = "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
WEBHOOK_BAD_PORT = (
    "Bad Request: bad webhook: Webhook can be set up only on ports 80, 88, 443 or 8443"
)
SECRET_TOKEN_INVALID = "Bad Request: secret token contains unallowed characters"
# From memory of what a long poll gets when setWebhook is called meanwhile; NOT verified:
TERMINATED_BY_SET_WEBHOOK = "Conflict: terminated by setWebhook request"
# NOT FROM A SOURCE — plausible wording for cases the bot should never produce:
CHAT_ID_MISSING = "Bad Request: chat_id is empty"
QUERY_ID_MISSING = "Bad Request: callback_query_id is empty"
INLINE_MESSAGE_INVALID = "Bad Request: inline message ID is invalid"  # fake has none
# getFile: tdlib/telegram-bot-api issue #490 (invalid file_id); bots handling the cloud
# Bot API's 20 MB download limit (file is too big):
FILE_ID_INVALID = "Bad Request: invalid file_id"
FILE_TOO_BIG = "Bad Request: file is too big"
# NOT FROM A SOURCE — plausible wording:
FILE_ID_MISSING = "Bad Request: file_id is empty"


def too_many_requests(retry_after: int) -> str:
    return f"Too Many Requests: retry after {retry_after}"


# --- limits and shapes ----------------------------------------------------------------------
MAX_TEXT = 4096  # characters after entity parsing
MAX_CALLBACK_DATA_BYTES = 64
MAX_DOWNLOAD = 20 << 20  # bytes: getFile refuses bigger files (the cloud Bot API's limit)
WEBHOOK_PORTS = frozenset({80, 88, 443, 8443})
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
PARSE_MODES = frozenset({"html", "markdown", "markdownv2"})
# Updates getUpdates/setWebhook deliver when allowed_updates is empty or never set.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
# Parameters whose values Telegram reads as JSON (form bodies carry them as JSON strings).
JSON_FIELDS = frozenset({
    "reply_markup", "allowed_updates", "entities", "caption_entities", "commands", "scope",
    "link_preview_options", "reply_parameters", "media",
})
# A bot_command entity: '/' then letters, digits, '_', optionally '@botname', at the start of
# the text or after whitespace.
BOT_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,64})?")
MINUTE = 60.0
SUPERGROUP_ID_BELOW = -1_000_000_000_000  # supergroup/channel ids look like -100xxxxxxxxxx


class RecordedRequest(NamedTuple):
    method: str  # canonical name, e.g. "sendMessage", whatever case the client used
    path: str  # as requested, token included
    params: dict[str, Any]  # JSON fields decoded; numbers/bools as the client encoded them
    raw: dict[str, Any]  # as on the wire: strings for form bodies, JSON values for JSON bodies
    encoding: str  # "form", "json", "multipart", "query" or "empty"
    at: float  # clock time


class SentMessage(NamedTuple):
    chat_id: int
    message: dict[str, Any]  # the Message the fake answered, as it was when sent
    params: dict[str, Any]  # the decoded sendMessage parameters (parse_mode, ...)
    at: float


class Edit(NamedTuple):
    method: str  # "editMessageText" or "editMessageReplyMarkup"
    chat_id: int
    message_id: int
    message: dict[str, Any]  # the Message after the edit
    params: dict[str, Any]
    at: float


class CallbackAnswer(NamedTuple):
    callback_query_id: str
    user_id: int
    text: str | None
    show_alert: bool
    url: str | None
    at: float


class Violation(NamedTuple):
    chat_id: int
    at: float
    limit: str  # "private_per_second", "group_per_minute" or "overall_per_second"


@dataclass(frozen=True)
class WebhookState:
    url: str
    secret_token: str | None
    allowed_updates: tuple[str, ...] | None  # None: the previous/default setting
    max_connections: int
    set_at: float


class ApiError(Exception):
    """Raised inside endpoints; becomes `{"ok": false, ...}` with HTTP status `error_code`."""

    def __init__(
        self, error_code: int, description: str, parameters: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters


@dataclass
class _Script:
    method: str  # lower-case
    remaining: int
    error: ApiError



@dataclass
class _File:
    data: bytes
    file_unique_id: str
    file_path: str
    size: int  # what Telegram says (file_size); len(data) unless the test declared more
    file_name: str
    mime_type: str
    delay: float  # seconds the download waits before answering
    expired: bool = False


class Download(NamedTuple):
    file_id: str
    file_path: str
    status: int  # 200, or 404 for an unknown or expired path
    at: float


@dataclass
class _User:
    info: dict[str, Any]  # the User object
    started: bool  # has a private chat with the bot (sent it anything privately)


@dataclass
class _Limits:
    private_interval: float
    group_per_minute: int
    overall_per_second: int
    chat_log: dict[int, deque[float]] = field(default_factory=dict)
    overall_log: deque[float] = field(default_factory=deque)


class FakeTelegram(LoopbackServer):
    """A Telegram Bot API server on 127.0.0.1 with scriptable failures and recorded effects.

    Use as `with FakeTelegram() as fake:`. Recorded lists are appended under a lock; read them
    after the calls that produce them have returned.
    """

    name = "fake-telegram"
    poll_interval = 0.01

    def __init__(
        self,
        token: str = "123456:TEST-token",
        username: str = "dutybot_test_bot",
        clock: Callable[[], float] = time.monotonic,
        private_per_second: float = 1.0,
        group_per_minute: int = 20,
        overall_per_second: int = 30,
        enforce_limits: bool = False,
        *,
        first_name: str = "Dutybot Test",
        blocked: Iterable[int] = (),
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__()
        bot_id, sep, _secret = token.partition(":")
        if not sep or not bot_id.isdigit():
            raise ValueError(f"token must look like '<bot id>:<secret>', got {token!r}")
        self.token = token
        self.username = username
        self.clock = clock
        self.wall_clock = wall_clock
        self.enforce_limits = enforce_limits
        self.bot_user: dict[str, Any] = {
            "id": int(bot_id), "is_bot": True, "first_name": first_name, "username": username,
        }
        self.blocked: set[int] = set(blocked)  # user ids that blocked the bot / kicked groups

        self.requests: list[RecordedRequest] = []
        self.sent: list[SentMessage] = []
        self.edits: list[Edit] = []
        self.answered: list[CallbackAnswer] = []
        self.violations: list[Violation] = []
        self.webhook: WebhookState | None = None
        self.my_commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.downloads: list[Download] = []  # each GET of /file/bot<token>/<file_path>

        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # updates queued, poll superseded
        self._limits = _Limits(1.0 / private_per_second, group_per_minute, overall_per_second)
        self._users: dict[int, _User] = {}
        self._groups: dict[int, dict[str, Any]] = {}  # chat id -> Chat object
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}  # current state
        self._next_message_id: dict[int, int] = {}
        self._queue: deque[dict[str, Any]] = deque()  # unconfirmed updates
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._open_queries: dict[str, int] = {}  # callback_query_id -> user id
        self._allowed_updates: frozenset[str] | None = None  # None: all but OPT_IN_UPDATES
        self._poll_generation = 0
        self._polling = 0
        self._scripts: list[_Script] = []
        self._stall = 0.0
        self._stall_effective = True
        self._files: dict[str, _File] = {}  # file_id -> file
        self._file_ids = itertools.count(1)

    # --- where it listens (started, stopped and closed by LoopbackServer) ---------------

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/bot`: PTB appends the token, then `/<method>`."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """`http://127.0.0.1:PORT/file/bot`: PTB appends the token, then `/<file_path>`."""
        return f"http://127.0.0.1:{self.port}/file/bot"

    @property
    def bot_id(self) -> int:
        return int(self.bot_user["id"])

    # --- chats -----------------------------------------------------------------------------

    def add_user(
        self,
        user_id: int,
        first_name: str,
        username: str | None = None,
        *,
        last_name: str | None = None,
        language_code: str | None = None,
        started: bool = True,
    ) -> dict[str, Any]:
        """Register a user; `started=False` means they never opened a private chat with the bot
        (sendMessage to them answers 403 "can't initiate conversation"). Returns the User."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        info: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name is not None:
            info["last_name"] = last_name
        if username is not None:
            info["username"] = username
        if language_code is not None:
            info["language_code"] = language_code
        with self._lock:
            self._users[user_id] = _User(info, started)
            return dict(info)

    def add_group(
        self,
        chat_id: int,
        title: str,
        *,
        chat_type: str | None = None,
        username: str | None = None,
    ) -> dict[str, Any]:
        """Register a group the bot is in; `chat_type` defaults to "supergroup" for -100… ids,
        else "group". A public supergroup with `username` is reachable as chat_id "@username".
        Returns the Chat."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        with self._lock:
            return dict(self._register_group(chat_id, title, chat_type, username))

    def block(self, user_id: int) -> None:
        """The user blocks the bot (or, for a negative id, the bot is kicked from the group)."""
        with self._lock:
            self.blocked.add(user_id)

    def unblock(self, user_id: int) -> None:
        with self._lock:
            self.blocked.discard(user_id)

    # --- files -----------------------------------------------------------------------------

    def add_file(
        self,
        data: bytes,
        *,
        file_name: str = "",
        mime_type: str = "",
        size: int | None = None,
        delay: float = 0.0,
    ) -> str:
        """Hold a file as if a user had uploaded it; returns its file_id for getFile.

        `file_name` and `mime_type` are what `push_document` sends (a photo has neither; its
        file_path is `photos/file_N.jpg`, a document's `documents/file_N.<ext>`). `size` is
        the file_size Telegram states, if not len(data): one over MAX_DOWNLOAD makes getFile
        answer FILE_TOO_BIG without the test holding 20 MB. `delay`: seconds (real time) the
        download waits before answering, as a big file on a slow link.
        """
        with self._lock:
            n = next(self._file_ids)
            suffix = re.search(r"\.[A-Za-z0-9]{1,8}$", file_name)
            file_path = (f"documents/file_{n}{suffix[0] if suffix else ''}" if file_name
                         else f"photos/file_{n}.jpg")
            file_id = f"AgACAgUAAxkBAAI{n:06d}fake-{len(data)}"
            self._files[file_id] = _File(
                bytes(data), f"AQAD{n:06d}", file_path, len(data) if size is None else size,
                file_name, mime_type, delay)
            return file_id

    def expire_file(self, file_id: str) -> None:
        """The file is gone: getFile answers FILE_ID_INVALID and a download of a file_path
        already handed out answers 404."""
        with self._lock:
            self._files[file_id].expired = True

    def push_photo(
        self,
        user_id: int,
        file_id: str,
        caption: str = "",
        chat_id: int | None = None,
        chat_type: str | None = None,
        first_name: str | None = None,
        *,
        width: int = 1280,
        height: int = 960,
        with_size: bool = True,
    ) -> dict[str, Any]:
        """Queue a photo message from the user (`file_id` from `add_file`), with `caption`.

        `photo` lists the sizes smallest first, as Telegram does: a thumbnail, then the photo.
        Only the photo itself can be fetched (getFile of the thumbnail's id answers
        FILE_ID_INVALID), so a bot that keeps the thumbnail is caught. `with_size=False`
        leaves out `file_size` (optional in the Bot API)."""
        with self._changed:
            held = self._files[file_id]
            scale = 90 / max(width, height, 1)
            thumbnail: dict[str, Any] = {
                "file_id": f"{file_id}-thumbnail", "file_unique_id": f"{held.file_unique_id}-t",
                "width": max(1, round(width * scale)), "height": max(1, round(height * scale)),
            }
            full: dict[str, Any] = {"file_id": file_id, "file_unique_id": held.file_unique_id,
                                    "width": width, "height": height}
            if with_size:
                thumbnail["file_size"] = min(held.size, 1500)
                full["file_size"] = held.size
            update = self._make_message_update(
                user_id, caption, chat_id, chat_type, first_name, None, None, None,
                media={"photo": [thumbnail, full]})
            self._enqueue(update)
            return update

    def push_document(
        self,
        user_id: int,
        file_id: str,
        caption: str = "",
        chat_id: int | None = None,
        chat_type: str | None = None,
        first_name: str | None = None,
        *,
        with_size: bool = True,
    ) -> dict[str, Any]:
        """Queue a document message from the user: `document` with the file_id, and the
        file_name and mime_type given to `add_file` (each left out when empty)."""
        with self._changed:
            held = self._files[file_id]
            document: dict[str, Any] = {"file_id": file_id,
                                        "file_unique_id": held.file_unique_id}
            if held.file_name:
                document["file_name"] = held.file_name
            if held.mime_type:
                document["mime_type"] = held.mime_type
            if with_size:
                document["file_size"] = held.size
            update = self._make_message_update(
                user_id, caption, chat_id, chat_type, first_name, None, None, None,
                media={"document": document})
            self._enqueue(update)
            return update

    # --- scripting -------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        error_code: int,
        description: str | None = None,
        times: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """The next `times` calls of `method` answer `error_code` (also the HTTP status).

        `description` defaults to Telegram's for 429 or the HTTP phrase; `retry_after` adds
        `parameters.retry_after` (PTB raises RetryAfter only when it is present). Scripted
        failures take no effect and do not count toward any limit.
        """
        if description is None:
            description = (too_many_requests(retry_after or 1) if error_code == 429
                           else HTTPStatus(error_code).phrase)
        parameters = None if retry_after is None else {"retry_after": retry_after}
        with self._lock:
            self._scripts.append(
                _Script(method.lower(), times, ApiError(error_code, description, parameters)))

    def stall(self, seconds: float, *, effective: bool = True) -> None:
        """Every response waits `seconds` (real time) before it is written; 0 clears it.

        With `effective=True` the call takes effect first and only the answer is late, as when
        a reply is lost on the way back: a client that times out and retries sends twice.
        With `effective=False` the fake waits before doing anything.
        """
        with self._lock:
            self._stall = seconds
            self._stall_effective = effective

    # --- updates ---------------------------------------------------------------------------

    def make_update(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        chat_type: str | None = None,
        first_name: str | None = None,
        message_id: int | None = None,
        *,
        username: str | None = None,
        date: int | None = None,
    ) -> dict[str, Any]:
        """A `message` update from a user, NOT queued (post it to the bot's webhook).

        `chat_id` defaults to the user's private chat; `chat_type` is inferred ("private" for
        the user's own chat, else the registered group's type, else "group"/"supergroup" by
        id). Unknown users and groups are registered; a private message marks the user as
        having started the bot. Texts with commands get `bot_command` entities.
        """
        with self._lock:
            return self._make_message_update(
                user_id, text, chat_id, chat_type, first_name, message_id, username, date)

    def push_message(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        chat_type: str | None = None,
        first_name: str | None = None,
        message_id: int | None = None,
        *,
        username: str | None = None,
        date: int | None = None,
    ) -> dict[str, Any]:
        """Like `make_update`, and queued for getUpdates (wakes a waiting long poll)."""
        with self._changed:
            update = self._make_message_update(
                user_id, text, chat_id, chat_type, first_name, message_id, username, date)
            self._enqueue(update)
            return update

    def push_command(
        self,
        user_id: int,
        command: str,
        args: str = "",
        *,
        mention: bool = False,
        chat_id: int | None = None,
        chat_type: str | None = None,
        first_name: str | None = None,
    ) -> dict[str, Any]:
        """Queue `/command[@botname] args` from the user (`mention=True` adds @botname, as
        Telegram clients do in groups)."""
        text = "/" + command.lstrip("/") + (f"@{self.username}" if mention else "")
        if args:
            text += " " + args
        return self.push_message(user_id, text, chat_id, chat_type, first_name)

    def make_callback_update(
        self,
        user_id: int,
        data: str,
        message: Mapping[str, Any],
        *,
        first_name: str | None = None,
    ) -> dict[str, Any]:
        """A `callback_query` update (a press on a button of `message`), NOT queued.

        The query id is remembered, so answerCallbackQuery accepts it exactly once. `message`
        is the Message dict the button was on (e.g. `fake.sent[-1].message` or PTB's
        `Message.to_dict()`); the update carries its current state. Raises ValueError when the
        message has no button with this callback_data: Telegram could not send that.
        """
        with self._lock:
            return self._make_callback_update(user_id, data, message, first_name)

    def push_callback(
        self,
        user_id: int,
        data: str,
        message: Mapping[str, Any],
        *,
        first_name: str | None = None,
    ) -> dict[str, Any]:
        """Like `make_callback_update`, and queued for getUpdates."""
        with self._changed:
            update = self._make_callback_update(user_id, data, message, first_name)
            self._enqueue(update)
            return update

    @property
    def pending_updates(self) -> list[dict[str, Any]]:
        """Queued updates not yet confirmed by a getUpdates offset."""
        with self._lock:
            return list(self._queue)

    @property
    def polling(self) -> int:
        """How many getUpdates calls are waiting right now (long polls in progress)."""
        with self._lock:
            return self._polling

    def webhook_headers(self) -> dict[str, str]:
        """Headers Telegram would send with a webhook delivery (the secret token, if set)."""
        with self._lock:
            headers = {"Content-Type": "application/json"}
            if self.webhook is not None and self.webhook.secret_token is not None:
                headers["X-Telegram-Bot-Api-Secret-Token"] = self.webhook.secret_token
            return headers

    # --- reading the record ----------------------------------------------------------------

    def calls(self, method: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.method.lower() == method.lower()]

    def wait_until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Block until `condition` holds; it is checked again whenever the bot sends, edits
        or answers something (no polling). AssertionError after `timeout` seconds."""
        with self._changed:
            if not self._changed.wait_for(condition, timeout):
                raise AssertionError(f"the bot did not get there in {timeout} s")

    def wait_for_texts(self, chat_id: int, count: int, timeout: float = 5.0) -> list[str]:
        """The texts sent to `chat_id` once there are at least `count`."""
        self.wait_until(lambda: sum(1 for s in self.sent if s.chat_id == chat_id) >= count,
                        timeout)
        return self.texts_to(chat_id)

    def messages_to(self, chat_id: int) -> list[dict[str, Any]]:
        """The messages the bot sent to `chat_id`, in order, as they were when sent."""
        with self._lock:
            return [s.message for s in self.sent if s.chat_id == chat_id]

    def texts_to(self, chat_id: int) -> list[str]:
        return [str(m.get("text", "")) for m in self.messages_to(chat_id)]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """The current state of a message (after edits), or None."""
        with self._lock:
            current = self._messages.get((chat_id, message_id))
            if current is None:
                return None
            copied: dict[str, Any] = _copy(current)
            return copied

    # --- the server side -------------------------------------------------------------------

    def wake(self) -> None:
        with self._changed:
            self._changed.notify_all()  # wakes long polls

    def handle(self, method: str, raw_path: str, body: bytes, content_type: str) -> _Reply:
        """Telegram takes GET with a query string as well as POST: the method is not used."""
        return self._handle(raw_path, body, content_type)

    def _handle(self, raw_path: str, body: bytes, content_type: str) -> _Reply:
        with self._lock:
            stall, effective = self._stall, self._stall_effective
        if stall > 0 and not effective:
            self._closing.wait(stall)
        reply = self._process(raw_path, body, content_type)
        if stall > 0 and effective:
            self._closing.wait(stall)
        return reply

    def _process(self, raw_path: str, body: bytes, content_type: str) -> _Reply:
        split = urlsplit(raw_path)
        download = re.fullmatch(r"/file/bot([^/]+)/(.+)", split.path)
        if download is not None:
            return self._download(*download.groups())
        match = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", split.path)
        if match is None:
            return _error_reply(ApiError(404, NOT_FOUND))
        token, method_name = match.groups()
        try:
            raw, encoding = _parse_body(body, content_type, split.query)
        except ValueError:
            return _error_reply(ApiError(400, "Bad Request: can't parse request body"))
        with self._changed:
            now = self.clock()
            route = _ROUTES.get(method_name.lower())
            method = route[0] if route is not None else method_name
            undecodable: ApiError | None = None
            try:
                params = _decode(raw)
            except ApiError as exc:
                params, undecodable = raw, exc
            self.requests.append(
                RecordedRequest(method, split.path, params, raw, encoding, now))
            try:
                if token != self.token:
                    # Telegram: 401 for a well-formed but wrong token, 404 for a malformed one.
                    well_formed = re.fullmatch(r"\d+:[A-Za-z0-9_-]+", token) is not None
                    raise ApiError(401, UNAUTHORIZED) if well_formed else ApiError(404, NOT_FOUND)
                if route is None:
                    raise ApiError(404, NOT_FOUND)
                if undecodable is not None:
                    raise undecodable
                script = self._take_script(method)
                if script is not None:
                    raise script
                result, description = route[1](self, params, now)
            except ApiError as exc:
                return _error_reply(exc)
        payload: dict[str, Any] = {"ok": True, "result": result}
        if description is not None:
            payload["description"] = description
        return _json_reply(200, payload)

    def _download(self, token: str, quoted_path: str) -> _Reply:
        """GET /file/bot<token>/<file_path>: the bytes, or 404 (Telegram's answer for a wrong
        token or a path unknown or no longer valid). A slow file waits outside the lock."""
        token, file_path = unquote(token), unquote(quoted_path)  # PTB quotes the token's ':'
        with self._changed:
            found = next(((file_id, held) for file_id, held in self._files.items()
                          if held.file_path == file_path), None)
            served = found is not None and token == self.token and not found[1].expired
            self.downloads.append(Download(found[0] if found else "", file_path,
                                           200 if served else 404, self.clock()))
            self._changed.notify_all()  # wakes `wait_until`
        if found is None or not served:
            return _error_reply(ApiError(404, NOT_FOUND))
        held = found[1]
        if held.delay > 0:
            self._closing.wait(held.delay)
        return _Reply(200, held.data, content_type="application/octet-stream")

    def _take_script(self, method: str) -> ApiError | None:
        for script in self._scripts:
            if script.method == method.lower() and script.remaining > 0:
                script.remaining -= 1
                if script.remaining == 0:
                    self._scripts.remove(script)
                return script.error
        return None

    # --- helpers (called with the lock held) -------------------------------------------------

    def _register_group(
        self, chat_id: int, title: str, chat_type: str | None, username: str | None,
    ) -> dict[str, Any]:
        if chat_type is None:
            chat_type = "supergroup" if chat_id < SUPERGROUP_ID_BELOW else "group"
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type, "title": title}
        if username is not None:
            chat["username"] = username
        self._groups[chat_id] = chat
        return chat

    def _user(
        self, user_id: int, first_name: str | None, username: str | None,
    ) -> _User:
        user = self._users.get(user_id)
        if user is None:
            info: dict[str, Any] = {
                "id": user_id, "is_bot": False, "first_name": first_name or f"User{user_id}",
            }
            if username is not None:
                info["username"] = username
            user = self._users[user_id] = _User(info, started=False)
        return user

    def _private_chat(self, user: _User) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": user.info["id"], "type": "private"}
        for key in ("first_name", "last_name", "username"):
            if key in user.info:
                chat[key] = user.info[key]
        return chat

    def _new_message_id(self, chat_id: int, wanted: int | None = None) -> int:
        # Message ids are per chat, shared by both sides, and only increase.
        last = self._next_message_id.get(chat_id, 0)
        message_id = wanted if wanted is not None else last + 1
        self._next_message_id[chat_id] = max(last, message_id)
        return message_id

    def _next_update_id(self) -> int:
        return next(self._update_ids)

    def _make_message_update(
        self,
        user_id: int,
        text: str,
        chat_id: int | None,
        chat_type: str | None,
        first_name: str | None,
        message_id: int | None,
        username: str | None,
        date: int | None,
        media: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A text message, or with `media` (photo, document) one whose text is its caption."""
        user = self._user(user_id, first_name, username)
        if chat_id is None or chat_id == user_id:
            if chat_type not in (None, "private"):
                raise ValueError("a user's own chat is private")
            user.started = True
            chat = self._private_chat(user)
        else:
            if chat_id > 0 or chat_type == "private":
                raise ValueError(f"chat {chat_id} is neither user {user_id}'s own chat nor a "
                                 "group (group ids are negative)")
            group = self._groups.get(chat_id)
            if group is None:
                group = self._register_group(chat_id, f"Group {chat_id}", chat_type, None)
            chat = dict(group)
        message: dict[str, Any] = {
            "message_id": self._new_message_id(chat["id"], message_id),
            "from": dict(user.info),
            "chat": chat,
            "date": int(self.wall_clock()) if date is None else date,
        }
        if media is None:
            message["text"] = text
        else:
            message.update(_copy(media))
            if text:
                message["caption"] = text
        entities = _command_entities(text)
        if entities:
            message["entities" if media is None else "caption_entities"] = entities
        self._messages[(chat["id"], message["message_id"])] = message
        return {"update_id": self._next_update_id(), "message": _copy(message)}

    def _make_callback_update(
        self,
        user_id: int,
        data: str,
        message: Mapping[str, Any],
        first_name: str | None,
    ) -> dict[str, Any]:
        chat_id = int(message["chat"]["id"])
        current = self._messages.get((chat_id, int(message["message_id"])), dict(message))
        buttons = [
            button.get("callback_data")
            for row in (current.get("reply_markup") or {}).get("inline_keyboard", [])
            for button in row
        ]
        if data not in buttons:
            raise ValueError(f"message {current.get('message_id')} has no button with "
                             f"callback_data {data!r} (it has {buttons!r})")
        user = self._user(user_id, first_name, None)
        query_id = str(4_300_000_000_000_000_000 + next(self._query_ids))
        self._open_queries[query_id] = user_id
        return {
            "update_id": self._next_update_id(),
            "callback_query": {
                "id": query_id,
                "from": dict(user.info),
                "message": _copy(current),
                "chat_instance": str(-(abs(chat_id) * 7919 + self.bot_id)),
                "data": data,
            },
        }

    def _enqueue(self, update: dict[str, Any]) -> None:
        self._queue.append(_copy(update))
        self._changed.notify_all()

    def _resolve_chat(self, params: dict[str, Any], *, sending: bool) -> dict[str, Any]:
        """The Chat for `chat_id`, or the ApiError Telegram answers for it."""
        value = params.get("chat_id")
        if value is None or value == "":
            raise ApiError(400, CHAT_ID_MISSING)
        chat_id = _as_int(value)
        if chat_id is None:
            name = str(value)
            found = [g for g in self._groups.values()
                     if name.startswith("@") and str(g.get("username", "")).lower()
                     == name[1:].lower()]
            if not found:
                raise ApiError(400, CHAT_NOT_FOUND)
            chat_id = int(found[0]["id"])
        if chat_id in self._groups:
            group = self._groups[chat_id]
            if chat_id in self.blocked:
                raise ApiError(403, BOT_KICKED_SUPERGROUP if group["type"] == "supergroup"
                               else BOT_KICKED_GROUP)
            return dict(group)
        if chat_id > 0 and chat_id in self.blocked:
            raise ApiError(403, BOT_BLOCKED)
        user = self._users.get(chat_id)
        if user is None:
            raise ApiError(400, CHAT_NOT_FOUND)
        if sending and not user.started:
            raise ApiError(403, CANT_INITIATE)
        return self._private_chat(user)

    def _check_limits(self, chat: dict[str, Any], now: float) -> None:
        """Record the send against the flood limits; over a limit, 429 or a recorded violation."""
        limits = self._limits
        chat_id = int(chat["id"])
        log = limits.chat_log.setdefault(chat_id, deque())
        _prune(log, now - MINUTE)
        _prune(limits.overall_log, now - 1.0)
        over: list[tuple[str, float]] = []  # (limit, seconds until it would be within)
        if chat["type"] == "private":
            if log and now - log[-1] < limits.private_interval:
                over.append(("private_per_second", log[-1] + limits.private_interval - now))
        elif len(log) >= limits.group_per_minute:
            over.append(("group_per_minute", log[-limits.group_per_minute] + MINUTE - now))
        if len(limits.overall_log) >= limits.overall_per_second:
            over.append(("overall_per_second",
                         limits.overall_log[-limits.overall_per_second] + 1.0 - now))
        if over and self.enforce_limits:
            retry_after = max(1, math.ceil(max(wait for _, wait in over)))
            raise ApiError(429, too_many_requests(retry_after), {"retry_after": retry_after})
        self.violations.extend(Violation(chat_id, now, name) for name, _ in over)
        log.append(now)
        limits.overall_log.append(now)

    # --- endpoints (called with the lock held; return (result, description)) ---------------

    def _get_me(self, _params: dict[str, Any], _now: float) -> tuple[Any, str | None]:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }, None

    def _send_message(self, params: dict[str, Any], now: float) -> tuple[Any, str | None]:
        chat = self._resolve_chat(params, sending=True)
        text = _text(params, TEXT_TOO_LONG)
        markup = _inline_markup(params.get("reply_markup"))
        self._check_limits(chat, now)
        message: dict[str, Any] = {
            "message_id": self._new_message_id(int(chat["id"])),
            "from": dict(self.bot_user),
            "chat": chat,
            "date": int(self.wall_clock()),
            "text": text,
        }
        if markup is not None:  # Telegram echoes inline keyboards only
            message["reply_markup"] = markup
        self._messages[(int(chat["id"]), message["message_id"])] = message
        self.sent.append(SentMessage(int(chat["id"]), _copy(message), params, now))
        self._changed.notify_all()  # wakes `wait_until`
        return _copy(message), None

    def _edit_message_text(self, params: dict[str, Any], now: float) -> tuple[Any, str | None]:
        return self._edit("editMessageText", params, now)

    def _edit_message_reply_markup(
        self, params: dict[str, Any], now: float,
    ) -> tuple[Any, str | None]:
        return self._edit("editMessageReplyMarkup", params, now)

    def _edit(self, method: str, params: dict[str, Any], now: float) -> tuple[Any, str | None]:
        if params.get("inline_message_id"):
            raise ApiError(400, INLINE_MESSAGE_INVALID)
        chat = self._resolve_chat(params, sending=False)
        message_id = _as_int(params.get("message_id"))
        if message_id is None:
            raise ApiError(400, MESSAGE_ID_MISSING)
        current = self._messages.get((int(chat["id"]), message_id))
        if current is None:
            raise ApiError(400, MESSAGE_TO_EDIT_NOT_FOUND)
        if current["from"]["id"] != self.bot_id:
            raise ApiError(400, MESSAGE_CANT_BE_EDITED)
        edited = _copy(current)
        if method == "editMessageText":
            edited["text"] = _text(params, EDIT_TEXT_TOO_LONG)
        # Leaving reply_markup out of an edit removes the message's inline keyboard.
        markup = _inline_markup(params.get("reply_markup"))
        edited.pop("reply_markup", None)
        if markup is not None:
            edited["reply_markup"] = markup
        if (edited.get("text") == current.get("text")
                and edited.get("reply_markup") == current.get("reply_markup")):
            raise ApiError(400, MESSAGE_NOT_MODIFIED)
        edited["edit_date"] = int(self.wall_clock())
        self._messages[(int(chat["id"]), message_id)] = edited
        self.edits.append(Edit(method, int(chat["id"]), message_id, _copy(edited), params, now))
        self._changed.notify_all()  # wakes `wait_until`
        return _copy(edited), None

    def _answer_callback_query(
        self, params: dict[str, Any], now: float,
    ) -> tuple[Any, str | None]:
        query_id = params.get("callback_query_id")
        if not query_id:
            raise ApiError(400, QUERY_ID_MISSING)
        user_id = self._open_queries.pop(str(query_id), None)  # one answer per query
        if user_id is None:
            raise ApiError(400, QUERY_INVALID)
        text = params.get("text")
        url = params.get("url")
        self.answered.append(CallbackAnswer(
            str(query_id), user_id, None if text is None else str(text),
            _as_bool(params.get("show_alert")), None if url is None else str(url), now))
        self._changed.notify_all()  # wakes `wait_until`
        return True, None

    def _get_file(self, params: dict[str, Any], _now: float) -> tuple[Any, str | None]:
        file_id = params.get("file_id")
        if not file_id:
            raise ApiError(400, FILE_ID_MISSING)
        held = self._files.get(str(file_id))
        if held is None or held.expired:
            raise ApiError(400, FILE_ID_INVALID)
        if held.size > MAX_DOWNLOAD:
            raise ApiError(400, FILE_TOO_BIG)
        return {"file_id": str(file_id), "file_unique_id": held.file_unique_id,
                "file_size": held.size, "file_path": held.file_path}, None

    def _get_updates(self, params: dict[str, Any], _now: float) -> tuple[Any, str | None]:
        if self.webhook is not None:
            raise ApiError(409, WEBHOOK_ACTIVE)
        offset = _as_int(params.get("offset")) or 0
        limit = min(100, max(1, _as_int(params.get("limit")) or 100))
        timeout = max(0.0, _as_float(params.get("timeout")))
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(str(a) for a in allowed) or None
        if offset > 0:  # confirms every update before it
            while self._queue and self._queue[0]["update_id"] < offset:
                self._queue.popleft()
        elif offset < 0:  # the last -offset updates; earlier ones are forgotten
            while len(self._queue) > -offset:
                self._queue.popleft()
        self._poll_generation += 1
        generation = self._poll_generation
        self._changed.notify_all()  # an older long poll is now superseded
        deadline = time.monotonic() + timeout
        while True:
            if generation != self._poll_generation:
                raise ApiError(409, OTHER_GET_UPDATES)
            if self.webhook is not None:
                raise ApiError(409, TERMINATED_BY_SET_WEBHOOK)
            self._drop_unwanted()
            if self._queue or self._closing.is_set():
                return [_copy(u) for u in itertools.islice(self._queue, limit)], None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return [], None
            self._polling += 1
            try:
                self._changed.wait(remaining)
            finally:
                self._polling -= 1

    def _drop_unwanted(self) -> None:
        # Telegram never creates updates of types the bot did not ask for.
        kept = [u for u in self._queue if self._wanted(u)]
        if len(kept) != len(self._queue):
            self._queue = deque(kept)

    def _wanted(self, update: dict[str, Any]) -> bool:
        kind = next((k for k in update if k != "update_id"), "")
        if self._allowed_updates is None:
            return kind not in OPT_IN_UPDATES
        return kind in self._allowed_updates

    def _set_webhook(self, params: dict[str, Any], now: float) -> tuple[Any, str | None]:
        url = str(params.get("url") or "")
        if not url:  # an empty url removes the webhook
            return self._delete_webhook(params, now)
        split = urlsplit(url)
        if split.scheme != "https" or not split.hostname:
            raise ApiError(400, WEBHOOK_NOT_HTTPS)
        if (split.port or 443) not in WEBHOOK_PORTS:
            raise ApiError(400, WEBHOOK_BAD_PORT)
        secret = params.get("secret_token")
        if secret is not None and not SECRET_TOKEN.fullmatch(str(secret)):
            raise ApiError(400, SECRET_TOKEN_INVALID)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(str(a) for a in allowed) or None
        if _as_bool(params.get("drop_pending_updates")):
            self._queue.clear()
        same = self.webhook is not None and self.webhook.url == url
        self.webhook = WebhookState(
            url=url,
            secret_token=None if secret is None else str(secret),
            allowed_updates=(tuple(str(a) for a in allowed) if isinstance(allowed, list)
                             else None),
            max_connections=_as_int(params.get("max_connections")) or 40,
            set_at=now,
        )
        self._changed.notify_all()  # a waiting getUpdates now conflicts
        return True, "Webhook is already set" if same else "Webhook was set"

    def _delete_webhook(self, params: dict[str, Any], _now: float) -> tuple[Any, str | None]:
        if _as_bool(params.get("drop_pending_updates")):
            self._queue.clear()
        was_set = self.webhook is not None
        self.webhook = None
        return True, "Webhook was deleted" if was_set else "Webhook is already deleted"

    def _get_webhook_info(self, _params: dict[str, Any], _now: float) -> tuple[Any, str | None]:
        self._drop_unwanted()
        info: dict[str, Any] = {
            "url": "", "has_custom_certificate": False, "pending_update_count": len(self._queue),
        }
        if self.webhook is not None:
            info["url"] = self.webhook.url
            info["max_connections"] = self.webhook.max_connections
            info["ip_address"] = "127.0.0.1"
            if self._allowed_updates is not None:
                info["allowed_updates"] = sorted(self._allowed_updates)
        return info, None

    def _set_my_commands(self, params: dict[str, Any], _now: float) -> tuple[Any, str | None]:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            name = str(command.get("command", "")) if isinstance(command, dict) else ""
            description = (str(command.get("description", "")) if isinstance(command, dict)
                           else "")
            if not COMMAND_NAME.fullmatch(name) or not 1 <= len(description) <= 256:
                raise ApiError(400, BOT_COMMAND_INVALID)
        self.my_commands[_commands_key(params)] = _copy(commands)
        return True, None

    def _delete_my_commands(self, params: dict[str, Any], _now: float) -> tuple[Any, str | None]:
        self.my_commands.pop(_commands_key(params), None)
        return True, None

    def _get_my_commands(self, params: dict[str, Any], _now: float) -> tuple[Any, str | None]:
        return _copy(self.my_commands.get(_commands_key(params), [])), None


_Endpoint = Callable[[FakeTelegram, dict[str, Any], float], tuple[Any, str | None]]
# Telegram method names are case-insensitive; keyed by lower case -> (canonical, endpoint).
_ROUTES: dict[str, tuple[str, _Endpoint]] = {
    name.lower(): (name, endpoint)
    for name, endpoint in [
        ("getMe", FakeTelegram._get_me),
        ("sendMessage", FakeTelegram._send_message),
        ("editMessageText", FakeTelegram._edit_message_text),
        ("editMessageReplyMarkup", FakeTelegram._edit_message_reply_markup),
        ("answerCallbackQuery", FakeTelegram._answer_callback_query),
        ("getFile", FakeTelegram._get_file),
        ("getUpdates", FakeTelegram._get_updates),
        ("setWebhook", FakeTelegram._set_webhook),
        ("deleteWebhook", FakeTelegram._delete_webhook),
        ("getWebhookInfo", FakeTelegram._get_webhook_info),
        ("setMyCommands", FakeTelegram._set_my_commands),
        ("deleteMyCommands", FakeTelegram._delete_my_commands),
        ("getMyCommands", FakeTelegram._get_my_commands),
    ]
}


# --- wire helpers ---------------------------------------------------------------------------

def _json_reply(status: int, payload: dict[str, Any]) -> _Reply:
    return _Reply(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def _error_reply(error: ApiError) -> _Reply:
    payload: dict[str, Any] = {
        "ok": False, "error_code": error.error_code, "description": error.description,
    }
    if error.parameters:
        payload["parameters"] = error.parameters
    return _json_reply(error.error_code, payload)


def _parse_body(body: bytes, content_type: str, query: str) -> tuple[dict[str, Any], str]:
    """The request's parameters as sent, and how they were encoded."""
    fields: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    kind = content_type.split(";")[0].strip().lower()
    if not body:
        return fields, "query" if fields else "empty"
    if kind == "application/json":
        loaded = json.loads(body.decode("utf-8"))
        if not isinstance(loaded, dict):
            raise ValueError("a JSON body must be an object")
        return {**fields, **loaded}, "json"
    if kind == "multipart/form-data":
        return {**fields, **_parse_multipart(body, content_type)}, "multipart"
    form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    return {**fields, **{k: v[-1] for k, v in form.items()}}, "form"


def _parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    fields, files = parse_multipart(body, content_type)
    return {**fields, **files}


def _decode(raw: dict[str, Any]) -> dict[str, Any]:
    """Parameters as Telegram reads them: JSON fields decoded, whatever the encoding."""
    params = dict(raw)
    for key in JSON_FIELDS & params.keys():
        value = params[key]
        if isinstance(value, str):
            try:
                params[key] = json.loads(value)
            except ValueError as exc:
                raise ApiError(400, MARKUP_UNPARSABLE if key == "reply_markup"
                               else f"Bad Request: can't parse {key} JSON object") from exc
    return params


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    return None


def _as_float(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        return 0.0
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1")
    return bool(value)


def _text(params: dict[str, Any], too_long: str) -> str:
    text = params.get("text")
    if text is None or str(text) == "":
        raise ApiError(400, TEXT_EMPTY)
    text = str(text)
    parse_mode = str(params.get("parse_mode") or "")
    if parse_mode and parse_mode.lower() not in PARSE_MODES:
        raise ApiError(400, UNSUPPORTED_PARSE_MODE)
    if parse_mode.lower() == "html":
        # Telegram answers the text without markup (entities not reproduced here).
        text = html.unescape(re.sub(r"<[^>]*>", "", text))
        if not text.strip():
            raise ApiError(400, TEXT_EMPTY)
    if len(text) > MAX_TEXT:
        raise ApiError(400, too_long)
    return text


def _inline_markup(markup: Any) -> dict[str, Any] | None:
    """The inline keyboard to echo back, validated like Telegram; None for other markups."""
    if not isinstance(markup, dict) or "inline_keyboard" not in markup:
        return None
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(
            isinstance(row, list) and all(isinstance(b, dict) for b in row) for row in rows):
        raise ApiError(400, MARKUP_UNPARSABLE)
    for row in rows:
        for button in row:
            actions = set(button) - {"text"}
            if not actions:
                raise ApiError(400, TEXT_BUTTONS_UNALLOWED)
            data = button.get("callback_data")
            if data is not None and not (
                    1 <= len(str(data).encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES):
                raise ApiError(400, BUTTON_DATA_INVALID)
    copied: dict[str, Any] = _copy(markup)
    return copied


def _command_entities(text: str) -> list[dict[str, Any]]:
    """`bot_command` entities, with offsets and lengths in UTF-16 code units as Telegram's."""
    return [
        {"type": "bot_command", "offset": _utf16_len(text[:m.start()]),
         "length": _utf16_len(m.group())}
        for m in BOT_COMMAND.finditer(text)
    ]


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")


def _copy(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _prune(log: deque[float], older_than: float) -> None:
    while log and log[0] <= older_than:
        log.popleft()
