"""The commands: each takes a `Context` and the argument text and returns a `Reply`.

They are registered explicitly, in order, in `handlers.dispatch.HANDLERS`; the leaders'
commands live in `handlers.oversight`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from difflib import SequenceMatcher
from functools import cached_property

from handlers import text
from handlers.messages import Button, Inbound, Reply
from handlers.parse import number_arg, split_first, split_keyword, split_number
from schedules.calendar import WorkCalendar
from schedules.model import Org, Person
from schedules.tasks import PlannedTask, Status, Task, plan_tasks
from storage.repository import CheckinNotLive, Outcome, Repository, TaskNotOpen

MAX_LINES = 15
ATTACH_WINDOW = timedelta(minutes=10)  # a photo or file this soon after a check-in joins it
KEYWORD_THRESHOLD = 0.6  # share of the keyword that must appear in a title


class UserError(Exception):
    """A problem to tell the user in plain words (the message is the reply)."""


@dataclass(frozen=True)
class Context:
    org: Org
    store: Repository
    calendar: WorkCalendar
    person: Person
    message: Inbound

    @cached_property
    def now(self) -> datetime:
        return self.message.received_at.astimezone(self.org.timezone)

    @cached_property
    def today(self) -> date:
        return self.now.date()

    def owners(self) -> set[str]:
        """What this person answers for: themself and the units they head."""
        return {self.person.id} | {u.id for u in self.org.units_headed_by(self.person.id)}

    def my_open_tasks(self) -> list[Task]:
        """Open tasks this person answers for, overdue first, then by due date."""
        tasks = [t for t in self.store.open_tasks_of(self.owners()) if t.duty in self.org.duties]
        return sorted(tasks, key=lambda t: (t.due, t.number))

    @property
    def minimal(self) -> bool:
        """On a channel outside the bureau's network: no notes or other people's names."""
        return self.message.detail == "minimal"

    def describe(self, task: Task | PlannedTask) -> str:
        return text.describe(self.org, task, self.person.id, notes=not self.minimal)

    def line(self, task: Task) -> str:
        due = f"截止 {text.day(task.due, self.today)}"
        if task.is_overdue(self.today):
            due += " ⚠" + text.overdue_mark(self.calendar.workdays_after(task.due, self.today))
        return f"【{task.number}】{self.describe(task)} {due}"


def help_(ctx: Context, args: str) -> Reply:
    return Reply(text.HELP)


def todo(ctx: Context, args: str) -> Reply:
    tasks = ctx.my_open_tasks()
    if not tasks:
        return Reply(text.TODO_NONE)
    overdue = sum(t.is_overdue(ctx.today) for t in tasks)
    lines = [text.todo_header(len(tasks), overdue)]
    lines += [ctx.line(t) for t in tasks[:MAX_LINES]]
    if len(tasks) > MAX_LINES:
        lines.append(text.more(len(tasks) - MAX_LINES))
    lines.append(text.TODO_FOOTER.format(number=tasks[0].number))
    return Reply("\n".join(lines), buttons=_checkin_buttons(tasks[:3]))


def checkin(ctx: Context, args: str) -> Reply:
    open_tasks = ctx.my_open_tasks()
    if not args:
        if not open_tasks:
            return Reply(text.CHECKIN_NOTHING_OPEN)
        if len(open_tasks) > 1:
            return _choose(ctx, text.CHECKIN_WHICH, open_tasks)
        return _record(ctx, open_tasks[0], "")
    number, note = split_number(args)
    if number is not None:
        task = ctx.store.task_by_number(number)
        if task is None or task.owner not in ctx.owners() or task.duty not in ctx.org.duties:
            raise UserError(text.no_such_task(number))
        return _record(ctx, task, note)
    keyword, note = split_keyword(args)
    matches = _by_keyword(keyword, open_tasks, ctx.org)
    if not matches:
        raise UserError(text.no_match(keyword))
    if len(matches) > 1:
        return _choose(ctx, text.several_match(keyword), matches)
    return _record(ctx, matches[0], note)


def _record(ctx: Context, task: Task, note: str) -> Reply:
    line = f"【{task.number}】{ctx.describe(task)}"
    if task.status is Status.EXCUSED:
        return Reply(text.excused(line))
    if task.status is Status.DONE:
        done = task.checkin
        when = text.day(done.at.astimezone(ctx.org.timezone).date(), ctx.today) if done else ""
        return Reply(text.already_done(line, when))
    try:
        recorded = ctx.store.check_in(
            task.key, ctx.person.id, ctx.now, note, ctx.message.channel,
            source=ctx.message.source, attachments=ctx.message.attachments,
        )
    except TaskNotOpen:  # someone else checked it in a moment ago
        fresh = ctx.store.task(task.key)
        if fresh is None or fresh.status is Status.OPEN:
            raise
        return _record(ctx, fresh, note)
    late = recorded.at.astimezone(ctx.org.timezone).date() > task.due
    remaining = len(ctx.my_open_tasks())
    note = "" if ctx.minimal else recorded.note
    return Reply(text.checked_in(line, note, late, remaining))


def undo(ctx: Context, args: str) -> Reply:
    number, rest = split_number(args)
    if args and (number is None or rest):
        raise UserError(text.UNDO_NOTHING)
    if number is None:
        last = ctx.store.last_checkin_by(ctx.person.id)
        if last is None:
            return Reply(text.UNDO_NOTHING)
        task, done = last
    else:
        found = ctx.store.task_by_number(number)
        done_ = found.checkin if found else None
        if found is None or done_ is None or done_.person != ctx.person.id:
            raise UserError(text.undo_not_yours(number))
        task, done = found, done_
    try:
        ctx.store.undo_checkin(task.key, done.id, ctx.person.id, ctx.now,
                               source=ctx.message.source)
    except CheckinNotLive:  # undone a moment ago by a parallel request
        return Reply(text.UNDO_NOTHING)
    return Reply(text.undone(f"【{task.number}】{ctx.describe(task)}"))


def attach(ctx: Context, args: str) -> Reply:
    """A photo or file with no text: evidence for the check-in just made (SPEC §6)."""
    last = ctx.store.last_checkin_by(ctx.person.id)
    if last is None or not timedelta(0) <= ctx.now - last[1].at <= ATTACH_WINDOW:
        return Reply(text.ATTACH_NO_CHECKIN)
    task, done = last
    ctx.store.attach(task.key, done.id, ctx.message.attachments, ctx.person.id, ctx.now,
                     source=ctx.message.source)
    return Reply(text.attached(f"【{task.number}】{ctx.describe(task)}",
                               len(ctx.message.attachments)))


def replay(ctx: Context, outcome: Outcome) -> Reply:
    """The answer to a message the platform delivered again: what it already did."""
    task = ctx.store.task(outcome.task)
    line = f"【{task.number}】{ctx.describe(task)}" if task else outcome.task
    if outcome.type == "checkin-undone":
        return Reply(text.replayed_undo(line))
    if outcome.type == "checkin-attached":
        return Reply(text.attached(line, 0))
    if outcome.type == "task-excused":
        return Reply(text.replayed_excuse(line))
    if outcome.type == "tasks-opened":
        return Reply(text.replayed_incident(line))
    return Reply(text.replayed_checkin(line))


def upcoming(ctx: Context, args: str) -> Reply:
    first, _ = split_first(args)
    days = 14
    if first:
        parsed = number_arg(first)
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
            rows.append((t.due, t.number, f"【{t.number}】{ctx.describe(t)}"))
    # Periods that start inside the window have no task yet; show them as coming.
    for p in plan_tasks(ctx.org, ctx.today, until):
        if p.owner in owners and p.key not in known and ctx.today <= p.due <= until:
            rows.append((p.due, 0, f"{ctx.describe(p)}{text.NOT_YET_OPEN}"))
    if not rows:
        return Reply(text.upcoming_none(days))
    rows.sort()
    lines = [text.upcoming_header(days)]
    lines += [f"{label} 截止 {text.day(due, ctx.today)}" for due, _, label in rows[:MAX_LINES]]
    if len(rows) > MAX_LINES:
        lines.append(text.more(len(rows) - MAX_LINES))
    lines.append(text.UPCOMING_FOOTER)
    return Reply("\n".join(lines))


def _choose(ctx: Context, header: str, tasks: list[Task]) -> Reply:
    lines = [header, *(ctx.line(t) for t in tasks[:MAX_LINES])]
    if len(tasks) > MAX_LINES:
        lines.append(text.more(len(tasks) - MAX_LINES))
    lines.append(text.CHOOSE_FOOTER.format(number=tasks[0].number))
    return Reply("\n".join(lines), buttons=_checkin_buttons(tasks[:3]))


def _checkin_buttons(tasks: Iterable[Task]) -> tuple[Button, ...]:
    return tuple(Button(f"完成【{t.number}】", f"打卡 {t.number}") for t in tasks)


def _by_keyword(keyword: str, tasks: list[Task], org: Org) -> list[Task]:
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
