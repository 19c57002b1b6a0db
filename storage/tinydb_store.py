"""The TinyDB store: records held in memory, one TinyDB file per month, and the ledger.

Layout of a store folder:

    meta.json           format version and the day the bureau started (TinyDB)
    tasks-2026-12.json  the tasks due in December 2026 with their check-ins (TinyDB, doc id =
                        task number)
    outbox-2026-12.json the reminders and digests due to go out in December 2026
    ledger.jsonl       hash-chained record of every change (the write-ahead log)
    checkpoint.json    where the ledger stood when the files last caught up, and what lives
                       in the ledger alone (`storage.checkpoint`): start-up reads only what
                       follows it
    files/ab/ab12…      evidence photos and documents under their SHA-256 (`storage.files`)
    dutybot.lock       names the process that holds the store (the lock itself is on the
                       folder, so deleting this file never lets a second writer in)

A change is committed by appending its ledger record (fsync'd) and applying it in memory:
that is all a write costs, whatever the size of the bureau. The month files are a view of the
ledger, folded in later, off the write path: at the end of each reminder pass (every
minute), on closing, and after `FOLD_AFTER` unfolded records; each fold replaces the touched
months' files atomically. Each document remembers the ledger sequence number it reflects, so
at start-up, and in any reader beside the bot, every record its file has not caught up with
is applied again; `audit verify` compares a file with the ledger as it stood at that number.
Reads are served from memory, so their cost does not grow with years of history; the month
files' parsed data is let go once their documents are loaded.
"""

from __future__ import annotations

import bisect
import fcntl
import logging
import os
import re
import socket
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager, suppress
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from tinydb import TinyDB

from schedules.meetings import Meeting, MeetingRecord, MeetingState
from schedules.periods import period_kind
from schedules.reminders import SkipMark, Stage
from schedules.tasks import Attachment, CheckIn, PlannedTask, Status, Task
from storage import bindcodes, checkpoint, files, meeting_records, records, upgrade
from storage.atomic import OWN_TEMP, TEMP_SUFFIX, AtomicJSONStorage
from storage.backup import default_backups
from storage.bulk import collector_held
from storage.errors import (
    StoreCorrupt,
    StoreError,
    StoreLocked,
    StoreUnusable,
    StoreWriteFailed,
    os_why,
)
from storage.ledger import MAX_SKEW, Ledger, LedgerRecord, RecordInvalid, holds
from storage.records import RecordType, shard_of
from storage.repository import (
    BindRefusal,
    BindRefused,
    CheckinNotLive,
    Delegation,
    Delivery,
    Escalation,
    MeetingNotOpen,
    OutboxEntry,
    Outcome,
    TaskNotExcused,
    TaskNotOpen,
)
from storage.upgrade import FORMAT

log = logging.getLogger(__name__)

SYSTEM_ACTOR = "dutybot"
SHARD_FILE = re.compile(r"^(tasks|outbox)-(\d{4}-\d{2})\.json$")
LOCK_FILE = "dutybot.lock"
MIN_FREE_BYTES = 1 << 20  # less than this free on the disk: writes will fail soon
DELIVERY_MEMORY = timedelta(days=21)  # settled outbox entries kept in memory this long
FOLD_AFTER = 1000  # unfolded records that make a write fold the files itself (no ticker)
SETTLED = frozenset({Delivery.SENT, Delivery.SKIPPED, Delivery.FAILED, Delivery.UNKNOWN})
DocKey = tuple[str, str]  # (collection, key)
_NewTask = tuple[Task, int, DocKey, int, str]  # with its record, key, document id, month


_Read = TypeVar("_Read")


def _document(path: Path, doc_key: str, raw: Any,
              read: Callable[[Any], tuple[_Read, int]]) -> tuple[int, tuple[_Read, int]]:
    """A month file's document as `read` reads it, with its id; `StoreCorrupt` naming the
    file and the document if either cannot be read."""
    try:
        return int(doc_key), read(raw)
    except RecordInvalid as e:
        raise StoreCorrupt(path, f"中文档 {doc_key} 格式不对：{e}") from e
    except ValueError as e:
        raise StoreCorrupt(path, f"中文档 {doc_key} 格式不对：编号不是数字") from e


class _Unmade(Exception):
    """A record the files lag behind changes a task a view left unmade (`open`)."""


class TinyDBStore:
    def __init__(self, folder: Path, read_only: bool, backups: Path | None = None,
                 max_file_bytes: int = files.DEFAULT_MAX_MB * files.MB) -> None:
        self.folder = folder
        self.read_only = read_only
        self.files = files.FileStore(folder / files.FOLDER, max_file_bytes, read_only)
        self._backups = backups or default_backups(folder)  # where an upgrade's backup goes
        self.format = FORMAT  # the format the store is written in (an older one: read-only)
        self._lock = threading.RLock()
        self._lock_fd: int | None = None  # dutybot.lock, locked too (the first release's)
        self._folder_fd: int | None = None  # flock'd: the lock that cannot be deleted
        self.notices: list[str] = []  # what opening found and did, for the admin to read
        self._since = date.min
        self._tasks: dict[str, Task] = {}
        self._open: set[str] = set()  # keys of open tasks, read by the minute pass
        self._open_by_owner: dict[str, set[str]] = defaultdict(set)  # for 待办
        self._outbox: dict[str, OutboxEntry] = {}
        self._handled: set[str] = set()  # notice keys in the outbox
        self._seq: dict[DocKey, int] = {}  # the ledger record each document reflects
        self._doc_id: dict[DocKey, int] = {}
        self._last_entry_id = 0
        self._escalated: set[str] = set()  # task|stage already recorded as escalated
        self._escalations: list[Escalation] = []
        self._skipped: dict[str, dict[str, SkipMark]] = {}  # task -> recipient -> mark
        self._accounts: dict[tuple[str, str], str] = {}  # (channel, account) -> person
        self._account_of: dict[tuple[str, str], str] = {}  # (channel, person) -> account
        self._used_codes: dict[str, tuple[str, str]] = {}  # code digest -> (channel, account)
        self._bind_refusals: list[BindRefusal] = []
        self._delegations: dict[str, Delegation] = {}  # person -> the one standing in
        self._forgotten_on: date | None = None  # the day settled deliveries were let go
        self._meetings: dict[int, Meeting] = {}  # rebuilt from the ledger (no file of their own)
        self._live: set[int] = set()  # meetings not yet recorded: what the minute pass reads
        self._top = 0  # the highest task or meeting number: one sequence for both
        # Entries still in motion, so the minute pass need not scan years of sent ones.
        self._in_state: dict[Delivery, set[str]] = {Delivery.PENDING: set(),
                                                    Delivery.SENDING: set()}
        self._defer = 0  # inside deferred_files(): the files are folded at its end only
        self._by_number: dict[int, str] = {}
        self._by_owner: dict[str, list[str]] = defaultdict(list)
        self._sources: dict[str, Outcome] = {}  # inbound message source -> what it did
        # Every check-in by its date, (at, task, id): sorted when read (a meeting's record
        # checks in at the time it was held, so they do not come in order).
        self._checkin_times: list[tuple[datetime, str, str]] = []
        self._times_sorted = True
        # Person -> their check-ins, as the very tuples of `_checkin_times`.
        self._checkins_by: dict[str, list[tuple[datetime, str, str]]] = defaultdict(list)
        self._shard: dict[DocKey, str] = {}  # document -> the month file that holds it
        self._shards: dict[tuple[str, str], TinyDB] = {}
        self._dirty: set[DocKey] = set()  # documents ahead of their month file
        self._since_fold = 0  # records committed since the files were last folded
        self._opened = False  # loaded whole: only then may closing write the files
        self._ledger: Ledger | None = None
        self._kept: list[dict[str, Any]] = []  # `checkpoint.KEPT` records, for the next one
        self._file_marks: checkpoint.FileMarks = {}  # what each month file holds
        self._checkpointed = 0  # the record the newest checkpoint stands at
        self.checkpoint_every = checkpoint.EVERY
        self._planned: checkpoint.Planned | None = None  # see `planned_through`
        self._planned_checkpointed: checkpoint.Planned | None = None  # in the newest one
        self.replayed = 0  # ledger records read at opening (those after the checkpoint)
        # A read-only view of the tasks that count in a span (`open`'s `counting_in`): the
        # documents of the others are only noted, as (collection, key), with their record.
        self._counting_in: tuple[date, date] | None = None
        self._unmade: set[DocKey] = set()

    # ---- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, folder: Path, now: datetime, read_only: bool = False,
             backups: Path | None = None,
             max_file_bytes: int = files.DEFAULT_MAX_MB * files.MB,
             counting_in: tuple[date, date] | None = None) -> TinyDBStore:
        """Open (or create) the store in `folder`.

        Raises `StoreLocked` when another process holds it, `StoreCorrupt` when a file
        cannot be trusted (nothing is then written), `StoreUnusable` when the folder cannot
        be created or read. A folder that can be read but not written opens for queries
        (see `write_problem`). `read_only` takes no lock and writes nothing, for previews
        and audits beside a running bot. A store an older release wrote is upgraded (see
        `storage.upgrade`) after a backup into `backups`; a newer one raises `StoreTooNew`.
        Evidence files bigger than `max_file_bytes` are not kept (`files`).

        `counting_in` (read-only) holds only the tasks that count in those days, first and
        last (`schedules.tasks.reporting_day`), and the tasks the ledger made since the
        files were written: a report of one year then makes a third of three years' tasks.
        The other documents are read and noted, not made, nor checked as closely. Should a
        record the files lag behind change one of them, the store is opened whole.
        """
        if counting_in is not None:
            assert read_only, "a store that holds only some tasks must not write"
            try:
                return cls._open_as(folder, now, True, backups, max_file_bytes, counting_in)
            except _Unmade:
                log.info("a record since the files changes a task outside %s: reading all",
                         counting_in)
        return cls._open_as(folder, now, read_only, backups, max_file_bytes, None)

    @classmethod
    def _open_as(cls, folder: Path, now: datetime, read_only: bool, backups: Path | None,
                 max_file_bytes: int, counting_in: tuple[date, date] | None) -> TinyDBStore:
        store = cls(folder, read_only, backups, max_file_bytes)
        store._counting_in = counting_in
        lock_existed = (folder / LOCK_FILE).exists()
        try:
            try:
                with collector_held(keep=True):
                    store._load(now)
                store.forget_old_deliveries(now)
            except OSError as e:
                where = f"：{e.filename}" if e.filename and str(e.filename) != str(folder) else ""
                raise StoreUnusable(folder, os_why(e) + where) from None
        except BaseException as e:
            store.close()  # not `_opened`: writes nothing
            if not lock_existed and not isinstance(e, StoreLocked):
                with suppress(OSError):
                    (folder / LOCK_FILE).unlink(missing_ok=True)  # leave no trace behind
            raise
        store._opened = True
        return store

    def _load(self, now: datetime) -> None:
        if not self.read_only:
            if not self.folder.is_dir():
                self.folder.mkdir(parents=True, exist_ok=True)
            self._take_lock()
        meta = self._load_meta(now)
        self._since = meta["since"]
        if not self.read_only:  # only now is the folder known to be a store
            for orphan in self._own_temp_files():
                log.info("removing %s left by an interrupted write", orphan.name)
                with suppress(OSError):  # an unwritable folder: left for a later start
                    orphan.unlink()
            with suppress(OSError):
                for orphan in self.files.remove_orphans():
                    log.info("removed %s left by an interrupted write", orphan.name)
        settled: list[DocKey] = []
        for path in sorted([*self.folder.glob("tasks-*.json"),
                            *self.folder.glob("outbox-*.json")]):
            settled += self._load_shard(path, now - DELIVERY_MEMORY)
        newest_in_files = max(self._seq.values(), default=0)
        self._ledger = self._open_ledger(self.folder / "ledger.jsonl")
        for doc in settled:  # their sequence numbers were needed only for the replay
            self._seq.pop(doc, None)
        if settled:
            self._seq = dict(self._seq)  # a dict keeps its size when emptied: let it shrink
        if newest_in_files > self._ledger.last_seq:
            raise StoreCorrupt(
                self._ledger.path,
                f"比任务文件旧：任务文件记到第 {newest_in_files} 条记录，台账只有 "
                f"{self._ledger.last_seq} 条（台账可能被删除或回退）",
            )
        if self.read_only:
            return
        # Everything checked: only now may a torn tail be set aside and the files catch up.
        try:
            done = self._ledger.repair_tail()
        except OSError as e:
            done = (f"台账 {self._ledger.path} 末尾有一段中断的写入，"
                    f"但目录无法写入（{os_why(e)}），暂未处理；恢复写入后下次启动时会处理。")
        if done:
            log.warning("%s", done)
            self.notices.append(done)
        if self._dirty:
            log.warning("applying %d change(s) the ledger holds but the files missed",
                        len(self._dirty))
            try:
                self._persist()
            except OSError as e:  # committed in the ledger; the files catch up later
                log.error("could not update the store files: %s", e)
        self._write_checkpoint()  # after a long replay: the next start reads less

    def _open_ledger(self, path: Path) -> Ledger:
        """Verify and replay the ledger: from the checkpoint if it holds (see
        `storage.checkpoint`), else from the first record."""
        mark = checkpoint.read(self.folder)
        if mark is not None and not (mark.fits(self._file_marks) and holds(path, mark.mark)):
            log.warning("the checkpoint does not match the ledger or the month files: "
                        "reading the whole ledger")
            mark = None
        if mark is not None:
            self._sources = dict(mark.sources)
            for record in mark.replayed():
                self._note(record)
            self._checkpointed = mark.mark.seq
            self._planned = self._planned_checkpointed = mark.planned
        ledger = Ledger.open(path, self._replay, after=mark.mark if mark else None,
                             newest=mark.newest if mark else None)
        self.replayed = ledger.last_seq - (mark.mark.seq if mark else 0)
        return ledger

    def _write_checkpoint(self, closing: bool = False) -> None:
        """Write a checkpoint at the ledger's last record, if the files have caught up with
        it and enough has happened since the last one (any record at all when closing)."""
        ledger = self._ledger
        if (self.read_only or ledger is None or ledger.last is None or self._dirty
                or ledger.newest is None or ledger.unterminated or ledger.torn_at is not None):
            return
        behind = ledger.last.seq - self._checkpointed
        replanned = closing and self._planned != self._planned_checkpointed
        if not replanned and (behind <= 0 or (behind < self.checkpoint_every and not closing)):
            return
        try:
            checkpoint.write(self.folder, checkpoint.Checkpoint(
                ledger.last, ledger.newest, self._kept, self._sources, self._file_marks,
                self._planned))
        except OSError as e:  # the ledger and the files are whole: start-up reads more
            log.error("could not write the checkpoint: %s", e)
            return
        self._checkpointed = ledger.last.seq
        self._planned_checkpointed = self._planned

    def planned_through(self, plan: str) -> date | None:
        """The day tasks were planned through under the plan named `plan` (a fingerprint
        of what planning reads), as the newest checkpoint remembers; None if it does not
        (another plan, no checkpoint): plan from the first day."""
        found = self._planned
        return found.through if found is not None and found.plan == plan else None

    def planned_memo(self, plan: str) -> dict[str, Any]:
        """What `note_planned` was last given as `memo` under the plan named `plan`, as the
        newest checkpoint remembers; {} if nothing (another plan, no checkpoint)."""
        found = self._planned
        return dict(found.memo or {}) if found is not None and found.plan == plan else {}

    def note_planned(self, plan: str, through: date,
                     memo: dict[str, Any] | None = None) -> None:
        """Remember, for the next checkpoint, that tasks are planned through `through`
        under `plan`, and `memo` (plain JSON) for `planned_memo` at the next start."""
        with self._lock:
            self._planned = checkpoint.Planned(plan, through, memo or None)

    def write_problem(self) -> str | None:
        """Why writes will fail (permissions, a read-only or full disk), in words for the
        admin; None when the store looks writable."""
        if self.read_only:
            return None
        ledger = self.folder / "ledger.jsonl"
        why = ""
        if not os.access(self.folder, os.W_OK | os.X_OK) or (
                ledger.exists() and not os.access(ledger, os.W_OK)):
            why = "没有写入权限，或磁盘为只读"
        else:
            try:
                probe = self.folder / f".write-probe.{os.getpid()}{TEMP_SUFFIX}"
                probe.write_bytes(b"")
                probe.unlink()
                stat = os.statvfs(self.folder)
                if stat.f_bavail * stat.f_frsize < MIN_FREE_BYTES:
                    why = "磁盘空间已满"
            except OSError as e:
                why = os_why(e)
        if not why:
            return None
        return (f"数据目录 {self.folder} 目前无法写入（{why}）：查询照常可用，"
                "但完成记录、提醒发送等写入会失败，恢复写入后自动继续。"
                "请检查该目录的权限和磁盘空间。")

    def _load_shard(self, path: Path, settled_before: datetime) -> list[DocKey]:
        """Index a month file's documents. Its parsed data is not kept: the objects made of
        it are what the store serves, and the first fold that changes the month reads the
        file again (off the write path; a bot that only answers queries never does).
        Outbox entries settled before `settled_before` are only noted as handled (no object:
        a settled entry never changes again, so no later record can be about it); the
        documents so noted are returned."""
        collection, shard = self._shard_of_file(path)
        storage = self._shard_db(collection, shard).storage
        assert isinstance(storage, AtomicJSONStorage)
        # The raw tables, not TinyDB's Table API: it wraps every document (slow for years).
        table = (storage.read() or {}).get(collection, {})
        storage.forget()
        if collection == records.TASKS:
            newest = self._load_tasks(path, shard, table)
            self._file_marks[path.name] = (len(table), newest)
            return []
        settled: list[DocKey] = []
        newest = 0
        for doc_key, raw in table.items():
            doc_id, (entry, seq) = _document(path, doc_key, raw, records.entry_from_doc)
            doc = (collection, entry.key)  # one tuple for every index of the document
            if doc in self._seq:
                raise StoreCorrupt(path, f"重复了记录 {entry.key}")
            newest = max(newest, seq)
            self._last_entry_id = max(self._last_entry_id, doc_id)
            if entry.state in SETTLED and (entry.updated or entry.due_at) < settled_before:
                self._seq[doc] = seq
                self._handled.add(entry.notice)
                settled.append(doc)
                continue
            self._shard[doc] = shard
            self._doc_id[doc] = doc_id
            self._index_entry(entry, seq, doc)
        self._file_marks[path.name] = (len(table), newest)
        return settled

    def _load_tasks(self, path: Path, shard: str, table: dict[str, Any]) -> int:
        """Index a month file's tasks (`_index_new`); the newest record they reflect. A view
        of the tasks counting in some days (`open`) only notes the others'."""
        seqs, by_number, counting_in, newest = self._seq, self._by_number, self._counting_in, 0
        batch: list[_NewTask] = []
        for doc_key, raw in table.items():
            if counting_in is not None:
                day = records.reporting_day_of(raw)
                key, seq = raw.get("key"), raw.get("seq")  # a dict when `day` is not None
                if (day is not None and not counting_in[0] <= day <= counting_in[1]
                        and type(key) is str and type(seq) is int
                        and (records.TASKS, key) not in seqs):
                    seqs[records.TASKS, key] = seq
                    self._unmade.add((records.TASKS, key))
                    newest = max(newest, seq)
                    continue
            doc_id, (task, seq) = _document(path, doc_key, raw, records.task_from_doc)
            doc = (records.TASKS, task.key)  # one tuple for every index of the document
            if doc in seqs:
                raise StoreCorrupt(path, f"重复了记录 {task.key}")
            if task.number in by_number:
                raise StoreCorrupt(
                    path, f"中文档 {doc_key} 的任务编号 {task.number} 与另一任务重复")
            batch.append((task, seq, doc, doc_id, shard))
        tasks, numbers = len(self._tasks), len(by_number)
        newest = max(newest, self._index_new(batch))
        if len(self._tasks) - tasks < len(batch) or len(by_number) - numbers < len(batch):
            self._clash_in(path, batch)  # two documents of this file: one task
        return newest

    @staticmethod
    def _clash_in(path: Path, batch: list[_NewTask]) -> NoReturn:
        keys: set[str] = set()
        numbers: set[int] = set()
        for task, _, _, doc_id, _ in batch:
            if task.key in keys:
                raise StoreCorrupt(path, f"重复了记录 {task.key}")
            if task.number in numbers:
                raise StoreCorrupt(
                    path, f"中文档 {doc_id} 的任务编号 {task.number} 与另一任务重复")
            keys.add(task.key)
            numbers.add(task.number)
        raise AssertionError("no clash found")

    def _index_new(self, batch: Iterable[_NewTask]) -> int:
        """Index tasks the store does not hold yet, each with its record, document key,
        document id and month: the first-time path of `_index_task`, in one loop (opening
        indexes every task of the history this way); the newest record among them."""
        tasks, seqs, shards, doc_ids = self._tasks, self._seq, self._shard, self._doc_id
        by_number, by_owner, is_open = self._by_number, self._by_owner, self._open
        open_by_owner, by_person = self._open_by_owner, self._checkins_by
        times, top, newest, in_order = self._checkin_times, self._top, 0, self._times_sorted
        last_time = times[-1][0] if times else None
        for task, seq, doc, doc_id, shard in batch:
            key, owner = task.key, task.owner
            tasks[key] = task  # before the indexes, so a lock-free reader never misses it
            seqs[doc] = seq
            shards[doc] = shard
            doc_ids[doc] = doc_id
            if task.status is Status.OPEN:
                is_open.add(key)
                open_by_owner[owner].add(key)
            by_number[task.number] = key
            if task.number > top:
                top = task.number
            by_owner[owner].append(key)
            if seq > newest:
                newest = seq
            for c in task.checkins:
                at = c.at
                if last_time is not None and at < last_time:
                    in_order = False
                noted = (at, key, c.id)  # one tuple for both indexes
                times.append(noted)
                by_person[c.person].append(noted)
                last_time = at
        self._top, self._times_sorted = top, in_order
        return newest

    def _own_temp_files(self) -> list[Path]:
        return [p for p in self.folder.glob(f"*{TEMP_SUFFIX}") if OWN_TEMP.match(p.name)]

    def _take_lock(self) -> None:
        """Lock the folder itself (a file could be deleted from under us, letting a second
        writer in); the lock file only says who holds it. The first release locked that
        file, so it is locked too while it can be."""
        fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreLocked(self.folder, self._holder()) from None
        self._folder_fd = fd
        try:
            lock_fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return  # a folder we cannot write: queries only (see `write_problem`)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a first-release process holds the store
            os.close(lock_fd)
            raise StoreLocked(self.folder, self._holder()) from None
        self._lock_fd = lock_fd
        with suppress(OSError):  # who holds it is a courtesy; a full disk may refuse it
            os.ftruncate(lock_fd, 0)
            os.pwrite(lock_fd, f"pid {os.getpid()} on {socket.gethostname()}\n".encode(), 0)

    def _holder(self) -> str:
        try:
            return (self.folder / LOCK_FILE).read_text(encoding="utf-8").strip() or "未知进程"
        except OSError:
            return "未知进程"

    def _load_meta(self, now: datetime) -> dict[str, Any]:
        path = self.folder / "meta.json"
        if not path.exists():
            ours = {LOCK_FILE, bindcodes.FILE, *(p.name for p in self._own_temp_files())}
            existing = ([p.name for p in self.folder.glob("*") if p.name not in ours]
                        if self.folder.is_dir() else [])
            if existing:
                raise StoreCorrupt(path, f"缺失，但目录中已有 {sorted(existing)}")
            meta = {"format": FORMAT, "since": now.date().isoformat(),
                    "created": now.isoformat(), "release": upgrade.release()}
            if not self.read_only:
                TinyDB(path, storage=AtomicJSONStorage).table("meta").insert(meta)
            return {**meta, "since": now.date()}
        rows = TinyDB(path, storage=AtomicJSONStorage).table("meta").all()
        if len(rows) != 1 or not isinstance(rows[0].get("since"), str):
            raise StoreCorrupt(path, "中没有数据目录的元信息")
        found = rows[0].get("format")
        if not isinstance(found, int) or isinstance(found, bool) or found < 1:
            raise StoreCorrupt(path, f"中的数据格式版本 {found!r} 不是正整数")
        if found > FORMAT:
            raise upgrade.StoreTooNew(path, found)
        if found < FORMAT and not self.read_only:  # read-only opens read it as it is
            done = upgrade.upgrade(self.folder, found, self._backups, now)
            log.warning("%s", done)
            self.notices.append(done)
        else:
            self.format = found
        try:
            since = date.fromisoformat(rows[0]["since"])
        except ValueError:
            raise StoreCorrupt(path, "中的开始日期 since 不是日期") from None
        return {**rows[0], "since": since}

    @staticmethod
    def _shard_of_file(path: Path) -> tuple[str, str]:
        match = SHARD_FILE.match(path.name)
        if match is None:
            raise StoreCorrupt(path, "不是本程序的数据文件（应为 tasks-YYYY-MM.json）")
        return match[1], match[2]

    def _shard_db(self, collection: str, shard: str) -> TinyDB:
        db = self._shards.get((collection, shard))
        if db is None:
            db = self._shards[collection, shard] = TinyDB(
                self.folder / f"{collection}-{shard}.json", storage=AtomicJSONStorage,
                follows_ledger=True)
        return db

    def _index_task(self, task: Task, seq: int, doc: DocKey | None = None) -> None:
        """Index a task (new or changed); `doc`, its document key, when the caller has it."""
        key = task.key
        doc = doc or (records.TASKS, key)
        previous = self._tasks.get(key)
        if previous is None:
            self._index_new([(task, seq, doc, self._doc_id.get(doc, task.number),
                              self._shard.get(doc) or records.task_shard(task))])
            return
        self._tasks[key] = task  # before the indexes, so a lock-free reader never misses it
        self._seq[doc] = seq
        if task.status is Status.OPEN:
            self._open.add(key)
            self._open_by_owner[task.owner].add(key)
        else:
            self._open.discard(key)
            self._open_by_owner[task.owner].discard(key)
        known = {c.id: c.at for c in previous.checkins}
        for c in task.checkins:
            if c.id not in known:
                self._note_checkin(key, c)
            elif known[c.id] != c.at:  # a meeting's corrected record: held at another time
                self._note_time(key, c)

    def _note_checkin(self, key: str, c: CheckIn) -> None:
        self._checkins_by[c.person].append(self._note_time(key, c))

    def _note_time(self, key: str, c: CheckIn) -> tuple[datetime, str, str]:
        times = self._checkin_times
        if times and c.at < times[-1][0]:
            self._times_sorted = False
        noted = (c.at, key, c.id)
        times.append(noted)
        return noted

    def _index_entry(self, entry: OutboxEntry, seq: int, doc_key: DocKey | None = None) -> None:
        key = doc_key or (records.OUTBOX, entry.key)  # one key object for every index
        if key[1] not in self._outbox:
            self._shard.setdefault(key, shard_of(entry.due_at.date()))
            if key not in self._doc_id:
                self._last_entry_id += 1
                self._doc_id[key] = self._last_entry_id
            self._handled.add(entry.notice)
        self._outbox[key[1]] = entry
        self._seq[key] = seq
        for state, keys in self._in_state.items():
            if state is entry.state:
                keys.add(key[1])
            else:
                keys.discard(key[1])

    def forget_old_deliveries(self, now: datetime) -> None:
        """Let go of outbox entries settled long ago (sent, skipped, failed): years of them
        would fill memory, and nothing reads them again — their notices stay `handled`,
        their documents stay in the files, and the weekly report of problems looks back
        only `DELIVERY_MEMORY`. Done at opening and then once a day."""
        with self._lock:
            if self._forgotten_on == now.date():
                return
            self._forgotten_on = now.date()
            cutoff = now - DELIVERY_MEMORY
            for key, entry in list(self._outbox.items()):
                doc_key = (records.OUTBOX, key)
                if (entry.state not in SETTLED or doc_key in self._dirty
                        or (entry.updated or entry.due_at) >= cutoff):
                    continue
                del self._outbox[key]
                for index in (self._seq, self._doc_id, self._shard):
                    index.pop(doc_key, None)

    def _checkin(self, task_key: str, checkin_id: str) -> CheckIn:
        """The check-in, or KeyError (never StopIteration, which generators swallow)."""
        return self._tasks[task_key].find_checkin(checkin_id)

    def _replay(self, record: LedgerRecord) -> None:
        """Apply a ledger record to every document whose file does not reflect it yet."""
        self._note(record)
        outcome = checkpoint.source_outcome(record)
        if outcome is not None:
            self._sources.setdefault(record.data["source"], outcome)
        if all(self._seq.get(doc, 0) >= record.seq for doc in records.touches(record)):
            return  # every document it changed already reflects it
        for collection, key, effect in records.effects(record):
            if self._seq.get((collection, key), 0) < record.seq:
                if (collection, key) in self._unmade:
                    raise _Unmade
                if collection == records.TASKS:
                    self._index_task(effect(self._tasks.get(key)), record.seq)
                else:
                    self._index_entry(effect(self._outbox.get(key)), record.seq)
                self._dirty.add((collection, key))

    def _note(self, record: LedgerRecord) -> None:
        """Apply what a record does beyond the month files (`checkpoint.KEPT`)."""
        records.check(record)
        if record.type not in checkpoint.KEPT:
            return
        self._kept.append(checkpoint.body(record))
        self._note_escalation(record)
        self._note_binding(record)
        if record.type == RecordType.BIND_REFUSED:
            self._bind_refusals.append(BindRefusal(
                str(record.data["channel"]), str(record.data["account"]), record.moment))
        elif record.type == RecordType.DELEGATED:
            until = record.data.get("until")
            self._delegations[record.data["person"]] = Delegation(
                record.data["person"], record.data["delegate"], record.moment,
                date.fromisoformat(until) if until else None)
        elif record.type == RecordType.DELEGATION_ENDED:
            self._delegations.pop(record.data["person"], None)
        elif record.type == RecordType.REMINDERS_SKIPPED:
            for group in record.data["skipped"]:
                mark = SkipMark(datetime.fromisoformat(group[0]),
                                group[3] if len(group) > 3 else 0)
                for task in group[2]:
                    held = self._skipped.setdefault(task, {})
                    for recipient in group[1]:
                        if _moves_on(held.get(recipient), mark):
                            held[recipient] = mark
        elif record.type in records.MEETING_RECORDS:
            number = meeting_records.number_of(record)
            meeting = self._meetings[number] = meeting_records.apply(record,
                                                                     self._meetings.get(number))
            if meeting.state is MeetingState.HELD:
                self._live.discard(number)
            else:
                self._live.add(number)
            self._top = max(self._top, number)

    def _note_escalation(self, record: LedgerRecord) -> None:
        if record.type == RecordType.ESCALATION:
            items = [record.data]
        elif record.type == RecordType.ESCALATIONS:
            items = record.data["items"]
        else:
            return
        for data in items:
            self._escalated.add(f"{data['task']}|{data.get('stage', Stage.ESCALATION)}")
            self._escalations.append(Escalation(
                task=data["task"], at=record.moment,
                told=tuple(data.get("to", ())), missed=tuple(data.get("missed", ())),
                workdays_overdue=int(data.get("workdays_overdue", 0))))

    def _note_binding(self, record: LedgerRecord) -> None:
        if record.type != RecordType.ACCOUNT_BOUND:
            return
        data = record.data
        channel, account, person = data["channel"], str(data["account"]), data["person"]
        old_account = self._account_of.get((channel, person))
        if old_account is not None:  # a person has one account per channel: the newest
            self._accounts.pop((channel, old_account), None)
        old_person = self._accounts.get((channel, account))
        if old_person is not None:  # and an account serves one person
            self._account_of.pop((channel, old_person), None)
        self._accounts[channel, account] = person
        self._account_of[channel, person] = account
        self._used_codes[data["code"]] = (channel, account)

    # ---- writing -------------------------------------------------------------------------

    def _already(self, source: str | None, type: str, task_key: str,
                 checkin_id: str | None = None) -> bool:
        """Whether the message `source` already did this (a redelivery: answer, don't
        repeat); a source that did something else is a bug in the caller."""
        done = self._sources.get(source) if source else None
        if done is None:
            return False
        if (done.type, done.task) != (type, task_key) or (
                checkin_id is not None and done.checkin != checkin_id):
            raise ValueError(f"source {source} already did {done}")
        return True

    def _commit(self, at: datetime, type: str, actor: str, data: dict[str, Any]) -> LedgerRecord:
        """Append the record (the commit point: durable once this returns) and apply it in
        memory. The month files follow at the next fold (see the module's docstring)."""
        if self.read_only or self._ledger is None:
            raise StoreError("this store was opened read-only")
        record = self._ledger.append(at, type, actor, data)
        self._replay(record)
        self._since_fold += 1
        if self._since_fold >= FOLD_AFTER and not self._defer:
            self.fold()  # nothing has folded for a long while (no ticker): keep start-up short
        return record

    def _commit_many(self, at: datetime,
                     items: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        """`_commit` for several records with one durable append (one fsync)."""
        if self.read_only or self._ledger is None:
            raise StoreError("this store was opened read-only")
        for record in self._ledger.append_many(at, items):
            self._replay(record)
            self._since_fold += 1
        if self._since_fold >= FOLD_AFTER and not self._defer:
            self.fold()

    def fold(self, closing: bool = False) -> None:
        """Bring the month files up to the ledger: each file with a changed document is
        replaced atomically. A failure is logged and tried again at the next fold (the
        ledger holds every change; start-up and readers apply what the files lack). Then,
        every `checkpoint_every` records and when `closing`, a checkpoint."""
        with self._lock:
            if self.read_only or self._ledger is None:
                return
            self._since_fold = 0  # a failing disk is tried again at the next fold, not at once
            try:
                self._persist()
            except (OSError, StoreCorrupt) as e:  # an old month file spoilt meanwhile, say
                log.error("could not update the store files to record %d: %s",
                          self._ledger.last_seq, e)
                return
            self._write_checkpoint(closing)

    def _persist(self) -> None:
        by_file: dict[tuple[str, str], list[DocKey]] = defaultdict(list)
        for doc_key in self._dirty:
            by_file[doc_key[0], self._shard[doc_key]].append(doc_key)
        for (collection, shard), keys in sorted(by_file.items()):
            db = self._shard_db(collection, shard)
            storage = db.storage
            assert isinstance(storage, AtomicJSONStorage)
            # Through TinyDB's storage, not its Table API: `Table.upsert` rebuilds the whole
            # table for each document, which is quadratic for a month of new tasks.
            data = storage.read() or {}
            table = data.setdefault(collection, {})
            for doc_key in keys:
                table[str(self._doc_id[doc_key])] = self._doc(doc_key)
            storage.write(data)
            db.table(collection).clear_cache()
            self._dirty.difference_update(keys)
            name = f"{collection}-{shard}.json"
            docs, newest = self._file_marks.get(name, (0, 0))
            # Never fewer documents than the file held: one that lost some since it was
            # loaded (deleted, an older copy put back) is written with only the changed
            # ones, and the next start must find it short and read the whole ledger.
            self._file_marks[name] = (max(docs, len(table)),
                                      max(newest, *(self._seq[k] for k in keys)))

    def _doc(self, doc_key: DocKey) -> dict[str, Any]:
        collection, key = doc_key
        if collection == records.TASKS:
            return records.task_to_doc(self._tasks[key], self._seq[doc_key])
        return records.entry_to_doc(self._outbox[key], self._seq[doc_key])

    def add_tasks(self, planned: Sequence[PlannedTask], at: datetime) -> list[Task]:
        with self._lock:
            new: list[dict[str, Any]] = []
            moved: list[PlannedTask] = []
            number = self._next_number() - 1
            for p in planned:
                existing = self._tasks.get(p.key)
                if existing is None:
                    number += 1
                    spec = {"key": p.key, "number": number, "duty": p.duty, "owner": p.owner,
                            "period": p.period, "due": p.due.isoformat()}
                    if p.title:  # names as they were: shown if the config drops them
                        spec |= {"title": p.title, "owner_name": p.owner_name}
                    new.append(spec)
                elif existing.status is Status.OPEN and existing.due != p.due:
                    moved.append(p)
            if new:
                self._commit(at, RecordType.TASKS_OPENED, SYSTEM_ACTOR, {"tasks": new})
            for p in moved:
                self._commit(at, RecordType.TASK_DUE_CHANGED, SYSTEM_ACTOR,
                             {"task": p.key, "due": p.due.isoformat()})
            return [self._tasks[k] for k in [d["key"] for d in new] + [p.key for p in moved]]

    def check_in(
        self,
        task_key: str,
        person: str,
        at: datetime,
        note: str,
        channel: str,
        source: str | None = None,
        attachments: Sequence[Attachment] = (),
        on_behalf_of: str = "",
    ) -> CheckIn:
        with self._lock:
            done = self._sources.get(source) if source else None
            if done is not None:
                if done.type != RecordType.CHECKIN or done.task != task_key:
                    raise ValueError(f"source {source} already did {done}")
                return self._checkin(done.task, done.checkin)
            task = self._tasks[task_key]
            if task.status is not Status.OPEN:
                raise TaskNotOpen(task_key)
            assert self._ledger is not None
            checkin = CheckIn(
                id=f"c{self._ledger.last_seq + 1}", task=task_key, person=person, at=at,
                note=note, channel=channel, attachments=tuple(attachments),
                on_behalf_of=on_behalf_of if on_behalf_of != person else "",
            )
            self._commit(at, RecordType.CHECKIN, person, {
                "task": task_key, "checkin": records.checkin_to_doc(checkin), "source": source,
            })
            return checkin

    def undo_checkin(
        self, task_key: str, checkin_id: str, person: str, at: datetime,
        source: str | None = None, reason: str = "",
    ) -> Task:
        with self._lock:
            if self._already(source, RecordType.CHECKIN_UNDONE, task_key, checkin_id):
                return self._tasks[task_key]
            if self._checkin(task_key, checkin_id).undone_at is not None:
                raise CheckinNotLive(checkin_id)
            data: dict[str, Any] = {"task": task_key, "checkin": checkin_id, "source": source}
            if reason:
                data["reason"] = reason
            self._commit(at, RecordType.CHECKIN_UNDONE, person, data)
            return self._tasks[task_key]

    def restore_checkin(self, task_key: str, checkin_id: str, person: str, at: datetime,
                        source: str | None = None) -> Task:
        with self._lock:
            if self._already(source, RecordType.CHECKIN_RESTORED, task_key, checkin_id):
                return self._tasks[task_key]
            if self._checkin(task_key, checkin_id).undone_at is None:
                raise CheckinNotLive(checkin_id)
            if self._tasks[task_key].status is not Status.OPEN:
                raise TaskNotOpen(task_key)
            self._commit(at, RecordType.CHECKIN_RESTORED, person,
                         {"task": task_key, "checkin": checkin_id, "source": source})
            return self._tasks[task_key]

    def bind_account(self, channel: str, account: str, code: str, at: datetime,
                     source: str | None = None) -> str:
        with self._lock:
            issued = bindcodes.find(self.folder, code)
            if issued is None:
                raise BindRefused("unknown")
            used = self._used_codes.get(issued.digest)
            if used == (channel, account):
                return issued.person  # the same account again (a redelivered message)
            if used is not None:
                raise BindRefused("used")
            if at > issued.expires:
                raise BindRefused("expired")
            self._commit(at, RecordType.ACCOUNT_BOUND, issued.person, {
                "channel": channel, "account": account, "person": issued.person,
                "code": issued.digest, "source": source})
            return issued.person

    def record_bind_refusal(self, channel: str, account: str, reason: str, at: datetime,
                            source: str | None = None) -> None:
        with self._lock:
            if source and source in self._sources:
                return  # a redelivered message: counted once
            self._commit(at, RecordType.BIND_REFUSED, SYSTEM_ACTOR, {
                "channel": channel, "account": account, "reason": reason, "source": source})

    def delegate(self, person: str, delegate: str, until: date | None, at: datetime,
                 source: str | None = None) -> Delegation:
        with self._lock:
            if not (source and source in self._sources):
                self._commit(at, RecordType.DELEGATED, person, {
                    "person": person, "delegate": delegate, "source": source,
                    "until": until.isoformat() if until else None})
            return self._delegations[person]

    def end_delegation(self, person: str, at: datetime, source: str | None = None) -> None:
        with self._lock:
            if source and source in self._sources:
                return
            self._commit(at, RecordType.DELEGATION_ENDED, person,
                         {"person": person, "source": source})

    def delegations(self) -> list[Delegation]:
        with self._lock:
            return list(self._delegations.values())

    def bind_refusals_since(self, moment: datetime) -> list[BindRefusal]:
        with self._lock:
            return [r for r in self._bind_refusals if r.at > moment]

    def account_person(self, channel: str, account: str) -> str | None:
        with self._lock:
            return self._accounts.get((channel, account))

    def account_of(self, channel: str, person: str) -> str | None:
        with self._lock:
            return self._account_of.get((channel, person))

    def attach(self, task_key: str, checkin_id: str, attachments: Sequence[Attachment],
               person: str, at: datetime, source: str | None = None) -> Task:
        with self._lock:
            if source and source in self._sources:
                return self._tasks[task_key]
            self._checkin(task_key, checkin_id)  # KeyError if there is no such check-in
            self._commit(at, RecordType.CHECKIN_ATTACHED, person, {
                "task": task_key, "checkin": checkin_id, "source": source,
                "attachments": records._attachments_to_doc(attachments)})
            return self._tasks[task_key]

    def excuse(self, task_key: str, person: str, at: datetime, reason: str,
               source: str | None = None) -> Task:
        with self._lock:
            if self._already(source, RecordType.TASK_EXCUSED, task_key):
                return self._tasks[task_key]
            if self._tasks[task_key].status is not Status.OPEN:
                raise TaskNotOpen(task_key)
            self._commit(at, RecordType.TASK_EXCUSED, person,
                         {"task": task_key, "reason": reason, "source": source})
            return self._tasks[task_key]

    def withdraw_excuse(self, task_key: str, person: str, at: datetime, reason: str = "",
                        source: str | None = None) -> Task:
        with self._lock:
            if self._already(source, RecordType.TASK_UNEXCUSED, task_key):
                return self._tasks[task_key]
            if self._tasks[task_key].status is not Status.EXCUSED:
                raise TaskNotExcused(task_key)
            self._commit(at, RecordType.TASK_UNEXCUSED, person,
                         {"task": task_key, "reason": reason, "source": source})
            return self._tasks[task_key]

    def open_event_task(self, duty: str, owner: str, due: date, note: str, person: str,
                        at: datetime, source: str | None = None) -> Task:
        with self._lock:
            done = self._sources.get(source) if source else None
            if done is not None:
                if done.type != RecordType.TASKS_OPENED:
                    raise ValueError(f"source {source} already did {done}")
                return self._tasks[done.task]
            prefix = f"{duty}:{owner}:{at.date().isoformat()}#"
            same_day = sum(1 for k in self._by_owner.get(owner, ()) if k.startswith(prefix))
            key = f"{prefix}{same_day + 1}"
            spec = {"key": key, "number": self._next_number(), "duty": duty,
                    "owner": owner, "period": key.rsplit(":", 1)[1], "due": due.isoformat(),
                    "note": note, "opened_by": person}
            self._commit(at, RecordType.TASKS_OPENED, person, {"tasks": [spec], "source": source})
            return self._tasks[key]

    def _next_number(self) -> int:
        """Tasks and meetings share one number sequence: a number means one thing."""
        return self._top + 1

    # ---- meetings ------------------------------------------------------------------------

    def _meeting_write(self, source: str | None, type: str, number: int) -> bool:
        """Whether the message `source` already did this to meeting `number`."""
        return self._already(source, type, f"meeting:{number}")

    def _live_meeting(self, number: int) -> Meeting:
        meeting = self._meetings[number]
        if meeting.state is not MeetingState.PLANNED:
            raise MeetingNotOpen(number)
        return meeting

    def announce_meeting(self, unit: str, duty: str, tasks: Sequence[str], organiser: str,
                         start: datetime, place: str, topic: str, invitees: Sequence[str],
                         also: Sequence[str], at: datetime,
                         source: str | None = None) -> Meeting:
        with self._lock:
            done = self._sources.get(source) if source else None
            if done is not None:
                if done.type != RecordType.MEETING_ANNOUNCED:
                    raise ValueError(f"source {source} already did {done}")
                return self._meetings[int(done.task.split(":", 1)[1])]
            for key in tasks:
                if self._tasks[key].status is not Status.OPEN:
                    raise TaskNotOpen(key)
            number = self._next_number()
            meeting = Meeting(number, unit, duty, tuple(tasks), organiser, start, place, topic,
                              tuple(invitees), tuple(also), at)
            self._commit(at, RecordType.MEETING_ANNOUNCED, organiser,
                         {"meeting": meeting_records.meeting_to_doc(meeting), "source": source})
            return self._meetings[number]

    def move_meeting(self, number: int, start: datetime, person: str, at: datetime,
                     source: str | None = None) -> Meeting:
        with self._lock:
            if not self._meeting_write(source, RecordType.MEETING_MOVED, number):
                self._live_meeting(number)
                self._commit(at, RecordType.MEETING_MOVED, person, {
                    "meeting": number, "start": start.isoformat(), "source": source})
            return self._meetings[number]

    def cancel_meeting(self, number: int, reason: str, person: str, at: datetime,
                       source: str | None = None) -> Meeting:
        with self._lock:
            if not self._meeting_write(source, RecordType.MEETING_CANCELLED, number):
                self._live_meeting(number)
                self._commit(at, RecordType.MEETING_CANCELLED, person,
                             {"meeting": number, "reason": reason, "source": source})
            return self._meetings[number]

    def ask_leave(self, number: int, person: str, reason: str, at: datetime,
                  source: str | None = None) -> Meeting:
        with self._lock:
            if not self._meeting_write(source, RecordType.MEETING_LEAVE, number):
                self._live_meeting(number)
                self._commit(at, RecordType.MEETING_LEAVE, person, {
                    "meeting": number, "person": person, "reason": reason, "source": source})
            return self._meetings[number]

    def join_meeting(self, number: int, person: str, at: datetime,
                     source: str | None = None) -> Meeting:
        with self._lock:
            if not self._meeting_write(source, RecordType.MEETING_JOINED, number):
                self._live_meeting(number)
                self._commit(at, RecordType.MEETING_JOINED, person,
                             {"meeting": number, "person": person, "source": source})
            return self._meetings[number]

    def record_meeting(self, number: int, record: MeetingRecord, note: str,
                       makeups: Sequence[PlannedTask], excuse: Sequence[tuple[str, str]],
                       at: datetime, source: str | None = None,
                       on_behalf_of: str = "") -> Meeting:
        """The meeting held, as recorded (纪实): every task it fulfils that is still open is
        checked in at the held time (a correction restates its own check-ins), absentees'
        补学 tasks open, and `excuse` (key, reason) closes those no longer needed. One
        ledger record does all of it."""
        with self._lock:
            if self._meeting_write(source, RecordType.MEETING_RECORDED, number):
                return self._meetings[number]
            meeting = self._meetings[number]
            if meeting.state is MeetingState.CANCELLED:
                raise MeetingNotOpen(number)
            assert self._ledger is not None
            checkin_id = f"c{self._ledger.last_seq + 1}"
            checkins: list[dict[str, Any]] = []
            corrected: list[dict[str, Any]] = []
            for key in meeting.tasks:
                task = self._tasks[key]
                mine = next((c for c in task.checkins
                             if c.meeting == number and c.undone_at is None), None)
                if mine is None and task.status is not Status.OPEN:
                    continue  # done or excused some other way: not recorded twice
                made = CheckIn(id=mine.id if mine else checkin_id, task=key, person=record.by,
                               at=record.held_at, note=note, channel=record.channel,
                               on_behalf_of=on_behalf_of if on_behalf_of != record.by else "",
                               meeting=number)
                (corrected if mine else checkins).append(
                    {"task": key, "checkin": records.checkin_to_doc(made)})
            next_number = self._next_number()
            specs = []
            for p in makeups:
                if p.key in self._tasks:
                    continue
                specs.append({"key": p.key, "number": next_number, "duty": p.duty,
                              "owner": p.owner, "period": p.period, "due": p.due.isoformat(),
                              "title": p.title, "owner_name": p.owner_name})
                next_number += 1
            excused = [{"task": key, "reason": reason} for key, reason in excuse
                       if key in self._tasks and self._tasks[key].status is Status.OPEN]
            self._commit(at, RecordType.MEETING_RECORDED, record.by, {
                "meeting": number, "record": meeting_records.record_to_doc(record),
                "checkins": checkins, "corrected": corrected, "makeups": specs,
                "excused": excused, "source": source})
            return self._meetings[number]

    def attach_to_meeting(self, number: int, attachments: Sequence[Attachment], person: str,
                          at: datetime, source: str | None = None) -> Meeting:
        with self._lock:
            if not self._meeting_write(source, RecordType.MEETING_ATTACHED, number):
                if self._meetings[number].record is None:
                    raise MeetingNotOpen(number)
                self._commit(at, RecordType.MEETING_ATTACHED, person, {
                    "meeting": number, "source": source,
                    "attachments": records._attachments_to_doc(attachments)})
            return self._meetings[number]

    def note_schedule(self, number: int, schedule_id: str, moves: int, at: datetime,
                      removed: bool = False, error: str = "") -> Meeting:
        """The meeting's WeCom 日程 as now synced: its id, the `moves` it reflects, whether
        it was removed — or why that step failed for good (`error`)."""
        with self._lock:
            data: dict[str, Any] = {"meeting": number, "schedule": schedule_id,
                                    "moves": moves}
            if removed:
                data["removed"] = True
            if error:
                data["error"] = error
            self._commit(at, RecordType.MEETING_SCHEDULED, SYSTEM_ACTOR, data)
            return self._meetings[number]

    def meeting(self, number: int) -> Meeting | None:
        with self._lock:
            return self._meetings.get(number)

    def meetings(self) -> list[Meeting]:
        with self._lock:
            return sorted(self._meetings.values(), key=lambda m: m.number)

    def live_meetings(self) -> list[Meeting]:
        """Meetings that can still send something: planned ones, and those cancelled."""
        with self._lock:
            return [self._meetings[n] for n in self._live]

    def last_meeting_record_by(self, person: str) -> tuple[Meeting, MeetingRecord] | None:
        """The most recent 纪实 this person wrote."""
        with self._lock:
            found = [(m, r) for m in self._meetings.values() for r in m.records[-1:]
                     if r.by == person]
        return max(found, key=lambda item: item[1].at, default=None)

    def add_deliveries(self, entries: Sequence[OutboxEntry], at: datetime,
                       escalations: Sequence[dict[str, object]] = (),
                       skipped: Mapping[str, Mapping[str, datetime]] | None = None) -> None:
        with self._lock:
            new = [e for e in entries if e.key not in self._outbox]
            items: list[tuple[str, str, dict[str, Any]]] = []
            seen: set[str] = set()
            told: list[dict[str, object]] = []
            for escalation in escalations:
                key = f"{escalation['task']}|{escalation.get('stage', Stage.ESCALATION)}"
                if key not in self._escalated and key not in seen:
                    seen.add(key)
                    # What reading supplies is left out (`_note_escalation`): a pass after
                    # months down records thousands of these.
                    told.append({k: v for k, v in escalation.items()
                                 if not (k == "stage" and v == Stage.ESCALATION)
                                 and not (k in ("to", "missed") and not v)})
            if told:
                items.append((RecordType.ESCALATIONS, SYSTEM_ACTOR, {"items": told}))
            if new:
                items.append((RecordType.DELIVERIES_ADDED, SYSTEM_ACTOR,
                              {"entries": [records.entry_to_doc(e, 0) for e in new]}))
            marks = _grouped_marks(skipped or {}, self._skipped, self._tasks)
            if marks:
                items.append((RecordType.REMINDERS_SKIPPED, SYSTEM_ACTOR, {"skipped": marks}))
            if items:  # a pass's escalations and new entries: one durable append
                self._commit_many(at, items)

    def move_deliveries(self, entries: Sequence[OutboxEntry], state: Delivery, at: datetime,
                        error: str = "", not_before: datetime | None = None) -> None:
        if not entries:
            return
        with self._lock:
            data: dict[str, Any] = {"keys": [e.key for e in entries], "state": state.value}
            if error:
                data["error"] = error
            if not_before is not None:
                data["not_before"] = not_before.isoformat()
            self._commit(at, RecordType.DELIVERY, SYSTEM_ACTOR, data)

    @contextmanager
    def deferred_files(self) -> Iterator[None]:
        with self._lock:
            self._defer += 1
        try:
            yield
        finally:
            with self._lock:
                self._defer -= 1
                if not self._defer:
                    self.fold()

    def outcome_of(self, source: str) -> Outcome | None:
        with self._lock:
            return self._sources.get(source)

    # ---- reading -------------------------------------------------------------------------

    @property
    def since(self) -> date:
        return self._since

    def task(self, key: str) -> Task | None:
        with self._lock:
            return self._tasks.get(key)

    def recorded(self, task: Task) -> int | None:
        """The record that made `task` what it is, while it is still the store's task of its
        key; None once that task has changed (or if the store never held it)."""
        with self._lock:
            if self._tasks.get(task.key) is not task:
                return None
            return self._seq.get((records.TASKS, task.key))

    def task_by_number(self, number: int) -> Task | None:
        with self._lock:
            key = self._by_number.get(number)
            return self._tasks[key] if key else None

    def tasks_of(self, owners: Iterable[str]) -> list[Task]:
        with self._lock:
            found = [self._tasks[k] for o in set(owners) for k in self._by_owner.get(o, ())]
        return sorted(found, key=lambda t: t.number)

    def open_tasks_of(self, owners: Iterable[str]) -> list[Task]:
        with self._lock:
            return [self._tasks[k] for o in set(owners) for k in self._open_by_owner.get(o, ())]

    def checkins_since(self, moment: datetime) -> list[tuple[Task, CheckIn]]:
        with self._lock:
            if not self._times_sorted:
                self._checkin_times.sort()
                self._times_sorted = True
            times = self._checkin_times
            first = bisect.bisect_left(times, moment, key=lambda item: item[0])
            # As they stand: a check-in restated at another time is listed at that time
            # (its earlier time stays in the index, and is passed over here).
            found = {(key, checkin_id): (self._tasks[key], self._checkin(key, checkin_id))
                     for _, key, checkin_id in times[first:]}
            return sorted((item for item in found.values() if item[1].at >= moment),
                          key=lambda item: (item[1].at, item[1].id))

    def open_tasks(self) -> list[Task]:
        """Open tasks, in no particular order (the reminder pass reads these every minute)."""
        with self._lock:
            return [self._tasks[k] for k in self._open]

    def all_tasks(self) -> list[Task]:
        with self._lock:
            return sorted(self._tasks.values(), key=lambda t: t.number)

    def skipped_through(self) -> Mapping[str, Mapping[str, SkipMark]]:
        """For each task and recipient, the moment through which its reminders were found
        missed and skipped, and how often its deadline had moved then (not a copy: read by
        the minute pass under its lock)."""
        return self._skipped

    def handled_notices(self) -> AbstractSet[str]:
        """Not a copy (the minute pass asks for it every minute, and there are years of
        keys): only tested for membership, while the pass holds no other writer back."""
        return self._handled

    def pending_deliveries(self, now: datetime) -> list[OutboxEntry]:
        with self._lock:
            waiting = (self._outbox[k] for k in self._in_state[Delivery.PENDING])
            due = [e for e in waiting if e.not_before is None or e.not_before <= now]
            return sorted(due, key=lambda e: (e.due_at, self._doc_id[records.OUTBOX, e.key]))

    def sending_deliveries(self) -> list[OutboxEntry]:
        with self._lock:
            return [self._outbox[k] for k in self._in_state[Delivery.SENDING]]

    def deliveries_in_motion(self) -> list[OutboxEntry]:
        """Every entry pending (due or not) or being sent."""
        with self._lock:
            return [self._outbox[k] for state in (Delivery.PENDING, Delivery.SENDING)
                    for k in self._in_state[state]]

    def deliveries(self) -> list[OutboxEntry]:
        """The outbox as held in memory: every entry of the last `DELIVERY_MEMORY` and
        every one still in motion (older settled ones are in the files only)."""
        with self._lock:
            return list(self._outbox.values())

    def duties_under_way(self) -> set[tuple[str, str, str]]:
        with self._lock:
            return {(t.duty, t.owner, period_kind(t.period)) for t in self._tasks.values()}

    def last_checkin_by(self, person: str) -> tuple[Task, CheckIn] | None:
        with self._lock:
            mine = self._checkins_by.get(person)
            if not mine:
                return None
            # Check-in ids carry the ledger sequence number: the highest is the newest.
            _, key, checkin_id = max(mine, key=lambda item: int(item[2][1:]))
            return self._tasks[key], self._checkin(key, checkin_id)

    def escalations(self) -> list[Escalation]:
        with self._lock:
            return list(self._escalations)

    def records(self) -> int:
        """How many records the ledger holds."""
        return self._ledger.last_seq if self._ledger else 0

    @property
    def newest_record_at(self) -> datetime | None:
        return self._ledger.newest if self._ledger else None

    def refuses_writes_at(self, moment: datetime) -> bool:
        """Whether a write at `moment` would be refused as going back in time."""
        newest = self.newest_record_at
        return newest is not None and moment < newest - MAX_SKEW

    def ledger_path(self) -> Path:
        return self.folder / "ledger.jsonl"

    def close(self) -> None:
        """Fold the files (when opened whole for writing) and let the store go."""
        if self._opened:
            self._opened = False
            self.fold(closing=True)
        for db in self._shards.values():
            db.close()
        self._shards.clear()
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None
        if self._folder_fd is not None:
            fcntl.flock(self._folder_fd, fcntl.LOCK_UN)
            os.close(self._folder_fd)
            self._folder_fd = None


def _moves_on(held: SkipMark | None, mark: SkipMark) -> bool:
    """Whether `mark` says more than `held`: a later moment, or a deadline moved since."""
    return held is None or mark.moves > held.moves or (
        mark.moves == held.moves and mark.through > held.through)


def _grouped_marks(new: Mapping[str, Mapping[str, datetime]],
                   held: Mapping[str, Mapping[str, SkipMark]],
                   tasks: Mapping[str, Task]) -> list[list[Any]]:
    """The marks in `new` that move one on, as [moment, recipients, tasks] groups — with
    the deadline's moves as a fourth item when there were any — each group the tasks that
    share a moment, the recipients at it and their moves (one list of keys each)."""
    groups: dict[tuple[datetime, int, tuple[str, ...]], list[str]] = defaultdict(list)
    for task, by in new.items():
        before = held.get(task, {})
        moves = tasks[task].moves if task in tasks else 0
        at: dict[datetime, list[str]] = defaultdict(list)
        for recipient, moment in by.items():
            if _moves_on(before.get(recipient), SkipMark(moment, moves)):
                at[moment].append(recipient)
        for moment, recipients in at.items():
            groups[moment, moves, tuple(sorted(recipients))].append(task)
    return [[moment.isoformat(), list(recipients), keys, *([moves] if moves else [])]
            for (moment, moves, recipients), keys in sorted(groups.items())]


__all__ = ["StoreWriteFailed", "TinyDBStore"]
