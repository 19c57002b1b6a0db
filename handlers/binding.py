"""`绑定 CODE`: linking a chat account (Telegram) to a person with a one-time code.

Codes are issued by an admin (`dutybot bind-code 张三`) and kept hashed by the store. An
account gets at most five wrong tries an hour; after that even a right code waits, so codes
cannot be guessed by trying.
"""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import datetime, timedelta

from handlers import text
from handlers.messages import Inbound, Reply
from schedules.model import Org
from storage.repository import BindRefused, Repository

BINDABLE = frozenset({"telegram"})  # channels whose accounts are not listed in config
MAX_WRONG = 5
WINDOW = timedelta(hours=1)


class BindGuard:
    """Wrong tries per account in the last hour (memory only: a restart forgives)."""

    def __init__(self) -> None:
        self._wrong: dict[tuple[str, str], deque[datetime]] = defaultdict(deque)

    def blocked(self, key: tuple[str, str], at: datetime) -> bool:
        tries = self._wrong[key]
        while tries and tries[0] <= at - WINDOW:
            tries.popleft()
        return len(tries) >= MAX_WRONG

    def wrong(self, key: tuple[str, str], at: datetime) -> None:
        self._wrong[key].append(at)


def bind(org: Org, store: Repository, guard: BindGuard, message: Inbound, args: str) -> Reply:
    if message.channel not in BINDABLE:
        return Reply(text.BIND_NOT_HERE)
    code = args.strip()
    if not code:
        return Reply(text.BIND_USAGE)
    key = (message.channel, message.sender)
    if guard.blocked(key, message.received_at):
        return Reply(text.BIND_TOO_MANY)
    try:
        person_id = store.bind_account(message.channel, message.sender, code[:40],
                                       message.received_at, source=message.source)
    except BindRefused as e:
        guard.wrong(key, message.received_at)
        return Reply(text.bind_refused(e.reason))
    person = org.people.get(person_id)
    if person is None:  # issued for someone since removed from the config
        return Reply(text.NOT_REGISTERED)
    return Reply(text.bound(person.name))
