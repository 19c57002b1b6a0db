"""`绑定 CODE`: linking a chat account (Telegram) to a person with a one-time code.

Codes are issued by an admin (`dutybot bind-code 张三`) and kept hashed by the store. An
account gets at most five wrong tries an hour, and all accounts together twenty; after that
even a right code waits, so codes cannot be guessed by trying from many accounts. Wrong
tries are kept in the ledger, so a restart forgives nothing.
"""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta

from handlers import text
from handlers.messages import Inbound, Reply
from schedules.model import Org
from storage.errors import StoreWriteFailed
from storage.repository import BindRefused, Repository

MAX_WRONG = 5  # per account per window
MAX_WRONG_ALL = 20  # all accounts together per window
WINDOW = timedelta(hours=1)


def blocked(store: Repository, message: Inbound) -> bool:
    refusals = store.bind_refusals_since(message.received_at - WINDOW)
    mine = sum(1 for r in refusals if (r.channel, r.account) == (message.channel,
                                                                 message.sender))
    return mine >= MAX_WRONG or len(refusals) >= MAX_WRONG_ALL


def bind(org: Org, store: Repository, message: Inbound, args: str) -> Reply:
    """Called for channels whose accounts are bound (the dispatcher checks)."""
    code = args.strip()
    if not code:
        return Reply(text.BIND_USAGE)
    if blocked(store, message):
        return Reply(text.BIND_TOO_MANY)
    try:
        person_id = store.bind_account(message.channel, message.sender, code[:40],
                                       message.received_at, source=message.source)
    except BindRefused as e:
        with suppress(StoreWriteFailed):  # refused either way; counted when it can be
            store.record_bind_refusal(message.channel, message.sender, e.reason,
                                      message.received_at, source=message.source)
        return Reply(text.bind_refused(e.reason))
    person = org.people.get(person_id)
    if person is None:  # issued for someone since removed from the config
        return Reply(text.NOT_REGISTERED)
    return Reply(text.bound(person.name))
