"""The commands, one row each: the words that invoke it, whether it only reads, and its
lines in `帮助`. Adding a command is a row here and its handler in `handlers.dispatch`.

Pure data (the help lines are `handlers.text`'s), so `handlers.parse` reads its vocabulary
from here without importing a single handler; `handlers.dispatch` joins each row to its
handler by name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from handlers import text


@dataclass(frozen=True)
class Command:
    name: str  # canonical, what `Parsed.name` says
    words: tuple[str, ...]  # Chinese first; English and slash forms are aliases
    help: tuple[str, ...] = ()  # its lines in `帮助`, in order (none: not listed)
    reads_only: bool = False  # answered from memory, never touching the disk
    special: bool = False  # handled before the table (`绑定`), so it has no handler here
    in_group: bool = False  # answered in a group chat (SPEC §6 Scope); else: ask in private


# In the order `帮助` lists them.
COMMANDS: tuple[Command, ...] = (
    Command("help", ("帮助", "help", "start", "菜单"), reads_only=True, in_group=True),
    Command("todo", ("待办", "todo", "待办事项", "任务", "我的任务", "今天有什么任务",
                     "有什么任务", "今天有什么事", "有什么事"),
            (text.HELP_TODO,), reads_only=True, in_group=True),
    Command("checkin", ("打卡", "完成", "done", "checkin"),
            (text.HELP_CHECKIN, text.HELP_CHECKIN_KEYWORD, text.HELP_CHECKIN_MANY),
            in_group=True),
    Command("undo", ("撤销", "撤消", "undo"), (text.HELP_UNDO,)),
    Command("restore", ("恢复", "restore"), (text.HELP_RESTORE,)),
    Command("upcoming", ("近期", "upcoming"), (text.HELP_UPCOMING,), reads_only=True,
            in_group=True),
    Command("status", ("查询", "status", "query"), (text.HELP_STATUS,), reads_only=True,
            in_group=True),
    Command("overview", ("总览", "overview"), (text.HELP_OVERVIEW,), reads_only=True),
    Command("overdue", ("逾期", "overdue"), (text.HELP_OVERDUE,), reads_only=True),
    Command("excuse", ("豁免", "excuse"), (text.HELP_EXCUSE,)),
    Command("unexcuse", ("撤销豁免", "取消豁免", "撤消豁免", "unexcuse"), (text.HELP_UNEXCUSE,)),
    Command("incident", ("舆情", "incident"), (text.HELP_INCIDENT,)),
    Command("report", ("上报", "report"), (text.HELP_REPORT,)),
    Command("delegate", ("委托", "delegate"), (text.HELP_DELEGATE,)),
    Command("undelegate", ("取消委托", "undelegate"), (text.HELP_UNDELEGATE,)),
    Command("meeting", ("会议", "开会", "meeting", "meetings"),
            (text.HELP_MEETING, text.HELP_MEETINGS), in_group=True),
    Command("leave", ("请假", "leave"), (text.HELP_ANSWER,)),  # the line tells 参加 too
    Command("join", ("参加", "join"), in_group=True),
    Command("reschedule", ("改期", "reschedule"), (text.HELP_CHANGE,)),  # and 取消会议
    Command("cancel", ("取消会议", "cancel")),
    Command("record", ("纪实", "会议记录", "record"), (text.HELP_RECORD,)),
    Command("bind", ("绑定", "bind"), (text.HELP_BIND,), special=True),
    Command("more", ("更多", "下一页", "more", "next"), (text.HELP_MORE,), reads_only=True,
            in_group=True),
    # Not commands but manners: a short polite answer, never "没有听懂".
    Command("greeting", ("你好", "您好", "hi", "hello", "在吗", "早上好", "下午好"),
            reads_only=True, in_group=True),
    Command("thanks", ("谢谢", "感谢", "多谢", "谢谢你", "thanks", "辛苦了"), reads_only=True,
            in_group=True),
    Command("ack", ("好的", "收到", "好", "ok", "明白", "知道了"), reads_only=True, in_group=True),
    # Not typed: a photo or file with no text.
    Command("attach", (), in_group=True),
)

BY_NAME = {c.name: c for c in COMMANDS}
READ_ONLY = frozenset(c.name for c in COMMANDS if c.reads_only)
IN_GROUP = frozenset(c.name for c in COMMANDS if c.in_group)


def help_lines(commands: Iterable[Command] = COMMANDS) -> list[str]:
    return [line for c in commands for line in c.help]


HELP = text.help_text(help_lines())
