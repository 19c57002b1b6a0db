"""Upgrades (issue 15, SPEC §12): a store and config written by dutybot 0.1.0 open in this
release, upgraded after a backup that restores to exactly what was there; an older dutybot
refuses a newer store; read-only commands change nothing; an upgrade that cannot back up
does not happen."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from datetime import time
from pathlib import Path

import pytest

from bot import toml_table as config_module
from bot.cli import main
from bot.config import ConfigError, load
from storage import backup, records, upgrade
from storage.audit import verify
from storage.tinydb_store import TinyDBStore
from tests.builders import ROOT, at

RELEASE = ROOT / "tests" / "fixtures" / "release-0.1.0"
NOW = "2026-12-01T10:00:00+08:00"


@pytest.fixture
def old(tmp_path: Path) -> Path:
    """A copy of the 0.1.0 bureau: its config.toml, and its store in data/."""
    shutil.copytree(RELEASE, tmp_path / "bureau")
    return tmp_path / "bureau"


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file() and p.name != "dutybot.lock"}


def _format(store: Path) -> int:
    meta = json.loads((store / "meta.json").read_text(encoding="utf-8"))
    found: int = meta["meta"]["1"]["format"]
    return found


def _chat(bureau: Path, text: str, who: str = "吴芳") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--config", str(bureau / "config.toml"),
         "--as", who, "--now", NOW], input=text, capture_output=True, text=True, cwd=ROOT,
        timeout=60)


def test_a_store_written_by_the_last_release_is_upgraded_after_a_backup(old: Path) -> None:
    store = old / "data"
    before = _snapshot(store)
    assert _format(store) == 1
    result = _chat(old, "查询 49\n完成 30 已讲党课\n")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.count(f"升级到 {upgrade.FORMAT}") == 1  # said once, to the admin
    assert "主题党日" in result.stdout and "已记录完成" in result.stdout
    assert _format(store) == upgrade.FORMAT
    meta = json.loads((store / "meta.json").read_text(encoding="utf-8"))["meta"]["1"]
    saved = Path(meta["upgrades"][0]["backup"])
    assert meta["upgrades"][0]["from"] == 1 and saved.parent == old / "data-backups"
    # The backup holds the store exactly as 0.1.0 left it.
    done = backup.restore(saved, old / "restored")
    assert _snapshot(done.folder) == before
    audited = verify(store)  # the first release's lines and this one's, each as written
    assert audited.intact and not audited.reencoded
    # Every document is now in its complete form: no field left to a guessed default.
    for month in store.glob("tasks-*.json"):
        for doc in json.loads(month.read_text(encoding="utf-8"))["tasks"].values():
            assert doc == records.task_to_doc(*records.task_from_doc(doc))
            assert set(doc) == set(records.task_to_doc(*records.task_from_doc(doc)))
    reopened = TinyDBStore.open(store, at("2026-12-01 11:00"), backups=old / "data-backups")
    try:
        assert not reopened.notices  # upgraded once
        meeting = reopened.meeting(49)
        assert meeting is not None and meeting.record is not None
        assert reopened.task_by_number(22) is not None and reopened.task_by_number(30)
    finally:
        reopened.close()
    assert len(list((old / "data-backups").iterdir())) == 1


def test_read_only_commands_read_an_older_store_as_it_is(old: Path, tmp_path: Path) -> None:
    store = old / "data"
    before = _snapshot(store)
    config = str(old / "config.toml")
    assert main(["report", "--config", config, "--year", "2026", "--now", NOW,
                 "--out", str(tmp_path / "r.xlsx")]) == 0
    assert main(["audit", "verify", "--config", config]) == 0
    assert main(["backup", "--config", config, "--now", NOW,
                 "--out", str(tmp_path / "b.tar.gz")]) == 0
    assert _snapshot(store) == before and not (old / "data-backups").exists()


def test_an_older_dutybot_refuses_a_newer_store(old: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    store = old / "data"
    meta = json.loads((store / "meta.json").read_text(encoding="utf-8"))
    meta["meta"]["1"]["format"] = upgrade.FORMAT + 1
    (store / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    before = _snapshot(store)
    for command in (["chat", "--as", "吴芳"], ["check"], ["report", "--year", "2026",
                                                          "--out", str(old / "r.xlsx")]):
        code = main([*command, "--config", str(old / "config.toml"), "--now", NOW])
        said = capsys.readouterr()
        assert code == 1 and (said.out + said.err).count("较新版本的 dutybot") == 1, said
    assert _snapshot(store) == before


def test_an_upgrade_that_cannot_back_up_does_not_happen(old: Path) -> None:
    config = old / "config.toml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        'path = "data"', 'path = "data"\nbackups = "in-the-way"', 1), encoding="utf-8")
    (old / "in-the-way").write_text("a file where the backups folder would go")
    before = _snapshot(old / "data")
    result = _chat(old, "待办\n")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.count("升级前的备份未能写入") == 1, result.stderr
    assert _snapshot(old / "data") == before and _format(old / "data") == 1


def test_the_last_releases_config_loads_as_it_is() -> None:
    config = load(RELEASE / "config.toml")
    written = (RELEASE / "config.toml").read_text(encoding="utf-8")
    assert config.renamed == ()
    assert len(config.org.people) == written.count("\n[[people]]")
    assert len(config.org.duties) == written.count("\n[[duties]]")


def test_a_renamed_key_is_still_read_and_check_says_what_to_rename(
        old: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(config_module, "RENAMED", {"reminders.send_time": "send_at",
                                                   "people.userid": "wecom_userid"})
    path = old / "config.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('send_at = "09:00"', 'send_time = "08:30"').replace(
        'wecom_userid = "WuFang"', 'userid = "WuFang"'), encoding="utf-8")
    config = load(path)
    assert config.reminders.send_at == time(8, 30)
    assert config.org.people["wu-fang"].address("wecom_userid") == "WuFang"
    assert len(config.renamed) == 2
    assert main(["check", "--config", str(path), "--now", NOW]) == 0
    out = capsys.readouterr().out
    assert "reminders.send_time 已更名为 reminders.send_at" in out
    assert out.count("已更名为") == 2
    path.write_text(path.read_text(encoding="utf-8").replace(
        'send_time = "08:30"', 'send_time = "08:30"\nsend_at = "09:00"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"reminders\.send_time"):
        load(path)
