"""The store's format version, and bringing a store written by an older release up to date.

`meta.json` records the format a store is written in. A newer dutybot opening an older store
for writing first writes a verified backup (`storage.backup`), then runs each step from the
store's format to this one, then records the new format — so a crash part-way leaves the
old format recorded and the steps run again (each is safe to repeat). An older dutybot
refuses a newer store rather than misread it. Read-only opens (`report`, `audit verify`,
`record-book`) read an older store as it is and change nothing.

Formats:
1. The first releases (to 0.1.x): fields a release added are missing from documents an
   earlier one wrote; the first release wrote a task's excuse as one `excuse`.
2. Every task and outbox document in its complete current form (`excuses` a list, every
   field present), so nothing is read by guessing a default; meta names the release that
   upgraded the store and when.
3. Evidence files: an attachment may name a file kept in `files/` (`sha256`, `size`,
   `type`, or the `error` it was not kept for). Nothing to rewrite; but a release of format
   2 would drop those keys when it rewrites a task document (and the next audit would find
   the task file differing from its ledger), so it must refuse the store.
4. The ledger may hold `reminders-skipped` marks and `escalations` records (a pass's missed
   reminders and its escalations, each one record), and the folder a `checkpoint.json`.
   Nothing to rewrite; but a release of format 3 would not read them: it would record the
   escalations again (twice in the accountability record) and skip the missed reminders
   again one entry at a time, so it must refuse the store.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from storage import backup, records
from storage.atomic import atomic_write, read_json_file
from storage.errors import StoreCorrupt, StoreError
from storage.ledger import RecordInvalid

log = logging.getLogger(__name__)

FORMAT = 4  # the format this release writes


class StoreTooNew(StoreError):
    def __init__(self, path: Path, found: int) -> None:
        self.path = path
        super().__init__(
            f"数据目录 {path.parent} 由较新版本的 dutybot 写入（数据格式 {found}），"
            f"本程序（{release()}）只认识到格式 {FORMAT}，为免误读未打开。"
            "请安装与数据目录相同或更新的 dutybot 版本；不要用旧版本打开新数据。")


class UpgradeFailed(StoreError):
    """The store was not upgraded and is as it was."""


def release() -> str:
    try:
        return metadata.version("dutybot")
    except metadata.PackageNotFoundError:  # run from a checkout without installing
        return "未安装"


def backup_name(folder: Path, found: int, now: datetime) -> str:
    return f"{folder.name}-格式{found}-升级前-{now:%Y%m%d-%H%M%S}.tar.gz"


def upgrade(folder: Path, found: int, backups: Path, now: datetime) -> str:
    """Bring the store in `folder` (held locked by the caller) from format `found` to
    `FORMAT`; what was done, for the admin. Raises `UpgradeFailed` when the backup cannot be
    written (nothing is then changed) and `StoreCorrupt` when a file cannot be read."""
    try:
        backups.mkdir(parents=True, exist_ok=True)
        made = backup.take(folder, backups / backup_name(folder, found, now), now, release())
    except (OSError, backup.BackupFailed) as e:
        raise UpgradeFailed(
            f"数据目录 {folder} 需要从数据格式 {found} 升级到 {FORMAT}，但升级前的备份未能写入"
            f"（{e}）。未升级，数据未改动；请确认备份目录 {backups} 可写（配置 [store] backups）"
            "后重试") from None
    for step in range(found, FORMAT):
        log.warning("upgrading the store from format %d to %d", step, step + 1)
        STEPS[step](folder)
    _record_format(folder, found, now, made.path)
    return (f"数据目录已从数据格式 {found} 升级到 {FORMAT}（dutybot {release()}）；"
            f"升级前的备份：{made.path}")


def _rewrite_documents(folder: Path) -> None:
    """1 → 2: every document in its complete current form."""
    forms: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
        records.TASKS: lambda d: records.task_to_doc(*records.task_from_doc(d)),
        records.OUTBOX: lambda d: records.entry_to_doc(*records.entry_from_doc(d)),
    }
    for path in sorted([*folder.glob("tasks-*.json"), *folder.glob("outbox-*.json")]):
        data = read_json_file(path)
        collection = path.name.split("-", 1)[0]
        table = data.get(collection, {}) if isinstance(data, dict) else None
        if not isinstance(table, dict):
            raise StoreCorrupt(path, "不是 TinyDB 数据文件的结构")
        try:
            rewritten = {key: forms[collection](doc) for key, doc in table.items()}
        except (RecordInvalid, TypeError, AttributeError) as e:
            raise StoreCorrupt(path, f"中有文档格式不对：{e}") from e
        if rewritten != table:
            data[collection] = rewritten
            atomic_write(path, json.dumps(data, ensure_ascii=False,
                                          separators=(",", ":")).encode())


def _record_format(folder: Path, found: int, now: datetime, saved: Path) -> None:
    path = folder / "meta.json"
    data = read_json_file(path)
    key, row = next(iter(data["meta"].items()))
    row["format"] = FORMAT
    row["release"] = release()
    row.setdefault("upgrades", []).append(
        {"from": found, "to": FORMAT, "at": now.isoformat(), "backup": str(saved)})
    data["meta"][key] = row
    atomic_write(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())


def _evidence_files(folder: Path) -> None:
    """2 → 3: nothing to rewrite (format 2's attachments are valid format 3)."""


def _ledger_marks(folder: Path) -> None:
    """3 → 4: nothing to rewrite (a format 3 ledger is a valid format 4 one)."""


STEPS: dict[int, Callable[[Path], None]] = {1: _rewrite_documents, 2: _evidence_files,
                                            3: _ledger_marks}
