"""`dutybot report` with meetings: the 会议纪实 and 补学 sheets, and a meeting's check-ins
counted like any other while 补学 stays out of the unit figures. Meetings are made through
the chat commands on the example bureau, then the workbook is read back with openpyxl."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from bot.app import App
from bot.cli import main
from bot.clock import FakeClock
from bot.config import load
from bot.report import (
    DETAIL_HEADERS,
    DETAIL_SHEET,
    MAKEUP_DONE,
    MAKEUP_HEADERS,
    MAKEUP_OPEN,
    MAKEUP_SHEET,
    MEETING_HEADERS,
    MEETING_SHEET,
    MEETING_STATES,
    OVERDUE,
    SELF,
    SUMMARY_HEADERS,
    SUMMARY_SHEET,
    TOTAL,
)
from schedules.meetings import MeetingState, is_makeup
from schedules.standing import due_within
from schedules.tasks import Status, Task
from tests.builders import SHANGHAI, Chat, at, record_text, task_of
from tests.builders import announce as announce_as


def announce(app: App, clock: FakeClock, task: Task, words: str, who: str = "吴芳") -> int:
    return announce_as(app, clock, str(task.number), words, who)


@dataclass(frozen=True)
class Lived:
    config: Path
    held: int  # theme day, 12-04, two absent (one on leave)
    cancelled: int  # 12-09, cancelled
    planned: int  # 12-22, not yet held


@pytest.fixture
def lived(config_path: Path) -> Lived:
    """December 2026 in 机关第一党支部: a meeting held and recorded, one cancelled, one still
    to come; one absentee does the 补学, the other not yet."""
    clock = FakeClock(at("2026-12-01 10:00"))
    app = App.open(load(config_path), clock)
    try:
        app.refresh(clock.now())
        held = announce(app, clock, task_of(app, "theme-day"),
                        "周五下午3点 三楼会议室 学习全会精神")
        cancelled = announce(app, clock, task_of(app, "branch-meeting", period="2026-Q4"),
                             "12月9日 15:00 二楼 研究意识形态工作")
        planned = announce(app, clock, task_of(app, "three-meetings-general", period="2026-Q4"),
                           "12月22日 15:00 三楼会议室 支部党员大会")
        Chat(app, clock, "宋佳").say(f"请假 {held} 出差")
        assert Chat(app, clock, "吴芳").say(f"取消会议 {cancelled} 因故推迟").startswith("已取消")
        clock.set(at("2026-12-07 11:00"))
        assert Chat(app, clock, "吴芳").say(record_text(held)).startswith("已记录会议纪实")
        meeting = app.store.meeting(held)
        assert meeting is not None
        song = next(t for t in map(app.store.task, meeting.makeups) if t and t.owner == "song-jia")
        clock.set(at("2026-12-08 09:30"))
        assert Chat(app, clock, "宋佳").say(f"完成 {song.number} 已自学").startswith("已记录")
    finally:
        app.close()
    return Lived(config_path, held, cancelled, planned)


def report(lived: Lived, out: Path, now: str = "2026-12-15T10:00") -> Any:
    assert main(["report", "--config", str(lived.config), "--now", now, "--year", "2026",
                 "--out", str(out)]) == 0
    return load_workbook(out)


def rows(ws: Any, headers: list[str], header_row: int = 1) -> list[dict[str, Any]]:
    assert [c.value for c in ws[header_row]] == headers
    return [dict(zip(headers, r, strict=True))
            for r in ws.iter_rows(min_row=header_row + 1, values_only=True)]


def reopen(lived: Lived) -> App:
    return App.open(load(lived.config), FakeClock(at("2026-12-15 10:00")), read_only=True)


def naive(moment: datetime) -> datetime:
    """A moment as the workbook holds it: wall-clock time in the bureau, no zone."""
    return moment.astimezone(SHANGHAI).replace(tzinfo=None)


def excel(day: date) -> datetime:
    """A date as openpyxl reads it back: midnight."""
    return datetime.combine(day, time())


def test_every_meeting_of_the_year_in_date_order(lived: Lived, tmp_path: Path) -> None:
    wb = report(lived, tmp_path / "r.xlsx")
    assert wb.sheetnames[-2:] == [MEETING_SHEET, MAKEUP_SHEET]
    ws = wb[MEETING_SHEET]
    assert ws.freeze_panes == "B2" and ws.page_setup.orientation == "landscape"
    found = rows(ws, MEETING_HEADERS)
    assert [r["编号"] for r in found] == [lived.held, lived.cancelled, lived.planned]
    app = reopen(lived)
    try:
        states = {}
        for r in found:
            m = app.store.meeting(r["编号"])
            assert m is not None
            states[m.state] = r["状态"]
            assert r["单位"] == "机关第一党支部" and r["应到"] == len(m.invitees)
            assert r["计划时间"] == naive(m.start)
            task = app.store.task(m.tasks[0])
            assert task is not None and r["完成事项"].startswith(f"【{task.number}】")
        assert states == {s: MEETING_STATES[s] for s in MeetingState}
        held = app.store.meeting(lived.held)
        assert held is not None and held.record is not None
        row = found[0]
        assert row["召开时间"] == naive(held.record.held_at) == naive(at("2026-12-04 15:00"))
        assert (row["主持"], row["记录"]) == (held.record.chair, held.record.recorder)
        assert row["实到"] == len(held.record.present) == len(held.invitees) - 2
        for a in held.record.absent:
            assert f"{app.org.owner_name(a.person)}（{a.reason}）" in row["缺席（含原因）"]
        assert (row["议题"], row["决议"]) == (held.record.topics, held.record.decisions)
        assert row["纪实次数"] == 1
        assert found[2]["召开时间"] is None and found[2]["纪实次数"] == 0
    finally:
        app.close()


def test_makeup_tasks_have_their_own_sheet(lived: Lived, tmp_path: Path) -> None:
    found = rows(report(lived, tmp_path / "r.xlsx")[MAKEUP_SHEET], MAKEUP_HEADERS)
    app = reopen(lived)
    try:
        meeting = app.store.meeting(lived.held)
        assert meeting is not None and meeting.record is not None
        makeups = [t for t in map(app.store.task, meeting.makeups) if t is not None]
        assert sorted(r["编号"] for r in found) == sorted(t.number for t in makeups)
        reasons = {app.org.owner_name(a.person): a.reason for a in meeting.record.absent}
        for r in found:
            task = next(t for t in makeups if t.number == r["编号"])
            assert r["姓名"] == app.org.owner_name(task.owner)
            assert (r["所在单位"], r["会议编号"]) == ("机关第一党支部", lived.held)
            assert r["会议日期"] == excel(date(2026, 12, 4)) and r["缺席原因"] == reasons[r["姓名"]]
            assert r["截止日期"] == excel(task.due)
            if task.status is Status.DONE:
                assert task.checkin is not None
                assert r["状态"] == MAKEUP_DONE and r["完成时间"] == naive(task.checkin.at)
                assert r["备注"] == task.checkin.note
            else:
                assert r["状态"] == MAKEUP_OPEN and r["完成时间"] is None
        assert {r["姓名"]: r["状态"] for r in found} == {"宋佳": MAKEUP_DONE, "钱华": MAKEUP_OPEN}
        assert max(t.due for t in makeups) < date(2026, 12, 21)
    finally:
        app.close()
    later = rows(report(lived, tmp_path / "later.xlsx", "2026-12-21T10:00")[MAKEUP_SHEET],
                 MAKEUP_HEADERS)
    assert {r["姓名"]: r["状态"] for r in later} == {"宋佳": MAKEUP_DONE, "钱华": OVERDUE}


def test_a_meeting_check_in_counts_and_makeup_does_not(lived: Lived, tmp_path: Path) -> None:
    wb = report(lived, tmp_path / "r.xlsx")
    summary = {r["单位/个人"]: r for r in rows(wb[SUMMARY_SHEET], SUMMARY_HEADERS, 2)}
    details = rows(wb[DETAIL_SHEET], DETAIL_HEADERS)
    app = reopen(lived)
    try:
        every = due_within(app.store.all_tasks(), date(2026, 1, 1), date(2026, 12, 31))
        duties = [t for t in every if not is_makeup(t)]
        makeups = [t for t in every if is_makeup(t)]
        assert len(makeups) == 2 and any(t.status is Status.DONE for t in makeups)
        assert summary[TOTAL]["应完成"] == len(duties)
        assert summary[TOTAL]["已完成"] == sum(t.status is Status.DONE for t in duties)
        for t in makeups:  # nobody appears for their 补学
            assert f"{app.org.owner_name(t.owner)}{SELF}" not in summary
            assert t.number not in {r["编号"] for r in details}
        branch = [t for t in duties if t.owner == "branch-1"]
        assert summary["机关第一党支部"]["已完成"] == sum(t.status is Status.DONE for t in branch)
        theme = task_of(app, "theme-day")
        assert theme.status is Status.DONE and theme.checkin is not None
        row = next(r for r in details if r["编号"] == theme.number)
        assert row["完成时间"] == naive(theme.checkin.at) == naive(at("2026-12-04 15:00"))
        assert row["记录人"] == "吴芳" and row["是否逾期"] == "否"
    finally:
        app.close()
    matrix = wb["事项矩阵"]
    cell = next(r for r in matrix.iter_rows(min_row=3, values_only=True)
                if r[0] == "机关第一党支部" and r[1] == "主题党日活动")
    assert cell[-1] == excel(date(2026, 12, 4))  # December: done the day it was held


def test_a_half_year_without_meetings_has_empty_meeting_sheets(lived: Lived,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "h1.xlsx"
    assert main(["report", "--config", str(lived.config), "--now", "2026-12-21T10:00",
                 "--year", "2026", "--half", "1", "--out", str(out)]) == 0
    wb = load_workbook(out)
    assert rows(wb[MEETING_SHEET], MEETING_HEADERS) == []
    assert rows(wb[MAKEUP_SHEET], MAKEUP_HEADERS) == []


def test_a_meeting_fulfilling_a_task_of_another_span_still_names_it(config_path: Path,
                                                                     tmp_path: Path) -> None:
    """`report` holds only the span's tasks unless a meeting of the span fulfils one of
    another: June's theme day, held late in July, is named in the second half's sheet."""
    clock = FakeClock(at("2026-06-20 10:00"))
    app = App.open(load(config_path), clock)
    try:
        app.refresh(clock.now())
        june = task_of(app, "theme-day", period="2026-06")
        clock.set(at("2026-07-01 10:00"))
        app.refresh(clock.now())
        held = announce(app, clock, june, "7月3日 15:00 三楼会议室 补开主题党日")
        clock.set(at("2026-07-06 10:00"))
        assert Chat(app, clock, "吴芳").say(record_text(held)).startswith("已记录会议纪实")
    finally:
        app.close()
    out = tmp_path / "h2.xlsx"
    assert main(["report", "--config", str(config_path), "--now", "2026-07-10T10:00",
                 "--year", "2026", "--half", "2", "--out", str(out)]) == 0
    found = rows(load_workbook(out)[MEETING_SHEET], MEETING_HEADERS)
    assert [r["编号"] for r in found] == [held]
    assert found[0]["完成事项"].startswith(f"【{june.number}】")
