"""The commands: each takes a `Context` and the argument text and returns a `Reply`.

Each is a row of `handlers.table` (its words, help lines, whether it only reads), joined to
its handler in `handlers.dispatch.HANDLERS`; the leaders' commands live in
`handlers.oversight`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from difflib import SequenceMatcher
from functools import cached_property

from handlers import table, text
from handlers.followup import Waiting
from handlers.messages import Button, Done, Inbound, Reply
from handlers.paging import Pages, conversation_of, paged
from handlers.parse import (
    clip,
    days_arg,
    split_keyword,
    split_number,
    split_numbers,
)
from schedules.calendar import WorkCalendar
from schedules.meetings import MEETING_SUBJECT, Meeting, MeetingState, is_makeup
from schedules.model import Org, Person
from schedules.tasks import CheckIn, PlannedTask, Status, Task, plan_tasks, retired
from storage.records import RecordType
from storage.repository import CheckinNotLive, Outcome, Repository, TaskNotOpen

MAX_LINES = 15
ATTACH_WINDOW = timedelta(minutes=10)  # a photo or file this soon after a check-in joins it
UNDO_WINDOW = timedelta(hours=text.UNDO_WINDOW_HOURS)  # a bare 撤销 reaches this far back
KEYWORD_THRESHOLD = 0.6  # share of the keyword that must appear in a title
MEETING_RECENT = timedelta(hours=3)  # a meeting this long begun still shows as upcoming


class UserError(Exception):
    """A problem to tell the user in plain words (the message is the reply)."""


@dataclass(frozen=True)
class Context:
    org: Org
    store: Repository
    calendar: WorkCalendar
    person: Person
    message: Inbound
    pages: Pages = field(default_factory=Pages)
    waiting: Waiting = field(default_factory=Waiting)

    def paged(self, header: str, lines: Sequence[str], footer: str,
              buttons: tuple[Button, ...] = ()) -> Reply:
        """A list, 15 lines a page; `更多` shows the rest."""
        return paged(self.pages, self.message, header, lines, footer, buttons)

    @cached_property
    def now(self) -> datetime:
        return self.message.received_at.astimezone(self.org.timezone)

    @cached_property
    def today(self) -> date:
        return self.now.date()

    @cached_property
    def stands_in_for(self) -> tuple[str, ...]:
        """Whom this person stands in for now: delegations to them (`委托`)."""
        return tuple(d.person for d in self.store.delegations()
                     if d.delegate == self.person.id and d.active(self.today))

    def owners(self) -> frozenset[str]:
        """What this person answers for: themself and the units they head; the units they
        are deputy of; and all that of anyone who delegated to them. (Worked out once per
        message: a command may ask it for every meeting or task it looks at.)"""
        return self._owners

    @cached_property
    def _owners(self) -> frozenset[str]:
        people = [self.person.id, *self.stands_in_for]
        found = set(people) | set(self.org.stands_in_for(self.person.id))
        for person in people:
            found |= {u.id for u in self.org.units_headed_by(person)}
        return frozenset(found)

    def on_behalf(self, task: Task) -> str:
        """Who this person acts for in recording `task` ("" when it is their own)."""
        return self.on_behalf_unit(task.owner)

    def on_behalf_unit(self, owner: str) -> str:
        """Who this person acts for in acting for `owner` ("" when it is their own)."""
        assignee = self.org.assignee(owner)
        return assignee if assignee and assignee != self.person.id else ""

    def organises(self, meeting: Meeting) -> bool:
        """The organiser, or whoever answers for the unit now (head, deputy, delegate)."""
        return self.person.id == meeting.organiser or meeting.unit in self.owners()

    def invited(self, meeting: Meeting) -> bool:
        return self.person.id in meeting.invitees or self.person.id in meeting.also

    def upcoming_meetings(self, until: datetime | None = None) -> list[Meeting]:
        """Planned meetings I am invited to or organise, not long begun, soonest first; the
        ones I organise also while they wait for their record."""
        found = []
        for m in self.store.live_meetings():
            if m.state is not MeetingState.PLANNED:
                continue
            mine = self.organises(m)
            if not (mine or self.invited(m)):
                continue
            if (m.start >= self.now - MEETING_RECENT or mine) and (until is None
                                                                  or m.start <= until):
                found.append(m)
        return sorted(found, key=lambda m: (m.start, m.number))

    def planned_meeting(self, task: Task) -> Meeting | None:
        """The planned meeting that will fulfil `task`, if one is announced."""
        return next((m for m in self.store.live_meetings()
                     if m.state is MeetingState.PLANNED and task.key in m.tasks), None)

    def my_open_tasks(self) -> list[Task]:
        """Open tasks this person answers for, overdue first, then by due date."""
        tasks = [t for t in self.store.open_tasks_of(self.owners())
                 if not retired(self.org, t)]
        return sorted(tasks, key=lambda t: (t.due, t.number))

    @property
    def minimal(self) -> bool:
        """On a channel outside the bureau's network, or in a group chat (SPEC §6 Scope): no
        notes or other people's names."""
        return self.message.detail == "minimal" or bool(self.message.conversation)

    def describe(self, task: Task | PlannedTask) -> str:
        return text.describe(self.org, task, self.person.id, notes=not self.minimal)

    def title(self, task: Task) -> str:
        """【编号】and the description: how a task is named in a reply."""
        return text.numbered(task.number, self.describe(task))

    def local_day(self, moment: datetime) -> str:
        return text.day(moment.astimezone(self.org.timezone).date(), self.today)

    def my_task(self, number: int) -> Task | None:
        """Task `number` if this person answers for it (else None, as if it did not exist)."""
        task = self.store.task_by_number(number)
        if task is None or task.owner not in self.owners() or retired(self.org, task):
            return None
        return task

    def line(self, task: Task) -> str:
        late = (self.calendar.workdays_after(task.due, self.today)
                if task.is_overdue(self.today) else None)
        whom = self.on_behalf(task)
        return text.todo_line(task.number, self.describe(task), task.due, self.today, late,
                              self.org.owner_name(whom) if whom else "")


def help_(ctx: Context, args: str) -> Reply:
    return Reply(table.HELP)


def greeting(ctx: Context, args: str) -> Reply:
    return Reply(text.GREETING)


def thanks(ctx: Context, args: str) -> Reply:
    return Reply(text.THANKS)


def ack(ctx: Context, args: str) -> Reply:
    return Reply(text.ACK)


def todo(ctx: Context, args: str) -> Reply:
    """My open tasks, overdue first; my coming meetings above them."""
    tasks = ctx.my_open_tasks()
    meetings = [text.my_meeting_line(ctx.org, m, ctx.person.id, ctx.today, ctx.organises(m))
                for m in ctx.upcoming_meetings()]
    if not tasks and not meetings:
        return Reply(text.TODO_NONE)
    lines = ([text.TODO_MEETINGS, *meetings] if meetings else [])
    if tasks and meetings:
        lines.append(text.TODO_TASKS)
    lines += [ctx.line(t) for t in tasks]
    overdue = sum(t.is_overdue(ctx.today) for t in tasks)
    footer = text.MEETINGS_FOOTER
    if tasks:
        own = text.TODO_FOOTER_MAKEUP if is_makeup(tasks[0]) else text.TODO_FOOTER
        footer = own.format(number=tasks[0].number)
    return ctx.paged(text.todo_header(len(tasks), overdue, len(meetings)), lines, footer,
                     buttons=_checkin_buttons(tasks[:3]))


def more(ctx: Context, args: str) -> Reply:
    """`更多`: the next page of the last list in this conversation."""
    page = ctx.pages.next(conversation_of(ctx.message))
    return Reply(page if page is not None else text.NO_MORE)


def checkin(ctx: Context, args: str) -> Reply:
    open_tasks = ctx.my_open_tasks()
    if not args:
        if not open_tasks:
            return Reply(text.CHECKIN_NOTHING_OPEN)
        if len(open_tasks) > 1:
            return _choose(ctx, text.CHECKIN_WHICH, open_tasks)
        return _record(ctx, open_tasks[0], "")
    numbers, note = split_numbers(args)
    note, cut = clip(note)
    if len(numbers) > 1:
        return _with_clip(_record_many(ctx, numbers, note), cut)
    if numbers:
        task = ctx.my_task(numbers[0])
        if task is None and ctx.store.meeting(numbers[0]) is not None:
            raise UserError(text.checkin_meeting(numbers[0]))
        if task is None:
            raise UserError(text.no_such_task(numbers[0]))
        return _with_clip(_record(ctx, task, note), cut)
    keyword, note = split_keyword(args)
    note, cut = clip(note)
    matches = by_keyword(keyword, open_tasks, ctx.org)
    if not matches:
        raise UserError(text.no_match(keyword[:30]))
    if len(matches) > 1:
        return _choose(ctx, text.several_match(keyword[:30]), matches)
    return _with_clip(_record(ctx, matches[0], note), cut)


def _with_clip(reply: Reply, cut: bool) -> Reply:
    return replace(reply, text=f"{reply.text}\n{text.clipped()}") if cut else reply


def _record(ctx: Context, task: Task, note: str) -> Reply:
    line = ctx.title(task)
    if task.status is Status.EXCUSED:
        return Reply(text.excused(line))
    if task.status is Status.DONE:
        done = task.checkin
        return Reply(text.already_done(line, ctx.local_day(done.at) if done else ""),
                     done=confirmed(task))
    planned = ctx.planned_meeting(task)
    if planned is not None:  # its record will complete it: nobody records a meeting twice
        return Reply(text.checkin_planned(line, text.meeting_line(ctx.org, planned, ctx.today),
                                          planned.number))
    try:
        recorded = ctx.store.check_in(
            task.key, ctx.person.id, ctx.now, note, ctx.message.channel,
            source=ctx.message.source, attachments=ctx.message.attachments,
            on_behalf_of=ctx.on_behalf(task),
        )
    except TaskNotOpen:  # someone else checked it in a moment ago
        fresh = ctx.store.task(task.key)
        if fresh is None or fresh.status is Status.OPEN:
            raise
        return _record(ctx, fresh, note)
    remaining = len(ctx.my_open_tasks())
    note = "" if ctx.minimal else recorded.note
    whom = ctx.org.owner_name(recorded.on_behalf_of) if recorded.on_behalf_of else ""
    return Reply(text.checked_in(line, note, _late(ctx, task, recorded), remaining, whom),
                 done=(Done(task.number, recorded.at),))


def _late(ctx: Context, task: Task, checkin: CheckIn) -> bool:
    return checkin.at.astimezone(ctx.org.timezone).date() > task.due


def _record_many(ctx: Context, numbers: list[int], note: str) -> Reply:
    """`完成 116 120、124 已召开`: each task the sender answers for is recorded with the
    note; each other number is named with the reason. Each number has its own source, so a
    redelivered message records none of them twice."""
    recorded: list[str] = []
    refused: list[str] = []
    for number in numbers:
        task = ctx.my_task(number)
        if task is None:
            refused.append(text.refused_missing(number))
            continue
        line = ctx.title(task)
        source = f"{ctx.message.source}#{number}" if ctx.message.source else None
        seen = ctx.store.outcome_of(source) if source else None
        if seen is not None and seen.type == RecordType.CHECKIN:  # delivered again
            recorded.append(line)
            continue
        if task.status is Status.EXCUSED:
            refused.append(text.refused_excused(line))
            continue
        if task.status is Status.DONE:
            done = task.checkin
            refused.append(text.refused_done(line, ctx.local_day(done.at) if done else ""))
            continue
        planned = ctx.planned_meeting(task)
        if planned is not None:
            refused.append(text.checkin_planned(
                line, text.meeting_line(ctx.org, planned, ctx.today), planned.number))
            continue
        try:
            made = ctx.store.check_in(task.key, ctx.person.id, ctx.now, note,
                                      ctx.message.channel, source=source,
                                      attachments=ctx.message.attachments,
                                      on_behalf_of=ctx.on_behalf(task))
        except TaskNotOpen:  # someone else checked it in a moment ago
            refused.append(text.refused_done(line, ctx.local_day(ctx.now)))
            continue
        recorded.append(text.late_line(line) if _late(ctx, task, made) else line)
    shown_note = "" if ctx.minimal else note
    return Reply(text.checked_in_many(recorded, shown_note, refused, len(ctx.my_open_tasks())))


def undo(ctx: Context, args: str) -> Reply:
    """Bare: my most recent check-in, if made in the last 24 hours — and never an older one
    (sent again, it says the last one is already undone). With a number: that check-in."""
    number, reason = split_number(args)
    if args and number is None:
        raise UserError(text.UNDO_USAGE)
    reason, cut = clip(reason)
    if number is None:
        last = ctx.store.last_checkin_by(ctx.person.id)
        if last is None:
            return Reply(text.UNDO_NOTHING)
        task, done = last
        if done.undone_at is not None:
            return Reply(text.undo_latest_undone(ctx.title(task), task.number))
        if ctx.now - done.at > UNDO_WINDOW:
            return Reply(text.undo_too_old(ctx.title(task), ctx.local_day(done.at),
                                           task.number))
    else:
        found = ctx.store.task_by_number(number)
        live = found.checkin if found else None
        if found is None or live is None or live.person != ctx.person.id:
            if found is not None and any(c.person == ctx.person.id and c.undone_at
                                         for c in found.checkins):
                return Reply(text.undo_already(ctx.title(found), number))
            raise UserError(text.undo_not_yours(number))
        task, done = found, live
    if done.meeting:  # a meeting's record made it: corrected by recording again
        return Reply(text.undo_meeting(ctx.title(task), done.meeting))
    try:
        ctx.store.undo_checkin(task.key, done.id, ctx.person.id, ctx.now,
                               source=ctx.message.source, reason=reason)
    except CheckinNotLive:  # undone a moment ago by a parallel request
        return Reply(text.UNDO_NOTHING)
    return _with_clip(Reply(text.undone(ctx.title(task), task.number)), cut)


def restore(ctx: Context, args: str) -> Reply:
    """`恢复 80`: an undo taken back — the check-in returns with its own time and note."""
    number, _ = split_number(args)
    if number is None:
        return Reply(text.RESTORE_USAGE)
    task = ctx.store.task_by_number(number)
    mine = [c for c in task.checkins if ctx.person.id in (c.undone_by, c.person)] if task else []
    if task is None or not mine:
        raise UserError(text.restore_nothing(number))
    line = ctx.title(task)
    if task.status is Status.DONE:
        return Reply(text.restore_already_done(line))
    if task.status is Status.EXCUSED:
        return Reply(text.restore_excused(line))
    undone = [c for c in mine if c.undone_at is not None]
    if not undone:
        raise UserError(text.restore_nothing(number))
    chosen = max(undone, key=lambda c: c.undone_at or c.at)
    try:
        ctx.store.restore_checkin(task.key, chosen.id, ctx.person.id, ctx.now,
                                  source=ctx.message.source)
    except (CheckinNotLive, TaskNotOpen):  # changed a moment ago by a parallel request
        return Reply(text.restore_nothing(number))
    when = f"{ctx.local_day(chosen.at)} {chosen.at.astimezone(ctx.org.timezone):%H:%M}"
    note = "" if ctx.minimal else chosen.note
    return Reply(text.restored(line, when, note, _late(ctx, task, chosen)))


def attach(ctx: Context, args: str) -> Reply:
    """A photo or file with no text: evidence for the check-in just made (SPEC §6)."""
    last = ctx.store.last_checkin_by(ctx.person.id)
    if (last is None or last[1].undone_at is not None
            or not timedelta(0) <= ctx.now - last[1].at <= ATTACH_WINDOW):
        return Reply(text.ATTACH_NO_CHECKIN)
    task, done = last
    ctx.store.attach(task.key, done.id, ctx.message.attachments, ctx.person.id, ctx.now,
                     source=ctx.message.source)
    return Reply(text.attached(ctx.title(task), len(ctx.message.attachments)))


def replay(ctx: Context, outcome: Outcome) -> Reply:
    """The answer to a message the platform delivered again: what it already did."""
    if outcome.task.startswith(MEETING_SUBJECT):  # a meeting command, delivered again
        meeting = ctx.store.meeting(int(outcome.task.removeprefix(MEETING_SUBJECT)))
        return Reply(text.replayed_meeting(text.meeting_line(ctx.org, meeting, ctx.today)
                                           if meeting else outcome.task))
    task = ctx.store.task(outcome.task)
    line = ctx.title(task) if task else outcome.task
    if outcome.type == RecordType.CHECKIN_UNDONE:
        return Reply(text.replayed_undo(line))
    if outcome.type == RecordType.CHECKIN_RESTORED:
        return Reply(text.replayed_restore(line))
    if outcome.type == RecordType.TASK_UNEXCUSED:
        return Reply(text.replayed_unexcuse(line))
    if outcome.type == RecordType.CHECKIN_ATTACHED:
        return Reply(text.attached(line, 0))
    if outcome.type == RecordType.TASK_EXCUSED:
        return Reply(text.replayed_excuse(line))
    if outcome.type == RecordType.TASKS_OPENED:
        return Reply(text.replayed_incident(line))
    return Reply(text.replayed_checkin(line), done=confirmed(task))


def confirmed(task: Task | None) -> tuple[Done, ...]:
    """The task as a `Reply.done`, if it is done."""
    if task is None or task.status is not Status.DONE or task.checkin is None:
        return ()
    return (Done(task.number, task.checkin.at),)


def upcoming(ctx: Context, args: str) -> Reply:
    days = 14
    if args.strip():
        parsed = days_arg(args)
        if parsed is None or not 1 <= parsed <= 366:
            raise UserError(text.UPCOMING_BAD_DAYS)
        days = parsed
    until = ctx.today + timedelta(days=days)
    owners = ctx.owners()
    rows: list[tuple[date, int, str]] = []
    known: set[str] = set()
    for t in ctx.store.tasks_of(owners):
        known.add(t.key)
        if t.status is Status.OPEN and ctx.today <= t.due <= until and t.duty in ctx.org.duties:
            rows.append((t.due, t.number, ctx.title(t)))
    # Periods that start inside the window have no task yet; show them as coming.
    for p in plan_tasks(ctx.org, ctx.today, until, ctx.calendar):
        if p.owner in owners and p.key not in known and ctx.today <= p.due <= until:
            rows.append((p.due, 0, f"{ctx.describe(p)}{text.NOT_YET_OPEN}"))
    meetings = [text.my_meeting_line(ctx.org, m, ctx.person.id, ctx.today, ctx.organises(m))
                for m in ctx.upcoming_meetings(ctx.now + timedelta(days=days))]
    if not rows and not meetings:
        return Reply(text.upcoming_none(days))
    rows.sort()
    lines = [text.with_due(label, due, ctx.today) for due, _, label in rows]
    if meetings:
        lines = [text.TODO_MEETINGS, *meetings, *([text.TODO_TASKS] if lines else []), *lines]
    return ctx.paged(text.upcoming_header(days), lines, text.UPCOMING_FOOTER)


def _choose(ctx: Context, header: str, tasks: list[Task]) -> Reply:
    return ctx.paged(header, [ctx.line(t) for t in tasks],
                     text.CHOOSE_FOOTER.format(number=tasks[0].number),
                     buttons=_checkin_buttons(tasks[:3]))


def _checkin_buttons(tasks: Iterable[Task]) -> tuple[Button, ...]:
    return tuple(text.checkin_button(t.number) for t in tasks)


def by_keyword(keyword: str, tasks: list[Task], org: Org) -> list[Task]:
    """Open tasks whose duty title contains most of `keyword`, best matches only."""
    scored: list[tuple[float, Task]] = []
    for t in tasks:
        title = org.duties[t.duty].title
        if keyword in title:
            score = 1.0
        else:
            match = SequenceMatcher(None, keyword, title).find_longest_match()
            score = match.size / len(keyword)
        if score >= KEYWORD_THRESHOLD:
            scored.append((score, t))
    if not scored:
        return []
    best = max(s for s, _ in scored)
    return [t for s, t in scored if s == best]
