"""What every outbound channel offers the delivery loop, and how sending can fail.

Two kinds of failure (as nonebot2 separates them): a transient one (network, rate limit,
platform busy) is retried with back-off; a permanent one (unknown recipient, channel not
configured, blocked) is recorded and shown to admins, and never retried.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from typing import Any, Protocol

from handlers.messages import Reply

log = logging.getLogger(__name__)


class SendError(Exception):
    """Sending failed; the message says why, without secrets."""


class TransientSendError(SendError):
    pass


class ChannelUnavailable(TransientSendError):
    """The platform cannot be reached at all (network down, HTTP errors, the whole app
    blocked for a while): the delivery loop tries nothing more on the channel this pass."""


class PermanentSendError(SendError):
    pass


class ChannelStartFailed(Exception):
    """A channel could not start (a refused token, an unreachable platform); the message
    says why and what to check, in Chinese, and never carries a secret."""


class Outbound(Protocol):
    name: str

    def reaches(self, recipient: str, group: bool) -> bool:
        """Whether this channel, as running now, can deliver to this person or unit group."""
        ...

    def send(self, recipient: str, group: bool, reply: Reply) -> None:
        """Deliver, or raise `TransientSendError` / `PermanentSendError`."""
        ...


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, marked when cut."""
    return text if len(text) <= limit else text[:limit - 1] + "…"


class Recent:
    """The ids of the last `size` messages or taps a platform delivered: one delivered
    again is dropped in memory (the store's source keys hold it across restarts)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._keys: OrderedDict[Hashable, None] = OrderedDict()

    def first_time(self, key: Hashable) -> bool:
        """Whether `key` is new (and now remembered); an empty key always is."""
        if key == "":
            return True
        if key in self._keys:
            return False
        self._keys[key] = None
        while len(self._keys) > self.size:
            self._keys.popitem(last=False)
        return True

    def clear(self) -> None:
        self._keys.clear()


class Background:
    """Work a channel set going after answering (follow-ups, card updates, answers to
    pushed frames): kept so that shutdown and tests can wait for it."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Future[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def later(self, job: Any) -> None:
        task = asyncio.ensure_future(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def settle(self, seconds: float, what: str) -> None:
        """`drain`, but at most `seconds` (at shutdown); what is left is logged."""
        try:
            await asyncio.wait_for(self.drain(), seconds)
        except TimeoutError:
            log.warning("%d %s still in flight at shutdown were abandoned", len(self), what)


class Turns:
    """Messages handled side by side, each sender's in order: one person's slow file
    download holds up nobody else, and their check-in is recorded before the photo that
    belongs to it. A lock per sender, kept while anyone holds or awaits it."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def of(self, sender: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(sender, (asyncio.Lock(), 0))
        self._locks[sender] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            left = self._locks[sender][1] - 1
            if left:
                self._locks[sender] = (lock, left)
            else:
                del self._locks[sender]


def utf8_size(text: str) -> int:
    return len(text.encode())


def split_text(text: str, limit: int, size: Callable[[str], int] = utf8_size) -> list[str]:
    """Pieces of at most `limit` (by `size`: UTF-8 bytes, or `len` for characters), cut
    between lines where possible and inside a line only when it alone is too long."""
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if size(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        while size(line) > limit:
            cut = _longest_prefix(line, limit, size)
            pieces.append(line[:cut])
            line = line[cut:]
        current = line
    if current:
        pieces.append(current)
    return pieces


def _longest_prefix(line: str, limit: int, size: Callable[[str], int]) -> int:
    """How many characters of `line` fit in `limit` (at least one)."""
    low, high = 1, len(line)
    while low < high:
        middle = (low + high + 1) // 2
        if size(line[:middle]) <= limit:
            low = middle
        else:
            high = middle - 1
    return low
