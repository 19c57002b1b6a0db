"""A question the bot asked and the next message answers: after `请假 57` (or a tap on a
card's 请假 button) the bot asks why, and the reply that follows — `出差` — is read as
`请假 57 出差`.

In memory, per conversation, for a few minutes: a restart forgets the question, and the
person simply asks again. Only a message that is not itself a command answers it.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from handlers.messages import Inbound
from handlers.paging import Conversation, conversation_of

ANSWER_WITHIN = timedelta(minutes=10)
REMEMBERED = 10_000


class Waiting:
    def __init__(self) -> None:
        self._asked: dict[Conversation, tuple[str, datetime]] = {}
        self._lock = threading.Lock()

    def ask(self, message: Inbound, command: str, at: datetime) -> None:
        """Remember that the next message in this conversation completes `command`."""
        with self._lock:
            self._asked.pop(conversation_of(message), None)
            self._asked[conversation_of(message)] = (command, at)
            while len(self._asked) > REMEMBERED:
                self._asked.pop(next(iter(self._asked)))

    def take(self, message: Inbound) -> str | None:
        """The command this message completes, if the bot asked for it lately; any message
        ends the question."""
        with self._lock:
            asked = self._asked.pop(conversation_of(message), None)
        if asked is None or not timedelta(0) <= message.received_at - asked[1] <= ANSWER_WITHIN:
            return None
        return asked[0]
