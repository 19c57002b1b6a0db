"""Meetings in the ledger: how a meeting and its record (纪实) are written in a ledger
record, and how each meeting record changes a meeting.

Meetings live in the ledger alone: the store rebuilds them from it at start-up (a few
thousand small records for years of branch meetings), so there is no meeting file to fall
behind or be edited. The same `apply` serves the store and `dutybot audit verify`.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from schedules.meetings import Absence, Leave, Meeting, MeetingRecord
from storage.ledger import LedgerRecord, RecordInvalid
from storage.records import (
    RecordType,
    _attachments_from_doc,
    _attachments_to_doc,
    _get,
    _moment,
)


def _texts(d: Any, name: str) -> tuple[str, ...]:
    """A list of ids (or names): one shared copy of each, as they repeat in every meeting."""
    items = _get(d, name, list)
    if not all(isinstance(x, str) for x in items):
        raise RecordInvalid(f"字段 {name} 应为文字列表")
    return tuple(sys.intern(x) for x in items)


def _id(d: Any, name: str) -> str:
    return sys.intern(_get(d, name, str))


def _at(d: Any, name: str) -> datetime:
    value = _moment(d, name)
    assert value is not None
    return value


def meeting_to_doc(m: Meeting) -> dict[str, Any]:
    """What an announcement records: the meeting as announced."""
    return {"number": m.number, "unit": m.unit, "duty": m.duty, "tasks": list(m.tasks),
            "organiser": m.organiser, "start": m.start.isoformat(), "place": m.place,
            "topic": m.topic, "invitees": list(m.invitees), "also": list(m.also)}


def meeting_from_doc(d: Any, announced_at: datetime) -> Meeting:
    return Meeting(number=_get(d, "number", int), unit=_id(d, "unit"),
                   duty=_id(d, "duty"), tasks=_texts(d, "tasks"),
                   organiser=_id(d, "organiser"), start=_at(d, "start"),
                   place=_get(d, "place", str), topic=_get(d, "topic", str),
                   invitees=_texts(d, "invitees"), also=_texts(d, "also"),
                   announced_at=announced_at)


def record_to_doc(r: MeetingRecord) -> dict[str, Any]:
    return {"by": r.by, "held_at": r.held_at.isoformat(), "place": r.place, "chair": r.chair,
            "recorder": r.recorder, "present": list(r.present),
            "absent": [{"person": a.person, "reason": a.reason} for a in r.absent],
            "also": list(r.also), "topics": r.topics, "decisions": r.decisions,
            "channel": r.channel, "attachments": _attachments_to_doc(r.attachments)}


def record_from_doc(d: Any, at: datetime) -> MeetingRecord:
    absent = tuple(Absence(_id(a, "person"), _get(a, "reason", str))
                   for a in _get(d, "absent", list))
    return MeetingRecord(by=_id(d, "by"), at=at, held_at=_at(d, "held_at"),
                         place=_get(d, "place", str), chair=_get(d, "chair", str),
                         recorder=_get(d, "recorder", str), present=_texts(d, "present"),
                         absent=absent, also=_texts(d, "also"), topics=_get(d, "topics", str),
                         decisions=_get(d, "decisions", str),
                         channel=sys.intern(_get(d, "channel", str, default="")),
                         attachments=_attachments_from_doc(
                             _get(d, "attachments", list, default=[])))


def number_of(record: LedgerRecord) -> int:
    """The meeting a meeting record is about."""
    if record.type == RecordType.MEETING_ANNOUNCED:
        return int(_get(_get(record.data, "meeting", dict), "number", int))
    return int(_get(record.data, "meeting", int))


def apply(record: LedgerRecord, meeting: Meeting | None) -> Meeting:
    """The meeting after `record` (one of `records.MEETING_RECORDS`); `RecordInvalid` when
    the record does not fit the meeting as it stands."""
    data, at = record.data, record.moment
    if record.type == RecordType.MEETING_ANNOUNCED:
        if meeting is not None:
            raise RecordInvalid(f"会议 {meeting.number} 已经登记过")
        return meeting_from_doc(_get(data, "meeting", dict), at)
    if meeting is None:
        raise RecordInvalid(f"引用了不存在的会议 {_get(data, 'meeting', int)}")
    if record.type == RecordType.MEETING_MOVED:
        return meeting.moved(_at(data, "start"), at)
    if record.type == RecordType.MEETING_CANCELLED:
        return meeting.cancelled(_get(data, "reason", str, default=""), at)
    if record.type == RecordType.MEETING_LEAVE:
        return meeting.with_leave(Leave(_id(data, "person"), at,
                                        _get(data, "reason", str)))
    if record.type == RecordType.MEETING_JOINED:
        return meeting.with_joined(_get(data, "person", str), at)
    if record.type == RecordType.MEETING_RECORDED:
        makeups = [_get(spec, "key", str) for spec in _get(data, "makeups", list)]
        return meeting.with_record(record_from_doc(_get(data, "record", dict), at), makeups)
    if record.type == RecordType.MEETING_ATTACHED:
        try:
            return meeting.with_attachments(
                _attachments_from_doc(_get(data, "attachments", list)))
        except ValueError:
            raise RecordInvalid(f"会议 {meeting.number} 尚无纪实，无法附加文件") from None
    if record.type == RecordType.MEETING_SCHEDULED:
        # The first records carried the id alone: made for the meeting as it stood then.
        return meeting.with_schedule(_get(data, "schedule", str),
                                     _get(data, "moves", int, default=meeting.moves),
                                     _get(data, "removed", bool, default=False),
                                     _get(data, "error", str, default=""))
    raise RecordInvalid(f"不是会议记录：{record.type}")
