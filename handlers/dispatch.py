"""From an inbound message to a reply: who is asking, which command, and what went wrong.

Errors meant for the user (`UserError`) are shown as they are; a failed store write is
told as such; anything else is logged with context and answered with a short apology,
never with exception text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from handlers import binding, commands, delegation, meetings, oversight, text
from handlers.commands import Context, UserError, replay
from handlers.followup import Waiting
from handlers.messages import Inbound, Reply
from handlers.paging import Pages
from handlers.parse import Parsed, parse
from handlers.table import IN_GROUP, READ_ONLY
from schedules.calendar import WorkCalendar
from schedules.model import Org, Person
from storage.errors import ClockBehind, StoreWriteFailed
from storage.files import MB
from storage.repository import Repository

log = logging.getLogger(__name__)

Handler = Callable[[Context, str], Reply]

# The handler of each row of `handlers.table` (but `绑定`, handled first), by its name.
HANDLERS: dict[str, Handler] = {
    "help": commands.help_,
    "todo": commands.todo,
    "checkin": commands.checkin,
    "undo": commands.undo,
    "restore": commands.restore,
    "upcoming": commands.upcoming,
    "status": oversight.status,
    "overview": oversight.overview,
    "overdue": oversight.overdue,
    "excuse": oversight.excuse,
    "unexcuse": oversight.unexcuse,
    "incident": oversight.incident,
    "report": oversight.report_event,
    "delegate": delegation.delegate,
    "undelegate": delegation.undelegate,
    "meeting": meetings.meeting,
    "leave": meetings.leave,
    "join": meetings.join,
    "reschedule": meetings.reschedule,
    "cancel": meetings.cancel,
    "record": meetings.record,
    "more": commands.more,
    "greeting": commands.greeting,
    "thanks": commands.thanks,
    "ack": commands.ack,
    "attach": meetings.attach,  # not typed: a photo or file with no text
}


# Who sent a message, as the channel module at the edge tells it: a person id, or None for
# an account nobody registered or bound.
Identify = Callable[[Inbound], str | None]


def reads_only(message: Inbound) -> bool:
    """Whether answering this message writes nothing (so it may run on an event loop)."""
    if message.attachments:
        return False
    parsed = parse(message.text)
    return not isinstance(parsed, Parsed) or parsed.name in READ_ONLY


def with_refusals(reply: Reply, message: Inbound, max_bytes: int) -> Reply:
    """`reply`, telling the sender which of their files could not be kept, and why."""
    refused = [a for a in message.attachments if a.error]
    if not refused:
        return reply
    lines = [text.file_not_kept(a.error, a.name, max_bytes // MB) for a in refused]
    return replace(reply, text="\n".join([reply.text, *lines]),
                   minimal=None if reply.minimal is None else "\n".join([reply.minimal,
                                                                          *lines]))


class Dispatcher:
    def __init__(self, org: Org, store: Repository, calendar: WorkCalendar,
                 identify: Identify, bindable: frozenset[str] = frozenset()) -> None:
        """`identify` resolves senders; `bindable` names the channels whose accounts are
        linked with `绑定 CODE` rather than listed in config."""
        self.org, self.store, self.calendar = org, store, calendar
        self.identify, self.bindable = identify, bindable
        self.pages = Pages()  # per conversation: what `更多` shows next
        self.waiting = Waiting()  # per conversation: a question the next message answers

    def person(self, message: Inbound) -> Person | None:
        found = self.identify(message)
        return self.org.people.get(found) if found is not None else None

    def handle(self, message: Inbound) -> Reply:
        person = self.person(message)
        parsed = parse(message.text)
        if (isinstance(parsed, Parsed) and parsed.name == "bind"
                and message.channel not in self.bindable):
            # Binding is for chat accounts; elsewhere say who you are, truthfully.
            return Reply(text.BIND_NOT_HERE if person is not None else text.NOT_REGISTERED)
        if isinstance(parsed, Parsed) and parsed.name == "bind":
            try:
                return binding.bind(self.org, self.store, message, parsed.args)
            except StoreWriteFailed as e:
                log.error("store write failed for a binding on %s: %s", message.channel, e)
                return Reply(text.write_failed("bind"))
        if person is None:  # learns nothing about the bureau; a chat account learns to bind
            return Reply(text.UNBOUND if message.channel in self.bindable
                         else text.NOT_REGISTERED)
        if message.attachments and not message.text.strip():
            parsed = Parsed("attach", "")
        asked = self.waiting.take(message)
        if asked is not None and not isinstance(parsed, Parsed) and message.text.strip():
            parsed = parse(f"{asked} {message.text.strip()}")  # `出差` after `请假 57`
        if not isinstance(parsed, Parsed):
            if not parsed.word:
                return Reply(text.EMPTY)
            return Reply(text.unknown(parsed.word, parsed.suggestion, parsed.rest))
        if message.conversation and parsed.name not in IN_GROUP:
            return Reply(text.ASK_IN_PRIVATE)  # a group sees what its digest shows, no more
        ctx = Context(self.org, self.store, self.calendar, person, message, self.pages,
                      self.waiting)
        try:
            outcome = self.store.outcome_of(message.source) if message.source else None
            if outcome is not None:
                return replay(ctx, outcome)
            return with_refusals(HANDLERS[parsed.name](ctx, parsed.args), message,
                                 self.store.files.max_bytes)
        except UserError as e:
            return Reply(str(e))
        except ClockBehind as e:
            log.warning("refused %s's %s: the clock is behind the ledger (%s)", person.id,
                        parsed.name, e)
            tz = self.org.timezone
            return Reply(text.clock_behind(e.at.astimezone(tz), e.newest.astimezone(tz)))
        except StoreWriteFailed as e:  # expected when a disk fills: no traceback, the cause
            log.error("store write failed for %s's %s: %s", person.id, parsed.name, e)
            return Reply(text.write_failed(parsed.name))
        except Exception:  # the bot answers and stays up; the log has the details
            log.exception("command %s from %s on %s failed", parsed.name, person.id,
                          message.channel)
            return Reply(text.SORRY)

    def declined_in_calendar(self, message: Inbound, number: int) -> Reply | None:
        """The sender declined meeting `number`'s WeCom 日程 (`message` carries no text:
        it stands for the calendar's answer): `meetings.declined_in_calendar`."""
        person = self.person(message)
        if person is None:
            return None
        ctx = Context(self.org, self.store, self.calendar, person, message, self.pages,
                      self.waiting)
        try:
            return meetings.declined_in_calendar(ctx, number)
        except (ClockBehind, StoreWriteFailed) as e:
            log.error("could not record %s's declined 日程 for meeting %d: %s", person.id,
                      number, e)
            return None
