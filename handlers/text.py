"""Every sentence the bot says in chat, in one place so the wording can be reviewed together.

Tone: a colleague in the office — short, polite (您), and each reply ends with what the
person can do next.
"""

from __future__ import annotations

from datetime import date

from schedules.model import Org
from schedules.periods import parse_period_key
from schedules.tasks import PlannedTask, Task

WEEKDAYS = "一二三四五六日"

NOT_REGISTERED = (
    "您好，您的账号尚未登记在本单位的责任清单中，暂时无法使用。"
    "如需开通，请联系机关党委党务干事。"
)
SORRY = "抱歉，处理时出现了问题，本次操作未完成。请稍后再试；如多次出现，请联系管理员。"
WRITE_FAILED = "抱歉，记录未能保存（存储暂时无法写入），本次打卡未记录。请稍后重试。"
EMPTY = "您好，请发送命令，例如「待办」。发送「帮助」查看全部命令。"

HELP = "\n".join([
    "可用命令（中文或英文均可）：",
    "· 待办 —— 查看我的待办事项",
    "· 打卡 编号 备注 —— 记录完成，如：打卡 3 已召开，参会12人",
    "· 打卡 关键词 —— 按名称打卡，如：打卡 主题党日",
    "· 撤销 —— 撤销我最近一次打卡（或：撤销 编号）",
    "· 近期 天数 —— 查看近期截止事项，如：近期 30",
    "发送「待办」开始。",
])


def unknown(word: str, suggestion: str | None) -> str:
    if suggestion:
        return f"没有「{word}」这个命令，您是不是想发送「{suggestion}」？发送「帮助」查看全部命令。"
    return f"没有听懂「{word}」。发送「帮助」查看全部命令。"


def day(d: date, today: date | None = None) -> str:
    """12月31日（周四）; the year only when it is not this year."""
    year = f"{d.year}年" if today is not None and d.year != today.year else ""
    return f"{year}{d.month}月{d.day}日（周{WEEKDAYS[d.weekday()]}）"


def period_label(period_key: str) -> str:
    """2026年第四季度; an as-required deadline has no period of its own."""
    try:
        return parse_period_key(period_key)[1].label()
    except ValueError:
        return "按上级要求"


def describe(org: Org, task: Task | PlannedTask, for_person: str | None = None) -> str:
    """E.g. 支部专题会议研究意识形态工作（机关第一党支部 · 2026年第四季度）; "本人" when the
    task is the reader's own."""
    duty = org.duties.get(task.duty)
    title = duty.title if duty else task.duty
    owner = "本人" if task.owner == for_person else org.owner_name(task.owner)
    return f"{title}（{owner} · {period_label(task.period)}）"


def overdue_mark(workdays: int) -> str:
    return f"已逾期{workdays}个工作日" if workdays > 0 else "已过截止日"


# ---- 待办 -------------------------------------------------------------------------------

def todo_header(count: int, overdue: int) -> str:
    extra = f"，其中逾期 {overdue} 项" if overdue else ""
    return f"您有 {count} 项待办{extra}："


TODO_NONE = "您目前没有待办事项。发送「近期」查看接下来的截止事项。"
TODO_FOOTER = "完成后发送「打卡 编号 备注」，如：打卡 {number} 已完成"


def more(count: int) -> str:
    return f"……另有 {count} 项未列出。"


# ---- 打卡 -------------------------------------------------------------------------------

def checked_in(line: str, note: str, late: bool, remaining: int) -> str:
    parts = [f"已记录完成：{line}"]
    if note:
        parts.append(f"备注：{note}")
    if late:
        parts.append("（已过截止日，记为逾期完成）")
    tail = f"还有 {remaining} 项待办，发送「待办」查看。" if remaining else "您的待办已全部完成。"
    parts.append(f"如需更正，发送「撤销」。{tail}")
    return "\n".join(parts)


def already_done(line: str, when: str) -> str:
    return f"{line}\n已于{when}打卡，无需重复。如需更正，请先发送「撤销」。"


def excused(line: str) -> str:
    return f"{line}\n已豁免，无需打卡。发送「待办」查看其他事项。"


def no_such_task(number: int) -> str:
    return f"没有找到您编号为 {number} 的待办。发送「待办」查看您的事项编号。"


def no_match(keyword: str) -> str:
    return f"没有找到与「{keyword}」相关的待办。发送「待办」查看编号后，用「打卡 编号」打卡。"


def several_match(keyword: str) -> str:
    return f"与「{keyword}」相关的待办有多项，请用编号打卡："


CHOOSE_FOOTER = "请发送「打卡 编号 备注」完成其中一项，如：打卡 {number} 已完成"
CHECKIN_NOTHING_OPEN = "您目前没有需要打卡的待办。发送「近期」查看接下来的截止事项。"
CHECKIN_WHICH = "您有多项待办，请注明要打卡的是哪一项："

def replayed_checkin(line: str) -> str:
    return f"这条消息此前已处理，已记录完成：{line}\n发送「待办」查看其余事项。"


# ---- 撤销 -------------------------------------------------------------------------------

UNDO_NOTHING = "没有可以撤销的打卡。发送「待办」查看您的事项。"


def undone(line: str) -> str:
    return (f"已撤销打卡：{line}\n该事项恢复为待办，原打卡记录仍保留在台账中。"
            "发送「打卡 编号」可重新打卡。")


def replayed_undo(line: str) -> str:
    return f"这条消息此前已处理，已撤销打卡：{line}\n发送「待办」查看您的事项。"


def undo_not_yours(number: int) -> str:
    return f"编号 {number} 没有您可以撤销的打卡。发送「撤销」可撤销您最近一次打卡。"


# ---- 近期 -------------------------------------------------------------------------------

def upcoming_header(days: int) -> str:
    return f"未来 {days} 天内截止的事项："


def upcoming_none(days: int) -> str:
    return f"未来 {days} 天内没有截止的事项。发送「待办」查看全部待办。"


UPCOMING_FOOTER = "发送「待办」查看编号，完成后「打卡 编号」。"
UPCOMING_BAD_DAYS = "天数请填 1 到 366 之间的数字，如「近期 30」。"
NOT_YET_OPEN = "（尚未开始）"
