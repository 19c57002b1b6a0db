"""A loopback fake of the WeCom server API, for tests that drive the real wechatpy client.

It speaks the real wire shapes (HTTP 200 + JSON `{"errcode", "errmsg", ...}` for platform
errors) on 127.0.0.1, and records what the bot did so tests can assert on it:

- `GET  /cgi-bin/gettoken`                      tokens that expire on an injectable clock
- `POST /cgi-bin/message/send`                  invaliduser / 81013, per-member silent drops,
                                                an optional API-frequency limit (45009)
- `POST /cgi-bin/message/update_template_card`  single-use response codes
- `POST /cgi-bin/webhook/send`                  group robots: keys, 20/min, content size
- `POST /cgi-bin/media/upload`, `GET /cgi-bin/media/get`
- `POST /cgi-bin/oa/schedule/add|update|del|get`   日程 kept in memory, each attendee's
                                                answer settable (`respond`), 48002 when
                                                the app is not allowed the 日程 API

Facts come from /work/shared/PLATFORMS.md §2-§3. Error codes that are not from there are
marked where they are defined below; tests of the bot should compare against these
constants, never against numbers or errmsg text.

Stdlib only. Time-based behaviour reads `clock` (float seconds, default `time.monotonic`);
to share the bot's `bot.clock.FakeClock`, pass `clock=lambda: fake_clock.now().timestamp()`,
or use `ManualClock` below.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from tests.loopback import LoopbackServer, parse_multipart
from tests.loopback import Served as _Reply

# --- error codes -------------------------------------------------------------------------
# From PLATFORMS.md (WeCom docs 90236 / 90455 / 91039 and wechatpy constants):
SYSTEM_BUSY = -1
MEDIA_TTL = 3 * 24 * 3600  # a received media_id lasts three days (获取临时素材)
INVALID_CREDENTIAL = 40001  # wrong corpsecret
INVALID_ACCESS_TOKEN = 40014  # unknown token
EXPIRED_ACCESS_TOKEN = 42001  # token past its expiry
API_FREQ_OUT_OF_LIMIT = 45009  # wechatpy raises APILimitedException for it
IP_NOT_ALLOWED = 60020  # caller IP not in the trusted-IP list (only via fail_next)
ALL_RECIPIENTS_INVALID = 81013  # user & party & tag all invalid
INVALID_ROBOT_KEY = 93000  # group robot: invalid webhook key
# Seen as a real errmsg "invalid message type" (funcodingdev/n8n-nodes-wecom#24):
INVALID_MESSAGE_TYPE = 40008
# From memory of WeCom's global error-code page (90313); NOT verified for this fake:
INVALID_CORP_ID = 40013
MISSING_ACCESS_TOKEN = 41001
REQUIRE_POST_METHOD = 43002
INVALID_AGENT_ID = 40056
INVALID_MEDIA_TYPE = 40004
INVALID_MEDIA_ID = 40007
EMPTY_MEDIA = 44001
INVALID_JSON = 47001
API_FORBIDDEN = 48002  # "api forbidden" (PLATFORMS §2): e.g. 日程 API not granted
# WeCom's global code 不合法的UserID; which code the 日程 API gives for an unknown attendee
# or organizer is not documented, so this one is a guess at the most likely:
INVALID_USERID = 40003
# NOT FROM THE DOCS — picked as plausible, so the bot's tests have something to hit:
UNKNOWN_SCHEDULE = 400100  # update / del of a schedule_id this app never made
INVALID_RESPONSE_CODE = 40009  # update_template_card with an unknown/used/expired code
CONTENT_TOO_LONG = 40058  # robot text > 2048 bytes or markdown > 4096 bytes
TOO_MANY_RECIPIENTS = 40031  # message/send with more than 1000 touser entries

ERRMSG: dict[int, str] = {
    0: "ok",
    SYSTEM_BUSY: "system busy",
    INVALID_CREDENTIAL: "invalid credential",
    INVALID_ACCESS_TOKEN: "invalid access_token",
    EXPIRED_ACCESS_TOKEN: "access_token expired",
    API_FREQ_OUT_OF_LIMIT: "api freq out of limit",
    IP_NOT_ALLOWED: "not allow to access from your ip",
    ALL_RECIPIENTS_INVALID: "user & party & tag all invalid",
    INVALID_ROBOT_KEY: "invalid webhook url",
    INVALID_MESSAGE_TYPE: "invalid message type",
    INVALID_CORP_ID: "invalid corpid",
    MISSING_ACCESS_TOKEN: "access_token missing",
    REQUIRE_POST_METHOD: "require POST method",
    INVALID_AGENT_ID: "invalid agentid",
    INVALID_MEDIA_TYPE: "invalid media type",
    INVALID_MEDIA_ID: "invalid media_id",
    EMPTY_MEDIA: "empty media data",
    INVALID_JSON: "data format error",
    INVALID_RESPONSE_CODE: "invalid response_code",
    CONTENT_TOO_LONG: "content exceed max length",
    TOO_MANY_RECIPIENTS: "too many users",
    API_FORBIDDEN: "api forbidden",
    INVALID_USERID: "invalid userid",
    UNKNOWN_SCHEDULE: "invalid schedule_id",
}

# message/send body types (PLATFORMS §2) and robot body types (§3).
APP_MSGTYPES = frozenset({
    "text", "image", "voice", "video", "file", "textcard", "news", "mpnews", "markdown",
    "miniprogram_notice", "template_card",
})
ROBOT_MSGTYPES = frozenset({
    "text", "markdown", "markdown_v2", "image", "news", "file", "voice", "template_card",
})
# Only these card kinds carry callbacks, so only they get a response_code (PLATFORMS §2).
INTERACTIVE_CARDS = frozenset({"button_interaction", "vote_interaction", "multiple_interaction"})
MEDIA_TYPES = frozenset({"image", "voice", "video", "file"})
MAX_TOUSER = 1000
ROBOT_TEXT_MAX_BYTES = 2048
ROBOT_MARKDOWN_MAX_BYTES = 4096
RESPONSE_CODE_TTL = 72 * 3600.0  # "valid for 72 h and can be used once" (PLATFORMS §2)
MINUTE, HOUR = 60.0, 3600.0
# 日程 (doc 93648 add / 97720 update / 97724 get, via QQ::weixin::work::oa::schedule v0.10):
SCHEDULE_MAX_ATTENDEES = 1000
SCHEDULE_TEXT_MAX = 128  # summary and location, in characters
SCHEDULE_DESCRIPTION_MAX = 1000
REMIND_BEFORE_EVENT_SECS = frozenset({0, 300, 900, 3600, 86400})  # "目前仅支持以下数值"
REMIND_TIME_DIFFS = frozenset({0, -300, -900, -3600, -86400})  # (not whole-day schedules)
# attendees[].response_status, as oa/schedule/get reports it (97724):
UNANSWERED, TENTATIVE, ACCEPTED, ACCEPTED_ONCE, DECLINED = 0, 1, 2, 3, 4
SCHEDULE_CANCELLED = 1  # status: 0 正常, 1 已取消


class ManualClock:
    """Seconds that move only when told to; pass it as `clock=`."""

    def __init__(self, start: float = 1_780_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordedRequest(NamedTuple):
    method: str
    path: str  # e.g. "/cgi-bin/message/send"
    query: dict[str, str]  # first value of each parameter; corpsecret redacted
    body: Any  # parsed JSON; for multipart {"fields": {...}, "files": {...}}; else raw bytes
    at: float  # clock time


class Delivery(NamedTuple):
    userid: str  # as the bot spelled it in touser
    body: dict[str, Any]  # the whole message/send JSON body
    at: float


class RobotPost(NamedTuple):
    body: dict[str, Any]
    at: float


class CardUpdate(NamedTuple):
    response_code: str
    body: dict[str, Any]
    at: float


@dataclass
class Media:
    media_type: str
    filename: str
    content_type: str
    data: bytes
    created_at: int


@dataclass
class Schedule:
    """A 日程 as the fake holds it: the last `schedule` object sent, its status, and each
    attendee's answer (lowercased userid → response_status)."""

    body: dict[str, Any]
    status: int = 0
    answers: dict[str, int] = field(default_factory=dict)
    updates: int = 0


@dataclass
class _Script:
    path_suffix: str
    remaining: int
    errcode: int | None = None  # platform error (HTTP 200 + JSON) ...
    status: int | None = None  # ... or a bare HTTP status
    body_extra: dict[str, Any] = field(default_factory=dict)


REDACTED = "<redacted>"


class FakeWeCom(LoopbackServer):
    """A WeCom API server on 127.0.0.1 with scriptable failures and recorded effects.

    Use as `with FakeWeCom(...) as fake:` and point the client at `fake.base_url`.
    All recorded lists are appended under a lock; read them after the calls return.
    """

    name = "fake-wecom"
    poll_interval = 0.05

    def __init__(
        self,
        *,
        corp_id: str = "wwfakecorp0000001",
        secret: str = "fake-app-secret",
        agent_id: int | None = 1000002,  # None: accept any agentid
        known_users: Iterable[str] | None = None,  # None: every userid is valid
        robot_keys: Iterable[str] = (),
        token_ttl: float = 7200.0,
        clock: Callable[[], float] = time.monotonic,
        per_member_minute: int = 30,
        per_member_hour: int = 1000,
        api_per_minute: int | None = None,
        robot_per_minute: int = 20,
        schedule_allowed: bool = True,  # the app may call the 日程 API (admin console)
    ) -> None:
        super().__init__()
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = agent_id
        # WeCom userids are case-insensitive (it answers invaliduser lowercased), so match so.
        self.known_users = None if known_users is None else {u.lower() for u in known_users}
        self.robot_keys = set(robot_keys)
        self.token_ttl = token_ttl
        self.clock = clock
        self.per_member_minute = per_member_minute
        self.per_member_hour = per_member_hour
        self.api_per_minute = api_per_minute
        self.robot_per_minute = robot_per_minute
        self.schedule_allowed = schedule_allowed

        self.requests: list[RecordedRequest] = []
        self.token_calls = 0
        self.issued_tokens: list[str] = []
        self.delivered: list[Delivery] = []
        self.dropped: list[Delivery] = []  # over a per-member limit: WeCom drops these silently
        self.card_updates: list[CardUpdate] = []
        self.robot_posts: dict[str, list[RobotPost]] = {}
        self.media: dict[str, Media] = {}
        self.schedules: dict[str, Schedule] = {}  # schedule_id -> 日程

        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}  # token -> expires at (clock)
        self._response_codes: dict[str, float] = {}  # unused code -> expires at (clock)
        self._member_log: dict[tuple[str, str], deque[float]] = {}
        self._send_log: deque[float] = deque()
        self._send_blocked_until = float("-inf")
        self._robot_log: dict[str, deque[float]] = {}
        self._scripts: list[_Script] = []
        self._stall = 0.0
        self._stall_effective = True
        self._ids = itertools.count(1)

    # --- where it listens (started, stopped and closed by LoopbackServer) ---------------

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:PORT/cgi-bin/` — the client's API_BASE_URL."""
        return f"http://127.0.0.1:{self.port}/cgi-bin/"

    def robot_url(self, key: str) -> str:
        return f"{self.base_url}webhook/send?key={key}"

    # --- scripting ---------------------------------------------------------------------

    def fail_next(
        self,
        path_suffix: str,
        errcode: int,
        times: int = 1,
        body_extra: dict[str, Any] | None = None,
    ) -> None:
        """The next `times` calls to a path ending in `path_suffix` answer `errcode`.

        They take no effect (no token, no delivery) and do not count toward any limit.
        """
        with self._lock:
            self._scripts.append(_Script(path_suffix, times, errcode=errcode,
                                         body_extra=dict(body_extra or {})))

    def fail_next_http(self, path_suffix: str, status: int = 502, times: int = 1) -> None:
        """The next `times` calls answer a bare HTTP error (a transport failure, not errcode)."""
        with self._lock:
            self._scripts.append(_Script(path_suffix, times, status=status))

    def stall(self, seconds: float, *, effective: bool = True) -> None:
        """Every API response waits `seconds` (real time) before it is written; 0 clears it.

        With `effective=True` the request takes effect first and only the answer is late, as
        when a reply is lost on the way back: a client that times out and retries sends twice.
        With `effective=False` the fake waits before doing anything.
        """
        with self._lock:
            self._stall = seconds
            self._stall_effective = effective

    def expire_tokens(self) -> None:
        """Every token issued so far answers 42001 from now on."""
        with self._lock:
            for token in self._tokens:
                self._tokens[token] = float("-inf")

    def issue_response_code(self, code: str | None = None) -> str:
        """Register a response_code, as a user's click on a card does; returns it."""
        with self._lock:
            code = code or f"fake-response-code-{next(self._ids)}"
            self._response_codes[code] = self.clock() + RESPONSE_CODE_TTL
            return code

    def add_media(
        self,
        data: bytes,
        *,
        media_type: str = "image",
        filename: str = "photo.jpg",
        content_type: str = "image/jpeg",
    ) -> str:
        """Store a file as if a user had sent it; returns its media_id for media/get."""
        with self._lock:
            return self._store_media(Media(media_type, filename, content_type, data,
                                           int(time.time())))

    def expire_media(self, media_id: str) -> None:
        """Age a stored file past its three days: media/get answers invalid media_id."""
        with self._lock:
            media = self.media[media_id]
            self.media[media_id] = replace(media, created_at=media.created_at - MEDIA_TTL - 1)

    def respond(self, schedule_id: str, userid: str, status: int) -> None:
        """An attendee answers a 日程 in their calendar (DECLINED = 拒绝); the callback
        event that follows is the test's to send."""
        with self._lock:
            self.schedules[schedule_id].answers[userid.lower()] = status

    # --- reading the record --------------------------------------------------------------

    def live_schedules(self) -> dict[str, Schedule]:
        """The 日程 not cancelled, by id."""
        with self._lock:
            return {k: v for k, v in self.schedules.items() if v.status != SCHEDULE_CANCELLED}

    def delivered_to(self, userid: str) -> list[dict[str, Any]]:
        with self._lock:
            return [d.body for d in self.delivered if d.userid.lower() == userid.lower()]

    def texts_to(self, userid: str) -> list[str]:
        """The content of each text/markdown message delivered to `userid`, in order."""
        texts = []
        for body in self.delivered_to(userid):
            kind = body.get("msgtype")
            if kind in ("text", "markdown"):
                texts.append(str(body[kind]["content"]))
        return texts

    def calls_to(self, path_suffix: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith(path_suffix)]

    # --- the server side ------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, body: bytes, content_type: str) -> _Reply:
        split = urlsplit(raw_path)
        path = split.path
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        with self._lock:
            stall, effective = self._stall, self._stall_effective
        if stall > 0 and not effective:
            self._closing.wait(stall)
        reply = self._process(method, path, query, body, content_type)
        if stall > 0 and effective:
            self._closing.wait(stall)
        return reply

    def _process(
        self, method: str, path: str, query: dict[str, str], body: bytes, content_type: str,
    ) -> _Reply:
        with self._lock:
            now = self.clock()
            parsed = _parse_body(body, content_type)
            shown = {k: (REDACTED if k == "corpsecret" else v) for k, v in query.items()}
            self.requests.append(RecordedRequest(method, path, shown, parsed, now))

            script = self._take_script(path)
            if script is not None:
                if script.status is not None:
                    return _Reply(script.status, b"<html>bad gateway</html>", "text/html")
                assert script.errcode is not None
                return _error(script.errcode, **script.body_extra)

            route = _ROUTES.get(path)
            if route is None:
                return _Reply(404, b"<html>404 Not Found</html>", "text/html")
            wanted, handler = route
            if method != wanted:
                return _error(REQUIRE_POST_METHOD)
            return handler(self, query, parsed, now)

    def _take_script(self, path: str) -> _Script | None:
        for script in self._scripts:
            if path.endswith(script.path_suffix) and script.remaining > 0:
                script.remaining -= 1
                if script.remaining == 0:
                    self._scripts.remove(script)
                return script
        return None

    def _check_token(self, query: dict[str, str], now: float) -> _Reply | None:
        token = query.get("access_token", "")
        if not token:
            return _error(MISSING_ACCESS_TOKEN)
        expires_at = self._tokens.get(token)
        if expires_at is None:
            return _error(INVALID_ACCESS_TOKEN)
        if now >= expires_at:
            return _error(EXPIRED_ACCESS_TOKEN)
        return None

    def _check_agent(self, body: dict[str, Any]) -> _Reply | None:
        if self.agent_id is None:
            return None
        try:
            agent = int(body.get("agentid", ""))
        except (TypeError, ValueError):
            return _error(INVALID_AGENT_ID)
        return None if agent == self.agent_id else _error(INVALID_AGENT_ID)

    def _store_media(self, media: Media) -> str:
        media_id = f"fake-media-{next(self._ids)}"
        self.media[media_id] = media
        return media_id

    # --- endpoints (called with the lock held) ---------------------------------------------

    def _gettoken(self, query: dict[str, str], _body: Any, now: float) -> _Reply:
        self.token_calls += 1
        if query.get("corpid") != self.corp_id:
            return _error(INVALID_CORP_ID)
        if query.get("corpsecret") != self.secret:
            return _error(INVALID_CREDENTIAL)
        token = f"fake-access-token-{next(self._ids)}"
        self._tokens[token] = now + self.token_ttl
        self.issued_tokens.append(token)
        return _ok(access_token=token, expires_in=int(self.token_ttl))

    def _message_send(self, query: dict[str, str], body: Any, now: float) -> _Reply:
        problem = self._check_token(query, now)
        if problem is not None:
            return problem
        if self.api_per_minute is not None:
            # WeCom blocks for 60 s once a per-minute limit is hit (PLATFORMS §2).
            _prune(self._send_log, now - MINUTE)
            if now < self._send_blocked_until:
                return _error(API_FREQ_OUT_OF_LIMIT)
            if len(self._send_log) >= self.api_per_minute:
                self._send_blocked_until = now + MINUTE
                return _error(API_FREQ_OUT_OF_LIMIT)
            self._send_log.append(now)
        if not isinstance(body, dict):
            return _error(INVALID_JSON)
        problem = self._check_agent(body)
        if problem is not None:
            return problem
        msgtype = body.get("msgtype")
        if msgtype not in APP_MSGTYPES or not isinstance(body.get(msgtype), dict):
            return _error(INVALID_MESSAGE_TYPE)

        users = _split(body.get("touser"))
        if len(users) > MAX_TOUSER:
            return _error(TOO_MANY_RECIPIENTS)
        if users == ["@all"]:
            users = sorted(self.known_users) if self.known_users is not None else ["@all"]
        users = _dedupe(users)
        known = self.known_users
        valid = [u for u in users if known is None or u.lower() in known]
        invalid = [u.lower() for u in users if known is not None and u.lower() not in known]
        # The fake has no departments or tags: every party and tag is invalid.
        extra: dict[str, str] = {}
        if invalid:
            extra["invaliduser"] = "|".join(invalid)
        if parties := _split(body.get("toparty")):
            extra["invalidparty"] = "|".join(parties)
        if tags := _split(body.get("totag")):
            extra["invalidtag"] = "|".join(tags)
        if not valid:
            return _error(ALL_RECIPIENTS_INVALID, **extra)

        agent = str(body.get("agentid", ""))  # limits are per app and member
        for user in valid:
            log = self._member_log.setdefault((agent, user.lower()), deque())
            _prune(log, now - HOUR)
            last_minute = sum(1 for t in log if t > now - MINUTE)
            record = Delivery(user, body, now)
            if last_minute >= self.per_member_minute or len(log) >= self.per_member_hour:
                self.dropped.append(record)
            else:
                log.append(now)
                self.delivered.append(record)

        # Empty invalid* fields are left out, so a bot must read them with .get().
        reply: dict[str, Any] = {"msgid": f"fake-msgid-{next(self._ids)}", **extra}
        card = body.get("template_card")
        if isinstance(card, dict) and card.get("card_type") in INTERACTIVE_CARDS:
            code = f"fake-response-code-{next(self._ids)}"
            self._response_codes[code] = now + RESPONSE_CODE_TTL
            reply["response_code"] = code
        return _ok(**reply)

    def _update_template_card(self, query: dict[str, str], body: Any, now: float) -> _Reply:
        problem = self._check_token(query, now)
        if problem is not None:
            return problem
        if not isinstance(body, dict):
            return _error(INVALID_JSON)
        problem = self._check_agent(body)
        if problem is not None:
            return problem
        code = str(body.get("response_code", ""))
        expires_at = self._response_codes.pop(code, None)  # single use: gone once tried
        if expires_at is None or now >= expires_at:
            return _error(INVALID_RESPONSE_CODE)
        self.card_updates.append(CardUpdate(code, body, now))
        return _ok()

    def _webhook_send(self, query: dict[str, str], body: Any, now: float) -> _Reply:
        key = query.get("key", "")
        if key not in self.robot_keys:
            return _error(INVALID_ROBOT_KEY)
        if not isinstance(body, dict):
            return _error(INVALID_JSON)
        msgtype = body.get("msgtype")
        if msgtype not in ROBOT_MSGTYPES or not isinstance(body.get(msgtype), dict):
            return _error(INVALID_MESSAGE_TYPE)
        limit = {"text": ROBOT_TEXT_MAX_BYTES, "markdown": ROBOT_MARKDOWN_MAX_BYTES}.get(msgtype)
        content = str(body[msgtype].get("content", ""))
        if limit is not None and len(content.encode("utf-8")) > limit:
            return _error(CONTENT_TOO_LONG)
        log = self._robot_log.setdefault(key, deque())
        _prune(log, now - MINUTE)
        if len(log) >= self.robot_per_minute:
            return _error(API_FREQ_OUT_OF_LIMIT)
        log.append(now)
        self.robot_posts.setdefault(key, []).append(RobotPost(body, now))
        return _ok()

    def _media_upload(self, query: dict[str, str], body: Any, now: float) -> _Reply:
        problem = self._check_token(query, now)
        if problem is not None:
            return problem
        media_type = query.get("type", "")
        if media_type not in MEDIA_TYPES:
            return _error(INVALID_MEDIA_TYPE)
        files = body.get("files", {}) if isinstance(body, dict) else {}
        part = files.get("media")
        if not part or not part["data"]:
            return _error(EMPTY_MEDIA)
        created = int(time.time())
        media_id = self._store_media(
            Media(media_type, part["filename"], part["content_type"], part["data"], created))
        return _ok(type=media_type, media_id=media_id, created_at=str(created))

    def _media_get(self, query: dict[str, str], _body: Any, now: float) -> _Reply:
        problem = self._check_token(query, now)
        if problem is not None:
            return problem
        media = self.media.get(query.get("media_id", ""))
        if media is None or time.time() - media.created_at > MEDIA_TTL:
            return _error(INVALID_MEDIA_ID)  # unknown, or past its three days
        disposition = f'attachment; filename="{media.filename}"'
        return _Reply(200, media.data, media.content_type,
                      {"Content-Disposition": disposition})

    # --- 日程 ---------------------------------------------------------------------------

    def _schedule_request(self, query: dict[str, str], body: Any, now: float) -> _Reply | None:
        problem = self._check_token(query, now)
        if problem is not None:
            return problem
        if not self.schedule_allowed:
            return _error(API_FORBIDDEN)
        return None if isinstance(body, dict) else _error(INVALID_JSON)

    def _schedule_problem(self, schedule: Any) -> _Reply | None:
        """Why a `schedule` object would be refused, if it would (93648's field rules)."""
        if not isinstance(schedule, dict):
            return _error(INVALID_JSON)
        start, end = schedule.get("start_time"), schedule.get("end_time")
        if type(start) is not int or type(end) is not int or end <= start:
            return _error(INVALID_JSON)
        for name, limit in (("summary", SCHEDULE_TEXT_MAX), ("location", SCHEDULE_TEXT_MAX),
                            ("description", SCHEDULE_DESCRIPTION_MAX)):
            value = schedule.get(name, "")
            if not isinstance(value, str) or len(value) > limit:
                return _error(INVALID_JSON)
        attendees = schedule.get("attendees", [])
        if not isinstance(attendees, list) or len(attendees) > SCHEDULE_MAX_ATTENDEES:
            return _error(INVALID_JSON)
        users = [a.get("userid") if isinstance(a, dict) else None for a in attendees]
        if "organizer" in schedule:
            users.append(schedule["organizer"])
        for user in users:
            if not isinstance(user, str) or not user or len(user.encode()) > 64:
                return _error(INVALID_JSON)
            if self.known_users is not None and user.lower() not in self.known_users:
                return _error(INVALID_USERID)
        reminders = schedule.get("reminders", {})
        if not isinstance(reminders, dict) or reminders.get("is_remind", 0) not in (0, 1):
            return _error(INVALID_JSON)
        before = reminders.get("remind_before_event_secs", 0)
        diffs = reminders.get("remind_time_diffs", [])
        if before not in REMIND_BEFORE_EVENT_SECS or not isinstance(diffs, list) or any(
                d not in REMIND_TIME_DIFFS for d in diffs):
            return _error(INVALID_JSON)
        return None

    def _live_schedule(self, schedule_id: Any) -> Schedule | None:
        found = self.schedules.get(schedule_id) if isinstance(schedule_id, str) else None
        return found if found is not None and found.status != SCHEDULE_CANCELLED else None

    def _schedule_add(self, query: dict[str, str], body: Any, now: float) -> _Reply:
        problem = self._schedule_request(query, body, now)
        if problem is not None:
            return problem
        schedule = body.get("schedule")
        problem = self._schedule_problem(schedule)
        if problem is not None:
            return problem
        schedule_id = f"fakeschedule{next(self._ids):020d}"  # 32 characters, as real ones
        self.schedules[schedule_id] = Schedule(
            dict(schedule), answers={a["userid"].lower(): UNANSWERED
                                     for a in schedule.get("attendees", [])})
        return _ok(schedule_id=schedule_id)

    def _schedule_update(self, query: dict[str, str], body: Any, now: float) -> _Reply:
        problem = self._schedule_request(query, body, now)
        if problem is not None:
            return problem
        schedule = body.get("schedule")
        found = self._live_schedule(schedule.get("schedule_id")
                                    if isinstance(schedule, dict) else None)
        if found is None:
            return _error(UNKNOWN_SCHEDULE)
        problem = self._schedule_problem(schedule)
        if problem is not None:
            return problem
        # Overwrites (97720: "更新操作是覆盖式"); those still invited keep their answer.
        found.body = {k: v for k, v in schedule.items() if k != "schedule_id"}
        found.answers = {a["userid"].lower(): found.answers.get(a["userid"].lower(), UNANSWERED)
                         for a in schedule.get("attendees", [])}
        found.updates += 1
        return _ok()

    def _schedule_del(self, query: dict[str, str], body: Any, now: float) -> _Reply:
        problem = self._schedule_request(query, body, now)
        if problem is not None:
            return problem
        found = self._live_schedule(body.get("schedule_id"))
        if found is None:
            return _error(UNKNOWN_SCHEDULE)
        found.status = SCHEDULE_CANCELLED
        return _ok()

    def _schedule_get(self, query: dict[str, str], body: Any, now: float) -> _Reply:
        problem = self._schedule_request(query, body, now)
        if problem is not None:
            return problem
        wanted = body.get("schedule_id_list")
        if not isinstance(wanted, list) or not 1 <= len(wanted) <= 1000:
            return _error(INVALID_JSON)
        found = []
        for schedule_id in wanted:
            held = self.schedules.get(schedule_id) if isinstance(schedule_id, str) else None
            if held is None:
                continue
            shown = {k: v for k, v in held.body.items() if k != "organizer"}
            found.append({**shown, "schedule_id": schedule_id, "status": held.status,
                          "attendees": [{"userid": u, "response_status": s}
                                        for u, s in held.answers.items()]})
        return _ok(schedule_list=found)


_Endpoint = Callable[[FakeWeCom, dict[str, str], Any, float], _Reply]
_ROUTES: dict[str, tuple[str, _Endpoint]] = {
    "/cgi-bin/gettoken": ("GET", FakeWeCom._gettoken),
    "/cgi-bin/message/send": ("POST", FakeWeCom._message_send),
    "/cgi-bin/message/update_template_card": ("POST", FakeWeCom._update_template_card),
    "/cgi-bin/webhook/send": ("POST", FakeWeCom._webhook_send),
    "/cgi-bin/media/upload": ("POST", FakeWeCom._media_upload),
    "/cgi-bin/media/get": ("GET", FakeWeCom._media_get),
    "/cgi-bin/oa/schedule/add": ("POST", FakeWeCom._schedule_add),
    "/cgi-bin/oa/schedule/update": ("POST", FakeWeCom._schedule_update),
    "/cgi-bin/oa/schedule/del": ("POST", FakeWeCom._schedule_del),
    "/cgi-bin/oa/schedule/get": ("POST", FakeWeCom._schedule_get),
}


def _json_reply(payload: dict[str, Any]) -> _Reply:
    return _Reply(body=json.dumps(payload, ensure_ascii=False).encode("utf-8"))


def _ok(**fields: Any) -> _Reply:
    return _json_reply({"errcode": 0, "errmsg": "ok", **fields})


def _error(errcode: int, **extra: Any) -> _Reply:
    # Real errmsgs carry a hint and a link; decide by errcode, never by errmsg text.
    errmsg = (f"{ERRMSG.get(errcode, 'error')}, hint: [fake], more info at "
              f"https://open.work.weixin.qq.com/devtool/query?e={errcode}")
    return _json_reply({"errcode": errcode, "errmsg": errmsg, **extra})


def _split(recipients: Any) -> list[str]:
    if not recipients:
        return []
    return [r.strip() for r in str(recipients).split("|") if r.strip()]


def _dedupe(users: list[str]) -> list[str]:
    seen: set[str] = set()
    unique = []
    for user in users:
        if user.lower() not in seen:
            seen.add(user.lower())
            unique.append(user)
    return unique


def _prune(log: deque[float], older_than: float) -> None:
    while log and log[0] <= older_than:
        log.popleft()


def _parse_body(body: bytes, content_type: str) -> Any:
    if not body:
        return None
    if content_type.startswith("multipart/form-data"):
        return _parse_multipart(body, content_type)
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return body


def _parse_multipart(body: bytes, content_type: str) -> dict[str, Any]:
    fields, files = parse_multipart(body, content_type)
    return {"fields": fields, "files": files}
