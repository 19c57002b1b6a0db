"""A TinyDB storage that never leaves a half-written file and parses the file only once.

TinyDB's own `JSONStorage` rewrites the file in place and re-reads it on every operation;
a crash mid-write can leave it unparseable, and each call costs a full parse. This storage
keeps the data in memory after the first read and replaces the file atomically: write a
temporary file in the same folder, fsync it, `os.replace` it over the old one, fsync the
folder.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from tinydb.storages import Storage

from storage.errors import StoreCorrupt

TEMP_SUFFIX = ".tmp"
# Only the temporary files `atomic_write` makes: `<file>.<pid>.tmp`.
OWN_TEMP = re.compile(r"^(?:(?:tasks|outbox)-\d{4}-\d{2}|meta|checkpoint)\.json\.\d+\.tmp$")


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, payload: bytes, durable_name: bool = True) -> None:
    """Replace `path` with `payload` so that a crash leaves either the old or the new file.
    `durable_name=False` skips syncing the folder: after a power cut the name may still
    point at the old file — fine for a file the ledger can bring up to date."""
    temp = path.with_name(f"{path.name}.{os.getpid()}{TEMP_SUFFIX}")
    try:
        with open(temp, "wb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    if durable_name:
        fsync_dir(path.parent)


def read_json_file(path: Path) -> Any:
    """Parse a store file, or raise `StoreCorrupt` naming it; never modifies the file."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise StoreCorrupt(path, f"无法读取（{e.strerror}）") from e
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise StoreCorrupt(path, f"第 {e.start} 字节起不是有效的 UTF-8") from e
    except json.JSONDecodeError as e:
        raise StoreCorrupt(path, f"不是有效的 JSON（第 {e.lineno} 行第 {e.colno} 列）") from e


class AtomicJSONStorage(Storage):
    """`follows_ledger`: the file is a copy of what the fsync'd ledger already holds (a
    month file), so its rename need not be synced — a lost rename leaves the older file,
    which start-up brings up to date from the ledger. `meta.json` is not such a file."""

    def __init__(self, path: str | Path, follows_ledger: bool = False) -> None:
        self.path = Path(path)
        self.follows_ledger = follows_ledger
        self._data: dict[str, dict[str, Any]] | None = None

    def read(self) -> dict[str, dict[str, Any]] | None:
        if self._data is None:
            if not self.path.exists():
                return None
            data = read_json_file(self.path)
            if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
                raise StoreCorrupt(self.path, "不是 TinyDB 数据文件的结构")
            self._data = data
        return self._data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        self._data = data
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        try:
            atomic_write(self.path, payload, durable_name=not self.follows_ledger)
        except OSError:
            # The caller changed our cached dict before writing; the file is the truth.
            self._data = None
            raise

    def forget(self) -> None:
        """Drop the parsed data (memory for years of month files); read again if needed."""
        self._data = None

    def close(self) -> None:
        pass
