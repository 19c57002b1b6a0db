"""What `dutybot check` shows: the config as the admin wrote it, read back."""

from __future__ import annotations

import os
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from bot.channels import registry
from bot.config import Config
from bot.review import Review, change_lines, review
from handlers.text import day
from schedules.calendar import WorkCalendar, YearGap
from schedules.model import Adjust, Cadence, Duty, Org, Policy
from schedules.tasks import plan_tasks

CADENCE_ZH = {
    Cadence.WEEKLY: "每周",
    Cadence.SEMI_MONTHLY: "每半月",
    Cadence.MONTHLY: "每月",
    Cadence.QUARTERLY: "每季度",
    Cadence.HALF_YEARLY: "每半年",
    Cadence.YEARLY: "每年",
    Cadence.AS_REQUIRED: "按要求",
    Cadence.EVENT: "随时发生",
}


def policy_text(p: Policy) -> str:
    parts = [f"提前{p.advance_days}天" if p.advance_days else "不提前提醒",
             "前一工作日" if p.eve else "", "当天" if p.due_day else "",
             f"逾期每工作日最多{p.overdue_max}次" if p.overdue_max else "逾期不提醒",
             f"逾期第{p.escalate_on}个工作日督办" if p.escalate_on else "不督办",
             f"{p.send_at:%H:%M} 发送"]
    if p.quiet_start != p.quiet_end:
        parts.append(f"免打扰 {p.quiet_start:%H:%M}–{p.quiet_end:%H:%M}")
    if p.timezone is not None:
        parts.append(f"时区 {p.timezone.key}")
    return "、".join(x for x in parts if x)


def owners_text(org: Org, duty: Duty) -> str:
    names = [org.owner_name(o) for o in org.duty_owners(duty)]
    shown = "、".join(names[:4]) + (f" 等 {len(names)} 个" if len(names) > 4 else "")
    return shown or "（无）"


def as_text(config: Config, now: datetime, horizon: timedelta,
            found: Review | None = None) -> str:
    org = config.org
    today = now.astimezone(org.timezone).date()
    store_state = "已存在" if (config.store_path / "meta.json").exists() else "首次运行时创建"
    lines = [
        f"配置有效：{config.path}",
        f"单位：{org.name}（时区 {org.timezone.key}）",
        f"存储：{config.store_path}（{store_state}）",
        "",
        f"组织（{len(org.units)} 个单位，{len(org.people)} 人）：",
    ]
    for u in org.units.values():
        head = org.owner_name(u.head)
        sup = f"，分管领导 {org.owner_name(u.supervisor)}" if u.supervisor else ""
        sup += f"，代理人 {org.owner_name(u.deputy)}" if u.deputy else ""
        lines.append(f"  {u.name} [{u.id}, {u.kind}] 负责人 {head}{sup}")
    lines += ["", f"责任事项（{len(org.duties)} 项）："]
    for d in org.duties.values():
        own = "" if d.policy == config.reminders else f"（提醒：{policy_text(d.policy)}）"
        extra = (("，遇非工作日" + ("提前" if d.adjust is Adjust.PREVIOUS else "顺延"))
                 if d.adjust is not Adjust.NONE else "") + ("，属上一周期" if d.about_previous
                                                            else "")
        word = f"，关键词「{d.keyword}」" if d.keyword else ""
        lines.append(f"  [{d.clause}] {d.title} — {CADENCE_ZH[d.cadence]}，"
                     f"截止：{d.due.describe()}{extra}{word} — {owners_text(org, d)}{own}")
    lines += ["", f"提醒规则：{policy_text(config.reminders)}；只在工作日发送"]
    until = today + horizon
    calendar = WorkCalendar(config.holidays, config.workdays)
    due_soon = Counter(
        (p.due, p.duty) for p in plan_tasks(org, today, until, calendar) if today <= p.due <= until
    )
    lines += ["", f"近期截止（{horizon.days} 天内）："]
    soon = sorted(due_soon.items())
    for (due, duty_id), count in soon[:DEADLINE_LINES]:
        lines.append(f"  {day(due, today)} {org.duties[duty_id].title} × {count}")
    if len(soon) > DEADLINE_LINES:
        lines.append(f"  ……另有 {len(soon) - DEADLINE_LINES} 项未列出")
    if not due_soon:
        lines.append("  无")
    lines += ["", *calendar_lines(config, today, until)]
    found = found or review(config, now, calendar)
    if found.change is not None:
        changed = change_lines(org, found.change, config.store_path)
        if changed:
            lines += ["", *changed]
    notes = ([found.store_problem] if found.store_problem else []) + found.warnings
    if notes:
        lines += ["", "请注意："] + [f"  · {n}" for n in notes]
    lines += ["", "渠道：" + "；".join(channel_states(config))]
    return "\n".join(lines)


DEADLINE_LINES = 12


def calendar_gaps(config: Config, today: date, until: date) -> list[YearGap]:
    """Estimated years (no package data) whose statutory holidays `[calendar]` lacks: this
    year, next year from 1 November, and any year the horizon reaches."""
    calendar = WorkCalendar(config.holidays, config.workdays)
    found = {g.year: g for g in calendar.gaps(today)}
    for year in range(today.year, until.year + 1):
        gap = calendar.gap(year)
        if gap is not None:
            found[year] = gap
    return [found[y] for y in sorted(found)]


def calendar_lines(config: Config, today: date, until: date) -> list[str]:
    gaps = calendar_gaps(config, today, until)
    if not gaps:
        return ["日历：节假日与调休数据完整。"]
    lines = ["日历："]
    for gap in gaps:
        dates = "、".join(f"{d:%m-%d}" for d in gap.missing)
        lines.append(f"  {gap.year} 年为推算：chinese-calendar 尚未收录当年放假安排，法定节假日已按"
                     "《全国年节及纪念日放假办法》推算，调休上班日须自行补充。"
                     f"[calendar] 尚缺法定节假日 {len(gap.missing)} 天：{dates}")
    lines.append("  请按国务院办公厅公布的当年放假通知，在 [calendar] 的 holidays 中列出"
                 "全部放假日期、workdays 中列出调休上班日（见管理员指南第 7 节）。")
    return lines


def channel_states(config: Config) -> list[str]:
    states = ["控制台 可用"]
    for channel in registry.CHANNELS:
        if config.channel(channel.name) is None:
            states.append(f"{channel.label} 未启用")
    for channel, settings in registry.enabled(config.channels):
        states += channel.states(settings, config, os.environ)
    missing = [f"{what}（{name or '未指定变量名'}）"
               for what, name in config.env_names().items() if not name or name not in os.environ]
    if missing:
        states.append("缺少环境变量：" + "、".join(missing))
    return states


def as_json(config: Config, now: datetime, horizon: timedelta,
            found: Review | None = None) -> dict[str, Any]:
    """What `check` shows, for scripts: the org, duties, the deadlines within `horizon`
    (every one, with its owners), the calendar's estimated years, and the channels."""
    org = config.org
    today = now.astimezone(org.timezone).date()
    until = today + horizon
    calendar = WorkCalendar(config.holidays, config.workdays)
    deadlines = sorted((p for p in plan_tasks(org, today, until, calendar)
                        if today <= p.due <= until),
                       key=lambda p: (p.due, p.duty, p.owner))
    environment = config.env_names()
    found = found or review(config, now, calendar)
    return {
        "bureau": {"name": org.name, "timezone": org.timezone.key},
        "people": [
            {"id": p.id, "name": p.name, "roles": sorted(r.value for r in p.roles),
             "units": list(p.units),
             **dict(p.addresses)}
            for p in org.people.values()
        ],
        "units": [
            {"id": u.id, "name": u.name, "kind": u.kind, "head": u.head,
             "supervisor": u.supervisor}
            for u in org.units.values()
        ],
        "duties": [
            {"id": d.id, "title": d.title, "clause": d.clause, "cadence": d.cadence.value,
             "due": d.due.describe(), "owners": org.duty_owners(d), "evidence": d.evidence}
            for d in org.duties.values()
        ],
        "deadlines": {
            "from": today.isoformat(), "to": until.isoformat(),
            "tasks": [{"due": p.due.isoformat(), "duty": p.duty, "owner": p.owner,
                       "period": p.period} for p in deadlines],
        },
        "calendar": {
            "holidays": [d.isoformat() for d in sorted(config.holidays)],
            "workdays": [d.isoformat() for d in sorted(config.workdays)],
            "estimated": [{"year": g.year, "missing": [d.isoformat() for d in g.missing]}
                          for g in calendar_gaps(config, today, until)],
        },
        "warnings": ([found.store_problem] if found.store_problem else []) + found.warnings,
        "changes": {
            "retired": [{"number": t.number, "key": t.key} for t in found.change.retired],
            "new": [{"duty": d, "owner": o} for d, o in found.change.new],
            "moved": [{"number": t.number, "key": t.key, "due": t.due.isoformat(),
                       "new_due": due.isoformat()} for t, due in found.change.moved],
        } if found.change is not None else None,
        "channels": {
            "console": {"enabled": True},
            **{c.name: {"enabled": config.channel(c.name) is not None,
                        **(c.summary(config.channels[c.name], config)
                           if config.channel(c.name) is not None else {})}
               for c in registry.CHANNELS},
            "missing_environment": sorted(name for name in environment.values()
                                          if name and name not in os.environ),
        },
    }
