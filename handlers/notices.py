"""The words of reminders and digests: a planned notice (or several merged) → a `Reply`.

Tone as in `handlers.text`: polite, short, and each message ends with what to do. Leaders'
and groups' messages list units in the bureau's own order — never ranked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from handlers.messages import Button, Reply
from handlers.scope import scope_of
from handlers.text import (
    day,
    describe,
    meeting_title,
    moment,
    period_label,
    short,
    shown,
    task_title,
)
from schedules.calendar import WorkCalendar, YearGap
from schedules.meetings import MEETING_ORDER, Meeting, MeetingState
from schedules.model import Org
from schedules.reminders import Notice, Stage, senior, supervises
from schedules.tasks import Status, Task

URGENCY = [Stage.MOVED, Stage.OPENED, Stage.ADVANCE, Stage.EVE, Stage.DUE, Stage.OVERDUE,
           Stage.ESCALATION]
MAX_DIGEST_LINES = 20
SUPERVISE = "请您关注并督促完成；负责同志完成后记录即可，无需回复本消息。"
INFORM = "已记入台账，供您掌握情况，无需回复本消息。"


class TaskView(Protocol):
    """What rendering reads: the store, or the simulator's picture of the future."""

    def task(self, key: str) -> Task | None: ...

    def tasks_of(self, owners: Sequence[str] | set[str]) -> list[Task]: ...

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
    return f"【{task.number}】{describe(org, task, for_person)}"


def task_reminder(org: Org, task: Task, notices: Sequence[Notice], calendar: WorkCalendar,
                  now: datetime, tz: ZoneInfo | None = None) -> Reply:
    """A reminder to the assignee, or an escalation to a leader or admin. Dates are the
    duty's own (`tz`, its policy's time zone)."""
    today = now.astimezone(tz or org.timezone).date()
    lead = principal(notices)
    late = calendar.workdays_after(task.due, today)
    if lead.stage is Stage.ESCALATION:
        assignee = org.assignee(task.owner)
        who = org.owner_name(assignee) if assignee else "未指定"
        title = task_title(org, task)
        if supervises(org, lead.recipient, task.owner):
            head, ask = "【逾期督办】", SUPERVISE
        else:  # an admin, or anyone hearing of a duty of someone senior: for the record
            head, ask = "【逾期知会】", INFORM
        return Reply(
            f"{head}{task_line(org, task)}截止于{day(task.due, today)}，"
            f"已逾期{late}个工作日，负责人：{who}。\n{ask}",
            minimal=f"{head}【{task.number}】{title}截止于{day(task.due, today)}，"
                    f"已逾期{late}个工作日。{ask}")
    if lead.stage is Stage.OPENED:
        return event_opened(org, task, lead.recipient, today)
    reply = _reminder(org, task, lead, late, calendar, today)
    if any(n.stage is Stage.MOVED for n in notices) and lead.stage is not Stage.MOVED:
        return replace(reply, text=f"{reply.text}\n{_moved(task, today)}")
    return reply


def _moved(task: Task, today: date) -> str:
    before = f"由{day(task.previous_due, today)}" if task.previous_due else ""
    return f"因责任清单调整，截止日已{before}改为{day(task.due, today)}。"


def _reminder(org: Org, task: Task, lead: Notice, late: int, calendar: WorkCalendar,
              today: date) -> Reply:
    line = task_line(org, task, lead.recipient)
    duty = org.duties.get(task.duty)
    title = task_title(org, task)
    # Without a person's name (本人 is the reader) or an event's note.
    bare = line if task.owner in org.units and not task.note else (
        f"【{task.number}】{title}（{period_label(task.period)}）")
    hint = f"\n建议说明：{duty.evidence}" if duty and duty.evidence else ""
    action = f"完成后回复「完成 {task.number} 备注」或点「已完成」。"
    buttons = (Button("已完成", f"完成 {task.number}"), Button("查看待办", "待办"))
    if lead.stage is Stage.MOVED:
        head = f"【截止日调整】{line}"
        return Reply(f"{head}\n{_moved(task, today)}{action}", buttons=buttons,
                     title=f"【截止日调整】{title}", minimal=_minimal(head, line, bare, action))
    if today > task.due:
        if senior(org, org.assignee(task.owner)):  # a reminder, never a demand, upward
            head = f"【逾期提示】{line}截止于{day(task.due, today)}，已逾期{late}个工作日。"
            ask = "特此提示。"
        else:
            head = f"【逾期提醒】{line}截止于{day(task.due, today)}，已逾期{late}个工作日。"
            ask = "请尽快完成。"
        return Reply(f"{head}\n{ask}{action}{hint}", buttons=buttons,
                     title=head[:6] + title, minimal=_minimal(head, line, bare, action))
    days_left = (task.due - today).days
    workdays = calendar.workdays_after(today, task.due)
    if days_left == 0:
        head = f"【今日截止】{line}今天截止。"
    elif days_left > 1 and calendar.previous_workday(task.due) == today:
        head = f"【即将截止】{line}将于{day(task.due, today)}截止，今天是截止前最后一个工作日。"
    elif days_left == 1:
        head = f"【明日截止】{line}将于明天{day(task.due, today)}截止。"
    else:
        span = f"还有{days_left}天" + (f"（其中工作日{workdays}天）"
                                       if days_left - workdays >= 3 else "")
        head = f"【待办提醒】{line}将于{day(task.due, today)}截止，{span}。"
    return Reply(f"{head}\n{action}{hint}", buttons=buttons, title=head[:6] + title,
                 minimal=_minimal(head, line, bare, action))


def _minimal(head: str, line: str, bare: str, action: str) -> str | None:
    """The reminder with its owner's name taken out when that is a person (a leader's own
    duty); units are not people. None when nothing needs taking out."""
    return None if line == bare else f"{head.replace(line, bare)}\n{action}"


def event_opened(org: Org, task: Task, recipient: str, today: date) -> Reply:
    """A reported event (舆情): to its assignee, what to do; to the leader, for information."""
    reporter = org.owner_name(task.opened_by) if task.opened_by else "有同志"
    title = task_title(org, task)
    assignee = org.assignee(task.owner)
    note = shown(task.note)
    if recipient == assignee:
        return Reply(
            f"【{title}】{reporter}报告：{note}\n已登记为【{task.number}】，请于"
            f"{day(task.due, today)}前处置并反馈。处置完成后回复「完成 {task.number} "
            "处置情况」或点「已完成」。",
            buttons=(Button("已完成", f"完成 {task.number}"), Button("查看待办", "待办")),
            title=f"【{title}】{short(task.note)}",
            minimal=f"【{title}】有新登记的事项【{task.number}】，请于{day(task.due, today)}前"
                    "处置并反馈，详情请通过单位内部渠道了解。"
                    f"处置完成后回复「完成 {task.number}」。")
    who = org.owner_name(assignee) if assignee else org.owner_name(task.owner)
    return Reply(
        f"【{title}·知悉】{reporter}报告：{note}\n已转{who}处置（编号 {task.number}），"
        f"{day(task.due, today)}前反馈。请您知悉，无需回复；逾期未处置将另行提示。",
        minimal=f"【{title}·知悉】有新登记的事项（编号 {task.number}），"
                f"{day(task.due, today)}前反馈。详情请通过单位内部渠道了解，无需回复。")


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
    lines = [f"【本周提示】{unit.name}：逾期及两周内截止的事项 {len(soon)} 项"]
    for t in soon[:MAX_DIGEST_LINES]:
        late = "，已逾期" if t.due < today else ""
        title = org.duties[t.duty].title
        lines.append(f"· 【{t.number}】{title}（{period_label(t.period)}）截止 "
                     f"{day(t.due, today)}{late}")
    if len(soon) > MAX_DIGEST_LINES:
        lines.append(f"……另有 {len(soon) - MAX_DIGEST_LINES} 项。")
    later = len(open_tasks) - len(soon)
    if later:
        lines.append(f"另有 {later} 项截止较晚，发送「待办」可查看全部。")
    lines.append("完成后由负责同志回复「完成 编号 备注」即可。")
    return Reply("\n".join(lines), mentions=(unit.head,))


def monthly_digest(org: Org, leader_id: str, tasks: TaskView, calendar: WorkCalendar,
                   now: datetime) -> Reply | None:
    """For a leader: each unit in their scope (all, for the party secretary), in config order."""
    today = now.astimezone(org.timezone).date()
    scope = scope_of(org, org.people[leader_id])
    units = [org.units[u] for u in scope.units]
    last_month_end = today.replace(day=1) - timedelta(days=1)
    last_month_start = last_month_end.replace(day=1)
    whose = "全局各单位" if scope.everything else "您负责或分管的单位"
    lines = [f"【月度情况】{today.year}年{today.month}月初，{whose}责任事项情况："]

    def status(owner: str) -> str:
        own = [t for t in tasks.tasks_of({owner}) if t.duty in org.duties]
        open_ = [t for t in own if t.status is Status.OPEN]
        overdue = sum(t.due < today for t in open_)
        done = sum(1 for t in own if t.checkin and _within(t.checkin.at.astimezone(
            org.timezone).date(), last_month_start, last_month_end))
        return (f"上月完成 {done} 项；待完成 {len(open_)} 项"
                + (f"，其中已逾期 {overdue} 项" if overdue else ""))

    for u in units[:MAX_DIGEST_LINES]:
        lines.append(f"· {u.name}：{status(u.id)}")
    if len(units) > MAX_DIGEST_LINES:
        lines.append(f"……另有 {len(units) - MAX_DIGEST_LINES} 个单位未列出。")
    if tasks.tasks_of({leader_id}):
        lines.append(f"· 您本人（述职、讲党课等）：{status(leader_id)}")
    if len(lines) == 1:
        return None
    lines.append("逾期事项会同时提醒各单位负责人。发送「待办」查看您本人的事项。")
    return Reply("\n".join(lines))


def admin_report(org: Org, problems: Sequence[Problem],
                 gaps: Sequence[YearGap] = ()) -> Reply | None:
    """For the admins, weekly: delivery problems of the past week, and years whose holidays
    `[calendar]` still lacks; nothing when all is well."""
    lines: list[str] = []
    if problems:
        lines.append(f"【投递情况】过去一周有 {len(problems)} 条消息未能确认送达：")
        for p in problems[:MAX_DIGEST_LINES]:
            who = org.owner_name(p.recipient)
            lines.append(f"· {who}，{p.channel or '无渠道'}：{p.error or '状态不明，可能已送达'}")
        if len(problems) > MAX_DIGEST_LINES:
            lines.append(f"……另有 {len(problems) - MAX_DIGEST_LINES} 条，运行 dutybot check 查看。")
        lines.append("请核对相关人员的账号配置或渠道设置，然后运行 dutybot check。")
    for gap in gaps:
        lines.append(f"【节假日提示】{gap.year} 年的放假安排尚未补充完整：配置 [calendar] "
                     f"中还缺 {len(gap.missing)} 个法定节假日，首个为 {gap.missing[0]:%m月%d日}；"
                     "调休上班日也须补充。请按国务院办公厅的放假通知补全，"
                     "运行 dutybot check 核对。")
    if not lines:
        return None
    minimal = None
    if problems:
        minimal = "\n".join([f"【投递情况】过去一周有 {len(problems)} 条消息未能确认送达，"
                             "详情请在单位内部渠道查看或运行 dutybot check。",
                             *(line for line in lines if line.startswith("【节假日提示】"))])
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
            reply = admin_report(org, problems, calendar.gaps(today))
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
SECTION_HEADS = {OWN_LATE: "已逾期：", SUPERVISE_LATE: "请您督办，已逾期：",
                 INFORM_LATE: "知会，已逾期并记入台账：", REPORTED: "新登记，请您处置：",
                 REPORTED_FYI: "新登记，请您知悉：", DUE_TODAY: "今天截止：",
                 COMING: "即将截止：", MOVED: "截止日已调整："}
SECTION_SHORT = {OWN_LATE: "逾期", SUPERVISE_LATE: "督办", INFORM_LATE: "知会",
                 REPORTED: "新登记", REPORTED_FYI: "知悉", DUE_TODAY: "今天截止",
                 COMING: "即将截止", MOVED: "调整"}


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
            full.append(SECTION_HEADS[where])
            bare.append(SECTION_HEADS[where])
        counts[where] = counts.get(where, 0) + 1
        full.append("· " + _bundle_line(org, recipient, item, where, calendar, today, True))
        bare.append("· " + _bundle_line(org, recipient, item, where, calendar, today, False))
    own = [i.task for w, _, _, i in placed if w in (OWN_LATE, REPORTED, DUE_TODAY, COMING,
                                                      MOVED)]
    if own:
        head = f"【今日提醒】您有 {len(items)} 项事项需要关注："
        foot = ("完成后回复「完成 编号 备注」，多项可一并记录，如「完成 "
                + " ".join(str(t.number) for t in own[:2]) + "」；也可点下方按钮。")
    elif SUPERVISE_LATE in counts:
        head = f"【逾期督办】{len(items)} 项事项已逾期："
        foot = SUPERVISE
    else:
        head = f"【逾期知会】{len(items)} 项事项已逾期："
        foot = INFORM
    buttons = (*(Button(f"完成【{t.number}】", f"完成 {t.number}") for t in own[:BUNDLE_BUTTONS]),
               Button("查看待办", "待办"))
    summary = "，".join(f"{SECTION_SHORT[w]} {n} 项" for w, n in sorted(counts.items()))
    numbers = "".join(f"【{i.task.number}】" for _, _, _, i in placed)
    summary = f"{summary}：{numbers}"
    if len(summary) > CARD_SUMMARY:
        summary = summary[:CARD_SUMMARY - 12].rsplit("【", 1)[0] + "……详见「查看待办」"
    text = "\n".join([head, *full, foot])
    minimal = "\n".join([head, *bare, foot])
    return Reply(text, buttons=buttons, title=head.split("：")[0], summary=summary,
                 minimal=None if minimal == text else minimal)


def _bundle_line(org: Org, recipient: str, item: Item, where: int, calendar: WorkCalendar,
                 today: date, detail: bool) -> str:
    task = item.task
    title = task_title(org, task)
    late = calendar.workdays_after(task.due, today)
    line = task_line(org, task, recipient)
    if not detail and (task.owner not in org.units or task.note):  # no notes, no names
        line = f"【{task.number}】{title}（{period_label(task.period)}）"
    if where in (SUPERVISE_LATE, INFORM_LATE):
        assignee = org.assignee(task.owner)
        who = f"，负责人：{org.owner_name(assignee)}" if assignee and detail else ""
        return f"{line}，截止{day(task.due, today)}，已逾期{late}个工作日{who}"
    if where == REPORTED_FYI:  # a leader hearing of it
        assignee = org.assignee(task.owner)
        who = f"已转{org.owner_name(assignee)}处置，" if assignee and detail else ""
        return f"{line}，{who}{day(task.due, today)}前反馈"
    if where == REPORTED:
        return f"{line}，请于{day(task.due, today)}前处置并反馈"
    if where == MOVED:
        return f"{line}，{_moved(task, today).rstrip('。')}"
    if where == OWN_LATE:
        return f"{line}，截止{day(task.due, today)}，已逾期{late}个工作日"
    if where == DUE_TODAY:
        return f"{line}，今天截止"
    return f"{line}，{day(task.due, today)}截止，还有{(task.due - today).days}天"


# ---- meetings ----------------------------------------------------------------------------

MEETING_HEADS = {Stage.MEETING_NOTICE: "【会议通知】", Stage.MEETING_MOVED: "【会议改期】",
                 Stage.MEETING_CANCELLED: "【会议取消】", Stage.MEETING_EVE: "【会议提醒】",
                 Stage.MEETING_SOON: "【会议提醒】", Stage.MEETING_LEAVE: "【请假】",
                 Stage.MEETING_UNRECORDED: "【纪实提醒】"}


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
    named = f"{head}{title}（{org.owner_name(meeting.unit)}）"
    start = moment(meeting.start.astimezone(org.timezone), today)
    n = meeting.number
    where = f"\n地点：{shown(meeting.place)}" if meeting.place else ""
    topic = f"\n议题：{shown(meeting.topic)}" if meeting.topic else ""
    answer = (Button("参加", f"参加 {n}"), Button("请假", f"请假 {n}"))
    if lead.stage is Stage.MEETING_CANCELLED:
        why = f"\n原因：{shown(meeting.cancel_reason)}" if meeting.cancel_reason else ""
        said = f"{named}原定{start}召开的会议已取消。"
        return Reply(f"{said}{why}\n原定的提醒不再发送，无需回复。", title=head + title,
                     minimal=f"{said}无需回复。")
    if group:
        return Reply(f"{head}{org.owner_name(meeting.unit)} {title}\n时间：{start}{where}{topic}"
                     f"\n召集人：{org.owner_name(meeting.organiser)}\n"
                     f"参会同志请留意个人通知；请假请私信回复「请假 {n} 原因」。",
                     title=head + title)
    if lead.stage is Stage.MEETING_MOVED:
        before = (moment(meeting.previous_start.astimezone(org.timezone), today)
                  if meeting.previous_start else "")
        return Reply(f"{named}由{before}改为{start}{where}{topic}\n"
                     f"请点「参加」或「请假」，或回复「请假 {n} 原因」。", buttons=answer,
                     title=head + title, summary=f"改为{start}")
    if lead.stage is Stage.MEETING_NOTICE:
        ask = f"请点「参加」或「请假」，或回复「参加 {n}」「请假 {n} 原因」。"
        return Reply(f"{named}\n时间：{start}{where}{topic}\n"
                     f"召集人：{org.owner_name(meeting.organiser)}\n{ask}", buttons=answer,
                     title=head + title, summary=start + (f" {shown(meeting.place)}"
                                                          if meeting.place else ""),
                     minimal=f"{named}\n时间：{start}{where}\n{ask}")
    if lead.stage in (Stage.MEETING_EVE, Stage.MEETING_SOON):
        if lead.stage is Stage.MEETING_SOON:
            minutes = max(int((meeting.start - now).total_seconds() // 60), 1)
            when = f"将于{meeting.start.astimezone(org.timezone):%H:%M}（{minutes} 分钟后）召开"
        else:
            when = f"将于{start}召开"
        place = f"，地点：{shown(meeting.place)}" if meeting.place else ""
        return Reply(f"{named}{when}{place}。{topic.strip()}\n"
                     f"如不能参加，请回复「请假 {n} 原因」。",
                     buttons=(Button("请假", f"请假 {n}"),), title=head + title,
                     summary=f"{start}{place}")
    if lead.stage is Stage.MEETING_LEAVE:
        away = meeting.on_leave()
        asked = [meeting.leaves[x.occurrence - 1] for x in live
                 if x.stage is Stage.MEETING_LEAVE and 0 < x.occurrence <= len(meeting.leaves)]
        who = "；".join(f"{org.owner_name(x.person)}（{shown(x.reason)}）" for x in asked
                       if x.person in away)
        count = f"目前应到 {len(meeting.invitees)} 人，请假 {len(away)} 人。"
        return Reply(f"{named}{start}：{who}。\n{count}发送「查询 {n}」查看详情。",
                     title=head + title,
                     minimal=f"{named}{start}：有 {len(asked)} 位同志请假，{count}"
                             f"详情请在单位内部渠道发送「查询 {n}」。")
    return Reply(f"{named}定于{start}的会议尚未记录纪实。"
                 f"会后请发送「纪实 {n}」逐行写明主持、记录、缺席、议题、决议；"
                 f"如未召开，请发送「改期 {n} 新时间」或「取消会议 {n}」。",
                 buttons=(Button("查看会议", f"查询 {n}"),), title=head + title)


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
