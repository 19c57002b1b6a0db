"""Evidence files kept in the store (SPEC §7 "Evidence files", §12): kept under their SHA-256
with a size cap and a type allow-list, recorded with hash, name, size and type, checked by
`audit verify`, carried by backup and restore, and listed in the report."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import App
from bot.cli import main
from bot.clock import FakeClock
from bot.config import MAX_FILE_MB, ConfigError, load
from bot.record_book import fields
from bot.report import FILE_NOT_KEPT, NOT_KEPT_WHY, SHORT_HASH, _files
from handlers import text
from schedules.tasks import Attachment
from storage import backup
from storage.audit import describe_problems, verify
from storage.errors import StoreError
from storage.files import (
    FOLDER,
    MB,
    FileStore,
    Kept,
    Refusal,
    Refused,
    file_type,
)
from storage.tinydb_store import TinyDBStore
from tests.builders import Chat, at, record_text, task_of
from tests.builders import announce as announce_as
from tests.test_config import broken
from tests.test_store_faults import tasks

NOW = at("2026-11-26 10:00")

PNG = b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + bytes(range(64))
JPEG = b"\xff\xd8\xff\xe0\0\x10JFIF\0" + bytes(range(64))
GIF = b"GIF89a" + bytes(range(32))
WEBP = b"RIFF\x24\0\0\0WEBPVP8 " + bytes(32)
HEIC = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + bytes(32)
BMP = b"BM" + (90).to_bytes(4, "little") + b"\0\0\0\0" + (26).to_bytes(4, "little") + bytes(80)
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(64)
ZIP = b"PK\x03\x04\x14\0\0\0\x08\0" + bytes(64)
RAR = b"Rar!\x1a\x07\x01\0" + bytes(32)
EXE = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff" + bytes(64)
UTF8_TEXT = "会议纪要：学习贯彻全会精神\n".encode()
GBK_TEXT = "会议纪要：学习贯彻全会精神\n".encode("gbk")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TinyDBStore]:
    opened = TinyDBStore.open(tmp_path / "store", NOW)
    opened.add_tasks(tasks(3), NOW)
    yield opened
    opened.close()


def kept(outcome: Kept | Refused) -> Kept:
    assert isinstance(outcome, Kept), outcome
    return outcome


# ---- what may be kept ----------------------------------------------------------------------

@pytest.mark.parametrize(("data", "name", "declared", "expected"), [
    (PNG, "现场照片.png", "", "image/png"),
    (PNG, "IMG_0001.JPG", "", "image/png"),  # an image named as another image kind
    (PNG, "", "", "image/png"),  # a photo arrives without a name
    (JPEG, "scan.jpeg", "", "image/jpeg"),
    (GIF, "a.gif", "", "image/gif"),
    (WEBP, "a.webp", "", "image/webp"),
    (HEIC, "IMG_0002.HEIC", "", "image/heic"),
    (BMP, "a.bmp", "", "image/bmp"),
    (PDF, "通知.PDF", "", "application/pdf"),
    (OLE, "纪要.doc", "", "application/msword"),
    (OLE, "台账.xls", "", "application/vnd.ms-excel"),
    (OLE, "纪要.wps", "", "application/wps-office.wps"),
    (ZIP, "纪要.docx", "", DOCX),
    (ZIP, "公文.ofd", "", "application/ofd"),
    (ZIP, "材料.zip", "", "application/zip"),
    (ZIP, "", DOCX, DOCX),  # no extension: the platform's word stands in for it
    (ZIP, "纪要.docx(1)", "", "application/zip"),  # not an extension: the bytes decide
    (RAR, "材料.rar", "", "application/vnd.rar"),
    (UTF8_TEXT, "纪要.txt", "", "text/plain"),
    (GBK_TEXT, "纪要.txt", "", "text/plain"),
    (UTF8_TEXT, "名单.csv", "", "text/csv"),
    (PNG, "photo.exe", "", None),  # an extension we do not keep
    (EXE, "纪要.doc", "", None),  # a program named as a document
    (EXE, "", "application/msword", None),
    (ZIP, "通知.pdf", "", None),  # the bytes disagree with the name
    (PDF, "a.png", "", None),  # only images may be named as another image kind
    (OLE, "", "", None),  # an OLE2 file is a document or an installer: the name must say
    (UTF8_TEXT, "", "", None),  # text is anything: the name must say
    (b"\0\0\0binary", "a.txt", "", None),
])
def test_the_type_is_decided_from_the_bytes_and_the_name(data: bytes, name: str,
                                                           declared: str,
                                                           expected: str | None) -> None:
    assert file_type(data, name, declared) == expected


def test_a_refused_file_writes_nothing_and_says_why(tmp_path: Path) -> None:
    files = FileStore(tmp_path / FOLDER, max_bytes=len(PNG))
    assert files.keep(PNG + b"x", "big.png") == Refused(Refusal.TOO_BIG, len(PNG) + 1)
    assert files.keep(EXE, "setup.doc") == Refused(Refusal.TYPE, len(EXE))
    assert files.keep(b"", "empty.png") == Refused(Refusal.EMPTY)
    assert not (tmp_path / FOLDER).exists()
    assert isinstance(files.keep(PNG, "just.png"), Kept)  # at the cap exactly: kept


# ---- keeping -------------------------------------------------------------------------------

def test_a_file_is_kept_under_its_sha256_once(tmp_path: Path) -> None:
    files = FileStore(tmp_path / FOLDER)
    first = kept(files.keep(PNG, "现场照片.png"))
    path = files.path(first.sha256)
    assert path == tmp_path / FOLDER / first.sha256[:2] / first.sha256
    assert path.read_bytes() == PNG and first.size == len(PNG) and first.type == "image/png"
    inode = path.stat().st_ino
    assert files.keep(PNG, "another name.png") == first
    assert path.stat().st_ino == inode  # the same bytes again: not rewritten
    assert list(files.iter_files()) == [path]


def test_a_damaged_copy_is_replaced_when_the_same_file_comes_again(tmp_path: Path) -> None:
    files = FileStore(tmp_path / FOLDER)
    first = kept(files.keep(PDF, "通知.pdf"))
    files.path(first.sha256).write_bytes(PDF[:-1] + b"!")
    assert files.keep(PDF, "通知.pdf") == first
    assert files.path(first.sha256).read_bytes() == PDF


def test_keeping_from_many_threads_at_once(tmp_path: Path) -> None:
    files = FileStore(tmp_path / FOLDER)
    payloads = [PNG + bytes([i % 4]) * 1000 for i in range(32)]  # 4 distinct, each 8 times
    outcomes: list[Kept | Refused] = [Refused(Refusal.DOWNLOAD)] * len(payloads)
    start = threading.Barrier(len(payloads))

    def keep(i: int) -> None:
        start.wait()
        outcomes[i] = files.keep(payloads[i], f"{i}.png")

    threads = [threading.Thread(target=keep, args=(i,)) for i in range(len(payloads))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(isinstance(o, Kept) for o in outcomes)
    assert len(list(files.iter_files())) == 4
    for payload, outcome in zip(payloads, outcomes, strict=True):
        assert files.path(kept(outcome).sha256).read_bytes() == payload
    assert not [p for p in (tmp_path / FOLDER).rglob("*.tmp")]


def test_a_disk_that_refuses_the_write_is_a_refusal(tmp_path: Path,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    (tmp_path / FOLDER).write_bytes(b"")  # a file where the folder should be
    files = FileStore(tmp_path / FOLDER)
    assert files.keep(PNG, "a.png") == Refused(Refusal.UNWRITABLE, len(PNG))
    assert "a.png" in caplog.text


def test_a_recorded_digest_is_never_used_as_a_path(tmp_path: Path) -> None:
    files = FileStore(tmp_path / FOLDER)
    with pytest.raises(ValueError):
        files.path("../../meta.json")
    assert files.verify(Attachment("file", "m", "x", sha256="../" * 20 + "a" * 4,
                                   size=1)) is not None


def test_a_read_only_store_keeps_nothing(tmp_path: Path, store: TinyDBStore) -> None:
    folder = store.folder
    store.close()
    reader = TinyDBStore.open(folder, NOW, read_only=True)
    try:
        with pytest.raises(StoreError):
            reader.files.keep(PNG, "a.png")
    finally:
        reader.close()


def test_part_files_left_by_a_crash_are_removed_at_start_up(store: TinyDBStore) -> None:
    first = kept(store.files.keep(PNG, "a.png"))
    part = store.files.path(first.sha256).with_name(f"{'b' * 64}.4242.tmp")
    part.write_bytes(PNG[:5])
    assert backup.store_files(store.folder) == [
        n for n in backup.store_files(store.folder) if not n.endswith(".tmp")]
    folder = store.folder
    store.close()
    TinyDBStore.open(folder, NOW).close()
    assert not part.exists() and store.files.path(first.sha256).exists()


# ---- what the ledger records ---------------------------------------------------------------

def ledger_attachments(folder: Path) -> list[list[dict[str, object]]]:
    found = []
    for line in (folder / "ledger.jsonl").read_text(encoding="utf-8").splitlines():
        data = json.loads(line)["data"]
        if "checkin" in data and isinstance(data["checkin"], dict):
            found.append(data["checkin"]["attachments"])
        elif "attachments" in data:
            found.append(data["attachments"])
    return found


def test_the_ledger_records_hash_name_size_and_type(store: TinyDBStore) -> None:
    task = store.all_tasks()[0]
    photo = kept(store.files.keep(PNG, ""))
    done = store.check_in(task.key, "p", NOW, "已召开", "wecom",
                          attachments=[photo.attachment("image", "media-1")])
    minutes = kept(store.files.keep(ZIP, "纪要.docx"))
    too_big = Refused(Refusal.TOO_BIG, 30 * MB)
    store.attach(task.key, done.id, [minutes.attachment("file", "media-2", "纪要.docx"),
                                     too_big.attachment("file", "media-3", "录像.zip")],
                 "p", NOW)
    expected = (
        Attachment("image", "media-1", "", sha256=photo.sha256, size=len(PNG),
                   type="image/png"),
        Attachment("file", "media-2", "纪要.docx", sha256=minutes.sha256, size=len(ZIP),
                   type=DOCX),
        Attachment("file", "media-3", "录像.zip", size=30 * MB, error=Refusal.TOO_BIG.value),
    )
    folder = store.folder
    store.close()
    reopened = TinyDBStore.open(folder, NOW)
    try:
        found = reopened.task(task.key)
        assert found is not None and found.checkins[0].attachments == expected
    finally:
        reopened.close()
    assert ledger_attachments(folder)[-1][1] == {
        "kind": "file", "ref": "media-3", "name": "录像.zip", "size": 30 * MB,
        "error": "too-big"}


def test_an_attachment_without_a_kept_file_is_written_as_before(store: TinyDBStore) -> None:
    task = store.all_tasks()[0]
    store.check_in(task.key, "p", NOW, "", "console", attachments=[Attachment("image", "m1")])
    assert ledger_attachments(store.folder) == [[{"kind": "image", "ref": "m1", "name": ""}]]


# ---- audit verify --------------------------------------------------------------------------

@pytest.fixture
def bureau(config_path: Path) -> Iterator[tuple[App, FakeClock]]:
    """The example bureau with a check-in and a meeting record, each with a kept file."""
    clock = FakeClock(at("2026-12-01 10:00"))
    app = App.open(load(config_path), clock)
    app.refresh(clock.now())
    theme = task_of(app, "theme-day")
    number = announce_as(app, clock, str(theme.number), "周五下午3点 三楼会议室 学习贯彻全会精神")
    clock.set(at("2026-12-07 11:00"))
    assert Chat(app, clock, "吴芳").say(record_text(number)).startswith("已记录会议纪实")
    photo = kept(app.store.files.keep(JPEG, "会场.jpg"))
    app.store.attach_to_meeting(number, [photo.attachment("image", "m-1", "会场.jpg")],
                                "wu-fang", clock.now())
    other = next(t for t in app.store.open_tasks() if t.owner == "branch-1")
    minutes = kept(app.store.files.keep(PDF, "通知.pdf"))
    app.store.check_in(other.key, "wu-fang", clock.now(), "", "console",
                       attachments=[minutes.attachment("file", "m-2", "通知.pdf")])
    yield app, clock
    app.close()


def audit(config_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["audit", "verify", "--config", str(config_path)])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_kept_files_as_recorded_pass_the_audit(config_path: Path,
                                               bureau: tuple[App, FakeClock],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    app, _ = bureau
    result = verify(app.store.folder)
    assert result.intact and result.files == ()
    assert audit(config_path, capsys)[0] == 0


@pytest.mark.parametrize("harm", ["changed byte", "deleted", "truncated"])
def test_a_changed_or_deleted_file_is_named_with_its_record(
        config_path: Path, bureau: tuple[App, FakeClock], harm: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    app, _ = bureau
    folder = app.store.folder
    meeting = app.store.meetings()[-1]
    assert meeting.record is not None
    photo = meeting.record.attachments[0]
    path = FileStore(folder / FOLDER).path(photo.sha256)
    if harm == "changed byte":
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 1
        path.write_bytes(bytes(data))
    elif harm == "deleted":
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:-1])
    result = verify(folder)
    assert not result.intact
    assert len(result.files) == 1
    problem = result.files[0]
    assert str(meeting.number) in problem.record and problem.name == "会场.jpg"
    assert problem.file == path.relative_to(folder).as_posix()
    sentence = describe_problems(result, folder)[0]
    assert str(path) in sentence and "会场.jpg" in sentence and problem.record in sentence
    code, out = audit(config_path, capsys)
    assert code == 1 and sentence in out


def test_the_check_in_a_file_belongs_to_is_named(bureau: tuple[App, FakeClock]) -> None:
    app, _ = bureau
    folder = app.store.folder
    task = next(t for t in app.store.all_tasks()
                if any(a.name == "通知.pdf" for c in t.checkins for a in c.attachments))
    sha256 = task.checkins[-1].attachments[0].sha256
    FileStore(folder / FOLDER).path(sha256).unlink()
    (problem,) = verify(folder).files
    assert str(task.number) in problem.record and task.checkins[-1].id in problem.record
    assert problem.name == "通知.pdf"


# ---- backup and restore --------------------------------------------------------------------

def test_a_kept_file_survives_backup_and_restore(bureau: tuple[App, FakeClock],
                                                 tmp_path: Path) -> None:
    app, _ = bureau
    made = backup.take(app.store.folder, tmp_path / "b.tar.gz", NOW, "test")
    restored = backup.restore(made.path, tmp_path / "restored")
    assert restored.audit.intact
    originals = {p.name: p.read_bytes() for p in FileStore(app.store.folder / FOLDER).iter_files()}
    copies = {p.name: p.read_bytes()
              for p in FileStore(tmp_path / "restored" / FOLDER).iter_files()}
    assert len(originals) == 2 and copies == originals
    assert verify(tmp_path / "restored").intact


def test_a_store_missing_a_kept_file_is_not_backed_up(bureau: tuple[App, FakeClock],
                                                      tmp_path: Path) -> None:
    app, _ = bureau
    made = backup.take(app.store.folder, tmp_path / "b.tar.gz", NOW, "test")
    for path in FileStore(app.store.folder / FOLDER).iter_files():
        path.unlink()
    with pytest.raises(backup.BackupFailed):
        backup.take(app.store.folder, tmp_path / "c.tar.gz", NOW, "test")
    assert made.path.exists() and not (tmp_path / "c.tar.gz").exists()


# ---- the report and the record book --------------------------------------------------------

def test_the_report_lists_name_short_hash_and_size() -> None:
    sha256 = "3f79bb7b435b05321651daefd374cdc681dc06faa65e374e38337b88ca046dea"
    photo = Attachment("image", "m-1", "会场.jpg", sha256=sha256, size=36_000,
                       type="image/jpeg")
    refused = Refused(Refusal.TYPE, 10).attachment("file", "m-2", "setup.exe")
    listed = _files([photo, refused, Attachment("image", "m-3")])
    first, second, third = listed.split("；")
    assert "会场.jpg" in first and sha256[:SHORT_HASH] in first
    assert sha256[:SHORT_HASH + 1] not in first and "35 KB" in first
    assert second == "file:setup.exe" + FILE_NOT_KEPT.format(why=NOT_KEPT_WHY["type"])
    assert third == "image:m-3"  # a record from before files were kept: as it was


def test_the_record_book_names_each_file_with_its_short_hash(
        bureau: tuple[App, FakeClock]) -> None:
    app, _ = bureau
    meeting = app.store.meetings()[-1]
    assert meeting.record is not None
    photo = meeting.record.attachments[0]
    listed = fields(app.org, app.store, meeting, meeting.record)[-1]
    assert "会场.jpg" in listed and photo.sha256[:SHORT_HASH] in listed


# ---- the config and the wording ------------------------------------------------------------

def test_the_size_cap_is_read_from_the_config(config_path: Path) -> None:
    assert load(config_path).max_file_bytes == 20 * MB
    text_ = config_path.read_text(encoding="utf-8").replace(
        "[store]\n", "[store]\nmax_file_mb = 50\n", 1)
    config_path.write_text(text_, encoding="utf-8")
    assert load(config_path).max_file_bytes == 50 * MB


@pytest.mark.parametrize("value", ["0", "-3", str(MAX_FILE_MB + 1), '"20"', "true", "2.5"])
def test_a_bad_size_cap_names_the_file_key_and_problem(config_path: Path, value: str) -> None:
    error: ConfigError = broken(config_path, "[store]\n", f"[store]\nmax_file_mb = {value}\n")
    assert error.key == "store.max_file_mb" and error.problem


def test_each_refusal_is_worded_for_the_sender() -> None:
    big = text.file_not_kept(Refusal.TOO_BIG, "录像.mp4", 20)
    assert "录像.mp4" in big and "20" in big
    worded = {reason: text.file_not_kept(reason, "a.pdf", 20) for reason in Refusal}
    assert len({worded[r] for r in (Refusal.TOO_BIG, Refusal.TYPE, Refusal.DOWNLOAD,
                                     Refusal.UNWRITABLE)}) == 4
    assert worded[Refusal.EMPTY] == worded[Refusal.DOWNLOAD]  # an empty download failed
    assert text.file_not_kept(Refusal.TYPE, "", 20) != worded[Refusal.TYPE]  # a photo
