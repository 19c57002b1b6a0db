"""Evidence files kept in the store (SPEC §7): photos and documents sent with a check-in or a
meeting record, held under their SHA-256 because a platform's media id expires (WeCom's
after 3 days).

Layout: `files/ab/ab12…` inside the store folder, one file per distinct content, named by
the hex digest of its bytes with a two-letter fan-out so no folder grows huge. A file is
written before the ledger record that names it (part file, fsync, rename, folder fsync), so
a record never names a file that is not yet on disk, and `audit verify` can check each one.
Keeping the same content twice writes nothing the second time.

What may be kept: a size cap and an allow-list of image and office types. The type is
decided from the first bytes (a few magic numbers, below) together with the file name's
extension, never from what the sender or platform declares alone. The magic numbers are
sniffed here rather than with a library: the allow-list is a dozen signatures, and the office
formats need the name anyway (docx, xlsx, pptx and OFD are all zip archives; doc, xls, ppt
and WPS's files are all OLE2 compound files), which is where the libraries guess wrong
(`filetype`, last released 2022, takes some docx for zip; `puremagic` 2 needs Python 3.12,
and we run on 3.11). A new dependency would also join the offline wheel bundle.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from schedules.tasks import Attachment
from storage.atomic import TEMP_SUFFIX, atomic_write, fsync_dir
from storage.errors import StoreError, os_why

log = logging.getLogger(__name__)

FOLDER = "files"  # inside the store folder
MB = 1 << 20
DEFAULT_MAX_MB = 20
CHUNK = 1 << 20
SHA256 = re.compile(r"[0-9a-f]{64}")
_ORPHAN = re.compile(r"[0-9a-f]{64}\.\d+" + re.escape(TEMP_SUFFIX))  # atomic_write's part file
_EXTENSION = re.compile(r"\.([A-Za-z0-9]{1,8})$")


class Refusal(StrEnum):
    """Why a file was not kept: the code recorded in `Attachment.error` and worded for the
    sender by `handlers.text.file_not_kept`."""

    TOO_BIG = "too-big"  # over the size cap ([store] max_file_mb)
    TYPE = "type"  # not an image or office document we keep, or not what its name says
    EMPTY = "empty"  # no bytes at all: a download that went wrong
    DOWNLOAD = "download"  # for the channels: the platform would not hand the file over
    UNWRITABLE = "unwritable"  # the store's disk refused it (full, read-only)


@dataclass(frozen=True)
class FileType:
    mime: str
    extensions: tuple[str, ...]  # lower case, without the dot; the first is the usual one
    family: str  # what its first bytes look like (see `_sniff`); "text" has no magic


TYPES = (
    FileType("image/jpeg", ("jpg", "jpeg", "jpe", "jfif"), "jpeg"),
    FileType("image/png", ("png",), "png"),
    FileType("image/gif", ("gif",), "gif"),
    FileType("image/webp", ("webp",), "webp"),
    FileType("image/heic", ("heic", "heif"), "heif"),
    FileType("image/bmp", ("bmp",), "bmp"),
    FileType("application/pdf", ("pdf",), "pdf"),
    FileType("application/msword", ("doc",), "ole"),
    FileType("application/vnd.ms-excel", ("xls",), "ole"),
    FileType("application/vnd.ms-powerpoint", ("ppt",), "ole"),
    FileType("application/wps-office.wps", ("wps",), "ole"),  # WPS 文字, 表格, 演示
    FileType("application/wps-office.et", ("et",), "ole"),
    FileType("application/wps-office.dps", ("dps",), "ole"),
    FileType("application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             ("docx",), "zip"),
    FileType("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             ("xlsx",), "zip"),
    FileType("application/vnd.openxmlformats-officedocument.presentationml.presentation",
             ("pptx",), "zip"),
    FileType("application/ofd", ("ofd",), "zip"),  # GB/T 33190, China's electronic documents
    FileType("application/zip", ("zip",), "zip"),
    FileType("application/vnd.rar", ("rar",), "rar"),
    FileType("application/x-7z-compressed", ("7z",), "7z"),
    FileType("text/plain", ("txt",), "text"),
    FileType("text/csv", ("csv",), "text"),
)
BY_EXTENSION = {ext: t for t in TYPES for ext in t.extensions}
BY_MIME = {t.mime: t for t in TYPES}
IMAGE_FAMILIES = frozenset(t.family for t in TYPES if t.mime.startswith("image/"))
# A file without a (known) extension is kept only when its bytes say unambiguously what it
# is: an OLE2 file could be a Word document or an installer, plain text could be anything.
FAMILY_TYPE = {"jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif",
               "webp": "image/webp", "heif": "image/heic", "bmp": "image/bmp",
               "pdf": "application/pdf", "zip": "application/zip",
               "rar": "application/vnd.rar", "7z": "application/x-7z-compressed"}
HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm",
                         b"hevs", b"mif1", b"msf1"})


def _sniff(data: bytes) -> str | None:
    """The family of an allowed type the first bytes show, if any."""
    head = data[:16]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "webp"
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        return "heif"
    if head.startswith(b"BM") and head[6:10] == b"\0\0\0\0" and len(data) >= 26:
        return "bmp"
    if b"%PDF-" in data[:1024]:  # readers allow some junk before the header
        return "pdf"
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "ole"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "zip"
    if head.startswith(b"Rar!\x1a\x07"):
        return "rar"
    if head.startswith(b"7z\xbc\xaf\x27\x1c"):
        return "7z"
    return None


def _is_text(data: bytes) -> bool:
    """Plain text in an encoding a Chinese office uses: UTF-8, GB18030 (GBK) or UTF-16
    with its byte-order mark."""
    encodings = (("utf-16",) if data.startswith((b"\xff\xfe", b"\xfe\xff"))
                 else () if b"\0" in data else ("utf-8-sig", "gb18030"))
    for encoding in encodings:
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return True
    return False


def file_type(data: bytes, name: str, declared_type: str = "") -> str | None:
    """The MIME type to keep `data` as, or None when it is not one we keep. The name's
    extension must be one we keep (or absent; then the type the platform declared stands
    in for it) and must agree with the content — except that an image named as another
    image kind is kept as what it is."""
    found = _EXTENSION.search(name.strip())
    named: FileType | None
    if found:
        named = BY_EXTENSION.get(found[1].lower())
        if named is None:
            return None
    else:
        named = BY_MIME.get(declared_type.split(";")[0].strip().lower())
    family = _sniff(data)
    if family is None:
        return named.mime if named and named.family == "text" and _is_text(data) else None
    if named is None:
        return FAMILY_TYPE.get(family)
    if named.family == family:
        return named.mime
    if named.family in IMAGE_FAMILIES and family in IMAGE_FAMILIES:
        return FAMILY_TYPE[family]
    return None


@dataclass(frozen=True)
class Kept:
    """A file now on disk in the store."""

    sha256: str
    size: int
    type: str  # MIME type

    def attachment(self, kind: str, ref: str, name: str = "") -> Attachment:
        return Attachment(kind, ref, name, sha256=self.sha256, size=self.size, type=self.type)


@dataclass(frozen=True)
class Refused:
    """A file not kept, and why; `size` when it is known (0 otherwise)."""

    reason: Refusal
    size: int = 0

    def attachment(self, kind: str, ref: str, name: str = "") -> Attachment:
        return Attachment(kind, ref, name, size=self.size, error=self.reason.value)


class FileStore:
    """The `files/` folder of a store. `keep` may be called from any thread (the channels
    download on their own); one writer process, as for the rest of the store."""

    def __init__(self, folder: Path, max_bytes: int = DEFAULT_MAX_MB * MB,
                 read_only: bool = False) -> None:
        self.folder = folder
        self.max_bytes = max_bytes  # a channel may stop a download once it passes this
        self.read_only = read_only
        self._lock = threading.Lock()

    def keep(self, data: bytes, name: str = "", declared_type: str = "") -> Kept | Refused:
        """Keep `data` (a file called `name`, of `declared_type` by the platform's word)
        durably under its SHA-256, or say why not. The same bytes again are not rewritten.
        A disk that refuses the write is logged and answered with `Refusal.UNWRITABLE`."""
        if self.read_only:
            raise StoreError("this store was opened read-only")
        size = len(data)
        if size == 0:
            return Refused(Refusal.EMPTY)
        if size > self.max_bytes:
            return Refused(Refusal.TOO_BIG, size)
        mime = file_type(data, name, declared_type)
        if mime is None:
            return Refused(Refusal.TYPE, size)
        sha256 = hashlib.sha256(data).hexdigest()
        path = self.path(sha256)
        with self._lock:  # two threads keeping the same bytes share one part file name
            try:
                if not self._holds(path, sha256, size):
                    self._make_folder(path.parent)
                    atomic_write(path, data)
            except OSError as e:
                log.error("could not keep the file %r (%d bytes) as %s: %s",
                          name, size, path, os_why(e))
                return Refused(Refusal.UNWRITABLE, size)
        return Kept(sha256, size, mime)

    def path(self, sha256: str) -> Path:
        """Where the file with this digest is (or would be) kept; ValueError for anything
        but 64 lower-case hex digits, so no recorded value is ever used as a path."""
        if not SHA256.fullmatch(sha256):
            raise ValueError(f"not a SHA-256 hex digest: {sha256[:80]!r}")
        return self.folder / sha256[:2] / sha256

    def verify(self, attachment: Attachment) -> str | None:
        """What is wrong with the kept file an attachment names, in the admin's words; None
        when it is as recorded, or when the attachment names no kept file."""
        if not attachment.sha256:
            return None
        try:
            path = self.path(attachment.sha256)
        except ValueError:
            return "记载的 SHA-256 格式不对"
        try:
            sha256, size = _digest(path)
        except FileNotFoundError:
            return "缺失"
        except OSError as e:
            return f"无法读取（{os_why(e)}）"
        if size != attachment.size:
            return f"大小为 {size} 字节，与记载的 {attachment.size} 字节不符"
        if sha256 != attachment.sha256:
            return "内容与记载的 SHA-256 不符"
        return None

    def iter_files(self) -> Iterator[Path]:
        """Every kept file (its name is its SHA-256), in name order; part files and anything
        else in the folder are left out."""
        if not self.folder.is_dir():
            return
        for sub in sorted(self.folder.iterdir()):
            if sub.is_dir() and len(sub.name) == 2:
                for path in sorted(sub.iterdir()):
                    if (SHA256.fullmatch(path.name) and path.name[:2] == sub.name
                            and path.is_file()):
                        yield path

    def remove_orphans(self) -> list[Path]:
        """Delete part files an interrupted write left (at start-up, with the store locked);
        the ones deleted."""
        removed = []
        for part in self.folder.glob(f"??/*{TEMP_SUFFIX}"):
            if _ORPHAN.fullmatch(part.name):
                part.unlink(missing_ok=True)
                removed.append(part)
        return removed

    def _holds(self, path: Path, sha256: str, size: int) -> bool:
        try:
            return _digest(path) == (sha256, size)
        except FileNotFoundError:
            return False

    def _make_folder(self, sub: Path) -> None:
        """`files/` and `files/ab/`, each made durable in its parent, so a kept file's name
        survives a power cut once the ledger records it."""
        for folder in (self.folder, sub):
            if not folder.is_dir():
                folder.mkdir(exist_ok=True)
                fsync_dir(folder.parent)


def _digest(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
