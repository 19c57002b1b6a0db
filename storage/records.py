"""How tasks and outbox entries look on disk, and how each ledger record changes them.

The same `effects` drive a live write and the replay of the ledger at start-up, so a
record's effect is the same whether it was applied before a crash or after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from schedules.tasks import Attachment, CheckIn, Excuse, Status, Task
from storage.ledger import LedgerRecord
from storage.repository import Delivery, OutboxEntry

TASKS_OPENED = "tasks-opened"
TASK_DUE_CHANGED = "task-due-changed"
CHECKIN = "checkin"
CHECKIN_UNDONE = "checkin-undone"
CHECKIN_ATTACHED = "checkin-attached"  # a photo or file sent after a check-in joins it
TASK_EXCUSED = "task-excused"  # an authorised person excused a task, with the reason
DELIVERIES_ADDED = "deliveries-added"
DELIVERY = "delivery"  # a delivery changed state
ESCALATION = "escalation"  # an accountability item: who was told that a task is overdue
ACCOUNT_BOUND = "account-bound"  # a chat account (Telegram) linked to a person by a code

TASKS = "tasks"
OUTBOX = "outbox"

Effect = Callable[[Any], Any]  # old document (or None) -> new one


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def entry_to_doc(e: OutboxEntry, seq: int) -> dict[str, Any]:
    return {
        "notice": e.notice, "channel": e.channel, "subject": e.subject, "stage": e.stage,
        "recipient": e.recipient, "due_at": e.due_at.isoformat(), "task": e.task,
        "group": e.group, "state": e.state.value, "attempts": e.attempts, "error": e.error,
        "updated": e.updated.isoformat() if e.updated else None,
        "not_before": e.not_before.isoformat() if e.not_before else None,
        "seq": seq,
    }


def entry_from_doc(d: dict[str, Any]) -> tuple[OutboxEntry, int]:
    entry = OutboxEntry(
        notice=d["notice"], channel=d["channel"], subject=d["subject"], stage=d["stage"],
        recipient=d["recipient"], due_at=datetime.fromisoformat(d["due_at"]), task=d["task"],
        group=d["group"], state=Delivery(d["state"]), attempts=d["attempts"],
        error=d["error"], updated=_when(d["updated"]), not_before=_when(d["not_before"]),
    )
    return entry, d["seq"]


def checkin_to_doc(c: CheckIn) -> dict[str, Any]:
    return {
        "id": c.id,
        "person": c.person,
        "at": c.at.isoformat(),
        "note": c.note,
        "channel": c.channel,
        "attachments": [{"kind": a.kind, "ref": a.ref, "name": a.name} for a in c.attachments],
        "undone_at": c.undone_at.isoformat() if c.undone_at else None,
    }


def checkin_from_doc(task_key: str, d: dict[str, Any]) -> CheckIn:
    return CheckIn(
        id=d["id"],
        task=task_key,
        person=d["person"],
        at=datetime.fromisoformat(d["at"]),
        note=d["note"],
        channel=d["channel"],
        attachments=tuple(Attachment(a["kind"], a["ref"], a.get("name", ""))
                          for a in d["attachments"]),
        undone_at=datetime.fromisoformat(d["undone_at"]) if d["undone_at"] else None,
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
        "excuse": excuse_to_doc(t.excuse) if t.excuse else None,
        "seq": seq,
    }


def task_from_doc(d: dict[str, Any]) -> tuple[Task, int]:
    task = Task(
        key=d["key"],
        number=d["number"],
        duty=d["duty"],
        owner=d["owner"],
        period=d["period"],
        due=date.fromisoformat(d["due"]),
        status=Status(d["status"]),
        checkins=tuple(checkin_from_doc(d["key"], c) for c in d["checkins"]),
        note=d["note"],
        opened=datetime.fromisoformat(d["opened"]) if d.get("opened") else None,
        opened_by=d.get("opened_by", ""),
        excuse=excuse_from_doc(d["excuse"]) if d.get("excuse") else None,
    )
    return task, d["seq"]


def excuse_to_doc(e: Excuse) -> dict[str, Any]:
    return {"person": e.person, "at": e.at.isoformat(), "reason": e.reason}


def excuse_from_doc(d: dict[str, Any]) -> Excuse:
    return Excuse(d["person"], datetime.fromisoformat(d["at"]), d["reason"])


def _require(task: Task | None, key: str) -> Task:
    if task is None:
        raise KeyError(f"ledger refers to unknown task {key}")
    return task


def touches(record: LedgerRecord) -> list[tuple[str, str]]:
    """The documents a record changes, as (collection, key), cheaply — at start-up most
    records are already in the files, and their effects need not be built."""
    data = record.data
    if record.type == TASKS_OPENED:
        return [(TASKS, spec["key"]) for spec in data["tasks"]]
    if record.type in (TASK_DUE_CHANGED, CHECKIN, CHECKIN_UNDONE, CHECKIN_ATTACHED,
                       TASK_EXCUSED):
        return [(TASKS, data["task"])]
    if record.type == DELIVERIES_ADDED:
        return [(OUTBOX, f"{doc['notice']}|{doc['channel']}") for doc in data["entries"]]
    if record.type == DELIVERY:
        return [(OUTBOX, key) for key in data["keys"]]
    return []


def effects(record: LedgerRecord) -> list[tuple[str, str, Effect]]:
    """The documents a record changes, as (collection, key, change)."""
    return [(OUTBOX, k, e) for k, e in _outbox_effects(record)] + [
        (TASKS, k, e) for k, e in _task_effects(record)]


def _outbox_effects(record: LedgerRecord) -> list[tuple[str, Effect]]:
    data = record.data
    if record.type == DELIVERIES_ADDED:
        def adder(doc: dict[str, Any]) -> Effect:
            return lambda _: entry_from_doc({**doc, "seq": 0})[0]
        return [(f"{doc['notice']}|{doc['channel']}", adder(doc)) for doc in data["entries"]]
    if record.type == DELIVERY:
        state, at = Delivery(data["state"]), datetime.fromisoformat(record.at)

        def move(e: OutboxEntry | None) -> OutboxEntry:
            if e is None:
                raise KeyError(f"ledger record {record.seq} refers to an unknown delivery")
            return e.moved(state, at, data.get("error", ""), _when(data.get("not_before")),
                           attempt=state is Delivery.SENDING)
        return [(key, move) for key in data["keys"]]
    return []


def _task_effects(record: LedgerRecord) -> list[tuple[str, Effect]]:
    data = record.data
    if record.type == TASKS_OPENED:
        opened = datetime.fromisoformat(record.at)

        def opener(spec: dict[str, Any]) -> Effect:
            def open_task(_: Task | None) -> Task:
                return Task(key=spec["key"], number=spec["number"], duty=spec["duty"],
                            owner=spec["owner"], period=spec["period"],
                            due=date.fromisoformat(spec["due"]), note=spec.get("note", ""),
                            opened=opened, opened_by=spec.get("opened_by", ""))
            return open_task
        return [(spec["key"], opener(spec)) for spec in data["tasks"]]
    if record.type == TASK_DUE_CHANGED:
        key, due = data["task"], date.fromisoformat(data["due"])

        def change_due(t: Task | None) -> Task:
            return replace(_require(t, key), due=due)
        return [(key, change_due)]
    if record.type == CHECKIN:  # parsed only when applied: most records are in the files
        key = data["task"]
        return [(key, lambda t: _require(t, key).with_checkin(
            checkin_from_doc(key, data["checkin"])))]
    if record.type == CHECKIN_UNDONE:
        key, checkin_id = data["task"], data["checkin"]
        at = datetime.fromisoformat(record.at)
        return [(key, lambda t: _require(t, key).with_undo(checkin_id, at))]
    if record.type == CHECKIN_ATTACHED:
        key, checkin_id = data["task"], data["checkin"]
        return [(key, lambda t: _require(t, key).with_attachments(checkin_id, tuple(
            Attachment(a["kind"], a["ref"], a.get("name", "")) for a in data["attachments"])))]
    if record.type == TASK_EXCUSED:
        key = data["task"]
        excuse = Excuse(record.actor, datetime.fromisoformat(record.at), data["reason"])
        return [(key, lambda t: _require(t, key).with_excuse(excuse))]
    return []  # records that change no task (e.g. messages sent) only live in the ledger
