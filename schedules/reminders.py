"""Reminder planning: which messages are due at a moment, to whom, for which stage.

Pure functions of (org, tasks, calendar, policy, now, what was already sent or skipped).
The delivery loop in `bot/` persists what this plans into an outbox and sends it; this
module never sends and never remembers.

Policy (SPEC §5), per duty: an `advance` reminder N days before the deadline, one on the
working day before (`eve`), one on the day (`due`), then one each working day while overdue
(`overdue`, at most N), and an `escalation` to the supervising leader and the admins on the
Nth working day overdue. Stage days are working days: before the deadline a non-working day
moves back, after it forward. Stages of one task that fall on the same day reach the person
as one message. A task never fires stages from before it existed, nor, after a check-in is
undone, stages that passed while it was done: reminders resume at the next stage. After
downtime, of the missed stages of a task only the newest still useful goes out; the rest
are skipped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cached_property, lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo

from schedules.calendar import WorkCalendar
from schedules.model import Cadence, Org, Policy, Role
from schedules.tasks import Status, Task, retired


class Stage(StrEnum):
    OPENED = "opened"  # an event task was reported: its owner and leader hear at once
    MOVED = "moved"  # a config change moved the deadline: its assignee hears once
    ADVANCE = "advance"
    EVE = "eve"
    DUE = "due"
    OVERDUE = "overdue"
    ESCALATION = "escalation"
    WEEKLY_DIGEST = "weekly-digest"
    MONTHLY_DIGEST = "monthly-digest"
    # A meeting's (schedules.meetings): its subject is meeting:<number>.
    MEETING_NOTICE = "meeting-notice"  # announced: each invitee, and the unit's group
    MEETING_MOVED = "meeting-moved"  # 改期: everyone told
    MEETING_CANCELLED = "meeting-cancelled"  # 取消会议: everyone told
    MEETING_EVE = "meeting-eve"  # the working day before, at `eve_at`
    MEETING_SOON = "meeting-soon"  # `before_minutes` before the start
    MEETING_LEAVE = "meeting-leave"  # a leave request, to the organiser
    MEETING_UNRECORDED = "meeting-unrecorded"  # no 纪实 some working days on: the organiser


TASK_STAGES = (Stage.ADVANCE, Stage.EVE, Stage.DUE, Stage.OVERDUE, Stage.ESCALATION)


def stage_name(stage: Stage, occurrence: int = 0) -> str:
    """How a stage is keyed and stored: `eve`; `overdue-2` for the second overdue reminder."""
    return f"{stage.value}-{occurrence}" if occurrence else stage.value


def read_stage_name(name: str) -> tuple[Stage, int]:
    """`stage_name` read back: `overdue-2` → (OVERDUE, 2), `weekly-digest` → (WEEKLY_DIGEST,
    0); ValueError for a name no stage has."""
    base, _, count = name.rpartition("-")
    if base and count.isdigit():
        return Stage(base), int(count)
    return Stage(name), 0


@dataclass(frozen=True)
class StageDay:
    stage: Stage
    occurrence: int  # 1, 2, … for overdue reminders; 0 for the others
    day: date

    @cached_property
    def name(self) -> str:  # kept: the planner builds a key from it for every look
        return stage_name(self.stage, self.occurrence)


@lru_cache(maxsize=4096)
def task_stages(due: date, policy: Policy, calendar: WorkCalendar) -> tuple[StageDay, ...]:
    """The days each stage of a task due on `due` falls on, in time order. (Many tasks
    share a deadline: the answer is kept, per calendar.)"""
    stages: list[StageDay] = []
    if policy.advance_days > 0:
        advance = calendar.on_or_before(due - timedelta(days=policy.advance_days))
        stages.append(StageDay(Stage.ADVANCE, 0, advance))
    if policy.eve:
        stages.append(StageDay(Stage.EVE, 0, calendar.previous_workday(due)))
    if policy.due_day:
        stages.append(StageDay(Stage.DUE, 0, calendar.on_or_before(due)))
    day = due
    for k in range(1, max(policy.overdue_max, policy.escalate_on) + 1):
        day = calendar.next_workday(day)
        if k <= policy.overdue_max:
            stages.append(StageDay(Stage.OVERDUE, k, day))
        if k == policy.escalate_on:
            stages.append(StageDay(Stage.ESCALATION, 0, day))
    return tuple(sorted(stages, key=lambda s: s.day))


@dataclass(frozen=True)
class Notice:
    """One message the plan says should go out."""

    subject: str  # the task key, or a digest's own key such as weekly:branch-1:2026-W48
    stage: Stage
    recipient: str  # a person id, or a unit id for the unit's group
    at: datetime  # when it was due to go out
    occurrence: int = 0
    task: str | None = None
    group: bool = False
    meeting: int = 0  # the meeting it is about, for a meeting's messages

    @property
    def stage_name(self) -> str:
        return stage_name(self.stage, self.occurrence)

    @property
    def key(self) -> str:
        """Unique per (task, stage, recipient): the outbox never holds two of these."""
        return f"{self.subject}|{self.stage_name}|{self.recipient}"


@dataclass(frozen=True)
class Plan:
    send: list[Notice]  # due now, in order
    skip: list[Notice]  # missed while the bot was down and no longer worth sending
    # Tasks whose every stage is behind them and handled: nothing more can come of them
    # until they change (a new due date, or reopened), so a caller may stop asking.
    settled: list[Task] = field(default_factory=list)
    # Every task looked at, by key: the first moment after `now` something can come of it
    # once what this plan sends and skips is handled (None: nothing more). It holds while
    # the task, the config and who stands in stay as they are, so a caller that records
    # the whole plan may leave the task alone until then (`simulate` does, day after day).
    # Tasks not looked at (no send time for their policy now) are not in it.
    quiet: dict[str, datetime | None] = field(default_factory=dict)


def escalation_recipients(org: Org, owner: str) -> list[str]:
    """Who hears of an overdue task: the unit's supervising leader (谁主管谁负责) or, for a
    leader's own duty, the party secretary; and the admins of 机关党委. Never the assignee."""
    found: list[str] = []
    unit = org.units.get(owner)
    if unit is not None and unit.supervisor:
        found.append(unit.supervisor)
    elif unit is None:
        found += org.party_secretaries
    found += org.admins
    assignee = org.assignee(owner)
    return [p for i, p in enumerate(found) if p != assignee and p not in found[:i]]


def senior(org: Org, person_id: str | None) -> bool:
    """A party group member (党组书记, 党组成员): nobody below asks them to hurry."""
    person = org.people.get(person_id or "")
    return person is not None and (person.has(Role.PARTY_SECRETARY) or person.has(Role.LEADER))


def supervises(org: Org, recipient: str, owner: str) -> bool:
    """Whether `recipient` is above the one who answers for `owner`'s task, and so may be
    asked to 督办: the unit's supervising leader, or the party secretary for a leader's own
    duty. Nobody is above the party secretary: the secretary's and 局党组's own duties are
    only ever a 提示 to the secretary and a 知会 to the admins."""
    assignee = org.assignee(owner)
    person = org.people.get(assignee or "")
    if person is not None and person.has(Role.PARTY_SECRETARY):
        return False
    unit = org.units.get(owner)
    if unit is not None:
        return unit.supervisor == recipient
    return recipient in org.party_secretaries


def reminder_recipients(org: Org, owner: str,
                        stand_ins: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """Who gets a task's reminders: whoever answers for it, the unit's deputy, and whoever
    that person has delegated to for now (`委托`)."""
    assignee = org.assignee(owner)
    if assignee is None:
        return []
    unit = org.units.get(owner)
    found = [assignee, *([unit.deputy] if unit is not None and unit.deputy else []),
             *(stand_ins or {}).get(assignee, ())]
    return [p for i, p in enumerate(found) if p not in found[:i]]


def opened_recipients(org: Org, task: Task) -> list[str]:
    """Who hears at once of a reported event (an opinion incident): the assignee and the
    unit's supervising leader (the party secretary when it has none) — not the reporter,
    who already has the bot's answer."""
    unit = org.units.get(task.owner)
    leaders = [unit.supervisor] if unit is not None and unit.supervisor else list(
        org.party_secretaries)
    found = [org.assignee(task.owner), *leaders]
    return [p for i, p in enumerate(found)
            if p is not None and p != task.opened_by and p not in found[:i]]


def _window_end(stages: tuple[StageDay, ...], due: date) -> dict[Stage, date]:
    """The last day a stage is still worth sending late: the reminders before the deadline
    until the day before it, the due-day one on the day, the overdue ones and the
    escalation until the last of them."""
    after = [s.day for s in stages if s.stage in (Stage.OVERDUE, Stage.ESCALATION)]
    late_end = max(after, default=due)
    eve = due - timedelta(days=1)
    return {Stage.ADVANCE: eve, Stage.EVE: eve, Stage.DUE: due,
            Stage.OVERDUE: late_end, Stage.ESCALATION: late_end}


def task_notice_stale(notice: Notice, due: date, policy: Policy, calendar: WorkCalendar,
                      today: date) -> bool:
    """Whether a planned task reminder still waiting to go out is no longer worth sending."""
    window = _window_end(task_stages(due, policy, calendar), due)
    return today > window.get(notice.stage, due)


def digest_stale(notice: Notice, calendar: WorkCalendar, today: date) -> bool:
    """Whether a digest still waiting to go out is past its catch-up window."""
    planned = notice.at.date()
    if notice.stage is Stage.MONTHLY_DIGEST:
        start = first_workday_of_month(planned, calendar)
        limit = MONTHLY_CATCH_UP_WORKDAYS
        same = (planned.year, planned.month) == (today.year, today.month)
    else:
        start = first_workday_of_week(planned, calendar)
        limit = WEEKLY_CATCH_UP_WORKDAYS
        same = week_key(planned) == week_key(today)
    return not same or start is None or calendar.workdays_after(start, today) >= limit


def sendable(now: datetime, tz: ZoneInfo, policy: Policy, calendar: WorkCalendar) -> bool:
    """Nothing goes out on a non-working day or in quiet hours."""
    local = now.astimezone(tz)
    return calendar.is_workday(local.date()) and not policy.quiet(local.time())


def task_notices(
    org: Org,
    tasks: Iterable[Task],
    calendar: WorkCalendar,
    now: datetime,
    handled: Collection[str],
    stand_ins: Mapping[str, Sequence[str]] | None = None,
    skipped: Mapping[str, Mapping[str, SkipMark]] | None = None,
) -> Plan:
    """Task reminders due by `now` that are not in `handled` (sent or skipped before), to
    the assignee and whoever stands in for them (`stand_ins`: person → delegates now).
    `skipped` (task → recipient → `SkipMark`) marks more as handled: every stage that was
    due by the mark's moment when it was made (what an earlier plan skipped, recorded as
    one mark; see `skip_marks`).

    Skipped (and so recorded, never sent): stages that passed before the task was open,
    missed stages older than the newest useful one, and missed stages when a later stage
    of the same task comes for that person later the same day. Retired tasks (the config
    no longer has them) say nothing."""
    send: list[Notice] = []
    skip: list[Notice] = []
    settled: list[Task] = []
    quiet: dict[str, datetime | None] = {}
    for task in tasks:
        duty = org.duties.get(task.duty)
        assignee = org.assignee(task.owner)
        if (task.status is not Status.OPEN or duty is None or assignee is None
                or retired(org, task)):
            quiet[task.key] = None  # silent until it or the config changes
            continue
        policy = duty.policy
        tz = policy.timezone or org.timezone
        if not sendable(now, tz, policy, calendar):
            continue
        today = now.astimezone(tz).date()
        open_since = task.open_since
        stages = task_stages(task.due, policy, calendar)
        marks = skipped.get(task.key) if skipped else None
        covered = _covered_by(marks, task, policy, calendar, tz) if marks else None
        planned_before = len(send) + len(skip)
        people = reminder_recipients(org, task.owner, stand_ins)
        if duty.cadence is Cadence.EVENT and task.opened is not None and not task.checkins:
            send += _opened_notices(org, task, now, today, handled, people)
        if task.moves:
            send += _moved_notices(task, now, today, handled, people)
        missed: dict[str, list[tuple[StageDay, Notice]]] = defaultdict(list)
        coming_today: set[str] = set()  # people with a stage of this task later today
        for sd in stages:
            if sd.day > today:
                break
            moment = datetime.combine(sd.day, policy.send_at, tz)
            recipients = (people if sd.stage is not Stage.ESCALATION
                          else escalation_recipients(org, task.owner))
            if moment > now:
                coming_today.update(recipients)
                continue
            for recipient in recipients:
                if f"{task.key}|{sd.name}|{recipient}" in handled:  # Notice.key, built cheaply
                    continue
                if covered is not None and covered(recipient, sd.name, moment):
                    continue
                notice = Notice(task.key, sd.stage, recipient, moment, sd.occurrence, task.key)
                if open_since is not None and moment < open_since:
                    skip.append(notice)  # passed before the task was open
                else:
                    missed[recipient].append((sd, notice))
        if missed:
            window = _window_end(stages, task.due)
        for recipient, items in missed.items():
            useful = [sd.day for sd, _ in items if today <= window[sd.stage]]
            newest = None if recipient in coming_today else max(useful, default=None)
            for sd, notice in items:
                (send if sd.day == newest else skip).append(notice)
        if (not stages or stages[-1].day < today) and len(send) + len(skip) == planned_before:
            settled.append(task)
        quiet[task.key] = _next_moment(task, duty.cadence, stages, policy, tz, now)
    return Plan(send, skip, settled, quiet)


EVERYONE = "*"  # a mark for every recipient of a task (no person id can be "*")
_NEVER = datetime.min.replace(tzinfo=UTC)


class SkipMark(NamedTuple):
    """Every stage of a task due by `through` was handled for a recipient, as the task's
    deadline stood after its `moves`-th move (a stage is known by its name, as an outbox
    key knows it: a deadline moved since leaves the stages skipped then handled)."""

    through: datetime
    moves: int = 0


def _covered_by(marks: Mapping[str, SkipMark], task: Task, policy: Policy,
                calendar: WorkCalendar, tz: ZoneInfo) -> Callable[[str, str, datetime], bool]:
    """Whether a mark covers a recipient's stage (by name, at its moment now). A mark made
    before the last move of the deadline is read against the stages of the deadline before
    it (`previous_due`); one made before an earlier move covers nothing."""
    before: dict[str, datetime] | None = None
    if task.previous_due is not None and any(m.moves == task.moves - 1
                                             for m in marks.values()):
        before = {s.name: datetime.combine(s.day, policy.send_at, tz)
                  for s in task_stages(task.previous_due, policy, calendar)}

    def covered(recipient: str, name: str, moment: datetime) -> bool:
        for mark in (marks.get(recipient), marks.get(EVERYONE)):
            if mark is None:
                continue
            if mark.moves == task.moves and moment <= mark.through:
                return True
            if (mark.moves == task.moves - 1 and before is not None
                    and before.get(name, mark.through + timedelta(seconds=1)) <= mark.through):
                return True
        return False
    return covered


def skip_marks(plan: Plan) -> dict[str, dict[str, datetime]]:
    """What a plan skips, as marks for `task_notices(skipped=)`: for each task, the latest
    moment skipped — for `EVERYONE` when the plan sends nothing of that task, else for each
    recipient (the same plan's skips of one recipient all come before what it sends them,
    so the mark covers exactly what was skipped; a message not sent yet stays unhandled)."""
    sending = {n.task for n in plan.send}
    marks: dict[str, dict[str, datetime]] = {}
    for n in plan.skip:
        task = n.task or n.subject
        held = marks.setdefault(task, {})
        who = n.recipient if task in sending else EVERYONE
        if who not in held or held[who] < n.at:
            held[who] = n.at
    return marks


def _next_moment(task: Task, cadence: Cadence, stages: Sequence[StageDay], policy: Policy,
                 tz: ZoneInfo, now: datetime) -> datetime | None:
    """The first moment after `now` something can come of a task whose every notice due by
    `now` is planned (so, once recorded, handled): its next stage, or the news of an event
    reported for later; None when neither is to come."""
    coming = next((moment for sd in stages
                   if (moment := datetime.combine(sd.day, policy.send_at, tz)) > now), None)
    if (cadence is Cadence.EVENT and task.opened is not None and task.opened > now
            and not task.checkins and (coming is None or task.opened < coming)):
        return task.opened
    return coming


def _opened_notices(org: Org, task: Task, now: datetime, today: date,
                    handled: Collection[str], people: Sequence[str]) -> list[Notice]:
    """The news of a reported event, as soon as the time allows; not once it is due (the
    due-day and overdue reminders say it then)."""
    assert task.opened is not None
    if task.opened > now or today > task.due:
        return []
    told = [*opened_recipients(org, task), *people[1:]]  # stand-ins hear it too
    return [Notice(task.key, Stage.OPENED, r, task.opened, task=task.key)
            for i, r in enumerate(told) if r not in told[:i] and r != task.opened_by
            and f"{task.key}|{Stage.OPENED.value}|{r}" not in handled]


def _moved_notices(task: Task, now: datetime, today: date, handled: Collection[str],
                   people: Sequence[str]) -> list[Notice]:
    """A deadline a config change moved: said once per move to who answers for it, at
    the next send time; not once the new deadline has passed (the reminders say it)."""
    if today > task.due:
        return []
    return [Notice(task.key, Stage.MOVED, r, now, task.moves, task.key) for r in people
            if f"{task.key}|{Stage.MOVED.value}-{task.moves}|{r}" not in handled]


WEEKLY_CATCH_UP_WORKDAYS = 2  # a weekly digest missed on Monday still goes out on Tuesday
MONTHLY_CATCH_UP_WORKDAYS = 3


def week_key(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def first_workday_of_week(day: date, calendar: WorkCalendar) -> date | None:
    monday = day - timedelta(days=day.weekday())
    return next((d for d in (monday + timedelta(days=i) for i in range(7))
                 if calendar.is_workday(d)), None)


def first_workday_of_month(day: date, calendar: WorkCalendar) -> date | None:
    first = day.replace(day=1)
    d = first
    while d.month == first.month:
        if calendar.is_workday(d):
            return d
        d += timedelta(days=1)
    return None


def digest_notices(
    org: Org,
    group_units: Collection[str],
    calendar: WorkCalendar,
    policy: Policy,
    now: datetime,
    handled: Collection[str],
) -> list[Notice]:
    """Weekly digests to unit groups (on the first working day of the week) and monthly
    digests to leaders (on the first working day of the month), each once; one the bot was
    down for goes out when it is back, if that is within the first few working days."""
    tz = policy.timezone or org.timezone
    if not sendable(now, tz, policy, calendar):
        return []
    today = now.astimezone(tz).date()
    notices: list[Notice] = []
    week_start = first_workday_of_week(today, calendar)
    if (week_start is not None and week_start <= today
            and calendar.workdays_after(week_start, today) < WEEKLY_CATCH_UP_WORKDAYS):
        moment = datetime.combine(week_start, policy.send_at, tz)
        if moment <= now:
            for unit in org.units:
                if unit in group_units:
                    subject = f"weekly:{unit}:{week_key(today)}"
                    notices.append(Notice(subject, Stage.WEEKLY_DIGEST, unit, moment,
                                          group=True))
            for person in org.people.values():
                if person.has(Role.ADMIN):  # delivery problems of the past week, if any
                    subject = f"weekly-admin:{person.id}:{week_key(today)}"
                    notices.append(Notice(subject, Stage.WEEKLY_DIGEST, person.id, moment))
    month_start = first_workday_of_month(today, calendar)
    if (month_start is not None and month_start <= today
            and calendar.workdays_after(month_start, today) < MONTHLY_CATCH_UP_WORKDAYS):
        moment = datetime.combine(month_start, policy.send_at, tz)
        if moment <= now:
            for person in org.people.values():
                if person.has(Role.LEADER):
                    subject = f"monthly:{person.id}:{today:%Y-%m}"
                    notices.append(Notice(subject, Stage.MONTHLY_DIGEST, person.id, moment))
    return [n for n in notices if n.key not in handled]
