"""What can go wrong with the store, as types the CLI and handlers can tell apart."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path


class StoreError(Exception):
    """The store cannot be used; the message says why and what to do."""


class StoreCorrupt(StoreError):
    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        super().__init__(
            f"数据文件 {path} {problem}。该文件已原样保留，未作任何改动。"
            "请从备份恢复，或把数据目录移走后重新开始。"
        )


class StoreLocked(StoreError):
    def __init__(self, path: Path, holder: str) -> None:
        self.path = path
        super().__init__(
            f"数据目录 {path} 正被另一个 dutybot 进程使用（{holder}）；"
            "同一数据目录只能由一个进程使用，请先停止另一个。"
        )


class StoreUnusable(StoreError):
    """The store folder cannot be created or opened at all (permissions, a file in the way)."""

    def __init__(self, path: Path, why: str) -> None:
        self.path = path
        super().__init__(
            f"无法使用数据目录 {path}（{why}）。请确认该目录存在、运行 dutybot 的用户可以读写，"
            "或在配置文件 [store] path 中换一个位置。"
        )


class StoreWriteFailed(StoreError):
    """A write did not become durable; nothing of it was recorded."""


class ClockBehind(StoreWriteFailed):
    """A write dated earlier than the newest record: refused, so nothing is back-dated."""

    def __init__(self, at: datetime, newest: datetime) -> None:
        self.at, self.newest = at, newest
        super().__init__(f"time {at.isoformat()} is before the newest record "
                         f"({newest.isoformat()})")
