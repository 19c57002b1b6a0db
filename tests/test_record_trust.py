"""The record as people change it by chat (issue 10): undo that never walks back, restore,
withdrawn excuses, several numbers at once, writes that never go back in time, and any text
in any free-text field."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.app import App
from bot.clock import FakeClock
from bot.config import Config
from bot.delivery import Deliverer
from bot.report import DETAIL_SHEET, Report, Span
from handlers import text
from handlers.parse import TEXT_LIMIT
from schedules.tasks import Status
from storage.audit import verify
from storage.ledger import LedgerRecord, read_records
from tests.builders import Chat, RecordingChannel, at, rechain


@pytest.fixture
def bureau(config: Config) -> Iterator[tuple[App, FakeClock]]:
    clock = FakeClock(at("2026-11-26 10:00"))
    app = App.open(config, clock)
    yield app, clock
    app.close()


def number(app: App, key: str) -> int:
    task = app.store.task(key)
    assert task is not None
    return task.number


def title(app: App, key: str, reader: str) -> str:
    task = app.store.task(key)
    assert task is not None
    return f"【{task.number}】{text.describe(app.org, task, reader)}"


def ledger_types(app: App) -> list[str]:
    lines = app.store.ledger_path().read_text(encoding="utf-8").splitlines()
    return [re.search(r'"type":"([^"]+)"', line)[1] for line in lines]  # type: ignore[index]


# ---- 撤销 ------------------------------------------------------------------------------------

def test_bare_undo_never_walks_back_to_older_check_ins(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    wu = Chat(app, clock, "吴芳")
    old = "theme-day:branch-1:2026-11"
    wu.say(f"打卡 {number(app, old)} 已开展")  # on time, in November
    clock.set(at("2027-01-26 10:00"))
    app.refresh(clock.now())
    recent = ["theme-day:branch-1:2027-01", "three-meetings-committee:branch-1:2027-01"]
    for key in recent:
        wu.say(f"打卡 {number(app, key)}")
    replies = [wu.say("撤销") for _ in range(5)]
    assert replies[0].startswith(text.UNDONE) and f"【{number(app, recent[1])}】" in replies[0]
    latest = title(app, recent[1], "wu-fang")
    assert replies[1:] == [text.undo_latest_undone(latest, number(app, recent[1]))] * 4
    for key, state in [(old, Status.DONE), (recent[0], Status.DONE), (recent[1], Status.OPEN)]:
        task = app.store.task(key)
        assert task is not None and task.status is state, key
    task = app.store.task(old)
    assert task is not None and task.checkin is not None
    assert task.checkin.at == at("2026-11-26 10:00")  # still on time, never re-recorded late


def test_bare_undo_reaches_back_24_hours_and_a_number_further(
        bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    wu = Chat(app, clock, "吴芳")
    key = "branch-meeting:branch-1:2026-Q4"
    n = number(app, key)
    wu.say(f"打卡 {n} 已召开")
    clock.advance(timedelta(hours=24, minutes=1))
    assert wu.say("撤销") == text.undo_too_old(title(app, key, "wu-fang"), "11月26日（周四）", n)
    task = app.store.task(key)
    assert task is not None and task.status is Status.DONE
    reply = wu.say(f"撤销 {n} 备注错了")
    assert reply == text.undone(title(app, key, "wu-fang"), n)
    task = app.store.task(key)
    assert task is not None and task.status is Status.OPEN
    last = app.store.ledger_path().read_text(encoding="utf-8").splitlines()[-1]
    assert '"type":"checkin-undone"' in last and '"reason":"备注错了"' in last
    assert wu.say(f"撤销 {n}") == text.undo_already(title(app, key, "wu-fang"), n)
    assert wu.say("撤销 第一支部") == text.UNDO_USAGE


# ---- 恢复 ------------------------------------------------------------------------------------

def test_restore_brings_back_the_check_in_as_it_was(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    wu = Chat(app, clock, "吴芳")
    key = "theme-day:branch-1:2026-11"
    n = number(app, key)
    Chat(app, clock, "WuFang").say(f"打卡 {n} 已开展，参加12人", message_id="m1",
                                   channel="wecom")
    wu.say("撤销")
    clock.set(at("2026-12-02 15:00"))  # after the deadline: the original time still counts
    assert f"【{n}】" in wu.say("待办")
    reply = wu.say(f"恢复 {n}")
    assert reply.startswith(text.RESTORED) and "逾期" not in reply
    task = app.store.task(key)
    assert task is not None and task.status is Status.DONE and task.checkin is not None
    c = task.checkin
    assert (c.at, c.note, c.channel) == (at("2026-11-26 10:00"), "已开展，参加12人", "wecom")
    assert c.restored_at == at("2026-12-02 15:00") and c.undone_at is None
    about = [t for t in ledger_types(app) if t.startswith("checkin")]
    assert about == ["checkin", "checkin-undone", "checkin-restored"]
    assert wu.say(f"恢复 {n}") == text.restore_already_done(title(app, key, "wu-fang"))
    assert Chat(app, clock, "郑磊").say(f"恢复 {n}") == text.restore_nothing(n)
    assert "有效（撤销后已恢复）" in [row[11] for row in _report(app).detail_rows()]
    assert verify(app.store.folder).intact


def test_restore_of_a_task_done_again_meanwhile_is_refused(
        bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    wu = Chat(app, clock, "吴芳")
    key = "theme-day:branch-1:2026-11"
    n = number(app, key)
    wu.say(f"打卡 {n} 第一次")
    wu.say("撤销")
    wu.say(f"打卡 {n} 第二次")
    assert wu.say(f"恢复 {n}") == text.restore_already_done(title(app, key, "wu-fang"))
    task = app.store.task(key)
    assert task is not None and task.checkin is not None and task.checkin.note == "第二次"


# ---- 撤销豁免 --------------------------------------------------------------------------------

def test_a_withdrawn_excuse_reopens_the_task_and_reminders_resume(
        bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    channel = RecordingChannel()
    deliverer = Deliverer(app, {"console": channel}, defer_unreached=False)
    key = "theme-day:branch-2:2026-11"  # 郑磊's branch, which 张伟 supervises
    n = number(app, key)
    clock.set(at("2026-11-30 08:00"))
    assert Chat(app, clock, "张伟").say(f"豁免 {n} 与上级联合开展").startswith("已豁免")
    for day in ("2026-11-30", "2026-12-01"):
        clock.set(at(f"{day} 09:00"))
        deliverer.run_pass(clock.now())
    assert not any(f"【{n}】" in t for t in channel.texts_for("zheng-lei"))

    assert Chat(app, clock, "郑磊").say(f"撤销豁免 {n}") == text.unexcuse_not_allowed(
        title(app, key, "zheng-lei"))  # nobody withdraws an excuse of their own duty
    assert Chat(app, clock, "马丽").say(f"撤销豁免 {n}") == text.excuse_not_found(n)
    clock.set(at("2026-12-01 14:00"))
    reply = Chat(app, clock, "张伟").say(f"取消豁免 {n} 联合活动取消了")
    assert reply == text.unexcused(title(app, key, "zhang-wei"))
    task = app.store.task(key)
    assert task is not None and task.status is Status.OPEN and task.excuse is None
    assert ledger_types(app).count("task-excused") == 1
    assert ledger_types(app)[-1] == "task-unexcused"

    clock.set(at("2026-12-02 09:00"))
    deliverer.run_pass(clock.now())
    assert any(f"【{n}】" in t for t in channel.texts_for("zheng-lei"))  # the next stage
    again = Chat(app, clock, "张伟").say(f"撤销豁免 {n}")
    assert again == text.unexcuse_not_excused(title(app, key, "zhang-wei"))

    rows = _report(app)._excuse_rows()
    assert len(rows) == 1
    assert rows[0][5:] == ["张伟", at("2026-11-30 08:00").replace(tzinfo=None), "与上级联合开展",
                           "已撤销豁免", "张伟", at("2026-12-01 14:00").replace(tzinfo=None),
                           "联合活动取消了"]
    assert verify(app.store.folder).intact


# ---- several numbers -------------------------------------------------------------------------

def test_several_numbers_record_each_and_say_what_was_refused(
        bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    wu = Chat(app, clock, "吴芳")
    mine = ["theme-day:branch-1:2026-11", "three-meetings-committee:branch-1:2026-11",
            "branch-meeting:branch-1:2026-Q4"]
    done_before = "three-meetings-group:branch-1:2026-11"
    wu.say(f"打卡 {number(app, done_before)}")
    other = number(app, "theme-day:branch-2:2026-11")
    a, b, c = (number(app, k) for k in mine)
    d = number(app, done_before)
    reply = wu.say(f"完成 {a} {b}、{c},{d}，{other} 已召开")
    assert reply.startswith("已记录完成 3 项")
    assert text.refused_missing(other) in reply
    assert text.refused_done(title(app, done_before, "wu-fang"), "11月26日（周四）") in reply
    for key in mine:
        task = app.store.task(key)
        assert task is not None and task.checkin is not None
        assert task.checkin.note == "已召开", key
    task = app.store.task("theme-day:branch-2:2026-11")
    assert task is not None and task.status is Status.OPEN


def test_several_numbers_delivered_twice_record_once(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    wu = Chat(app, clock, "WuFang")
    a, b = number(app, "theme-day:branch-1:2026-11"), number(app, "branch-meeting:branch-1:2026-Q4")
    first = wu.say(f"打卡 {a} {b} 已开展", message_id="42", channel="wecom")
    again = wu.say(f"打卡 {a} {b} 已开展", message_id="42", channel="wecom")
    assert first == again and first.startswith("已记录完成 2 项")
    assert ledger_types(app).count("checkin") == 2


# ---- time goes one way -----------------------------------------------------------------------

def test_a_write_behind_the_newest_record_is_refused_and_reads_work(
        bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    wu = Chat(app, clock, "吴芳")
    wu.say(f"打卡 {number(app, 'theme-day:branch-1:2026-11')}")
    clock.set(at("2026-11-20 09:00"))  # `--now` a week back, or a clock set back
    key = "branch-meeting:branch-1:2026-Q4"
    reply = wu.say(f"打卡 {number(app, key)} 倒签")
    assert reply == text.clock_behind(at("2026-11-20 09:00"), at("2026-11-26 10:00"))
    task = app.store.task(key)
    assert task is not None and task.status is Status.OPEN
    assert wu.say("待办").startswith("您有 5 项待办")
    assert any("早于台账中最新一条记录" in w for w in app.warnings(clock.now()))
    assert Deliverer(app, {"console": RecordingChannel()}, False).run_pass(clock.now()).sent == 0
    clock.set(at("2026-11-26 10:00:30"))  # a moment behind (work in flight) is not refused
    assert wu.say(f"打卡 {number(app, key)}").startswith(text.CHECKED_IN)


def test_audit_names_a_record_whose_time_goes_backwards(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    wu = Chat(app, clock, "吴芳")
    for key in ("theme-day:branch-1:2026-11", "branch-meeting:branch-1:2026-Q4"):
        wu.say(f"打卡 {number(app, key)}")
    app.close()
    ledger = app.store.ledger_path()

    def back_date(items: list[dict[str, object]]) -> None:
        items[-1]["at"] = "2026-11-20T09:00:00+08:00"  # a back-dated check-in, chained anew

    rechain(ledger, back_date)
    result = verify(app.store.folder)
    assert not result.intact and result.broken is None
    assert result.backwards is not None and result.backwards.seq == len(ledger_types(app))


# ---- any text --------------------------------------------------------------------------------

HOSTILE = "已召开\v\x1f\x00 =1+1 \u202e反向\ufffe"


def test_any_text_is_kept_verbatim_and_the_report_still_opens(
        bureau: tuple[App, FakeClock], tmp_path: Path) -> None:
    app, clock = bureau
    wu = Chat(app, clock, "吴芳")
    key = "theme-day:branch-1:2026-11"
    reply = wu.say(f"打卡 {number(app, key)} {HOSTILE}")
    assert "\v" not in reply and "\x00" not in reply and "␋" in reply  # shown, not obeyed
    Chat(app, clock, "马丽").say("舆情 帖子\x0b链接\x00")
    task = app.store.task(key)
    assert task is not None and task.checkin is not None and task.checkin.note == HOSTILE
    app.close()
    notes = [r.data["checkin"]["note"] for r in read_records(app.store.ledger_path())
             if isinstance(r, LedgerRecord) and r.type == "checkin"]
    assert notes == [HOSTILE]  # verbatim in the ledger
    app = App.open(app.config, clock, read_only=True)
    out = tmp_path / "r.xlsx"
    Report(app.org, app.store, app.calendar, Span.of(2026, None), clock.now().date()).write(out)
    app.close()
    sheet = load_workbook(out)[DETAIL_SHEET]
    notes = [row[8].value for row in sheet.iter_rows(min_row=2)]
    shown = next(n for n in notes if n and n.startswith("已召开"))
    assert shown == "已召开␋␟␀ =1+1 \u202e反向\ufffd"
    note_cell = next(row[8] for row in sheet.iter_rows(min_row=2) if row[8].value == shown)
    assert note_cell.data_type == "s"  # text beginning with = never becomes a formula


def test_one_limit_for_all_free_text_and_the_reply_says_when_cut(
        bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    long = "长" * (TEXT_LIMIT + 50)
    wu = Chat(app, clock, "吴芳")
    key = "theme-day:branch-1:2026-11"
    assert text.clipped() in wu.say(f"打卡 {number(app, key)} {long}")
    incident = Chat(app, clock, "马丽").say(f"舆情 {long}")
    assert text.clipped() in incident
    assert text.clipped() not in wu.say(f"打卡 {number(app, 'branch-meeting:branch-1:2026-Q4')} 短")
    task = app.store.task(key)
    assert task is not None and task.checkin is not None
    assert task.checkin.note == "长" * TEXT_LIMIT
    opened = [t for t in app.store.all_tasks() if t.duty == "opinion-incident"]
    assert [len(t.note) for t in opened] == [TEXT_LIMIT]


def _report(app: App) -> Report:
    return Report(app.org, app.store, app.calendar, Span.of(2026, None),
                  app.clock.now().date())
