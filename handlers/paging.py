"""Long lists in pages: nothing is cut silently. A list's first page is the reply; `更多`
shows the next page of the last list in that conversation.

Pages live in memory (a restart forgets them: the list is asked for again), per
conversation: channel, sender and chat, so a group and a private chat keep their own.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from handlers import text
from handlers.messages import Button, Inbound, Reply

PAGE_LINES = 15
REMEMBERED = 10_000  # conversations whose next pages are kept

Conversation = tuple[str, str, str]


def conversation_of(message: Inbound) -> Conversation:
    return (message.channel, message.sender, message.conversation)


class Pages:
    """The pages still to show, per conversation."""

    def __init__(self) -> None:
        self._left: OrderedDict[Conversation, list[str]] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, conversation: Conversation, pages: list[str]) -> None:
        with self._lock:
            self._left.pop(conversation, None)
            if pages:
                self._left[conversation] = pages
                while len(self._left) > REMEMBERED:
                    self._left.popitem(last=False)

    def next(self, conversation: Conversation) -> str | None:
        with self._lock:
            left = self._left.get(conversation)
            if not left:
                return None
            page = left.pop(0)
            if not left:
                del self._left[conversation]
            return page


def paged(pages: Pages, message: Inbound, header: str, lines: Sequence[str], footer: str,
          buttons: tuple[Button, ...] = ()) -> Reply:
    """`header`, the lines 15 at a time, `footer` on the last page; the first page now,
    the rest kept for `更多`."""
    chunks = [list(lines[i:i + PAGE_LINES]) for i in range(0, len(lines), PAGE_LINES)] or [[]]
    total = len(chunks)
    rendered = []
    for number, chunk in enumerate(chunks, start=1):
        head = header if number == 1 else text.continued(header)
        if number < total:
            tail = text.page_marker(number, total)
        else:
            tail = (text.last_page(number, total) + "\n" if total > 1 else "") + footer
        rendered.append("\n".join([head, *chunk, tail]).strip())
    pages.keep(conversation_of(message), rendered[1:])
    return Reply(rendered[0], buttons=buttons)
