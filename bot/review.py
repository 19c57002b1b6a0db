"""What `dutybot check` warns about before harm is done (SPEC §4a): people the enabled
channels cannot reach, a plan with nobody to hear of 局党组's overdue duties, a store folder
that cannot be used, and what a changed config will retire, move or start in the record.

Read-only: the store is opened without its lock, so `check` is safe beside a running bot.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from bot.channels import registry
from bot.config import Config
from bot.simulate import routes
from handlers.text import describe
from schedules.calendar import WorkCalendar
from schedules.model import Invitees, Org
from schedules.tasks import PlanChange, Task, plan_changes, plan_tasks
from storage.errors import StoreError
from storage.tinydb_store import TinyDBStore
from storage.upgrade import FORMAT


@dataclass
class Review:
    warnings: list[str] = field(default_factory=list)
    store_problem: str | None = None  # the store folder cannot be used
    change: PlanChange | None = None  # against the store, when there is one


def review(config: Config, now: datetime, calendar: WorkCalendar) -> Review:
    found = Review()
    found.store_problem = store_problem(config.store_path)
    bound: set[str] = set()
    tasks: list[Task] = []
    planned = []
    if found.store_problem is None and (config.store_path / "meta.json").exists():
        try:
            store = TinyDBStore.open(config.store_path, now, read_only=True)
        except StoreError as e:
            found.store_problem = str(e)
        else:
            try:
                if store.format < FORMAT:
                    found.warnings.append(
                        f"数据目录 {config.store_path} 是较早版本写入的"
                        f"（数据格式 {store.format}）：下次以 dutybot run 或 chat 打开时，"
                        f"会先备份到 {config.backups}，再升级到数据格式 {FORMAT}。")
                tasks = store.all_tasks()
                today = now.astimezone(config.org.timezone).date()
                planned = plan_tasks(config.org, store.since, max(today, store.since), calendar,
                                     store.duties_under_way())
                bound = {p for p in config.org.people for c in registry.CHANNELS
                         if c.bindable and store.account_of(c.name, p) is not None}
            finally:
                store.close()
            found.change = plan_changes(config.org, tasks, planned)
    found.warnings += [f"配置项 {r}：旧名仍可读取，请在 {config.path} 中改用新名。"
                       for r in config.renamed]
    found.warnings += unreachable(config, bound)
    found.warnings += meeting_gaps(config)
    if not config.org.admins:
        found.warnings.append("没有管理员（roles 含 \"admin\" 的人员）：逾期督办无人知会，"
                              "局党组和党组书记本人的逾期事项将无人跟进。"
                              "请为负责责任清单的同志加上 admin。")
    return found


def meeting_gaps(config: Config) -> list[str]:
    """Units a committee meeting duty applies to that list no committee (all their members
    are invited instead), and units with a meeting duty but no members to invite."""
    org = config.org
    warnings = []
    for duty in org.duties.values():
        if duty.meeting is None:
            continue
        for owner in org.duty_owners(duty):
            unit = org.units.get(owner)
            if unit is None:
                continue
            if duty.meeting.who is Invitees.COMMITTEE and not unit.committee:
                warnings.append(f"{unit.name}没有写 committee（支部委员）：{duty.title}将通知"
                                "全体成员。请在其 [[units]] 中写明，如 committee = [\"…\"]。")
            elif not org.invitees(duty, owner)[0]:
                warnings.append(f"{unit.name}没有成员：{duty.title}的会议通知不到任何人。"
                                f"请在成员的 [[people]] 的 units 中加上 \"{unit.id}\"。")
    return list(dict.fromkeys(warnings))


def store_problem(path: Path) -> str | None:
    """Why the store folder cannot be used, in words for the admin; None when it can."""
    if path.exists() and not path.is_dir():
        return f"数据目录 {path} 是一个文件，不是目录：请在 [store] path 中换一个位置"
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not os.access(probe, os.R_OK | os.X_OK):
        return f"数据目录 {path} 无法读取（{probe} 没有读权限）：请检查权限"
    if not os.access(probe, os.W_OK):
        what = "写入" if probe == path else f"创建（{probe} 不可写）"
        return (f"数据目录 {path} 无法{what}：机器人只能查询，不能记录。"
                "请授予运行 dutybot 的用户写权限，或在 [store] path 中换一个位置")
    return None


def unreachable(config: Config, bound: set[str]) -> list[str]:
    """Heads, deputies and supervisors the enabled channels cannot reach (none is enabled:
    the console reaches everyone, so nothing to say). `bound`: people with an account
    bound on a channel that binds."""
    if not config.any_channel:
        return []
    org = config.org
    enabled = list(registry.enabled(config.channels))
    roles: dict[str, list[str]] = {}
    for u in org.units.values():
        for person, role in ((u.head, "负责人"), (u.deputy, "代理人"), (u.supervisor, "分管领导")):
            if person:
                roles.setdefault(person, []).append(f"{u.name}{role}")
    warnings = []
    for person, what in roles.items():
        if routes(config, person, False) or (person in bound and any(
                c.bindable for c, _ in enabled)):
            continue
        ways = list(dict.fromkeys(c.missing_address(s) for c, s in enabled))
        warnings.append(f"{org.owner_name(person)}（{'、'.join(what)}）收不到提醒："
                        + "，".join(ways))
    return warnings


def change_lines(org: Org, change: PlanChange, folder: Path) -> list[str]:
    if not (change.retired or change.moved or change.new):
        return []
    lines = [f"与数据目录 {folder} 相比，重启后："]
    if change.retired:
        lines.append(f"  将停用 {len(change.retired)} 项未完成的任务（不再提醒、不计逾期，"
                     "仍按原名称保留在记录和报表中）：")
        lines += [f"    【{t.number}】{describe(org, t)}" for t in change.retired[:20]]
        if len(change.retired) > 20:
            lines.append(f"    ……另有 {len(change.retired) - 20} 项")
    if change.moved:
        lines.append(f"  将改截止日 {len(change.moved)} 项未完成的任务（各通知负责人一次；"
                     "改早的可能立即逾期）：")
        lines += [f"    【{t.number}】{describe(org, t)}：{t.due:%m-%d} → {due:%m-%d}"
                  for t, due in change.moved[:20]]
        if len(change.moved) > 20:
            lines.append(f"    ……另有 {len(change.moved) - 20} 项")
    if change.new:
        lines.append(f"  将开始 {len(change.new)} 项新的事项和单位（从当前周期起生成任务）：")
        lines += [f"    {org.duties[d].title} — {org.owner_name(o)}" for d, o in change.new[:20]]
        if len(change.new) > 20:
            lines.append(f"    ……另有 {len(change.new) - 20} 项")
    return lines
