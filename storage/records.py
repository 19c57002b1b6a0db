"""How tasks and outbox entries look on disk, and how each ledger record changes them.

The same `effects` drive a live write and the replay of the ledger at start-up, so a
record's effect is the same whether it was applied before a crash or after. Reading a
document checks every field's type: a file that parses but holds the wrong thing is named,
never half-loaded (`RecordInvalid`, whose message says what is wrong, in Chinese).
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from schedules.meetings import makeup_meeting
from schedules.periods import period_end
from schedules.reminders import read_stage_name, stage_name
from schedules.tasks import Attachment, CheckIn, Excuse, Status, Task, made
from storage.ledger import LedgerRecord, RecordInvalid
from storage.repository import Delivery, OutboxEntry, outbox_key


class RecordType(StrEnum):
    """What a ledger record is; its value is the `type` written (and hashed) in the ledger."""

    TASKS_OPENED = "tasks-opened"
    TASK_DUE_CHANGED = "task-due-changed"
    CHECKIN = "checkin"
    CHECKIN_UNDONE = "checkin-undone"
    CHECKIN_RESTORED = "checkin-restored"  # an undo taken back: the check-in counts again
    CHECKIN_ATTACHED = "checkin-attached"  # a photo or file sent after a check-in joins it
    TASK_EXCUSED = "task-excused"  # an authorised person excused a task, with the reason
    TASK_UNEXCUSED = "task-unexcused"  # the excuse withdrawn: the task is open again
    DELIVERIES_ADDED = "deliveries-added"
    DELIVERY = "delivery"  # a delivery changed state
    # Task reminders a pass found missed and not worth sending (the bot was down): for each
    # task and recipient, the moment through which its stages are skipped — one mark, not
    # an outbox entry per missed stage; written as [moment, recipients, tasks] groups.
    # Lives in the ledger alone.
    REMINDERS_SKIPPED = "reminders-skipped"
    ESCALATION = "escalation"  # an accountability item: who was told a task is overdue
    ESCALATIONS = "escalations"  # a pass's accountability items, in one record (`items`)
    ACCOUNT_BOUND = "account-bound"  # a chat account (Telegram) linked to a person by a code
    BIND_REFUSED = "bind-refused"  # a wrong, used or expired binding code was tried
    DELEGATED = "delegated"  # `委托`: someone stands in for a person, until a day or cancelled
    DELEGATION_ENDED = "delegation-ended"
    # Meetings (SPEC §5a): their state lives in the ledger alone (`storage.meeting_records`);
    # a record (纪实) also checks in the tasks the meeting fulfils and opens absentees' 补学.
    MEETING_ANNOUNCED = "meeting-announced"
    MEETING_MOVED = "meeting-moved"
    MEETING_CANCELLED = "meeting-cancelled"
    MEETING_LEAVE = "meeting-leave"
    MEETING_JOINED = "meeting-joined"
    MEETING_RECORDED = "meeting-recorded"
    MEETING_ATTACHED = "meeting-attached"
    MEETING_SCHEDULED = "meeting-scheduled"  # its WeCom 日程 made, updated or removed


# A record read back from the ledger has its `type` as the plain string written; a
# `RecordType` equals it (and hashes alike), so both compare and look up the same.
MEETING_RECORDS = frozenset({RecordType.MEETING_ANNOUNCED, RecordType.MEETING_MOVED,
                             RecordType.MEETING_CANCELLED, RecordType.MEETING_LEAVE,
                             RecordType.MEETING_JOINED, RecordType.MEETING_RECORDED,
                             RecordType.MEETING_ATTACHED, RecordType.MEETING_SCHEDULED})

TASKS = "tasks"
OUTBOX = "outbox"

Effect = Callable[[Any], Any]  # old document (or None) -> new one


def shard_of(due: date) -> str:
    """Which file holds a task: the month it was first due in."""
    return f"{due.year:04d}-{due.month:02d}"


def task_shard(task: Task) -> str:
    """A task's file: the month it was first due in; an absentee's 补学, the month of the
    meeting, whose record opens it beside the tasks it completes (one file written)."""
    held = makeup_meeting(task.period)
    return shard_of(held[0] if held else task.due)


def reporting_day_of(d: Any) -> date | None:
    """The day a task document counts on (`schedules.tasks.reporting_day`), found without
    making the task; None for a document not of the writer's shape (make it then)."""
    if type(d) is dict:
        period, due = d.get("period"), d.get("due")
        if type(period) is str and type(due) is str:
            try:
                return period_end(period) or _parsed_day(due)
            except ValueError:
                return None
    return None


# ---- typed reading -------------------------------------------------------------------------

def _get(d: Any, name: str, kind: type, nullable: bool = False, default: Any = ...) -> Any:
    """`d[name]` if it is of type `kind` (else `RecordInvalid`). Called for every field of
    every document at start-up, so the common case is one lookup and one type test."""
    try:
        value = d[name]
    except KeyError:
        if default is not ...:
            return default
        raise RecordInvalid(f"缺少字段 {name}") from None
    except (TypeError, IndexError):
        raise RecordInvalid("不是 JSON 对象") from None
    if type(value) is kind:
        return value
    if value is None and nullable:
        return None
    if not isinstance(d, dict):
        raise RecordInvalid("不是 JSON 对象")
    raise RecordInvalid(f"字段 {name} 的类型不对")


def _moment(d: Any, name: str, nullable: bool = False) -> datetime | None:
    text = _get(d, name, str, nullable=nullable, default=None if nullable else ...)
    if text is None:
        return None
    try:
        value = _parsed_moment(text)
    except ValueError:
        raise RecordInvalid(f"字段 {name} 不是时间") from None
    if value.tzinfo is None:
        raise RecordInvalid(f"字段 {name} 缺少时区")
    return value


@functools.lru_cache(maxsize=16384)
def _parsed_moment(text: str) -> datetime:
    """Many documents share a moment (every 09:00 reminder of a day): one object each."""
    return datetime.fromisoformat(text)


@functools.lru_cache(maxsize=4096)
def _parsed_day(text: str) -> date:
    """Many tasks share a deadline: one object each (a city's 224,000 tasks have ~1,100)."""
    return date.fromisoformat(text)


def _day(d: Any, name: str) -> date:
    try:
        return date.fromisoformat(_get(d, name, str))
    except ValueError:
        raise RecordInvalid(f"字段 {name} 不是日期") from None


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


# ---- outbox entries ------------------------------------------------------------------------

def entry_to_doc(e: OutboxEntry, seq: int) -> dict[str, Any]:
    return {
        "notice": e.notice, "channel": e.channel, "subject": e.subject,
        "stage": stage_name(e.stage, e.occurrence),
        "recipient": e.recipient, "due_at": e.due_at.isoformat(), "task": e.task,
        "group": e.group, "state": e.state.value, "attempts": e.attempts, "error": e.error,
        "updated": e.updated.isoformat() if e.updated else None,
        "not_before": e.not_before.isoformat() if e.not_before else None,
        "seq": seq,
    } | ({"meeting": e.meeting} if e.meeting else {})


_stage_name = functools.lru_cache(maxsize=256)(read_stage_name)  # a few dozen names, ever


def entry_from_doc(d: dict[str, Any]) -> tuple[OutboxEntry, int]:
    return _entry_of(d), _get(d, "seq", int)


def _entry_of(d: dict[str, Any]) -> OutboxEntry:
    """An outbox document's entry (its `seq` aside). Thousands at every opening: a document
    of the shape the writer makes is read by one lookup and one type test a field, in line;
    anything else goes through `_entry_checked`, which names what is wrong."""
    if type(d) is dict:
        try:
            notice, channel, subject = d["notice"], d["channel"], d["subject"]
            stage, recipient, due_at = d["stage"], d["recipient"], d["due_at"]
            task, group, state, attempts = d["task"], d["group"], d["state"], d["attempts"]
            error, updated, not_before = d["error"], d.get("updated"), d.get("not_before")
            meeting = d.get("meeting", 0)
        except KeyError:
            return _entry_checked(d)
        if (type(notice) is str and type(channel) is str and type(subject) is str
                and type(stage) is str and type(recipient) is str and type(due_at) is str
                and (task is None or type(task) is str) and type(group) is bool
                and type(state) is str and type(attempts) is int and type(error) is str
                and (updated is None or type(updated) is str)
                and (not_before is None or type(not_before) is str)
                and type(meeting) is int):
            try:
                delivery = _DELIVERY[state]
                named, occurrence = _stage_name(stage)
                due = _parsed_moment(due_at)
                moved = None if updated is None else _parsed_moment(updated)
                later = None if not_before is None else _parsed_moment(not_before)
            except (KeyError, ValueError):
                return _entry_checked(d)
            if (due.tzinfo is not None and (moved is None or moved.tzinfo is not None)
                    and (later is None or later.tzinfo is not None)):
                return OutboxEntry(notice, sys.intern(channel), sys.intern(subject), named,
                                   sys.intern(recipient), due, task, group, delivery,
                                   attempts, sys.intern(error), moved, later, meeting,
                                   occurrence)
    return _entry_checked(d)


_DELIVERY = {state.value: state for state in Delivery}


def _entry_checked(d: dict[str, Any]) -> OutboxEntry:
    try:
        state = Delivery(_get(d, "state", str))
    except ValueError:
        raise RecordInvalid("字段 state 不是已知的发送状态") from None
    try:
        stage, occurrence = _stage_name(_get(d, "stage", str))
    except ValueError:
        raise RecordInvalid("字段 stage 不是已知的提醒阶段") from None
    due_at = _moment(d, "due_at")
    assert due_at is not None
    entry = OutboxEntry(  # the words that repeat across thousands of entries: one copy each
        notice=_get(d, "notice", str), channel=sys.intern(_get(d, "channel", str)),
        subject=sys.intern(_get(d, "subject", str)), stage=stage, occurrence=occurrence,
        recipient=sys.intern(_get(d, "recipient", str)), due_at=due_at,
        task=_get(d, "task", str, nullable=True), group=_get(d, "group", bool), state=state,
        attempts=_get(d, "attempts", int), error=sys.intern(_get(d, "error", str)),
        updated=_moment(d, "updated", nullable=True),
        not_before=_moment(d, "not_before", nullable=True),
        meeting=_get(d, "meeting", int, default=0),
    )
    return entry


# ---- tasks and check-ins -------------------------------------------------------------------

def _attachments_to_doc(attachments: Iterable[Attachment]) -> list[dict[str, Any]]:
    """The kept file's hash, size and type, and why none was kept, only when there is one:
    a record written before files were kept stays byte for byte as it was."""
    docs: list[dict[str, Any]] = []
    for a in attachments:
        doc: dict[str, Any] = {"kind": a.kind, "ref": a.ref, "name": a.name}
        if a.sha256:
            doc["sha256"] = a.sha256
        if a.size:
            doc["size"] = a.size
        if a.type:
            doc["type"] = a.type
        if a.error:
            doc["error"] = a.error
        docs.append(doc)
    return docs


def _attachments_from_doc(items: list[Any]) -> tuple[Attachment, ...]:
    return tuple(Attachment(_get(a, "kind", str), _get(a, "ref", str),
                            _get(a, "name", str, default=""),
                            sha256=_get(a, "sha256", str, default=""),
                            size=_get(a, "size", int, default=0),
                            type=_get(a, "type", str, default=""),
                            error=_get(a, "error", str, default="")) for a in items)


def checkin_to_doc(c: CheckIn) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": c.id,
        "person": c.person,
        "at": c.at.isoformat(),
        "note": c.note,
        "channel": c.channel,
        "attachments": _attachments_to_doc(c.attachments),
        "undone_at": c.undone_at.isoformat() if c.undone_at else None,
    }
    if c.undone_by:
        doc["undone_by"] = c.undone_by
    if c.restored_at:
        doc["restored_at"] = c.restored_at.isoformat()
    if c.on_behalf_of:
        doc["on_behalf_of"] = c.on_behalf_of
    if c.meeting:
        doc["meeting"] = c.meeting
    return doc


def checkin_from_doc(task_key: str, d: dict[str, Any]) -> CheckIn:
    """A check-in as written: in line when the document has the writer's shape (as
    `_entry_of`), else through `_checkin_checked`."""
    if type(d) is dict:
        try:
            checkin_id, person, at, note = d["id"], d["person"], d["at"], d["note"]
            channel, attachments = d["channel"], d["attachments"]
        except KeyError:
            return _checkin_checked(task_key, d)
        undone_at, restored_at = d.get("undone_at"), d.get("restored_at")
        undone_by, on_behalf_of = d.get("undone_by", ""), d.get("on_behalf_of", "")
        meeting = d.get("meeting", 0)
        if (type(checkin_id) is str and type(person) is str and type(at) is str
                and type(note) is str and type(channel) is str and type(attachments) is list
                and (undone_at is None or type(undone_at) is str) and type(undone_by) is str
                and (restored_at is None or type(restored_at) is str)
                and type(on_behalf_of) is str and type(meeting) is int):
            try:
                moment = _parsed_moment(at)
                undone = None if undone_at is None else _parsed_moment(undone_at)
                restored = None if restored_at is None else _parsed_moment(restored_at)
            except ValueError:
                return _checkin_checked(task_key, d)
            if (moment.tzinfo is not None and (undone is None or undone.tzinfo is not None)
                    and (restored is None or restored.tzinfo is not None)):
                return made(CheckIn, (
                    checkin_id, task_key, sys.intern(person), moment, note, sys.intern(channel),
                    _attachments_from_doc(attachments) if attachments else (),
                    undone, undone_by, restored, on_behalf_of, meeting))
    return _checkin_checked(task_key, d)


def _checkin_checked(task_key: str, d: dict[str, Any]) -> CheckIn:
    at = _moment(d, "at")
    assert at is not None
    return CheckIn(
        id=_get(d, "id", str),
        task=task_key,
        person=sys.intern(_get(d, "person", str)),
        at=at,
        note=_get(d, "note", str),
        channel=sys.intern(_get(d, "channel", str)),
        attachments=_attachments_from_doc(_get(d, "attachments", list)),
        undone_at=_moment(d, "undone_at", nullable=True),
        undone_by=_get(d, "undone_by", str, default=""),
        restored_at=_moment(d, "restored_at", nullable=True),
        on_behalf_of=_get(d, "on_behalf_of", str, default=""),
        meeting=_get(d, "meeting", int, default=0),
    )


def task_to_doc(t: Task, seq: int) -> dict[str, Any]:
    return {
        "key": t.key,
        "number": t.number,
        "duty": t.duty,
        "owner": t.owner,
        "period": t.period,
        "due": t.due.isoformat(),
        "status": t.status.value,
        "note": t.note,
        "checkins": [checkin_to_doc(c) for c in t.checkins],
        "opened": t.opened.isoformat() if t.opened else None,
        "opened_by": t.opened_by,
        "excuses": [excuse_to_doc(e) for e in t.excuses],
        "title": t.title,
        "owner_name": t.owner_name,
        "moves": t.moves,
        "previous_due": t.previous_due.isoformat() if t.previous_due else None,
        "seq": seq,
    }


def task_from_doc(d: dict[str, Any]) -> tuple[Task, int]:
    """A task document's task and `seq`: in line when it has the writer's shape (as
    `_entry_of`; the first release's `excuse` always goes the long way), else through
    `_task_checked`, which names what is wrong."""
    if type(d) is dict and "excuse" not in d:
        try:
            key, number, duty, owner = d["key"], d["number"], d["duty"], d["owner"]
            period, due, status, checkins = d["period"], d["due"], d["status"], d["checkins"]
            note, seq = d["note"], d["seq"]
        except KeyError:
            return _task_checked(d)
        opened, previous_due = d.get("opened"), d.get("previous_due")
        excuses, opened_by = d.get("excuses", _NONE), d.get("opened_by", "")
        title, owner_name = d.get("title", ""), d.get("owner_name", "")
        moves = d.get("moves", 0)
        if (type(key) is str and type(number) is int and type(duty) is str
                and type(owner) is str and type(period) is str and type(due) is str
                and type(status) is str and type(checkins) is list and type(note) is str
                and type(seq) is int and (not opened or type(opened) is str)
                and (not previous_due or type(previous_due) is str)
                and type(excuses) is list and type(opened_by) is str and type(title) is str
                and type(owner_name) is str and type(moves) is int):
            try:
                state = _STATUS[status]
                day = _parsed_day(due)
                began = _parsed_moment(opened) if opened else None
                before = _parsed_day(previous_due) if previous_due else None
            except (KeyError, ValueError):
                return _task_checked(d)
            if began is None or began.tzinfo is not None:
                try:
                    return made(Task, (
                        key, number, sys.intern(duty), sys.intern(owner), sys.intern(period),
                        day, state,
                        tuple([checkin_from_doc(key, c) for c in checkins]) if checkins else (),
                        note, began, opened_by,
                        tuple(excuse_from_doc(e) for e in excuses) if excuses else (),
                        sys.intern(title), sys.intern(owner_name), moves, before)), seq
                except RecordInvalid:
                    pass  # named below, as the long way finds it first
    return _task_checked(d)


_STATUS = {status.value: status for status in Status}
_NONE: list[Any] = []  # a missing list of excuses (never changed)


def task_doc_reads_as(d: Any, task: Task, seq: int) -> bool:
    """Whether reading the document `d` (`task_from_doc`) certainly gives `task` and `seq`,
    found without making anything: `audit verify` asks it of every document of every task
    file. False when it does not, or may not (a document not of the writer's shape): read
    the document then. `tests/test_replay_fast.py` pins that True is never wrong."""
    if type(d) is not dict or "excuse" in d:
        return False
    try:
        number, moves, checkins = d["number"], d.get("moves", 0), d["checkins"]
        opened, previous_due = d.get("opened"), d.get("previous_due")
        excuses, key = d.get("excuses", _NONE), task.key
        if not (d["seq"] == seq and type(d["seq"]) is int and d["key"] == key
                and number == task.number and type(number) is int
                and d["duty"] == task.duty and d["owner"] == task.owner
                and d["period"] == task.period and d["status"] == task.status
                and d["note"] == task.note and d["due"] == task.due.isoformat()
                and d.get("opened_by", "") == task.opened_by
                and d.get("title", "") == task.title
                and d.get("owner_name", "") == task.owner_name
                and moves == task.moves and type(moves) is int
                and type(checkins) is list and len(checkins) == len(task.checkins)
                and type(excuses) is list):
            return False
        if not (not opened if task.opened is None
                else type(opened) is str and _parsed_moment(opened) == task.opened):
            return False
        if not (not previous_due if task.previous_due is None
                else previous_due == task.previous_due.isoformat()):
            return False
        if (excuses or task.excuses) and tuple(map(excuse_from_doc, excuses)) != task.excuses:
            return False
        for c_doc, c in zip(checkins, task.checkins, strict=True):
            if not _checkin_doc_reads_as(c_doc, key, c):
                return False
        return True
    except (KeyError, TypeError, ValueError, RecordInvalid):
        return False


def _checkin_doc_reads_as(d: Any, task_key: str, c: CheckIn) -> bool:
    """`task_doc_reads_as` for one check-in (`checkin_from_doc`)."""
    if type(d) is not dict:
        return False
    at, attachments, meeting = d["at"], d["attachments"], d.get("meeting", 0)
    undone_at, restored_at = d.get("undone_at"), d.get("restored_at")
    if not (c.task == task_key and d["id"] == c.id and d["person"] == c.person
            and d["note"] == c.note and d["channel"] == c.channel
            and type(at) is str and _parsed_moment(at) == c.at
            and d.get("undone_by", "") == c.undone_by
            and d.get("on_behalf_of", "") == c.on_behalf_of
            and meeting == c.meeting and type(meeting) is int and type(attachments) is list):
        return False
    if not (undone_at is None if c.undone_at is None
            else type(undone_at) is str and _parsed_moment(undone_at) == c.undone_at):
        return False
    if not (restored_at is None if c.restored_at is None
            else type(restored_at) is str and _parsed_moment(restored_at) == c.restored_at):
        return False
    return not (attachments or c.attachments) or _attachments_from_doc(
        attachments) == c.attachments


def _task_checked(d: dict[str, Any]) -> tuple[Task, int]:
    key = _get(d, "key", str)
    try:
        status = Status(_get(d, "status", str))
    except ValueError:
        raise RecordInvalid("字段 status 不是已知的任务状态") from None
    excuses = tuple(excuse_from_doc(e) for e in _get(d, "excuses", list, default=[]))
    legacy = _get(d, "excuse", dict, nullable=True, default=None)  # the first release's
    if legacy is not None and not excuses:
        excuses = (excuse_from_doc(legacy),)
    task = Task(
        key=key,
        number=_get(d, "number", int),
        duty=sys.intern(_get(d, "duty", str)),
        owner=sys.intern(_get(d, "owner", str)),
        period=sys.intern(_get(d, "period", str)),
        due=_day(d, "due"),
        status=status,
        checkins=tuple(checkin_from_doc(key, c) for c in _get(d, "checkins", list)),
        note=_get(d, "note", str),
        opened=_moment(d, "opened", nullable=True) if d.get("opened") else None,
        opened_by=_get(d, "opened_by", str, default=""),
        excuses=excuses,
        title=sys.intern(_get(d, "title", str, default="")),
        owner_name=sys.intern(_get(d, "owner_name", str, default="")),
        moves=_get(d, "moves", int, default=0),
        previous_due=_day(d, "previous_due") if d.get("previous_due") else None,
    )
    return task, _get(d, "seq", int)


def excuse_to_doc(e: Excuse) -> dict[str, Any]:
    doc: dict[str, Any] = {"person": e.person, "at": e.at.isoformat(), "reason": e.reason}
    if e.withdrawn_at is not None:
        doc |= {"withdrawn_at": e.withdrawn_at.isoformat(), "withdrawn_by": e.withdrawn_by,
                "withdrawn_reason": e.withdrawn_reason}
    return doc


def excuse_from_doc(d: dict[str, Any]) -> Excuse:
    at = _moment(d, "at")
    assert at is not None
    return Excuse(_get(d, "person", str), at, _get(d, "reason", str),
                  _moment(d, "withdrawn_at", nullable=True),
                  _get(d, "withdrawn_by", str, default=""),
                  _get(d, "withdrawn_reason", str, default=""))


# ---- what each record changes --------------------------------------------------------------

def _opener(spec: dict[str, Any], at: datetime) -> Effect:
    """The task a `tasks_opened` record opens: in line when the spec has the writer's shape
    (every task of three years is opened by one, and `audit verify` replays them all), else
    through `_opener_checked`, which names what is wrong."""
    if type(spec) is dict:
        try:
            key, number, duty, owner = spec["key"], spec["number"], spec["duty"], spec["owner"]
            period, due = spec["period"], spec["due"]
        except KeyError:
            return _opener_checked(spec, at)
        note, opened_by = spec.get("note", ""), spec.get("opened_by", "")
        title, owner_name = spec.get("title", ""), spec.get("owner_name", "")
        if (type(key) is str and type(number) is int and type(duty) is str
                and type(owner) is str and type(period) is str and type(due) is str
                and type(note) is str and type(opened_by) is str and type(title) is str
                and type(owner_name) is str):
            try:
                day = _parsed_day(due)
            except ValueError:
                return _opener_checked(spec, at)
            task = made(Task, (key, number, sys.intern(duty), sys.intern(owner),
                               sys.intern(period), day, Status.OPEN, (), note, at, opened_by,
                               (), sys.intern(title), sys.intern(owner_name), 0, None))
            return lambda _: task
    return _opener_checked(spec, at)


def _opener_checked(spec: dict[str, Any], at: datetime) -> Effect:
    task = Task(key=_get(spec, "key", str), number=_get(spec, "number", int),
                duty=_get(spec, "duty", str), owner=_get(spec, "owner", str),
                period=_get(spec, "period", str), due=_day(spec, "due"),
                note=_get(spec, "note", str, default=""), opened=at,
                opened_by=_get(spec, "opened_by", str, default=""),
                title=_get(spec, "title", str, default=""),
                owner_name=_get(spec, "owner_name", str, default=""))
    return lambda _: task


def _meeting_task_effects(record: LedgerRecord) -> list[tuple[str, Effect]]:
    """A meeting's record checks in the tasks it fulfils (dated when it was held), restates
    those check-ins when it corrects an earlier record, opens the absentees' 补学 and
    excuses the 补学 of those it no longer counts absent."""
    data, at, actor = record.data, record.moment, record.actor
    found: list[tuple[str, Effect]] = []

    def checked_in(key: str, doc: dict[str, Any]) -> Effect:
        return lambda t: _changed(t, key, lambda t: t.with_checkin(checkin_from_doc(key, doc)))

    def restated(key: str, doc: dict[str, Any]) -> Effect:
        return lambda t: _changed(
            t, key, lambda t: t.with_checkin_replaced(checkin_from_doc(key, doc)))

    def excused(key: str, reason: str) -> Effect:
        return lambda t: _changed(t, key, lambda t: t.with_excuse(Excuse(actor, at, reason)))

    for item in _get(data, "checkins", list):
        key = _get(item, "task", str)
        found.append((key, checked_in(key, _get(item, "checkin", dict))))
    for item in _get(data, "corrected", list, default=[]):
        key = _get(item, "task", str)
        found.append((key, restated(key, _get(item, "checkin", dict))))
    for spec in _get(data, "makeups", list):
        found.append((_get(spec, "key", str), _opener(spec, at)))
    for item in _get(data, "excused", list, default=[]):
        key = _get(item, "task", str)
        found.append((key, excused(key, _get(item, "reason", str))))
    return found


def _require(task: Task | None, key: str) -> Task:
    if task is None:
        raise RecordInvalid(f"引用了不存在的任务 {key}")
    return task


def _changed(task: Task | None, key: str, change: Callable[[Task], Task]) -> Task:
    """A task changed by a record, or `RecordInvalid` if the record does not fit it."""
    found = _require(task, key)
    try:
        return change(found)
    except KeyError:
        raise RecordInvalid(f"引用了任务 {key} 中不存在的打卡") from None
    except ValueError:
        raise RecordInvalid(f"与任务 {key} 当时的状态不符") from None


# The fields each record type must carry, checked for every record at start-up (cheaply:
# most are already in the files and their effects are never built).
_SHAPE: dict[str, tuple[tuple[str, type], ...]] = {  # keyed by RecordType
    RecordType.TASKS_OPENED: (("tasks", list),),
    RecordType.TASK_DUE_CHANGED: (("task", str), ("due", str)),
    RecordType.CHECKIN: (("task", str), ("checkin", dict)),
    RecordType.CHECKIN_UNDONE: (("task", str), ("checkin", str)),
    RecordType.CHECKIN_RESTORED: (("task", str), ("checkin", str)),
    RecordType.CHECKIN_ATTACHED: (("task", str), ("checkin", str), ("attachments", list)),
    RecordType.TASK_EXCUSED: (("task", str), ("reason", str)),
    RecordType.TASK_UNEXCUSED: (("task", str),),
    RecordType.DELIVERIES_ADDED: (("entries", list),),
    RecordType.DELIVERY: (("keys", list), ("state", str)),
    RecordType.REMINDERS_SKIPPED: (("skipped", list),),
    RecordType.ESCALATION: (("task", str),),
    RecordType.ESCALATIONS: (("items", list),),
    RecordType.ACCOUNT_BOUND: (("channel", str), ("account", str), ("person", str),
                               ("code", str)),
    RecordType.BIND_REFUSED: (("channel", str), ("account", str)),
    RecordType.DELEGATED: (("person", str), ("delegate", str)),
    RecordType.DELEGATION_ENDED: (("person", str),),
    RecordType.MEETING_ANNOUNCED: (("meeting", dict),),
    RecordType.MEETING_MOVED: (("meeting", int), ("start", str)),
    RecordType.MEETING_CANCELLED: (("meeting", int),),
    RecordType.MEETING_LEAVE: (("meeting", int), ("person", str), ("reason", str)),
    RecordType.MEETING_JOINED: (("meeting", int), ("person", str)),
    RecordType.MEETING_RECORDED: (("meeting", int), ("record", dict), ("checkins", list),
                                  ("makeups", list)),
    RecordType.MEETING_ATTACHED: (("meeting", int), ("attachments", list)),
    RecordType.MEETING_SCHEDULED: (("meeting", int), ("schedule", str)),
}


def check(record: LedgerRecord) -> None:
    """`RecordInvalid` unless the record carries the fields its type needs."""
    for name, kind in _SHAPE.get(record.type, ()):
        _get(record.data, name, kind)
    if record.type == RecordType.CHECKIN:
        _get(record.data["checkin"], "id", str)
    elif record.type == RecordType.ESCALATIONS:
        for item in record.data["items"]:
            _get(item, "task", str)
    elif record.type == RecordType.REMINDERS_SKIPPED:
        for group in record.data["skipped"]:
            if not (type(group) is list and len(group) in (3, 4) and type(group[0]) is str
                    and type(group[1]) is list and type(group[2]) is list
                    and (len(group) == 3 or type(group[3]) is int)):
                raise RecordInvalid("字段 skipped 的格式不对")


_ABOUT_ONE_TASK = frozenset({RecordType.TASK_DUE_CHANGED, RecordType.CHECKIN,
                             RecordType.CHECKIN_UNDONE, RecordType.CHECKIN_RESTORED,
                             RecordType.CHECKIN_ATTACHED, RecordType.TASK_EXCUSED,
                             RecordType.TASK_UNEXCUSED})


def touches(record: LedgerRecord) -> list[tuple[str, str]]:
    """The documents a record changes, as (collection, key), cheaply — at start-up most
    records are already in the files, and their effects need not be built."""
    data = record.data
    if record.type == RecordType.TASKS_OPENED:
        return [(TASKS, _get(spec, "key", str)) for spec in _get(data, "tasks", list)]
    if record.type in _ABOUT_ONE_TASK:
        return [(TASKS, _get(data, "task", str))]
    if record.type == RecordType.DELIVERIES_ADDED:
        return [(OUTBOX, outbox_key(doc["notice"], doc["channel"]))
                for doc in _get(data, "entries", list)]
    if record.type == RecordType.DELIVERY:
        return [(OUTBOX, key) for key in _get(data, "keys", list)]
    if record.type == RecordType.MEETING_RECORDED:
        return [(TASKS, _get(item, "task", str)) for name in ("checkins", "corrected", "excused")
                for item in _get(data, name, list, default=[])] + [
            (TASKS, _get(spec, "key", str)) for spec in _get(data, "makeups", list)]
    return []


def effects(record: LedgerRecord,
            wanted: Callable[[str], bool] | None = None) -> list[tuple[str, str, Effect]]:
    """The documents a record changes, as (collection, key, change). With `wanted` (`audit
    verify` in halves), only the documents whose key it accepts: a record about one task
    that is not wanted is read no further, and a task that is not wanted is not made."""
    if record.type in _ABOUT_OUTBOX:
        return [(OUTBOX, k, e) for k, e in _outbox_effects(record, wanted)]
    return [(TASKS, k, e) for k, e in _task_effects(record, wanted)]


_ABOUT_OUTBOX = frozenset({RecordType.DELIVERIES_ADDED, RecordType.DELIVERY})


def _outbox_effects(record: LedgerRecord,
                    wanted: Callable[[str], bool] | None) -> list[tuple[str, Effect]]:
    data = record.data
    if record.type == RecordType.DELIVERIES_ADDED:
        def adder(doc: dict[str, Any]) -> Effect:
            entry = _entry_of(doc)  # as written, its `seq` aside
            return lambda _: entry
        keyed = ((outbox_key(doc["notice"], doc["channel"]), doc)
                 for doc in _get(data, "entries", list))
        return [(key, adder(doc)) for key, doc in keyed if wanted is None or wanted(key)]
    if record.type == RecordType.DELIVERY:
        keys = _get(data, "keys", list)
        if wanted is not None:
            keys = [key for key in keys if wanted(key)]
            if not keys:
                return []
        state = _DELIVERY.get(_get(data, "state", str))
        if state is None:
            raise RecordInvalid("字段 state 不是已知的发送状态")
        at, not_before = record.moment, _when(data.get("not_before"))
        error, attempt = data.get("error", ""), state is Delivery.SENDING

        def move(e: OutboxEntry | None) -> OutboxEntry:
            if e is None:
                raise RecordInvalid("引用了不存在的提醒")
            return e.moved(state, at, error, not_before, attempt)
        return [(key, move) for key in keys]
    return []


def _task_effects(record: LedgerRecord,
                  wanted: Callable[[str], bool] | None) -> list[tuple[str, Effect]]:
    data, at, actor = record.data, record.moment, record.actor
    if record.type == RecordType.TASKS_OPENED:
        return [(spec["key"], _opener(spec, at)) for spec in _get(data, "tasks", list)
                if wanted is None or wanted(spec["key"])]
    if record.type == RecordType.MEETING_RECORDED:
        found = _meeting_task_effects(record)
        return found if wanted is None else [(k, e) for k, e in found if wanted(k)]
    key = _get(data, "task", str) if record.type in _ABOUT_ONE_TASK else ""
    if wanted is not None and key and not wanted(key):
        return []
    if record.type == RecordType.TASK_DUE_CHANGED:
        due = _day(data, "due")
        return [(key, lambda t: _changed(t, key, lambda t: t.with_due(due)))]
    if record.type == RecordType.CHECKIN:  # parsed only when applied: most records are in the files
        def checked_in(task: Task | None) -> Task:  # the commonest record: no `_changed`,
            return _require(task, key).with_checkin(  # as it raises nothing to translate
                checkin_from_doc(key, _get(data, "checkin", dict)))
        return [(key, checked_in)]
    if record.type == RecordType.CHECKIN_UNDONE:
        checkin_id = _get(data, "checkin", str)
        return [(key, lambda t: _changed(t, key, lambda t: t.with_undo(checkin_id, at, actor)))]
    if record.type == RecordType.CHECKIN_RESTORED:
        checkin_id = _get(data, "checkin", str)
        return [(key, lambda t: _changed(t, key, lambda t: t.with_restore(checkin_id, at)))]
    if record.type == RecordType.CHECKIN_ATTACHED:
        checkin_id = _get(data, "checkin", str)
        extra = _attachments_from_doc(_get(data, "attachments", list))
        return [(key, lambda t: _changed(t, key,
                                         lambda t: t.with_attachments(checkin_id, extra)))]
    if record.type == RecordType.TASK_EXCUSED:
        excuse = Excuse(actor, at, _get(data, "reason", str))
        return [(key, lambda t: _changed(t, key, lambda t: t.with_excuse(excuse)))]
    if record.type == RecordType.TASK_UNEXCUSED:
        reason = _get(data, "reason", str, default="")
        return [(key, lambda t: _changed(
            t, key, lambda t: t.with_excuse_withdrawn(actor, at, reason)))]
    return []  # records that change no task (e.g. messages sent) only live in the ledger
