"""The chat commands end to end through the dispatcher, against a real store."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import FakeClock
from bot.config import load
from handlers import table, text
from schedules.tasks import Status
from tests.builders import Chat, at

ChatAs = Callable[[str], Chat]


def numbers_in(reply: str) -> list[int]:
    return [int(n) for n in re.findall(r"【(\d+)】", reply)]


def number_of(app: App, key: str) -> int:
    task = app.store.task(key)
    assert task is not None
    return task.number


def test_todo_lists_my_open_tasks_with_numbers_and_due_dates(chat_as: ChatAs, app: App) -> None:
    reply = chat_as("吴芳").say("待办")
    assert reply.startswith("您有 6 项待办")
    assert numbers_in(reply)[0] == number_of(app, "three-meetings-committee:branch-1:2026-11")
    assert "截止 11月30日（周一）" in reply
    assert "机关第一党支部" in reply and "机关第二党支部" not in reply
    # ends with what to do next
    assert reply.rstrip().endswith(text.TODO_FOOTER.format(number=numbers_in(reply)[0]))


def test_check_in_by_number_records_the_note_verbatim(chat_as: ChatAs, app: App) -> None:
    n = number_of(app, "branch-meeting:branch-1:2026-Q4")
    reply = chat_as("吴芳").say(f"打卡 {n} 已召开，参会12人")
    assert text.CHECKED_IN in reply and "已召开，参会12人" in reply
    task = app.store.task_by_number(n)
    assert task is not None and task.status is Status.DONE
    assert task.checkin is not None and task.checkin.note == "已召开，参会12人"
    assert task.checkin.person == "wu-fang" and task.checkin.channel == "console"
    assert n not in numbers_in(chat_as("吴芳").say("待办"))


def test_full_width_input_and_aliases_work(chat_as: ChatAs, app: App) -> None:
    n = number_of(app, "theme-day:branch-1:2026-11")
    wide = str(n).translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    assert text.CHECKED_IN in chat_as("吴芳").say(f"打卡　{wide}　已开展")
    m = number_of(app, "theme-day:branch-2:2026-11")
    assert text.CHECKED_IN in chat_as("郑磊").say(f"/done@dutybot {m}")


def test_checking_in_twice_is_refused_politely(chat_as: ChatAs, app: App) -> None:
    n = number_of(app, "theme-day:branch-1:2026-11")
    wu = chat_as("吴芳")
    wu.say(f"打卡 {n}")
    reply = wu.say(f"打卡 {n} 再来一次")
    assert "无需重复" in reply
    task = app.store.task_by_number(n)
    assert task is not None and len(task.checkins) == 1


def test_someone_elses_task_looks_like_a_missing_one(chat_as: ChatAs, app: App) -> None:
    other = number_of(app, "theme-day:branch-2:2026-11")
    wu = chat_as("吴芳")
    refused = wu.say(f"打卡 {other}")
    missing = wu.say("打卡 99999")
    assert refused == text.no_such_task(other)
    assert missing == text.no_such_task(99999)
    task = app.store.task_by_number(other)
    assert task is not None and task.status is Status.OPEN


def test_keyword_check_in_one_match_several_and_none(chat_as: ChatAs, app: App) -> None:
    wu = chat_as("吴芳")
    assert text.CHECKED_IN in wu.say("打卡 主题党日 已开展")
    task = app.store.task("theme-day:branch-1:2026-11")
    assert task is not None and task.checkin is not None and task.checkin.note == "已开展"

    several = wu.say("打卡 三会一课")
    assert several.startswith(text.several_match("三会一课"))
    assert len(numbers_in(several)) == 4  # committee, group, general meeting, lecture
    assert all(app.store.task_by_number(n).status is Status.OPEN  # type: ignore[union-attr]
               for n in numbers_in(several))

    assert wu.say("打卡 植树造林") == text.no_match("植树造林")


def test_bare_check_in_records_the_only_open_task(chat_as: ChatAs, app: App) -> None:
    zhou = chat_as("周涛")
    assert text.CHECKED_IN in zhou.say("打卡")
    task = app.store.task("office-summary:office:2026-H2")
    assert task is not None and task.status is Status.DONE
    assert zhou.say("打卡") == text.CHECKIN_NOTHING_OPEN


def test_bare_check_in_with_several_open_lists_them(chat_as: ChatAs, app: App) -> None:
    reply = chat_as("吴芳").say("打卡")
    assert len(numbers_in(reply)) == 6
    assert all(t.status is Status.OPEN for t in app.store.all_tasks())


def test_undo_reopens_and_the_ledger_keeps_both(chat_as: ChatAs, app: App) -> None:
    n = number_of(app, "branch-meeting:branch-1:2026-Q4")
    wu = chat_as("吴芳")
    wu.say(f"打卡 {n} 已召开")
    assert text.UNDONE in wu.say("撤销")
    task = app.store.task_by_number(n)
    assert task is not None and task.status is Status.OPEN
    assert len(task.checkins) == 1 and task.checkins[0].undone_at is not None
    types = [line.split('"type":"')[1].split('"')[0]
             for line in app.store.ledger_path().read_text(encoding="utf-8").splitlines()]
    assert types[-2:] == ["checkin", "checkin-undone"]
    line = f"【{n}】{text.describe(app.org, task, 'wu-fang')}"
    assert wu.say("撤销") == text.undo_latest_undone(line, n)  # never walks further back


def test_undo_by_number_only_for_my_own_check_in(chat_as: ChatAs, app: App) -> None:
    n = number_of(app, "theme-day:branch-2:2026-11")
    chat_as("郑磊").say(f"打卡 {n}")
    assert chat_as("吴芳").say(f"撤销 {n}") == text.undo_not_yours(n)
    task = app.store.task_by_number(n)
    assert task is not None and task.status is Status.DONE
    assert text.UNDONE in chat_as("郑磊").say(f"撤销 {n}")


def test_overdue_tasks_are_marked_and_late_check_ins_noted(chat_as: ChatAs, app: App,
                                                          clock: FakeClock) -> None:
    clock.set(at("2026-12-03 10:00"))
    wu = chat_as("吴芳")
    todo = wu.say("待办")
    assert "其中逾期 3 项" in todo
    assert "已逾期3个工作日" in todo  # Dec 1, 2 and 3 after the Monday deadline
    n = number_of(app, "theme-day:branch-1:2026-11")
    assert "逾期完成" in wu.say(f"打卡 {n}")


def test_upcoming_shows_deadlines_including_periods_not_yet_open(chat_as: ChatAs) -> None:
    wu = chat_as("吴芳")
    two_weeks = wu.say("近期")
    assert two_weeks.startswith(text.upcoming_header(14))
    assert "11月30日" in two_weeks and "12月31日" not in two_weeks
    longer = wu.say("近期 40")
    assert f"主题党日活动（机关第一党支部 · 2026年12月）{text.NOT_YET_OPEN}" in longer
    assert wu.say("近期 abc") == text.UPCOMING_BAD_DAYS
    assert wu.say("近期 0") == text.UPCOMING_BAD_DAYS


def test_unknown_commands_get_the_closest_suggestion(chat_as: ChatAs) -> None:
    wu = chat_as("吴芳")
    assert wu.say("代办") == text.unknown("代办", "待办")
    assert "帮助" in wu.say("今天天气不错")
    assert wu.say("帮助") == table.HELP
    assert wu.say("   ") == text.EMPTY


def test_unregistered_sender_is_refused_and_nothing_changes(chat_as: ChatAs, app: App) -> None:
    ledger = app.store.ledger_path().read_bytes()
    stranger = chat_as("陌生人")
    for message in ("待办", "打卡 1 已完成", "帮助", "近期"):
        assert stranger.say(message) == text.NOT_REGISTERED
    assert app.store.ledger_path().read_bytes() == ledger


def test_a_redelivered_message_records_once(chat_as: ChatAs, app: App) -> None:
    n = number_of(app, "branch-meeting:branch-1:2026-Q4")
    wu = chat_as("WuFang")
    first = wu.say(f"打卡 {n} 已召开", message_id="m-1", channel="wecom")
    again = wu.say(f"打卡 {n} 已召开", message_id="m-1", channel="wecom")
    assert text.CHECKED_IN in first and again.startswith(f"{text.REPLAYED}，{text.CHECKED_IN}")
    task = app.store.task_by_number(n)
    assert task is not None and len(task.checkins) == 1

    # Undone in between, the same delivery again must not check in again.
    assert text.UNDONE in wu.say("撤销", message_id="m-2", channel="wecom")
    assert wu.say(f"打卡 {n} 已召开", message_id="m-1", channel="wecom").startswith(
        text.REPLAYED)
    replayed = wu.say("撤销", message_id="m-2", channel="wecom")
    assert replayed.startswith(f"{text.REPLAYED}，{text.UNDONE}")
    task = app.store.task_by_number(n)
    assert task is not None and task.status is Status.OPEN and len(task.checkins) == 1


def test_a_number_may_be_followed_by_a_comma_or_nothing(chat_as: ChatAs, app: App) -> None:
    wu = chat_as("吴芳")
    for key, message, note in [
        ("branch-meeting:branch-1:2026-Q4", "打卡 {n}，已召开，参会12人", "已召开，参会12人"),
        ("theme-day:branch-1:2026-11", "打卡{n}已开展", "已开展"),
        ("three-meetings-lecture:branch-1:2026-Q4", "打卡 第{n}项、已讲", "已讲"),
    ]:
        n = number_of(app, key)
        assert text.CHECKED_IN in wu.say(message.format(n=n)), message
        task = app.store.task(key)
        assert task is not None and task.checkin is not None and task.checkin.note == note
    assert text.CHECKED_IN in wu.say("打卡 党员大会，已召开")
    task = app.store.task("three-meetings-general:branch-1:2026-Q4")
    assert task is not None and task.checkin is not None and task.checkin.note == "已召开"


def test_the_bot_runs_into_2027_without_holiday_data(config_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock(at("2026-12-30 10:00"))
    app = App.open(load(config_path), clock)
    try:
        clock.set(at("2027-01-04 09:00"))
        wu = Chat(app, clock, "吴芳")
        todo = wu.say("待办")
        # Dec 31 → Mon Jan 4: 元旦 (a Friday) is a computed statutory holiday
        assert "2027年1月" in todo and "已逾期1个工作日" in todo
        assert "截止" in wu.say("近期 60")
        n = number_of(app, "theme-day:branch-1:2027-01")
        assert text.CHECKED_IN in wu.say(f"打卡 {n}")
    finally:
        app.close()
    assert any("2027" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
