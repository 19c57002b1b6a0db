"""The leaders' view: 查询, 总览, 逾期, 豁免 — and 舆情, which anyone may report.

Every query goes through `handlers.scope`: what lies outside someone's scope is answered as
if it did not exist. Units are listed in the bureau's own config order, never ranked.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from handlers import meetings, text
from handlers.commands import MAX_LINES, Context, UserError
from handlers.messages import Reply
from handlers.parse import clip, period_arg, split_first, split_number
from handlers.scope import find_owners, may_excuse, scope_of
from schedules.meetings import is_makeup
from schedules.model import Cadence
from schedules.periods import event_due, parse_period_key, period_of
from schedules.reminders import opened_recipients
from schedules.standing import due_within, standing
from schedules.tasks import Status, Task, retired
from storage.repository import TaskNotExcused, TaskNotOpen

RECENT = timedelta(days=31)  # as-required and event tasks count as "this period" this long


def status(ctx: Context, args: str) -> Reply:
    """`查询 第二支部`: that unit's or person's tasks of the current periods."""
    target = args.strip()
    if not target:
        return Reply(text.STATUS_USAGE)
    number, rest = split_number(target)
    if number is not None and not rest:  # `查询 57`: a meeting
        shown = meetings.show(ctx, number)
        if shown is None:
            raise UserError(text.no_such_meeting(number))
        return shown
    scope = scope_of(ctx.org, ctx.person)
    found = find_owners(ctx.org, scope, target)
    if not found:
        raise UserError(text.not_in_scope(target[:30]))
    if len(found) > 1:
        return Reply(text.several_targets(
            target[:30], [ctx.org.owner_name(owners[0]) for owners in found[:MAX_LINES]]))
    owners = found[0]
    order = {o: i for i, o in enumerate(owners)}
    tasks = sorted((t for t in ctx.store.tasks_of(owners) if _current(t, ctx.today)),
                   key=lambda t: (order[t.owner], t.due, t.number))
    who = _target_label(ctx, owners)
    if not tasks:
        return Reply(text.status_none(who))
    lines = [text.status_line(_line(ctx, t), t.due, ctx.today, _state(ctx, t)) for t in tasks]
    return ctx.paged(text.status_header(who, ctx.today), lines, text.STATUS_FOOTER)


def overview(ctx: Context, args: str) -> Reply:
    """`总览 [期间]`: per owner in scope, the counts of tasks due in the period (default:
    this half-year, the plan's reporting rhythm), and what is overdue."""
    scope = scope_of(ctx.org, ctx.person)
    if not scope.units:
        return Reply(text.NO_SCOPE)
    token, _ = split_first(args)
    period = period_arg(token, ctx.today) if token else period_of(Cadence.HALF_YEARLY,
                                                                    ctx.today)
    if period is None:
        raise UserError(text.bad_period(token[:20]))
    if period.end < ctx.store.since:
        return Reply(text.before_records(period.label(), ctx.store.since))
    in_period = [t for t in due_within(ctx.store.tasks_of(scope.owners), period.start,
                                       period.end) if not is_makeup(t)]
    gone = frozenset(t.key for t in in_period if retired(ctx.org, t))
    by_owner: dict[str, list[Task]] = defaultdict(list)
    for t in in_period:
        by_owner[t.owner].append(t)
    lines: list[str] = []
    quiet = 0
    for owner in scope.owners:
        if not by_owner.get(owner):
            quiet += owner in ctx.org.units  # people without duties are simply not listed
            continue
        s = standing(by_owner[owner], ctx.org.timezone, ctx.today, retired=gone)
        lines.append(text.overview_row(_owner_label(ctx, owner), s.due, s.done, s.excused,
                                       s.overdue, s.not_yet_due, s.retired))
    if quiet:
        lines.append(text.overview_quiet(quiet))
    late = _overdue_sorted(ctx, in_period, scope.owners)
    if late:
        lines.append(text.OVERVIEW_OVERDUE)
        lines += [text.overview_late_line(_line(ctx, t), _state(ctx, t)) for t in late]
    else:
        lines.append(text.OVERVIEW_NO_OVERDUE)
    return ctx.paged(text.overview_header(period.label(), ctx.today, scope.everything), lines,
                     text.OVERVIEW_FOOTER)


def overdue(ctx: Context, args: str) -> Reply:
    """`逾期`: every overdue task in my scope, whatever its period."""
    scope = scope_of(ctx.org, ctx.person)
    late = _overdue_sorted(ctx, ctx.store.tasks_of(scope.owners), scope.owners)
    if not late:
        return Reply(text.OVERDUE_NONE)
    return ctx.paged(text.overdue_header(len(late)),
                     [text.overdue_line(_line(ctx, t), t.due, ctx.today, _state(ctx, t))
                      for t in late], text.OVERDUE_FOOTER)


def excuse(ctx: Context, args: str) -> Reply:
    """`豁免 17 原因`: an authorised person excuses a task; it stops reminding."""
    number, reason = split_number(args)
    if number is None or not reason:
        return Reply(text.EXCUSE_USAGE)
    reason, cut = clip(reason)
    task = _visible(ctx, number)
    line = _line(ctx, task)
    if not may_excuse(ctx.org, ctx.person, task.owner):
        return Reply(text.excuse_not_allowed(line))
    if task.status is Status.DONE:
        return Reply(text.excuse_done(line, _when(ctx, task)))
    if task.excuse is not None:
        return Reply(text.excuse_again(line, _when(ctx, task), task.excuse.reason))
    try:
        ctx.store.excuse(task.key, ctx.person.id, ctx.now, reason, source=ctx.message.source)
    except TaskNotOpen:  # checked in or excused a moment ago
        return excuse(ctx, args)
    return Reply(text.excused_now(line, reason, number) + (f"\n{text.clipped()}" if cut else ""))


def unexcuse(ctx: Context, args: str) -> Reply:
    """`撤销豁免 17 [原因]`: whoever may excuse the task withdraws its excuse; the task is
    open again and reminders resume at the next stage."""
    number, reason = split_number(args)
    if number is None:
        return Reply(text.UNEXCUSE_USAGE)
    reason, cut = clip(reason)
    task = _visible(ctx, number)
    line = _line(ctx, task)
    if not may_excuse(ctx.org, ctx.person, task.owner):
        return Reply(text.unexcuse_not_allowed(line))
    if task.status is not Status.EXCUSED:
        return Reply(text.unexcuse_not_excused(line))
    try:
        ctx.store.withdraw_excuse(task.key, ctx.person.id, ctx.now, reason,
                                  source=ctx.message.source)
    except TaskNotExcused:  # withdrawn a moment ago
        return Reply(text.unexcuse_not_excused(line))
    return Reply(text.unexcused(line) + (f"\n{text.clipped()}" if cut else ""))


def _visible(ctx: Context, number: int) -> Task:
    """Task `number` if it is in the asker's scope; else the refusal a missing one gets."""
    task = ctx.store.task_by_number(number)
    if (task is None or retired(ctx.org, task)
            or not scope_of(ctx.org, ctx.person).covers(task.owner)):
        raise UserError(text.excuse_not_found(number))
    return task


INCIDENT_KEYWORD = "舆情"  # what `舆情 …` opens: the event duty with this keyword


def incident(ctx: Context, args: str) -> Reply:
    """`舆情 描述`: opens the event duty whose keyword is 舆情 (the plan's 网络意识形态舆情
    处置) for its owner, due N working days later; the reminders inform the owner and its
    leader."""
    return _report_event(ctx, INCIDENT_KEYWORD, args)


def report_event(ctx: Context, args: str) -> Reply:
    """`上报 汛情 描述`: opens the event duty with that keyword."""
    keyword, rest = split_first(args)
    keywords = [d.keyword for d in ctx.org.duties.values() if d.cadence is Cadence.EVENT]
    if not keyword or keyword not in keywords:
        return Reply(text.report_usage(keywords))
    return _report_event(ctx, keyword, rest)


def _report_event(ctx: Context, keyword: str, args: str) -> Reply:
    note, cut = clip(args.strip())
    duty = next((d for d in ctx.org.duties.values()
                 if d.cadence is Cadence.EVENT and d.keyword == keyword), None)
    if duty is None:
        return Reply(text.INCIDENT_NOT_PLANNED)
    if not note:
        return Reply(text.event_usage(keyword))
    replies = []
    due = event_due(ctx.today, duty.due, ctx.calendar)
    for owner in ctx.org.duty_owners(duty):
        source = _source(ctx, duty.id, owner)
        seen = ctx.store.outcome_of(source) if source else None
        task = ctx.store.open_event_task(duty.id, owner, due, note, ctx.person.id,
                                         ctx.now, source=source)
        if seen is not None:  # the platform delivered the report again
            replies.append(text.replayed_incident(_line(ctx, task)))
            continue
        assignee = ctx.org.assignee(owner)
        informed = [p for p in opened_recipients(ctx.org, task) if p != assignee]
        replies.append(text.incident_opened(
            _line(ctx, task), ctx.org.owner_name(assignee) if assignee else "",
            text.day(task.due, ctx.today),
            text.listing(ctx.org.owner_name(p) for p in informed), keyword))
    if not replies:
        return Reply(text.INCIDENT_NOT_PLANNED)
    if cut:
        replies.append(text.clipped())
    return Reply("\n".join(replies))


def _source(ctx: Context, duty: str, owner: str) -> str | None:
    """One message may open tasks of several event duties: each its own source."""
    source = ctx.message.source
    return f"{source}|{duty}|{owner}" if source else None


def _overdue_sorted(ctx: Context, tasks: list[Task], owners: tuple[str, ...]) -> list[Task]:
    order = {o: i for i, o in enumerate(owners)}
    late = [t for t in tasks if t.is_overdue(ctx.today) and t.owner in order
            and not retired(ctx.org, t)
            and (not is_makeup(t) or t.owner == ctx.person.id)]  # 补学 is personal
    return sorted(late, key=lambda t: (order[t.owner], t.due, t.number))


def _current(task: Task, today: date) -> bool:
    """Of this period: its period holds today; or it is still open from an earlier one."""
    if task.status is Status.OPEN and task.due < today:
        return True
    try:
        period = parse_period_key(task.period)[1]
    except ValueError:  # as-required deadlines and events: open, or lately due
        return task.status is Status.OPEN or task.due >= today - RECENT
    return period.start <= today <= period.end


def _target_label(ctx: Context, owners: list[str]) -> str:
    """机关第二党支部; a person: 吴芳（含负责的机关第一党支部）."""
    first, units = owners[0], [ctx.org.owner_name(o) for o in owners[1:]]
    if first not in ctx.org.people:
        return ctx.org.owner_name(first)
    return text.with_units(ctx.org.owner_name(first), units)


def _owner_label(ctx: Context, owner: str) -> str:
    name = ctx.org.owner_name(owner)
    return text.own_tasks(name) if owner in ctx.org.people else name


def _line(ctx: Context, task: Task) -> str:
    return ctx.title(task)


def _state(ctx: Context, task: Task) -> str:
    late = (ctx.calendar.workdays_after(task.due, ctx.today)
            if task.is_overdue(ctx.today) else None)
    return text.state_of(task.done_on(ctx.org.timezone), task.status is Status.EXCUSED,
                         late, ctx.today, retired=retired(ctx.org, task))


def _when(ctx: Context, task: Task) -> str:
    moment = task.excuse.at if task.excuse else (task.checkin.at if task.checkin else None)
    return text.day(moment.astimezone(ctx.org.timezone).date(), ctx.today) if moment else ""
