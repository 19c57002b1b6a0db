"""What can go wrong with the store, as types the CLI and handlers can tell apart."""

from __future__ import annotations

import errno
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


def os_why(error: OSError) -> str:
    """An OS error in the admin's words."""
    words = {errno.EACCES: "权限不足", errno.EPERM: "权限不足", errno.EROFS: "磁盘为只读",
             errno.ENOSPC: "磁盘空间已满", errno.EDQUOT: "超出磁盘配额",
             errno.EFBIG: "磁盘空间已满或文件过大", errno.ENOTDIR: "路径中有同名的文件，不是目录",
             errno.EEXIST: "已有同名的文件，不是目录", errno.ENOENT: "不存在"}
    return words.get(error.errno or 0, error.strerror or type(error).__name__)
