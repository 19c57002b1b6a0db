"""Reminders and digests: a planned notice (or several merged) → a `Reply`.

What each says is `handlers.text`'s (polite, short, each message ending with what to do);
this module chooses which. Leaders' and groups' messages list units in the bureau's own
order — never ranked.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from handlers import text
from handlers.messages import Reply
from handlers.scope import scope_of
from handlers.text import MEETING_HEADS, describe, meeting_title, moment, task_title
from schedules.calendar import WorkCalendar, YearGap
from schedules.meetings import MEETING_ORDER, Meeting, MeetingState
from schedules.model import Org
from schedules.reminders import Notice, Stage, senior, supervises
from schedules.tasks import CheckIn, Status, Task

URGENCY = [Stage.MOVED, Stage.OPENED, Stage.ADVANCE, Stage.EVE, Stage.DUE, Stage.OVERDUE,
           Stage.ESCALATION]
MAX_DIGEST_LINES = 20


class TaskView(Protocol):
    """What rendering reads: the store, or the simulator's picture of the future."""

    def task(self, key: str) -> Task | None: ...

    def tasks_of(self, owners: Sequence[str] | set[str]) -> list[Task]: ...

    def open_tasks_of(self, owners: Sequence[str] | set[str]) -> list[Task]: ...

    def checkins_since(self, moment: datetime) -> list[tuple[Task, CheckIn]]:
        """Check-ins dated at or after `moment`, oldest first, with their tasks."""
        ...

    def meeting(self, number: int) -> Meeting | None: ...


class Problem(Protocol):
    @property
    def recipient(self) -> str: ...

    @property
    def channel(self) -> str: ...

    @property
    def error(self) -> str: ...


def urgency(stage: Stage) -> int:
    return URGENCY.index(stage) if stage in URGENCY else 0


def principal(notices: Sequence[Notice]) -> Notice:
    """Of stages merged into one message, the one that sets its tone."""
    return max(notices, key=lambda n: (urgency(n.stage), n.occurrence))


def task_line(org: Org, task: Task, for_person: str | None = None) -> str:
    return text.numbered(task.number, describe(org, task, for_person))


def _bare(org: Org, task: Task) -> str:
    """The task without its owner's name or an event's note."""
    return text.task_bare(task.number, task_title(org, task), task.period)


def task_reminder(org: Org, task: Task, notices: Sequence[Notice], calendar: WorkCalendar,
                  now: datetime, tz: ZoneInfo | None = None) -> Reply:
    """A reminder to the assignee, or an escalation to a leader or admin. Dates are the
    duty's own (`tz`, its policy's time zone)."""
    today = now.astimezone(tz or org.timezone).date()
    lead = principal(notices)
    late = calendar.workdays_after(task.due, today)
    if lead.stage is Stage.ESCALATION:
        assignee = org.assignee(task.owner)
        who = org.owner_name(assignee) if assignee else text.NO_ASSIGNEE
        title = task_title(org, task)
        if supervises(org, lead.recipient, task.owner):
            tag, ask = text.ESCALATION_SUPERVISE_TAG, text.SUPERVISE
        else:  # an admin, or anyone hearing of a duty of someone senior: for the record
            tag, ask = text.ESCALATION_INFORM_TAG, text.INFORM
        return Reply(
            text.escalation(tag, task_line(org, task), task.due, today, late, who, ask),
            minimal=text.escalation_minimal(tag, text.numbered(task.number, title), task.due,
                                            today, late, ask))
    if lead.stage is Stage.OPENED:
        return event_opened(org, task, lead.recipient, today)
    reply = _reminder(org, task, lead, late, calendar, today)
    if any(n.stage is Stage.MOVED for n in notices) and lead.stage is not Stage.MOVED:
        return replace(reply, text=f"{reply.text}\n{_moved(task, today)}")
    return reply


def _moved(task: Task, today: date) -> str:
    return text.due_moved(task.previous_due, task.due, today)


def _reminder(org: Org, task: Task, lead: Notice, late: int, calendar: WorkCalendar,
              today: date) -> Reply:
    line = task_line(org, task, lead.recipient)
    duty = org.duties.get(task.duty)
    title = task_title(org, task)
    # Without a person's name (本人 is the reader) or an event's note.
    bare = line if task.owner in org.units and not task.note else _bare(org, task)
    hint = text.evidence_hint(duty.evidence if duty else "")
    action = text.reminder_action(task.number)
    buttons = (text.done_button(task.number), text.TODO_BUTTON)
    if lead.stage is Stage.MOVED:
        head = text.MOVED_TAG + line
        return Reply(f"{head}\n{_moved(task, today)}{action}", buttons=buttons,
                     title=text.MOVED_TAG + title, minimal=_minimal(head, line, bare, action))
    if today > task.due:
        if senior(org, org.assignee(task.owner)):  # a reminder, never a demand, upward
            tag, ask = text.OVERDUE_UPWARD_TAG, text.OVERDUE_UPWARD_ASK
        else:
            tag, ask = text.OVERDUE_TAG, text.OVERDUE_ASK
        head = text.overdue_head(tag, line, task.due, today, late)
        return Reply(f"{head}\n{ask}{action}{hint}", buttons=buttons,
                     title=tag + title, minimal=_minimal(head, line, bare, action))
    days_left = (task.due - today).days
    workdays = calendar.workdays_after(today, task.due)
    if days_left == 0:
        tag, head = text.DUE_TODAY_TAG, text.due_today_head(line)
    elif days_left > 1 and calendar.previous_workday(task.due) == today:
        tag, head = text.DUE_LAST_WORKDAY_TAG, text.due_last_workday_head(line, task.due, today)
    elif days_left == 1:
        tag, head = text.DUE_TOMORROW_TAG, text.due_tomorrow_head(line, task.due, today)
    else:
        tag, head = text.DUE_LATER_TAG, text.due_later_head(
            line, task.due, today, days_left, workdays if days_left - workdays >= 3 else None)
    return Reply(f"{head}\n{action}{hint}", buttons=buttons, title=tag + title,
                 minimal=_minimal(head, line, bare, action))


def _minimal(head: str, line: str, bare: str, action: str) -> str | None:
    """The reminder with its owner's name taken out when that is a person (a leader's own
    duty); units are not people. None when nothing needs taking out."""
    return None if line == bare else f"{head.replace(line, bare)}\n{action}"


def event_opened(org: Org, task: Task, recipient: str, today: date) -> Reply:
    """A reported event (舆情): to its assignee, what to do; to the leader, for information."""
    reporter = org.owner_name(task.opened_by) if task.opened_by else text.SOMEONE
    title = task_title(org, task)
    assignee = org.assignee(task.owner)
    note = text.shown(task.note)
    if recipient == assignee:
        return Reply(
            text.event_to_assignee(title, reporter, note, task.number, task.due, today),
            buttons=(text.done_button(task.number), text.TODO_BUTTON),
            title=text.event_title(title, task.note),
            minimal=text.event_to_assignee_minimal(title, task.number, task.due, today))
    who = org.owner_name(assignee) if assignee else org.owner_name(task.owner)
    return Reply(
        text.event_to_leader(title, reporter, note, who, task.number, task.due, today),
        minimal=text.event_to_leader_minimal(title, task.number, task.due, today))


DIGEST_HORIZON = timedelta(days=14)


def weekly_digest(org: Org, unit_id: str, tasks: TaskView, now: datetime) -> Reply | None:
    """A unit's overdue tasks and those due in the next two weeks, to its group,
    @mentioning who answers for them; later deadlines are only counted."""
    today = now.astimezone(org.timezone).date()
    unit = org.units[unit_id]
    open_tasks = sorted((t for t in tasks.tasks_of({unit_id})
                         if t.status is Status.OPEN and t.duty in org.duties),
                        key=lambda t: (t.due, t.number))
    soon = [t for t in open_tasks if t.due <= today + DIGEST_HORIZON]
    if not soon:
        return None
    lines = [text.weekly_head(unit.name, len(soon))]
    lines += [text.weekly_line(t.number, org.duties[t.duty].title, t.period, t.due, today,
                               t.due < today) for t in soon[:MAX_DIGEST_LINES]]
    if len(soon) > MAX_DIGEST_LINES:
        lines.append(text.digest_more(len(soon) - MAX_DIGEST_LINES))
    later = len(open_tasks) - len(soon)
    if later:
        lines.append(text.weekly_later(later))
    lines.append(text.WEEKLY_FOOT)
    return Reply("\n".join(lines), mentions=(unit.head,))


def monthly_digest(org: Org, leader_id: str, tasks: TaskView, calendar: WorkCalendar,
                   now: datetime) -> Reply | None:
    """For a leader: each unit in their scope (all, for the party secretary), in config order."""
    today = now.astimezone(org.timezone).date()
    scope = scope_of(org, org.people[leader_id])
    units = [org.units[u] for u in scope.units]
    last_month_end = today.replace(day=1) - timedelta(days=1)
    last_month_start = last_month_end.replace(day=1)
    lines = [text.monthly_head(today, scope.everything)]
    done_in: dict[str, set[str]] = defaultdict(set)  # owner -> tasks done last month
    for task, checkin in tasks.checkins_since(
            datetime.combine(last_month_start, time.min, org.timezone)):
        live = task.checkin
        if (live is not None and live.id == checkin.id and task.duty in org.duties
                and _within(checkin.at.astimezone(org.timezone).date(), last_month_start,
                            last_month_end)):
            done_in[task.owner].add(task.key)

    def status(owner: str) -> str:
        open_ = [t for t in tasks.open_tasks_of({owner}) if t.duty in org.duties]
        overdue = sum(t.due < today for t in open_)
        return text.monthly_status(len(done_in[owner]), len(open_), overdue)

    lines += [text.monthly_line(u.name, status(u.id)) for u in units[:MAX_DIGEST_LINES]]
    if len(units) > MAX_DIGEST_LINES:
        lines.append(text.monthly_more(len(units) - MAX_DIGEST_LINES))
    if tasks.tasks_of({leader_id}):
        lines.append(text.monthly_own(status(leader_id)))
    if len(lines) == 1:
        return None
    lines.append(text.MONTHLY_FOOT)
    return Reply("\n".join(lines))


def unkept_files(org: Org, view: TaskView, since: datetime) -> list[str]:
    """Files sent with check-ins since `since` that could not be kept, one line each."""
    lines = []
    for task, checkin in view.checkins_since(since):
        if checkin.at > since and (task.owner in org.units or task.owner in org.people):
            lines += [text.unkept_line(org.owner_name(checkin.person), task.number, a.name,
                                       a.error) for a in checkin.attachments if a.error]
    return lines


def admin_report(org: Org, problems: Sequence[Problem],
                 gaps: Sequence[YearGap] = (), unkept: Sequence[str] = ()) -> Reply | None:
    """For the admins, weekly: delivery problems of the past week, files that could not be
    kept, and years whose holidays `[calendar]` still lacks; nothing when all is well."""
    lines: list[str] = []
    if unkept:
        lines += [text.unkept_head(len(unkept)), *unkept[:MAX_DIGEST_LINES]]
    if problems:
        lines.append(text.delivery_head(len(problems)))
        lines += [text.delivery_line(org.owner_name(p.recipient), p.channel, p.error)
                  for p in problems[:MAX_DIGEST_LINES]]
        if len(problems) > MAX_DIGEST_LINES:
            lines.append(text.delivery_more(len(problems) - MAX_DIGEST_LINES))
        lines.append(text.DELIVERY_FOOT)
    holidays = [text.holiday_gap(gap.year, len(gap.missing), gap.missing[0]) for gap in gaps]
    lines += holidays
    if not lines:
        return None
    minimal = None
    if problems or unkept:
        minimal = "\n".join([*([text.delivery_minimal(len(problems))] if problems else []),
                             *([text.unkept_head(len(unkept))] if unkept else []), *holidays])
    return Reply("\n".join(lines), minimal=minimal)


def _within(d: date, first: date, last: date) -> bool:
    return first <= d <= last


# ---- one message per person per send time ------------------------------------------------

BUNDLE_BUTTONS = 5  # one-tap 已完成 buttons for the first items of a bundle
CARD_SUMMARY = 100  # characters of a bundle's summary, for platforms that show cards


@dataclass(frozen=True)
class Item:
    """One task's stages due for one person at one send time."""

    task: Task
    notices: Sequence[Notice]


@dataclass(frozen=True)
class Rendered:
    reply: Reply | None  # None: nothing worth sending after all
    used: frozenset[str]  # the subjects the message speaks of (the rest: nothing to say)


def render(org: Org, recipient: str, group: bool, by_subject: Sequence[Sequence[Notice]],
           view: TaskView, calendar: WorkCalendar, now: datetime,
           problems: Sequence[Problem] = ()) -> Rendered:
    """Everything due for one recipient at one send time, as one message: the same for
    `dutybot run` and `dutybot simulate`. `by_subject` holds each task's (or digest's)
    notices; a task done since it was planned says nothing."""
    items: list[Item] = []
    extras: list[Reply] = []
    meetings: list[Reply] = []
    used: set[str] = set()
    today = now.astimezone(org.timezone).date()
    for notices in by_subject:
        first = notices[0]
        reply: Reply | None = None
        if first.meeting:
            said = meeting_message(org, view.meeting(first.meeting), notices, recipient, group,
                                   now)
            if said is not None:
                meetings.append(said)
                used.add(first.subject)
            continue
        if first.stage is Stage.WEEKLY_DIGEST and group:
            reply = weekly_digest(org, recipient, view, now)
        elif first.stage is Stage.WEEKLY_DIGEST:
            reply = admin_report(org, problems, calendar.gaps(today),
                                 unkept_files(org, view, now - timedelta(days=7)))
        elif first.stage is Stage.MONTHLY_DIGEST:
            reply = monthly_digest(org, recipient, view, calendar, now)
        else:
            task = view.task(first.task or "")
            if task is not None and task.status is Status.OPEN:
                items.append(Item(task, notices))
                used.add(first.subject)
            continue
        if reply is not None:
            extras.append(reply)
            used.add(first.subject)
    return Rendered(compose(org, recipient, items, extras, calendar, now, meetings),
                    frozenset(used))


def compose(org: Org, recipient: str, items: Sequence[Item], extras: Sequence[Reply],
            calendar: WorkCalendar, now: datetime, first: Sequence[Reply] = ()) -> Reply | None:
    """One message of everything: `first` (meetings: they are soon), the tasks, then
    `extras` (digests); the buttons of all, as many as a card holds."""
    parts: list[Reply] = list(first)
    if len(items) == 1:
        item = items[0]
        duty = org.duties.get(item.task.duty)
        tz = duty.policy.timezone if duty else None
        parts.append(task_reminder(org, item.task, item.notices, calendar, now, tz))
    elif items:
        parts.append(bundle(org, recipient, items, calendar, now))
    parts += extras
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    minimal = ("\n\n".join(p.for_detail("minimal") for p in parts)
               if any(p.minimal is not None for p in parts) else None)
    buttons = tuple(dict.fromkeys(b for p in parts for b in p.buttons))[:BUNDLE_BUTTONS + 1]
    return Reply("\n\n".join(p.text for p in parts), buttons=buttons,
                 mentions=tuple(dict.fromkeys(m for p in parts for m in p.mentions)),
                 title=parts[0].title, minimal=minimal, summary=parts[0].summary)


# Sections of a bundle, in the order they are shown: what is late comes first.
(OWN_LATE, SUPERVISE_LATE, INFORM_LATE, REPORTED, REPORTED_FYI, DUE_TODAY, COMING,
 MOVED) = range(8)
SECTIONS = {OWN_LATE: text.SECTION_OWN_LATE, SUPERVISE_LATE: text.SECTION_SUPERVISE_LATE,
            INFORM_LATE: text.SECTION_INFORM_LATE, REPORTED: text.SECTION_REPORTED,
            REPORTED_FYI: text.SECTION_REPORTED_FYI, DUE_TODAY: text.SECTION_DUE_TODAY,
            COMING: text.SECTION_COMING, MOVED: text.SECTION_MOVED}  # (heading, short word)


def _section(org: Org, recipient: str, item: Item, today: date) -> int:
    lead = principal(item.notices)
    task = item.task
    if lead.stage is Stage.ESCALATION:
        return SUPERVISE_LATE if supervises(org, recipient, task.owner) else INFORM_LATE
    if lead.stage is Stage.OPENED:  # leaders hear of it; whoever handles it is asked to
        leader = supervises(org, recipient, task.owner) or (
            recipient in org.party_secretaries and org.assignee(task.owner) != recipient)
        return REPORTED_FYI if leader else REPORTED
    if lead.stage is Stage.MOVED:
        return MOVED
    if today > task.due:
        return OWN_LATE
    return DUE_TODAY if today == task.due else COMING


def bundle(org: Org, recipient: str, items: Sequence[Item], calendar: WorkCalendar,
           now: datetime) -> Reply:
    """Several tasks for one person in one message: late first, each line with its number,
    title and due date; one-tap buttons for the first of the person's own."""
    today = now.astimezone(org.timezone).date()
    placed = sorted(((_section(org, recipient, i, today), i.task.due, i.task.number, i)
                     for i in items), key=lambda row: row[:3])
    full: list[str] = []
    bare: list[str] = []
    counts: dict[int, int] = {}
    section = -1
    for where, _, _, item in placed:
        if where != section:
            section = where
            full.append(SECTIONS[where][0])
            bare.append(SECTIONS[where][0])
        counts[where] = counts.get(where, 0) + 1
        full.append("· " + _bundle_line(org, recipient, item, where, calendar, today, True))
        bare.append("· " + _bundle_line(org, recipient, item, where, calendar, today, False))
    own = [i.task for w, _, _, i in placed if w in (OWN_LATE, REPORTED, DUE_TODAY, COMING,
                                                      MOVED)]
    if own:
        head = text.bundle_head_own(len(items))
        foot = text.bundle_foot_own(t.number for t in own[:2])
    elif SUPERVISE_LATE in counts:
        head, foot = text.bundle_head_supervise(len(items)), text.SUPERVISE
    else:
        head, foot = text.bundle_head_inform(len(items)), text.INFORM
    buttons = (*(text.checkin_button(t.number) for t in own[:BUNDLE_BUTTONS]), text.TODO_BUTTON)
    summary = text.bundle_summary(((SECTIONS[w][1], n) for w, n in sorted(counts.items())),
                                  (i.task.number for _, _, _, i in placed), CARD_SUMMARY)
    said = "\n".join([head, *full, foot])
    minimal = "\n".join([head, *bare, foot])
    return Reply(said, buttons=buttons, title=text.headline(head), summary=summary,
                 minimal=None if minimal == said else minimal)


def _bundle_line(org: Org, recipient: str, item: Item, where: int, calendar: WorkCalendar,
                 today: date, detail: bool) -> str:
    task = item.task
    late = calendar.workdays_after(task.due, today)
    line = task_line(org, task, recipient)
    if not detail and (task.owner not in org.units or task.note):  # no notes, no names
        line = _bare(org, task)
    if where in (SUPERVISE_LATE, INFORM_LATE, REPORTED_FYI):  # a leader hearing of it
        assignee = org.assignee(task.owner)
        who = org.owner_name(assignee) if assignee and detail else ""
        if where == REPORTED_FYI:
            return text.bundle_fyi_line(line, task.due, today, who)
        return text.bundle_late_line(line, task.due, today, late, who)
    if where == REPORTED:
        return text.bundle_reported_line(line, task.due, today)
    if where == MOVED:
        return text.bundle_moved_line(line, task.previous_due, task.due, today)
    if where == OWN_LATE:
        return text.bundle_late_line(line, task.due, today, late)
    if where == DUE_TODAY:
        return text.bundle_today_line(line)
    return text.bundle_coming_line(line, task.due, today)


# ---- meetings ----------------------------------------------------------------------------

def meeting_message(org: Org, meeting: Meeting | None, notices: Sequence[Notice],
                    recipient: str, group: bool, now: datetime) -> Reply | None:
    """A meeting's news for one person (or its unit's group): the most telling of its
    stages due at once; None when there is nothing to say any more (held, cancelled, the
    reminder of a time since moved, a person who has since asked leave)."""
    if meeting is None:
        return None
    today = now.astimezone(org.timezone).date()
    live = [n for n in notices if _still_says(meeting, n, recipient, now)]
    if not live:
        return None
    lead = max(live, key=lambda n: MEETING_ORDER.index(n.stage))
    head = MEETING_HEADS[lead.stage]
    title = meeting_title(org, meeting)
    unit = org.owner_name(meeting.unit)
    named = text.meeting_named(head, title, unit)
    start = moment(meeting.start.astimezone(org.timezone), today)
    n, place, topic = meeting.number, meeting.place, meeting.topic
    organiser = org.owner_name(meeting.organiser)
    answer = (text.join_button(n), text.leave_button(n))
    if lead.stage is Stage.MEETING_CANCELLED:
        return Reply(text.meeting_cancel_notice(named, start, meeting.cancel_reason),
                     title=head + title, minimal=text.meeting_cancel_notice_minimal(named, start))
    if group:
        return Reply(text.meeting_group_notice(head, unit, title, start, place, topic,
                                               organiser, n), title=head + title)
    if lead.stage is Stage.MEETING_MOVED:
        before = (moment(meeting.previous_start.astimezone(org.timezone), today)
                  if meeting.previous_start else "")
        return Reply(text.meeting_moved_notice(named, before, start, place, topic, n),
                     buttons=answer, title=head + title, summary=text.meeting_moved_summary(start))
    if lead.stage is Stage.MEETING_NOTICE:
        return Reply(text.meeting_notice(named, start, place, topic, organiser, n),
                     buttons=answer, title=head + title,
                     summary=text.meeting_notice_summary(start, place),
                     minimal=text.meeting_notice_minimal(named, start, place, n))
    if lead.stage in (Stage.MEETING_EVE, Stage.MEETING_SOON):
        if lead.stage is Stage.MEETING_SOON:
            minutes = max(int((meeting.start - now).total_seconds() // 60), 1)
            when = text.meeting_soon(meeting.start.astimezone(org.timezone), minutes)
        else:
            when = text.meeting_eve(start)
        return Reply(text.meeting_reminder(named, when, place, topic, n),
                     buttons=(text.leave_button(n),), title=head + title,
                     summary=text.meeting_reminder_summary(start, place))
    if lead.stage is Stage.MEETING_LEAVE:
        away = meeting.on_leave()
        asked = [meeting.leaves[x.occurrence - 1] for x in live
                 if x.stage is Stage.MEETING_LEAVE and 0 < x.occurrence <= len(meeting.leaves)]
        named_reasons = [(org.owner_name(x.person), x.reason) for x in asked if x.person in away]
        invited = len(meeting.invitees)
        return Reply(text.leave_notice(named, start, named_reasons, invited, len(away), n),
                     title=head + title,
                     minimal=text.leave_notice_minimal(named, start, len(asked), invited,
                                                       len(away), n))
    return Reply(text.meeting_unrecorded(named, start, n), buttons=(text.meeting_button(n),),
                 title=head + title)


def _still_says(meeting: Meeting, notice: Notice, recipient: str, now: datetime) -> bool:
    """Whether a meeting stage planned earlier still has something to say now."""
    stage = notice.stage
    if stage is Stage.MEETING_CANCELLED:
        return meeting.state is MeetingState.CANCELLED
    if stage is Stage.MEETING_UNRECORDED:
        return meeting.state is MeetingState.PLANNED and now >= meeting.start
    if meeting.state is not MeetingState.PLANNED or now >= meeting.start:
        return False
    if stage in (Stage.MEETING_EVE, Stage.MEETING_SOON):
        return notice.occurrence == meeting.moves and recipient not in meeting.on_leave()
    if stage is Stage.MEETING_MOVED:
        return notice.occurrence == meeting.moves
    if stage is Stage.MEETING_LEAVE:
        leave = (meeting.leaves[notice.occurrence - 1]
                 if 0 < notice.occurrence <= len(meeting.leaves) else None)
        return leave is not None and leave.person in meeting.on_leave()
    return True
