"""Store faults an admin meets (issue 10, SPEC §12): a deleted lock file, an audit beside a
running bot, an unwritable or full store, corrupt files that still parse, a torn tail."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.cli import main
from bot.clock import FakeClock
from bot.config import load
from handlers import text
from schedules.tasks import PlannedTask, Status
from storage.audit import verify
from storage.errors import StoreCorrupt, StoreLocked
from storage.tinydb_store import TinyDBStore
from tests.builders import ROOT, at, rechain

NOW = at("2026-11-26 10:00")

HOLDER = """
import sys
from pathlib import Path
from storage.tinydb_store import TinyDBStore
from tests.builders import at
store = TinyDBStore.open(Path(sys.argv[1]), at("2026-11-26 10:00"))
print("locked", flush=True)
sys.stdin.read()
"""

WRITER = """
import sys
from datetime import timedelta
from pathlib import Path
from schedules.tasks import Status
from storage.tinydb_store import TinyDBStore
from tests.builders import at

now = at("2026-11-26 10:00")
store = TinyDBStore.open(Path(sys.argv[1]), now)
print("open", flush=True)
while True:  # check in, undo, check in again: every kind of write, until killed
    for task in store.all_tasks():
        now += timedelta(milliseconds=1)
        if task.status is Status.OPEN:
            store.check_in(task.key, "p", now, f"n{task.number}", "console")
        elif task.checkin is not None:
            store.undo_checkin(task.key, task.checkin.id, "p", now)
        if task.number % 7 == 0:
            store.fold()  # the month files brought up to the ledger, as the minute pass does
"""


def tasks(n: int) -> list[PlannedTask]:
    return [PlannedTask(f"d{i}:u:2026-11", f"d{i}", "u", "2026-11", date(2026, 11, 30))
            for i in range(n)]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    store = TinyDBStore.open(tmp_path / "store", NOW)
    store.add_tasks(tasks(60), NOW)
    store.close()
    return tmp_path / "store"


@pytest.fixture
def holder(folder: Path) -> Iterator[subprocess.Popen[str]]:
    with subprocess.Popen([sys.executable, "-c", HOLDER, str(folder)], cwd=ROOT,
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None and process.stdout.readline().strip() == "locked"
        yield process
        process.kill()


def test_deleting_the_lock_file_never_admits_a_second_writer(
        folder: Path, holder: subprocess.Popen[str]) -> None:
    (folder / "dutybot.lock").unlink()
    with pytest.raises(StoreLocked):
        TinyDBStore.open(folder, NOW)
    (folder / "dutybot.lock").write_text("someone else\n")  # replaced by another file, too
    with pytest.raises(StoreLocked):
        TinyDBStore.open(folder, NOW)


def test_audit_beside_a_running_bot_never_cries_wolf(folder: Path) -> None:
    with subprocess.Popen([sys.executable, "-c", WRITER, str(folder)], cwd=ROOT,
                          stdout=subprocess.PIPE, text=True) as writer:
        try:
            assert writer.stdout is not None and writer.stdout.readline().strip() == "open"
            ledger, waited = folder / "ledger.jsonl", 0
            while ledger.read_bytes().count(b"\n") < 3 and waited < 1000:  # it has begun
                time.sleep(0.01)
                waited += 1
            results = [verify(folder) for _ in range(40)]
        finally:
            writer.kill()
    assert results[-1].records > results[0].records > 1  # it was writing all along
    alarms = [r for r in results if not r.intact]
    assert not alarms, alarms[0]
    after_kill = verify(folder)
    assert after_kill.intact, after_kill


# ---- an unwritable or full store -------------------------------------------------------------

def run_unprivileged(work: Callable[[], tuple[int, str]],
                     warm_up: Callable[[], object]) -> tuple[int, str]:
    """`work` in a child process that cannot write the store: as `nobody` when we are root
    (root writes anywhere), else after the caller made the folder read-only. `warm_up` runs
    first, with our own rights: `nobody` may not read the modules it would import lazily."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read_end)
            warm_up()
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            code, out = work()
            os.write(write_end, json.dumps([code, out]).encode())
        except BaseException as e:  # noqa: BLE001 - reported to the parent
            os.write(write_end, json.dumps([99, repr(e)]).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as f:
        result = json.loads(f.read() or b'[98, "no answer"]')
    os.waitpid(pid, 0)
    return result[0], result[1]


@pytest.fixture
def readable_only(tmp_path: Path) -> Iterator[Path]:
    """The example bureau with a store, in a folder anyone may read and nobody but root
    may write."""
    base = Path(tempfile.mkdtemp(prefix="dutybot-ro-"))
    try:
        config = base / "config.toml"
        shutil.copy(ROOT / "config.example.toml", config)
        app = App.open(load(config), FakeClock(NOW))
        app.close()
        for path in [base, *base.rglob("*")]:
            path.chmod(0o555 if path.is_dir() else 0o444)
        yield config
    finally:
        for path in [base, *base.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        shutil.rmtree(base)


def _chat_in_child(config: Path, lines: list[str]) -> Callable[[], tuple[int, str]]:
    def work() -> tuple[int, str]:
        import contextlib
        import io

        sys.stdin = io.StringIO("\n".join(lines) + "\n")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["chat", "--config", str(config), "--as", "吴芳",
                         "--now", "2026-11-26T10:05:00+08:00"])
        return code, err.getvalue() + "\n=====\n" + out.getvalue()
    return work


def test_an_unwritable_store_answers_queries_and_says_so_once(readable_only: Path,
                                                             tmp_path: Path) -> None:
    shutil.copy(ROOT / "config.example.toml", tmp_path / "config.toml")
    lines = ["待办", "打卡 22 已召开"]
    code, output = run_unprivileged(_chat_in_child(readable_only, lines),
                                    _chat_in_child(tmp_path / "config.toml", lines))
    assert code == 0, output
    err, out = output.split("\n=====\n")
    assert "Traceback" not in output
    assert err.count("无法写入") == 1 and str(readable_only.parent / "data") in err
    replies = out.strip().split("\n\n")
    assert replies[0].startswith("您有 6 项待办")
    assert replies[1] == text.write_failed("checkin")


FULL_AT_START = """
import resource, signal, sys
from bot.cli import main
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a full disk answers with an error
resource.setrlimit(resource.RLIMIT_FSIZE, (0, resource.RLIM_INFINITY))
sys.exit(main(sys.argv[1:]))
"""


def test_a_full_store_at_start_up_answers_queries(config_path: Path) -> None:
    main(["check", "--config", str(config_path)])  # the store exists, with November's tasks
    App.open(load(config_path), FakeClock(NOW)).close()
    result = subprocess.run(
        [sys.executable, "-c", FULL_AT_START, "chat", "--config", str(config_path), "--as",
         "吴芳", "--now", "2026-12-02T10:00:00+08:00"],  # December's tasks cannot be written
        input="待办\n打卡 22\n", capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    replies = result.stdout.strip().split("\n\n")
    assert replies[0].startswith("您有 6 项待办")  # what it has: November's, overdue
    assert replies[1] == text.write_failed("checkin")


# ---- corrupt but parseable -------------------------------------------------------------------

def _task_doc(folder: Path) -> tuple[Path, dict[str, Any]]:
    path = folder / "tasks-2026-11.json"
    return path, json.loads(path.read_text(encoding="utf-8"))


def _edit_task(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        path, data = _task_doc(folder)
        change(next(iter(data["tasks"].values())))
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return damage


def _edit_tasks(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        path, data = _task_doc(folder)
        change(data["tasks"])
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return damage


def _task_twice(tasks: dict[str, Any]) -> None:
    """The same task under a second document id."""
    tasks["99999"] = dict(next(iter(tasks.values())))


def _number_twice(tasks: dict[str, Any]) -> None:
    """Two tasks of one file with one number."""
    first, second = list(tasks.values())[:2]
    second["number"] = first["number"]


def _task_in_two_files(folder: Path) -> None:
    _, data = _task_doc(folder)
    doc_id, doc = next(iter(data["tasks"].items()))
    (folder / "tasks-2027-01.json").write_text(  # a month no task of the store is in
        json.dumps({"tasks": {doc_id: doc}}, ensure_ascii=False), encoding="utf-8")


def _tasks_a_list(folder: Path) -> None:
    (folder / "tasks-2026-11.json").write_text('{"tasks": []}', encoding="utf-8")


def _outbox_state(folder: Path) -> None:
    path = next(folder.glob("outbox-*.json"))
    data = json.loads(path.read_text(encoding="utf-8"))
    next(iter(data["outbox"].values()))["state"] = 7
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def _ledger(change: Callable[[list[dict[str, Any]]], None]) -> Callable[[Path], None]:
    return lambda folder: rechain(folder / "ledger.jsonl", change)


def _unknown_task(items: list[dict[str, Any]]) -> None:
    checkin = next(i for i in items if i["type"] == "checkin")
    checkin["data"]["task"] = "no-such-duty:nobody:2026-11"


def _data_a_list(items: list[dict[str, Any]]) -> None:
    items[-1]["data"] = [1, 2, 3]


def _field_missing(items: list[dict[str, Any]]) -> None:
    del next(i for i in items if i["type"] == "checkin")["data"]["checkin"]


def _meta_since(folder: Path) -> None:
    path = folder / "meta.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    next(iter(data["meta"].values()))["since"] = "someday"
    path.write_text(json.dumps(data), encoding="utf-8")


CORRUPT: dict[str, tuple[Callable[[Path], None], str]] = {
    "tasks-as-a-list": (_tasks_a_list, "tasks-2026-11.json"),
    "number-as-text": (_edit_task(lambda d: d.update(number="5")), "tasks-2026-11.json"),
    "seq-as-text": (_edit_task(lambda d: d.update(seq="3")), "tasks-2026-11.json"),
    "checkins-as-text": (_edit_task(lambda d: d.update(checkins="x")), "tasks-2026-11.json"),
    "note-as-number": (_edit_task(lambda d: d.update(note=5)), "tasks-2026-11.json"),
    "task-twice": (_edit_tasks(_task_twice), "tasks-2026-11.json"),
    "number-twice": (_edit_tasks(_number_twice), "tasks-2026-11.json"),
    "task-in-two-files": (_task_in_two_files, "tasks-2027-01.json"),
    "outbox-state": (_outbox_state, "outbox-2026-11.json"),
    "unknown-task-chained": (_ledger(_unknown_task), "ledger.jsonl"),
    "data-a-list-chained": (_ledger(_data_a_list), "ledger.jsonl"),
    "field-missing-chained": (_ledger(_field_missing), "ledger.jsonl"),
    "meta-since": (_meta_since, "meta.json"),
}


@pytest.fixture
def lived(config_path: Path) -> Path:
    """The example store with a check-in and a reminder in its outbox."""
    from bot.delivery import Deliverer
    from tests.builders import RecordingChannel

    clock = FakeClock(at("2026-11-23 09:30"))
    app = App.open(load(config_path), clock)
    Deliverer(app, {"console": RecordingChannel()}, False).run_pass(clock.now())
    app.store.check_in("theme-day:branch-1:2026-11", "wu-fang", clock.now(), "好", "console")
    app.close()
    return config_path.parent / "data" / "example"


@pytest.mark.parametrize("variant", list(CORRUPT))
def test_a_corrupt_but_parseable_file_gets_one_message(
        variant: str, config_path: Path, lived: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    damage, named = CORRUPT[variant]
    damage(lived)
    before = {p.name: p.read_bytes() for p in lived.iterdir() if p.name != "dutybot.lock"}
    with pytest.raises(StoreCorrupt) as caught:
        TinyDBStore.open(lived, NOW)
    assert named in str(caught.value)

    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--config", str(config_path), "--as", "吴芳",
         "--now", "2026-11-26T10:00:00+08:00"],
        input="待办\n", capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert named in result.stderr and len(result.stderr.strip().splitlines()) == 1

    capsys.readouterr()
    assert main(["audit", "verify", "--config", str(config_path)]) == 1
    said = capsys.readouterr()
    assert named in said.err and "台账完好" not in said.out
    after = {p.name: p.read_bytes() for p in lived.iterdir() if p.name != "dutybot.lock"}
    assert after == before  # nothing was changed by looking


# ---- the torn tail ---------------------------------------------------------------------------

def test_a_whole_last_record_without_its_newline_is_kept(folder: Path) -> None:
    store = TinyDBStore.open(folder, NOW)
    store.check_in("d1:u:2026-11", "p", NOW, "已确认", "console")
    store.close()
    ledger = folder / "ledger.jsonl"
    ledger.write_bytes(ledger.read_bytes().rstrip(b"\n"))  # an editor dropped the newline
    assert verify(folder).intact
    store = TinyDBStore.open(folder, NOW)
    try:
        task = store.task("d1:u:2026-11")
        assert task is not None and task.status is Status.DONE
        assert ledger.read_bytes().endswith(b"\n") and not list(folder.glob("*.torn-*"))
        assert "补上" in store.notices[0]
    finally:
        store.close()


# ---- smaller defects -------------------------------------------------------------------------

def test_attaching_to_an_unknown_check_in_is_a_key_error(folder: Path) -> None:
    store = TinyDBStore.open(folder, NOW)
    try:
        with pytest.raises(KeyError):
            store.attach("d1:u:2026-11", "c999", [], "p", NOW)
    finally:
        store.close()
