"""Checking a store without opening it for writing (`dutybot audit verify`).

The ledger's hash chain shows whether a record was edited, removed or reordered; replaying
it and comparing the result with the task files shows whether a file was edited behind the
ledger's back (a check-in's note changed in `tasks-2026-11.json`, say). Meetings, which live
in the ledger alone, are replayed too: a record that does not fit its meeting is named.
Record times must not go backwards by more than the ledger's allowance. Every evidence file a
check-in or meeting record names must be in `files/` with the size and SHA-256 recorded.

It never cries wolf: beside a running bot, straight after a crash or on a full disk, the
files may lag behind the ledger (they are written after it). So the files are opened first
(a writer replaces a file whole, so an open file keeps what it held) and each task is
compared with the ledger as it stood at the record the file says it reflects; a file can
lag, but never lead, and never lose a task it once held.

Each file and each ledger line is parsed once (in each half, below). The chain is checked
over the lines' bytes as stored (`storage.ledger`); a line whose record is intact but whose
bytes were edited is reported too (`reencoded`). Replaying keeps every value each document
had, by record. Each document of a task or outbox file is then read as the store reads it
(`storage.records`) and compared with the value the record it names gave it: that accepts
what an older release wrote (fields it did not know are missing; fields the store ignores
are ignored here too) and names what opening the store would refuse. The cyclic collector
is held while the audit runs: it would only walk the many objects the audit keeps to its
end again and again.

On a large store, in a process of its own with a second core, the audit checks in two
halves at once (`_in_halves`): a forked child and the audit itself each read the whole
chain and every file, and each replays and compares the documents of half the keys. Only
when both halves find the store intact is that the answer; otherwise the audit checks it
again in one piece, so whatever is wrong is named exactly as it would be without the
halves (the first problem of each kind). The halves only make an intact store's audit
faster; they never decide what is reported wrong.
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, BinaryIO

from schedules.meetings import Meeting
from schedules.tasks import Attachment, Task
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
from storage.records import MEETING_RECORDS, shard_of
from storage.repository import outbox_key


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


# Every value each document of a collection had, by key, as (record, value) in the
# ledger's order (by collection first: a city's 400,000 keys hash faster alone than in pairs).
History = dict[str, dict[str, list[tuple[int, Any]]]]


@dataclass
class _Chain:
    """What reading the ledger from its first record found."""

    records: int = 0  # the last record verified in order
    last_at: str = ""
    broken: ChainBreak | None = None
    backwards: Backwards | None = None
    checkpoint: str | None = None
    history: History = field(default_factory=lambda: {records.TASKS: {}, records.OUTBOX: {}})
    meetings: dict[int, Meeting] = field(default_factory=dict)


@dataclass
class _Files:
    """What reading the task and outbox files against the ledger found: the first problem
    of each kind (`unreadable`, then `altered`, then `unexplained`, by seriousness)."""

    newest: dict[str, int] = field(default_factory=dict)  # file -> newest record it reflects
    held: dict[str, set[str]] = field(
        default_factory=lambda: {records.TASKS: set(), records.OUTBOX: set()})
    unreadable: Altered | None = None  # a file or document that cannot be read as such
    altered: Altered | None = None  # a document the ledger says otherwise
    unexplained: Altered | None = None  # a document no record made what it is


# A ledger this large is audited in two halves where that can be done (`_in_halves`); below
# it the fork would cost more than it saves.
SPLIT_FROM = 1 << 20  # bytes

Snapshot = list[tuple[str, str, BinaryIO | None]]


def verify(folder: Path) -> AuditResult:
    with collector_held(), ExitStack() as held:
        snapshot = _snapshot(folder, held)  # first: the files may lag the ledger, never lead it
        if _worth_halving(folder):
            halved = _in_halves(folder, snapshot)
            if halved is not None:
                return halved
        return _checked(folder, snapshot)


def _worth_halving(folder: Path) -> bool:
    """A large ledger, a second core, and a process of the audit's own (a fork beside other
    threads could inherit a lock one of them holds)."""
    if not hasattr(os, "fork") or threading.active_count() > 1:
        return False
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        return (cores or 1) > 1 and (folder / "ledger.jsonl").stat().st_size >= SPLIT_FROM
    except OSError:
        return False


def _in_halves(folder: Path, snapshot: Snapshot) -> AuditResult | None:
    """The audit of an intact store, its keys checked half here and half in a forked child
    at the same time; None if either half finds anything wrong (or the child fails): then
    the store is checked in one piece, which names it. Each half reads the whole chain, so
    this half's result says all that an intact store's audit says. The files were opened
    before the fork and are read with `pread`, which the two processes can share."""
    try:
        child = os.fork()
    except OSError:  # no memory or processes to spare: one piece, then
        return None
    if child == 0:  # the child: its exit code says whether its half is intact
        code = 2
        try:
            code = 0 if _checked(folder, snapshot, half=1).intact else 1
        finally:
            os._exit(code)
    try:
        result = _checked(folder, snapshot, half=0)
    except BaseException:
        os.kill(child, signal.SIGKILL)
        raise
    finally:
        _, status = os.waitpid(child, 0)
    return result if result.intact and os.waitstatus_to_exitcode(status) == 0 else None


def _checked(folder: Path, snapshot: Snapshot, half: int | None = None) -> AuditResult:
    """The audit over the whole chain and every file; with `half` (0 or 1), the documents
    of that half of the keys alone are replayed and compared: `hash(key) & 1`, the same in
    a forked child."""
    wanted = None if half is None else (lambda key: hash(key) & 1 == half)
    meta = _meta_problem(folder)
    reader = ChainReader(folder / "ledger.jsonl", exact=True)
    chain = _replayed(reader, checkpoint.read(folder), wanted)
    torn, reencoded = reader.torn_at is not None, tuple(reader.reencoded)
    if chain.broken is not None:
        return AuditResult(chain.records, chain.last_at, chain.broken, torn, None, None,
                           chain.backwards, reencoded=reencoded)
    files = _compared(snapshot, chain.history, wanted)
    # Removing the newest records leaves a valid chain; the task files still remember them.
    newest_seq = max(files.newest.values(), default=0)
    missing = (chain.records + 1, newest_seq) if newest_seq > chain.records else None
    problem = files.unreadable or meta or files.altered
    if problem is None and missing is None:
        problem = files.unexplained or _deleted(chain.history, files)
    return AuditResult(chain.records, chain.last_at, None, torn, missing, problem,
                       chain.backwards, _file_problems(folder, chain.history, chain.meetings),
                       reencoded, chain.checkpoint)


def _snapshot(folder: Path, held: ExitStack) -> Snapshot:
    """Every task and outbox file as (name, collection, the file opened), None if it cannot
    be opened. Opened, not read: a writer replaces a file whole (`storage.atomic`), so an
    open file keeps what it held when opened, and a city's files are not held in memory
    for the whole replay."""
    found: Snapshot = []
    for collection in (records.TASKS, records.OUTBOX):
        for path in sorted(folder.glob(f"{collection}-*.json")):
            try:
                found.append((path.name, collection, held.enter_context(path.open("rb"))))
            except OSError:
                found.append((path.name, collection, None))
    return found


def _read(file: BinaryIO | None) -> Any:
    """A month file's tables (None if it cannot be read, or is not UTF-8 JSON). Read from
    its start with `pread`, which leaves the offset the file shares with a forked child
    alone, so each half of the audit (and a second audit in one piece) reads it whole."""
    if file is None:
        return None
    try:
        fd, chunks, offset = file.fileno(), [], 0
        while chunk := os.pread(fd, 1 << 24, offset):
            chunks.append(chunk)
            offset += len(chunk)
        return json.loads(b"".join(chunks).decode("utf-8"))
    except (OSError, ValueError):
        return None


def _named(collection: str, raw: Any) -> tuple[str, int]:
    """A document's key and record, read as strictly as reading it does."""
    if type(raw) is dict:  # in line for a document of the writer's shape
        seq = raw.get("seq")
        if collection == records.TASKS:
            key = raw.get("key")
            if type(key) is str and type(seq) is int:
                return key, seq
        else:
            notice, channel = raw.get("notice"), raw.get("channel")
            if type(notice) is str and type(channel) is str and type(seq) is int:
                return outbox_key(notice, channel), seq
    if collection == records.TASKS:
        key = _field(raw, "key", str)
    else:
        key = outbox_key(_field(raw, "notice", str), _field(raw, "channel", str))
    return key, _field(raw, "seq", int)


def _field(doc: Any, name: str, kind: type) -> Any:
    if not isinstance(doc, dict):
        raise RecordInvalid("不是 JSON 对象")
    if name not in doc:
        raise RecordInvalid(f"缺少字段 {name}")
    if type(doc[name]) is not kind:
        raise RecordInvalid(f"字段 {name} 的类型不对")
    return doc[name]


def _replayed(reader: ChainReader, mark: checkpoint.Checkpoint | None,
              wanted: Callable[[str], bool] | None = None) -> _Chain:
    """Every record in order, applied: each document's values (with `wanted`, of the keys
    it accepts), the meetings, and the first break, backward time and disagreement with
    the checkpoint."""
    chain = _Chain()
    history, meetings, effects = chain.history, chain.meetings, records.effects
    expected = checkpoint.Expected() if mark is not None else None
    newest: datetime | None = None
    earliest = datetime.min.replace(tzinfo=UTC)  # a record before this goes backwards
    seq, at = 0, ""
    for item in reader:
        if isinstance(item, ChainBreak):
            chain.broken = item
            break
        try:
            for collection, key, effect in effects(item, wanted):
                documents = history[collection]
                versions = documents.get(key)
                if versions is None:
                    documents[key] = [(item.seq, effect(None))]
                else:
                    versions.append((item.seq, effect(versions[-1][1])))
            if item.type in MEETING_RECORDS:  # meetings live in the ledger alone
                number = meeting_records.number_of(item)
                meetings[number] = meeting_records.apply(item, meetings.get(number))
        except (RecordInvalid, KeyError, TypeError, ValueError, AttributeError) as e:
            chain.broken = ChainBreak(item.seq, item.seq, record_problem(e))
            break
        seq, at, moment = item.seq, item.at, item.moment
        if newest is None or moment > newest:
            newest, earliest = moment, moment - MAX_SKEW
        elif moment < earliest and chain.backwards is None:
            chain.backwards = Backwards(seq, seq, at, newest.isoformat())
        if expected is not None and mark is not None:
            expected.note(item)
            if seq == mark.mark.seq:
                chain.checkpoint = expected.differs(mark, reader.last, newest)
                expected = None
    chain.records, chain.last_at = seq, at
    if expected is not None and mark is not None and chain.broken is None:
        chain.checkpoint = f"记下的记录 {mark.mark.seq} 不在台账中"
    return chain


def _compared(snapshot: Snapshot, history: History,
              wanted: Callable[[str], bool] | None = None) -> _Files:
    """Each file parsed once (and let go before the next), each document read as the store
    reads it and compared with the ledger as of the record the document names: the value
    that record gave it. Reading it as the store does accepts what an older release wrote
    (fields it did not know are then missing) and names what opening the store would
    refuse (a count written as 0.0, say), which a comparison of JSON values would miss
    (0.0 == 0 to Python). Nearly every task is as recorded, which
    `records.task_doc_reads_as` finds without making the task. With `wanted`, every file is
    still read and each document's key and record noted (what is missing or duplicated is
    found in each half), but only the documents of the keys it accepts are compared."""
    found = _Files()
    for name, collection, file in snapshot:
        tables = _read(file)
        if tables is None:
            found.unreadable = Altered(name, 0, "无法读取或不是有效的 JSON")
            return found
        table = tables.get(collection) if isinstance(tables, dict) else None
        if not isinstance(table, dict):
            found.unreadable = Altered(name, 0, "不是数据文件的结构")
            return found
        tasks = collection == records.TASKS
        held, documents, newest = found.held[collection], history[collection], 0
        for doc_id, raw in table.items():  # in the file's order: the first problem in it
            try:
                key, seq = _named(collection, raw)
            except RecordInvalid as e:
                found.unreadable = Altered(name, 0, f"中文档 {doc_id} 格式不对：{e}")
                return found
            if key in held:
                found.unreadable = Altered(name, 0, f"中文档 {doc_id} 重复")
                return found
            held.add(key)
            newest = max(newest, seq)
            found.newest[name] = newest
            if wanted is not None and not wanted(key):
                continue
            expected = _as_of(documents.get(key), seq)
            if tasks and expected is not None and records.task_doc_reads_as(raw, expected, seq):
                continue  # nearly every document: nothing made to know it is as recorded
            try:
                value = (records.task_from_doc if tasks else records.entry_from_doc)(raw)[0]
            except RecordInvalid as e:  # opening the store would refuse it too
                found.unreadable = Altered(name, 0, f"中文档 {doc_id} 格式不对：{e}")
                return found
            number = value.number if isinstance(value, Task) else 0
            if expected is None:
                found.unexplained = found.unexplained or _altered(
                    name, doc_id, number, "不对应台账中的任何记录")
            elif value != expected:
                found.altered = found.altered or _altered(name, doc_id, number, "与台账记载不符")
    return found


def _as_of(versions: list[tuple[int, Any]] | None, seq: int) -> Any:
    """The value the record `seq` gave a document, or None if that record did not change
    it (or no record made the document)."""
    for changed, value in reversed(versions or ()):
        if changed == seq:
            return value
        if changed < seq:
            break
    return None


def _deleted(history: History, files: _Files) -> Altered | None:
    """A document the ledger made that is missing from a file written after it."""
    for collection, documents in history.items():
        held = files.held[collection]
        if documents.keys() <= held:  # as in a store that is in order: nothing is missing
            continue
        for key, versions in documents.items():
            if key not in held:
                seq, value = versions[0]
                file = _file_of(collection, value)
                if seq <= files.newest.get(file, 0):
                    number = value.number if collection == records.TASKS else 0
                    return Altered(file, number, "被删除（台账中有此记录）")
    return None


def _file_problems(folder: Path, history: History,
                   meetings: dict[int, Meeting]) -> tuple[FileProblem, ...]:
    """Every attachment of every check-in (undone ones too) and meeting record whose kept
    file is missing or differs from the record; each distinct file is read once."""
    latest = (versions[-1][1] for versions in history[records.TASKS].values())
    tasks = sorted((t for t in latest if any(c.attachments for c in t.checkins)),
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


def _file_of(collection: str, value: Any) -> str:
    if collection == records.TASKS:
        return f"{collection}-{records.task_shard(value)}.json"
    return f"{collection}-{shard_of(value.due_at.date())}.json"


def _altered(file: str, doc_id: str, number: int, problem: str) -> Altered:
    if number:
        return Altered(file, number, problem)
    return Altered(file, 0, f"中文档 {doc_id} {problem}")


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
