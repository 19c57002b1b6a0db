"""The TinyDB store: records held in memory, one TinyDB file per month, and the ledger.

Layout of a store folder:

    meta.json           format version and the day the bureau started (TinyDB)
    tasks-2026-12.json  the tasks due in December 2026 with their check-ins (TinyDB, doc id =
                        task number)
    outbox-2026-12.json the reminders and digests due to go out in December 2026
    ledger.jsonl       hash-chained record of every change (the write-ahead log)
    dutybot.lock       held by the one process that may write

A change is committed by appending its ledger record (fsync'd); the touched month's file is
then replaced atomically. Each task document remembers the ledger sequence number it
reflects, so at start-up any record that did not reach its file is applied again.
Reads are served from memory, so their cost does not grow with years of history, and a
write rewrites one month's file only.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import socket
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any, TextIO

from tinydb import TinyDB

from schedules.tasks import Attachment, CheckIn, PlannedTask, Status, Task
from storage import bindcodes, records
from storage.atomic import OWN_TEMP, TEMP_SUFFIX, AtomicJSONStorage
from storage.errors import StoreCorrupt, StoreError, StoreLocked, StoreWriteFailed
from storage.ledger import Ledger, LedgerRecord
from storage.repository import (
    BindRefused,
    CheckinNotLive,
    Delivery,
    Escalation,
    OutboxEntry,
    Outcome,
    TaskNotOpen,
)

log = logging.getLogger(__name__)

FORMAT = 1
SYSTEM_ACTOR = "dutybot"
SHARD_FILE = re.compile(r"^(tasks|outbox)-(\d{4}-\d{2})\.json$")
DocKey = tuple[str, str]  # (collection, key)


def shard_of(due: date) -> str:
    """Which file holds a task: the month it was first due in."""
    return f"{due.year:04d}-{due.month:02d}"


class TinyDBStore:
    def __init__(self, folder: Path, read_only: bool) -> None:
        self.folder = folder
        self.read_only = read_only
        self._lock = threading.RLock()
        self._lock_file: TextIO | None = None
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
        self._accounts: dict[tuple[str, str], str] = {}  # (channel, account) -> person
        self._account_of: dict[tuple[str, str], str] = {}  # (channel, person) -> account
        self._used_codes: dict[str, tuple[str, str]] = {}  # code digest -> (channel, account)
        # Entries still in motion, so the minute pass need not scan years of sent ones.
        self._in_state: dict[Delivery, set[str]] = {Delivery.PENDING: set(),
                                                    Delivery.SENDING: set()}
        self._defer = 0  # inside deferred_files(): table files are written at the end
        self._by_number: dict[int, str] = {}
        self._by_owner: dict[str, list[str]] = defaultdict(list)
        self._sources: dict[str, Outcome] = {}  # inbound message source -> what it did
        self._checkins_by: dict[str, list[tuple[str, str]]] = defaultdict(list)  # person ->
        self._shard: dict[DocKey, str] = {}  # document -> the month file that holds it
        self._shards: dict[tuple[str, str], TinyDB] = {}
        self._dirty: set[DocKey] = set()
        self._ledger: Ledger | None = None

    # ---- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, folder: Path, now: datetime, read_only: bool = False) -> TinyDBStore:
        """Open (or create) the store in `folder`.

        Raises `StoreLocked` when another process holds it, `StoreCorrupt` when a file
        cannot be trusted (nothing is then written). `read_only` takes no lock and writes
        nothing, for previews and audits beside a running bot.
        """
        store = cls(folder, read_only)
        lock_existed = (folder / "dutybot.lock").exists()
        try:
            store._load(now)
        except BaseException as e:
            store.close()
            if not lock_existed and not isinstance(e, StoreLocked):
                (folder / "dutybot.lock").unlink(missing_ok=True)  # leave no trace behind
            raise
        return store

    def _load(self, now: datetime) -> None:
        if not self.read_only:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._take_lock()
        meta = self._load_meta(now)
        self._since = date.fromisoformat(meta["since"])
        if not self.read_only:  # only now is the folder known to be a store
            for orphan in self._own_temp_files():
                log.info("removing %s left by an interrupted write", orphan.name)
                orphan.unlink()
        for path in sorted([*self.folder.glob("tasks-*.json"),
                            *self.folder.glob("outbox-*.json")]):
            self._load_shard(path)
        newest_in_files = max(self._seq.values(), default=0)
        self._ledger = Ledger.open(self.folder / "ledger.jsonl", self._replay,
                                   repair=not self.read_only)
        if newest_in_files > self._ledger.last_seq:
            raise StoreCorrupt(
                self._ledger.path,
                f"比任务文件旧：任务文件记到第 {newest_in_files} 条记录，台账只有 "
                f"{self._ledger.last_seq} 条（台账可能被删除或回退）",
            )
        if self._dirty and not self.read_only:
            log.warning("applying %d change(s) the ledger holds but the files missed",
                        len(self._dirty))
            try:
                self._persist()
            except OSError as e:  # committed in the ledger; the files catch up later
                log.error("could not update the store files: %s", e)

    def _load_shard(self, path: Path) -> None:
        collection, shard = self._shard_of_file(path)
        storage = self._shard_db(collection, shard).storage
        assert isinstance(storage, AtomicJSONStorage)
        # The raw tables, not TinyDB's Table API: it wraps every document (slow for years).
        table = (storage.read() or {}).get(collection, {})
        for doc_key, doc in table.items():
            try:
                doc_id = int(doc_key)
                if collection == records.TASKS:
                    task, seq = records.task_from_doc(doc)
                    key = task.key
                else:
                    entry, seq = records.entry_from_doc(doc)
                    key = entry.key
            except (KeyError, ValueError, TypeError) as e:
                raise StoreCorrupt(path, f"中有格式不对的记录（文档 {doc_key}）") from e
            if (collection, key) in self._seq:
                raise StoreCorrupt(path, f"重复了记录 {key}")
            self._shard[collection, key] = shard
            self._doc_id[collection, key] = doc_id
            if collection == records.OUTBOX:
                self._last_entry_id = max(self._last_entry_id, doc_id)
            if collection == records.TASKS:
                self._index_task(task, seq)
            else:
                self._index_entry(entry, seq)

    def _own_temp_files(self) -> list[Path]:
        return [p for p in self.folder.glob(f"*{TEMP_SUFFIX}") if OWN_TEMP.match(p.name)]

    def _take_lock(self) -> None:
        path = self.folder / "dutybot.lock"
        handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the store's life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown process"
            handle.close()
            raise StoreLocked(self.folder, holder) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        self._lock_file = handle

    def _load_meta(self, now: datetime) -> dict[str, Any]:
        path = self.folder / "meta.json"
        if not path.exists():
            ours = {"dutybot.lock", bindcodes.FILE, *(p.name for p in self._own_temp_files())}
            existing = [p.name for p in self.folder.glob("*") if p.name not in ours]
            if existing:
                raise StoreCorrupt(path, f"缺失，但目录中已有 {sorted(existing)}")
            meta = {"format": FORMAT, "since": now.date().isoformat(), "created": now.isoformat()}
            if not self.read_only:
                TinyDB(path, storage=AtomicJSONStorage).table("meta").insert(meta)
            return meta
        rows = TinyDB(path, storage=AtomicJSONStorage).table("meta").all()
        if len(rows) != 1 or "since" not in rows[0]:
            raise StoreCorrupt(path, "中没有数据目录的元信息")
        if rows[0].get("format") != FORMAT:
            raise StoreCorrupt(path, f"的格式版本为 {rows[0].get('format')}，本程序需要 {FORMAT}")
        return dict(rows[0])

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
                self.folder / f"{collection}-{shard}.json", storage=AtomicJSONStorage)
        return db

    def _index_task(self, task: Task, seq: int) -> None:
        key = task.key
        previous = self._tasks.get(key)
        known = {c.id for c in previous.checkins} if previous else set()
        self._tasks[key] = task  # before the indexes, so a lock-free reader never misses it
        self._seq[records.TASKS, key] = seq
        if task.status is Status.OPEN:
            self._open.add(key)
            self._open_by_owner[task.owner].add(key)
        else:
            self._open.discard(key)
            self._open_by_owner[task.owner].discard(key)
        if previous is None:
            self._by_number[task.number] = key
            self._by_owner[task.owner].append(key)
            self._shard.setdefault((records.TASKS, key), shard_of(task.due))
            self._doc_id.setdefault((records.TASKS, key), task.number)
        for c in task.checkins:
            if c.id not in known:
                self._checkins_by[c.person].append((key, c.id))

    def _index_entry(self, entry: OutboxEntry, seq: int) -> None:
        key = (records.OUTBOX, entry.key)
        if entry.key not in self._outbox:
            self._shard.setdefault(key, shard_of(entry.due_at.date()))
            if key not in self._doc_id:
                self._last_entry_id += 1
                self._doc_id[key] = self._last_entry_id
            self._handled.add(entry.notice)
        self._outbox[entry.key] = entry
        self._seq[key] = seq
        for state, keys in self._in_state.items():
            if state is entry.state:
                keys.add(entry.key)
            else:
                keys.discard(entry.key)

    def _checkin(self, task_key: str, checkin_id: str) -> CheckIn:
        return next(c for c in self._tasks[task_key].checkins if c.id == checkin_id)

    def _replay(self, record: LedgerRecord) -> None:
        """Apply a ledger record to every document whose file does not reflect it yet."""
        self._note_source(record)
        self._note_escalation(record)
        self._note_binding(record)
        if all(self._seq.get(doc, 0) >= record.seq for doc in records.touches(record)):
            return  # every document it changed already reflects it
        for collection, key, effect in records.effects(record):
            if self._seq.get((collection, key), 0) < record.seq:
                if collection == records.TASKS:
                    self._index_task(effect(self._tasks.get(key)), record.seq)
                else:
                    self._index_entry(effect(self._outbox.get(key)), record.seq)
                self._dirty.add((collection, key))

    def _note_escalation(self, record: LedgerRecord) -> None:
        if record.type == records.ESCALATION:
            data = record.data
            self._escalated.add(f"{data['task']}|{data.get('stage', 'escalation')}")
            self._escalations.append(Escalation(
                task=data["task"], at=datetime.fromisoformat(record.at),
                told=tuple(data.get("to", ())), missed=tuple(data.get("missed", ())),
                workdays_overdue=int(data.get("workdays_overdue", 0))))

    def _note_binding(self, record: LedgerRecord) -> None:
        if record.type != records.ACCOUNT_BOUND:
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

    def _note_source(self, record: LedgerRecord) -> None:
        source = record.data.get("source")
        if not source or source in self._sources:
            return
        if record.type == records.CHECKIN:
            self._sources[source] = Outcome(record.type, record.data["task"],
                                            record.data["checkin"]["id"])
        elif record.type == records.CHECKIN_UNDONE:
            self._sources[source] = Outcome(record.type, record.data["task"],
                                            record.data["checkin"])
        elif record.type in (records.TASK_EXCUSED, records.CHECKIN_ATTACHED):
            self._sources[source] = Outcome(record.type, record.data["task"],
                                            record.data.get("checkin", ""))
        elif record.type == records.TASKS_OPENED:
            self._sources[source] = Outcome(record.type, record.data["tasks"][0]["key"], "")

    # ---- writing -------------------------------------------------------------------------

    def _commit(self, at: datetime, type: str, actor: str, data: dict[str, Any]) -> LedgerRecord:
        """Append the record (the commit point), apply it in memory, then update the files."""
        if self.read_only or self._ledger is None:
            raise StoreError("this store was opened read-only")
        record = self._ledger.append(at, type, actor, data)
        self._replay(record)
        if self._defer:
            return record
        try:
            self._persist()
        except OSError as e:
            # Committed in the ledger already; the files catch up on the next write or start.
            log.error("could not update the store files after record %d: %s", record.seq, e)
        return record

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

    def _doc(self, doc_key: DocKey) -> dict[str, Any]:
        collection, key = doc_key
        if collection == records.TASKS:
            return records.task_to_doc(self._tasks[key], self._seq[doc_key])
        return records.entry_to_doc(self._outbox[key], self._seq[doc_key])

    def add_tasks(self, planned: Sequence[PlannedTask], at: datetime) -> list[Task]:
        with self._lock:
            new: list[dict[str, Any]] = []
            moved: list[PlannedTask] = []
            number = max(self._by_number, default=0)
            for p in planned:
                existing = self._tasks.get(p.key)
                if existing is None:
                    number += 1
                    new.append({"key": p.key, "number": number, "duty": p.duty,
                                "owner": p.owner, "period": p.period, "due": p.due.isoformat()})
                elif existing.status is Status.OPEN and existing.due != p.due:
                    moved.append(p)
            if new:
                self._commit(at, records.TASKS_OPENED, SYSTEM_ACTOR, {"tasks": new})
            for p in moved:
                self._commit(at, records.TASK_DUE_CHANGED, SYSTEM_ACTOR,
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
    ) -> CheckIn:
        with self._lock:
            done = self._sources.get(source) if source else None
            if done is not None:
                if done.type != records.CHECKIN or done.task != task_key:
                    raise ValueError(f"source {source} already did {done}")
                return self._checkin(done.task, done.checkin)
            task = self._tasks[task_key]
            if task.status is not Status.OPEN:
                raise TaskNotOpen(task_key)
            assert self._ledger is not None
            checkin = CheckIn(
                id=f"c{self._ledger.last_seq + 1}", task=task_key, person=person, at=at,
                note=note, channel=channel, attachments=tuple(attachments),
            )
            self._commit(at, records.CHECKIN, person, {
                "task": task_key, "checkin": records.checkin_to_doc(checkin), "source": source,
            })
            return checkin

    def undo_checkin(
        self, task_key: str, checkin_id: str, person: str, at: datetime, source: str | None = None
    ) -> Task:
        with self._lock:
            done = self._sources.get(source) if source else None
            if done is not None:
                if (done.type, done.task, done.checkin) != (records.CHECKIN_UNDONE, task_key,
                                                           checkin_id):
                    raise ValueError(f"source {source} already did {done}")
                return self._tasks[task_key]
            if self._checkin(task_key, checkin_id).undone_at is not None:
                raise CheckinNotLive(checkin_id)
            self._commit(at, records.CHECKIN_UNDONE, person,
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
            self._commit(at, records.ACCOUNT_BOUND, issued.person, {
                "channel": channel, "account": account, "person": issued.person,
                "code": issued.digest, "source": source})
            return issued.person

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
            self._checkin(task_key, checkin_id)  # raises StopIteration if unknown
            self._commit(at, records.CHECKIN_ATTACHED, person, {
                "task": task_key, "checkin": checkin_id, "source": source,
                "attachments": [{"kind": a.kind, "ref": a.ref, "name": a.name}
                                for a in attachments]})
            return self._tasks[task_key]

    def excuse(self, task_key: str, person: str, at: datetime, reason: str,
               source: str | None = None) -> Task:
        with self._lock:
            done = self._sources.get(source) if source else None
            if done is not None:
                if (done.type, done.task) != (records.TASK_EXCUSED, task_key):
                    raise ValueError(f"source {source} already did {done}")
                return self._tasks[task_key]
            if self._tasks[task_key].status is not Status.OPEN:
                raise TaskNotOpen(task_key)
            self._commit(at, records.TASK_EXCUSED, person,
                         {"task": task_key, "reason": reason, "source": source})
            return self._tasks[task_key]

    def open_event_task(self, duty: str, owner: str, due: date, note: str, person: str,
                        at: datetime, source: str | None = None) -> Task:
        with self._lock:
            done = self._sources.get(source) if source else None
            if done is not None:
                if done.type != records.TASKS_OPENED:
                    raise ValueError(f"source {source} already did {done}")
                return self._tasks[done.task]
            prefix = f"{duty}:{owner}:{at.date().isoformat()}#"
            same_day = sum(1 for k in self._by_owner.get(owner, ()) if k.startswith(prefix))
            key = f"{prefix}{same_day + 1}"
            spec = {"key": key, "number": max(self._by_number, default=0) + 1, "duty": duty,
                    "owner": owner, "period": key.rsplit(":", 1)[1], "due": due.isoformat(),
                    "note": note, "opened_by": person}
            self._commit(at, records.TASKS_OPENED, person, {"tasks": [spec], "source": source})
            return self._tasks[key]

    def add_deliveries(self, entries: Sequence[OutboxEntry], at: datetime,
                       escalations: Sequence[dict[str, object]] = ()) -> None:
        with self._lock:
            new = [e for e in entries if e.key not in self._outbox]
            for escalation in escalations:
                key = f"{escalation['task']}|{escalation.get('stage', 'escalation')}"
                if key not in self._escalated:
                    self._commit(at, records.ESCALATION, SYSTEM_ACTOR, dict(escalation))
            if new:
                self._commit(at, records.DELIVERIES_ADDED, SYSTEM_ACTOR,
                             {"entries": [records.entry_to_doc(e, 0) for e in new]})

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
            self._commit(at, records.DELIVERY, SYSTEM_ACTOR, data)

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
                    try:
                        self._persist()
                    except OSError as e:  # committed in the ledger; files catch up later
                        log.error("could not update the store files: %s", e)

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

    def open_tasks(self) -> list[Task]:
        """Open tasks, in no particular order (the reminder pass reads these every minute)."""
        with self._lock:
            return [self._tasks[k] for k in self._open]

    def all_tasks(self) -> list[Task]:
        with self._lock:
            return sorted(self._tasks.values(), key=lambda t: t.number)

    def handled_notices(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._handled)

    def pending_deliveries(self, now: datetime) -> list[OutboxEntry]:
        with self._lock:
            waiting = (self._outbox[k] for k in self._in_state[Delivery.PENDING])
            due = [e for e in waiting if e.not_before is None or e.not_before <= now]
            return sorted(due, key=lambda e: (e.due_at, self._doc_id[records.OUTBOX, e.key]))

    def sending_deliveries(self) -> list[OutboxEntry]:
        with self._lock:
            return [self._outbox[k] for k in self._in_state[Delivery.SENDING]]

    def deliveries(self) -> list[OutboxEntry]:
        with self._lock:
            return list(self._outbox.values())

    def duties_under_way(self) -> set[tuple[str, str]]:
        with self._lock:
            return {(t.duty, t.owner) for t in self._tasks.values()}

    def last_checkin_by(self, person: str) -> tuple[Task, CheckIn] | None:
        with self._lock:
            # Check-in ids carry the ledger sequence number: the highest is the newest.
            live = [(int(cid[1:]), key, cid) for key, cid in self._checkins_by.get(person, ())
                    if self._checkin(key, cid).undone_at is None]
            if not live:
                return None
            _, key, checkin_id = max(live)
            return self._tasks[key], self._checkin(key, checkin_id)

    def escalations(self) -> list[Escalation]:
        with self._lock:
            return list(self._escalations)

    def records(self) -> int:
        """How many records the ledger holds."""
        return self._ledger.last_seq if self._ledger else 0

    def ledger_path(self) -> Path:
        return self.folder / "ledger.jsonl"

    def close(self) -> None:
        for db in self._shards.values():
            db.close()
        self._shards.clear()
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None


__all__ = ["StoreWriteFailed", "TinyDBStore"]
