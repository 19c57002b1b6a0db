"""Builders for test data: moments, and a recording chat partner."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.app import App
from bot.clock import FakeClock
from handlers.messages import Inbound, Reply
from schedules.tasks import Task
from storage.ledger import GENESIS, digest

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


class RecordingChannel:
    """An outbound channel that records what it was asked to send, and can be told to fail."""

    def __init__(self, name: str = "console", only: set[str] | None = None) -> None:
        self.name = name
        self.only = only  # recipients it reaches; None: everyone
        self.sent: list[tuple[str, bool, Reply]] = []
        self.failures: list[Exception] = []  # raised, in order, before anything is sent

    def reaches(self, recipient: str, group: bool) -> bool:
        return self.only is None or recipient in self.only

    def send(self, recipient: str, group: bool, reply: Reply) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((recipient, group, reply))

    def texts_for(self, recipient: str) -> list[str]:
        return [r.text for who, _, r in self.sent if who == recipient]

    def numbers_for(self, recipient: str) -> list[int]:
        """The task numbers every message to `recipient` names, in order (a bundle names
        several: one message per person per send time)."""
        return [n for t in self.texts_for(recipient) for n in numbers_in(t)]


def numbers_in(text: str) -> list[int]:
    """Task numbers as replies and reminders show them: 【22】."""
    return [int(n) for n in re.findall(r"【(\d+)】", text)]


def rechain(ledger: Path, change: Callable[[list[dict[str, Any]]], None]) -> None:
    """Rewrite a ledger after `change` edits its records (dicts), with every hash and link
    recomputed: a chain that verifies, as a careful forger or a buggy release would leave
    it. What the store and the audit then say is about the content, not the chain."""
    items = [json.loads(line) for line in ledger.read_text(encoding="utf-8").splitlines()]
    change(items)
    prev, lines = GENESIS, []
    for seq, item in enumerate(items, start=1):
        body = {k: item[k] for k in ("at", "type", "actor", "data")} | {"seq": seq,
                                                                        "prev": prev}
        prev = digest(body)
        lines.append(json.dumps({**body, "hash": prev}, ensure_ascii=False,
                                separators=(",", ":")))
    ledger.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ---- meetings ------------------------------------------------------------------------------

RECORD = """纪实 {n}
主持 吴芳
记录 马丽
缺席 {absent}（病假）
议题 学习贯彻党的二十届四中全会精神
决议 下月开展专题研讨"""  # a branch secretary's record; format with n= and absent=


def record_text(number: int, absent: str = "钱华") -> str:
    return RECORD.format(n=number, absent=absent)


def task_of(app: App, duty: str, owner: str = "branch-1", period: str = "2026-12") -> Task:
    task = app.store.task(f"{duty}:{owner}:{period}")
    assert task is not None
    return task


def announce(app: App, clock: FakeClock, ref: str, words: str, who: str = "吴芳") -> int:
    """`会议 ref words` as `who`; the new meeting's number."""
    reply = Chat(app, clock, who).say(f"会议 {ref} {words}")
    assert reply.startswith("已发出会议通知"), reply
    return max(m.number for m in app.store.meetings())
