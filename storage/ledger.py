"""The accountability ledger: an append-only file of hash-chained records.

Each line is one JSON record carrying its sequence number, the SHA-256 of the previous
record (`prev`) and its own (`hash`, over the record without `hash`). Editing, removing or
reordering a line breaks the chain at that point, which `verify` names.

What is hashed is the record's canonical serialisation (`canonical`: keys sorted, compact,
UTF-8). A line is stored as exactly those bytes with the hash appended as the last member,
`canonical(body)[:-1] + ',"hash":"<64 hex>"}'` (the "stored form"), so reading checks the
chain by hashing the bytes as stored: one `json.loads` per line and no re-serialisation.
Lines written before this form (the same content with the fields in the writer's order) are
checked as they always were, by re-serialising what they hold. Both kinds verify the same
hash, so a ledger may hold both and nothing is ever rewritten; see `ChainReader` for what
counts as an edited line.

The ledger is also the store's write-ahead log: a state change is committed when its
record is fsync'd here, before the table files are replaced. A crash can leave a torn last
line (never acknowledged); opening reports it, and the store sets those bytes aside only
once everything else has been checked. A last record that is whole but lost its newline
(an editor, say) is kept: an acknowledged record is never cut.

Time goes one way: a record more than `MAX_SKEW` earlier than the newest one before it is
refused when written and reported by the audit. The small allowance covers work in flight
(a message received a moment before another write finished first), not a clock set back.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from storage.atomic import fsync_dir
from storage.errors import ClockBehind, StoreCorrupt, StoreWriteFailed

GENESIS = "0" * 64
MAX_SKEW = timedelta(minutes=1)


class RecordInvalid(ValueError):
    """A record whose chain is intact but whose content cannot be applied (it names a task
    that does not exist, say); the message is the problem, in Chinese."""


@dataclass(frozen=True)
class LedgerRecord:
    seq: int
    at: str  # ISO 8601 with offset
    type: str
    actor: str
    data: dict[str, Any]
    prev: str
    hash: str
    moment: datetime = field(compare=False, repr=False)  # `at`, parsed

    def body(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "type": self.type, "actor": self.actor,
                "data": self.data, "prev": self.prev}


def canonical(body: dict[str, Any]) -> bytes:
    """What a record's hash is taken over: its fields but `hash`, keys sorted, compact."""
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(body)).hexdigest()


_MARK = b',"hash":"'  # a line in stored form ends in _MARK, 64 hex digits and '"}'
_TAIL = len(_MARK) + 64 + len(b'"}')


def in_stored_form(line: bytes) -> bool:
    """Whether `line` (without its newline) ends in the SHA-256 of the bytes before that
    last member, closed with "}". Then those bytes are exactly what was hashed when the
    record was written (a writer hashes nothing else), and the line's parse is that
    record with its hash."""
    if line[-_TAIL:-66] != _MARK or line[-2:] != b'"}':
        return False
    return hashlib.sha256(line[:-_TAIL] + b"}").hexdigest().encode() == line[-66:-2]


def record_problem(error: Exception) -> str:
    """What is wrong with a record whose effect could not be applied, in Chinese."""
    if isinstance(error, RecordInvalid):
        return str(error)
    if isinstance(error, KeyError):
        return f"缺少字段 {error.args[0] if error.args else ''}"
    return "内容格式不对"


@dataclass(frozen=True)
class Mark:
    """Where the chain stood at one record: enough to check that record again and go on
    verifying after it (`holds`, `ChainReader(after=)`) without reading what came before."""

    seq: int
    hash: str
    start: int  # byte offset of its line
    end: int  # byte offset just after its line (and its newline)
    line: int  # its line number


@dataclass(frozen=True)
class ChainBreak:
    line: int  # 1-based line number in the file
    seq: int | None  # the record's own sequence number, when it could be read
    problem: str


_FIELDS = ("seq", "at", "type", "actor", "data", "prev")
_ALL_FIELDS = frozenset((*_FIELDS, "hash"))
_DECODER = json.JSONDecoder()  # its methods are `json.loads` without the per-call set-up


def _parse(raw: bytes) -> dict[str, Any] | None:
    """The line as a JSON object with every field of a record, or None. A line as written
    (the object, then its newline) is read by `raw_decode` alone; anything else (spaces
    around it, say) by `decode`, which allows them and refuses anything more."""
    try:
        text = raw.decode()
    except ValueError:  # not UTF-8
        return None
    try:
        obj, end = _DECODER.raw_decode(text)
        whole = end == len(text) or text[end:] == "\n"
    except ValueError:
        whole = False
    if not whole:
        try:
            obj = _DECODER.decode(text)
        except ValueError:  # not JSON
            return None
    if not isinstance(obj, dict) or not obj.keys() >= _ALL_FIELDS:
        return None
    return obj


def _seq_of(obj: dict[str, Any]) -> int | None:
    return obj["seq"] if type(obj["seq"]) is int else None


def _well_formed(obj: dict[str, Any]) -> LedgerRecord | None:
    """The record, if every field has the right type."""
    seq, at = obj["seq"], obj["at"]
    if (type(seq) is not int or not isinstance(obj["type"], str)
            or not isinstance(obj["actor"], str) or not isinstance(obj["data"], dict)
            or not isinstance(at, str)):
        return None
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return LedgerRecord(seq, at, obj["type"], obj["actor"], obj["data"], obj["prev"],
                        obj["hash"], moment)


class ChainReader:
    """Reads a ledger in order, checking the chain, and stops at the first break.

    After iterating: `torn_at` is the byte offset of an interrupted last line (None if
    there is none) and `unterminated` says that the last record is whole but lacks its
    newline.

    A line in stored form is checked over its bytes; any other line by re-serialising its
    content, as earlier releases' lines always were. A changed content is a `ChainBreak`
    either way. With `exact` (the audit), a line not in stored form must also be byte for
    byte what every earlier release wrote for that content: compact JSON of the seven
    fields in the order seq, at, type, actor, data, prev, hash. Otherwise it is listed in
    `reencoded`: the record is intact and the chain goes on, but its line was edited —
    spaces or a CR, a character or number written another way, a field repeated (a reader
    of the file may see a value the hash does not cover), an extra field, or the fields
    rearranged (a line in stored form whose bytes were touched at all falls here). What no
    check can see, as nothing recorded it: the order of the keys inside `data` of a line in
    the earlier form (those releases wrote them in no fixed order), and a line rewritten
    into exactly the earlier form — either way every value is as written. A line in the
    earlier form after lines in stored form is not itself an edit: an earlier release of
    the same store format may have written it. Opening the store does not ask for `exact`:
    what it replays is exactly what was hashed.

    `after` starts reading just after a record `holds` has found where the mark says: the
    records before it are taken as verified (opening from a checkpoint; the audit always
    reads the whole chain). `last` is then where the chain ends: the last whole record's
    mark (`after` itself if nothing follows; None for an empty ledger)."""

    def __init__(self, path: Path, exact: bool = False, after: Mark | None = None) -> None:
        self.path = path
        self.exact = exact
        self.after = after
        self.torn_at: int | None = None
        self.unterminated = False
        self._last: tuple[int, str, int, int, int] | None = (
            (after.seq, after.hash, after.start, after.end, after.line) if after else None)
        self.reencoded: list[ChainBreak] = []  # with `exact`: intact records, edited lines

    def __iter__(self) -> Iterator[LedgerRecord | ChainBreak]:
        if not self.path.exists():
            return
        start = self.after
        prev, expected_seq, offset = GENESIS, 1, 0
        if start is not None:
            prev, expected_seq, offset = start.hash, start.seq + 1, start.end
        with open(self.path, "rb") as f:
            f.seek(offset)
            first_line = start.line + 1 if start else 1
            for line_no, raw in enumerate(f, start=first_line):
                complete = raw.endswith(b"\n")
                line = raw[:-1] if complete else raw
                obj = _parse(raw)
                # Over the bytes as stored; else (an earlier release's line) over the
                # content, re-serialised.
                stored = obj is not None and in_stored_form(line)
                if obj is None or (not stored and obj["hash"] != digest(
                        {k: obj[k] for k in _FIELDS})):
                    if not complete:
                        self.torn_at = offset  # an append a crash interrupted
                        return
                    if obj is None:
                        yield ChainBreak(line_no, None, "不是台账记录")
                    else:
                        yield ChainBreak(line_no, _seq_of(obj), "被改动过（哈希值不符）")
                    return
                if obj["prev"] != prev or obj["seq"] != expected_seq:
                    yield ChainBreak(
                        line_no, _seq_of(obj),
                        f"没有接在记录 {expected_seq - 1} 之后（其前的记录被删除或顺序被调换）",
                    )
                    return
                record = _well_formed(obj)
                if record is None:
                    yield ChainBreak(line_no, _seq_of(obj), "字段格式不对")
                    return
                if self.exact and not stored:
                    how = _reencoded(line, obj)
                    if how is not None:
                        self.reencoded.append(ChainBreak(line_no, record.seq, how))
                self._last = (record.seq, record.hash, offset, offset + len(raw), line_no)
                offset += len(raw)
                self.unterminated = not complete
                yield record
                prev, expected_seq = record.hash, record.seq + 1

    @property
    def last(self) -> Mark | None:
        return Mark(*self._last) if self._last else None


_WRITTEN = (*_FIELDS, "hash")  # the order of the fields in lines before the stored form


def _reencoded(line: bytes, obj: dict[str, Any]) -> str | None:
    """How an intact record's line, not in stored form, differs from what earlier releases
    wrote for it, in Chinese; None if it does not."""
    extra = [k for k in obj if k not in _ALL_FIELDS]
    if extra:
        return f"多了字段 {extra[0]}"
    if json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() != line:
        repeated = _repeated_key(line)
        if repeated is not None:
            return f"字段 {repeated} 出现了不止一次（读文件的人看到的可能不是哈希保护的内容）"
        return "多了空白，或字符、数字的写法与写入时不同"
    if tuple(obj) != _WRITTEN:
        return "字段的顺序被调换过"
    return None


def _repeated_key(line: bytes) -> str | None:
    found: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in items]
        if not found and len(set(keys)) != len(keys):
            found.append(next(k for k in keys if keys.count(k) > 1))
        return dict(items)

    json.loads(line, object_pairs_hook=pairs)
    return found[0] if found else None


def holds(path: Path, mark: Mark) -> bool:
    """Whether the ledger's line at `mark` is whole and is the record the mark names, intact
    (its own hash checks); what came before it is not read."""
    if mark.start < 0 or mark.end <= mark.start:
        return False
    try:
        with open(path, "rb") as f:
            f.seek(mark.start)
            raw = f.read(mark.end - mark.start)
    except OSError:
        return False
    if len(raw) != mark.end - mark.start or not raw.endswith(b"\n"):
        return False
    line = raw[:-1]
    if in_stored_form(line):  # its seq and hash end the line: no need to parse the rest
        seq_at = line.rfind(b',"seq":')
        seq = line[seq_at + 7:line.find(b",", seq_at + 7)]
        return seq == str(mark.seq).encode() and line[-66:-2] == mark.hash.encode()
    obj = _parse(raw)
    return (obj is not None and obj["seq"] == mark.seq and obj["hash"] == mark.hash
            and obj["hash"] == digest({k: obj[k] for k in _FIELDS}))


def read_records(path: Path) -> Iterator[LedgerRecord | ChainBreak]:
    """Each record in order, checking the chain; stops at the first break or a torn tail."""
    return iter(ChainReader(path))


def _encode(body: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The record's line, in stored form: the very bytes its hash is taken over, then the
    hash. Text that is not valid Unicode (a lone surrogate, which JSON from a platform can
    carry) is stored with U+FFFD in its place, so every line is UTF-8."""
    try:
        hashed = canonical(body)
    except UnicodeEncodeError:
        body = _valid_unicode(body)
        hashed = canonical(body)
    digest_ = hashlib.sha256(hashed).hexdigest()
    line = hashed[:-1] + _MARK + digest_.encode() + b'"}\n'
    return {**body, "hash": digest_}, line


def _valid_unicode(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, dict):
        return {_valid_unicode(k): _valid_unicode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_valid_unicode(v) for v in value]
    return value


class Ledger:
    """The open ledger file of one store; only the store's single writer appends."""

    def __init__(self, path: Path, last: Mark | None, newest: datetime | None) -> None:
        self.path = path
        self.last = last  # where the chain ends: its last record (None: no record yet)
        self.newest = newest  # the latest time of any record
        self.torn_at: int | None = None
        self.unterminated = False

    @property
    def last_seq(self) -> int:
        return self.last.seq if self.last else 0

    @property
    def last_hash(self) -> str:
        return self.last.hash if self.last else GENESIS

    @classmethod
    def open(cls, path: Path, replay: Callable[[LedgerRecord], None],
             after: Mark | None = None, newest: datetime | None = None) -> Ledger:
        """Read and verify the ledger, handing each record to `replay` in order; refuse a
        broken chain or a record that cannot be applied. Changes nothing: a torn tail is
        noted for `repair_tail`. With `after` (a checkpoint the caller has found the ledger
        `holds`, and the newest time up to it), only the records after it are read."""
        reader = ChainReader(path, after=after)
        for item in reader:
            if isinstance(item, ChainBreak):
                raise StoreCorrupt(
                    path, f"第 {item.line} 行{item.problem}（可用 dutybot audit verify 查看）")
            try:
                replay(item)
            except (RecordInvalid, KeyError, TypeError, ValueError, AttributeError) as e:
                raise StoreCorrupt(
                    path, f"第 {item.seq} 行（记录 {item.seq}）{record_problem(e)}") from e
            newest = item.moment if newest is None else max(newest, item.moment)
        ledger = cls(path, reader.last, newest)
        ledger.torn_at, ledger.unterminated = reader.torn_at, reader.unterminated
        return ledger

    def repair_tail(self) -> str | None:
        """Finish the file after a crash: set an interrupted last line aside (it was never
        acknowledged), or give a whole last record its newline. Says what it did."""
        if self.unterminated:
            with open(self.path, "ab") as f:
                f.write(b"\n")
                f.flush()
                os.fsync(f.fileno())
            self.unterminated = False
            if self.last is not None:
                self.last = replace(self.last, end=self.last.end + 1)
            return f"台账 {self.path} 的最后一条记录缺少换行符，已补上（记录本身完好，未作改动）。"
        if self.torn_at is None:
            return None
        data = self.path.read_bytes()
        torn = data[self.torn_at:]
        aside = self.path.with_name(f"{self.path.name}.torn-{self.torn_at}")
        aside.write_bytes(torn)
        with open(self.path, "r+b") as f:
            f.truncate(self.torn_at)
            os.fsync(f.fileno())
        fsync_dir(self.path.parent)
        self.torn_at = None
        return (f"台账 {self.path} 末尾有一段中断的写入（{len(torn)} 字节，从未确认，"
                f"第 {self.last_seq} 条记录之后），已原样移到 {aside}；此前的记录完好。")

    def check_time(self, at: datetime) -> None:
        """Refuse a write dated well before the newest record (`ClockBehind`)."""
        if self.newest is not None and at < self.newest - MAX_SKEW:
            raise ClockBehind(at, self.newest)

    def append(self, at: datetime, type: str, actor: str, data: dict[str, Any]) -> LedgerRecord:
        """Append one record durably (fsync) or raise `StoreWriteFailed` leaving no trace."""
        return self.append_many(at, [(type, actor, data)])[0]

    def append_many(self, at: datetime,
                    items: Sequence[tuple[str, str, dict[str, Any]]]) -> list[LedgerRecord]:
        """Append records, each its own line in the chain, with one write and one fsync (a
        pass's escalations and its new outbox entries). Durable together once this returns;
        `StoreWriteFailed` leaves no trace. A crash mid-write leaves whole lines before a torn
        one, which start-up sets aside: each record stands on its own, as if appended alone."""
        self.check_time(at)
        seq, prev = self.last_seq, self.last_hash
        made: list[tuple[dict[str, Any], str, str]] = []
        lines: list[bytes] = []
        for type, actor, data in items:
            seq += 1
            body, line = _encode({"seq": seq, "at": at.isoformat(), "type": type,
                                  "actor": actor, "data": data, "prev": prev})
            made.append((body, type, actor))
            lines.append(line)
            prev = body["hash"]
        payload = b"".join(lines)
        new_file = not self.path.exists()
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as e:
            raise StoreWriteFailed(f"无法打开台账：{e.strerror}") from e
        try:
            size = os.fstat(fd).st_size
            try:
                written = os.write(fd, payload)
                if written != len(payload):
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
        records = [LedgerRecord(body["seq"], body["at"], type, actor, body["data"], body["prev"],
                                body["hash"], at) for body, type, actor in made]
        if records:
            end = size + len(payload)
            self.last = Mark(records[-1].seq, records[-1].hash, end - len(lines[-1]), end,
                             (self.last.line if self.last else 0) + len(records))
            self.newest = at if self.newest is None else max(self.newest, at)
        return records
