"""Every sentence the bot says in chat, in one place so the wording can be reviewed together.

Tone: a colleague in the office — short, polite (您), and each reply ends with what the
person can do next.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from functools import lru_cache

from handlers.messages import Button
from schedules.meetings import Meeting, MeetingRecord, MeetingState, makeup_meeting
from schedules.model import Org
from schedules.periods import parse_period_key
from schedules.reminders import Stage
from schedules.tasks import PlannedTask, Status, Task
from storage.files import Refusal

TEXT_LIMIT = 1000  # characters of a note, reason, incident text or record: one limit for all
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
    "meeting": "会议通知未发出",
    "leave": "本次请假未记录",
    "join": "本次确认未记录",
    "reschedule": "本次改期未生效",
    "cancel": "会议未取消",
    "record": "本次纪实未记录",
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
BIND_IN_PRIVATE = "为保护绑定码，请在与我的私聊中发送「绑定 绑定码」。"
BUTTON_EXPIRED = "这个按钮已失效，请发送「待办」重新查看。"
TAP_RECORDED = "已记录完成 ✅"
CARD_DONE_LABEL = "已完成"  # a tapped card button, once its task is recorded done


def card_done_line(number: int, at: datetime) -> str:
    """Added under a tapped message once its task is recorded done."""
    return f"✅ 【{number}】已于{at.month}月{at.day}日 {at:%H:%M} 记录完成"


ASK_IN_PRIVATE = ("群里只显示本单位的待办、完成和会议；这项查询请在与我的私聊中发送，"
                  "发送「帮助」可查看全部命令。")
BIND_TOO_MANY = "绑定码错误次数过多，请一小时后再试，或联系本单位管理员重新获取。"


def bind_refused(reason: str) -> str:
    why = {"expired": "已过期", "used": "已被使用过"}.get(reason, "不正确")
    return f"绑定码{why}。请核对后重试，或请本单位管理员重新生成，每个绑定码只能用一次。"


def bound(name: str) -> str:
    return (f"绑定成功：{name}，您好！今后的提醒会发到这里。"
            "发送「待办」查看您的事项，「帮助」查看全部命令。")


# ---- 帮助: each command's lines, listed in `handlers.table` order ---------------------

HELP_HEAD = "可用命令，中文或英文均可："
HELP_TODO = "· 待办 —— 查看我的待办事项"
HELP_CHECKIN = "· 完成 编号 备注 —— 记录完成，如：完成 3 已召开，参会12人"
HELP_CHECKIN_KEYWORD = "· 完成 关键词 —— 按名称记录，如：完成 主题党日"
HELP_CHECKIN_MANY = "· 完成 编号 编号 备注 —— 一次记录多项，如：完成 12 15、18 已召开"
HELP_UNDO = "· 撤销 —— 撤销我 24 小时内最近一次完成记录；更早的写编号，如：撤销 12"
HELP_RESTORE = "· 恢复 编号 —— 撤销错了时恢复原记录，时间、备注不变"
HELP_UPCOMING = "· 近期 天数 —— 查看近期截止事项，如：近期 30"
HELP_STATUS = "· 查询 单位或人员 —— 查看本期事项，如：查询 第二支部"
HELP_OVERVIEW = "· 总览 期间 —— 各单位完成情况，如：总览 2026-H1"
HELP_OVERDUE = "· 逾期 —— 查看逾期事项"
HELP_EXCUSE = "· 豁免 编号 原因 —— 如：豁免 17 支部书记病假，并入下季度"
HELP_UNEXCUSE = "· 撤销豁免 编号 —— 豁免有误时恢复为待办，继续提醒"
HELP_INCIDENT = "· 舆情 描述 —— 报告网络舆情，如：舆情 某论坛出现涉及本局的不实帖子"
HELP_REPORT = ("· 上报 类别 描述 —— 上报其他需要处置的情况，类别见配置，"
               "如：上报 汛情 某处河道水位上涨")
HELP_DELEGATE = "· 委托 姓名 至日期 —— 外出时请人代收提醒、代为记录，如：委托 郑磊 至12月15日"
HELP_UNDELEGATE = "· 取消委托 —— 提前结束委托"
HELP_MEETING = ("· 会议 事项 时间 地点 议题 —— 召集会议，如：会议 主题党日 周五下午3点 三楼会议室 "
                "学习贯彻全会精神")
HELP_MEETINGS = "· 会议 —— 查看我的会议"
HELP_ANSWER = "· 请假 编号 原因 / 参加 编号 —— 答复会议通知，如：请假 57 出差"
HELP_CHANGE = "· 改期 编号 时间 / 取消会议 编号 —— 召集人调整会议，如：改期 57 下周一上午9点"
HELP_RECORD = "· 纪实 编号 —— 会后逐行记录主持、记录、缺席、议题、决议，如：纪实 57"
HELP_BIND = "· 绑定 绑定码 —— 绑定 Telegram 账号，绑定码向管理员索取"
HELP_MORE = "· 更多 —— 列表较长时查看下一页"
HELP_FOOT = (f"备注等文字最多 {TEXT_LIMIT} 字。查询、总览、逾期按您的职责范围显示；"
             "豁免由分管领导或管理员办理。发送「待办」开始。")


def help_text(lines: Iterable[str]) -> str:
    """`帮助`: the commands' lines (`handlers.table.HELP` passes them in table order)."""
    return "\n".join([HELP_HEAD, *lines, HELP_FOOT])


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

def todo_header(count: int, overdue: int, meetings: int = 0) -> str:
    extra = f"，其中逾期 {overdue} 项" if overdue else ""
    if not count:
        return f"您有 {meetings} 个会议："
    coming = f"，另有会议 {meetings} 个" if meetings else ""
    return f"您有 {count} 项待办{extra}{coming}："


TODO_MEETINGS = "会议："
TODO_TASKS = "待办事项："


TODO_NONE = "您目前没有待办事项。发送「近期」查看接下来的截止事项。"
TODO_FOOTER = "完成后发送「完成 编号 备注」，如：完成 {number} 已召开"
TODO_FOOTER_MAKEUP = "补学后发送「完成 编号 备注」，如：完成 {number} 已自学"


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


# A photo or file that arrived but could not be kept (`storage.files.Refusal`, recorded in
# the attachment's `error`): what happened to it and what to do, after the file's name.
_NOT_KEPT_FAILED = "未能从平台取回，未能保存；已记录，并将报告管理员。请稍后重新发送。"
_NOT_KEPT: dict[str, str] = {
    Refusal.TOO_BIG: "超过 {max_mb} MB 的上限，未能保存。请压缩或拆分后重新发送。",
    Refusal.TYPE: ("的类型不在可保存之列，未能保存。可发送图片、PDF、Word、Excel、PowerPoint、"
                   "WPS、OFD、文本或压缩包，请转换格式后重新发送。"),
    Refusal.EMPTY: _NOT_KEPT_FAILED,
    Refusal.DOWNLOAD: _NOT_KEPT_FAILED,
    Refusal.UNWRITABLE: "因服务器存储写入失败未能保存；已记录，并将报告管理员。请稍后重新发送。",
}


def file_not_kept(reason: str, name: str, max_mb: int) -> str:
    """Why the file `name` ("" for a photo) was not kept; `max_mb`: the size cap."""
    what = f"文件“{name}”" if name else "您发送的文件"
    return what + _NOT_KEPT.get(reason, _NOT_KEPT_FAILED).format(max_mb=max_mb)


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
    return f"未来 {days} 天内截止的事项和会议："


def checkin_meeting(number: int) -> str:
    return (f"{number} 是会议编号。会后请召集人发送「纪实 {number}」记录，"
            "会议完成的事项随纪实一并记为完成；答复会议请发「参加」或「请假」。")


def checkin_planned(line: str, meeting: str, number: int) -> str:
    return (f"{line}已安排在会议{meeting}，会后由召集人发送「纪实 {number}」即一并完成，"
            f"无需另行记录。如会议不再召开，请召集人先发送「取消会议 {number}」。")


def replayed_meeting(line: str) -> str:
    return f"{REPLAYED}：{line}\n发送「查询」加会议编号查看详情。"


def undo_meeting(line: str, number: int) -> str:
    return (f"{line}的完成记录来自会议【{number}】的纪实，不能单独撤销。"
            f"如需更正，请再发一次「纪实 {number} …」。")


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
    return f"【总览】{label}，{_whose(everything)}，截至{day(today)}："


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


def with_units(name: str, units: list[str]) -> str:
    """吴芳（含负责的机关第一党支部）: a person asked about, with the units they head."""
    return f"{name}（含负责的{listing(units)}）" if units else name


def status_line(line: str, due: date, today: date, state: str) -> str:
    return f"{line}，截止{day(due, today)}：{state}"


def overview_late_line(line: str, state: str) -> str:
    return f"· {line}，{state}"


def overdue_line(line: str, due: date, today: date, state: str) -> str:
    return f"{with_due(line, due, today)}，{state}"


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


# ---- 会议 -------------------------------------------------------------------------------

MEETING_USAGE = ("召集会议请写明事项、时间、地点和议题，如「会议 主题党日 周五下午3点 三楼会议室 "
                 "学习贯彻全会精神」；事项可写编号，一次会议完成几项时用 + 连接，"
                 "如「会议 45+22 …」。"
                 "只发「会议」查看我的会议。")
MEETING_ONE_UNIT = "一次会议只能完成同一单位的事项，请分别召集。"
MEETINGS_NONE = "您近期没有会议。单位负责人召集会议时，请发送「会议 事项 时间 地点 议题」。"
MEETINGS_FOOTER = ("请假发送「请假 编号 原因」，能参加发送「参加 编号」；"
                   "会后由召集人发送「纪实 编号」。")
LEAVE_USAGE = "请写明会议编号和原因，如「请假 57 出差」。发送「会议」查看您的会议。"
LEAVE_REASON = "请假原因"  # as `too_long` names it
CANCEL_REASON = "原因"
JOIN_USAGE = "请写明会议编号，如「参加 57」。发送「会议」查看您的会议。"
RESCHEDULE_USAGE = "请写明会议编号和新时间，如「改期 57 下周一上午9点」。"
CANCEL_USAGE = "请写明会议编号，可在后面写明原因，如「取消会议 57 因故推迟」。"
RECORD_USAGE = ("请写明会议编号，并逐行写明情况，如：\n纪实 57\n主持 吴芳\n记录 马丽\n"
                "缺席 宋佳（病假）\n议题 学习贯彻党的二十届四中全会精神\n决议 下月开展专题研讨\n"
                "每行都可省略；应到而未写缺席的都计为出席，已请假的计为缺席。")
MAKEUP_NOT_NEEDED = "纪实更正：已出席，无需补学"
_MEETING_WHEN = {"none": "请在事项后写明会议时间，如「周五下午3点」「12月5日 15:00」。",
                 "time": "请写明几点开会，如「周五下午3点」「12月5日 15:00」。",
                 "day": "日期不对，请核对，如「12月5日 下午3点」。"}


def moment(at: datetime, today: date | None = None) -> str:
    """12月4日（周五）15:00"""
    return f"{day(at.date(), today)}{at:%H:%M}"


def meeting_title(org: Org, meeting: Meeting) -> str:
    duty = org.duties.get(meeting.duty)
    return duty.title if duty else meeting.duty


def meeting_name(org: Org, meeting: Meeting) -> str:
    """【57】主题党日活动（机关第一党支部）"""
    return f"【{meeting.number}】{meeting_title(org, meeting)}（{org.owner_name(meeting.unit)}）"


def meeting_line(org: Org, meeting: Meeting, today: date) -> str:
    """【57】主题党日活动（机关第一党支部）12月4日（周五）15:00"""
    return f"{meeting_name(org, meeting)}{moment(meeting.start.astimezone(org.timezone), today)}"


def no_such_meeting(number: int) -> str:
    return f"没有编号为 {number} 的会议。发送「会议」查看您的会议。"


def meeting_not_task(number: int) -> str:
    return f"{number} 是会议编号，不是事项。召集会议请写事项的编号，发送「待办」查看。"


def meeting_time_missing(kind: str, reschedule: int | None = None) -> str:
    said = _MEETING_WHEN.get(kind, _MEETING_WHEN["none"])
    if reschedule is not None:
        return said.replace("请在事项后写明会议时间",
                            f"请在编号后写明新时间，如「改期 {reschedule} 下周一上午9点」")
    return said


def not_a_meeting_duty(line: str, number: int) -> str:
    return f"{line}不是会议类事项，无需召集会议；完成后发送「完成 {number} 备注」即可。"


def meeting_no_match(word: str) -> str:
    return (f"没有找到与「{shown(word)}」相符、由您召集的会议类事项。"
            "发送「待办」查看编号，再发「会议 编号 时间 地点 议题」。")


def meeting_which_unit(units: list[str]) -> str:
    return (f"您负责的{'、'.join(units)}都有这项事项，请写明编号召集，"
            "如「会议 45 周五下午3点 …」；发送「待办」查看编号。")


def meeting_task_closed(line: str) -> str:
    return f"{line}已完成或已豁免，无需再召集会议。"


def task_has_meeting(line: str, number: int, meeting: str) -> str:
    return (f"{line}已安排在会议{meeting}。如需改时间，发送「改期 {number} 新时间」；"
            f"如需取消，发送「取消会议 {number}」。")


def meeting_before_period(line: str, start: str) -> str:
    return f"会议日期早于{line}所属期间（{start}起），请核对日期或事项编号。"


def meeting_in_past(when: str) -> str:
    return f"{when}已经过去，请写明今后的时间。会后记录请发「纪实 编号」。"


def meeting_too_far(when: str) -> str:
    return f"{when}距今超过一年，请核对日期。"


def meeting_at_night(when: str) -> str:
    return (f"{when}是深夜或凌晨，可能写错了，本次未发通知。"
            "请核对，如上午写「上午10点」，晚上写「晚上7点」。")


def too_long(label: str, count: int, limit: int) -> str:
    return f"{label}太长（{count} 字），请精简到 {limit} 字以内后重新发送，本次未作任何改动。"


def meeting_announced(line: str, when: str, place: str, topic: str, invited: int, also: int,
                      group: str, others: list[str], late: list[str], workday: bool,
                      eve_at: time, before_minutes: int, number: int) -> str:
    lines = [f"已发出会议通知：{line}", f"时间：{when}" + ("（非工作日）" if not workday else "")]
    # `line` names the meeting without its time: the next line gives it
    if place:
        lines.append(f"地点：{shown(place)}")
    if topic:
        lines.append(f"议题：{shown(topic)}")
    told = f"应到 {invited} 人" + (f"，列席 {also} 人" if also else "")
    where = f"，并在{group}发布" if group else ""
    lines.append(f"{told}，通知即时发给每一位（可点「参加」「请假」）{where}。")
    if others:
        lines.append("这次会议同时完成：" + "、".join(others))
    for item in late:
        lines.append(f"注意：{item}的截止日已过，会后记入逾期完成。")
    ahead = f"会前一个工作日 {eve_at:%H:%M}" + (f"、开始前 {before_minutes} 分钟"
                                               if before_minutes else "")
    lines.append(f"{ahead}会提醒未请假的参会人员。会后发送「纪实 {number}」记录，"
                 f"改时间发送「改期 {number} 新时间」。")
    return "\n".join(lines)


def meetings_header(count: int) -> str:
    return f"您的会议（{count} 个）："


def my_meeting_line(org: Org, meeting: Meeting, person: str, today: date,
                    organiser: bool) -> str:
    line = meeting_line(org, meeting, today)
    place = f" {shown(meeting.place)}" if meeting.place else ""
    if organiser:
        away = len(meeting.on_leave())
        leave = f"，请假 {away} 人" if away else ""
        state = f"（您召集，应到 {len(meeting.invitees)} 人{leave}）"
    elif person in meeting.on_leave():
        state = "（已请假）"
    elif person in meeting.joined:
        state = "（已确认参加）"
    else:
        state = ""
    return f"{line}{place}{state}"


def leave_reason_please(line: str, number: int) -> str:
    return (f"请回复请假原因（如「出差」），将转告召集人：{line}\n"
            f"也可直接发送「请假 {number} 原因」。")


# ---- WeCom 日程 ---------------------------------------------------------------------------

CALENDAR_DECLINED = "日程中已拒绝"  # the leave reason recorded when a 日程 is declined


def calendar_declined(line: str, organiser: str, number: int) -> str:
    return (f"您在企业微信日程中拒绝了{line}，已向召集人{organiser}请假。\n"
            f"请回复请假原因（如「出差」），将转告召集人；也可发送「请假 {number} 原因」。"
            f"如能参加，发送「参加 {number}」。")


def calendar_summary(org: Org, meeting: Meeting) -> str:
    """A 日程's title: 主题党日活动（机关第一党支部）."""
    return f"{meeting_title(org, meeting)}（{org.owner_name(meeting.unit)}）"


def leave_taken(line: str, organiser: str, reason: str, number: int, again: bool) -> str:
    head = "已更新请假原因" if again else f"已向召集人{organiser}请假"
    return (f"{head}：{line}\n原因：{shown(reason)}\n"
            f"会后会为您生成补学任务。如能参加，发送「参加 {number}」。")


def joined(line: str, again: bool = False, withdrew: bool = False) -> str:
    if again:
        return f"您已确认参加：{line}，无需重复确认。"
    if withdrew:
        return f"已取消请假，确认参加：{line}。会前会提醒您。"
    return f"已确认参加：{line}。会前会提醒您。"


def not_invited(line: str) -> str:
    return f"您不在{line}的参会人员中，无需请假或确认。"


def meeting_cancelled_already(line: str) -> str:
    return f"{line}已取消。"


def meeting_begun(line: str) -> str:
    return f"{line}已开始或已结束，不能再请假或确认；如有情况请直接告知召集人。"


def meeting_closed(line: str) -> str:
    return f"{line}已记录纪实或已取消，不能再改期或取消。"


def meeting_begun_change(line: str, number: int) -> str:
    return f"{line}已开始，不能再改期或取消。会后发送「纪实 {number}」记录实际情况。"


def meeting_same_time(line: str) -> str:
    return f"{line}的时间没有变化，未作改动。"


def not_organiser(line: str, organiser: str, record: bool = False) -> str:
    what = "记录纪实" if record else "改期或取消"
    return f"{line}由{organiser}召集，{what}请由召集人或单位负责人办理。"


def meeting_moved(line: str, before: str, after: str, told: int) -> str:
    return (f"已改期：{line}\n由{before}改为{after}，已通知 {told} 人；"
            "原定时间的提醒不再发送。")


def meeting_cancelled(line: str, told: int, still_open: list[str], first: int) -> str:
    lines = [f"已取消会议：{line}，已通知 {told} 人，原定的提醒不再发送。"]
    if still_open:
        lines.append("以下事项仍待完成：" + "、".join(still_open)
                     + f"。可重新发送「会议 {first} 时间 地点 议题」召集。")
    return "\n".join(lines)


def record_bad_line(number: int, segment: str, labels: str) -> str:
    return (f"第 {number} 行「{shown(segment)}」没有看懂，本次未记录。"
            f"每行以 {labels} 开头，如「缺席 宋佳（病假）」。")


def record_bad_time(written: str) -> str:
    return f"召开时间「{shown(written)}」没有看懂，请写成「时间 15:30」或「时间 12月4日15:30」。"


def record_too_early(line: str, when: str, number: int) -> str:
    return (f"{line}定于{when}召开，尚未开始。会后再发送「纪实 {number}」；"
            "如已提前召开，请加一行「时间 …」。")


def record_both(name: str) -> str:
    return f"{name}同时写在了缺席和出席中，请核对后重新发送。"


def record_ambiguous(name: str, names: list[str]) -> str:
    return f"「{shown(name)}」对应多位参会人员（{'、'.join(names)}），请写全名。"


def record_not_invited(name: str, line: str) -> str:
    return f"{name}不在{line}的应到人员中。列席人员请写在「列席」一行。"


def record_unknown_name(name: str) -> str:
    return f"没有找到「{shown(name)}」这位同志，请写全名。"


def attendance_text(org: Org, record: MeetingRecord, invited: int, reasons: bool) -> str:
    text_ = f"应到 {invited} 人，实到 {len(record.present)} 人"
    if record.absent:
        if reasons:
            who = "、".join(org.owner_name(a.person)
                           + (f"（{shown(a.reason)}）" if a.reason else "")
                           for a in record.absent)
            text_ += f"，缺席 {len(record.absent)} 人：{who}"
        else:
            text_ += f"，缺席 {len(record.absent)} 人"
    if record.also:
        text_ += f"；列席：{'、'.join(shown(n) for n in record.also)}"
    return text_


def record_note(number: int, org: Org, record: MeetingRecord, invited: int) -> str:
    """The check-in note of a task a meeting fulfilled: what the report's 完成记录 shows."""
    held = record.held_at.astimezone(org.timezone)
    parts = [f"会议纪实【{number}】：{held:%m月%d日 %H:%M}召开",
             f"应到{invited}人，实到{len(record.present)}人"]
    if record.topics:
        parts.append(f"议题：{short(record.topics, 60)}")
    return "，".join(parts[:2]) + ("；" + parts[2] if len(parts) > 2 else "")


def recorded(line: str, when: str, record: MeetingRecord, org: Org, invited: int,
             fulfilled: list[str], elsewhere: list[str], makeups: int, due: str, late: bool,
             correcting: bool, number: int) -> str:
    head = "已更正会议纪实（此前的记录仍保留在台账中）" if correcting else "已记录会议纪实"
    where = f"，{shown(record.place)}" if record.place else ""
    lines = [f"{head}：{line}", f"召开：{when}{where}"]
    people = "；".join(x for x in (
        f"主持：{shown(record.chair)}" if record.chair else "",
        f"记录：{shown(record.recorder)}" if record.recorder else "") if x)
    if people:
        lines.append(people)
    lines.append(attendance_text(org, record, invited, True))
    if record.topics:
        lines.append(f"议题：{shown(record.topics)}")
    if record.decisions:
        lines.append(f"决议：{shown(record.decisions)}")
    if fulfilled:
        lines.append("已完成：" + "、".join(fulfilled)
                     + ("（晚于截止日，计为逾期完成）" if late else ""))
    if elsewhere:
        lines.append("此前已完成或已豁免，未重复记录：" + "、".join(elsewhere))
    if makeups:
        lines.append(f"已为缺席的 {makeups} 人生成补学任务，{due}前完成。")
    lines.append(f"照片或文件 10 分钟内发来即附在纪实中；如需更正，再发一次「纪实 {number} …」。")
    return "\n".join(lines)


def meeting_view(org: Org, meeting: Meeting, today: date, reasons: bool, tasks: list[Task],
                 makeups: list[Task], reader: str) -> list[str]:
    """`查询 57`: the header, then the notice, the answers so far and the record."""
    lines = [f"会议{meeting_line(org, meeting, today)}"]
    state = {MeetingState.PLANNED: "待召开", MeetingState.HELD: "已召开",
             MeetingState.CANCELLED: "已取消"}[meeting.state]
    lines.append(f"状态：{state}" + (f"（{shown(meeting.cancel_reason)}）"
                                     if meeting.state is MeetingState.CANCELLED
                                     and meeting.cancel_reason else ""))
    if meeting.previous_start is not None:
        before = moment(meeting.previous_start.astimezone(org.timezone), today)
        lines.append(f"已改期（原定{before}）")
    record = meeting.record
    if meeting.place and record is None:
        lines.append(f"地点：{shown(meeting.place)}")
    if meeting.topic and record is None:
        lines.append(f"议题：{shown(meeting.topic)}")
    lines.append(f"召集人：{org.owner_name(meeting.organiser)}")
    lines.append("完成事项：" + "、".join(f"【{t.number}】{describe(org, t)}" for t in tasks))
    away = meeting.on_leave()
    if record is None:
        answered = f"应到 {len(meeting.invitees)} 人" + (
            f"，列席 {len(meeting.also)} 人" if meeting.also else "")
        if meeting.state is MeetingState.PLANNED:
            answered += f"；已确认参加 {len(meeting.joined)} 人，请假 {len(away)} 人"
            if reader in away:
                answered += f"（含您：{shown(away[reader].reason)}）"
        lines.append(answered)
    if reasons and away and meeting.state is MeetingState.PLANNED:
        lines += [f"· 请假：{org.owner_name(p)}（{shown(x.reason)}）" for p, x in away.items()]
    if record is not None:
        held = moment(record.held_at.astimezone(org.timezone), today)
        lines.append(f"纪实（{len(meeting.records)} 次记录，以最近一次为准）：{held}召开"
                     + (f"，{shown(record.place)}" if record.place else ""))
        if record.chair or record.recorder:
            lines.append(f"主持：{shown(record.chair) or '—'}；"
                         f"记录：{shown(record.recorder) or '—'}")
        lines.append(attendance_text(org, record, len(meeting.invitees), reasons))
        if record.topics:
            lines.append(f"议题：{shown(record.topics)}")
        if record.decisions:
            lines.append(f"决议：{shown(record.decisions)}")
        if record.attachments:
            lines.append(f"附件：{len(record.attachments)} 个")
        if reasons and makeups:
            done = sum(t.status is not Status.OPEN for t in makeups)
            lines.append(f"补学：{len(makeups)} 人，已完成 {done} 人")
            lines += [f"· 【{t.number}】{org.owner_name(t.owner)}：" + (
                "已完成" if t.status is Status.DONE else "无需补学" if t.status is Status.EXCUSED
                else f"待完成，{day(t.due, today)}截止") for t in makeups]
        elif reader in {t.owner for t in makeups}:
            mine = next(t for t in makeups if t.owner == reader)
            lines.append(f"您的补学：【{mine.number}】" + ("已完成" if mine.status is Status.DONE
                                                        else f"{day(mine.due, today)}前完成"))
    return lines


def meeting_view_footer(meeting: Meeting, organiser: bool, now: datetime) -> str:
    n = meeting.number
    if meeting.state is MeetingState.PLANNED and now < meeting.start:
        if organiser:
            return (f"改时间发送「改期 {n} 新时间」，取消发送「取消会议 {n} 原因」，"
                    f"会后发送「纪实 {n}」。")
        return f"请假发送「请假 {n} 原因」，能参加发送「参加 {n}」。"
    if meeting.state is MeetingState.PLANNED and organiser:
        return f"会后请发送「纪实 {n}」记录，如有缺席写明「缺席 姓名（原因）」。"
    if meeting.state is MeetingState.HELD and organiser:
        return f"如需更正，再发一次「纪实 {n} …」；台账保留每一次记录。"
    return "发送「会议」查看您的其他会议。"


def meeting_attached(line: str, count: int) -> str:
    return f"已将 {count} 个附件加入{line}的纪实。"


# ---- buttons: what a tap sends is the command it stands for ------------------------------

TODO_BUTTON = Button("查看待办", "待办")


def checkin_button(number: int) -> Button:
    return Button(f"完成【{number}】", f"完成 {number}")


def done_button(number: int) -> Button:
    """A reminder's one-tap 已完成."""
    return Button("已完成", f"完成 {number}")


def join_button(number: int) -> Button:
    return Button("参加", f"参加 {number}")


def leave_button(number: int) -> Button:
    return Button("请假", f"请假 {number}")


def rejoin_button(number: int) -> Button:
    """After asking leave: the way back."""
    return Button("能参加了", f"参加 {number}")


def meeting_button(number: int) -> Button:
    return Button("查看会议", f"查询 {number}")


def leave_command(number: int) -> str:
    """What a reason sent on its own after `请假 57` is read as (`handlers.followup`)."""
    return f"请假 {number}"


# ---- 提醒: reminders and escalations (handlers.notices) ---------------------------------

SUPERVISE = "请您关注并督促完成；负责同志完成后记录即可，无需回复本消息。"
INFORM = "已记入台账，供您掌握情况，无需回复本消息。"
NO_ASSIGNEE = "未指定"
SOMEONE = "有同志"  # a reporter the config no longer knows
# The tag a reminder begins with, as the card's title begins too.
ESCALATION_SUPERVISE_TAG = "【逾期督办】"
ESCALATION_INFORM_TAG = "【逾期知会】"
MOVED_TAG = "【截止日调整】"
OVERDUE_UPWARD_TAG = "【逾期提示】"  # to someone senior: a reminder, never a demand
OVERDUE_TAG = "【逾期提醒】"
DUE_TODAY_TAG = "【今日截止】"
DUE_LAST_WORKDAY_TAG = "【即将截止】"
DUE_TOMORROW_TAG = "【明日截止】"
DUE_LATER_TAG = "【待办提醒】"
OVERDUE_UPWARD_ASK = "特此提示。"
OVERDUE_ASK = "请尽快完成。"


def numbered(number: int, what: str) -> str:
    """【22】and what it is: how a task (or meeting) is named in a reply."""
    return f"【{number}】{what}"


def listing(names: Iterable[str]) -> str:
    """张三、李四、王五"""
    return "、".join(names)


def with_due(line: str, due: date, today: date) -> str:
    return f"{line} 截止 {day(due, today)}"


def todo_line(number: int, what: str, due: date, today: date, late: int | None,
              acting: str = "") -> str:
    """A task in `待办`: its due date, the working days it is late (None: not late), and
    whom the reader acts for in it ("" when it is their own)."""
    mark = f" ⚠{overdue_mark(late)}" if late is not None else ""
    return f"{with_due(numbered(number, what), due, today)}{mark}" + (
        acting_for(acting) if acting else "")


def task_bare(number: int, title: str, period: str) -> str:
    """A task named without its owner or note: 【22】主题党日活动（2026年11月）."""
    return f"【{number}】{title}（{period_label(period)}）"


def escalation(tag: str, line: str, due: date, today: date, late: int, who: str,
               ask: str) -> str:
    return f"{tag}{line}截止于{day(due, today)}，已逾期{late}个工作日，负责人：{who}。\n{ask}"


def escalation_minimal(tag: str, bare: str, due: date, today: date, late: int,
                       ask: str) -> str:
    return f"{tag}{bare}截止于{day(due, today)}，已逾期{late}个工作日。{ask}"


def due_moved(previous: date | None, due: date, today: date) -> str:
    before = f"由{day(previous, today)}" if previous else ""
    return f"因责任清单调整，截止日已{before}改为{day(due, today)}。"


def evidence_hint(evidence: str) -> str:
    return f"\n建议说明：{evidence}" if evidence else ""


def reminder_action(number: int) -> str:
    return f"完成后回复「完成 {number} 备注」或点「已完成」。"


def overdue_head(tag: str, line: str, due: date, today: date, late: int) -> str:
    return f"{tag}{line}截止于{day(due, today)}，已逾期{late}个工作日。"


def due_today_head(line: str) -> str:
    return f"{DUE_TODAY_TAG}{line}今天截止。"


def due_last_workday_head(line: str, due: date, today: date) -> str:
    return f"{DUE_LAST_WORKDAY_TAG}{line}将于{day(due, today)}截止，今天是截止前最后一个工作日。"


def due_tomorrow_head(line: str, due: date, today: date) -> str:
    return f"{DUE_TOMORROW_TAG}{line}将于明天{day(due, today)}截止。"


def due_later_head(line: str, due: date, today: date, days_left: int,
                   workdays: int | None) -> str:
    """`workdays`: shown when the span holds a holiday or more (None: not shown)."""
    span = f"还有{days_left}天" + (f"（其中工作日{workdays}天）" if workdays is not None else "")
    return f"{DUE_LATER_TAG}{line}将于{day(due, today)}截止，{span}。"


def event_to_assignee(title: str, reporter: str, note: str, number: int, due: date,
                      today: date) -> str:
    return (f"【{title}】{reporter}报告：{note}\n已登记为【{number}】，请于"
            f"{day(due, today)}前处置并反馈。处置完成后回复「完成 {number} "
            "处置情况」或点「已完成」。")


def event_title(title: str, note: str) -> str:
    return f"【{title}】{short(note)}"


def event_to_assignee_minimal(title: str, number: int, due: date, today: date) -> str:
    return (f"【{title}】有新登记的事项【{number}】，请于{day(due, today)}前"
            "处置并反馈，详情请通过单位内部渠道了解。"
            f"处置完成后回复「完成 {number}」。")


def event_to_leader(title: str, reporter: str, note: str, who: str, number: int, due: date,
                    today: date) -> str:
    return (f"【{title}·知悉】{reporter}报告：{note}\n已转{who}处置（编号 {number}），"
            f"{day(due, today)}前反馈。请您知悉，无需回复；逾期未处置将另行提示。")


def event_to_leader_minimal(title: str, number: int, due: date, today: date) -> str:
    return (f"【{title}·知悉】有新登记的事项（编号 {number}），"
            f"{day(due, today)}前反馈。详情请通过单位内部渠道了解，无需回复。")


# ---- 摘要: the weekly group digest, the leaders' month, the admins' week ------------------

WEEKLY_FOOT = "完成后由负责同志回复「完成 编号 备注」即可。"
MONTHLY_FOOT = "逾期事项会同时提醒各单位负责人。发送「待办」查看您本人的事项。"
DELIVERY_FOOT = "请核对相关人员的账号配置或渠道设置，然后运行 dutybot check。"
HOLIDAY_GAP_TAG = "【节假日提示】"


def weekly_head(unit: str, count: int) -> str:
    return f"【本周提示】{unit}：逾期及两周内截止的事项 {count} 项"


def weekly_line(number: int, title: str, period: str, due: date, today: date,
                late: bool) -> str:
    return (f"· 【{number}】{title}（{period_label(period)}）截止 "
            f"{day(due, today)}{'，已逾期' if late else ''}")


def digest_more(count: int) -> str:
    return f"……另有 {count} 项。"


def weekly_later(count: int) -> str:
    return f"另有 {count} 项截止较晚，发送「待办」可查看全部。"


def _whose(everything: bool) -> str:
    return "全局各单位" if everything else "您负责或分管的单位"


def monthly_head(today: date, everything: bool) -> str:
    return f"【月度情况】{today.year}年{today.month}月初，{_whose(everything)}责任事项情况："


def monthly_status(done: int, open_: int, overdue: int) -> str:
    return (f"上月完成 {done} 项；待完成 {open_} 项"
            + (f"，其中已逾期 {overdue} 项" if overdue else ""))


def monthly_line(name: str, status: str) -> str:
    return f"· {name}：{status}"


def monthly_more(count: int) -> str:
    return f"……另有 {count} 个单位未列出。"


def monthly_own(status: str) -> str:
    return f"· 您本人（述职、讲党课等）：{status}"


_UNKEPT_WHY: dict[str, str] = {
    Refusal.DOWNLOAD: "未能从平台取回", Refusal.TOO_BIG: "超过大小上限",
    Refusal.TYPE: "类型不在允许范围内", Refusal.EMPTY: "内容为空",
    Refusal.UNWRITABLE: "服务器磁盘无法写入",
}


def unkept_head(count: int) -> str:
    return f"【证据文件】过去一周有 {count} 个随完成记录发送的文件未能保存，请联系本人重新发送："


def unkept_line(who: str, number: int, name: str, reason: str) -> str:
    why = _UNKEPT_WHY.get(reason, "未能保存")  # StrEnum keys match the recorded codes
    return f"· {who}，【{number}】{('“' + name + '”') if name else '图片或文件'}：{why}"


def delivery_head(count: int) -> str:
    return f"【投递情况】过去一周有 {count} 条消息未能确认送达："


def delivery_line(who: str, channel: str, error: str) -> str:
    return f"· {who}，{channel or '无渠道'}：{error or '状态不明，可能已送达'}"


def delivery_more(count: int) -> str:
    return f"……另有 {count} 条，运行 dutybot check 查看。"


def delivery_minimal(count: int) -> str:
    return (f"【投递情况】过去一周有 {count} 条消息未能确认送达，"
            "详情请在单位内部渠道查看或运行 dutybot check。")


def holiday_gap(year: int, missing: int, first: date) -> str:
    return (f"{HOLIDAY_GAP_TAG}{year} 年的放假安排尚未补充完整：配置 [calendar] "
            f"中还缺 {missing} 个法定节假日，首个为 {first:%m月%d日}；"
            "调休上班日也须补充。请按国务院办公厅的放假通知补全，"
            "运行 dutybot check 核对。")


# ---- one message of several reminders (handlers.notices.bundle) --------------------------

# Each section's heading and its word in the card's summary, in the order shown.
SECTION_OWN_LATE = ("已逾期：", "逾期")
SECTION_SUPERVISE_LATE = ("请您督办，已逾期：", "督办")
SECTION_INFORM_LATE = ("知会，已逾期并记入台账：", "知会")
SECTION_REPORTED = ("新登记，请您处置：", "新登记")
SECTION_REPORTED_FYI = ("新登记，请您知悉：", "知悉")
SECTION_DUE_TODAY = ("今天截止：", "今天截止")
SECTION_COMING = ("即将截止：", "即将截止")
SECTION_MOVED = ("截止日已调整：", "调整")


def bundle_head_own(count: int) -> str:
    return f"【今日提醒】您有 {count} 项事项需要关注："


def bundle_foot_own(numbers: Iterable[int]) -> str:
    return ("完成后回复「完成 编号 备注」，多项可一并记录，如「完成 "
            + " ".join(str(n) for n in numbers) + "」；也可点下方按钮。")


def bundle_head_supervise(count: int) -> str:
    return f"{ESCALATION_SUPERVISE_TAG}{count} 项事项已逾期："


def bundle_head_inform(count: int) -> str:
    return f"{ESCALATION_INFORM_TAG}{count} 项事项已逾期："


def headline(head: str) -> str:
    """A bundle's heading as a card's title: without what follows its colon."""
    return head.split("：")[0]


def bundle_summary(counts: Iterable[tuple[str, int]], numbers: Iterable[int],
                   limit: int) -> str:
    """逾期 2 项，今天截止 1 项：【12】【15】【18】, cut before a number to fit `limit`."""
    said = "，".join(f"{word} {n} 项" for word, n in counts)
    said = f"{said}：{''.join(f'【{n}】' for n in numbers)}"
    if len(said) > limit:
        said = said[:limit - 12].rsplit("【", 1)[0] + "……详见「查看待办」"
    return said


def bundle_late_line(line: str, due: date, today: date, late: int, who: str = "") -> str:
    """`who`: whoever answers for it, to the leader who hears of it."""
    whom = f"，负责人：{who}" if who else ""
    return f"{line}，截止{day(due, today)}，已逾期{late}个工作日{whom}"


def bundle_fyi_line(line: str, due: date, today: date, handler: str = "") -> str:
    who = f"已转{handler}处置，" if handler else ""
    return f"{line}，{who}{day(due, today)}前反馈"


def bundle_reported_line(line: str, due: date, today: date) -> str:
    return f"{line}，请于{day(due, today)}前处置并反馈"


def bundle_moved_line(line: str, previous: date | None, due: date, today: date) -> str:
    return f"{line}，{due_moved(previous, due, today).rstrip('。')}"


def bundle_today_line(line: str) -> str:
    return f"{line}，今天截止"


def bundle_coming_line(line: str, due: date, today: date) -> str:
    return f"{line}，{day(due, today)}截止，还有{(due - today).days}天"


# ---- 会议通知: a meeting's news to an invitee or the unit's group ------------------------

MEETING_HEADS = {Stage.MEETING_NOTICE: "【会议通知】", Stage.MEETING_MOVED: "【会议改期】",
                 Stage.MEETING_CANCELLED: "【会议取消】", Stage.MEETING_EVE: "【会议提醒】",
                 Stage.MEETING_SOON: "【会议提醒】", Stage.MEETING_LEAVE: "【请假】",
                 Stage.MEETING_UNRECORDED: "【纪实提醒】"}


def meeting_named(head: str, title: str, unit: str) -> str:
    """【会议通知】主题党日活动（机关第一党支部）"""
    return f"{head}{title}（{unit}）"


def _place_line(place: str) -> str:
    return f"\n地点：{shown(place)}" if place else ""


def _topic_line(topic: str) -> str:
    return f"\n议题：{shown(topic)}" if topic else ""


def meeting_cancel_notice(named: str, start: str, reason: str) -> str:
    why = f"\n原因：{shown(reason)}" if reason else ""
    return f"{named}原定{start}召开的会议已取消。{why}\n原定的提醒不再发送，无需回复。"


def meeting_cancel_notice_minimal(named: str, start: str) -> str:
    return f"{named}原定{start}召开的会议已取消。无需回复。"


def meeting_group_notice(head: str, unit: str, title: str, start: str, place: str,
                         topic: str, organiser: str, number: int) -> str:
    return (f"{head}{unit} {title}\n时间：{start}{_place_line(place)}{_topic_line(topic)}"
            f"\n召集人：{organiser}\n"
            f"参会同志请留意个人通知；请假请私信回复「请假 {number} 原因」。")


def meeting_moved_notice(named: str, before: str, start: str, place: str, topic: str,
                         number: int) -> str:
    return (f"{named}由{before}改为{start}{_place_line(place)}{_topic_line(topic)}\n"
            f"请点「参加」或「请假」，或回复「请假 {number} 原因」。")


def meeting_moved_summary(start: str) -> str:
    return f"改为{start}"


def _answer_please(number: int) -> str:
    return f"请点「参加」或「请假」，或回复「参加 {number}」「请假 {number} 原因」。"


def meeting_notice(named: str, start: str, place: str, topic: str, organiser: str,
                   number: int) -> str:
    return (f"{named}\n时间：{start}{_place_line(place)}{_topic_line(topic)}\n"
            f"召集人：{organiser}\n{_answer_please(number)}")


def meeting_notice_minimal(named: str, start: str, place: str, number: int) -> str:
    return f"{named}\n时间：{start}{_place_line(place)}\n{_answer_please(number)}"


def meeting_notice_summary(start: str, place: str) -> str:
    return start + (f" {shown(place)}" if place else "")


def meeting_soon(at: datetime, minutes: int) -> str:
    return f"将于{at:%H:%M}（{minutes} 分钟后）召开"


def meeting_eve(start: str) -> str:
    return f"将于{start}召开"


def _place_after(place: str) -> str:
    return f"，地点：{shown(place)}" if place else ""


def meeting_reminder(named: str, when: str, place: str, topic: str, number: int) -> str:
    return (f"{named}{when}{_place_after(place)}。{_topic_line(topic).strip()}\n"
            f"如不能参加，请回复「请假 {number} 原因」。")


def meeting_reminder_summary(start: str, place: str) -> str:
    return f"{start}{_place_after(place)}"


def leave_notice(named: str, start: str, asked: Iterable[tuple[str, str]], invited: int,
                 away: int, number: int) -> str:
    """To the organiser: who asked leave (name, reason), and the count now."""
    who = "；".join(f"{name}（{shown(reason)}）" for name, reason in asked)
    return (f"{named}{start}：{who}。\n{_leave_count(invited, away)}"
            f"发送「查询 {number}」查看详情。")


def leave_notice_minimal(named: str, start: str, asked: int, invited: int, away: int,
                         number: int) -> str:
    return (f"{named}{start}：有 {asked} 位同志请假，{_leave_count(invited, away)}"
            f"详情请在单位内部渠道发送「查询 {number}」。")


def _leave_count(invited: int, away: int) -> str:
    return f"目前应到 {invited} 人，请假 {away} 人。"


def meeting_unrecorded(named: str, start: str, number: int) -> str:
    return (f"{named}定于{start}的会议尚未记录纪实。"
            f"会后请发送「纪实 {number}」逐行写明主持、记录、缺席、议题、决议；"
            f"如未召开，请发送「改期 {number} 新时间」或「取消会议 {number}」。")
