"""Every sentence the bot says in chat, in one place so the wording can be reviewed together.

Tone: a colleague in the office — short, polite (您), and each reply ends with what the
person can do next.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from handlers.parse import TEXT_LIMIT
from schedules.meetings import makeup_meeting
from schedules.model import Org
from schedules.periods import parse_period_key
from schedules.tasks import PlannedTask, Task

WEEKDAYS = "一二三四五六日"
CHANNEL_NAMES = {"console": "控制台", "wecom": "企业微信", "wecom-robot": "企业微信群机器人",
                 "telegram": "Telegram"}


def channel_name(channel: str) -> str:
    return CHANNEL_NAMES.get(channel, channel or "无渠道")

NOT_REGISTERED = (
    "您好，您的账号尚未登记在本单位的责任清单中，暂时无法使用。"
    "如需开通，请联系本单位负责责任清单的管理员。"
)
SORRY = "抱歉，处理时出现了问题，本次操作未完成。请稍后再试；如多次出现，请联系管理员。"

# What a command that could not be saved did not do, by command name.
_NOT_SAVED = {
    "checkin": "本次完成情况未记录",
    "undo": "本次撤销未生效",
    "restore": "本次恢复未生效",
    "excuse": "本次豁免未记录",
    "unexcuse": "本次撤销豁免未生效",
    "incident": "本次舆情未登记",
    "report": "本次上报未登记",
    "attach": "附件未保存",
    "bind": "本次绑定未完成",
    "delegate": "本次委托未生效",
    "undelegate": "本次取消委托未生效",
}


def write_failed(command: str) -> str:
    what = _NOT_SAVED.get(command, "本次操作未完成")
    return f"抱歉，记录未能保存（存储暂时无法写入），{what}。请稍后重试；查询不受影响。"


def clock_behind(now: datetime, newest: datetime) -> str:
    return (f"抱歉，系统时间 {now:%Y-%m-%d %H:%M} 早于台账中最新一条记录的时间 "
            f"{newest:%Y-%m-%d %H:%M}，为防止记录倒签，本次未保存。"
            "查询不受影响；请联系管理员核对服务器时间。")


def clipped() -> str:
    return f"注意：文字超过 {TEXT_LIMIT} 字，只保存了前 {TEXT_LIMIT} 字。"


_PICTURES = {0x7F: "\u2421"}


def shown(text: str) -> str:
    """Someone's own words, safe to show: control characters (kept verbatim in the record)
    appear as their visible symbols (␋, ␀), so they cannot garble a chat or a terminal."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if ch in "\n\t":
            out.append(ch)
        elif code < 0x20:
            out.append(chr(0x2400 + code))
        elif code in _PICTURES:
            out.append(_PICTURES[code])
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\ufffd")
        else:
            out.append(ch)
    return "".join(out)
EMPTY = "您好，请发送命令，例如「待办」。发送「帮助」查看全部命令。"
GREETING = "您好！发送「待办」查看您的事项，发送「帮助」查看全部命令。"
THANKS = "不客气。有需要随时发送「待办」或「帮助」。"
ACK = "好的。有需要随时发送「待办」或「帮助」。"

# ---- 绑定 -------------------------------------------------------------------------------

UNBOUND = ("您好，这个账号还没有绑定。请向本单位管理员索取绑定码，"
           "然后发送「绑定 绑定码」或 /bind 绑定码，绑定后即可在这里收到提醒、记录完成情况。")
BIND_USAGE = "请在「绑定」后写上绑定码，如：绑定 ABCD-EFGH。绑定码向本单位管理员索取。"
BIND_NOT_HERE = "绑定码只用于 Telegram 账号；您的账号已登记，可直接使用。发送「帮助」查看命令。"
BIND_TOO_MANY = "绑定码错误次数过多，请一小时后再试，或联系本单位管理员重新获取。"


def bind_refused(reason: str) -> str:
    why = {"expired": "已过期", "used": "已被使用过"}.get(reason, "不正确")
    return f"绑定码{why}。请核对后重试，或请本单位管理员重新生成，每个绑定码只能用一次。"


def bound(name: str) -> str:
    return (f"绑定成功：{name}，您好！今后的提醒会发到这里。"
            "发送「待办」查看您的事项，「帮助」查看全部命令。")


HELP = "\n".join([
    "可用命令，中文或英文均可：",
    "· 待办 —— 查看我的待办事项",
    "· 完成 编号 备注 —— 记录完成，如：完成 3 已召开，参会12人",
    "· 完成 关键词 —— 按名称记录，如：完成 主题党日",
    "· 完成 编号 编号 备注 —— 一次记录多项，如：完成 12 15、18 已召开",
    "· 撤销 —— 撤销我 24 小时内最近一次完成记录；更早的写编号，如：撤销 12",
    "· 恢复 编号 —— 撤销错了时恢复原记录，时间、备注不变",
    "· 近期 天数 —— 查看近期截止事项，如：近期 30",
    "· 查询 单位或人员 —— 查看本期事项，如：查询 第二支部",
    "· 总览 期间 —— 各单位完成情况，如：总览 2026-H1",
    "· 逾期 —— 查看逾期事项",
    "· 豁免 编号 原因 —— 如：豁免 17 支部书记病假，并入下季度",
    "· 撤销豁免 编号 —— 豁免有误时恢复为待办，继续提醒",
    "· 舆情 描述 —— 报告网络舆情，如：舆情 某论坛出现涉及本局的不实帖子",
    "· 上报 类别 描述 —— 上报其他需要处置的情况，类别见配置，如：上报 汛情 某处河道水位上涨",
    "· 委托 姓名 至日期 —— 外出时请人代收提醒、代为记录，如：委托 郑磊 至12月15日",
    "· 取消委托 —— 提前结束委托",
    "· 绑定 绑定码 —— 绑定 Telegram 账号，绑定码向管理员索取",
    "· 更多 —— 列表较长时查看下一页",
    f"备注等文字最多 {TEXT_LIMIT} 字。查询、总览、逾期按您的职责范围显示；"
    "豁免由分管领导或管理员办理。发送「待办」开始。",
])


def unknown(word: str, suggestion: str | None, rest: str = "") -> str:
    if suggestion:
        meant = f"{suggestion} {shown(rest)}".strip()
        return f"没有「{word}」这个命令，您是不是想发送「{meant}」？发送「帮助」查看全部命令。"
    return f"没有听懂「{word}」。发送「帮助」查看全部命令。"


def day(d: date, today: date | None = None) -> str:
    """12月31日（周四）; the year only when it is not this year."""
    year = f"{d.year}年" if today is not None and d.year != today.year else ""
    return f"{year}{d.month}月{d.day}日（周{WEEKDAYS[d.weekday()]}）"


@lru_cache(maxsize=4096)
def period_label(period_key: str) -> str:
    """2026年第四季度; an event task by the day it was reported (11月26日报告); an
    as-required deadline has no period of its own."""
    if "#" in period_key:
        reported = date.fromisoformat(period_key.split("#", 1)[0])
        return f"{reported.month}月{reported.day}日报告"
    held = makeup_meeting(period_key)
    if held is not None:
        return f"{held[0].month}月{held[0].day}日会议"
    try:
        return parse_period_key(period_key)[1].label()
    except ValueError:
        return "按上级要求"


MAKEUP_PREFIX = "补学："


def task_title(org: Org, task: Task | PlannedTask) -> str:
    """The duty's title (as it was, for a retired task); an absentee's 补学 says so."""
    duty = org.duties.get(task.duty)
    title = duty.title if duty else (task.title or task.duty)
    return MAKEUP_PREFIX + title if "@" in task.period else title


def describe(org: Org, task: Task | PlannedTask, for_person: str | None = None,
             notes: bool = True) -> str:
    """E.g. 支部专题会议研究意识形态工作（机关第一党支部 · 2026年第四季度）; "本人" when the
    task is the reader's own."""
    title = task_title(org, task)
    if task.owner == for_person:
        owner = "本人"
    elif task.owner in org.units or task.owner in org.people or not task.owner_name:
        owner = org.owner_name(task.owner)
    else:
        owner = task.owner_name
    about = f"：{short(task.note)}" if notes and isinstance(task, Task) and task.note else ""
    return f"{title}（{owner} · {period_label(task.period)}）{about}"


def short(note: str, limit: int = 30) -> str:
    return shown(note if len(note) <= limit else note[:limit] + "…")


def overdue_mark(workdays: int) -> str:
    return f"已逾期{workdays}个工作日" if workdays > 0 else "已过截止日"


# ---- 待办 -------------------------------------------------------------------------------

def todo_header(count: int, overdue: int) -> str:
    extra = f"，其中逾期 {overdue} 项" if overdue else ""
    return f"您有 {count} 项待办{extra}："


TODO_NONE = "您目前没有待办事项。发送「近期」查看接下来的截止事项。"
TODO_FOOTER = "完成后发送「完成 编号 备注」，如：完成 {number} 已召开"


def more(count: int) -> str:
    return f"……另有 {count} 项未列出。"


def page_marker(page: int, pages: int) -> str:
    return f"第{page}/{pages}页，发送「更多」查看下一页。"


def last_page(page: int, pages: int) -> str:
    return f"第{page}/{pages}页，已全部列出。"


def continued(header: str) -> str:
    return f"{header.rstrip('：:')}，续："


NO_MORE = "没有更多内容了。发送「待办」等命令重新查看。"


# ---- 打卡 -------------------------------------------------------------------------------

CHECKED_IN = "已记录完成"  # how a reply to a recorded check-in begins
UNDONE = "已撤销完成记录"
RESTORED = "已恢复完成记录"
REPLAYED = "这条消息此前已处理"  # a redelivered message, answered again


def _remaining(remaining: int) -> str:
    return f"还有 {remaining} 项待办，发送「待办」查看。" if remaining else "您的待办已全部完成。"


def checked_in(line: str, note: str, late: bool, remaining: int, for_whom: str = "") -> str:
    parts = [f"{CHECKED_IN}：{line}"]
    if for_whom:
        parts.append(f"代{for_whom}记录，台账中已注明。")
    if note:
        parts.append(f"备注：{shown(note)}")
    if late:
        parts.append("已过截止日，记为逾期完成。")
    parts.append(f"如需更正，发送「撤销」。{_remaining(remaining)}")
    return "\n".join(parts)


def checked_in_many(recorded: list[str], note: str, refused: list[str],
                    remaining: int) -> str:
    """Several numbers in one message: what was recorded, each line already marked late
    where it is, then what was not and why."""
    parts = [f"{CHECKED_IN} {len(recorded)} 项：" if recorded else "没有记录任何一项："]
    parts += [f"· {line}" for line in recorded]
    if recorded and note:
        parts.append(f"备注（各项相同）：{shown(note)}")
    if refused:
        parts.append(f"未记录 {len(refused)} 项：")
        parts += [f"· {line}" for line in refused]
    tail = "如需更正某一项，发送「撤销 编号」。" if recorded else "发送「待办」查看您的事项编号。"
    parts.append(tail + (_remaining(remaining) if recorded else ""))
    return "\n".join(parts)


def late_line(line: str) -> str:
    return f"{line}，已过截止日，记为逾期完成"


def refused_missing(number: int) -> str:
    return f"编号 {number}：没有找到您的这项待办"


def refused_done(line: str, when: str) -> str:
    return f"{line}：已于{when}完成，无需重复"


def refused_excused(line: str) -> str:
    return f"{line}：已豁免，无需记录"


def already_done(line: str, when: str) -> str:
    return f"{line}\n已于{when}记录完成，无需重复。如需更正，请先发送「撤销」。"


def excused(line: str) -> str:
    return f"{line}\n已豁免，无需记录。发送「待办」查看其他事项。"


def no_such_task(number: int) -> str:
    return f"没有找到您编号为 {number} 的待办。发送「待办」查看您的事项编号。"


def no_match(keyword: str) -> str:
    return f"没有找到与「{keyword}」相关的待办。发送「待办」查看编号后，用「完成 编号」记录。"


def several_match(keyword: str) -> str:
    return f"与「{keyword}」相关的待办有多项，请用编号记录："


CHOOSE_FOOTER = "请发送「完成 编号 备注」记录其中一项，如：完成 {number} 已召开"
CHECKIN_NOTHING_OPEN = "您目前没有待完成的事项。发送「近期」查看接下来的截止事项。"
CHECKIN_WHICH = "您有多项待办，请注明完成的是哪一项："

def replayed_checkin(line: str) -> str:
    return f"{REPLAYED}，已记录完成：{line}\n发送「待办」查看其余事项。"


ATTACH_NO_CHECKIN = ("已收到文件。如需作为完成材料，请先发送「完成 编号」，"
                     "再在 10 分钟内发送图片或文件，会自动附在该次完成记录中。")


def attached(line: str, count: int) -> str:
    what = f" {count} 个附件" if count else "附件"
    return f"已将{what}附在完成记录中：{line}\n如需更正，可继续发送或联系管理员。"


# ---- 撤销 -------------------------------------------------------------------------------

UNDO_NOTHING = "没有可以撤销的完成记录。发送「待办」查看您的事项。"
UNDO_USAGE = "请写明要撤销的编号，如「撤销 80」；只发「撤销」则撤销您 24 小时内最近的一次完成记录。"
UNDO_WINDOW_HOURS = 24


def undone(line: str, number: int) -> str:
    return (f"{UNDONE}：{line}\n该事项恢复为待办，原记录仍保留在台账中。"
            f"撤销错了可发送「恢复 {number}」；重新记录请发送「完成 {number}」。")


def undo_latest_undone(line: str, number: int) -> str:
    return (f"您最近一次的完成记录{line}已经撤销过了。如需恢复，发送「恢复 {number}」；"
            "撤销更早的记录，请写明编号，如「撤销 编号」。")


def undo_too_old(line: str, when: str, number: int) -> str:
    return (f"您最近一次的完成记录是{when}的{line}，已超过 {UNDO_WINDOW_HOURS} 小时，"
            f"不能直接撤销。如确需撤销，请发送「撤销 {number}」。")


def undo_already(line: str, number: int) -> str:
    return f"{line}\n您的这次完成记录已经撤销过了。如需恢复，发送「恢复 {number}」。"


def replayed_undo(line: str) -> str:
    return f"{REPLAYED}，已撤销完成记录：{line}\n发送「待办」查看您的事项。"


def undo_not_yours(number: int) -> str:
    return f"编号 {number} 没有您可以撤销的完成记录。发送「撤销」可撤销您最近一次记录。"


# ---- 恢复 -------------------------------------------------------------------------------

RESTORE_USAGE = "请写明要恢复的编号，如「恢复 80」：撤销错了的记录会按原来的时间和备注恢复。"


def restore_nothing(number: int) -> str:
    return f"编号 {number} 没有您撤销过的完成记录，无需恢复。发送「待办」查看您的事项。"


def restore_already_done(line: str) -> str:
    return f"{line}\n该事项已有有效的完成记录，无需恢复。"


def restore_excused(line: str) -> str:
    return f"{line}\n该事项已豁免，无需恢复。"


def restored(line: str, when: str, note: str, late: bool) -> str:
    parts = [f"{RESTORED}：{line}", f"按原来的时间{when}记录"
             + ("，已过截止日，记为逾期完成" if late else "") + "。"]
    if note:
        parts.append(f"备注：{shown(note)}")
    parts.append("撤销和恢复都保留在台账中。")
    return "\n".join(parts)


def replayed_restore(line: str) -> str:
    return f"{REPLAYED}，已恢复完成记录：{line}\n发送「待办」查看您的事项。"


# ---- 近期 -------------------------------------------------------------------------------

def upcoming_header(days: int) -> str:
    return f"未来 {days} 天内截止的事项："


def upcoming_none(days: int) -> str:
    return f"未来 {days} 天内没有截止的事项。发送「待办」查看全部待办。"


UPCOMING_FOOTER = "发送「待办」查看编号，完成后发送「完成 编号」。"
UPCOMING_BAD_DAYS = "天数请填 1 到 366 之间的数字，如「近期 30」「近期 两周」「近期 一个月」。"
NOT_YET_OPEN = "，尚未开始"


# ---- 查询 / 总览 / 逾期 -----------------------------------------------------------------

STATUS_USAGE = "请写明要查询的单位或人员，如「查询 第二支部」。发送「总览」查看各单位情况。"
STATUS_FOOTER = "发送「逾期」查看逾期事项，「总览」查看各单位完成情况。"
NO_SCOPE = ("总览供领导、单位负责人和管理员使用。"
            "发送「待办」查看您本人的事项。")


def not_in_scope(target: str) -> str:
    return (f"没有找到您可查询的「{target}」。您可查询本人，以及您负责或分管的单位；"
            "请核对名称后重试。")


def several_targets(target: str, names: list[str]) -> str:
    return f"「{target}」对应多个单位或人员：{'、'.join(names)}。请写出全称后再查询。"


def status_header(names: str, today: date) -> str:
    return f"{names} · 本期事项，截至{day(today)}："


def status_none(names: str) -> str:
    return f"{names}本期没有事项。发送「总览」查看各单位情况。"


RETIRED = "已停用"  # an open task the config no longer has


def state_of(done_on: date | None, excused: bool, late_workdays: int | None,
             today: date, retired: bool = False) -> str:
    if retired:
        return f"{RETIRED}：责任清单已调整，不再提醒"
    if excused:
        return "已豁免"
    if done_on is not None:
        return f"{day(done_on, today)}已完成"
    if late_workdays is not None:
        return overdue_mark(late_workdays)
    return "待完成"


def bad_period(token: str) -> str:
    return (f"没有识别出期间「{token}」。可写 2026-H1、2026年第三季度、11月、本季度、去年 等，"
            "如「总览 2026-H1」。")


def before_records(label: str, since: date) -> str:
    return (f"{label}早于开始记录的日期 {since.year}年{day(since)}，没有记录。"
            "发送「总览」查看本期情况。")


def overview_header(label: str, today: date, everything: bool) -> str:
    whose = "全局各单位" if everything else "您负责或分管的单位"
    return f"【总览】{label}，{whose}，截至{day(today)}："


def overview_row(name: str, due: int, done: int, excused: int, overdue: int,
                 not_yet: int, retired: int = 0) -> str:
    parts = [f"应完成 {due} 项", f"已完成 {done}"]
    if excused:
        parts.append(f"已豁免 {excused}")
    parts.append(f"逾期 {overdue}")
    if not_yet:
        parts.append(f"未到期 {not_yet}")
    if retired:
        parts.append(f"另有{RETIRED} {retired} 项")
    return f"· {name}：" + "，".join(parts)


def acting_for(name: str) -> str:
    return f"，代{name}"


def overview_quiet(count: int) -> str:
    return f"· 另有 {count} 个单位或个人本期没有到期事项。"


OVERVIEW_NO_OVERDUE = "本期没有逾期事项。"
OVERVIEW_OVERDUE = "逾期事项："
OVERVIEW_FOOTER = "发送「查询 单位」查看明细，「总览 2026-H1」查看其他期间。"


def own_tasks(name: str) -> str:
    return f"{name}（本人事项）"


OVERDUE_NONE = "您可查看的范围内目前没有逾期事项。发送「近期」查看接下来的截止事项。"


def overdue_header(count: int) -> str:
    return f"逾期事项 {count} 项："


OVERDUE_FOOTER = ("完成后由负责同志发送「完成 编号 备注」；确有特殊情况的，"
                  "可由分管领导或管理员「豁免 编号 原因」。")


# ---- 豁免 -------------------------------------------------------------------------------

EXCUSE_USAGE = "请写明编号和原因，如「豁免 17 支部书记病假，并入下季度」。"


def excuse_not_found(number: int) -> str:
    return (f"没有找到编号为 {number} 的、您可查看的事项。"
            "发送「逾期」或「查询 单位」查看编号。")


def excuse_not_allowed(line: str) -> str:
    return (f"{line}\n豁免需由该单位的分管领导或管理员办理，"
            "本人负责的事项不能自行豁免。")


def excuse_done(line: str, when: str) -> str:
    return f"{line}\n已于{when}记录完成，无需豁免。"


def excuse_again(line: str, when: str, reason: str) -> str:
    return f"{line}\n已于{when}豁免，原因：{shown(reason)}。无需再次办理。"


def excused_now(line: str, reason: str, number: int) -> str:
    return (f"已豁免：{line}\n原因：{shown(reason)}\n"
            "该事项不再提醒，报表中计为「已豁免」，原因已记入台账。"
            f"如豁免有误，发送「撤销豁免 {number}」。")


# ---- 撤销豁免 ---------------------------------------------------------------------------

UNEXCUSE_USAGE = "请写明编号，如「撤销豁免 17」，可在后面写明原因。"


def unexcuse_not_allowed(line: str) -> str:
    return f"{line}\n撤销豁免需由该单位的分管领导或管理员办理。"


def unexcuse_not_excused(line: str) -> str:
    return f"{line}\n该事项目前没有豁免，无需撤销。"


def unexcused(line: str) -> str:
    return (f"已撤销豁免：{line}\n该事项恢复为待办，从下一个提醒节点起继续提醒。"
            "豁免和撤销豁免都保留在台账中，报表中均可查到。")


def replayed_unexcuse(line: str) -> str:
    return f"{REPLAYED}，已撤销豁免：{line}\n发送「逾期」查看逾期事项。"


def replayed_excuse(line: str) -> str:
    return f"{REPLAYED}，已豁免：{line}\n发送「逾期」查看其他逾期事项。"


# ---- 委托 -------------------------------------------------------------------------------

DELEGATE_USAGE = ("请写明委托给谁、到哪天，如「委托 张三 至12月15日」；"
                  "不写日期即到「取消委托」为止。受托人会同时收到您的提醒，并可代您记录完成。")
DELEGATE_SELF = "不能委托给自己。请写明受托人的姓名，如「委托 张三 至12月15日」。"
NO_DELEGATION = "您目前没有委托。如需委托，发送「委托 姓名 至日期」。"


def delegate_unknown(name: str) -> str:
    return f"没有找到「{name}」这位同志，请写全名，如「委托 张三 至12月15日」。"


def delegated(name: str, until: str) -> str:
    span = f"至{until}止" if until else "至您发送「取消委托」为止"
    return (f"已委托{name}：{span}，{name}会同时收到您的提醒，并可代您记录完成，"
            "台账中会注明代谁记录。发送「取消委托」可提前结束。")


def delegation_now(name: str, until: str) -> str:
    span = f"至{until}止" if until else "至「取消委托」为止"
    return (f"您目前委托给{name}，{span}。发送「取消委托」可结束，"
            "发送「委托 姓名 至日期」可改委托他人。")


def delegation_ended(name: str) -> str:
    return f"已取消对{name}的委托，今后的提醒只发给您本人。"


# ---- 舆情 -------------------------------------------------------------------------------

INCIDENT_USAGE = "请简要描述舆情，如「舆情 某论坛出现涉及本局的不实帖子」。"
INCIDENT_NOT_PLANNED = "本单位的责任清单中没有这类事项，请直接联系负责处置的部门。"


def event_usage(keyword: str) -> str:
    if keyword == "舆情":
        return INCIDENT_USAGE
    return f"请简要描述情况，如「上报 {keyword} 情况说明」。"


def report_usage(keywords: list[str]) -> str:
    if not keywords:
        return INCIDENT_NOT_PLANNED
    return ("请写明类别和情况，如「上报 " + keywords[0] + " 情况说明」。可上报的类别："
            + "、".join(keywords) + "。")


def incident_opened(line: str, assignee: str, due: str, informed: str,
                    keyword: str = "舆情") -> str:
    told = f"，并已告知{informed}" if informed else ""
    return (f"已登记{keyword}：{line}\n已转{assignee}处置，{due}前反馈{told}。"
            "感谢您及时报告。")


def replayed_incident(line: str) -> str:
    return f"{REPLAYED}，已登记舆情：{line}\n无需重复报告。"
