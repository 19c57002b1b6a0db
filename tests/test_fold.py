"""A check-in costs the same in a small bureau as in a large one (tracker #14): the write is
its fsync'd ledger line alone, and the month files follow off the write path — at the end of
a reminder pass, on closing, after `FOLD_AFTER` records. Meanwhile readers beside the bot,
`audit verify` and a backup see every record the ledger holds."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import FakeClock
from bot.config import load
from bot.delivery import Deliverer
from schedules.tasks import PlannedTask, Status
from storage import backup, records, tinydb_store
from storage.audit import verify
from storage.errors import StoreCorrupt
from storage.tinydb_store import TinyDBStore
from tests.builders import RecordingChannel, at

NOW = at("2026-11-26 10:00")
MONTH = "tasks-2026-11.json"


def store_of(folder: Path, tasks: int) -> Path:
    """A store holding `tasks` tasks due in November 2026, its month file written."""
    store = TinyDBStore.open(folder, NOW)
    store.add_tasks([PlannedTask(f"duty-{i}:unit:2026-11", f"duty-{i}", "unit", "2026-11",
                                 date(2026, 11, 30)) for i in range(tasks)], NOW)
    store.close()
    return folder


def files(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Each file of the store by (inode, mtime, size): an atomic replace changes the inode,
    an append the size."""
    return {p.name: (s.st_ino, s.st_mtime_ns, s.st_size)
            for p in sorted(folder.iterdir()) if p.is_file() and p.name != "dutybot.lock"
            for s in [p.stat()]}


def seq_in_file(folder: Path, key: str) -> int:
    table = json.loads((folder / MONTH).read_text(encoding="utf-8"))["tasks"]
    return next(int(doc["seq"]) for doc in table.values() if doc["key"] == key)


def test_a_check_in_writes_one_ledger_line_whatever_the_size(tmp_path: Path) -> None:
    grown = {}
    for size in (10, 3000):
        folder = store_of(tmp_path / f"store-{size}", size)
        store = TinyDBStore.open(folder, NOW)
        try:
            before = files(folder)
            store.check_in("duty-3:unit:2026-11", "p", NOW, "已召开", "console")
            after = files(folder)
        finally:
            store.close()
        changed = {n for n in before.keys() | after.keys() if before.get(n) != after.get(n)}
        assert changed == {"ledger.jsonl"}, f"{size} tasks: a check-in wrote {changed}"
        grown[size] = after["ledger.jsonl"][2] - before["ledger.jsonl"][2]
        if size == 3000:
            assert before[MONTH][2] > 500_000  # a month file worth not rewriting
    assert grown[10] == grown[3000] < 1000  # the same one line in both


def test_readers_the_audit_and_a_backup_see_what_the_files_do_not_yet(tmp_path: Path) -> None:
    folder = store_of(tmp_path / "store", 5)
    month = (folder / MONTH).read_bytes()
    store = TinyDBStore.open(folder, NOW)
    try:
        store.check_in("duty-1:unit:2026-11", "p", NOW, "未入月文件", "console")
        assert (folder / MONTH).read_bytes() == month  # not folded yet
        reader = TinyDBStore.open(folder, NOW, read_only=True)  # `report` beside the bot
        task = reader.task("duty-1:unit:2026-11")
        assert task is not None and task.status is Status.DONE
        assert task.checkin is not None and task.checkin.note == "未入月文件"
        reader.close()
        audit = verify(folder)
        assert audit.intact and audit.records == 2, audit  # a lagging file is no tampering
        taken = backup.take(folder, tmp_path / "b.tar.gz", NOW, "test")
    finally:
        store.close()
    restored = backup.restore(taken.path, tmp_path / "restored")
    assert restored.audit.intact
    again = TinyDBStore.open(restored.folder, NOW)
    try:
        task = again.task("duty-1:unit:2026-11")
        assert task is not None and task.status is Status.DONE
    finally:
        again.close()
    assert verify(restored.folder).intact


def test_the_minute_pass_folds_the_files(config_path: Path) -> None:
    clock = FakeClock(NOW)
    app = App.open(load(config_path), clock)
    deliverer = Deliverer(app, {"console": RecordingChannel()}, defer_unreached=False)
    deliverer.run_pass(clock.now())
    store, folder = app.store, app.store.folder
    try:
        task = store.task("branch-meeting:branch-1:2026-Q4")
        assert task is not None
        month = folder / f"tasks-{records.task_shard(task)}.json"
        before = month.read_bytes()
        clock.advance(timedelta(minutes=1))
        store.check_in(task.key, "wu-fang", clock.now(), "已召开", "console")
        checked = store.records()
        assert month.read_bytes() == before
        clock.advance(timedelta(minutes=1))
        deliverer.run_pass(clock.now())  # what the ticker runs every minute
        docs = json.loads(month.read_text(encoding="utf-8"))["tasks"].values()
        [doc] = [d for d in docs if d["key"] == task.key]
        assert doc["seq"] >= checked and doc["checkins"][0]["note"] == "已召开"
    finally:
        app.close()
    assert verify(folder).intact


def test_closing_folds_and_so_does_a_long_run_without_a_pass(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = store_of(tmp_path / "store", 8)
    store = TinyDBStore.open(folder, NOW)
    store.check_in("duty-0:unit:2026-11", "p", NOW, "", "console")
    store.close()
    assert seq_in_file(folder, "duty-0:unit:2026-11") == 2

    monkeypatch.setattr(tinydb_store, "FOLD_AFTER", 3)
    store = TinyDBStore.open(folder, NOW)
    try:
        month = (folder / MONTH).read_bytes()
        for i in (1, 2):
            store.check_in(f"duty-{i}:unit:2026-11", "p", NOW, "", "console")
        assert (folder / MONTH).read_bytes() == month
        store.check_in("duty-3:unit:2026-11", "p", NOW, "", "console")  # the third: folded
        assert [seq_in_file(folder, f"duty-{i}:unit:2026-11") for i in (1, 2, 3)] == [3, 4, 5]
    finally:
        store.close()


def test_a_store_refused_at_opening_is_not_folded_on_the_way_out(tmp_path: Path) -> None:
    """Opening replays the ledger into memory before it knows the whole ledger is sound; a
    refusal must leave the files as they were, not fold in what it had replayed."""
    folder = store_of(tmp_path / "store", 3)
    store = TinyDBStore.open(folder, NOW)
    try:
        for i in (0, 1):
            store.check_in(f"duty-{i}:unit:2026-11", "p", NOW, f"n{i}", "console")
        crashed = tmp_path / "crashed"
        shutil.copytree(folder, crashed)  # what a kill leaves: the files behind the ledger
    finally:
        store.close()
    (crashed / "dutybot.lock").unlink()
    ledger = crashed / "ledger.jsonl"
    ledger.write_bytes(ledger.read_bytes().replace(b'"n1"', b'"n2"'))  # the last record edited
    before = files(crashed)
    month = (crashed / MONTH).read_bytes()
    with pytest.raises(StoreCorrupt, match="哈希值不符"):
        TinyDBStore.open(crashed, NOW)
    assert (crashed / MONTH).read_bytes() == month
    assert files(crashed) == before


def test_a_ledger_behind_its_files_is_refused_without_folding(tmp_path: Path) -> None:
    """The refusal that comes after the whole ledger was replayed: one document lags (its
    check-in only in the ledger), another leads (the ledger's newest record removed)."""
    folder = store_of(tmp_path / "store", 3)
    opened = json.loads((folder / MONTH).read_text(encoding="utf-8"))
    store = TinyDBStore.open(folder, NOW)
    for i in (0, 1):
        store.check_in(f"duty-{i}:unit:2026-11", "p", NOW, f"n{i}", "console")
    store.close()
    data = json.loads((folder / MONTH).read_text(encoding="utf-8"))
    first = next(k for k, d in data["tasks"].items() if d["key"] == "duty-0:unit:2026-11")
    data["tasks"][first] = opened["tasks"][first]  # duty-0 behind record 2, duty-1 at 3
    (folder / MONTH).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    ledger = folder / "ledger.jsonl"
    ledger.write_bytes(b"".join(ledger.read_bytes().splitlines(keepends=True)[:2]))
    before = files(folder)
    with pytest.raises(StoreCorrupt, match="比任务文件旧"):
        TinyDBStore.open(folder, NOW)
    assert files(folder) == before
