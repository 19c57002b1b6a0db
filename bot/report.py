"""`dutybot report`: the year's (or half-year's) record as a workbook for 年度考核 and 述职.

Sheets: 汇总 (per unit: due, done, on time, late, excused, overdue, escalated), 事项矩阵
(unit × duty, one column per month of the deadline, the completion date in the cell, marked
when late), 完成记录 (every check-in), 豁免记录, 升级督办, 会议纪实 (every meeting) and 补学
(every absentee's make-up task). 补学 tasks are a person's, not a unit's duty, so they stay out
of the duty sheets; a task a meeting fulfilled is an ordinary check-in there. Rows follow the
config's order — no rankings. Dates are real dates; every sheet prints landscape, one page
wide, with its header rows on each page. `.csv` writes the check-in details alone (UTF-8
with BOM, Excel).

Written with XlsxWriter, one row at a time (its constant-memory mode), so a city's year
streams out in seconds and is never held whole.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from io import BytesIO
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from xlsxwriter import Workbook
from xlsxwriter.worksheet import Worksheet

from handlers.text import RETIRED, channel_name, meeting_title, period_label, task_title
from schedules.calendar import WorkCalendar
from schedules.meetings import Meeting, MeetingRecord, MeetingState, is_makeup, makeup_meeting
from schedules.model import Org
from schedules.standing import Standing, due_within, standing
from schedules.tasks import Attachment, CheckIn, Status, Task, retired
from storage.repository import Escalation, Repository

MAX_WIDTH = 60

# ---- the report's words: sheet names, headers and states, reviewed in one place ----------

SUMMARY_SHEET, MATRIX_SHEET, DETAIL_SHEET = "汇总", "事项矩阵", "完成记录"
EXCUSE_SHEET, ESCALATION_SHEET = "豁免记录", "升级督办"
MEETING_SHEET, MAKEUP_SHEET = "会议纪实", "补学"
TOTAL = "合计"
ON_TIME, LATE, EXCUSED = "按时完成", "逾期完成", "已豁免"
OVERDUE, NOT_YET_DUE = "逾期未完成", "未到期"
DONE_IN_MONTH = "完成"  # a matrix cell holding several tasks: 12-04截止：12-03完成
MAKEUP_OPEN, MAKEUP_DONE = "待完成", "已完成"
MEETING_STATES = {MeetingState.PLANNED: "待召开", MeetingState.HELD: "已召开",
                  MeetingState.CANCELLED: "已取消"}
YES, NO = "是", "否"
CHECKIN_UNDONE, CHECKIN_VALID, CHECKIN_RESTORED = "已撤销", "有效", "有效（撤销后已恢复）"
EXCUSE_WITHDRAWN, EXCUSE_VALID = "已撤销豁免", "有效"
SELF = "（本人）"  # after a person's name: their own duties
# After an attachment's name: the kept file's size and the first hex digits of its SHA-256
# (enough to find it in the store's files/), or why it was not kept (`storage.files.Refusal`).
FILE_KEPT = "（{size}，SHA-256 {short}…）"
FILE_NOT_KEPT = "（未保存：{why}）"
NOT_KEPT_WHY = {"too-big": "超过大小上限", "type": "类型不允许", "empty": "未能取回",
                "download": "未能取回", "unwritable": "存储写入失败"}
SHORT_HASH = 12

SUMMARY_HEADERS = ["单位/个人", "应完成", "已完成", "其中按时", "其中逾期完成", "已豁免",
                   "逾期未完成", "未到期", "曾升级督办", RETIRED]
MATRIX_HEADERS = ["单位/个人", "责任事项", "条款"]  # then one column per month
MONTH_HEADER = "{month}月截止"
DETAIL_HEADERS = ["编号", "单位/个人", "责任事项", "期间", "截止日期", "记录人", "完成时间",
                  "是否逾期", "备注", "附件", "渠道", "状态", "撤销时间"]
EXCUSE_HEADERS = ["编号", "单位/个人", "责任事项", "期间", "截止日期", "豁免人", "豁免时间",
                  "原因", "状态", "撤销豁免人", "撤销时间", "撤销原因"]
ESCALATION_HEADERS = ["升级时间", "编号", "单位/个人", "责任事项", "期间", "截止日期",
                      "逾期工作日", "已通知", "应通知未送达（程序未运行）", "当前状态"]
MEETING_HEADERS = ["编号", "单位", "完成事项", "计划时间", "召开时间", "地点", "主持", "记录",
                   "应到", "实到", "缺席（含原因）", "列席", "议题", "决议", "附件", "状态",
                   "纪实次数"]
MAKEUP_HEADERS = ["编号", "姓名", "所在单位", "会议编号", "会议", "会议日期", "缺席原因",
                  "截止日期", "状态", "完成时间", "备注"]

DATE_FORMAT = "yyyy-mm-dd"
MOMENT_FORMAT = "yyyy-mm-dd hh:mm"  # a check-in's time, as the CSV writes it
LATE_FORMAT = f'yyyy-mm-dd"（{LATE}）"'
# What XML 1.0 (so xlsx) cannot hold: C0 controls but tab and newlines, surrogates, U+FFFE/F.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(value: Any) -> Any:
    """A cell value the workbook can hold. Notes are kept verbatim in the ledger; here a
    control character shows as its visible symbol (␋) and anything else unwritable as �."""
    if isinstance(value, str) and _NOT_XML.search(value):
        return _NOT_XML.sub(_visible, value)
    return value


@dataclass(frozen=True)
class Dated:
    """A completion date for a cell, marked when it came after the deadline."""

    day: date
    late: bool


def _visible(match: re.Match[str]) -> str:
    code = ord(match[0])
    return chr(0x2400 + code) if code < 0x20 else "\ufffd"


@dataclass(frozen=True)
class Span:
    first: date
    last: date
    label: str

    @classmethod
    def of(cls, year: int, half: int | None) -> Span:
        if half == 1:
            return cls(date(year, 1, 1), date(year, 6, 30), f"{year}年上半年")
        if half == 2:
            return cls(date(year, 7, 1), date(year, 12, 31), f"{year}年下半年")
        return cls(date(year, 1, 1), date(year, 12, 31), f"{year}年")

    def months(self) -> list[int]:
        return list(range(self.first.month, self.last.month + 1))


@dataclass(frozen=True)
class ReportSummary:
    tasks: int
    checkins: int
    escalations: int
    meetings: int
    makeups: int


class Report:
    """The figures of one span, computed once from the store and written as xlsx or csv."""

    def __init__(self, org: Org, store: Repository, calendar: WorkCalendar, span: Span,
                 today: date) -> None:
        self.org, self.calendar, self.span, self.today = org, calendar, span, today
        self.tz: tzinfo = org.timezone
        every = store.all_tasks()
        self.task_of = {t.key: t for t in every}
        within = due_within(every, span.first, span.last)
        self.tasks = [t for t in within if not is_makeup(t)]  # the duties
        self.makeups = [t for t in within if is_makeup(t)]
        self.retired = frozenset(t.key for t in within if retired(org, t))
        meetings = store.meetings()
        self.meeting_of = {m.number: m for m in meetings}
        self.meetings = sorted((m for m in meetings
                                if span.first <= self.local(_when(m)).date() <= span.last),
                               key=lambda m: (_when(m), m.number))
        keys = {t.key for t in self.tasks}
        self.escalations = [e for e in store.escalations() if e.task in keys]
        self.escalated = frozenset(e.task for e in self.escalations)
        self.by_key = {t.key: t for t in self.tasks}
        # A meeting of the span fulfils a task the store does not hold (one that counts in
        # another span, in a store opened for this one's alone: open it whole then).
        self.lacks_tasks = any(k not in self.task_of for m in self.meetings for k in m.tasks)
        self.by_owner: dict[str, list[Task]] = defaultdict(list)
        for t in self.tasks:
            self.by_owner[t.owner].append(t)

    # ---- figures -------------------------------------------------------------------------

    def owners(self) -> list[str]:
        """Units, then people with duties of their own, in config order; then anything the
        store holds for owners no longer in config."""
        known = [*self.org.units, *self.org.people]
        listed = [o for o in known if o in self.by_owner]
        return listed + sorted(o for o in self.by_owner if o not in self.org.units
                               and o not in self.org.people)

    def standing_of(self, owner: str) -> Standing:
        return standing(self.by_owner.get(owner, ()), self.tz, self.today, self.escalated,
                        self.retired)

    def owner_label(self, owner: str) -> str:
        name = self.org.owner_name(owner)
        if owner not in self.org.units and owner not in self.org.people:
            task = self.by_owner[owner][0] if self.by_owner.get(owner) else None
            name = task.owner_name if task is not None and task.owner_name else name
        return f"{name}{SELF}" if owner in self.org.people else name

    def person_name(self, task: Task) -> str:
        """The name of a personal task's owner, as it was if they left the config."""
        if task.owner not in self.org.people and task.owner_name:
            return task.owner_name
        return self.org.owner_name(task.owner)

    def title(self, task: Task) -> str:
        duty = self.org.duties.get(task.duty)
        return duty.title if duty else (task.title or task.duty)

    def clause(self, task: Task) -> str:
        duty = self.org.duties.get(task.duty)
        return duty.clause if duty else ""

    def state(self, task: Task) -> str:
        if task.key in self.retired:
            return RETIRED
        if task.status is Status.EXCUSED:
            return EXCUSED
        if task.status is Status.DONE:
            done = task.done_on(self.tz)
            return ON_TIME if done is not None and done <= task.due else LATE
        return OVERDUE if task.due < self.today else NOT_YET_DUE

    def local(self, moment: datetime) -> datetime:
        """Excel has no time zones: the bureau's wall-clock time, naive."""
        return moment.astimezone(self.tz).replace(tzinfo=None)

    def detail_rows(self) -> list[list[Any]]:
        rows = []
        for t in sorted(self.tasks, key=lambda t: t.number):
            for c in t.checkins:
                rows.append([
                    t.number, self.owner_label(t.owner), self.title(t), period_label(t.period),
                    t.due, self.org.owner_name(c.person), self.local(c.at),
                    YES if c.at.astimezone(self.tz).date() > t.due else NO, c.note,
                    _files(c.attachments),
                    channel_name(c.channel), _checkin_state(c),
                    self.local(c.undone_at) if c.undone_at else None,
                ])
        return rows

    def summary(self) -> ReportSummary:
        return ReportSummary(len(self.tasks), sum(len(t.checkins) for t in self.tasks),
                             len(self.escalations), len(self.meetings), len(self.makeups))

    def meeting_rows(self) -> list[list[Any]]:
        return [self._meeting_row(m) for m in self.meetings]

    def _meeting_row(self, m: Meeting) -> list[Any]:
        planned = [m.number, self.org.owner_name(m.unit), self.fulfilled(m), self.local(m.start)]
        state, invited = MEETING_STATES[m.state], len(m.invitees)
        r = m.record
        if r is None:  # not held (yet): what was announced
            also = "、".join(self.org.owner_name(p) for p in m.also)
            return [*planned, None, m.place, "", "", invited, None, "", also, m.topic, "", "",
                    state, 0]
        return [*planned, self.local(r.held_at), r.place, r.chair, r.recorder, invited,
                len(r.present), absentees(self.org, r), "、".join(r.also), r.topics, r.decisions,
                _files(r.attachments), state, len(m.records)]

    def fulfilled(self, meeting: Meeting) -> str:
        found = (self.task_of.get(k) for k in meeting.tasks)
        return "、".join(task_line(self.org, t) for t in found if t is not None)

    def makeup_rows(self) -> list[list[Any]]:
        rows = []
        for t in sorted(self.makeups, key=lambda t: t.number):
            held, number = makeup_meeting(t.period) or (t.due, 0)
            m = self.meeting_of.get(number)
            done = t.checkin if t.status is Status.DONE else None
            excuse = t.excuse
            rows.append([
                t.number, self.person_name(t), self.org.owner_name(m.unit) if m else "",
                number or None, meeting_title(self.org, m) if m else self.title(t), held,
                _absence_reason(m, t.owner) if m else "", t.due, self.makeup_state(t),
                self.local(done.at) if done else None,
                done.note if done else (excuse.reason if excuse else ""),
            ])
        return rows

    def makeup_state(self, task: Task) -> str:
        if task.key in self.retired:
            return RETIRED
        if task.status is Status.EXCUSED:
            return EXCUSED
        if task.status is Status.DONE:
            return MAKEUP_DONE
        return OVERDUE if task.due < self.today else MAKEUP_OPEN

    # ---- writing -------------------------------------------------------------------------

    def write(self, out: Path, step: Callable[[], object] = lambda: None) -> ReportSummary:
        """Write to `out` (.xlsx or .csv). `step` is called after each sheet (for a progress
        bar)."""
        if out.suffix.lower() == ".csv":
            write_through_temp(out, self._write_csv)
            step()
        else:
            write_through_temp(out, lambda temp: self._write_xlsx(temp, step))
        return self.summary()

    def _write_csv(self, path: Path) -> None:
        with path.open("w", encoding="utf-8-sig", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(DETAIL_HEADERS)
            for row in self.detail_rows():
                writer.writerow(_csv_value(v) for v in row)  # CSV holds any text

    def _write_xlsx(self, path: Path, step: Callable[[], object]) -> None:
        # XlsxWriter keeps each sheet's rows in a file until the workbook is put together
        # (in a folder of our own, gone even when that fails), and puts it together in
        # memory (a city's year is 4 MB): only writing it out can fail for want of space.
        packed = BytesIO()
        with TemporaryDirectory(prefix="dutybot-report-") as rows:
            self._write_book(_Book(packed, Path(rows)), step)
        path.write_bytes(packed.getbuffer())
        step()

    def _write_book(self, book: _Book, step: Callable[[], object]) -> None:
        self._summary_sheet(book)
        step()
        self._matrix_sheet(book)
        step()
        book.table(DETAIL_SHEET, DETAIL_HEADERS, self.detail_rows())
        step()
        book.table(EXCUSE_SHEET, EXCUSE_HEADERS, self._excuse_rows())
        step()
        book.table(ESCALATION_SHEET, ESCALATION_HEADERS, self._escalation_rows())
        step()
        book.table(MEETING_SHEET, MEETING_HEADERS, self.meeting_rows())
        step()
        book.table(MAKEUP_SHEET, MAKEUP_HEADERS, self.makeup_rows())
        book.close()

    def _summary_sheet(self, book: _Book) -> None:
        rows: list[list[Any]] = []
        total = Standing()
        for owner in self.owners():
            s = self.standing_of(owner)
            total = total + s
            rows.append([self.owner_label(owner), *_figures(s)])
        rows.append([TOTAL, *_figures(total)])
        heading = (f"{self.org.name} 意识形态工作责任制落实情况（{self.span.label}，"
                   f"截止日期在 {self.span.first:%Y-%m-%d} 至 {self.span.last:%Y-%m-%d} 的事项；"
                   f"统计至 {self.today:%Y-%m-%d}；按单位顺序，不作排名）")
        book.table(SUMMARY_SHEET, SUMMARY_HEADERS, rows, heading=heading)

    def _matrix_sheet(self, book: _Book) -> None:
        months = self.span.months()
        cells: dict[str, dict[str, dict[int, list[Task]]]] = defaultdict(
            lambda: defaultdict(lambda: defaultdict(list)))
        for t in self.tasks:
            cells[t.owner][t.duty][t.due.month].append(t)
        duty_order = {d: i for i, d in enumerate(self.org.duties)}
        rows: list[list[Any]] = []
        for owner in self.owners():
            duties = sorted(cells[owner], key=lambda d: (duty_order.get(d, len(duty_order)), d))
            for duty in duties:
                by_month = cells[owner][duty]
                sample = next(iter(by_month.values()))[0]
                rows.append([self.owner_label(owner), self.title(sample), self.clause(sample),
                             *(self._matrix_cell(by_month.get(m, [])) for m in months)])
        heading = (f"每格为该月截止事项的完成日期，逾期完成的注明「{LATE}」；"
                   f"未完成的写明状态：{OVERDUE}、{NOT_YET_DUE}、{EXCUSED}、{RETIRED}"
                   "（责任清单调整后不再要求）。")
        headers = [*MATRIX_HEADERS, *(MONTH_HEADER.format(month=m) for m in months)]
        book.table(MATRIX_SHEET, headers, rows, heading=heading, freeze_columns=2)

    def _matrix_cell(self, tasks: Sequence[Task]) -> Any:
        """The completion date (a real date; a late one says so in its format), or the
        state; several tasks due in one month, each in words."""
        if not tasks:
            return None
        if len(tasks) == 1:
            t = tasks[0]
            done = t.done_on(self.tz)
            if t.status is Status.DONE and done:
                return Dated(done, late=done > t.due)
            return self.state(t)
        return "；".join(
            f"{t.due:%m-%d}截止：" + (f"{d:%m-%d}" + (LATE if d > t.due else DONE_IN_MONTH)
                                    if (d := t.done_on(self.tz)) and t.status is Status.DONE
                                    else self.state(t))
            for t in sorted(tasks, key=lambda t: t.due))

    def _excuse_rows(self) -> list[list[Any]]:
        """Every excuse, a withdrawn one with who withdrew it, when and why."""
        rows = []
        for t in sorted(self.tasks, key=lambda t: t.number):
            for e in t.excuses:
                withdrawn = e.withdrawn_at is not None
                rows.append([t.number, self.owner_label(t.owner), self.title(t),
                             period_label(t.period), t.due, self.org.owner_name(e.person),
                             self.local(e.at), e.reason,
                             EXCUSE_WITHDRAWN if withdrawn else EXCUSE_VALID,
                             self.org.owner_name(e.withdrawn_by) if withdrawn else None,
                             self.local(e.withdrawn_at) if e.withdrawn_at else None,
                             e.withdrawn_reason or None])
        return rows

    def _escalation_rows(self) -> list[list[Any]]:
        def names(ids: Iterable[str]) -> str:
            return "、".join(self.org.owner_name(p) for p in ids)

        rows = []
        for e in sorted(self.escalations, key=_escalation_order):
            t = self.by_key[e.task]
            rows.append([self.local(e.at), t.number, self.owner_label(t.owner), self.title(t),
                         period_label(t.period), t.due, e.workdays_overdue, names(e.told),
                         names(e.missed), self.state(t)])
        return rows


def _escalation_order(e: Escalation) -> datetime:
    return e.at


def _checkin_state(c: CheckIn) -> str:
    if c.undone_at is not None:
        return CHECKIN_UNDONE
    return CHECKIN_RESTORED if c.restored_at is not None else CHECKIN_VALID


def _when(meeting: Meeting) -> datetime:
    """When a meeting counts: held, or else planned."""
    record = meeting.record
    return record.held_at if meeting.state is MeetingState.HELD and record else meeting.start


def _absence_reason(meeting: Meeting, person: str) -> str:
    """Why the person was absent, by the latest record that says they were."""
    return next((a.reason for r in reversed(meeting.records) for a in r.absent
                 if a.person == person), "")


def task_line(org: Org, task: Task) -> str:
    """A task a meeting fulfils: 【45】主题党日活动（2026年12月）"""
    return f"【{task.number}】{task_title(org, task)}（{period_label(task.period)}）"


def absentees(org: Org, record: MeetingRecord) -> str:
    """宋佳（出差）、钱华（病假）"""
    return "、".join(org.owner_name(a.person) + (f"（{a.reason}）" if a.reason else "")
                    for a in record.absent)


def _files(attachments: Iterable[Attachment]) -> str:
    return "；".join(f"{a.kind}:{a.name or a.ref}{file_note(a)}" for a in attachments)


def file_note(attachment: Attachment) -> str:
    """（35 KB，SHA-256 3f79bb7b435b…） after a kept file's name; （未保存：…） after one that
    could not be kept; nothing for a record from before files were kept."""
    if attachment.sha256:
        return FILE_KEPT.format(size=_size(attachment.size),
                                short=attachment.sha256[:SHORT_HASH])
    if attachment.error:
        return FILE_NOT_KEPT.format(why=NOT_KEPT_WHY.get(attachment.error, attachment.error))
    return ""


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def write_through_temp(out: Path, write: Callable[[Path], object]) -> None:
    """`write` a temporary file beside `out`, then put it in place: a half-written file
    never replaces a good one."""
    temp = out.with_name(f".{out.name}.partial")
    try:
        write(temp)
        temp.replace(out)
    finally:
        temp.unlink(missing_ok=True)


def _figures(s: Standing) -> list[int]:
    return [s.due, s.done, s.on_time, s.late, s.excused, s.overdue, s.not_yet_due, s.escalated,
            s.retired]


class _Book:
    """The workbook being written, and the formats its sheets share."""

    def __init__(self, out: BytesIO, rows: Path) -> None:
        # Text is written as text: never a formula (a note may begin with "="), a number or
        # a link. Constant memory: each row goes to a file in `rows` as the next begins.
        self.wb = Workbook(out, {
            "constant_memory": True, "tmpdir": str(rows), "strings_to_formulas": False,
            "strings_to_numbers": False, "strings_to_urls": False})
        self.heading = self.wb.add_format({"bold": True, "font_size": 12})
        self.header = self.wb.add_format({"bold": True, "align": "center", "valign": "vcenter",
                                          "text_wrap": True})
        self.day = self.wb.add_format({"num_format": DATE_FORMAT})
        self.late = self.wb.add_format({"num_format": LATE_FORMAT})
        self.moment = self.wb.add_format({"num_format": MOMENT_FORMAT})

    def table(self, name: str, headers: Sequence[str], rows: Sequence[Sequence[Any]],
              heading: str = "", freeze_columns: int = 1) -> None:
        """A sheet: an optional heading line, a header row (bold, frozen) and the rows, with
        dates as real dates and widths that fit the content (CJK characters count two)."""
        ws = self.wb.add_worksheet(name)
        widths = [_width(h) for h in headers]
        for row in rows[:500]:  # a sample is enough to size the columns
            for i, value in enumerate(row):
                widths[i] = max(widths[i], _width(value))
        for i, w in enumerate(widths):
            ws.set_column(i, i, min(w + 2, MAX_WIDTH))
        header_row = 1 if heading else 0
        ws.freeze_panes(header_row + 1, freeze_columns)
        # Printed for 考核 files: landscape, A4, one page wide, the header rows on every page.
        ws.set_landscape()
        ws.set_paper(9)
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(0, header_row)
        if heading:
            ws.write_string(0, 0, heading, self.heading)
        for i, h in enumerate(headers):
            ws.write_string(header_row, i, h, self.header)
        for r, row in enumerate(rows, start=header_row + 1):
            for i, value in enumerate(row):
                self._write(ws, r, i, value)

    def _write(self, ws: Worksheet, row: int, column: int, value: Any) -> None:
        """One cell, by its value's type; a blank ("" or None) writes no cell at all."""
        if type(value) is str:
            if value:
                ws.write_string(row, column, xml_safe(value))
        elif value is None:
            pass
        elif isinstance(value, datetime):  # before date: a datetime is a date too
            ws.write_datetime(row, column, value, self.moment)
        elif isinstance(value, date):
            ws.write_datetime(row, column, value, self.day)
        elif isinstance(value, Dated):  # a late completion says so in its format
            ws.write_datetime(row, column, value.day, self.late if value.late else self.day)
        elif isinstance(value, int | float):
            ws.write_number(row, column, value)
        else:
            raise TypeError(f"no cell for {type(value).__name__}")

    def close(self) -> None:
        self.wb.close()


def _width(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, Dated):
        return 22 if value.late else 10
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    text = str(value)
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _csv_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and not value.isprintable():  # no lone surrogates in UTF-8
        return value.encode("utf-8", "replace").decode("utf-8")
    return "" if value is None else value
