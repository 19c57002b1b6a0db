"""Checking a store without opening it for writing (`dutybot audit verify`).

The ledger's hash chain shows whether a record was edited, removed or reordered; replaying
it and comparing the result with the task files shows whether a file was edited behind the
ledger's back (a check-in's note changed in `tasks-2026-11.json`, say). Record times must
not go backwards by more than the ledger's allowance.

It never cries wolf: beside a running bot, straight after a crash or on a full disk, the
files may lag behind the ledger (they are written after it). So the files are read first
and each task is compared with the ledger as it stood at the record the file says it
reflects; a file can lag, but never lead, and never lose a task it once held.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from schedules.tasks import Task
from storage import records
from storage.atomic import read_json_file
from storage.errors import StoreCorrupt
from storage.ledger import (
    MAX_SKEW,
    ChainBreak,
    ChainReader,
    RecordInvalid,
    record_problem,
)
from storage.records import shard_of


@dataclass(frozen=True)
class Backwards:
    line: int
    seq: int
    at: str
    newest: str  # the newest time before it


@dataclass(frozen=True)
class Altered:
    file: str
    number: int  # the task's number (0 when the document could not be read at all)
    problem: str  # what is wrong, in Chinese


@dataclass(frozen=True)
class AuditResult:
    records: int  # records verified in order
    last_at: str  # time of the last verified record
    broken: ChainBreak | None  # the first break, if any
    torn_tail: bool  # the file ends in an interrupted append (harmless; set aside at start)
    missing_tail: tuple[int, int] | None  # seqs the task files know but the ledger lacks
    altered: Altered | None = None  # a task file that differs from what the ledger says
    backwards: Backwards | None = None  # the first record dated before an earlier one

    @property
    def intact(self) -> bool:
        return (self.broken is None and self.missing_tail is None and self.altered is None
                and self.backwards is None)


@dataclass
class _Doc:
    file: str
    task: Task
    seq: int
    checked: bool = False


def verify(folder: Path) -> AuditResult:
    docs, newest_in, problem = _read_task_files(folder)
    reader = ChainReader(folder / "ledger.jsonl")
    state: dict[tuple[str, str], Any] = {}
    created: dict[str, tuple[int, str]] = {}  # task key -> (record that opened it, its file)
    count, last_at, newest = 0, "", None
    broken: ChainBreak | None = None
    backwards: Backwards | None = None
    for item in reader:
        if isinstance(item, ChainBreak):
            broken = item
            break
        try:
            changed = _apply(item, state)
        except (RecordInvalid, KeyError, TypeError, ValueError, AttributeError) as e:
            broken = ChainBreak(item.seq, item.seq, record_problem(e))
            break
        count, last_at = item.seq, item.at
        if newest is not None and item.moment < newest - MAX_SKEW and backwards is None:
            backwards = Backwards(item.seq, item.seq, item.at, newest.isoformat())
        newest = item.moment if newest is None else max(newest, item.moment)
        for key in changed:
            task = state[records.TASKS, key]
            if key not in created:
                created[key] = (item.seq, f"tasks-{shard_of(task.due)}.json")
            doc = docs.get(key)
            if doc is not None and doc.seq == item.seq:
                doc.checked = True
                if problem is None and doc.task != task:
                    problem = Altered(doc.file, doc.task.number, "与台账记载不符")
    torn = reader.torn_at is not None
    if broken is not None:
        return AuditResult(count, last_at, broken, torn, None, None, backwards)
    # Removing the newest records leaves a valid chain; the task files still remember them.
    newest_seq = max(newest_in.values(), default=0)
    missing = (count + 1, newest_seq) if newest_seq > count else None
    if problem is None and missing is None:
        problem = _unexplained(docs, created, newest_in, state)
    return AuditResult(count, last_at, None, torn, missing, problem, backwards)


def _apply(record: Any, state: dict[tuple[str, str], Any]) -> list[str]:
    """Apply a record's effects; the task keys it changed."""
    changed = []
    for collection, key, effect in records.effects(record):
        state[collection, key] = effect(state.get((collection, key)))
        if collection == records.TASKS:
            changed.append(key)
    return changed


def _read_task_files(folder: Path) -> tuple[dict[str, _Doc], dict[str, int], Altered | None]:
    """Every task document, the newest record each file reflects, and the first file that
    cannot be read as task documents."""
    docs: dict[str, _Doc] = {}
    newest: dict[str, int] = {}
    for path in sorted(folder.glob("tasks-*.json")):
        try:
            tables = read_json_file(path)
        except StoreCorrupt:
            return docs, newest, Altered(path.name, 0, "无法读取或不是有效的 JSON")
        table = tables.get("tasks") if isinstance(tables, dict) else None
        if not isinstance(table, dict):
            return docs, newest, Altered(path.name, 0, "不是任务文件的结构")
        for doc_id, doc in sorted(table.items(), key=lambda item: _order(item[0])):
            try:
                task, seq = records.task_from_doc(doc)
            except RecordInvalid as e:
                return docs, newest, Altered(path.name, _order(doc_id), f"格式不对：{e}")
            if task.key in docs:
                return docs, newest, Altered(path.name, task.number, "与另一文档重复")
            docs[task.key] = _Doc(path.name, task, seq)
            newest[path.name] = max(newest.get(path.name, 0), seq)
    return docs, newest, None


def _unexplained(docs: dict[str, _Doc], created: dict[str, tuple[int, str]],
                 newest_in: dict[str, int], state: dict[tuple[str, str], Any]) -> Altered | None:
    """A document no record explains, or a task missing from a file written after it."""
    for doc in docs.values():
        if not doc.checked:
            return Altered(doc.file, doc.task.number, "不对应台账中的任何记录")
    for key, (seq, file) in created.items():
        if key not in docs and seq <= newest_in.get(file, 0):
            task = state[records.TASKS, key]
            return Altered(file, task.number, "被删除（台账中有此任务）")
    return None


def _order(doc_id: str) -> int:
    return int(doc_id) if doc_id.isdigit() else 0


def describe_time(at: str) -> str:
    return datetime.fromisoformat(at).strftime("%Y-%m-%d %H:%M:%S")
