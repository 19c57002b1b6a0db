"""The store: corrupt files refused untouched, one writer, crash leftovers, replay, disk full."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import FakeClock
from bot.config import load
from bot.delivery import Deliverer
from handlers import text
from schedules.tasks import Attachment, PlannedTask, Status
from storage import records
from storage.errors import StoreCorrupt, StoreLocked
from storage.ledger import LedgerRecord, read_records
from storage.tinydb_store import TinyDBStore
from tests.builders import EXAMPLE, ROOT, RecordingChannel, at

NOW = at("2026-11-26 10:00")


def planned(n: int) -> list[PlannedTask]:
    return [PlannedTask(f"duty-{i}:unit:2026-11", f"duty-{i}", "unit", "2026-11",
                        date(2026, 11, 30)) for i in range(n)]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    store = TinyDBStore.open(tmp_path / "store", NOW)
    store.add_tasks(planned(5), NOW)
    store.check_in("duty-0:unit:2026-11", "p", NOW, "第一条", "console")
    store.close()
    return tmp_path / "store"


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "dutybot.lock"}


@pytest.mark.parametrize(("name", "damage"), [
    ("tasks-2026-11.json", lambda b: b[: len(b) // 2]),  # truncated
    ("tasks-2026-11.json", lambda b: b + b"}garbage"),  # trailing garbage
    ("tasks-2026-11.json", lambda b: b""),  # empty
    ("tasks-2026-11.json", lambda b: b"\xff\xfe" + b),  # invalid UTF-8
    ("tasks-2026-11.json", lambda b: b"[1, 2, 3]"),  # wrong shape
    ("tasks-2026-11.json", lambda b: b'{"tasks": {"1": {"key": "x"}}}'),  # malformed task
    ("meta.json", lambda b: b"{}"),
    ("ledger.jsonl", lambda b: b.replace("第一条".encode(), "改过了".encode())),  # tampered
    ("ledger.jsonl", lambda b: b"not json\n" + b),
])
def test_a_corrupt_store_is_refused_and_left_untouched(folder: Path, name: str, damage) -> None:
    target = folder / name
    target.write_bytes(damage(target.read_bytes()))
    before = snapshot(folder)
    with pytest.raises(StoreCorrupt) as caught:
        TinyDBStore.open(folder, NOW)
    assert name in str(caught.value) and "原样保留" in str(caught.value)
    assert snapshot(folder) == before


def test_a_missing_meta_file_with_data_present_is_refused(folder: Path) -> None:
    (folder / "meta.json").unlink()
    with pytest.raises(StoreCorrupt):
        TinyDBStore.open(folder, NOW)


def test_a_second_writer_is_refused_until_the_first_closes(folder: Path) -> None:
    first = TinyDBStore.open(folder, NOW)
    with pytest.raises(StoreLocked) as caught:
        TinyDBStore.open(folder, NOW)
    assert "另一个 dutybot 进程" in str(caught.value)
    # A read-only look (previews, audits) does not need the lock and writes nothing.
    reader = TinyDBStore.open(folder, NOW, read_only=True)
    assert reader.task("duty-0:unit:2026-11") is not None
    reader.close()
    first.close()
    TinyDBStore.open(folder, NOW).close()


def test_the_lock_dies_with_a_killed_process(folder: Path) -> None:
    code = ("import sys, time; from pathlib import Path; from storage.tinydb_store import "
            "TinyDBStore; from tests.builders import at; "
            f"s = TinyDBStore.open(Path({str(folder)!r}), at('2026-11-26 10:00')); "
            "print('locked', flush=True); sys.stdin.read()")
    with subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            with pytest.raises(StoreLocked) as caught:
                TinyDBStore.open(folder, NOW)
            assert f"pid {holder.pid}" in str(caught.value)
        finally:
            holder.kill()
    TinyDBStore.open(folder, NOW).close()


def test_orphan_temp_files_are_removed_at_start(folder: Path) -> None:
    orphan = folder / "tasks-2026-11.json.12345.tmp"
    orphan.write_bytes(b'{"half": ')
    foreign = folder / "notes.tmp"
    foreign.write_bytes(b"not ours")
    TinyDBStore.open(folder, NOW).close()
    assert not orphan.exists()
    assert foreign.read_bytes() == b"not ours"


def test_a_folder_that_is_not_a_store_is_refused_and_nothing_is_deleted(tmp_path: Path) -> None:
    (tmp_path / "budget.xlsx.tmp").write_bytes(b"someone's work")
    (tmp_path / "report.docx").write_bytes(b"more work")
    with pytest.raises(StoreCorrupt):
        TinyDBStore.open(tmp_path, NOW)
    assert (tmp_path / "budget.xlsx.tmp").read_bytes() == b"someone's work"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["budget.xlsx.tmp", "report.docx"]


def test_a_ledger_older_than_the_task_files_is_refused(folder: Path) -> None:
    ledger = folder / "ledger.jsonl"
    older = ledger.read_bytes()
    store = TinyDBStore.open(folder, NOW)
    store.check_in("duty-3:unit:2026-11", "p", NOW, "之后", "console")
    store.close()
    # Rolled back (restored from an older backup, say) and torn: the torn tail is set aside
    # only once every check has passed, so here it stays where it is.
    ledger.write_bytes(older + b'{"seq":9,"at":"2026-11-26T1')
    before = snapshot(folder)
    with pytest.raises(StoreCorrupt) as caught:
        TinyDBStore.open(folder, NOW)
    assert "台账可能被删除或回退" in str(caught.value)
    assert snapshot(folder) == before
    ledger.unlink()
    with pytest.raises(StoreCorrupt):
        TinyDBStore.open(folder, NOW)


def test_a_torn_ledger_tail_is_set_aside(folder: Path) -> None:
    ledger = folder / "ledger.jsonl"
    intact = ledger.read_bytes()
    torn = b'{"seq":3,"at":"2026-11-26T10:00:00+08:00","ty'
    ledger.write_bytes(intact + torn)
    store = TinyDBStore.open(folder, NOW)
    try:
        assert ledger.read_bytes() == intact
        [aside] = folder.glob("ledger.jsonl.torn-*")
        assert aside.read_bytes() == torn
        [notice] = store.notices  # says exactly what went where
        assert aside.name in notice and f"{len(torn)} 字节" in notice
        store.check_in("duty-1:unit:2026-11", "p", NOW, "之后照常", "console")
    finally:
        store.close()
    assert TinyDBStore.open(folder, NOW, read_only=True).task(
        "duty-1:unit:2026-11").status is Status.DONE  # type: ignore[union-attr]


def test_a_change_that_reached_only_the_ledger_is_applied_at_start(folder: Path) -> None:
    tasks_file = folder / "tasks-2026-11.json"
    before = tasks_file.read_bytes()
    store = TinyDBStore.open(folder, NOW)
    store.check_in("duty-2:unit:2026-11", "p", NOW, "崩溃前", "console")
    store.close()
    tasks_file.write_bytes(before)  # as if the process died between ledger and file
    store = TinyDBStore.open(folder, NOW)
    try:
        task = store.task("duty-2:unit:2026-11")
        assert task is not None and task.status is Status.DONE
        assert task.checkin is not None and task.checkin.note == "崩溃前"
        assert tasks_file.read_bytes() != before  # and the file caught up
    finally:
        store.close()
    assert len(task.checkins) == 1


def test_writes_from_several_threads_all_land(tmp_path: Path) -> None:
    store = TinyDBStore.open(tmp_path / "s", NOW)
    store.add_tasks(planned(80), NOW)

    def worker(offset: int) -> None:
        for i in range(offset, 80, 4):
            store.check_in(f"duty-{i}:unit:2026-11", f"p{offset}", NOW + timedelta(milliseconds=i),
                           f"n{i}", "console")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    reopened = TinyDBStore.open(tmp_path / "s", NOW, read_only=True)
    assert sum(t.status is Status.DONE for t in reopened.all_tasks()) == 80
    lines = (tmp_path / "s" / "ledger.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["seq"] for line in lines] == list(range(1, 82))


DISK_FULL = """
import resource, signal, sys
from pathlib import Path
from bot.app import App
from bot.clock import FakeClock
from bot.config import load
from handlers.messages import Inbound
from tests.builders import at

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a full disk answers with an error, not a signal
clock = FakeClock(at("2026-11-26 10:00"))
app = App.open(load(Path(sys.argv[1])), clock)
number = app.store.task("branch-meeting:branch-1:2026-Q4").number
ledger = app.store.ledger_path()

def say(text):
    return app.handle(Inbound("console", "wu-fang", text, clock.now())).text

soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (ledger.stat().st_size + 64, hard))
print("FULL", say(f"打卡 {number} 已召开").splitlines()[0])
print("READ", say("待办").splitlines()[0])
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
print("AGAIN", say(f"打卡 {number} 已召开").splitlines()[0])
resource.setrlimit(resource.RLIMIT_FSIZE, (ledger.stat().st_size + 64, hard))
print("UNDO", say("撤销").splitlines()[0])
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
resource.setrlimit(resource.RLIMIT_FSIZE, (ledger.stat().st_size + 64, hard))
clock.set(at("2026-12-01 09:00"))  # a new month: its tasks cannot be written
print("NEWMONTH", say("待办").splitlines()[0])
from storage.audit import verify
print("AUDIT", verify(ledger.parent).intact)  # a full disk is not tampering
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
print("RECOVERED", say("待办").splitlines()[0])
"""


def test_a_full_disk_loses_nothing_and_says_so(config_path: Path) -> None:
    result = subprocess.run([sys.executable, "-c", DISK_FULL, str(config_path)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    out = dict(line.split(" ", 1) for line in result.stdout.splitlines())
    assert out["FULL"] == text.write_failed("checkin")
    assert out["READ"].startswith("您有 6 项待办")
    assert out["AGAIN"].startswith(text.CHECKED_IN)
    assert out["UNDO"] == text.write_failed("undo")  # says what failed: not "打卡未记录"
    assert text.write_failed("undo") != text.write_failed("checkin")
    assert out["NEWMONTH"].startswith("您有 5 项待办，其中逾期 3 项")  # what it has, still
    assert out["AUDIT"] == "True"
    assert out["RECOVERED"].startswith("您有 8 项待办")  # December's three, once space returns
    store = TinyDBStore.open(config_path.parent / "data" / "example", NOW, read_only=True)
    task = store.task("branch-meeting:branch-1:2026-Q4")
    assert task is not None and len(task.checkins) == 1 and task.status is Status.DONE


def test_touches_names_exactly_what_effects_change(tmp_path: Path) -> None:
    """Start-up skips records by `touches`; it must agree with `effects` for every type."""
    shutil.copy(EXAMPLE, tmp_path / "config.toml")
    clock = FakeClock(at("2026-11-26 10:00"))
    app = App.open(load(tmp_path / "config.toml"), clock)
    store = app.store
    done = store.check_in("theme-day:branch-1:2026-11", "wu-fang", clock.now(), "", "console")
    store.attach("theme-day:branch-1:2026-11", done.id, [Attachment("image", "m1")], "wu-fang",
                 clock.now())
    store.undo_checkin("theme-day:branch-1:2026-11", done.id, "wu-fang", clock.now())
    store.excuse("theme-day:branch-2:2026-11", "zhao-min", clock.now(), "x")
    store.open_event_task("opinion-incident", "office", clock.now().date(), "帖子", "ma-li",
                          clock.now())
    clock.set(at("2026-12-03 09:00"))
    Deliverer(app, {"console": RecordingChannel()}, defer_unreached=False).run_pass(clock.now())
    ledger = store.ledger_path()
    app.close()
    seen = set()
    for record in read_records(ledger):
        assert isinstance(record, LedgerRecord)
        seen.add(record.type)
        assert set(records.touches(record)) == {(c, k) for c, k, _ in records.effects(record)}
    assert {"tasks-opened", "checkin", "checkin-attached", "checkin-undone", "task-excused",
            "deliveries-added", "delivery", "escalations"} <= seen


def test_check_ins_by_date_whatever_order_the_month_files_hold_them(tmp_path: Path) -> None:
    """`checkins_since` (what the admins' weekly look back and the leaders' monthly digest
    read) gives check-ins oldest first from a moment on, for the store as for `simulate`."""
    from bot.simulate import FutureTasks

    store = TinyDBStore.open(tmp_path / "store", NOW)
    store.add_tasks([PlannedTask("d:u:2026-12", "d", "u", "2026-12", date(2026, 12, 31)),
                     PlannedTask("d:u:2026-11", "d", "u", "2026-11", date(2026, 11, 30))], NOW)
    store.check_in("d:u:2026-12", "p", NOW, "十二月的", "console")
    store.check_in("d:u:2026-11", "p", NOW + timedelta(minutes=5), "十一月的", "console")
    store.close()
    store = TinyDBStore.open(tmp_path / "store", NOW + timedelta(hours=1))  # November's first
    try:
        found = [(t.key, c.note) for t, c in store.checkins_since(NOW)]
        assert found == [("d:u:2026-12", "十二月的"), ("d:u:2026-11", "十一月的")]
        later = store.checkins_since(NOW + timedelta(minutes=1))
        assert [t.key for t, _ in later] == ["d:u:2026-11"]
        future = FutureTasks(store.all_tasks())
        assert [(t.key, c.note) for t, c in future.checkins_since(NOW)] == found
    finally:
        store.close()
