"""The words of reminders and digests: a planned notice (or several merged) → a `Reply`.

Tone as in `handlers.text`: polite, short, and each message ends with what to do. Leaders'
and groups' messages list units in the bureau's own order — never ranked.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from handlers.messages import Button, Reply
from handlers.scope import scope_of
from handlers.text import day, describe, period_label, short, shown
from schedules.calendar import WorkCalendar
from schedules.model import Org
from schedules.reminders import Notice, Stage
from schedules.tasks import Status, Task

URGENCY = [Stage.OPENED, Stage.ADVANCE, Stage.EVE, Stage.DUE, Stage.OVERDUE, Stage.ESCALATION]
MAX_DIGEST_LINES = 20


class TaskView(Protocol):
    """What rendering reads: the store, or the simulator's picture of the future."""

    def task(self, key: str) -> Task | None: ...

    def tasks_of(self, owners: Sequence[str] | set[str]) -> list[Task]: ...


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
        who = org.owner_name(assignee) if assignee else "（未指定）"
        title = org.duties[task.duty].title if task.duty in org.duties else task.duty
        return Reply(
            f"【逾期督办】{task_line(org, task)}截止于{day(task.due, today)}，"
            f"已逾期{late}个工作日，负责人：{who}。\n"
            "请您关注并督促完成；完成后负责人打卡即可，无需回复本消息。",
            minimal=f"【逾期督办】【{task.number}】{title}截止于{day(task.due, today)}，"
                    f"已逾期{late}个工作日。请您关注并督促完成，无需回复本消息。")
    if lead.stage is Stage.OPENED:
        return event_opened(org, task, lead.recipient, today)
    line = task_line(org, task, lead.recipient)
    duty = org.duties.get(task.duty)
    title = duty.title if duty else task.duty
    # Without a person's name (本人 is the reader) or an event's note.
    bare = line if task.owner in org.units and not task.note else (
        f"【{task.number}】{title}（{period_label(task.period)}）")
    hint = f"\n建议说明：{duty.evidence}" if duty and duty.evidence else ""
    action = f"完成后回复「打卡 {task.number} 备注」或点“已完成”。"
    buttons = (Button("已完成", f"打卡 {task.number}"), Button("查看待办", "待办"))
    if today > task.due:
        head = f"【逾期提醒】{line}截止于{day(task.due, today)}，已逾期{late}个工作日。"
        return Reply(f"{head}\n请尽快完成。{action}{hint}", buttons=buttons,
                     title=f"【逾期提醒】{title}", minimal=_minimal(head, line, bare, action))
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
    title = org.duties[task.duty].title if task.duty in org.duties else task.duty
    assignee = org.assignee(task.owner)
    note = shown(task.note)
    if recipient == assignee:
        return Reply(
            f"【{title}】{reporter}报告：{note}\n已登记为【{task.number}】，请于"
            f"{day(task.due, today)}前处置并反馈。处置完成后回复「打卡 {task.number} "
            "处置情况」或点“已完成”。",
            buttons=(Button("已完成", f"打卡 {task.number}"), Button("查看待办", "待办")),
            title=f"【{title}】{short(task.note)}",
            minimal=f"【{title}】有新登记的事项【{task.number}】，请于{day(task.due, today)}前"
                    "处置并反馈，详情请通过单位内部渠道了解。"
                    f"处置完成后回复「打卡 {task.number}」。")
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
    lines.append("完成后由负责同志回复「打卡 编号 备注」即可。")
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


def admin_report(org: Org, problems: Sequence[Problem]) -> Reply | None:
    """Delivery problems of the past week, for the admins; nothing when all went well."""
    if not problems:
        return None
    lines = [f"【投递情况】过去一周有 {len(problems)} 条消息未能确认送达："]
    for p in problems[:MAX_DIGEST_LINES]:
        who = org.owner_name(p.recipient)
        lines.append(f"· {who}（{p.channel or '无渠道'}）：{p.error or '状态不明，可能已送达'}")
    lines.append("请核对相关人员的账号配置或渠道设置，然后运行 dutybot check。")
    return Reply("\n".join(lines),
                 minimal=f"【投递情况】过去一周有 {len(problems)} 条消息未能确认送达，"
                         "详情请在单位内部渠道查看或运行 dutybot check。")


def _within(d: date, first: date, last: date) -> bool:
    return first <= d <= last
