"""The accountability ledger: an append-only file of hash-chained records.

Each line is one JSON record carrying its sequence number, the SHA-256 of the previous
record (`prev`) and its own (`hash`, over the record without `hash`). Editing, removing or
reordering a line breaks the chain at that point, which `verify` names.

The ledger is also the store's write-ahead log: a state change is committed when its
record is fsync'd here, before the table files are replaced. A crash can leave a torn last
line (never acknowledged); loading moves those bytes aside and carries on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from storage.atomic import fsync_dir
from storage.errors import StoreCorrupt, StoreWriteFailed

GENESIS = "0" * 64


@dataclass(frozen=True)
class LedgerRecord:
    seq: int
    at: str  # ISO 8601 with offset
    type: str
    actor: str
    data: dict[str, Any]
    prev: str
    hash: str

    def body(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "type": self.type, "actor": self.actor,
                "data": self.data, "prev": self.prev}


def _digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def ends_torn(path: Path) -> bool:
    """Whether the ledger's last line lacks its newline (an append a crash interrupted)."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) != b"\n"


@dataclass(frozen=True)
class ChainBreak:
    line: int  # 1-based line number in the file
    seq: int | None  # the record's own sequence number, when it could be read
    problem: str


def read_records(path: Path) -> Iterator[LedgerRecord | ChainBreak]:
    """Yield each record in order, checking the chain; stop at the first break.

    A last line without its newline is a torn append from a crash and is not yielded.
    """
    if not path.exists():
        return
    prev, expected_seq = GENESIS, 1
    with open(path, "rb") as f:
        for line_no, raw in enumerate(f, start=1):
            if not raw.endswith(b"\n"):
                return  # torn tail; see `Ledger.open`
            try:
                obj = json.loads(raw)
                record = LedgerRecord(
                    seq=obj["seq"], at=obj["at"], type=obj["type"], actor=obj["actor"],
                    data=obj["data"], prev=obj["prev"], hash=obj["hash"],
                )
            except (ValueError, KeyError, TypeError):
                yield ChainBreak(line_no, None, "不是台账记录")
                return
            if record.hash != _digest(record.body()):
                yield ChainBreak(line_no, record.seq, "被改动过（哈希值不符）")
                return
            if record.prev != prev or record.seq != expected_seq:
                yield ChainBreak(
                    line_no, record.seq,
                    f"没有接在记录 {expected_seq - 1} 之后（其前的记录被删除或顺序被调换）",
                )
                return
            yield record
            prev, expected_seq = record.hash, record.seq + 1


class Ledger:
    """The open ledger file of one store; only the store's single writer appends."""

    def __init__(self, path: Path, last_seq: int, last_hash: str) -> None:
        self.path = path
        self.last_seq = last_seq
        self.last_hash = last_hash

    @classmethod
    def open(
        cls, path: Path, replay: Callable[[LedgerRecord], None], repair: bool = True
    ) -> Ledger:
        """Read and verify the whole ledger, handing each record to `replay` in order;
        refuse a broken chain; set a torn tail aside."""
        last_seq, last_hash = 0, GENESIS
        for item in read_records(path):
            if isinstance(item, ChainBreak):
                raise StoreCorrupt(
                    path,
                    f"第 {item.line} 行{item.problem}（可用 dutybot audit verify 查看）",
                )
            replay(item)
            last_seq, last_hash = item.seq, item.hash
        if repair and path.exists():
            cls._set_aside_torn_tail(path)
        return cls(path, last_seq, last_hash)

    @staticmethod
    def _set_aside_torn_tail(path: Path) -> None:
        if not ends_torn(path):
            return
        data = path.read_bytes()
        cut = data.rfind(b"\n") + 1
        aside = path.with_name(f"{path.name}.torn-{len(data)}")
        aside.write_bytes(data[cut:])
        with open(path, "r+b") as f:
            f.truncate(cut)
            os.fsync(f.fileno())

    def append(self, at: datetime, type: str, actor: str, data: dict[str, Any]) -> LedgerRecord:
        """Append one record durably (fsync) or raise `StoreWriteFailed` leaving no trace."""
        seq = self.last_seq + 1
        body = {"seq": seq, "at": at.isoformat(), "type": type, "actor": actor,
                "data": data, "prev": self.last_hash}
        digest = _digest(body)
        line = json.dumps({**body, "hash": digest}, ensure_ascii=False,
                          separators=(",", ":")).encode() + b"\n"
        new_file = not self.path.exists()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as e:
            raise StoreWriteFailed(f"无法打开台账：{e.strerror}") from e
        try:
            size = os.fstat(fd).st_size
            try:
                written = os.write(fd, line)
                if written != len(line):
                    raise OSError(28, "short write")
                os.fsync(fd)
            except OSError as e:
                # If even this fails, the torn tail is set aside at the next start-up.
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                raise StoreWriteFailed(f"无法写入台账：{e.strerror}") from e
        finally:
            os.close(fd)
        if new_file:
            fsync_dir(self.path.parent)
        record = LedgerRecord(seq, at.isoformat(), type, actor, data, self.last_hash, digest)
        self.last_seq, self.last_hash = seq, digest
        return record
