"""WeCom group robots (群机器人): the weekly digest into each unit's work group.

A robot is a send-only webhook (`webhook/send?key=`), one per group, its key read from the
environment variable the unit's config names. Messages are markdown with `<@userid>`
mentions, split under the 4096-byte limit between lines; at most 20 a minute per robot
(PLATFORMS.md §3), waited for rather than exceeded. Errors come as HTTP 200 with an
errcode: 93000 (bad key) is permanent, 45009 (rate limit) and the rest are retried later.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from bot.channels.base import (
    ChannelUnavailable,
    PermanentSendError,
    TransientSendError,
    split_text,
)
from bot.channels.ratelimit import Limit, RateLimiter
from bot.channels.wecom import USERID
from bot.channels.wecom_api import WINDOW_MARGIN
from handlers.messages import Reply
from schedules.model import Org

MARKDOWN_LIMIT = 4096  # bytes
BAD_KEY = 93000
RATE_LIMITED = 45009


class RobotChannel:
    name = "wecom-robot"

    def __init__(self, org: Org, keys: Mapping[str, str], base_url: str,
                 per_minute: int = 20, timeout: float = 10.0, max_wait: float = 10.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.org = org
        self.keys = dict(keys)  # unit id -> robot key
        self.url = (base_url if base_url.endswith("/") else base_url + "/") + "webhook/send"
        self.timeout, self.max_wait = timeout, max_wait
        self.limiter = RateLimiter([Limit(per_minute, 60.0 + WINDOW_MARGIN)], clock, sleep)
        self.http = requests.Session()

    def reaches(self, recipient: str, group: bool) -> bool:
        return group and recipient in self.keys

    def content(self, reply: Reply) -> str:
        userids = [u for p in (self.org.people.get(i) for i in reply.mentions)
                   if p is not None and (u := p.address(USERID.key))]
        mentions = " ".join(f"<@{u}>" for u in userids)
        return f"{reply.text}\n{mentions}" if mentions else reply.text

    def send(self, recipient: str, group: bool, reply: Reply) -> None:
        key = self.keys[recipient]
        pieces = split_text(self.content(reply), MARKDOWN_LIMIT)
        # All pieces' turns first, so a long digest is never cut off by the limit halfway.
        for _ in pieces:
            if not self.limiter.acquire([key], self.max_wait):
                raise TransientSendError("为遵守群机器人每分钟 20 条的限制，稍后发送")
        for piece in pieces:
            self._post(key, {"msgtype": "markdown", "markdown": {"content": piece}})

    def _post(self, key: str, body: dict[str, Any]) -> None:
        try:
            response = self.http.post(self.url, params={"key": key}, json=body,
                                      timeout=self.timeout)
            response.raise_for_status()
            result = response.json()
        except (requests.RequestException, ValueError) as e:
            raise ChannelUnavailable(f"连接群机器人失败：{type(e).__name__}") from None
        code = result.get("errcode", 0)
        if code == BAD_KEY:
            raise PermanentSendError("群机器人 key 无效（93000）：请核对该单位 wecom_robot_key_env "
                                     "指定的环境变量，或在群里重新添加机器人")
        if code == RATE_LIMITED:
            raise TransientSendError("群机器人限频（45009），稍后重试")
        if code != 0:
            raise TransientSendError(f"群机器人返回错误码 {code}")
