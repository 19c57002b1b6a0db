"""`dutybot simulate`: every message the bot would send in a range of days, sending nothing.

It starts from the store as it is (check-ins already recorded count; opened read-only, so
nothing is written), opens future periods' tasks in memory as the days pass, and assumes
nothing more gets done. Each day is evaluated at every send time the policies use.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from bot.channels import registry
from bot.channels.console import CONSOLE
from bot.config import Config
from handlers import notices as words
from handlers.text import WEEKDAYS
from schedules.calendar import WorkCalendar
from schedules.meetings import Meeting, MeetingState, meeting_notices, send_moments
from schedules.periods import period_kind
from schedules.reminders import Notice, Stage, digest_notices, task_notices
from schedules.tasks import Status, Task, plan_tasks
from storage.repository import stand_ins_on
from storage.tinydb_store import TinyDBStore


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
    meetings (no new ones are imagined)."""

    def __init__(self, tasks: Iterable[Task], meetings: Iterable[Meeting] = ()) -> None:
        self.by_key = {t.key: t for t in tasks}
        self.meetings = {m.number: m for m in meetings}
        self.next_number = max([*(t.number for t in self.by_key.values()),
                                *self.meetings], default=0) + 1

    def task(self, key: str) -> Task | None:
        return self.by_key.get(key)

    def meeting(self, number: int) -> Meeting | None:
        return self.meetings.get(number)

    def tasks_of(self, owners: Iterable[str]) -> list[Task]:
        wanted = set(owners)
        return [t for t in self.by_key.values() if t.owner in wanted]

    def open_tasks(self) -> list[Task]:
        return [t for t in self.by_key.values() if t.status is Status.OPEN]


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
    if not (config.store_path / "meta.json").exists():
        return None
    store = TinyDBStore.open(config.store_path, now, read_only=True)
    try:
        return store.since if store.since > first else None
    finally:
        store.close()


def simulate(config: Config, first: date, last: date, calendar: WorkCalendar,
             now: datetime, on_day: Callable[[], object] = lambda: None) -> Iterator[Message]:
    """The messages of each day from `first` to `last`; `on_day` after each (a progress
    bar's step). Days before the store's first day have no tasks and are skipped (see
    `record_begins`); with no store yet, the record is taken to begin at `first`."""
    org = config.org
    store = TinyDBStore.open(config.store_path, now, read_only=True)
    try:
        tasks = FutureTasks(store.all_tasks(), store.meetings())
        handled = set(store.handled_notices())
        delegations = store.delegations()
        since = record_begins(config, first, now) or first
    finally:
        store.close()
    for _ in range(max((min(since, last + timedelta(days=1)) - first).days, 0)):
        on_day()
    first = max(first, since)
    # Every (time zone, send time) a policy uses, each evaluated on the bureau's days.
    send_times = {(p.timezone or org.timezone, p.send_at)
                  for p in [config.reminders, *(d.policy for d in org.duties.values())]}
    groups = {u.id for u in org.units.values() if u.group is not None}
    day, plan_from = first, since
    while day <= last:
        midnight = datetime.combine(day, time(0), org.timezone)
        under_way = {(t.duty, t.owner, period_kind(t.period)) for t in tasks.by_key.values()}
        planned = plan_tasks(org, plan_from, day, calendar, under_way)
        plan_from = day + timedelta(days=1)
        for p in planned:
            if p.key not in tasks.by_key:
                tasks.by_key[p.key] = Task(p.key, tasks.next_number, p.duty, p.owner, p.period,
                                           p.due, opened=midnight, title=p.title,
                                           owner_name=p.owner_name)
                tasks.next_number += 1
        live = [m for m in tasks.meetings.values() if m.state is not MeetingState.HELD]
        sends = {datetime.combine(day, t, tz) for tz, t in send_times}
        for moment in sorted(sends | send_moments(live, day, org, calendar, config.reminders)):
            meeting_plan = meeting_notices(org, live, calendar, config.reminders, moment,
                                           handled, groups)
            due, skipped = meeting_plan.send, meeting_plan.skip
            if moment in sends:
                plan = task_notices(org, tasks.open_tasks(), calendar, moment, handled,
                                    stand_ins_on(delegations, day))
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
