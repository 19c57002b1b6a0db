"""Tasks: one occurrence of a duty for one owner in one period, and how they are generated.

Generation is a pure function of (org, since, today): it lists the tasks that should exist;
the store adds the ones it lacks and gives each a short number. Running it twice, or after
a restart, changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from datetime import date, datetime, tzinfo
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from schedules.calendar import WorkCalendar
from schedules.model import Cadence, Org
from schedules.periods import (
    MAKEUP_KIND,
    adjusted,
    as_required_period,
    due_date,
    period_end,
    period_kind,
    periods_overlapping,
    previous_period,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

_Frozen = TypeVar("_Frozen")
_Record = TypeVar("_Record", bound="DataclassInstance")


def _copied(value: _Frozen, changes: dict[str, Any]) -> _Frozen:
    """`dataclasses.replace` for the frozen (slot-less, `__post_init__`-free) classes here,
    without its per-field work: a copy of the instance's fields with `changes` over them.
    Replaying the ledger makes thousands of these (every check-in, undo, excuse), and the
    values were checked when they were read. `tests/test_tasks.py` pins that it makes what
    `replace` makes."""
    copy = object.__new__(type(value))
    fields = vars(copy)
    fields.update(vars(value))
    fields.update(changes)
    return copy


def made(cls: type[_Record], values: Sequence[Any]) -> _Record:
    """`cls(*values)` for the frozen (slot-less, `__post_init__`-free) classes here, with
    every field given in order, without the frozen `__init__`'s `object.__setattr__` for
    each field (it costs a city's start-up, which reads 430,000 tasks and check-ins, a
    second): for values already checked. Set one by one in the fields' order, the fields
    share their names' table with every other instance, as the constructor's do.
    `tests/test_replay_fast.py` pins that it makes what the constructor makes."""
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in dataclass_fields(cls))
    instance = object.__new__(cls)
    fields = vars(instance)
    for name, value in zip(names, values, strict=True):
        fields[name] = value
    return instance


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


class Status(StrEnum):
    OPEN = "open"
    DONE = "done"
    EXCUSED = "excused"


@dataclass(frozen=True)
class Attachment:
    """A photo or file sent as evidence. Platform media ids expire (WeCom's after 3 days), so
    the file itself is kept in the store under its SHA-256 (`storage.files`); `error` says
    why it could not be (a `storage.files.Refusal` code), and is "" when it was."""

    kind: str  # "image" | "file"
    ref: str  # the platform's media id, or a path for the console
    name: str = ""
    sha256: str = ""  # hex digest of the kept file; "" when none was (and in older records)
    size: int = 0  # bytes
    type: str = ""  # MIME type, as decided from the content and the name
    error: str = ""


@dataclass(frozen=True)
class CheckIn:
    """A record that a task was done. Undoing keeps the record and stamps `undone_at`."""

    id: str
    task: str  # task key
    person: str
    at: datetime
    note: str
    channel: str
    attachments: tuple[Attachment, ...] = ()
    undone_at: datetime | None = None
    undone_by: str = ""
    restored_at: datetime | None = None  # an undo taken back (`恢复`): in effect again
    on_behalf_of: str = ""  # the one who answers for the task, when `person` stood in
    meeting: int = 0  # the meeting whose record (纪实) made this check-in, if one did


@dataclass(frozen=True)
class Excuse:
    """Why a task need not be done, who decided it and when (SPEC §3: excused); and, if it
    was withdrawn (`撤销豁免`), who withdrew it, when and why."""

    person: str
    at: datetime
    reason: str
    withdrawn_at: datetime | None = None
    withdrawn_by: str = ""
    withdrawn_reason: str = ""


@dataclass(frozen=True)
class Task:
    key: str  # duty:owner:period, stable across restarts
    number: int  # short number people type
    duty: str
    owner: str  # unit id or person id
    period: str  # period key, e.g. 2026-Q4
    due: date
    status: Status = Status.OPEN
    checkins: tuple[CheckIn, ...] = ()
    note: str = ""  # what an event task is about
    opened: datetime | None = None  # when the task came to exist (stages before it don't fire)
    opened_by: str = ""  # who reported an event task; "" for tasks the plan opened
    excuses: tuple[Excuse, ...] = ()  # every excuse, withdrawn ones too, oldest first
    title: str = ""  # the duty's title and the owner's name when the task was opened: how
    owner_name: str = ""  # it is still shown once the config no longer has them
    moves: int = 0  # how often its deadline was moved by a config change
    previous_due: date | None = None  # the deadline before the last move

    @property
    def checkin(self) -> CheckIn | None:
        """The check-in that currently makes this task done, if any."""
        for c in reversed(self.checkins):
            if c.undone_at is None:
                return c
        return None

    @property
    def on_behalf(self) -> str:
        """Who the current check-in was made for, when someone stood in (a deputy or a
        delegate); "" otherwise."""
        done = self.checkin
        return done.on_behalf_of if done else ""

    @property
    def excuse(self) -> Excuse | None:
        """The excuse in effect, if the task is excused."""
        if self.status is Status.EXCUSED and self.excuses:
            return self.excuses[-1]
        return None

    @property
    def open_since(self) -> datetime | None:
        """When the task last became open: created, or reopened by undoing a check-in or
        withdrawing an excuse (reminders resume at the stage after that)."""
        moments = [c.undone_at for c in self.checkins if c.undone_at is not None]
        moments += [e.withdrawn_at for e in self.excuses if e.withdrawn_at is not None]
        if self.opened is not None:
            moments.append(self.opened)
        return max(moments, default=None)

    def is_overdue(self, today: date) -> bool:
        return self.status is Status.OPEN and today > self.due

    def with_due(self, due: date) -> Task:
        return _copied(self, {"due": due, "moves": self.moves + 1, "previous_due": self.due})

    def with_checkin(self, checkin: CheckIn) -> Task:
        return _copied(self, {"status": Status.DONE, "checkins": (*self.checkins, checkin)})

    def with_checkin_replaced(self, checkin: CheckIn) -> Task:
        """A meeting's corrected record (a second 纪实) restates its check-in: same id."""
        self.find_checkin(checkin.id)
        return _copied(self, {"checkins": tuple(checkin if c.id == checkin.id else c
                                                for c in self.checkins)})

    def with_attachments(self, checkin_id: str, extra: tuple[Attachment, ...]) -> Task:
        self.find_checkin(checkin_id)
        checkins = tuple(_copied(c, {"attachments": (*c.attachments, *extra)})
                         if c.id == checkin_id else c for c in self.checkins)
        return _copied(self, {"checkins": checkins})

    def with_excuse(self, excuse: Excuse) -> Task:
        return _copied(self, {"status": Status.EXCUSED, "excuses": (*self.excuses, excuse)})

    def with_excuse_withdrawn(self, person: str, at: datetime, reason: str) -> Task:
        if self.status is not Status.EXCUSED or not self.excuses:
            raise ValueError(f"task {self.key} is not excused")
        last = _copied(self.excuses[-1], {"withdrawn_at": at, "withdrawn_by": person,
                                          "withdrawn_reason": reason})
        return _copied(self, {"status": Status.OPEN, "excuses": (*self.excuses[:-1], last)})

    def done_on(self, tz: tzinfo) -> date | None:
        """The local day of the check-in that makes this task done."""
        done = self.checkin
        return done.at.astimezone(tz).date() if done else None

    def find_checkin(self, checkin_id: str) -> CheckIn:
        for c in self.checkins:
            if c.id == checkin_id:
                return c
        raise KeyError(f"task {self.key} has no check-in {checkin_id}")

    def with_undo(self, checkin_id: str, at: datetime, person: str = "") -> Task:
        self.find_checkin(checkin_id)
        checkins = tuple(_copied(c, {"undone_at": at, "undone_by": person, "restored_at": None})
                         if c.id == checkin_id else c for c in self.checkins)
        still_done = any(c.undone_at is None for c in checkins)
        return _copied(self, {"checkins": checkins,
                              "status": Status.DONE if still_done else Status.OPEN})

    def with_restore(self, checkin_id: str, at: datetime) -> Task:
        """The undone check-in in effect again, with its own time, note and channel."""
        if self.find_checkin(checkin_id).undone_at is None or self.status is not Status.OPEN:
            raise ValueError(f"check-in {checkin_id} of {self.key} cannot be restored")
        checkins = tuple(_copied(c, {"undone_at": None, "undone_by": "", "restored_at": at})
                         if c.id == checkin_id else c for c in self.checkins)
        return _copied(self, {"checkins": checkins, "status": Status.DONE})


def retired(org: Org, task: Task) -> bool:
    """An open task the config no longer has (SPEC §3): its duty, its owner or its
    as-required date was removed, or the duty's cadence changed. It stops reminding, leaves
    the overdue counts, and stays in the record under the names it had."""
    if task.status is not Status.OPEN:
        return False
    kind = period_kind(task.period)
    if kind == MAKEUP_KIND:  # someone's own 补学: it lasts as long as they are in the plan
        return task.owner not in org.people
    duty = org.duties.get(task.duty)
    if duty is None or not org.owns(duty.id, task.owner):
        return True
    if kind != duty.cadence.value:
        return True
    return (duty.cadence is Cadence.AS_REQUIRED
            and date.fromisoformat(task.period) not in duty.due.dates)


def reporting_day(task: Task | PlannedTask) -> date:
    """The day a task counts on in 总览 and the report: the end of the period it is about
    (so 2026年度述职 done in January 2027 counts in 2026); its deadline for as-required and
    event tasks."""
    return period_end(task.period) or task.due


def task_key(duty_id: str, owner_id: str, period_key: str) -> str:
    return f"{duty_id}:{owner_id}:{period_key}"


@dataclass(frozen=True)
class PlannedTask:
    """A task the plan says should exist; the store turns it into a numbered `Task`."""

    key: str
    duty: str
    owner: str
    period: str  # the period the task is about (for `period = "previous"`: the one before)
    due: date
    title: str = ""  # the duty's and owner's names when planned: a task the config later
    owner_name: str = ""  # drops is still shown by them


def plan_tasks(
    org: Org, since: date, today: date, calendar: WorkCalendar,
    under_way: Collection[tuple[str, str, str]] | None = None,
    begun_from: date | None = None,
) -> list[PlannedTask]:
    """Every task of a calendar duty whose period has begun by `today` and which is due on or
    after `since` (the day the bureau started using the bot), in a stable order: period
    start, then duty, then owner as config lists them. As-required deadlines on or after
    `since` are listed at once, so people see them coming.

    `under_way` holds the (duty, owner, period kind) of the tasks that already exist. One not
    in it — a duty or a unit added to config later, or a duty whose cadence changed — starts
    with the first task due from `today` on, not with a backlog of deadlines that passed
    before it existed.

    `begun_from` (a day after `since`) looks only at the periods running on or after it —
    what planning day by day needs — while still listing every such task due on or after
    `since`: a period's deadline can fall before the period begins (due at its start,
    moved back to the previous working day)."""
    planned: list[tuple[date, int, int, PlannedTask]] = []
    for d_index, duty in enumerate(org.duties.values()):
        if duty.cadence is Cadence.EVENT:
            continue
        owners = org.duty_owners(duty)
        if duty.cadence is Cadence.AS_REQUIRED:
            periods = [(as_required_period(d), adjusted(d, calendar, duty.adjust))
                       for d in duty.due.dates]
        else:
            periods = [(p, due_date(duty.due, p, calendar, duty.adjust))
                       for p in periods_overlapping(duty.cadence, begun_from or since, today)]
        for period, due in periods:
            if due < since:
                continue  # its deadline passed before the bot was tracking anything
            about = (previous_period(period, duty.cadence)
                     if duty.about_previous and duty.cadence is not Cadence.AS_REQUIRED
                     else period)
            for o_index, owner in enumerate(owners):
                if (under_way is not None and due < today
                        and (duty.id, owner, duty.cadence.value) not in under_way):
                    continue
                item = PlannedTask(task_key(duty.id, owner, about.key), duty.id, owner,
                                   about.key, due, duty.title, org.owner_name(owner))
                planned.append((period.start, d_index, o_index, item))
    planned.sort(key=lambda row: row[:3])
    return [row[3] for row in planned]


@dataclass(frozen=True)
class PlanChange:
    """What a changed config does to the record: open tasks it retires, open tasks whose
    deadline moves, and the duties and owners that will get their first tasks."""

    retired: list[Task]
    new: list[tuple[str, str]]  # (duty, owner) pairs with no task yet
    moved: list[tuple[Task, date]] = field(default_factory=list)  # (task, its new deadline)


def plan_changes(org: Org, tasks: Iterable[Task], planned: Iterable[PlannedTask] = ()
                 ) -> PlanChange:
    """`planned` is what `plan_tasks` makes of the store's days: an open task it gives
    another deadline moves (the store announces it once, SPEC §4a)."""
    tasks = list(tasks)
    gone = sorted((t for t in tasks if retired(org, t)), key=lambda t: t.number)
    have = {(t.duty, t.owner, period_kind(t.period)) for t in tasks}
    new = [(d.id, o) for d in org.duties.values() if d.cadence is not Cadence.EVENT
           for o in org.duty_owners(d) if (d.id, o, d.cadence.value) not in have]
    by_key = {t.key: t for t in tasks if t.status is Status.OPEN}
    moved = sorted(((by_key[p.key], p.due) for p in planned
                    if p.key in by_key and by_key[p.key].due != p.due),
                   key=lambda row: row[0].number)
    return PlanChange(gone, new, moved)
