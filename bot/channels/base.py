"""What every outbound channel offers the delivery loop, and how sending can fail.

Two kinds of failure (as nonebot2 separates them): a transient one (network, rate limit,
platform busy) is retried with back-off; a permanent one (unknown recipient, channel not
configured, blocked) is recorded and shown to admins, and never retried.
"""

from __future__ import annotations

from typing import Protocol

from handlers.messages import Reply


class SendError(Exception):
    """Sending failed; the message says why, without secrets."""


class TransientSendError(SendError):
    pass


class ChannelUnavailable(TransientSendError):
    """The platform cannot be reached at all (network down, HTTP errors, the whole app
    blocked for a while): the delivery loop tries nothing more on the channel this pass."""


class PermanentSendError(SendError):
    pass


class Outbound(Protocol):
    name: str

    def reaches(self, recipient: str, group: bool) -> bool:
        """Whether this channel, as running now, can deliver to this person or unit group."""
        ...

    def send(self, recipient: str, group: bool, reply: Reply) -> None:
        """Deliver, or raise `TransientSendError` / `PermanentSendError`."""
        ...
