"""Messages people are glad to get (issue 11): what they type is understood, lists are
paged and never cut silently, greetings are answered, and the tone is right."""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.app import App
from bot.clock import FakeClock
from handlers import text
from handlers.paging import PAGE_LINES
from tests.builders import Chat, at, numbers_in

ChatAs = Callable[[str], Chat]


def number(app: App, key: str) -> int:
    task = app.store.task(key)
    assert task is not None
    return task.number


CN = {22: "二十二", 26: "二十六", 30: "三十", 37: "三十七", 41: "四十一", 45: "四十五"}


def test_how_people_ask_for_their_list(chat_as: ChatAs) -> None:
    wu = chat_as("吴芳")
    todo = wu.say("待办")
    for asked in ("我的待办", "查一下待办", "今天有什么任务", "待\u3000办", "请帮我查一下待办",
                  "/todo", "TODO"):
        assert wu.say(asked) == todo, asked


def test_chinese_numerals_and_spans(chat_as: ChatAs, app: App) -> None:
    wu = chat_as("吴芳")
    n = number(app, "branch-meeting:branch-1:2026-Q4")
    assert wu.say(f"完成 {CN[n]} 已召开").startswith(text.CHECKED_IN)
    task = app.store.task_by_number(n)
    assert task is not None and task.checkin is not None and task.checkin.note == "已召开"
    month = wu.say("近期 30")
    for asked in ("近期 三十", "近期 30天", "近期 三十天", "近期 一个月"):
        assert wu.say(asked) == month, asked
    assert wu.say("近期 两周") == wu.say("近期 14")
    assert wu.say("近期 很久") == text.UPCOMING_BAD_DAYS


def test_lead_ins_do_what_the_command_does(chat_as: ChatAs, app: App) -> None:
    wu = chat_as("吴芳")
    n = number(app, "theme-day:branch-1:2026-11")
    assert wu.say(f"我要打卡 {n}").startswith(text.CHECKED_IN)
    assert wu.say("撤消").startswith(text.UNDONE)
    unknown = wu.say(f"打开 {n} 已开展")
    assert unknown == text.unknown("打开", "打卡", f"{n} 已开展")  # what was typed is kept
    assert f"「打卡 {n} 已开展」" in unknown


def test_greetings_and_thanks_get_a_short_polite_answer(chat_as: ChatAs) -> None:
    wu = chat_as("吴芳")
    for said, answer in [("你好", text.GREETING), ("您好！", text.GREETING),
                         ("谢谢", text.THANKS), ("辛苦了", text.THANKS), ("好的", text.ACK),
                         ("收到。", text.ACK)]:
        assert wu.say(said) == answer, said
    assert "没有听懂" not in " ".join([text.GREETING, text.THANKS, text.ACK])


def test_binding_is_answered_truthfully_on_wecom(chat_as: ChatAs) -> None:
    assert chat_as("陌生人").say("绑定 ABCD-EFGH", channel="wecom") == text.NOT_REGISTERED
    assert chat_as("WuFang").say("绑定 ABCD-EFGH", channel="wecom") == text.BIND_NOT_HERE


def test_long_lists_come_in_pages_and_more_shows_the_rest(app: App, clock: FakeClock) -> None:
    clock.set(at("2027-01-15 10:00"))  # two months of every branch's tasks, all open
    app.refresh(clock.now())
    admin = Chat(app, clock, "赵敏")
    first = admin.say("逾期")
    total = int(re.search(r"逾期事项 (\d+) 项", first)[1])  # type: ignore[index]
    pages = -(-total // PAGE_LINES)
    assert pages >= 2 and text.page_marker(1, pages) in first
    assert len(numbers_in(first)) == PAGE_LINES
    seen = numbers_in(first)
    for page in range(2, pages + 1):
        reply = admin.say("更多" if page % 2 else "下一页")
        seen += numbers_in(reply)
        assert (text.page_marker(page, pages) if page < pages
                else text.last_page(page, pages)) in reply
    assert len(seen) == len(set(seen)) == total  # nothing cut, nothing twice
    assert reply.rstrip().endswith(text.OVERDUE_FOOTER)
    assert admin.say("更多") == text.NO_MORE
    assert Chat(app, clock, "王建国").say("更多") == text.NO_MORE  # pages are per conversation


def test_status_lines_carry_due_dates(app: App, clock: FakeClock) -> None:
    reply = Chat(app, clock, "陈静").say("查询 机关党委")
    reports = [line for line in reply.splitlines() if "向市委及主管部门汇报" in line]
    assert len(reports) == 2  # two as-required deadlines of one duty, told apart by date
    assert "截止12月10日（周四）" in reports[0] and "截止2027年6月30日（周三）" in reports[1]


def test_no_nested_parentheses_and_one_quote_style(chat_as: ChatAs, app: App,
                                                   clock: FakeClock) -> None:
    replies = [chat_as(who).say(said) for who, said in [
        ("王建国", "总览"), ("王建国", "查询 第一支部"), ("吴芳", "待办"), ("吴芳", "近期 40"),
        ("吴芳", "帮助"), ("赵敏", "逾期")]]
    clock.set(at("2026-12-03 10:00"))
    replies += [chat_as("王建国").say("总览"), chat_as("赵敏").say("逾期")]
    nested = re.compile(r"（[^（）]*（")
    for reply in replies:
        assert not nested.search(reply), reply
        assert "“" not in reply and "”" not in reply, reply
        assert "本机器人" not in reply and "党务干事" not in reply
