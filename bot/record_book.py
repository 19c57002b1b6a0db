"""`dutybot record-book`: a unit's 党支部工作记录 for one year as a Word document.

A cover line (unit, year), then one page per meeting held that year (recorded with 纪实), in
the order they were held: a two-column table of time, place, chair, note-taker, attendance,
topics, decisions, the tasks it fulfilled and its files. Planned and cancelled meetings are
not in it: the book records what happened. A4 portrait, 宋体 set as the East Asian font (so
Word shows Chinese text in it, not a Latin fallback), page numbers in the footer.

Written with python-docx, through a temporary file like the report.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from docx.styles.style import BaseStyle, CharacterStyle
from docx.text.paragraph import Paragraph

from bot.report import absentees, file_note, task_line, write_through_temp, xml_safe
from handlers.text import WEEKDAYS, meeting_title
from schedules.meetings import Meeting, MeetingRecord, MeetingState
from schedules.model import Org, Unit
from storage.repository import Repository

# ---- the book's words, reviewed in one place ----------------------------------------------

BOOK_TITLE = "党支部工作记录"
YEAR_LINE = "{year}年度"
LABELS = ("会议时间", "会议地点", "主持人", "记录人", "应到人数", "实到人数", "缺席人员及原因",
          "列席人员", "会议议题", "会议内容及决议", "完成事项", "附件")
NONE = "无"
PEOPLE = "{count}人"
FILES = "{count}个：{names}"
FILE_KINDS = {"image": "图片", "file": "文件"}
NO_MEETINGS = "{year}年没有已召开并记录纪实的会议。"
PAGE = ("第 ", " 页")  # around the page number in the footer

BODY_FONT, HEADING_FONT, LATIN_FONT = "宋体", "黑体", "Times New Roman"
LABEL_WIDTH, VALUE_WIDTH = Mm(35), Mm(125)  # A4 less 25 mm margins each side


def held_meetings(store: Repository, org: Org, unit: str, year: int
                  ) -> list[tuple[Meeting, MeetingRecord]]:
    """The unit's meetings held in `year` (by the held time, local), in the order held,
    each with its record (the latest, when it was corrected)."""
    found = [(m, r) for m in store.meetings()
             if m.unit == unit and m.state is MeetingState.HELD and (r := m.record) is not None
             and r.held_at.astimezone(org.timezone).year == year]
    return sorted(found, key=lambda held: (held[1].held_at, held[0].number))


def write_record_book(org: Org, store: Repository, unit: Unit, year: int, now: datetime,
                      out: Path) -> int:
    """Write the book to `out`; the number of meetings in it."""
    meetings = held_meetings(store, org, unit.id, year)
    doc = Document()
    _layout(doc)
    doc.core_properties.title = f"{unit.name}{year}年{BOOK_TITLE}"
    doc.core_properties.author = doc.core_properties.last_modified_by = org.name
    doc.core_properties.created = doc.core_properties.modified = now.astimezone(UTC)
    doc.core_properties.revision = 1
    doc.core_properties.comments = ""
    _centred(doc, unit.name, 22)
    _centred(doc, YEAR_LINE.format(year=year), 16)
    _centred(doc, BOOK_TITLE, 26)
    if not meetings:
        doc.add_paragraph(NO_MEETINGS.format(year=year))
    for meeting, record in meetings:
        _meeting(doc, org, store, meeting, record)
    write_through_temp(out, lambda temp: doc.save(str(temp)))
    return len(meetings)


def heading(org: Org, meeting: Meeting, record: MeetingRecord) -> str:
    """2026年12月4日 主题党日活动"""
    day = record.held_at.astimezone(org.timezone).date()
    return f"{day.year}年{day.month}月{day.day}日 {meeting_title(org, meeting)}"


def fields(org: Org, store: Repository, meeting: Meeting, record: MeetingRecord) -> list[str]:
    """The values of LABELS for one meeting."""
    held = record.held_at.astimezone(org.timezone)
    tasks = [t for t in (store.task(k) for k in meeting.tasks) if t is not None]
    names = "、".join((a.name or FILE_KINDS.get(a.kind, a.kind)) + file_note(a)
                     for a in record.attachments)
    return [
        f"{held.year}年{held.month}月{held.day}日（周{WEEKDAYS[held.weekday()]}）"
        f"{held:%H:%M}",
        record.place, record.chair, record.recorder,
        PEOPLE.format(count=len(meeting.invitees)), PEOPLE.format(count=len(record.present)),
        absentees(org, record) or NONE, "、".join(record.also) or NONE,
        record.topics, record.decisions,
        "\n".join(task_line(org, t) for t in tasks) or NONE,
        FILES.format(count=len(record.attachments), names=names) if names else NONE,
    ]


def _meeting(doc: DocumentObject, org: Org, store: Repository, meeting: Meeting,
             record: MeetingRecord) -> None:
    title = doc.add_heading(xml_safe(heading(org, meeting, record)), level=1)
    title.paragraph_format.page_break_before = True  # a page per meeting, as on paper
    table = doc.add_table(rows=0, cols=2)
    table.style = doc.styles["Table Grid"]
    table.autofit = False
    table.columns[0].width, table.columns[1].width = LABEL_WIDTH, VALUE_WIDTH
    values = fields(org, store, meeting, record)
    for label, value in zip(LABELS, values, strict=True):
        left, right = table.add_row().cells
        left.width, right.width = LABEL_WIDTH, VALUE_WIDTH
        left.paragraphs[0].add_run(label).bold = True
        right.paragraphs[0].add_run(xml_safe(value))


def _layout(doc: DocumentObject) -> None:
    """A4 portrait, the fonts, and page numbers."""
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(25)
    section.top_margin = section.bottom_margin = Mm(25)
    _font(doc.styles["Normal"], BODY_FONT, Pt(12))
    _font(doc.styles["Heading 1"], HEADING_FONT)  # a meeting's heading
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    footer.add_run(PAGE[0])
    _page_number(footer)
    footer.add_run(PAGE[1])


def _font(style: BaseStyle, east_asian: str, size: Pt | None = None) -> None:
    """Latin text in LATIN_FONT, Chinese in `east_asian` (w:eastAsia), black; the
    template's theme fonts, which would win over both, removed."""
    assert isinstance(style, CharacterStyle)  # paragraph styles are character styles too
    style.font.name = LATIN_FONT
    style.font.color.rgb = RGBColor(0, 0, 0)
    if size is not None:
        style.font.size = size
    fonts = style.element.get_or_add_rPr().get_or_add_rFonts()
    fonts.set(qn("w:eastAsia"), east_asian)
    for theme in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(theme), None)


def _centred(doc: DocumentObject, words: str, size: float) -> None:
    paragraph = doc.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    run = paragraph.add_run(xml_safe(words))
    run.bold, run.font.size = True, Pt(size)
    run.font.name = LATIN_FONT
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), HEADING_FONT)


def _page_number(paragraph: Paragraph) -> None:
    """A PAGE field: Word fills in the number of the page it is on."""
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    run, text = OxmlElement("w:r"), OxmlElement("w:t")
    text.text = "1"
    run.append(text)
    field.append(run)
    paragraph._p.append(field)

