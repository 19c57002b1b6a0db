"""How tasks look on disk, and how each ledger record changes them.

The same `effects` drive a live write and the replay of the ledger at start-up, so a
record's effect is the same whether it was applied before a crash or after.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from typing import Any

from schedules.tasks import Attachment, CheckIn, Status, Task
from storage.ledger import LedgerRecord

TASKS_OPENED = "tasks-opened"
TASK_DUE_CHANGED = "task-due-changed"
CHECKIN = "checkin"
CHECKIN_UNDONE = "checkin-undone"

Effect = Callable[[Task | None], Task]


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
    )
    return task, d["seq"]


def _require(task: Task | None, key: str) -> Task:
    if task is None:
        raise KeyError(f"ledger refers to unknown task {key}")
    return task


def effects(record: LedgerRecord) -> list[tuple[str, Effect]]:
    """The tasks a record changes, each with the change to make."""
    data = record.data
    if record.type == TASKS_OPENED:
        def opener(spec: dict[str, Any]) -> Effect:
            def open_task(_: Task | None) -> Task:
                return Task(key=spec["key"], number=spec["number"], duty=spec["duty"],
                            owner=spec["owner"], period=spec["period"],
                            due=date.fromisoformat(spec["due"]), note=spec.get("note", ""))
            return open_task
        return [(spec["key"], opener(spec)) for spec in data["tasks"]]
    if record.type == TASK_DUE_CHANGED:
        key, due = data["task"], date.fromisoformat(data["due"])

        def change_due(t: Task | None) -> Task:
            return replace(_require(t, key), due=due)
        return [(key, change_due)]
    if record.type == CHECKIN:
        key = data["task"]
        checkin = checkin_from_doc(key, data["checkin"])
        return [(key, lambda t: _require(t, key).with_checkin(checkin))]
    if record.type == CHECKIN_UNDONE:
        key, checkin_id = data["task"], data["checkin"]
        at = datetime.fromisoformat(record.at)
        return [(key, lambda t: _require(t, key).with_undo(checkin_id, at))]
    return []  # records that change no task (e.g. messages sent) only live in the ledger
