"""A consistent, verified copy of a store taken while the bot runs (`dutybot backup`), and
putting one back into an empty folder (`dutybot restore`).

Consistent without stopping the bot: month files are replaced whole (never edited in
place) and the ledger only grows, so the files are copied first and the ledger last, up to
its last complete line. The copy's ledger then holds every record its files reflect, and
whatever a file missed is applied again when the restored store opens — the same catch-up
as after a crash. A file replaced while it was being copied (a deadline moved across
months, say) makes the copy start again, so the files agree with one another too.

Verified before it is called done: the copy's hash chain and files are checked as
`dutybot audit verify` checks a store, the archive is written beside its final name and
renamed only when complete, then read back in full against its manifest (SHA-256 and size
of every file). A restore reads the whole archive against the manifest before it writes
anything, unpacks into a hidden folder beside the target, checks it, and only then gives
it the target's name.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from storage import bindcodes
from storage.atomic import fsync_dir, read_json_file
from storage.audit import AuditResult, describe_problems, verify
from storage.errors import StoreError, os_why
from storage.files import FOLDER, FileStore

MANIFEST = "dutybot-backup.json"  # the archive's first member
PREFIX = "store"  # the store's files sit under this folder in the archive
LEDGER = "ledger.jsonl"
ATTEMPTS = 5  # copies started again because a file changed while it was copied
CHUNK = 1 << 20
AUTOMATIC = re.compile(r"\d{8}-\d{6}\.tar\.gz")  # after "<store>-": `automatic_name`


class BackupFailed(StoreError):
    """The backup was not made; nothing was left behind and the store is untouched."""


class RestoreRefused(StoreError):
    """Nothing was restored and nothing was written."""


@dataclass(frozen=True)
class Backup:
    path: Path
    records: int
    last_at: str
    files: int
    size: int  # bytes of the store's files (before compression)


@dataclass(frozen=True)
class Restored:
    folder: Path
    records: int
    files: int
    created: str  # when the backup was taken
    audit: AuditResult


def default_backups(folder: Path) -> Path:
    """Where backups go unless the config says (`[store] backups`): beside the store."""
    return folder.with_name(f"{folder.name}-backups")


def automatic_name(folder: Path, now: datetime) -> str:
    return f"{folder.name}-{now:%Y%m%d-%H%M%S}.tar.gz"


def prune(backups: Path, folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest `keep` automatically named backups of the store in
    `folder` (names sort by time); the ones deleted. Backups named by hand are left."""
    named = sorted(p for p in backups.glob(f"{folder.name}-*.tar.gz")
                   if AUTOMATIC.fullmatch(p.name[len(folder.name) + 1:]))
    old = named[:-keep]
    for path in old:
        path.unlink(missing_ok=True)
    return old


def store_files(folder: Path) -> list[str]:
    """The files a copy of the store holds, relative to it, the ledger last (see above):
    meta, bind codes, month files, set-aside torn ledger tails and evidence files; never
    the lock file or temporary files."""
    names = [p.name for p in folder.iterdir() if p.is_file() and _belongs(p.name)]
    names.sort()
    names += [p.relative_to(folder).as_posix() for p in FileStore(folder / FOLDER).iter_files()]
    if LEDGER in names:
        names.remove(LEDGER)
        names.append(LEDGER)
    return names


def _belongs(name: str) -> bool:
    if name in ("meta.json", bindcodes.FILE, LEDGER) or name.startswith(f"{LEDGER}.torn-"):
        return True
    return (name.startswith(("tasks-", "outbox-")) and name.endswith(".json")
            and name.count(".") == 1)


def take(folder: Path, out: Path, now: datetime, release: str) -> Backup:
    """Write a verified backup of the store in `folder` to `out` (a .tar.gz). Raises
    `BackupFailed` saying which file and why; then neither `out` nor any part of it exists
    and the store is as it was (it is only read)."""
    if not (folder / "meta.json").is_file() or not (folder / LEDGER).is_file():
        raise BackupFailed(f"{folder} 不是 dutybot 的数据目录（没有 meta.json 或 {LEDGER}），"
                           "请检查配置文件中的 [store] path")
    try:
        with _scratch(out.parent, f".{out.name}.") as scratch:
            names = _copy(folder, scratch)
            audit = verify(scratch)
            if not audit.intact:
                raise BackupFailed(f"{describe_problems(audit, folder)[0]}未生成备份；"
                                   "请先运行 dutybot audit verify 查明原因")
            manifest = _manifest(scratch, names, now, release, audit)
            part = out.with_name(f".{out.name}.{os.getpid()}.part")
            try:
                _write_archive(part, scratch, names, manifest)
                os.replace(part, out)
            finally:
                part.unlink(missing_ok=True)
            fsync_dir(out.parent)
    except OSError as e:
        raise BackupFailed(f"无法写入备份 {out}（{os_why(e)}）；未生成备份，数据目录未改动"
                           ) from None
    try:
        read_manifest(out)  # read back what was written, in full
    except RestoreRefused as e:
        out.unlink(missing_ok=True)
        raise BackupFailed(f"备份 {out} 写入后读回核对不符（{e}），已删除；"
                           "请检查磁盘后重试") from None
    size = sum(entry["size"] for entry in manifest["files"].values())
    return Backup(out, audit.records, audit.last_at, len(names), size)


@contextmanager
def _scratch(parent: Path, prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _copy(folder: Path, scratch: Path) -> list[str]:
    """Copy the store into `scratch`, starting again if a file changed meanwhile. If it is
    still busy after several tries, the last try's copy stands (each file whole, as one
    atomic replace left it): the ledger, copied last, covers whatever moved since."""
    for attempt in range(1, ATTEMPTS + 1):
        last = attempt == ATTEMPTS
        names = store_files(folder)
        seen = {}
        for name in names:
            source = folder / name
            target = scratch / name
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with open(source, "rb") as f:
                    seen[name] = _identity(os.fstat(f.fileno()))
                    data = f.read() if name != LEDGER else _whole_lines(f.read())
            except FileNotFoundError:  # replaced or set aside meanwhile
                break
            except OSError as e:
                raise BackupFailed(f"无法读取数据文件 {source}（{os_why(e)}）；"
                                   "未生成备份") from None
            target.write_bytes(data)
        else:
            if last or (store_files(folder) == names and all(
                    _identity(os.stat(folder / n)) == seen[n] for n in names if n != LEDGER)):
                return names
        for leftover in scratch.iterdir():
            if leftover.is_dir():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
    raise BackupFailed(f"数据目录 {folder} 中的文件在复制时不断消失，未生成备份；请稍后重试")


def _identity(stat: os.stat_result) -> tuple[int, int, int]:
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def _whole_lines(raw: bytes) -> bytes:
    """The ledger up to its last complete record (an append may be under way)."""
    end = raw.rfind(b"\n")
    return raw[:end + 1] if end >= 0 else b""


def _manifest(scratch: Path, names: list[str], now: datetime, release: str,
              audit: AuditResult) -> dict[str, Any]:
    meta = read_json_file(scratch / "meta.json")
    row: dict[str, Any] = next(iter(meta.get("meta", {}).values()), {})
    files = {}
    for name in names:
        digest = hashlib.sha256()
        size = 0
        with open(scratch / name, "rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
        files[name] = {"sha256": digest.hexdigest(), "size": size}
    return {"kind": "dutybot-backup", "created": now.isoformat(), "release": release,
            "format": row.get("format"), "records": audit.records, "last_at": audit.last_at,
            "files": files}


def _write_archive(part: Path, scratch: Path, names: list[str],
                   manifest: dict[str, Any]) -> None:
    with open(part, "wb") as raw:
        with tarfile.open(fileobj=raw, mode="w:gz") as archive:
            body = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
            archive.addfile(_member(MANIFEST, len(body)), io.BytesIO(body))
            for name in names:
                path = scratch / name
                with open(path, "rb") as f:
                    archive.addfile(_member(f"{PREFIX}/{name}", path.stat().st_size), f)
        raw.flush()
        os.fsync(raw.fileno())


def _member(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    return info


def read_manifest(archive: Path) -> dict[str, Any]:
    """Read the whole archive and check every file against its manifest; raise
    `RestoreRefused` saying what is wrong. Writes nothing."""
    manifest: dict[str, Any] | None = None
    found: set[str] = set()
    try:
        with tarfile.open(archive, mode="r:gz") as tar:
            for member in tar:
                if member.name == MANIFEST and manifest is None:
                    manifest = _parse_manifest(tar, member)
                    continue
                if manifest is None:
                    raise RestoreRefused(f"{archive} 不是 dutybot 的备份（开头没有 {MANIFEST}）")
                name = _inside(member)
                expected = manifest["files"].get(name)
                if expected is None or name in found:
                    raise RestoreRefused(f"{archive} 中的 {member.name} 不在备份清单中")
                if _digest(tar, member) != (expected["sha256"], expected["size"]):
                    raise RestoreRefused(
                        f"{archive} 中的 {name} 与备份清单不符（文件已损坏或被改动）")
                found.add(name)
    except FileNotFoundError:
        raise RestoreRefused(f"备份文件 {archive} 不存在") from None
    except (tarfile.TarError, EOFError, OSError) as e:
        raise RestoreRefused(f"{archive} 无法完整读出（{_tar_why(e)}），可能不完整或已损坏"
                             ) from None
    if manifest is None:
        raise RestoreRefused(f"{archive} 不是 dutybot 的备份（没有 {MANIFEST}）")
    missing = sorted(set(manifest["files"]) - found)
    if missing:
        raise RestoreRefused(f"{archive} 不完整：缺少 {'、'.join(missing[:3])}"
                             + (f" 等 {len(missing)} 个文件" if len(missing) > 3 else ""))
    return manifest


def _parse_manifest(tar: tarfile.TarFile, member: tarfile.TarInfo) -> dict[str, Any]:
    f = tar.extractfile(member)
    try:
        manifest: Any = json.loads(f.read()) if f is not None else None
        files = manifest["files"]
        if manifest.get("kind") != "dutybot-backup" or not all(
                isinstance(v.get("sha256"), str) and isinstance(v.get("size"), int)
                for v in files.values()):
            raise ValueError
    except (ValueError, TypeError, KeyError, AttributeError):
        raise RestoreRefused(f"{MANIFEST} 格式不对，不是 dutybot 的备份清单") from None
    assert isinstance(manifest, dict)
    return manifest


def _inside(member: tarfile.TarInfo) -> str:
    """The member's path inside the store, refusing anything that could land outside it."""
    path = PurePosixPath(member.name)
    if (not member.isfile() or path.is_absolute() or ".." in path.parts
            or len(path.parts) < 2 or path.parts[0] != PREFIX):
        raise RestoreRefused(f"备份中有不应出现的条目 {member.name}，拒绝恢复")
    return PurePosixPath(*path.parts[1:]).as_posix()


def _digest(tar: tarfile.TarFile, member: tarfile.TarInfo) -> tuple[str, int]:
    f = tar.extractfile(member)
    assert f is not None  # a regular file (checked by `_inside`)
    digest, size = hashlib.sha256(), 0
    while chunk := f.read(CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def restore(archive: Path, folder: Path) -> Restored:
    """Put the backup `archive` into `folder`, which must be empty or not yet exist.
    Raises `RestoreRefused` (nothing written) when the folder holds anything or the archive
    is incomplete, damaged or not a backup."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise RestoreRefused(f"目标目录 {folder} 不是空目录；恢复只写入空目录或尚不存在的目录，"
                             "以免覆盖现有数据。请换一个目录，或先把现有目录移走")
    manifest = read_manifest(archive)
    parent = folder.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        with _scratch(parent, f".{folder.name}.restore-") as scratch:
            with tarfile.open(archive, mode="r:gz") as tar:
                for member in tar:
                    if member.name == MANIFEST:
                        continue
                    target = scratch / _inside(member)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    source = tar.extractfile(member)
                    assert source is not None
                    with open(target, "wb") as f:
                        shutil.copyfileobj(source, f, CHUNK)
                        f.flush()
                        os.fsync(f.fileno())
            audit = verify(scratch)
            if not audit.intact:
                found = describe_problems(audit, archive)[0]  # names the file in the archive
                raise RestoreRefused(f"备份中的数据未通过核对：{found}未恢复任何数据")
            fsync_dir(scratch)
            if folder.exists():
                folder.rmdir()
            os.rename(scratch, folder)
            fsync_dir(parent)
    except OSError as e:
        raise RestoreRefused(f"无法写入 {folder}（{os_why(e)}）；未恢复任何数据") from None
    return Restored(folder, audit.records, len(manifest["files"]), manifest["created"], audit)


def _tar_why(error: BaseException) -> str:
    if isinstance(error, EOFError):
        return "文件在中途结束"
    if isinstance(error, OSError) and not isinstance(error, tarfile.TarError):
        return os_why(error)
    return "不是有效的 tar.gz 文件" if isinstance(error, tarfile.ReadError) else str(error)
