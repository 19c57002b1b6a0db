"""`dutybot simulate`: every message the bot would send in a range of days, sending nothing.

It starts from the store as it is (check-ins already recorded count; opened read-only, so
nothing is written), opens future periods' tasks in memory as the days pass, and assumes
nothing more gets done. Each day is evaluated at every send time the policies use.
"""

from __future__ import annotations

import bisect
import heapq
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

from bot.channels import registry
from bot.channels.console import CONSOLE
from bot.config import Config
from handlers import notices as words
from handlers.text import WEEKDAYS
from schedules.calendar import WorkCalendar
from schedules.meetings import (
    Meeting,
    MeetingState,
    QuietMeetings,
    meeting_notices,
    send_moments,
)
from schedules.model import Cadence
from schedules.periods import period_kind, period_of
from schedules.reminders import Notice, Plan, Stage, digest_notices, task_notices
from schedules.tasks import CheckIn, Status, Task, plan_tasks
from storage.atomic import read_json_file
from storage.errors import StoreCorrupt
from storage.repository import stand_ins_on
from storage.tinydb_store import TinyDBStore
from storage.upgrade import FORMAT


@dataclass(frozen=True)
class Message:
    at: datetime
    recipient: str
    channel: str
    notices: tuple[Notice, ...]  # every (task or digest, stage) the message carries
    text: str

    @property
    def stages(self) -> tuple[Stage, ...]:
        return tuple(n.stage for n in self.notices)

    @property
    def stage(self) -> Stage:
        """The stage that sets the message's tone."""
        return max(self.stages, key=words.urgency)

    @property
    def tasks(self) -> tuple[str, ...]:
        return tuple(sorted({n.task for n in self.notices if n.task}))

    @property
    def task(self) -> str | None:
        """The task, when the message is about one."""
        tasks = self.tasks
        return tasks[0] if len(tasks) == 1 else None


class FutureTasks:
    """The store's tasks plus those the coming periods will open, in memory; and its
    meetings (no new ones are imagined). Nothing here changes once added: simulate assumes
    nothing more gets done."""

    def __init__(self, tasks: Iterable[Task], meetings: Iterable[Meeting] = ()) -> None:
        self.by_key: dict[str, Task] = {}  # in the order they came: how they are listed
        self._by_owner: dict[str, list[Task]] = defaultdict(list)
        self._open_by_owner: dict[str, list[Task]] = defaultdict(list)
        for task in tasks:
            self.add(task)
        # Nothing is checked in here, so the store's check-ins are all there will be.
        # (at, number, index, task): the first three are unique, so tasks are never compared.
        self._checkins = sorted(((c.at, t.number, i, t) for t in self.by_key.values()
                                 for i, c in enumerate(t.checkins)))
        self.meetings = {m.number: m for m in meetings}
        self.next_number = max([*(t.number for t in self.by_key.values()),
                                *self.meetings], default=0) + 1

    def add(self, task: Task) -> None:
        """A task not there yet."""
        self.by_key[task.key] = task
        self._by_owner[task.owner].append(task)
        if task.status is Status.OPEN:
            self._open_by_owner[task.owner].append(task)

    def task(self, key: str) -> Task | None:
        return self.by_key.get(key)

    def meeting(self, number: int) -> Meeting | None:
        return self.meetings.get(number)

    def tasks_of(self, owners: Iterable[str]) -> list[Task]:
        wanted = set(owners)
        if len(wanted) == 1:
            return list(self._by_owner.get(next(iter(wanted)), ()))
        if wanted.issuperset(self._by_owner):  # everyone's (a weekly report's look back)
            return list(self.by_key.values())
        return [t for t in self.by_key.values() if t.owner in wanted]

    def open_tasks(self) -> list[Task]:
        return [t for t in self.by_key.values() if t.status is Status.OPEN]

    def open_tasks_of(self, owners: Iterable[str]) -> list[Task]:
        return [t for o in set(owners) for t in self._open_by_owner.get(o, ())]

    def checkins_since(self, moment: datetime) -> list[tuple[Task, CheckIn]]:
        first = bisect.bisect_left(self._checkins, moment, key=lambda item: item[0])
        return [(task, task.checkins[i]) for _, _, i, task in self._checkins[first:]]


class Agenda:
    """The open tasks, and when each next needs looking at: the live pass's memo of settled
    tasks carried further, with the moment each task wakes (`Plan.quiet`). Tasks never
    change here and every plan is recorded as handled, so a task is left alone until its
    next stage; one not looked at (no send time for its policy then) is looked at again at
    the next send time."""

    def __init__(self) -> None:
        self.tasks: list[Task] = []  # in `FutureTasks`' order: a task's place in it
        self._restless: list[int] = []  # looked at the next send time
        self._asleep: list[tuple[datetime, int]] = []  # a heap of (wakes at, place)
        self._settled: list[int] = []  # nothing more can come of them

    def add(self, task: Task) -> None:
        """The next task in `FutureTasks`' order; an open one is looked at next."""
        if task.status is Status.OPEN:
            self._restless.append(len(self.tasks))
        self.tasks.append(task)

    def to_look_at(self, moment: datetime) -> list[int]:
        """The places of the tasks to look at `moment` (a send time), in order."""
        while self._asleep and self._asleep[0][0] <= moment:
            self._restless.append(heapq.heappop(self._asleep)[1])
        due, self._restless = sorted(set(self._restless)), []
        return due

    def looked_at(self, places: list[int], plan: Plan) -> None:
        for place in places:
            key = self.tasks[place].key
            if key not in plan.quiet:
                self._restless.append(place)
            elif (until := plan.quiet[key]) is None:
                self._settled.append(place)
            else:
                heapq.heappush(self._asleep, (until, place))

    def wake_all(self) -> None:
        """Who stands in changed: any task may have someone new to tell. (A store's
        delegations can only end in the days ahead, which brings nobody new; this keeps
        the preview right should one ever begin there.)"""
        self._restless += self._settled + [place for _, place in self._asleep]
        self._settled, self._asleep = [], []


def routes(config: Config, recipient: str, group: bool) -> list[str]:
    """Where `dutybot run` would deliver, from the config alone: each enabled channel that
    reaches the person or unit group, in registry order; the console when none is enabled."""
    if not config.any_channel:
        return [CONSOLE]
    return registry.preferred([name for channel, settings in registry.enabled(config.channels)
                               for name in channel.routes(settings, config.org, recipient,
                                                          group)], group)


def record_begins(config: Config, first: date, now: datetime) -> date | None:
    """The store's first day, if the store exists and begins after `first`: the days
    before it precede the record, and the bot will never open tasks for them."""
    path = config.store_path / "meta.json"
    if not path.exists():
        return None
    since = _stated_start(path)
    if since is None:  # not as this release writes it: opening the store says what is wrong
        store = TinyDBStore.open(config.store_path, now, read_only=True)
        try:
            since = store.since
        finally:
            store.close()
    return since if since > first else None


def _stated_start(meta: Path) -> date | None:
    """The first day a store's meta.json states (the day the store itself starts from),
    when the file is in a form this release reads; None otherwise. Only this, not the whole
    store: `simulate` opens that right after."""
    try:
        rows = list(read_json_file(meta)["meta"].values())
        found = rows[0]["format"]
        if len(rows) == 1 and type(found) is int and 1 <= found <= FORMAT:
            return date.fromisoformat(rows[0]["since"])
    except (StoreCorrupt, KeyError, TypeError, ValueError, AttributeError):
        pass
    return None


def simulate(config: Config, first: date, last: date, calendar: WorkCalendar,
             now: datetime, on_day: Callable[[], object] = lambda: None) -> Iterator[Message]:
    """The messages of each day from `first` to `last`; `on_day` after each (a progress
    bar's step). Days before the store's first day have no tasks and are skipped (see
    `record_begins`); with no store yet, the record is taken to begin at `first`.

    Kept from day to day rather than worked out again: the tasks under way, the open tasks
    and when each next has something to say (`Agenda`), the meetings with nothing due until
    a moment (as the live pass keeps them). Tasks are planned only on days a period begins:
    on the others the plan can only be what it was."""
    org = config.org
    store = TinyDBStore.open(config.store_path, now, read_only=True)
    try:
        tasks = FutureTasks(store.all_tasks(), store.meetings())
        handled = set(store.handled_notices())
        skipped_before = dict(store.skipped_through())  # the marks never change after it
        delegations = store.delegations()
        begins = store.since if (config.store_path / "meta.json").exists() else first
    finally:
        store.close()
    since = max(begins, first)
    for _ in range(max((min(since, last + timedelta(days=1)) - first).days, 0)):
        on_day()
    first = since
    # Every (time zone, send time) a policy uses, each evaluated on the bureau's days.
    send_times = {(p.timezone or org.timezone, p.send_at)
                  for p in [config.reminders, *(d.policy for d in org.duties.values())]}
    groups = {u.id for u in org.units.values() if u.group is not None}
    cadences = {d.cadence for d in org.duties.values()
                if d.cadence not in (Cadence.EVENT, Cadence.AS_REQUIRED)}
    under_way = {(t.duty, t.owner, period_kind(t.period)) for t in tasks.by_key.values()}
    agenda = Agenda()
    for task in tasks.by_key.values():
        agenda.add(task)
    live = {n: m for n, m in tasks.meetings.items() if m.state is not MeetingState.HELD}
    quiet = QuietMeetings()  # as the live pass keeps it
    day, plan_from = first, since
    stand_ins = stand_ins_on(delegations, day)
    while day <= last:
        midnight = datetime.combine(day, time(0), org.timezone)
        if day == first or any(period_of(c, day).start == day for c in cadences):
            for p in plan_tasks(org, since, day, calendar, under_way, begun_from=plan_from):
                if p.key not in tasks.by_key:
                    task = Task(p.key, tasks.next_number, p.duty, p.owner, p.period, p.due,
                                opened=midnight, title=p.title, owner_name=p.owner_name)
                    tasks.next_number += 1
                    tasks.add(task)
                    agenda.add(task)
                    under_way.add((task.duty, task.owner, period_kind(task.period)))
        plan_from = day + timedelta(days=1)
        today_stand_ins = stand_ins_on(delegations, day)
        if today_stand_ins != stand_ins:
            stand_ins = today_stand_ins
            agenda.wake_all()
        sends = {datetime.combine(day, t, tz) for tz, t in send_times}
        for moment in sorted(sends | send_moments(live.values(), day, org, calendar,
                                                  config.reminders)):
            meeting_plan = meeting_notices(org, quiet.awake(live.values(), moment), calendar,
                                           config.reminders, moment, handled, groups)
            quiet.note(meeting_plan, tasks.meeting)
            for number in [n for n, until in meeting_plan.quiet.items() if until is None]:
                del live[number]  # nothing more can come of it: no more moments to look at
            due, skipped = meeting_plan.send, meeting_plan.skip
            if moment in sends:
                places = agenda.to_look_at(moment)
                plan = task_notices(org, [agenda.tasks[i] for i in places], calendar, moment,
                                    handled, stand_ins, skipped_before)
                agenda.looked_at(places, plan)
                due = plan.send + digest_notices(org, groups, calendar, config.reminders,
                                                 moment, handled) + due
                skipped += plan.skip
            handled.update(n.key for n in [*due, *skipped])
            yield from _messages(config, tasks, calendar, due, moment)
        day += timedelta(days=1)
        on_day()


def _messages(config: Config, tasks: FutureTasks, calendar: WorkCalendar,
              due: list[Notice], moment: datetime) -> Iterator[Message]:
    """The messages of one send time, bundled and worded as `dutybot run` sends them."""
    org = config.org
    by_recipient: dict[tuple[str, bool], dict[str, list[Notice]]] = defaultdict(
        lambda: defaultdict(list))
    for notice in due:
        by_recipient[notice.recipient, notice.group][notice.subject].append(notice)
    for (recipient, group), subjects in by_recipient.items():
        rendered = words.render(org, recipient, group, list(subjects.values()), tasks,
                                calendar, moment)
        reply = rendered.reply
        if reply is None:
            continue
        used = tuple(n for subject, ns in subjects.items() if subject in rendered.used
                     for n in ns)
        text = reply.text
        if reply.mentions:
            text += "\n" + " ".join(f"@{org.owner_name(p)}" for p in reply.mentions)
        for channel in routes(config, recipient, group) or ["(无渠道)"]:
            yield Message(moment, recipient, channel, used, text)


def as_jsonl(message: Message) -> str:
    """One message: when, to whom, on which channel, the stage that sets its tone, the task
    when there is one, each (task or digest, stage) it carries, and its text."""
    record: dict[str, object] = {
        "at": message.at.isoformat(), "recipient": message.recipient,
        "channel": message.channel, "stage": message.stage.value,
    }
    if message.task:
        record["task"] = message.task
    record["notices"] = [{"subject": n.subject, "stage": n.stage_name}
                         | ({"task": n.task} if n.task else {}) for n in message.notices]
    record["text"] = message.text
    return json.dumps(record, ensure_ascii=False)


def as_text(messages: Iterable[Message], config: Config) -> Iterator[str]:
    current: date | None = None
    for m in messages:
        day = m.at.date()
        if day != current:
            current = day
            yield f"\n{day.isoformat()}（周{WEEKDAYS[day.weekday()]}）"
        who = config.org.owner_name(m.recipient)
        stages = "+".join(dict.fromkeys(s.value for s in m.stages))
        yield f"  {m.at:%H:%M} → {who} [{m.channel}] {stages}"
        yield from (f"      {line}" for line in m.text.splitlines())
