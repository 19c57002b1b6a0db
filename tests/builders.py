"""Builders for test data: moments, and a recording chat partner."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.app import App
from bot.clock import FakeClock
from handlers.messages import Inbound, Reply

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    """A Shanghai moment from '2026-11-26 10:00'."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


class Chat:
    """Talks to an App as one person, recording every reply."""

    def __init__(self, app: App, clock: FakeClock, sender: str) -> None:
        self.app, self.clock, self.sender = app, clock, sender
        self.replies: list[Reply] = []

    def say(self, text: str, message_id: str | None = None, channel: str = "console") -> str:
        reply = self.app.handle(Inbound(channel=channel, sender=self.sender, text=text,
                                        received_at=self.clock.now(), message_id=message_id))
        self.replies.append(reply)
        return reply.text
