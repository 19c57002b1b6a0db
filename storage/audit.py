"""Checking a store's ledger without opening the store for writing (`dutybot audit verify`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from storage.ledger import ChainBreak, ends_torn, read_records


@dataclass(frozen=True)
class AuditResult:
    records: int  # records verified in order
    last_at: str  # time of the last verified record
    broken: ChainBreak | None  # the first break, if any
    torn_tail: bool  # the file ends in an interrupted append (harmless; set aside at start)
    missing_tail: tuple[int, int] | None  # seqs the task files know but the ledger lacks

    @property
    def intact(self) -> bool:
        return self.broken is None and self.missing_tail is None


def verify(folder: Path) -> AuditResult:
    ledger = folder / "ledger.jsonl"
    count, last_at, broken = 0, "", None
    for item in read_records(ledger):
        if isinstance(item, ChainBreak):
            broken = item
            break
        count, last_at = item.seq, item.at
    torn = ends_torn(ledger)
    # Removing the newest records leaves a valid chain; the task files still remember them.
    newest = max((_newest_seq(p) for p in folder.glob("tasks-*.json")), default=0)
    missing = (count + 1, newest) if broken is None and newest > count else None
    return AuditResult(count, last_at, broken, torn, missing)


def _newest_seq(path: Path) -> int:
    try:
        tables = json.loads(path.read_text(encoding="utf-8"))
        return max((int(doc.get("seq", 0)) for doc in tables.get("tasks", {}).values()),
                   default=0)
    except (OSError, ValueError, AttributeError, TypeError):
        return 0
