"""`dutybot record-book`: a unit's 党支部工作记录 as a Word document — one section per meeting
held, in the order held; nothing for meetings planned or cancelled, or of other units. The
meetings are made through the chat commands on the example bureau; the document is read
back with python-docx."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_ORIENT
from docx.oxml.ns import qn
from docx.shared import Mm

from bot.app import App
from bot.cli import main
from bot.clock import FakeClock
from bot.config import load
from bot.record_book import BODY_FONT, BOOK_TITLE, LABELS, NO_MEETINGS, fields, heading
from schedules.meetings import Meeting, MeetingRecord
from schedules.tasks import Task
from tests.builders import Chat, at, record_text, task_of
from tests.builders import announce as announce_as


def announce(app: App, clock: FakeClock, task: Task, words: str, who: str = "吴芳") -> int:
    return announce_as(app, clock, str(task.number), words, who)


def record(app: App, clock: FakeClock, number: int, when: str, absent: str) -> None:
    clock.set(at(when))
    reply = Chat(app, clock, "吴芳").say(record_text(number, absent))
    assert reply.startswith("已记录会议纪实"), reply


@dataclass(frozen=True)
class Lived:
    config: Path
    held: tuple[int, ...]  # 机关第一党支部's, in the order held
    not_held: tuple[int, ...]  # theirs cancelled or still planned; another unit's


@pytest.fixture
def lived(config_path: Path) -> Lived:
    """机关第一党支部 holds its 主题党日 on 12-11, announced first, and its 支委会 on 12-04,
    announced after (so numbers and dates disagree); it cancels one and plans one more;
    机关第二党支部 holds one of its own."""
    clock = FakeClock(at("2026-12-01 10:00"))
    app = App.open(load(config_path), clock)
    try:
        app.refresh(clock.now())
        theme = announce(app, clock, task_of(app, "theme-day"),
                         "12月11日 15:00 三楼会议室 主题党日")
        committee = announce(app, clock, task_of(app, "three-meetings-committee"),
                             "周五下午3点 二楼 研究支部工作")
        cancelled = announce(app, clock, task_of(app, "branch-meeting", period="2026-Q4"),
                             "12月9日 15:00 一楼小会议室 专题会议")
        planned = announce(app, clock, task_of(app, "three-meetings-general", period="2026-Q4"),
                           "12月22日 15:00 四楼活动室 支部党员大会")
        other = announce(app, clock, task_of(app, "theme-day", "branch-2"),
                         "周五下午4点 五楼 主题党日", who="郑磊")
        assert Chat(app, clock, "吴芳").say(f"取消会议 {cancelled} 因故推迟").startswith("已取消")
        record(app, clock, committee, "2026-12-04 17:00", "周涛")  # a committee member
        clock.set(at("2026-12-04 17:10"))
        assert Chat(app, clock, "郑磊").say(f"纪实 {other}").startswith("已记录会议纪实")
        record(app, clock, theme, "2026-12-11 17:00", "钱华")
    finally:
        app.close()
    return Lived(config_path, (committee, theme), (cancelled, planned, other))


def book(lived: Lived, out: Path, *, unit: str = "第一支部", year: str = "2026") -> int:
    return main(["record-book", "--config", str(lived.config), "--now", "2026-12-15T10:00",
                 "--unit", unit, "--year", year, "--out", str(out)])


def held(lived: Lived, app: App) -> list[tuple[Meeting, MeetingRecord]]:
    found = []
    for number in lived.held:
        m = app.store.meeting(number)
        assert m is not None and m.record is not None
        found.append((m, m.record))
    return found


def reopen(lived: Lived) -> App:
    return App.open(load(lived.config), FakeClock(at("2026-12-15 10:00")), read_only=True)


def headings(doc: DocumentObject) -> list[str]:
    return [p.text for p in doc.paragraphs if p.style is not None
            and p.style.name == "Heading 1"]


def everything(doc: DocumentObject) -> str:
    cells = (c.text for t in doc.tables for r in t.rows for c in r.cells)
    return "\n".join([*(p.text for p in doc.paragraphs), *cells])


def test_one_section_per_held_meeting_in_the_order_held(lived: Lived, tmp_path: Path) -> None:
    out = tmp_path / "book.docx"
    assert book(lived, out) == 0
    doc = Document(str(out))
    title = " ".join(p.text for p in doc.paragraphs[:3])
    assert "机关第一党支部" in title and "2026" in title and BOOK_TITLE in title
    app = reopen(lived)
    try:
        meetings = held(lived, app)
        assert [r.held_at for _, r in meetings] == sorted(r.held_at for _, r in meetings)
        assert headings(doc) == [heading(app.org, m, r) for m, r in meetings]
        assert headings(doc)[0].startswith("2026年12月4日")
        assert len(doc.tables) == len(meetings)
        for table, (m, r) in zip(doc.tables, meetings, strict=True):
            cells = {row.cells[0].text: row.cells[1].text for row in table.rows}
            assert list(cells) == list(LABELS)
            assert list(cells.values()) == fields(app.org, app.store, m, r)
            assert (cells["主持人"], cells["记录人"]) == (r.chair, r.recorder)
            assert cells["会议地点"] == r.place
            assert str(len(m.invitees)) in cells["应到人数"]
            assert str(len(r.present)) in cells["实到人数"]
            for a in r.absent:
                assert f"{app.org.owner_name(a.person)}（{a.reason}）" in cells["缺席人员及原因"]
            assert (cells["会议议题"], cells["会议内容及决议"]) == (r.topics, r.decisions)
            for key in m.tasks:
                task = app.store.task(key)
                assert task is not None and f"【{task.number}】" in cells["完成事项"]
        written = everything(doc)
        for number in lived.not_held:  # cancelled, planned, another unit's: not in the book
            other = app.store.meeting(number)
            assert other is not None and other.place not in written
            for key in other.tasks:
                task = app.store.task(key)
                assert task is not None and f"【{task.number}】" not in written
    finally:
        app.close()


def test_a4_portrait_with_a_chinese_font_and_page_numbers(lived: Lived, tmp_path: Path) -> None:
    out = tmp_path / "book.docx"
    assert book(lived, out, unit="branch-1") == 0
    doc = Document(str(out))
    section = doc.sections[0]
    assert section.orientation == WD_ORIENT.PORTRAIT
    assert abs(section.page_width - Mm(210)) < Mm(1) and abs(section.page_height - Mm(297)) < Mm(1)
    normal = doc.styles["Normal"].element.rPr
    assert normal is not None and normal.rFonts is not None
    assert normal.rFonts.get(qn("w:eastAsia")) == BODY_FONT
    footer = section.footer.paragraphs[0]._p
    assert [f.get(qn("w:instr")) for f in footer.iter(qn("w:fldSimple"))] == ["PAGE"]
    assert not list(tmp_path.glob(".*partial"))


def test_a_year_without_meetings_says_so(lived: Lived, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "2027.docx"
    assert book(lived, out, year="2027") == 0
    doc = Document(str(out))
    assert NO_MEETINGS.format(year=2027) in [p.text for p in doc.paragraphs]
    assert not doc.tables and not headings(doc)
    assert "没有" in capsys.readouterr().err


def test_an_unknown_unit_names_the_closest(lived: Lived, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "out"
    folder.mkdir()
    out = folder / "book.docx"
    assert book(lived, out, unit="第九支部") == 2
    err = capsys.readouterr().err
    assert "第九支部" in err and "机关第一党支部" in err and len(err.strip().splitlines()) == 1
    assert book(lived, out, unit="支部") == 2  # four branches: which one?
    err = capsys.readouterr().err
    assert "机关第一党支部" in err and "森林防火站党支部" in err
    assert not list(folder.iterdir())


def test_an_unwritable_out_fails_with_one_message(lived: Lived, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "out"
    taken = folder / "book.docx"
    taken.mkdir(parents=True)  # a folder by that name: the document cannot take its place
    assert book(lived, taken) == 1
    err = capsys.readouterr().err
    assert str(taken) in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert list(folder.iterdir()) == [taken] and not list(taken.iterdir())  # no leftovers
    assert book(lived, folder / "book.doc") == 2
    assert ".docx" in capsys.readouterr().err


def test_help_is_in_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["record-book", "--help"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("用法：") and "--unit" in out and "show this help" not in out


def test_control_characters_in_a_record_show_as_symbols(config_path: Path,
                                                        tmp_path: Path) -> None:
    clock = FakeClock(at("2026-12-01 10:00"))
    app = App.open(load(config_path), clock)
    try:
        app.refresh(clock.now())
        number = announce(app, clock, task_of(app, "theme-day"), "周五下午3点 三楼 学习")
        clock.set(at("2026-12-04 17:00"))
        Chat(app, clock, "吴芳").say(f"纪实 {number}\n议题 学习\x0b贯彻")  # kept verbatim
    finally:
        app.close()
    out = tmp_path / "book.docx"
    assert main(["record-book", "--config", str(config_path), "--now", "2026-12-05T10:00",
                 "--unit", "branch-1", "--year", "2026", "--out", str(out)]) == 0
    assert "学习␋贯彻" in everything(Document(str(out)))
