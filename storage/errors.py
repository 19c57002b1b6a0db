"""What can go wrong with the store, as types the CLI and handlers can tell apart."""

from __future__ import annotations

from pathlib import Path


class StoreError(Exception):
    """The store cannot be used; the message says why and what to do."""


class StoreCorrupt(StoreError):
    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        super().__init__(
            f"store file {path} {problem}; it was left untouched. "
            "Restore it from a backup, or move the store folder away to start a new one."
        )


class StoreLocked(StoreError):
    def __init__(self, path: Path, holder: str) -> None:
        self.path = path
        super().__init__(
            f"the store {path} is in use by another dutybot process ({holder}); "
            "only one process may write to a store. Stop the other one first."
        )


class StoreWriteFailed(StoreError):
    """A write did not become durable; nothing of it was recorded."""
