"""Checking a store without opening it for writing (`dutybot audit verify`).

The ledger's hash chain shows whether a record was edited, removed or reordered; replaying
it and comparing the result with the task files shows whether a file was edited behind the
ledger's back (a check-in's note changed in `tasks-2026-11.json`, say).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from schedules.tasks import Task
from storage import records
from storage.ledger import ChainBreak, ends_torn, read_records


@dataclass(frozen=True)
class AuditResult:
    records: int  # records verified in order
    last_at: str  # time of the last verified record
    broken: ChainBreak | None  # the first break, if any
    torn_tail: bool  # the file ends in an interrupted append (harmless; set aside at start)
    missing_tail: tuple[int, int] | None  # seqs the task files know but the ledger lacks
    altered: tuple[str, int] | None = None  # a task file and the number of a task in it
    # that differs from what the ledger says

    @property
    def intact(self) -> bool:
        return self.broken is None and self.missing_tail is None and self.altered is None


def verify(folder: Path) -> AuditResult:
    ledger = folder / "ledger.jsonl"
    count, last_at, broken = 0, "", None
    tasks: dict[str, Task] = {}
    for item in read_records(ledger):
        if isinstance(item, ChainBreak):
            broken = item
            break
        count, last_at = item.seq, item.at
        for collection, key, effect in records.effects(item):
            if collection == records.TASKS:
                tasks[key] = effect(tasks.get(key))
    torn = ends_torn(ledger)
    # Removing the newest records leaves a valid chain; the task files still remember them.
    newest = max((_newest_seq(p) for p in folder.glob("tasks-*.json")), default=0)
    missing = (count + 1, newest) if broken is None and newest > count else None
    altered = None
    if broken is None and missing is None:
        altered = _first_altered(folder, tasks)
    return AuditResult(count, last_at, broken, torn, missing, altered)


def _first_altered(folder: Path, tasks: dict[str, Task]) -> tuple[str, int] | None:
    """The first task document that is not what replaying the ledger gives."""
    for path in sorted(folder.glob("tasks-*.json")):
        try:
            docs = json.loads(path.read_text(encoding="utf-8")).get("tasks", {})
        except (OSError, ValueError, AttributeError):
            return path.name, 0
        for doc_id, doc in sorted(docs.items(), key=lambda item: int(item[0])):
            try:
                task, _ = records.task_from_doc(doc)
            except (KeyError, ValueError, TypeError):
                return path.name, int(doc_id)
            if tasks.get(task.key) != task:
                return path.name, task.number
    return None


def _newest_seq(path: Path) -> int:
    try:
        tables = json.loads(path.read_text(encoding="utf-8"))
        return max((int(doc.get("seq", 0)) for doc in tables.get("tasks", {}).values()),
                   default=0)
    except (OSError, ValueError, AttributeError, TypeError):
        return 0
