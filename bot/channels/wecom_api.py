"""WeCom (企业微信) app messages: wechatpy's enterprise client behind our own rules.

wechatpy 1.8.18 is synchronous (requests), retries token errors without a cap, has no
timeout by default and hard-codes the gettoken URL (PLATFORMS.md §4). So the client here:
sets a timeout on every request, turns `auto_retry` off and retries a bounded number of
times itself (a fresh token on 40014/42001, a short pause on -1), fetches tokens from the
configured base URL, and maps WeCom's error codes onto our two kinds of failure. Sends go
through per-member rate limits (30 a minute, 1000 an hour by default) because WeCom drops
messages beyond them silently. It runs in worker threads, never on the event loop.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import requests
from wechatpy.enterprise import WeChatClient
from wechatpy.exceptions import WeChatClientException

from bot.channels.base import (
    ChannelUnavailable,
    PermanentSendError,
    SendError,
    TransientSendError,
    clip,
    split_text,
)
from bot.channels.buttons import button_key
from bot.channels.ratelimit import Limit, RateLimiter
from bot.channels.wecom import USERID
from bot.evidence import Fetched, FetchFailed, FetchTooBig
from handlers.messages import Reply
from schedules.model import Org
from schedules.tasks import Attachment

log = logging.getLogger(__name__)

TEXT_LIMIT = 2048  # bytes of UTF-8 in a text or markdown message
CARD_TEXT = 112  # characters a template card's sub_title_text should hold (WeCom's advice)
TOKEN_ERRORS = (40014, 42001)  # invalid / expired access_token: fetch a new one
BUSY = -1
RATE_LIMITED = 45009
ALL_INVALID = 81013
IP_NOT_ALLOWED = 60020
RATE_WAIT = "为遵守企业微信对每人每分钟、每小时的条数限制，稍后发送"
WINDOW_MARGIN = 1.0  # seconds added to each rate-limit window
COOL_DOWN = 60.0  # after 45009, WeCom blocks for a minute: do not knock before then

PERMANENT = {
    ALL_INVALID: "接收人无效或不在应用的可见范围内（81013）：请核对此人的 wecom_userid，"
                 "并在企业微信管理后台把他加入本应用的可见范围",
    IP_NOT_ALLOWED: "本服务器的 IP 不在应用的企业可信IP 列表中（60020）：请在企业微信管理后台"
                    " → 应用管理 → 本应用 → 企业可信IP 中加入服务器的出口 IP",
    40001: "企业微信 Secret 无效（40001）：请检查 secret_env 指定的环境变量",
    40013: "企业微信 CorpID 无效（40013）：请检查配置中的 corp_id",
    48002: "应用没有此接口的权限（48002）：请在企业微信管理后台检查应用权限",
    60011: "应用没有此成员的权限（60011）：请把此人加入应用的可见范围",
    40003: "成员 UserID 不合法（40003）：请核对配置中的 wecom_userid",
}
# The 日程 API needs its own grant (doc 93648's copy on juejin.cn/post/6997407224893014023:
# 应用管理 → 应用 → 日程 →「可调用接口的应用」); a refusal says where to give it.
SCHEDULE_PERMANENT = {
    **PERMANENT,
    48002: "应用没有调用日程接口的权限（48002）：请在企业微信管理后台 → 应用管理 → 日程 →"
           "「可调用接口的应用」中加入本应用",
}


class _TimeoutSession(requests.Session):
    """wechatpy's gettoken call passes no timeout; this session supplies one to every call."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self.default_timeout = timeout

    def request(self, method: str, url: str | bytes, *args: Any,
                **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.default_timeout
        return super().request(method, url, *args, **kwargs)


class _Client(WeChatClient):  # type: ignore[misc]
    """wechatpy's enterprise client, fetching tokens from the configured base URL."""

    def fetch_access_token(self) -> dict[str, Any]:
        result: dict[str, Any] = self._fetch_access_token(
            url=self.API_BASE_URL + "gettoken",
            params={"corpid": self.corp_id, "corpsecret": self.secret})
        return result


class WeComAPI:
    """The calls dutybot makes, with bounded retries and typed failures."""

    def __init__(self, corp_id: str, secret: str, agent_id: int, base_url: str,
                 timeout: float = 10.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.agent_id = agent_id
        self.client = _Client(corp_id, secret, timeout=timeout, auto_retry=False)
        self.client.API_BASE_URL = base_url if base_url.endswith("/") else base_url + "/"
        self.client._http = _TimeoutSession(timeout)
        self.clock, self.sleep = clock, sleep
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def call(self, action: Callable[[], dict[str, Any]], attempts: int = 3,
             words: dict[int, str] = PERMANENT) -> dict[str, Any]:
        with self._lock:
            blocked = self._blocked_until - self.clock()
        if blocked > 0:
            raise ChannelUnavailable(f"企业微信接口限频（45009），{blocked:.0f} 秒后再试")
        for attempt in range(1, attempts + 1):
            try:
                return action()
            except WeChatClientException as e:
                code = e.errcode
                if code in TOKEN_ERRORS and attempt < attempts:
                    log.info("WeCom access token rejected (%s); fetching a new one", code)
                    self._refresh_token()
                    continue
                if code == BUSY and attempt < attempts:
                    self.sleep(1.0)
                    continue
                raise self._failure(e, words) from None
            except requests.RequestException as e:
                raise ChannelUnavailable(f"连接企业微信失败：{type(e).__name__}") from None
        raise AssertionError("unreachable")

    def _refresh_token(self) -> None:
        try:
            self.client.fetch_access_token()
        except WeChatClientException as e:
            raise self._failure(e) from None
        except requests.RequestException as e:
            raise ChannelUnavailable(f"连接企业微信失败：{type(e).__name__}") from None

    def _failure(self, e: WeChatClientException,
                 words: dict[int, str] = PERMANENT) -> SendError:
        code = e.errcode
        if code == RATE_LIMITED:
            with self._lock:
                self._blocked_until = self.clock() + COOL_DOWN
            return ChannelUnavailable("企业微信接口限频（45009），稍后重试")
        if code in words:
            return PermanentSendError(words[code])
        if code is None:  # an HTTP error status, not a WeCom answer
            return ChannelUnavailable("企业微信接口返回 HTTP 错误")
        return TransientSendError(f"企业微信返回错误码 {code}")

    def send(self, userids: Sequence[str], message: dict[str, Any]) -> dict[str, Any]:
        return self.call(lambda: self.client.message.send(self.agent_id, list(userids),
                                                          msg=message))

    def update_card(self, userid: str, response_code: str, label: str) -> None:
        self.call(lambda: self.client.post("message/update_template_card", data={
            "userids": [userid], "agentid": self.agent_id, "response_code": response_code,
            "button": {"replace_name": label}}), attempts=2)

    def media(self, attachment: Attachment, limit: int) -> Fetched:
        """A file a person sent (获取临时素材 `media/get`; its id lasts three days), at most
        `limit` bytes. WeCom answers an error as JSON instead of the file."""
        for attempt in (1, 2):
            try:
                response = self.client._http.get(
                    self.client.API_BASE_URL + "media/get", stream=True,
                    params={"access_token": self.client.access_token,
                            "media_id": attachment.ref})
            except (requests.RequestException, WeChatClientException) as e:
                raise FetchFailed(f"连接企业微信失败：{type(e).__name__}") from None
            with response:
                if response.status_code != 200:
                    raise FetchFailed(f"HTTP {response.status_code}",
                                      transient=response.status_code >= 500)
                kind = response.headers.get("Content-Type", "").split(";")[0].strip()
                try:
                    data = read_capped(response, limit)
                except requests.RequestException as e:
                    raise FetchFailed(f"下载中断：{type(e).__name__}") from None
            if "json" in kind:
                code = _errcode(data)
                if code in TOKEN_ERRORS and attempt == 1:
                    self._refresh_token()
                    continue
                raise FetchFailed(f"企业微信返回错误码 {code}", transient=code == BUSY)
            return Fetched(data, _file_name(response.headers.get("Content-Disposition", "")),
                           kind)
        raise FetchFailed("企业微信两次拒绝了 access_token")

    # ---- 日程 (oa/schedule/*: doc 93648 add, 97720 update, 97725 del, 97724 get) ----------

    def _schedule_call(self, path: str, data: dict[str, Any]) -> dict[str, Any]:
        return self.call(lambda: self.client.post(path, data=data), words=SCHEDULE_PERMANENT)

    def add_schedule(self, schedule: dict[str, Any]) -> str:
        """A new 日程 in the app's default calendar (no cal_id); its schedule_id."""
        result = self._schedule_call("oa/schedule/add", {"schedule": schedule})
        schedule_id = result.get("schedule_id")
        if not isinstance(schedule_id, str) or not schedule_id:
            raise TransientSendError("企业微信创建日程后没有返回日程 ID")
        return schedule_id

    def update_schedule(self, schedule_id: str, schedule: dict[str, Any]) -> None:
        """Overwrite the 日程 (97720: "更新操作是覆盖式"), attendees included."""
        self._schedule_call("oa/schedule/update",
                            {"schedule": {**schedule, "schedule_id": schedule_id}})

    def delete_schedule(self, schedule_id: str) -> None:
        self._schedule_call("oa/schedule/del", {"schedule_id": schedule_id})

    def schedule(self, schedule_id: str) -> dict[str, Any] | None:
        """The 日程 as WeCom holds it (a cancelled one too, with status 1), or None."""
        result = self._schedule_call("oa/schedule/get", {"schedule_id_list": [schedule_id]})
        found = result.get("schedule_list")
        if not isinstance(found, list):
            return None
        return next((s for s in found if isinstance(s, dict)
                     and s.get("schedule_id") == schedule_id), None)


def read_capped(response: requests.Response, limit: int) -> bytes:
    """The body, or `FetchTooBig` as soon as it passes `limit` bytes."""
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise FetchTooBig(size)
        chunks.append(chunk)
    return b"".join(chunks)


def _errcode(body: bytes) -> int | None:
    try:
        found = json.loads(body)
    except ValueError:
        return None
    code = found.get("errcode") if isinstance(found, dict) else None
    return code if isinstance(code, int) else None


def _file_name(disposition: str) -> str:
    """The file name in a Content-Disposition header (`filename*=` UTF-8 or `filename=`)."""
    match = re.search(r"filename\*=(?:UTF-8'')?([^;]+)", disposition, re.IGNORECASE)
    if match:
        return unquote(match[1].strip().strip('"'))[:200]
    match = re.search(r'filename="?([^";]+)"?', disposition, re.IGNORECASE)
    return match[1].strip()[:200] if match else ""


# ---- the channel ------------------------------------------------------------------------

@dataclass(frozen=True)
class WeComLimits:
    member_per_minute: int = 30
    member_per_hour: int = 1000
    api_per_minute: int = 10_000  # message/send calls by this app (the base API rate)


class WeComChannel:
    """Direct messages to people through the self-built app: reminders as template cards
    with 已完成 / 查看待办 buttons (or markdown, when cards are switched off)."""

    name = "wecom"

    def __init__(self, org: Org, api: WeComAPI, cards: bool = True,
                 limits: WeComLimits = WeComLimits(), max_wait: float = 5.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.org, self.api, self.cards, self.max_wait = org, api, cards, max_wait
        # A second of margin: WeCom counts by its own clock, when a request arrives.
        self.limiter = RateLimiter(
            [Limit(limits.member_per_minute, 60.0 + WINDOW_MARGIN),
             Limit(limits.member_per_hour, 3600.0 + WINDOW_MARGIN)], clock, sleep)
        self.calls = RateLimiter([Limit(limits.api_per_minute, 60.0 + WINDOW_MARGIN)], clock,
                                 sleep)
        self._userids = {p.id: a for p in org.people.values() if (a := p.address(USERID.key))}
        self._people = {u.lower(): pid for pid, u in self._userids.items()}

    def reaches(self, recipient: str, group: bool) -> bool:
        return not group and recipient in self._userids

    def userid_of(self, person: str) -> str | None:
        return self._userids.get(person)

    def person_of(self, userid: str) -> str | None:
        """The person id behind a WeCom userid (compared as WeCom does, ignoring case)."""
        return self._people.get(userid.lower())

    def send(self, recipient: str, group: bool, reply: Reply) -> None:
        failed = self.send_many([recipient], reply)
        if recipient in failed:
            raise failed[recipient]

    def send_many(self, recipients: Sequence[str], reply: Reply) -> dict[str, SendError]:
        """One message to several people in as few calls as WeCom allows (1000 each);
        returns who it failed for, and why. People at their rate limit wait (up to
        `max_wait`), else are reported as a transient failure to be retried later."""
        failed: dict[str, SendError] = {}
        ready: list[str] = []
        for r in recipients:
            userid = self._userids.get(r)
            if userid is None:
                failed[r] = PermanentSendError("此人没有登记企业微信账号（wecom_userid）")
            elif self.limiter.acquire([userid], self.max_wait):
                ready.append(r)
            else:
                failed[r] = TransientSendError(RATE_WAIT)
        for start in range(0, len(ready), 1000):
            chunk = ready[start:start + 1000]
            failed |= self._send_chunk(chunk, reply)
        return failed

    def _send_chunk(self, recipients: list[str], reply: Reply) -> dict[str, SendError]:
        userids = [self._userids[r] for r in recipients]
        failed: dict[str, SendError] = {}
        messages = self.messages(reply)
        for _ in messages:
            if not self.calls.acquire(["message/send"], self.max_wait):
                return {r: TransientSendError(RATE_WAIT) for r in recipients}
        try:
            for message in messages:
                result = self.api.send(userids, message)
                invalid = {u.lower() for u in str(result.get("invaliduser") or "").split("|")
                           if u}
                for r, u in zip(recipients, userids, strict=True):
                    if u.lower() in invalid:
                        failed[r] = PermanentSendError(PERMANENT[ALL_INVALID])
        except SendError as e:
            return {r: e for r in recipients}
        return failed

    def messages(self, reply: Reply) -> list[dict[str, Any]]:
        """The WeCom message bodies for a reply: a template card when it has buttons (and
        cards are on) and fits one — a reminder, with its headline — else text in pieces
        under the size limit (a long list such as 待办 would be cut short on a card)."""
        if self.cards and reply.buttons and (reply.title or len(reply.text) <= CARD_TEXT):
            return [self.card(reply)]
        return [{"msgtype": "text", "text": {"content": piece}}
                for piece in split_text(reply.text, TEXT_LIMIT)]

    def card(self, reply: Reply) -> dict[str, Any]:
        first = reply.text.split("\n", 1)[0]
        return {"msgtype": "template_card", "template_card": {
            "card_type": "button_interaction",
            "main_title": {"title": clip(reply.title or first, 26)},
            "sub_title_text": clip(reply.summary or reply.text, CARD_TEXT),
            # Unique per app; letters, digits and _-@ only, ≤ 128 bytes (PLATFORMS.md §2).
            "task_id": f"dutybot-{uuid.uuid4().hex}",
            "button_list": [{"text": b.label, "style": 1 if i == 0 else 2,
                             "key": button_key(b)}
                            for i, b in enumerate(reply.buttons[:6])],
        }}
