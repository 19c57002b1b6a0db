"""The neutral message types every channel adapter converts to and from.

Handlers see only these: never a WeCom XML dict or a Telegram `Update`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schedules.tasks import Attachment


@dataclass(frozen=True)
class Inbound:
    channel: str  # "console", "wecom", "telegram"
    sender: str  # the platform's id of the sender (console: a person id or name)
    text: str
    received_at: datetime  # tz-aware
    conversation: str = ""  # group or chat id; empty for a direct message
    message_id: str | None = None  # the platform's id, for ignoring redelivered messages
    attachments: tuple[Attachment, ...] = ()
    raw: object = None
    detail: str = "full"  # "minimal" on channels outside the bureau's own network

    @property
    def source(self) -> str | None:
        """A key that is the same when the platform delivers this message again."""
        return f"{self.channel}:{self.message_id}" if self.message_id else None


@dataclass(frozen=True)
class Button:
    label: str
    command: str  # the text the button stands for, e.g. "打卡 3"


@dataclass(frozen=True)
class Done:
    """A task the reply confirms done (just now, or earlier): a tapped card can say so."""

    number: int
    at: datetime


@dataclass(frozen=True)
class Reply:
    text: str
    buttons: tuple[Button, ...] = ()
    mentions: tuple[str, ...] = ()  # person ids to @mention where the platform can
    title: str = ""  # a short headline, for platforms that show cards (WeCom template cards)
    summary: str = ""  # what a card shows under the headline when the text is too long for it
    # The same message without notes, attachments or other people's names, for channels set
    # to `detail = "minimal"`; None when the full text has none of those.
    minimal: str | None = None
    done: tuple[Done, ...] = ()

    def for_detail(self, detail: str) -> str:
        return self.minimal if detail == "minimal" and self.minimal is not None else self.text
