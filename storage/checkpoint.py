"""A checkpoint of the ledger, so that opening the store reads only the records after it.

The month files hold what every record did to tasks and outbox entries. What lives in the
ledger alone — account bindings, refused codes, delegations, escalations, meetings, reminders
skipped in bulk, and which inbound messages were already acted on — is what start-up replays
old records for. A
checkpoint keeps, as of one record: where that record's line is and its hash
(`ledger.Mark`), the newest time so far, the records of those kinds as written, the message
sources, and how many documents each month file held and the newest record they reflect.
It also keeps what the ledger does not say: the day the bot had planned tasks through,
under which plan, so start-up plans only the days since, and what working out that plan
found that is slow to find again (`Planned.memo`: the statutory holidays of a year the
calendar package does not cover, and the open tasks the reminder passes found nothing more
can come of).

It is written only when every month file has caught up with the ledger, so it never sits
later than a record the files have not folded; atomically, after the ledger and the files: a
crash leaves the old checkpoint or the new one, and each is true of the ledger. Opening
trusts it only if the ledger still holds that very record, intact, and every month file it
names holds at least what it did; otherwise (or if it cannot be read) the whole chain is read
as before. Opening does not re-verify the records before it; `audit verify` checks the whole
chain from the first record, and the checkpoint against it (`Expected`). A backup leaves it
out: a restored store reads its chain whole once, and writes a new one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

from storage import meeting_records
from storage.atomic import atomic_write
from storage.ledger import LedgerRecord, Mark
from storage.records import MEETING_RECORDS, RecordType
from storage.repository import Outcome

log = logging.getLogger(__name__)

FILE = "checkpoint.json"
VERSION = 1
EVERY = 5000  # records after the last checkpoint that make a fold write a new one
# The records whose effect lives in the ledger alone (not in the month files).
KEPT = frozenset({RecordType.ESCALATION, RecordType.ESCALATIONS, RecordType.ACCOUNT_BOUND,
                  RecordType.BIND_REFUSED, RecordType.DELEGATED, RecordType.DELEGATION_ENDED,
                  RecordType.REMINDERS_SKIPPED, *MEETING_RECORDS})
FileMarks = dict[str, tuple[int, int]]  # month file -> (documents, newest record reflected)


class Planned(NamedTuple):
    """How far tasks are planned, under which plan (a fingerprint of what planning reads),
    and what the planner asks to have back at the next start under the same plan (plain
    JSON; the store does not read it)."""

    plan: str
    through: date
    memo: dict[str, Any] | None = None


@dataclass(frozen=True)
class Checkpoint:
    mark: Mark
    newest: datetime  # the latest time of any record up to it
    records: list[dict[str, Any]]  # `KEPT` records up to it, as `body` gives them
    sources: dict[str, Outcome]  # inbound message source -> what it did
    files: FileMarks
    planned: Planned | None = None

    def fits(self, files: Mapping[str, tuple[int, int]]) -> bool:
        """Whether every month file it names still holds at least what it did (a file
        deleted or put back to an older copy since: not)."""
        for name, (docs, seq) in self.files.items():
            found = files.get(name)
            if found is None or found[0] < docs or found[1] < seq:
                return False
        return True

    def replayed(self) -> list[LedgerRecord]:
        """The kept records, to hand to the store's replay as they were when read."""
        return [LedgerRecord(b["seq"], b["at"], b["type"], b["actor"], b["data"], "", "",
                             datetime.fromisoformat(b["at"])) for b in self.records]


def body(record: LedgerRecord) -> dict[str, Any]:
    """What a checkpoint keeps of a `KEPT` record (its place in the chain is checked by
    the audit, not kept)."""
    return {"seq": record.seq, "at": record.at, "type": str(record.type),
            "actor": record.actor, "data": record.data}


def source_outcome(record: LedgerRecord) -> Outcome | None:
    """What the inbound message that caused `record` did, for answering a redelivery; None
    for a record no message caused, or one that says nothing a redelivery needs."""
    source = record.data.get("source")
    if not source:
        return None
    data, type_ = record.data, record.type
    if type_ == RecordType.CHECKIN:
        return Outcome(type_, data["task"], data["checkin"]["id"])
    if type_ in (RecordType.CHECKIN_UNDONE, RecordType.CHECKIN_RESTORED):
        return Outcome(type_, data["task"], data["checkin"])
    if type_ in (RecordType.TASK_EXCUSED, RecordType.TASK_UNEXCUSED,
                 RecordType.CHECKIN_ATTACHED):
        return Outcome(type_, data["task"], data.get("checkin", ""))
    if type_ in (RecordType.BIND_REFUSED, RecordType.DELEGATED, RecordType.DELEGATION_ENDED):
        return Outcome(type_, "", "")
    if type_ == RecordType.TASKS_OPENED:
        return Outcome(type_, data["tasks"][0]["key"], "")
    if type_ in MEETING_RECORDS:
        return Outcome(type_, f"meeting:{meeting_records.number_of(record)}", "")
    return None


def encode(checkpoint: Checkpoint) -> bytes:
    m = checkpoint.mark
    doc = {"version": VERSION,
           "mark": {"seq": m.seq, "hash": m.hash, "start": m.start, "end": m.end,
                    "line": m.line},
           "newest": checkpoint.newest.isoformat(),
           "files": {name: list(v) for name, v in sorted(checkpoint.files.items())},
           "records": checkpoint.records,
           "sources": {s: [o.type, o.task, o.checkin] for s, o in checkpoint.sources.items()},
           "planned": _planned_doc(checkpoint.planned)}
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def _planned_doc(planned: Planned | None) -> list[Any] | None:
    if planned is None:
        return None
    head = [planned.plan, planned.through.isoformat()]
    return head if planned.memo is None else [*head, planned.memo]


def write(folder: Path, checkpoint: Checkpoint) -> None:
    """Replace the checkpoint atomically. Its rename need not be synced: a lost one leaves
    the previous checkpoint, which is as true (only older)."""
    atomic_write(folder / FILE, encode(checkpoint), durable_name=False)


def read(folder: Path) -> Checkpoint | None:
    """The store's checkpoint, or None if there is none or it cannot be read (then opening
    reads the whole chain, as it would without one; the next fold writes a new one)."""
    path = folder / FILE
    try:
        doc = json.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        log.warning("ignoring %s (%s): reading the whole ledger instead", path, e)
        return None
    try:
        return _decoded(doc)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
        log.warning("ignoring %s (not a checkpoint this release reads: %r): "
                    "reading the whole ledger instead", path, e)
        return None


def _decoded(doc: dict[str, Any]) -> Checkpoint:
    if doc["version"] != VERSION:
        raise ValueError(f"version {doc['version']}")
    m = doc["mark"]
    mark = Mark(_int(m["seq"]), _str(m["hash"]), _int(m["start"]), _int(m["end"]),
                _int(m["line"]))
    newest = datetime.fromisoformat(_str(doc["newest"]))
    if newest.tzinfo is None:
        raise ValueError("newest has no offset")
    records = doc["records"]
    for b in records:
        if not (type(b["seq"]) is int and isinstance(b["at"], str)
                and isinstance(b["type"], str) and isinstance(b["actor"], str)
                and isinstance(b["data"], dict)):
            raise ValueError(f"record {b!r}")
    sources = {_str(s): Outcome(_str(t), _str(task), _str(c))
               for s, (t, task, c) in doc["sources"].items()}
    files = {_str(name): (_int(docs), _int(seq)) for name, (docs, seq) in doc["files"].items()}
    return Checkpoint(mark, newest, records, sources, files, _planned(doc.get("planned")))


def _planned(found: Any) -> Planned | None:
    """`planned` as written: [plan, through] or, with a memo, [plan, through, {…}]."""
    if not found:
        return None
    if not isinstance(found, list) or len(found) not in (2, 3):
        raise ValueError(f"planned {found!r}")
    memo = found[2] if len(found) == 3 else None
    if memo is not None and not isinstance(memo, dict):
        raise ValueError(f"planned memo {memo!r}")
    return Planned(_str(found[0]), date.fromisoformat(_str(found[1])), memo)


def _int(value: Any) -> int:
    if type(value) is not int:
        raise ValueError(f"{value!r} is not an integer")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not text")
    return value


class Expected:
    """What a checkpoint at some record should say, built by reading the chain from its
    first record (the audit): `note` each record in order, then `differs` at that record."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.sources: dict[str, Outcome] = {}

    def note(self, record: LedgerRecord) -> None:
        if record.type in KEPT:
            self.records.append(body(record))
        source = record.data.get("source")
        if source and source not in self.sources:
            outcome = source_outcome(record)
            if outcome is not None:
                self.sources[source] = outcome

    def differs(self, checkpoint: Checkpoint, mark: Mark | None,
                newest: datetime | None) -> str | None:
        """What in `checkpoint` disagrees with the chain read up to the record its mark
        names (`mark`: where the reader found that record; `newest`: the latest time up to
        it), in Chinese; None if nothing does."""
        # Not `end`: a last line that has since lost its newline is still the record.
        if mark is None or replace(mark, end=0) != replace(checkpoint.mark, end=0):
            return f"记下的记录 {checkpoint.mark.seq} 的位置或哈希值与台账不符"
        if newest != checkpoint.newest:
            return "记下的最新时间与台账不符"
        if checkpoint.records != self.records:
            return "记下的绑定、委托、督办或会议记录与台账不符"
        if checkpoint.sources != self.sources:
            return "记下的已处理消息与台账不符"
        return None
