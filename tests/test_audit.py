"""`dutybot audit verify`: intact, edited, removed, reordered and truncated ledgers; lines
edited without changing their record; task files written out differently. Each test runs
twice: the audit in one piece, and in two halves at once as on a large store."""

from __future__ import annotations

import gc
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.cli import main
from bot.clock import FakeClock
from bot.config import load
from storage import audit
from tests.builders import at


@pytest.fixture(autouse=True, params=["in one piece", "in halves"])
def halved(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """In halves: the audit halves however small the store (`storage.audit.SPLIT_FROM`)."""
    if request.param == "in one piece":
        return False
    monkeypatch.setattr(audit, "SPLIT_FROM", 0)
    # The audit forks only in a process with no other thread.
    assert threading.active_count() == 1, f"threads left running: {threading.enumerate()}"
    return True


@pytest.fixture
def ledger(config_path: Path) -> Path:
    clock = FakeClock(at("2026-11-26 10:00"))
    app = App.open(load(config_path), clock)
    for key, note in [("theme-day:branch-1:2026-11", "一"), ("theme-day:branch-2:2026-11", "二"),
                      ("theme-day:branch-3:2026-11", "三")]:
        app.store.check_in(key, "someone", clock.now(), note, "console")
    app.close()
    return config_path.parent / "data" / "example" / "ledger.jsonl"


def run(config_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["audit", "verify", "--config", str(config_path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_an_intact_ledger_passes(config_path: Path, ledger: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(config_path, capsys)
    assert code == 0 and "台账完好：共 4 条记录" in out


def test_an_edited_note_is_named(config_path: Path, ledger: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    ledger.write_text(ledger.read_text(encoding="utf-8").replace('"note":"二"', '"note":"贰"'),
                      encoding="utf-8")
    code, out = run(config_path, capsys)
    assert code == 1 and "第 3 行（记录 3）" in out and "被改动过" in out


def test_a_removed_record_is_named(config_path: Path, ledger: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    lines = ledger.read_text(encoding="utf-8").splitlines(keepends=True)
    ledger.write_text("".join(lines[:1] + lines[2:]), encoding="utf-8")
    code, out = run(config_path, capsys)
    assert code == 1 and "第 2 行（记录 3）" in out and "被删除" in out


def test_reordered_records_are_named(config_path: Path, ledger: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    lines = ledger.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2], lines[3] = lines[3], lines[2]
    ledger.write_text("".join(lines), encoding="utf-8")
    code, out = run(config_path, capsys)
    assert code == 1 and "第 3 行（记录 4）" in out


def test_removing_the_newest_records_is_noticed(config_path: Path, ledger: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    lines = ledger.read_text(encoding="utf-8").splitlines(keepends=True)
    ledger.write_text("".join(lines[:2]), encoding="utf-8")
    code, out = run(config_path, capsys)
    assert code == 1 and "末尾缺少记录 3–4" in out


def test_a_note_edited_in_a_task_file_is_named(config_path: Path, ledger: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    tasks_file = ledger.parent / "tasks-2026-11.json"
    content = tasks_file.read_text(encoding="utf-8")
    assert content.count('"note":"二"') == 1
    tasks_file.write_text(content.replace('"note":"二"', '"note":"贰"'), encoding="utf-8")
    code, out = run(config_path, capsys)
    app = App.open(load(config_path), FakeClock(at("2026-11-26 11:00")), read_only=True)
    task = app.store.task("theme-day:branch-2:2026-11")
    app.close()
    assert task is not None
    assert code == 1 and f"tasks-2026-11.json 中编号 {task.number} 的任务与台账记载不符" in out


def test_an_excuse_and_an_incident_pass_the_audit(config_path: Path, ledger: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    clock = FakeClock(at("2026-11-26 12:00"))
    app = App.open(load(config_path), clock)
    app.store.excuse("theme-day:branch-4:2026-11", "zhao-min", clock.now(), "联合开展")
    app.store.open_event_task("opinion-incident", "office", at("2026-11-27 00:00").date(),
                              "不实帖子", "ma-li", clock.now())
    app.close()
    code, out = run(config_path, capsys)
    assert code == 0 and "台账完好：共 6 条记录" in out and "数据文件与台账一致" in out


def _reordered(line: str) -> str:
    """The line with the keys of its record's data in the opposite order."""
    obj = json.loads(line)
    obj["data"] = dict(reversed(obj["data"].items()))
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"


@pytest.mark.parametrize(("edit", "said"), [
    (lambda line: line.replace('":', '": '), "多了空白"),
    (lambda line: f" {line[:-1]}\t\n", "多了空白"),
    (lambda line: line.replace('"note":"二"', '"note":"贰","note":"二"'),
     "字段 note 出现了不止一次"),
    (_reordered, "字段的顺序被调换过"),
], ids=["spaces", "spaces around the line", "a value shown before the hashed one",
        "keys rearranged"])
def test_a_line_edited_without_changing_its_record_is_named(
        config_path: Path, ledger: Path, capsys: pytest.CaptureFixture[str],
        edit: Callable[[str], str], said: str, tmp_path: Path) -> None:
    """The record's content still hashes right, but the line is not what was written: the
    audit names it (and goes on checking the chain). The record can still be trusted, so
    the store still opens and a backup is still taken (an upgrade takes one first)."""
    lines = ledger.read_text(encoding="utf-8").splitlines(keepends=True)
    edited = edit(lines[2])
    assert edited != lines[2]
    ledger.write_text("".join([*lines[:2], edited, *lines[3:]]), encoding="utf-8")
    code, out = run(config_path, capsys)
    assert code == 1
    assert f"{ledger} 第 3 行（记录 3）被改动过：记录的内容与哈希相符，但这一行" in out
    assert said in out and "哈希值不符" not in out
    app = App.open(load(config_path), FakeClock(at("2026-11-26 11:00")), read_only=True)
    task = app.store.task("theme-day:branch-2:2026-11")
    app.close()
    assert task is not None and task.checkin is not None and task.checkin.note == "二"
    assert main(["backup", "--config", str(config_path), "--out",
                 str(tmp_path / "kept.tar.gz")]) == 0


def test_a_task_file_written_out_differently_with_the_same_content_passes(
        config_path: Path, ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tasks_file = ledger.parent / "tasks-2026-11.json"
    content = json.loads(tasks_file.read_text(encoding="utf-8"))
    tasks_file.write_text(json.dumps(content, ensure_ascii=True, indent=1), encoding="utf-8")
    code, out = run(config_path, capsys)
    assert code == 0 and "数据文件与台账一致" in out


def test_a_count_written_as_a_decimal_in_a_task_file_is_named(
        config_path: Path, ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """0.0 equals 0 to Python, but opening the store would refuse it: so does the audit."""
    tasks_file = ledger.parent / "tasks-2026-11.json"
    content = tasks_file.read_text(encoding="utf-8")
    assert '"moves":0,' in content
    tasks_file.write_text(content.replace('"moves":0,', '"moves":0.0,', 1), encoding="utf-8")
    code, out = run(config_path, capsys)
    assert code == 1 and "tasks-2026-11.json" in out and "字段 moves 的类型不对" in out
    assert gc.isenabled()  # the audit held the collector only while it ran


def _task_docs(ledger: Path) -> tuple[Path, dict[str, Any]]:
    tasks_file = ledger.parent / "tasks-2026-11.json"
    return tasks_file, json.loads(tasks_file.read_text(encoding="utf-8"))


def test_a_task_removed_from_a_task_file_is_named(config_path: Path, ledger: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """The file reflects records after the one that made the task, so it should hold it."""
    tasks_file, content = _task_docs(ledger)
    doc_id, doc = next((i, d) for i, d in content["tasks"].items()
                       if d["key"] == "theme-day:branch-4:2026-11")
    del content["tasks"][doc_id]
    tasks_file.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
    code, out = run(config_path, capsys)
    assert code == 1
    assert f"tasks-2026-11.json 中编号 {doc['number']} 的任务被删除（台账中有此记录）" in out


def test_a_task_no_record_made_is_named(config_path: Path, ledger: Path,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    tasks_file, content = _task_docs(ledger)
    doc = dict(next(iter(content["tasks"].values())))
    number = max(d["number"] for d in content["tasks"].values()) + 1
    doc.update(key="theme-day:branch-9:2026-11", number=number)
    content["tasks"][str(len(content["tasks"]) + 1)] = doc
    tasks_file.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
    code, out = run(config_path, capsys)
    assert code == 1 and f"tasks-2026-11.json 中编号 {number} 的任务不对应台账中的任何记录" in out


def test_the_audit_needs_only_the_store_path_of_the_config(
        config_path: Path, ledger: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An admin mid-way through editing the config can still check the store; the
    commands that run the bureau still refuse the config."""
    config_path.write_text(config_path.read_text(encoding="utf-8").replace(
        'timezone = "Asia/Shanghai"', 'timezone = "Mars/Olympus"'), encoding="utf-8")
    assert main(["check", "--config", str(config_path)]) == 2
    assert "Mars/Olympus" in capsys.readouterr().err
    code, out = run(config_path, capsys)
    assert code == 0 and "台账完好：共 4 条记录" in out


@pytest.mark.parametrize("half", [0, 1])
def test_a_task_edited_in_either_half_is_named(ledger: Path, halved: bool, half: int) -> None:
    """In halves, each task is compared in one of two processes (by its key's hash, the
    second half in a forked child): an edit is named whichever compares it."""
    folder = ledger.parent
    assert audit._worth_halving(folder) == halved
    tasks_file, content = _task_docs(ledger)
    doc = next(d for d in content["tasks"].values() if hash(d["key"]) & 1 == half)
    doc["duty"] = "改过的职责"
    tasks_file.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
    result = audit.verify(folder)
    assert not result.intact and result.altered is not None
    assert (result.altered.file, result.altered.number) == (tasks_file.name, doc["number"])


def test_an_intact_store_audited_in_halves_says_what_one_piece_says(
        ledger: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = ledger.parent
    either = audit.verify(folder)
    monkeypatch.setattr(audit, "SPLIT_FROM", 1 << 62)
    assert either == audit.verify(folder) and either.intact and either.records == 4
