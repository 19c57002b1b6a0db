"""Meetings (SPEC §3, §5a): a dated occurrence of a meeting duty — its invitees, leave
requests and record (纪实) — when its notices and reminders go out, and the 补学 tasks of
those who were absent.

Pure, like the rest of `schedules`: the store keeps meetings and says what changed; this
module says what a meeting is and which of its messages are due at a moment.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from schedules.calendar import WorkCalendar
from schedules.model import MeetingPolicy, Org, Policy
from schedules.reminders import Notice, Stage
from schedules.tasks import Attachment, Task, task_key

MEETING_SUBJECT = "meeting:"  # the outbox subject of a meeting's messages: meeting:57
MAKEUP_MARK = "@"  # in a 补学 task's period: 2026-12-04@57 (held that day, meeting 57)
NIGHT = (time(22, 0), time(7, 0))  # a meeting starting in here is surely a typing slip


class MeetingState(StrEnum):
    PLANNED = "planned"
    HELD = "held"  # recorded (纪实)
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Leave:
    """`请假`: an invitee will not come, and why (seen only by those allowed)."""

    person: str
    at: datetime
    reason: str
    withdrawn_at: datetime | None = None  # `参加` after all


@dataclass(frozen=True)
class Absence:
    person: str
    reason: str = ""


@dataclass(frozen=True)
class MeetingRecord:
    """纪实: what actually happened. A later one corrects an earlier; both are kept."""

    by: str
    at: datetime  # when it was recorded
    held_at: datetime  # when the meeting was held: the completion time of its tasks
    place: str
    chair: str
    recorder: str
    present: tuple[str, ...]  # invitees who attended (person ids)
    absent: tuple[Absence, ...]  # invitees who did not, with the reason
    also: tuple[str, ...]  # 列席, as written (names)
    topics: str
    decisions: str
    channel: str = ""
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Meeting:
    number: int  # from the task number sequence: a number always means one thing
    unit: str
    duty: str  # the duty it was announced for
    tasks: tuple[str, ...]  # the tasks it fulfils, that duty's first
    organiser: str  # who announced it
    start: datetime
    place: str
    topic: str
    invitees: tuple[str, ...]  # 应到
    also: tuple[str, ...]  # 列席 invitees
    announced_at: datetime
    state: MeetingState = MeetingState.PLANNED
    moves: int = 0
    moved_at: datetime | None = None
    previous_start: datetime | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str = ""
    leaves: tuple[Leave, ...] = ()  # every request, withdrawn ones too, oldest first
    joined: tuple[str, ...] = ()  # who confirmed with `参加`
    records: tuple[MeetingRecord, ...] = ()
    makeups: tuple[str, ...] = ()  # keys of the absentees' 补学 tasks
    # Its WeCom 日程 (`[channels.wecom] calendar`): the id, once made; the `moves` it was
    # last made or updated for (-1: not yet), whether it was removed, and why the last try
    # failed for good — a failed step is not tried again until the meeting changes.
    schedule_id: str = ""
    schedule_moves: int = -1
    schedule_removed: bool = False
    schedule_error: str = ""

    @property
    def subject(self) -> str:
        return f"{MEETING_SUBJECT}{self.number}"

    @property
    def record(self) -> MeetingRecord | None:
        return self.records[-1] if self.records else None

    @property
    def told(self) -> tuple[str, ...]:
        """Everyone personally told of it: invitees and 列席, not the organiser."""
        return tuple(p for p in (*self.invitees, *self.also) if p != self.organiser)

    @property
    def notified_at(self) -> datetime:
        """When people last heard its time: announced, or moved."""
        return self.moved_at or self.announced_at

    def on_leave(self) -> dict[str, Leave]:
        """Who has asked leave and not taken it back: person → their latest request."""
        found: dict[str, Leave] = {}
        for leave in self.leaves:
            if leave.withdrawn_at is None:
                found[leave.person] = leave
            else:
                found.pop(leave.person, None)
        return found

    def attendees_expected(self) -> tuple[str, ...]:
        """Who should get its reminders: the invited and 列席, minus those on leave."""
        away = self.on_leave()
        return tuple(p for p in (*self.invitees, *self.also) if p not in away)

    def is_open(self) -> bool:
        return self.state is MeetingState.PLANNED

    # ---- changes (each a ledger record, applied the same live and on replay) ----------

    def moved(self, start: datetime, at: datetime) -> Meeting:
        return replace(self, start=start, moves=self.moves + 1, moved_at=at,
                       previous_start=self.start)

    def cancelled(self, reason: str, at: datetime) -> Meeting:
        return replace(self, state=MeetingState.CANCELLED, cancelled_at=at,
                       cancel_reason=reason)

    def with_leave(self, leave: Leave) -> Meeting:
        return replace(self, leaves=(*self.leaves, leave),
                       joined=tuple(p for p in self.joined if p != leave.person))

    def with_joined(self, person: str, at: datetime) -> Meeting:
        leaves = tuple(replace(x, withdrawn_at=at)
                       if x.person == person and x.withdrawn_at is None else x
                       for x in self.leaves)
        joined = self.joined if person in self.joined else (*self.joined, person)
        return replace(self, leaves=leaves, joined=joined)

    def with_record(self, record: MeetingRecord, makeups: Iterable[str]) -> Meeting:
        new = tuple(k for k in makeups if k not in self.makeups)
        return replace(self, state=MeetingState.HELD, records=(*self.records, record),
                       makeups=(*self.makeups, *new))

    def with_attachments(self, extra: tuple[Attachment, ...]) -> Meeting:
        if not self.records:
            raise ValueError(f"meeting {self.number} has no record to attach to")
        last = self.records[-1]
        return replace(self, records=(*self.records[:-1], replace(
            last, attachments=(*last.attachments, *extra))))

    def with_schedule(self, schedule_id: str, moves: int, removed: bool = False,
                      error: str = "") -> Meeting:
        return replace(self, schedule_id=schedule_id, schedule_moves=moves,
                       schedule_removed=removed, schedule_error=error)


class CalendarStep(StrEnum):
    """What a meeting's WeCom 日程 needs to match the meeting."""

    CREATE = "create"
    UPDATE = "update"
    REMOVE = "remove"


def calendar_step(meeting: Meeting, now: datetime) -> CalendarStep | None:
    """The step its 日程 needs now, if any: made for a planned meeting still ahead, updated
    after a move, removed once cancelled. A step done — or failed for good — for the
    meeting as it stands is not taken again; a held meeting's 日程 stays as it was."""
    if meeting.state is MeetingState.CANCELLED:
        made = bool(meeting.schedule_id) and not meeting.schedule_removed
        return CalendarStep.REMOVE if made else None
    if (meeting.state is not MeetingState.PLANNED or now >= meeting.start
            or meeting.schedule_moves == meeting.moves):
        return None
    return CalendarStep.UPDATE if meeting.schedule_id else CalendarStep.CREATE


def attendance(meeting: Meeting, absent: dict[str, str], came: Collection[str]
               ) -> tuple[tuple[str, ...], tuple[Absence, ...]]:
    """Who attended and who did not: everyone invited but the absentees (`absent`, person →
    reason); those on leave are absent with their reason unless they `came` after all."""
    away = dict(absent)
    for person, leave in meeting.on_leave().items():
        if person not in came and person not in away:
            away[person] = leave.reason
    present = tuple(p for p in meeting.invitees if p not in away)
    return present, tuple(Absence(p, away[p]) for p in meeting.invitees if p in away)


# ---- 补学 ----------------------------------------------------------------------------------

def makeup_period(held: date, number: int) -> str:
    return f"{held.isoformat()}{MAKEUP_MARK}{number}"


def makeup_key(duty: str, person: str, held: date, number: int) -> str:
    return task_key(duty, person, makeup_period(held, number))


def is_makeup(task: Task) -> bool:
    return MAKEUP_MARK in task.period


def makeup_meeting(period: str) -> tuple[date, int] | None:
    """(the day the meeting was held, its number) of a 补学 task's period; else None."""
    day, mark, number = period.partition(MAKEUP_MARK)
    if not mark or not number.isdigit():
        return None
    try:
        return date.fromisoformat(day), int(number)
    except ValueError:
        return None


def makeup_due(held: date, calendar: WorkCalendar, policy: MeetingPolicy) -> date:
    day = held
    for _ in range(policy.makeup_days):
        day = calendar.next_workday(day)
    return day


# ---- when a meeting's messages go out ----------------------------------------------------

MEETING_STAGES = (Stage.MEETING_NOTICE, Stage.MEETING_MOVED, Stage.MEETING_CANCELLED,
                  Stage.MEETING_EVE, Stage.MEETING_SOON, Stage.MEETING_LEAVE,
                  Stage.MEETING_UNRECORDED)
# Of several stages of one meeting due for one person at once, the one that is said.
MEETING_ORDER = (Stage.MEETING_EVE, Stage.MEETING_SOON, Stage.MEETING_NOTICE,
                 Stage.MEETING_LEAVE, Stage.MEETING_UNRECORDED, Stage.MEETING_MOVED,
                 Stage.MEETING_CANCELLED)


def _notice(m: Meeting, stage: Stage, recipient: str, at: datetime, occurrence: int = 0,
            group: bool = False) -> Notice:
    return Notice(m.subject, stage, recipient, at, occurrence, group=group, meeting=m.number)


def after_quiet(moment: datetime, policy: Policy) -> datetime:
    """The first moment at or after `moment` outside the quiet hours (in `moment`'s zone)."""
    if not policy.quiet(moment.timetz().replace(tzinfo=None)):
        return moment
    end = moment.replace(hour=policy.quiet_end.hour, minute=policy.quiet_end.minute,
                         second=0, microsecond=0)
    return end if end > moment else end + timedelta(days=1)


def release(moment: datetime, start: datetime, calendar: WorkCalendar, policy: Policy,
            tz: ZoneInfo) -> datetime:
    """When news that arose at `moment` goes out: outside quiet hours; on a day off it
    waits for the next working day's send time — unless the meeting comes first."""
    local = after_quiet(moment.astimezone(tz), policy)
    if calendar.is_workday(local.date()):
        return local
    workday = calendar.next_workday(local.date())
    morning = datetime.combine(workday, policy.send_at, tz)
    return morning if morning < start else local


def eve_moment(meeting: Meeting, calendar: WorkCalendar, policy: MeetingPolicy,
               tz: ZoneInfo) -> datetime | None:
    """The reminder on the working day before; none when the news came less than a day
    ahead (or after that moment)."""
    start = meeting.start.astimezone(tz)
    moment = datetime.combine(calendar.previous_workday(start.date()), policy.eve_at, tz)
    if meeting.notified_at > start - timedelta(days=1) or moment <= meeting.notified_at:
        return None
    return moment


def soon_moment(meeting: Meeting, reminders: Policy, policy: MeetingPolicy,
                tz: ZoneInfo) -> datetime | None:
    """`before_minutes` before the start, moved out of quiet hours if the meeting still
    lies ahead then; none when the news itself came within that time."""
    if policy.before_minutes <= 0:
        return None
    start = meeting.start.astimezone(tz)
    moment = after_quiet(start - timedelta(minutes=policy.before_minutes), reminders)
    if moment >= start or moment <= meeting.notified_at:
        return None
    return moment


def unrecorded_moment(meeting: Meeting, calendar: WorkCalendar, reminders: Policy,
                      policy: MeetingPolicy, tz: ZoneInfo) -> datetime:
    """The send time of the working day after the meeting's day + `record_days` working
    days: by then a 纪实 was due."""
    day = meeting.start.astimezone(tz).date()
    for _ in range(policy.record_days + 1):
        day = calendar.next_workday(day)
    return datetime.combine(day, reminders.send_at, tz)


def meeting_stale(meeting: Meeting | None, stage: Stage, occurrence: int,
                  now: datetime) -> bool:
    """Whether a meeting message still waiting to go out is no longer worth sending."""
    if meeting is None:
        return True
    if stage is Stage.MEETING_UNRECORDED:
        return meeting.state is not MeetingState.PLANNED
    if stage is Stage.MEETING_CANCELLED:
        return now >= (meeting.previous_start or meeting.start) + timedelta(days=1)
    if meeting.state is not MeetingState.PLANNED or now >= meeting.start:
        return True
    if stage in (Stage.MEETING_EVE, Stage.MEETING_SOON, Stage.MEETING_MOVED):
        return occurrence != meeting.moves
    return False


@dataclass(frozen=True)
class MeetingPlan:
    send: list[Notice]  # due now
    skip: list[Notice]  # missed and no longer useful: recorded, never sent
    # Meetings with nothing due now: when something next can be (None: nothing until the
    # meeting changes). A caller may leave such a meeting alone until then.
    quiet: dict[int, datetime | None]


class QuietMeetings:
    """What plans said of quiet meetings (`MeetingPlan.quiet`), each as the meeting was
    then: a meeting is looked at again once that moment comes, or once it changes (a
    meeting that changes is a new object). The live pass keeps one; so does `simulate`."""

    def __init__(self) -> None:
        self._until: dict[int, tuple[Meeting | None, datetime | None]] = {}

    def awake(self, meetings: Iterable[Meeting], now: datetime) -> list[Meeting]:
        """The meetings that may have something due at `now`, in their order."""
        return [m for m in meetings if not self._asleep(m, now)]

    def note(self, plan: MeetingPlan, meeting: Callable[[int], Meeting | None]) -> None:
        """Remembers `plan`'s quiet meetings as `meeting` (by number) has them now."""
        self._until.update({n: (meeting(n), at) for n, at in plan.quiet.items()})

    def _asleep(self, meeting: Meeting, now: datetime) -> bool:
        memo = self._until.get(meeting.number)
        return (memo is not None and memo[0] is meeting
                and (memo[1] is None or now < memo[1]))


def meeting_notices(org: Org, meetings: Iterable[Meeting], calendar: WorkCalendar,
                    reminders: Policy, now: datetime, handled: Collection[str],
                    groups: Collection[str]) -> MeetingPlan:
    """Meeting messages due by `now` and not `handled`. `groups`: the units whose group
    can be told. A move or a cancellation is told to everyone who was told of the meeting;
    one announced and cancelled before its notice went out says nothing at all."""
    tz = reminders.timezone or org.timezone
    plan = MeetingPlan([], [], {})
    for m in meetings:
        if m.state is MeetingState.HELD or (
                m.state is MeetingState.CANCELLED and now > m.start + timedelta(days=1)):
            plan.quiet[m.number] = None  # nothing more can come of it
            continue
        if now >= m.start and m.state is MeetingState.PLANNED:
            # Begun: only the organiser's one reminder to record it is still to come.
            notice = _unrecorded(m, calendar, reminders, org.meetings, tz)
            if notice.key in handled:
                plan.quiet[m.number] = None
            elif notice.at <= now:
                plan.send.append(notice)
            else:
                plan.quiet[m.number] = notice.at
            continue
        coming: list[datetime] = []
        found = len(plan.send) + len(plan.skip)
        for notice in _due(m, org, calendar, reminders, org.meetings, tz, groups):
            if notice.key in handled:
                continue
            if notice.at > now:
                coming.append(notice.at)
                continue
            if notice.stage in (Stage.MEETING_MOVED, Stage.MEETING_CANCELLED) and replace(
                    notice, stage=Stage.MEETING_NOTICE, occurrence=0).key not in handled:
                continue  # never told of it: nothing to take back
            stale = meeting_stale(m, notice.stage, notice.occurrence, now)
            (plan.skip if stale else plan.send).append(notice)
        if len(plan.send) + len(plan.skip) == found:
            plan.quiet[m.number] = min(coming, default=m.start)  # at the start, it begins
    return plan


def _due(m: Meeting, org: Org, calendar: WorkCalendar, reminders: Policy,
         policy: MeetingPolicy, tz: ZoneInfo, groups: Collection[str]
         ) -> Iterator[Notice]:
    """Every message the meeting, as it stands, has or had coming, with its moment."""
    group = [m.unit] if m.unit in groups else []
    if m.state is MeetingState.CANCELLED:
        if m.cancelled_at is not None:
            moment = release(m.cancelled_at, m.start, calendar, reminders, tz)
            yield from (_notice(m, Stage.MEETING_CANCELLED, p, moment)
                        for p in m.told)
            yield from (_notice(m, Stage.MEETING_CANCELLED, u, moment, group=True)
                        for u in group)
        return
    if m.state is not MeetingState.PLANNED:
        return
    announced = release(m.announced_at, m.start, calendar, reminders, tz)
    yield from (_notice(m, Stage.MEETING_NOTICE, p, announced) for p in m.told)
    yield from (_notice(m, Stage.MEETING_NOTICE, u, announced, group=True)
                for u in group)
    for i, leave in enumerate(m.leaves, start=1):
        if leave.withdrawn_at is None and leave.person != m.organiser:
            yield _notice(m, Stage.MEETING_LEAVE, m.organiser,
                                release(leave.at, m.start, calendar, reminders, tz), i)
    if m.moves and m.moved_at is not None:
        moment = release(m.moved_at, m.start, calendar, reminders, tz)
        yield from (_notice(m, Stage.MEETING_MOVED, p, moment, m.moves)
                    for p in m.told)
        yield from (_notice(m, Stage.MEETING_MOVED, u, moment, m.moves, True)
                    for u in group)
    expected = m.attendees_expected()
    eve = eve_moment(m, calendar, policy, tz)
    if eve is not None:
        yield from (_notice(m, Stage.MEETING_EVE, p, eve, m.moves)
                    for p in expected)
    soon = soon_moment(m, reminders, policy, tz)
    if soon is not None:
        yield from (_notice(m, Stage.MEETING_SOON, p, soon, m.moves)
                    for p in expected)
    yield _unrecorded(m, calendar, reminders, policy, tz)


def _unrecorded(m: Meeting, calendar: WorkCalendar, reminders: Policy, policy: MeetingPolicy,
                tz: ZoneInfo) -> Notice:
    return _notice(m, Stage.MEETING_UNRECORDED, m.organiser,
                   unrecorded_moment(m, calendar, reminders, policy, tz))


def send_moments(meetings: Iterable[Meeting], day: date, org: Org, calendar: WorkCalendar,
                 reminders: Policy) -> set[datetime]:
    """The moments of `day` at which some meeting message falls due (for `simulate`,
    which looks at the day only at the moments something can happen)."""
    tz = reminders.timezone or org.timezone
    found: set[datetime] = set()
    for m in meetings:
        for notice in _due(m, org, calendar, reminders, org.meetings, tz, ()):
            if notice.at.astimezone(tz).date() == day:
                found.add(notice.at)
    return found
