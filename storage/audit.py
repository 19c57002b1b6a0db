"""Checking a store without opening it for writing (`dutybot audit verify`).

The ledger's hash chain shows whether a record was edited, removed or reordered; replaying
it and comparing the result with the task files shows whether a file was edited behind the
ledger's back (a check-in's note changed in `tasks-2026-11.json`, say). Meetings, which live
in the ledger alone, are replayed too: a record that does not fit its meeting is named.
Record times must not go backwards by more than the ledger's allowance. Every evidence file a
check-in or meeting record names must be in `files/` with the size and SHA-256 recorded.

It never cries wolf: beside a running bot, straight after a crash or on a full disk, the
files may lag behind the ledger (they are written after it). So the files are read first
and each task is compared with the ledger as it stood at the record the file says it
reflects; a file can lag, but never lead, and never lose a task it once held.

Each file and each ledger line is parsed once. The chain is checked over the lines' bytes
as stored (`storage.ledger`); a line whose record is intact but whose bytes were edited is
reported too (`reencoded`). Of a task or outbox file only the fields that name each
document are kept (and the file's bytes); the file is compared as a whole: its bytes must be
what the writer makes of the replayed documents, each as of its own record. Only the
documents of a file that differs are read again (from the bytes kept) and compared one by
one, field by field, which says what is wrong and accepts what an older release wrote
(fields it did not know are then missing). The cyclic collector is held while the audit
runs: it would only walk the many objects the audit keeps to its end again and again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from schedules.meetings import Meeting
from schedules.tasks import Attachment
from storage import checkpoint, meeting_records, records
from storage.atomic import read_json_file
from storage.bulk import collector_held
from storage.errors import StoreCorrupt
from storage.files import FOLDER, FileStore
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
class FileProblem:
    record: str  # the check-in or meeting record that names the file, in Chinese
    name: str  # the file's name as sent ("" for a photo without one)
    file: str  # where it is kept, relative to the store folder
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
    files: tuple[FileProblem, ...] = ()  # kept files missing or not as recorded
    # Lines whose record is intact (its content hashes right) but whose bytes were edited:
    # reported, but the record can still be trusted, so a backup or an upgrade goes ahead.
    reencoded: tuple[ChainBreak, ...] = ()
    checkpoint: str | None = None  # how the checkpoint disagrees with the chain, in Chinese

    @property
    def intact(self) -> bool:
        """Every record and file can be trusted (edited bytes of an intact record aside)."""
        return (self.broken is None and self.missing_tail is None and self.altered is None
                and self.backwards is None and not self.files and self.checkpoint is None)


@dataclass
class _Doc:
    file: str
    doc_id: str
    number: int  # a task's number; an outbox entry's document id
    seq: int
    value: Any = None  # the task or entry as the ledger had it at `seq`, once replayed there
    checked: bool = False


@dataclass(frozen=True)
class _File:
    name: str
    collection: str
    data: bytes  # as read
    docs: tuple[DocKey, ...]  # in the file's order

    def documents(self) -> dict[str, Any]:
        """The file's documents by id, parsed again from the bytes read."""
        table: dict[str, Any] = json.loads(self.data.decode("utf-8"))[self.collection]
        return table


DocKey = tuple[str, str]  # (collection, key)


def verify(folder: Path) -> AuditResult:
    with collector_held():
        return _verify(folder)


def _verify(folder: Path) -> AuditResult:
    files, docs, newest_in, problem = _read_files(folder)
    by_name = {file.name: file for file in files}
    problem = problem or _meta_problem(folder)
    reader = ChainReader(folder / "ledger.jsonl", exact=True)
    mark = checkpoint.read(folder)
    expected = checkpoint.Expected() if mark is not None else None
    mark_problem: str | None = None
    state: dict[DocKey, Any] = {}
    meetings: dict[int, Meeting] = {}
    created: dict[DocKey, tuple[int, str]] = {}  # document -> (record that made it, its file)
    count, last_at, newest = 0, "", None
    broken: ChainBreak | None = None
    backwards: Backwards | None = None
    for item in reader:
        if isinstance(item, ChainBreak):
            broken = item
            break
        try:
            changed = _apply(item, state)
            if item.type in records.MEETING_RECORDS:  # meetings live in the ledger alone
                number = meeting_records.number_of(item)
                meetings[number] = meeting_records.apply(item, meetings.get(number))
        except (RecordInvalid, KeyError, TypeError, ValueError, AttributeError) as e:
            broken = ChainBreak(item.seq, item.seq, record_problem(e))
            break
        count, last_at = item.seq, item.at
        if newest is not None and item.moment < newest - MAX_SKEW and backwards is None:
            backwards = Backwards(item.seq, item.seq, item.at, newest.isoformat())
        newest = item.moment if newest is None else max(newest, item.moment)
        if expected is not None and mark is not None:
            expected.note(item)
            if item.seq == mark.mark.seq:
                mark_problem = expected.differs(mark, reader.last, newest)
                expected = None
        for doc_key in changed:
            if doc_key not in created:
                created[doc_key] = (item.seq, _file_of(doc_key[0], state[doc_key]))
            doc = docs.get(doc_key)
            if doc is not None and doc.seq == item.seq:
                doc.checked, doc.value = True, state[doc_key]
    torn = reader.torn_at is not None
    reencoded = tuple(reader.reencoded)
    if expected is not None and mark is not None:  # never reached
        mark_problem = f"记下的记录 {mark.mark.seq} 不在台账中"
    if broken is not None:
        return AuditResult(count, last_at, broken, torn, None, None, backwards,
                           reencoded=reencoded)
    # Removing the newest records leaves a valid chain; the task files still remember them.
    newest_seq = max(newest_in.values(), default=0)
    missing = (count + 1, newest_seq) if newest_seq > count else None
    if problem is None:
        problem = _compared(files, docs)
    if problem is None and missing is None:
        problem = _unexplained(docs, by_name, created, newest_in, state)
    return AuditResult(count, last_at, None, torn, missing, problem, backwards,
                       _file_problems(folder, state, meetings), reencoded, mark_problem)


def _compared(files: list[_File], docs: dict[DocKey, _Doc]) -> Altered | None:
    """The first document that differs from the ledger as of its own record. A file whose
    bytes are what the writer makes of the replayed documents agrees, document for
    document, exactly (types and order included); the documents of any other are compared
    one at a time."""
    for file in files:
        held = [docs[key] for key in file.docs]
        if all(doc.checked for doc in held):
            table = {doc.doc_id: _as_doc(file.collection, doc.value, doc.seq) for doc in held}
            written = json.dumps({file.collection: table}, ensure_ascii=False,
                                 separators=(",", ":")).encode()
            if written == file.data:
                continue
        stored = file.documents()
        for doc in sorted(held, key=lambda doc: _order(doc.doc_id)):
            if not doc.checked:
                continue  # no record made it what it is: `_unexplained` names it
            raw = stored[doc.doc_id]
            problem = _unreadable(doc, raw)
            if problem is None and not _agrees(raw, _as_doc(file.collection, doc.value, 0)):
                problem = _altered(doc, "与台账记载不符")
            if problem is not None:
                return problem
    return None


def _unreadable(doc: _Doc, raw: Any) -> Altered | None:
    """The problem with a document that cannot be read as a task or an outbox entry."""
    try:
        if doc.file.startswith(records.TASKS):
            records.task_from_doc(raw)
        else:
            records.entry_from_doc(raw)
    except RecordInvalid as e:
        return Altered(doc.file, 0, f"中文档 {doc.doc_id} 格式不对：{e}")
    return None


def _file_problems(folder: Path, state: dict[DocKey, Any],
                   meetings: dict[int, Meeting]) -> tuple[FileProblem, ...]:
    """Every attachment of every check-in (undone ones too) and meeting record whose kept
    file is missing or differs from the record; each distinct file is read once."""
    tasks = sorted((v for (c, _), v in state.items() if c == records.TASKS),
                   key=lambda t: t.number)
    named: list[tuple[str, Attachment]] = [
        (f"编号 {t.number} 的任务的完成记录 {c.id}", a)
        for t in tasks for c in t.checkins for a in c.attachments]
    for number, meeting in sorted(meetings.items()):
        named += [(f"会议 {number} 的第 {i} 份纪实", a)
                  for i, r in enumerate(meeting.records, start=1) for a in r.attachments]
    store = FileStore(folder / FOLDER, read_only=True)
    found: dict[tuple[str, int], str | None] = {}
    problems = []
    for record, attachment in named:
        if not attachment.sha256:
            continue
        key = (attachment.sha256, attachment.size)
        if key not in found:
            found[key] = store.verify(attachment)
        problem = found[key]
        if problem is not None:
            try:
                where = store.path(attachment.sha256).relative_to(folder).as_posix()
            except ValueError:  # not a digest: never used as a path
                where = FOLDER
            problems.append(FileProblem(record, attachment.name, where, problem))
    return tuple(problems)


def _apply(record: Any, state: dict[DocKey, Any]) -> list[DocKey]:
    """Apply a record's effects; the documents it changed."""
    changed = []
    for collection, key, effect in records.effects(record):
        state[collection, key] = effect(state.get((collection, key)))
        changed.append((collection, key))
    return changed


def _as_doc(collection: str, value: Any, seq: int) -> dict[str, Any]:
    if collection == records.TASKS:
        return records.task_to_doc(value, seq)
    return records.entry_to_doc(value, seq)


def _agrees(stored: Any, replayed: Any) -> bool:
    """Whether a stored document says what the ledger does. A field an older release did
    not write may be missing from the file if the ledger's value is its default."""
    if isinstance(stored, dict) and isinstance(replayed, dict):
        return all(k == "seq" or (k in replayed and _agrees(v, replayed[k]))
                   for k, v in stored.items()) and all(
            k in stored or v in (None, 0, "", [], False) for k, v in replayed.items())
    if isinstance(stored, list) and isinstance(replayed, list):
        return len(stored) == len(replayed) and all(
            _agrees(a, b) for a, b in zip(stored, replayed, strict=True))
    return bool(stored == replayed)


def _file_of(collection: str, value: Any) -> str:
    if collection == records.TASKS:
        return f"{collection}-{records.task_shard(value)}.json"
    return f"{collection}-{shard_of(value.due_at.date())}.json"


def _altered(doc: _Doc, problem: str) -> Altered:
    return Altered(doc.file, doc.number if doc.file.startswith(records.TASKS) else 0,
                   problem if doc.file.startswith(records.TASKS)
                   else f"中文档 {doc.number} {problem}")


def _read_files(folder: Path) -> tuple[list[_File], dict[DocKey, _Doc], dict[str, int],
                                        Altered | None]:
    """Every task and outbox file and document (by the fields that name it: the rest is
    read only if its file differs from the ledger, `_compared`), the newest record each
    file reflects, and the first file that cannot be read as such documents."""
    files: list[_File] = []
    docs: dict[DocKey, _Doc] = {}
    newest: dict[str, int] = {}
    for collection in (records.TASKS, records.OUTBOX):
        for path in sorted(folder.glob(f"{collection}-*.json")):
            try:
                data = path.read_bytes()
                tables = json.loads(data.decode("utf-8"))
            except (OSError, ValueError):  # unreadable, not UTF-8 or not JSON
                return files, docs, newest, Altered(path.name, 0, "无法读取或不是有效的 JSON")
            table = tables.get(collection) if isinstance(tables, dict) else None
            if not isinstance(table, dict):
                return files, docs, newest, Altered(path.name, 0, "不是数据文件的结构")
            by_id: dict[str, DocKey] = {}
            for doc_id, doc in sorted(table.items(), key=lambda item: _order(item[0])):
                try:
                    if collection == records.TASKS:
                        key, number = _field(doc, "key", str), _field(doc, "number", int)
                    else:
                        key = f"{_field(doc, 'notice', str)}|{_field(doc, 'channel', str)}"
                        number = _order(doc_id)
                    seq = _field(doc, "seq", int)
                except RecordInvalid as e:
                    return files, docs, newest, Altered(path.name, 0,
                                                        f"中文档 {doc_id} 格式不对：{e}")
                if (collection, key) in docs:
                    return files, docs, newest, Altered(path.name, 0, f"中文档 {doc_id} 重复")
                docs[collection, key] = _Doc(path.name, doc_id, number, seq)
                by_id[doc_id] = collection, key
                newest[path.name] = max(newest.get(path.name, 0), seq)
            files.append(_File(path.name, collection, data,
                               tuple(by_id[doc_id] for doc_id in table)))
    return files, docs, newest, None


def _field(doc: Any, name: str, kind: type) -> Any:
    """A field that names a document, read as strictly as reading the document does."""
    if not isinstance(doc, dict):
        raise RecordInvalid("不是 JSON 对象")
    if name not in doc:
        raise RecordInvalid(f"缺少字段 {name}")
    if type(doc[name]) is not kind:
        raise RecordInvalid(f"字段 {name} 的类型不对")
    return doc[name]


def _meta_problem(folder: Path) -> Altered | None:
    path = folder / "meta.json"
    if not path.exists():
        return None
    try:
        tables = read_json_file(path)
        rows = list(tables["meta"].values())
        date.fromisoformat(rows[0]["since"])
        if len(rows) != 1:
            raise ValueError
    except (StoreCorrupt, KeyError, TypeError, ValueError, AttributeError, IndexError):
        return Altered(path.name, 0, "中的元信息格式不对")
    return None


def _unexplained(docs: dict[DocKey, _Doc], files: dict[str, _File],
                 created: dict[DocKey, tuple[int, str]], newest_in: dict[str, int],
                 state: dict[DocKey, Any]) -> Altered | None:
    """A document no record explains, or one missing from a file written after it."""
    for doc in docs.values():
        if not doc.checked:
            raw = files[doc.file].documents()[doc.doc_id]
            return _unreadable(doc, raw) or _altered(doc, "不对应台账中的任何记录")
    for doc_key, (seq, file) in created.items():
        if doc_key not in docs and seq <= newest_in.get(file, 0):
            value = state[doc_key]
            number = value.number if doc_key[0] == records.TASKS else 0
            return Altered(file, number, "被删除（台账中有此记录）")
    return None


def _order(doc_id: str) -> int:
    return int(doc_id) if doc_id.isdigit() else 0


def describe_time(at: str) -> str:
    return datetime.fromisoformat(at).strftime("%Y-%m-%d %H:%M:%S")


def describe_problems(result: AuditResult, folder: Path) -> list[str]:
    """What `result` found wrong with the store in `folder`, in the admin's words, one
    sentence each, the first the most serious; [] when it is intact and no ledger line was
    edited."""
    ledger = folder / "ledger.jsonl"
    if result.broken is not None:
        b = result.broken
        seq = f"（记录 {b.seq}）" if b.seq is not None else ""
        return [f"台账有误：{ledger} 第 {b.line} 行{seq}{b.problem}。"
                f"此前 {result.records} 条记录完好。"]
    problems = []
    if result.missing_tail is not None:
        first, last = result.missing_tail
        problems.append(f"台账有误：末尾缺少记录 {first}–{last}（任务文件中有，台账中没有），"
                        "可能被删除。")
    if result.altered is not None:
        a = result.altered
        which = f"中编号 {a.number} 的任务" if a.number else ""
        problems.append(f"数据文件有误：{folder / a.file} {which}{a.problem}，"
                        "文件可能被改动过。")
    if result.backwards is not None:
        w = result.backwards
        problems.append(f"台账有误：{ledger} 第 {w.line} 行（记录 {w.seq}）的时间 "
                        f"{describe_time(w.at)} 早于此前记录的时间 {describe_time(w.newest)}："
                        "时间倒退，可能是系统时钟被调回或记录被倒签。")
    for f in result.files:
        name = f"“{f.name}”" if f.name else ""
        problems.append(f"证据文件有误：{f.record}的附件{name}（{folder / f.file}）{f.problem}，"
                        "文件可能被删除或改动过。")
    if result.checkpoint is not None:
        problems.append(f"检查点有误：{folder / checkpoint.FILE} {result.checkpoint}。"
                        "删除这个文件后重新启动 bot 即可重建（启动时会完整校验一次台账）。")
    if result.reencoded:
        r, more = result.reencoded[0], len(result.reencoded) - 1
        problems.append(f"台账有误：{ledger} 第 {r.line} 行（记录 {r.seq}）被改动过：记录的内容"
                        f"与哈希相符，但这一行{r.problem}"
                        + (f"（另有 {more} 行也是如此）" if more else "") + "。")
    return problems
