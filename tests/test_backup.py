"""Backup and restore (issue 15, SPEC §12): a consistent, verified copy while the bot keeps
checking in; a restore equal to the store at that moment; and every fault refused whole —
a store that fails verification, a non-empty target, a truncated or altered archive, a full
disk."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import main
from bot.clock import FakeClock
from bot.config import load
from schedules.tasks import Task
from storage import backup, checkpoint
from storage.audit import verify
from storage.tinydb_store import TinyDBStore
from tests.builders import ROOT, at
from tests.test_store_faults import WRITER, tasks

NOW = at("2026-11-26 10:00")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    store = TinyDBStore.open(tmp_path / "store", NOW)
    store.add_tasks(tasks(40), NOW)
    for task in store.all_tasks()[:10]:
        store.check_in(task.key, "p", NOW, f"note {task.number}", "console")
    store.close()
    return tmp_path / "store"


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file of a folder by its SHA-256: what "untouched" means."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _tasks(folder: Path) -> list[Task]:
    store = TinyDBStore.open(folder, NOW)
    try:
        return sorted(store.all_tasks(), key=lambda t: t.number)
    finally:
        store.close()


def _replayed(ledger: bytes, meta: Path, into: Path) -> list[Task]:
    """The store the ledger `ledger` alone describes (no month files): the reference a
    restored store must equal."""
    into.mkdir()
    (into / "meta.json").write_bytes(meta.read_bytes())
    (into / "ledger.jsonl").write_bytes(ledger)
    return _tasks(into)


@pytest.fixture
def writer(folder: Path) -> Iterator[subprocess.Popen[str]]:
    with subprocess.Popen([sys.executable, "-c", WRITER, str(folder)], cwd=ROOT,
                          stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None and process.stdout.readline().strip() == "open"
        yield process
        process.kill()


def _written_past(folder: Path, seq: int) -> None:
    """Wait until the writer has recorded more than `seq` records: a backup is quick beside
    it, so three could otherwise all be taken between two of its writes."""
    deadline = time.monotonic() + 60
    while verify(folder).records <= seq:
        assert time.monotonic() < deadline, "the writer stopped writing"


def test_a_backup_taken_while_the_bot_checks_in_restores_to_that_moment(
        folder: Path, writer: subprocess.Popen[str], tmp_path: Path) -> None:
    before = verify(folder).records
    made = []
    for i in range(3):  # each taken once the writer has gone on since the last
        _written_past(folder, made[-1].records if made else before)
        made.append(backup.take(folder, tmp_path / f"b{i}.tar.gz", NOW, "test"))
    _written_past(folder, made[-1].records)
    writer.kill()
    writer.wait()
    assert verify(folder).records > made[-1].records > before  # it kept writing throughout
    for i, taken in enumerate(made):
        done = backup.restore(taken.path, tmp_path / f"restored{i}")
        assert done.audit.intact and done.records == taken.records
        restored_ledger = (done.folder / "ledger.jsonl").read_bytes()
        assert (folder / "ledger.jsonl").read_bytes().startswith(restored_ledger)
        reference = _replayed(restored_ledger, folder / "meta.json", tmp_path / f"ref{i}")
        assert _tasks(done.folder) == reference
        assert verify(done.folder).intact  # after the restored store opened and caught up


def test_a_store_busy_through_every_copy_is_still_backed_up_whole(
        folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A month file rewritten while each copy is taken (a busy bot): after the last try the
    copy stands, whole — it is not thrown away (the backup then had no meta.json)."""
    listed = backup.store_files
    month = next(folder.glob("tasks-*.json"))

    def busy(where: Path) -> list[str]:
        names = listed(where)
        if where == folder:  # the bot rewrites a month file (atomically, as it does)
            month.with_suffix(".tmp").write_bytes(month.read_bytes())
            month.with_suffix(".tmp").replace(month)
        return names
    monkeypatch.setattr(backup, "store_files", busy)
    taken = backup.take(folder, tmp_path / "busy.tar.gz", NOW, "test")
    done = backup.restore(taken.path, tmp_path / "restored")
    assert done.audit.intact and done.records == verify(folder).records


def test_backup_and_restore_from_the_command_line(config_path: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--config", str(config_path), "--now", "2026-11-26T10:00:00+08:00"]
    App.open(load(config_path), FakeClock(NOW)).close()
    for minute in ("01", "02", "03"):  # three nightly backups, the oldest pruned
        assert main(["backup", "--config", str(config_path), "--now",
                     f"2026-11-26T10:{minute}:00+08:00", "--keep", "2"]) == 0
    backups = sorted((tmp_path / "data").glob("example-backups/*.tar.gz"))
    assert [p.name for p in backups] == ["example-20261126-100200.tar.gz",
                                         "example-20261126-100300.tar.gz"]
    out = capsys.readouterr().out
    assert out.count("已备份") == 3 and "已删除较早的备份" in out
    target = tmp_path / "restored"
    assert main(["restore", str(backups[-1]), "--into", str(target), *args]) == 0
    assert "台账核对完好" in capsys.readouterr().out
    source = _snapshot(tmp_path / "data" / "example")
    derived = {"dutybot.lock", checkpoint.FILE}  # a restored store writes its own checkpoint
    assert _snapshot(target) == {k: v for k, v in source.items() if k not in derived}
    assert main(["restore", str(backups[-1]), "--into", str(target), *args]) == 1
    assert "不是空目录" in capsys.readouterr().err


def test_a_store_that_fails_verification_is_not_backed_up(folder: Path,
                                                          tmp_path: Path) -> None:
    month = folder / "tasks-2026-11.json"
    data = json.loads(month.read_text(encoding="utf-8"))
    checked = next(d for d in data["tasks"].values() if d["checkins"])
    checked["checkins"][0]["note"] = "edited behind the ledger"
    month.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out" / "b.tar.gz"
    out.parent.mkdir()
    with pytest.raises(backup.BackupFailed, match=r"tasks-2026-11\.json"):
        backup.take(folder, out, NOW, "test")
    assert list(out.parent.iterdir()) == []  # no archive, no part, no scratch copy


def test_restore_refuses_a_folder_that_holds_anything(folder: Path, tmp_path: Path) -> None:
    taken = backup.take(folder, tmp_path / "b.tar.gz", NOW, "test")
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(backup.RestoreRefused, match="不是空目录"):
        backup.restore(taken.path, target)
    assert _snapshot(target) == {"notes.txt": hashlib.sha256(b"keep me").hexdigest()}
    empty = tmp_path / "empty"
    empty.mkdir()
    assert backup.restore(taken.path, empty).audit.intact  # an empty folder is fine


def test_a_truncated_archive_is_refused_before_anything_is_written(folder: Path,
                                                                   tmp_path: Path) -> None:
    taken = backup.take(folder, tmp_path / "b.tar.gz", NOW, "test")
    whole = taken.path.read_bytes()
    for cut in (len(whole) // 3, len(whole) - 40):
        torn = tmp_path / f"torn{cut}.tar.gz"
        torn.write_bytes(whole[:cut])
        with pytest.raises(backup.RestoreRefused):
            backup.restore(torn, tmp_path / "target")
        assert not (tmp_path / "target").exists()
        assert not list(tmp_path.glob(".target*"))


def _rewritten(archive: Path, change: dict[str, bytes]) -> bytes:
    """The archive with some members' contents replaced (the manifest kept)."""
    buffer = io.BytesIO()
    with tarfile.open(archive, "r:gz") as source, tarfile.open(fileobj=buffer, mode="w") as out:
        for member in source:
            f = source.extractfile(member)
            assert f is not None
            body = change.get(member.name, f.read())
            member.size = len(body)
            out.addfile(member, io.BytesIO(body))
    return gzip.compress(buffer.getvalue())


def test_an_altered_or_foreign_archive_is_refused(folder: Path, tmp_path: Path) -> None:
    taken = backup.take(folder, tmp_path / "b.tar.gz", NOW, "test")
    ledger = (folder / "ledger.jsonl").read_bytes()
    altered = tmp_path / "altered.tar.gz"
    altered.write_bytes(_rewritten(taken.path, {"store/ledger.jsonl": ledger[:-10] + b"0" * 10}))
    with pytest.raises(backup.RestoreRefused, match=r"ledger\.jsonl 与备份清单不符"):
        backup.restore(altered, tmp_path / "target")
    manifest = json.dumps({"kind": "dutybot-backup", "files": {}}).encode()
    cases = [([("../../etc/passwd", b"root")], "不是 dutybot 的备份"),
             ([(backup.MANIFEST, manifest), ("store/../../etc/passwd", b"root")], "不应出现的条目")]
    for first, match in cases:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as out:
            for name, body in first:
                info = tarfile.TarInfo(name)
                info.size = len(body)
                out.addfile(info, io.BytesIO(body))
        foreign = tmp_path / "foreign.tar.gz"
        foreign.write_bytes(gzip.compress(buffer.getvalue()))
        with pytest.raises(backup.RestoreRefused, match=match):
            backup.restore(foreign, tmp_path / "target")
    assert not (tmp_path / "target").exists()
    assert not (tmp_path.parent / "etc").exists()


FULL_DISK = """
import resource, signal, sys
from bot.cli import main
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a full disk answers with an error
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), resource.RLIM_INFINITY))
sys.exit(main(sys.argv[2:]))
"""


def test_a_full_disk_during_a_backup_leaves_the_store_and_no_half_archive(
        config_path: Path, tmp_path: Path) -> None:
    App.open(load(config_path), FakeClock(NOW)).close()
    store = tmp_path / "data" / "example"
    before = _snapshot(store)
    out = tmp_path / "backups"
    out.mkdir()
    whole = backup.take(store, tmp_path / "whole.tar.gz", NOW, "test").path.stat().st_size
    biggest = max(p.stat().st_size for p in store.iterdir())
    for room in (0, biggest // 2, whole - 1):  # full at once, part-way through the copy,
        # at the archive's last byte
        result = subprocess.run(
            [sys.executable, "-c", FULL_DISK, str(room), "backup", "--config",
             str(config_path), "--out", str(out / "b.tar.gz")],
            capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert result.returncode == 1, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.count("未生成备份") == 1, result.stderr
        assert list(out.iterdir()) == []
        assert _snapshot(store) == before
