"""Meetings in chat (SPEC §5a, §6): `会议` announces one (or lists mine), `请假` / `参加`
answer it, `改期` / `取消会议` change it, `纪实` records it; `查询 57` shows it.

Who may do what: the unit's head — or whoever stands in for them (deputy, delegate) —
organises; the invited answer; the record goes to those allowed (leave reasons only to the
organiser, the unit's head and leaders whose scope covers the unit; a group sees counts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from handlers import commands, text
from handlers.commands import ATTACH_WINDOW, Context, UserError, by_keyword
from handlers.messages import Button, Reply
from handlers.parse import split_first, split_number
from handlers.scope import scope_of
from handlers.when import NotATime, When, at_night, read_time
from schedules.meetings import (
    Meeting,
    MeetingRecord,
    MeetingState,
    attendance,
    is_makeup,
    makeup_due,
    makeup_key,
    makeup_period,
)
from schedules.periods import parse_period_key
from schedules.tasks import PlannedTask, Status, Task
from storage.repository import MeetingNotOpen, TaskNotOpen

PLACE_LIMIT = 50
TOPIC_LIMIT = 200
RECORD_LIMIT = 1000  # 议题 and 决议 of a record, each
REASON_LIMIT = 200
AHEAD = timedelta(days=366)


# ---- who may see and change a meeting ------------------------------------------------------

def organises(ctx: Context, meeting: Meeting) -> bool:
    return ctx.organises(meeting)


def invited(ctx: Context, meeting: Meeting) -> bool:
    return ctx.invited(meeting)


def sees_reasons(ctx: Context, meeting: Meeting) -> bool:
    """Leave reasons and absences are personal: the organiser, those who answer for the
    unit, and leaders whose scope covers it — never a group."""
    if ctx.message.conversation:
        return False
    return organises(ctx, meeting) or scope_of(ctx.org, ctx.person).covers(meeting.unit)


def visible(ctx: Context, meeting: Meeting) -> bool:
    return (invited(ctx, meeting) or organises(ctx, meeting)
            or scope_of(ctx.org, ctx.person).covers(meeting.unit))


def _meeting(ctx: Context, number: int | None, usage: str) -> Meeting:
    if number is None:
        raise UserError(usage)
    found = ctx.store.meeting(number)
    if found is None or not visible(ctx, found):
        raise UserError(text.no_such_meeting(number))
    return found


def _line(ctx: Context, meeting: Meeting) -> str:
    return text.meeting_line(ctx.org, meeting, ctx.today)


# ---- 会议 --------------------------------------------------------------------------------

def meeting(ctx: Context, args: str) -> Reply:
    """`会议`: my upcoming meetings. `会议 45+22 周五下午3点 三楼会议室 议题`: announce one."""
    if not args.strip():
        return my_meetings(ctx)
    refs, rest = split_first(args)
    named = _tasks_for(ctx, refs, rest)
    try:
        when = read_time(rest, ctx.now)
    except NotATime as e:
        raise UserError(text.meeting_time_missing(str(e))) from None
    _check_time(ctx, when)
    tasks = _for_the_day(ctx, named, when)
    primary = tasks[0]
    place, topic = _place_and_topic(when.rest)
    for task in tasks:
        planned = ctx.planned_meeting(task)
        if planned is not None:
            raise UserError(text.task_has_meeting(ctx.title(task), planned.number,
                                                  _line(ctx, planned)))
    invitees: list[str] = []
    also: list[str] = []
    for task in tasks:
        invited_, also_ = ctx.org.invitees(ctx.org.duties[task.duty], task.owner)
        invitees += [p for p in invited_ if p not in invitees]
        also += [p for p in also_ if p not in also]
    also = [p for p in also if p not in invitees]
    try:
        made = ctx.store.announce_meeting(
            primary.owner, primary.duty, [t.key for t in tasks], ctx.person.id, when.moment,
            place, topic, invitees, also, ctx.now, source=ctx.message.source)
    except TaskNotOpen:  # recorded a moment ago by a parallel request
        raise UserError(text.meeting_task_closed(ctx.title(primary))) from None
    unit = ctx.org.units[primary.owner]
    late = [ctx.title(t) for t in tasks if when.moment.date() > t.due]
    return Reply(text.meeting_announced(
        text.meeting_name(ctx.org, made), _when(ctx, made.start), place, topic, len(made.invitees),
        len(made.also), unit.group.name if unit.group else "",
        [ctx.title(t) for t in tasks[1:]], late, ctx.calendar.is_workday(when.moment.date()),
        ctx.org.meetings.eve_at, ctx.org.meetings.before_minutes, made.number),
        buttons=(text.meeting_button(made.number),))


def _tasks_for(ctx: Context, refs: str, rest: str) -> list[tuple[Task, bool]]:
    """The tasks `45+22` or `主题党日+22` names — open meeting tasks of one unit that the
    sender answers for — each with whether it was named by keyword."""
    found: list[tuple[Task, bool]] = []
    for i, ref in enumerate(r for r in re.split(r"[+＋]", refs) if r):
        number, leftover = split_number(ref)
        if number is None or leftover:
            candidates = [t for t in ctx.my_open_tasks()
                          if t.owner in ctx.org.units and not is_makeup(t)
                          and ctx.org.duties[t.duty].meeting is not None]
            matches = by_keyword(ref, candidates, ctx.org)
            if not matches:
                raise UserError(text.meeting_no_match(ref[:20]) if i or rest
                                else text.MEETING_USAGE)
            found.append((matches[0], True))  # several periods or units: `_for_the_day`
            continue
        task = ctx.my_task(number)
        if task is None:
            if ctx.store.meeting(number) is not None:
                raise UserError(text.meeting_not_task(number))
            raise UserError(text.no_such_task(number))
        duty = ctx.org.duties.get(task.duty)
        if duty is None or duty.meeting is None or is_makeup(task):
            raise UserError(text.not_a_meeting_duty(ctx.title(task), task.number))
        if task.status is not Status.OPEN:
            raise UserError(text.meeting_task_closed(ctx.title(task)))
        found.append((task, False))
    if not found:
        raise UserError(text.MEETING_USAGE)
    return found


def _for_the_day(ctx: Context, named: list[tuple[Task, bool]], when: When) -> list[Task]:
    """Named by keyword, the task whose period holds the meeting's day (else the earliest
    still open); named by number, checked that the day is not before its period. All of
    one unit."""
    chosen: list[Task] = []
    day = when.moment.date()
    for task, by_word in named:
        if by_word:
            same = [t for t in ctx.my_open_tasks() if t.duty == task.duty
                    and t.owner in ctx.org.units and not is_makeup(t)]
            holding = [t for t in same if _period_holds(t, day)]
            units = list(dict.fromkeys(t.owner for t in holding or same))
            if len(units) > 1:
                raise UserError(text.meeting_which_unit([ctx.org.owner_name(o) for o in units]))
            task = (holding or sorted(same, key=lambda t: t.due) or [task])[0]
        start = _period_start(task)
        if start is not None and day < start:
            raise UserError(text.meeting_before_period(ctx.title(task), text.day(start,
                                                                                ctx.today)))
        chosen.append(task)
    if len({t.owner for t in chosen}) > 1:
        raise UserError(text.MEETING_ONE_UNIT)
    return list(dict.fromkeys(chosen))


def _period_start(task: Task) -> date | None:
    try:
        return parse_period_key(task.period)[1].start
    except ValueError:
        return None


def _period_holds(task: Task, day: date) -> bool:
    try:
        period = parse_period_key(task.period)[1]
    except ValueError:
        return False
    return period.start <= day <= period.end


def _check_time(ctx: Context, when: When) -> None:
    if when.moment <= ctx.now:
        raise UserError(text.meeting_in_past(_when(ctx, when.moment)))
    if when.moment > ctx.now + AHEAD:
        raise UserError(text.meeting_too_far(_when(ctx, when.moment)))
    if at_night(when.moment):
        raise UserError(text.meeting_at_night(_when(ctx, when.moment)))


_LABELLED = re.compile(r"(地点|议题)\s*[:：]\s*")


def _place_and_topic(rest: str) -> tuple[str, str]:
    """After the time: the first word is the place and the rest the topic, unless they
    are labelled (`地点：…`, `议题：…`)."""
    rest = rest.strip()
    if _LABELLED.search(rest):
        parts = _LABELLED.split(rest)
        found = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
        place, topic = found.get("地点", ""), found.get("议题", "")
        if parts[0].strip() and not place:
            place = parts[0].strip()
    else:
        place, topic = split_first(rest)
    if len(place) > PLACE_LIMIT:
        raise UserError(text.too_long("地点", len(place), PLACE_LIMIT))
    if len(topic) > TOPIC_LIMIT:
        raise UserError(text.too_long("议题", len(topic), TOPIC_LIMIT))
    return place, topic




def _when(ctx: Context, moment: datetime) -> str:
    return text.moment(moment.astimezone(ctx.org.timezone), ctx.today)


def my_meetings(ctx: Context) -> Reply:
    """`会议`: meetings I am invited to or organise, from a little while ago on."""
    lines = [text.my_meeting_line(ctx.org, m, ctx.person.id, ctx.today, organises(ctx, m))
             for m in ctx.upcoming_meetings()]
    if not lines:
        return Reply(text.MEETINGS_NONE)
    return ctx.paged(text.meetings_header(len(lines)), lines, text.MEETINGS_FOOTER)


# ---- 请假 / 参加 ----------------------------------------------------------------------------

def leave(ctx: Context, args: str) -> Reply:
    number, reason = split_number(args)
    found = _meeting(ctx, number, text.LEAVE_USAGE)
    _answerable(ctx, found)
    if not reason:
        ctx.waiting.ask(ctx.message, text.leave_command(found.number), ctx.now)
        return Reply(text.leave_reason_please(_line(ctx, found), found.number))
    if len(reason) > REASON_LIMIT:
        raise UserError(text.too_long(text.LEAVE_REASON, len(reason), REASON_LIMIT))
    again = ctx.person.id in found.on_leave()
    try:
        ctx.store.ask_leave(found.number, ctx.person.id, reason, ctx.now,
                            source=ctx.message.source)
    except MeetingNotOpen:
        return leave(ctx, args)
    organiser = ctx.org.owner_name(found.organiser)
    return Reply(text.leave_taken(_line(ctx, found), organiser, reason, found.number, again),
                 buttons=(text.rejoin_button(found.number),))


def join(ctx: Context, args: str) -> Reply:
    number, _ = split_number(args)
    found = _meeting(ctx, number, text.JOIN_USAGE)
    _answerable(ctx, found)
    was_away = ctx.person.id in found.on_leave()
    if not was_away and ctx.person.id in found.joined:
        return Reply(text.joined(_line(ctx, found), again=True))
    try:
        ctx.store.join_meeting(found.number, ctx.person.id, ctx.now, source=ctx.message.source)
    except MeetingNotOpen:
        return join(ctx, args)
    return Reply(text.joined(_line(ctx, found), withdrew=was_away))


def declined_in_calendar(ctx: Context, number: int) -> Reply | None:
    """An invitee declined the meeting's WeCom 日程: leave 「日程中已拒绝」, and the bot asks
    why — their next message is read as `请假 N 原因`. None (nothing done) for someone not
    invited or already on leave, or a meeting no longer ahead."""
    found = ctx.store.meeting(number)
    if (found is None or not invited(ctx, found) or found.state is not MeetingState.PLANNED
            or ctx.now >= found.start or ctx.person.id in found.on_leave()):
        return None
    try:
        ctx.store.ask_leave(number, ctx.person.id, text.CALENDAR_DECLINED, ctx.now,
                            source=ctx.message.source)
    except MeetingNotOpen:  # cancelled or recorded a moment ago
        return None
    ctx.waiting.ask(ctx.message, text.leave_command(number), ctx.now)
    organiser = ctx.org.owner_name(found.organiser)
    return Reply(text.calendar_declined(_line(ctx, found), organiser, number))


def _answerable(ctx: Context, found: Meeting) -> None:
    """An invitee may answer a meeting that is still to come."""
    if not invited(ctx, found):
        raise UserError(text.not_invited(_line(ctx, found)))
    if found.state is MeetingState.CANCELLED:
        raise UserError(text.meeting_cancelled_already(_line(ctx, found)))
    if found.state is MeetingState.HELD or ctx.now >= found.start:
        raise UserError(text.meeting_begun(_line(ctx, found)))


# ---- 改期 / 取消会议 ------------------------------------------------------------------------

def reschedule(ctx: Context, args: str) -> Reply:
    number, rest = split_number(args)
    found = _changeable(ctx, number, text.RESCHEDULE_USAGE)
    try:
        when = read_time(rest, ctx.now)
    except NotATime as e:
        raise UserError(text.meeting_time_missing(str(e), reschedule=found.number)) from None
    _check_time(ctx, when)
    if when.moment == found.start:
        return Reply(text.meeting_same_time(_line(ctx, found)))
    before = found.start
    try:
        moved = ctx.store.move_meeting(found.number, when.moment, ctx.person.id, ctx.now,
                                       source=ctx.message.source)
    except MeetingNotOpen:
        raise UserError(text.meeting_closed(_line(ctx, found))) from None
    return Reply(text.meeting_moved(_line(ctx, moved), _when(ctx, before),
                                    _when(ctx, moved.start), len(moved.told)))


def cancel(ctx: Context, args: str) -> Reply:
    number, reason = split_number(args)
    found = _changeable(ctx, number, text.CANCEL_USAGE)
    if len(reason) > REASON_LIMIT:
        raise UserError(text.too_long(text.CANCEL_REASON, len(reason), REASON_LIMIT))
    try:
        ctx.store.cancel_meeting(found.number, reason, ctx.person.id, ctx.now,
                                 source=ctx.message.source)
    except MeetingNotOpen:
        raise UserError(text.meeting_closed(_line(ctx, found))) from None
    still_open = [t for t in (ctx.store.task(k) for k in found.tasks)
                  if t is not None and t.status is Status.OPEN]
    return Reply(text.meeting_cancelled(_line(ctx, found), len(found.told),
                                        [ctx.title(t) for t in still_open],
                                        still_open[0].number if still_open else 0))


def _changeable(ctx: Context, number: int | None, usage: str) -> Meeting:
    found = _meeting(ctx, number, usage)
    if not organises(ctx, found):
        raise UserError(text.not_organiser(_line(ctx, found),
                                           ctx.org.owner_name(found.organiser)))
    if found.state is not MeetingState.PLANNED:
        raise UserError(text.meeting_closed(_line(ctx, found)))
    if ctx.now >= found.start:
        raise UserError(text.meeting_begun_change(_line(ctx, found), found.number))
    return found


# ---- 纪实 --------------------------------------------------------------------------------

LABELS = {"时间": "held", "召开时间": "held", "地点": "place", "主持": "chair", "主持人": "chair",
          "记录": "recorder", "记录人": "recorder", "缺席": "absent", "出席": "came",
          "列席": "also", "议题": "topics", "内容": "topics", "决议": "decisions",
          "决定": "decisions"}
_LABEL_WORDS = sorted(LABELS, key=len, reverse=True)
_SEGMENTS = re.compile(r"[\n;；]+")
_NAMES = re.compile(r"([^\s、，,;；（(）)]+)\s*(?:[（(]([^）)]*)[）)])?")


@dataclass
class Written:
    """What a 纪实 message says, line by line."""

    held: str = ""
    place: str = ""
    chair: str = ""
    recorder: str = ""
    absent: str = ""
    came: str = ""
    also: str = ""
    topics: str = ""
    decisions: str = ""


def read_record(lines: str) -> Written:
    """`主持 吴芳`, `缺席 冯雪（病假）` … one per line or separated by `；`."""
    written = Written()
    for i, segment in enumerate(s.strip() for s in _SEGMENTS.split(lines)):
        if not segment:
            continue
        label = next((w for w in _LABEL_WORDS if segment.startswith(w)), None)
        if label is None:
            raise UserError(text.record_bad_line(i + 1, segment[:20], text.listing(
                dict.fromkeys(w for w in LABELS if len(w) == 2))))
        value = segment[len(label):].lstrip(" :：\t").strip()
        name = LABELS[label]
        old = getattr(written, name)
        joiner = " " if name in ("absent", "came", "also") else "；"
        setattr(written, name, f"{old}{joiner}{value}" if old else value)
    return written


def record(ctx: Context, args: str) -> Reply:
    number, lines = split_number(args)
    found = _meeting(ctx, number, text.RECORD_USAGE)
    if not organises(ctx, found):
        raise UserError(text.not_organiser(_line(ctx, found),
                                           ctx.org.owner_name(found.organiser), record=True))
    if found.state is MeetingState.CANCELLED:
        raise UserError(text.meeting_cancelled_already(_line(ctx, found)))
    written = read_record(lines)
    for label, value, limit in (("议题", written.topics, RECORD_LIMIT),
                                ("决议", written.decisions, RECORD_LIMIT),
                                ("地点", written.place, PLACE_LIMIT),
                                ("主持", written.chair, PLACE_LIMIT),
                                ("记录", written.recorder, PLACE_LIMIT),
                                ("列席", written.also, RECORD_LIMIT)):
        if len(value) > limit:
            raise UserError(text.too_long(label, len(value), limit))
    held = found.start
    if written.held:
        try:
            when = read_time(written.held, found.start.astimezone(ctx.org.timezone))
        except NotATime:
            raise UserError(text.record_bad_time(written.held[:30])) from None
        planned = found.start.astimezone(ctx.org.timezone)
        held = when.moment if when.explicit_day else when.moment.replace(
            year=planned.year, month=planned.month, day=planned.day)
    if held > ctx.now:
        raise UserError(text.record_too_early(_line(ctx, found), _when(ctx, held),
                                              found.number))
    absent = dict(_people(ctx, found, written.absent))
    came = [p for p, _ in _people(ctx, found, written.came)]
    both = set(absent) & set(came)
    if both:
        raise UserError(text.record_both(ctx.org.owner_name(min(both))))
    present, absences = attendance(found, absent, came)
    also = tuple(_names_as_written(ctx, written.also))
    made = MeetingRecord(
        by=ctx.person.id, at=ctx.now, held_at=held, place=written.place or found.place,
        chair=_name(ctx, written.chair), recorder=_name(ctx, written.recorder),
        present=present, absent=absences, also=also,
        topics=written.topics or found.topic, decisions=written.decisions,
        channel=ctx.message.channel)
    correcting = found.record is not None
    held_day = held.astimezone(ctx.org.timezone).date()
    due = makeup_due(held_day, ctx.calendar, ctx.org.meetings)
    makeups = [PlannedTask(makeup_key(found.duty, a.person, held_day, found.number),
                           found.duty, a.person, makeup_period(held_day, found.number), due,
                           ctx.org.duties[found.duty].title if found.duty in ctx.org.duties
                           else found.duty, ctx.org.owner_name(a.person))
               for a in absences]
    now_absent = {a.person for a in absences}
    excuse = [(k, text.MAKEUP_NOT_NEEDED) for k in found.makeups
              if (t := ctx.store.task(k)) is not None and t.owner not in now_absent]
    note = text.record_note(found.number, ctx.org, made, len(found.invitees))
    whom = ctx.on_behalf_unit(found.unit)
    try:
        done = ctx.store.record_meeting(found.number, made, note, makeups, excuse, ctx.now,
                                        source=ctx.message.source, on_behalf_of=whom)
    except MeetingNotOpen:
        raise UserError(text.meeting_cancelled_already(_line(ctx, found))) from None
    tasks = [t for t in (ctx.store.task(k) for k in done.tasks) if t is not None]
    fulfilled = [ctx.title(t) for t in tasks
                 if t.checkin is not None and t.checkin.meeting == done.number]
    elsewhere = [ctx.title(t) for t in tasks
                 if t.checkin is None or t.checkin.meeting != done.number]
    late = any(held_day > t.due for t in tasks)
    return Reply(text.recorded(
        _line(ctx, done), _when(ctx, held), made, ctx.org, len(found.invitees), fulfilled,
        elsewhere, len(makeups), text.day(due, ctx.today), late, correcting, done.number))


def _people(ctx: Context, found: Meeting, written: str) -> list[tuple[str, str]]:
    """`张三 李四（病假）` → invitees (person id, reason); anyone else is an error."""
    people: list[tuple[str, str]] = []
    for match in _NAMES.finditer(written):
        name, reason = match[1].strip(), (match[2] or "").strip()
        people.append((_invitee(ctx, found, name), reason[:REASON_LIMIT]))
    return people


def _invitee(ctx: Context, found: Meeting, name: str) -> str:
    invitees = [ctx.org.people[p] for p in found.invitees if p in ctx.org.people]
    exact = [p for p in invitees if name in (p.name, p.id)]
    if exact:
        return exact[0].id
    partial = [p for p in invitees if len(name) >= 2 and name in p.name]
    if len(partial) == 1:
        return partial[0].id
    if len(partial) > 1:
        raise UserError(text.record_ambiguous(name, [p.name for p in partial]))
    person = ctx.org.person(name)
    if person is not None:
        raise UserError(text.record_not_invited(person.name, _line(ctx, found)))
    raise UserError(text.record_unknown_name(name[:20]))


def _name(ctx: Context, written: str) -> str:
    """A chair or note-taker: a person's name when it is one, else as written."""
    person = ctx.org.person(written.strip())
    return person.name if person is not None else written.strip()


def _names_as_written(ctx: Context, written: str) -> list[str]:
    return [_name(ctx, m[1]) for m in _NAMES.finditer(written)]


# ---- 查询 57 -------------------------------------------------------------------------------

def show(ctx: Context, number: int) -> Reply | None:
    """A meeting's notice, leaves and record, as far as the reader may see; None when the
    number is not a meeting this person can see."""
    found = ctx.store.meeting(number)
    if found is None or not visible(ctx, found):
        return None
    makeups = [t for t in (ctx.store.task(k) for k in found.makeups) if t is not None]
    lines = text.meeting_view(ctx.org, found, ctx.today, sees_reasons(ctx, found),
                              [t for t in (ctx.store.task(k) for k in found.tasks)
                               if t is not None], makeups, ctx.person.id)
    buttons: tuple[Button, ...] = ()
    if found.state is MeetingState.PLANNED and ctx.now < found.start and invited(ctx, found):
        buttons = (text.join_button(found.number), text.leave_button(found.number))
    return ctx.paged(lines[0], lines[1:], text.meeting_view_footer(found, organises(ctx, found),
                                                                   ctx.now), buttons)


def attach_to_record(ctx: Context, within: timedelta) -> Reply | None:
    """A photo or file sent soon after this person's 纪实 joins it; None when there is no
    such record (the attachment may belong to a check-in)."""
    last = ctx.store.last_meeting_record_by(ctx.person.id)
    if last is None or not timedelta(0) <= ctx.now - last[1].at <= within:
        return None
    latest_checkin = ctx.store.last_checkin_by(ctx.person.id)
    if (latest_checkin is not None and latest_checkin[1].meeting != last[0].number
            and latest_checkin[1].at > last[1].at):
        return None
    ctx.store.attach_to_meeting(last[0].number, ctx.message.attachments, ctx.person.id,
                                ctx.now, source=ctx.message.source)
    return Reply(text.meeting_attached(_line(ctx, last[0]), len(ctx.message.attachments)))


def attach(ctx: Context, args: str) -> Reply:
    """A photo or file with no text: evidence for the 纪实 or the check-in just made."""
    return attach_to_record(ctx, ATTACH_WINDOW) or commands.attach(ctx, args)
