"""`dutybot report`: a year of recorded data → a workbook whose numbers match the store."""

from __future__ import annotations

import csv
import errno
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.app import App
from bot.cli import WRITE_ERRORS, main
from bot.clock import FakeClock
from bot.config import load
from bot.delivery import Deliverer
from bot.report import DETAIL_SHEET, LATE_FORMAT, MAKEUP_SHEET, MEETING_SHEET
from schedules.standing import standing
from schedules.tasks import Status
from tests.builders import EXAMPLE, SHANGHAI, RecordingChannel, at


@dataclass(frozen=True)
class Year:
    config: Path
    app: App  # closed; its store is reopened read-only by the tests


@pytest.fixture(scope="module")
def lived(tmp_path_factory: pytest.TempPathFactory) -> Year:
    """2026 lived through: reminders every working day at 09:00 (so overdue tasks escalate),
    and people who check in on the due day, four days late, never, or are excused."""
    folder = tmp_path_factory.mktemp("report")
    config_path = folder / "config.toml"
    shutil.copy(EXAMPLE, config_path)
    clock = FakeClock(at("2026-01-01 08:00"))
    app = App.open(load(config_path), clock)
    deliverer = Deliverer(app, {"console": RecordingChannel()}, defer_unreached=False)
    day = date(2026, 1, 1)
    while day <= date(2026, 12, 31):
        clock.set(datetime.combine(day, datetime.min.time(), SHANGHAI) + timedelta(hours=9))
        deliverer.run_pass(clock.now())
        clock.advance(timedelta(hours=8))  # 17:00: the day's check-ins
        app.refresh(clock.now())
        for task in app.store.open_tasks():
            assignee = app.org.assignee(task.owner)
            if task.duty == "theme-day" and task.owner == "branch-4" and task.due == day:
                app.store.excuse(task.key, "zhao-min", clock.now(), "与上级联合开展")
            elif task.number % 4 != 0 and task.due == day:
                app.store.check_in(task.key, assignee or "", clock.now(), f"完成 {task.number}",
                                   "console")
            elif task.number % 4 == 0 and task.number % 8 != 0 and (
                    day - task.due).days == 4:
                app.store.check_in(task.key, assignee or "", clock.now(), "补办", "wecom")
        day += timedelta(days=1)
    app.close()
    return Year(config_path, app)


def write(lived: Year, *extra: str, out: Path) -> int:
    return main(["report", "--config", str(lived.config), "--now", "2027-01-05T10:00",
                 "--year", "2026", "--out", str(out), *extra])


def test_summary_numbers_match_the_store(lived: Year, tmp_path: Path) -> None:
    out = tmp_path / "2026.xlsx"
    assert write(lived, out=out) == 0
    wb = load_workbook(out)
    assert wb.sheetnames == ["汇总", "事项矩阵", DETAIL_SHEET, "豁免记录", "升级督办",
                             MEETING_SHEET, MAKEUP_SHEET]
    ws = wb["汇总"]
    assert ws.freeze_panes == "B3"
    assert [c.value for c in ws[2]][:3] == ["单位/个人", "应完成", "已完成"]
    rows = {r[0]: r[1:] for r in ws.iter_rows(min_row=3, values_only=True)}
    app = App.open(load(lived.config), FakeClock(at("2027-01-05 10:00")), read_only=True)
    try:
        escalated = frozenset(e.task for e in app.store.escalations())
        assert escalated, "a year with late tasks must have escalations"
        for owner, label in [("branch-1", "机关第一党支部"), ("branch-4", "森林防火站党支部"),
                             ("office", "办公室"), ("li-hongmei", "李红梅（本人）")]:
            tasks = [t for t in app.store.tasks_of([owner]) if t.due.year == 2026]
            s = standing(tasks, SHANGHAI, date(2027, 1, 5), escalated)
            assert rows[label] == (s.due, s.done, s.on_time, s.late, s.excused, s.overdue,
                                   s.not_yet_due, s.escalated, s.retired)
            assert s.due > 0
        every = [t for t in app.store.all_tasks() if t.due.year == 2026]
        assert rows["合计"][0] == len(every)
        assert rows["合计"][4] == sum(t.status is Status.EXCUSED for t in every) > 0
        assert rows["合计"][2] > 0 and rows["合计"][3] > 0 and rows["合计"][5] > 0
        checkins = sum(len(t.checkins) for t in every)
        details = list(wb[DETAIL_SHEET].iter_rows(min_row=2, values_only=True))
        assert len(details) == checkins
        assert len(list(wb["升级督办"].iter_rows(min_row=2))) == len(
            [e for e in app.store.escalations() if e.task in {t.key for t in every}])
    finally:
        app.close()
    # Order is the config's, not a ranking.
    labels = list(rows)
    assert labels.index("局党组") < labels.index("机关党委") < labels.index("森林防火站党支部")


def test_dates_are_dates(lived: Year, tmp_path: Path) -> None:
    out = tmp_path / "2026.xlsx"
    write(lived, out=out)
    wb = load_workbook(out)
    detail = next(wb[DETAIL_SHEET].iter_rows(min_row=2, max_row=2))
    assert isinstance(detail[4].value, datetime) and detail[4].number_format == "yyyy-mm-dd"
    assert isinstance(detail[6].value, datetime) and detail[6].value.year == 2026
    matrix = wb["事项矩阵"]
    assert matrix.freeze_panes == "C3"
    header = [c.value for c in matrix[2]]
    assert header[:3] == ["单位/个人", "责任事项", "条款"] and header[-1] == "12月截止"
    theme = next(r for r in matrix.iter_rows(min_row=3)
                 if r[0].value == "机关第一党支部" and r[1].value == "主题党日活动")
    done = [c.value for c in theme[3:] if isinstance(c.value, datetime)]
    assert done and all(d.year == 2026 for d in done)
    fourth = next(r for r in matrix.iter_rows(min_row=3, values_only=True)
                  if r[0] == "森林防火站党支部" and r[1] == "主题党日活动")
    assert set(fourth[3:]) == {"已豁免"}
    assert wb["汇总"].column_dimensions["A"].width >= 16


def test_a_half_year_and_the_csv_details(lived: Year, tmp_path: Path) -> None:
    whole, half = tmp_path / "y.xlsx", tmp_path / "h.xlsx"
    write(lived, out=whole)
    write(lived, "--half", "2", out=half)
    total = {r[0]: r[1] for r in load_workbook(whole)["汇总"].iter_rows(min_row=3,
                                                                        values_only=True)}
    second = {r[0]: r[1] for r in load_workbook(half)["汇总"].iter_rows(min_row=3,
                                                                       values_only=True)}
    assert 0 < second["合计"] < total["合计"]
    assert [c.value for c in load_workbook(half)["事项矩阵"][2]][3] == "7月截止"
    out = tmp_path / "details.csv"
    assert write(lived, out=out) == 0
    with out.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["编号", "单位/个人", "责任事项"]
    details = list(load_workbook(whole)[DETAIL_SHEET].iter_rows(min_row=2, values_only=True))
    assert len(rows) - 1 == len(details)
    assert any(r[10] == "企业微信" and r[8] == "补办" and r[7] == "是" for r in rows[1:])


def test_bad_arguments_are_refused_without_writing(lived: Year, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert write(lived, out=tmp_path / "r.pdf") == 2
    assert "应以 .xlsx 或 .csv 结尾" in capsys.readouterr().err
    assert write(lived, out=tmp_path / "nowhere" / "r.xlsx") == 2
    assert not list(tmp_path.iterdir())


def test_a_full_disk_is_one_message_and_leaves_nothing(
        lived: Year, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The workbook is written beside the output first: here to /dev/full, as on a full disk.
    (tmp_path / ".2026.xlsx.partial").symlink_to("/dev/full")
    rows_before = set(Path(tempfile.gettempdir()).glob("dutybot-report-*"))
    assert write(lived, out=tmp_path / "2026.xlsx") == 1
    err = capsys.readouterr().err
    assert err.count(WRITE_ERRORS[errno.ENOSPC]) == 1 and "Traceback" not in err
    assert not list(tmp_path.iterdir())
    assert set(Path(tempfile.gettempdir()).glob("dutybot-report-*")) <= rows_before


def test_every_sheet_prints_landscape_one_page_wide_with_its_headers(
        lived: Year, tmp_path: Path) -> None:
    out = tmp_path / "2026.xlsx"
    write(lived, out=out)
    wb = load_workbook(out)
    for ws in wb.worksheets:
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        # An absent fitToWidth is 1 (ECMA-376's default; XlsxWriter leaves defaults out).
        assert (ws.page_setup.fitToWidth or 1, ws.page_setup.fitToHeight) == (1, 0), ws.title
        header_row = 2 if ws.title in ("汇总", "事项矩阵") else 1
        assert ws.print_title_rows == f"$1:${header_row}", ws.title


def test_channels_in_chinese_and_late_completions_marked(lived: Year, tmp_path: Path) -> None:
    out = tmp_path / "2026.xlsx"
    write(lived, out=out)
    wb = load_workbook(out)
    channels = {r[10] for r in wb[DETAIL_SHEET].iter_rows(min_row=2, values_only=True)}
    assert channels <= {"控制台", "企业微信", "企业微信群机器人", "Telegram"} and channels
    dated = [c for row in wb["事项矩阵"].iter_rows(min_row=3) for c in row[3:]
             if isinstance(c.value, datetime)]
    late = [c for c in dated if c.number_format == LATE_FORMAT]
    assert late and len(late) < len(dated)  # late ones marked, on-time ones plain dates
    assert all(c.number_format == "yyyy-mm-dd" for c in dated if c not in late)
