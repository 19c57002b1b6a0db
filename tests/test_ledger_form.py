"""The ledger's lines as stored (tracker #14): each line is the very bytes its hash covers, so
the chain is checked over the bytes without re-serialising; lines earlier releases wrote
still verify the old way; and an edit that leaves a record's content intact — spaces, a CR,
an escape, a repeated or extra field, fields rearranged — is told apart from a changed
record and reported by the audit, while the store still opens."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from storage import ledger as ledger_module
from storage.ledger import (
    GENESIS,
    ChainBreak,
    ChainReader,
    Ledger,
    LedgerRecord,
    canonical,
    in_stored_form,
)
from tests.builders import ROOT, at

AWKWARD: list[dict[str, Any]] = [  # what a record's data can hold
    {"task": "theme-day:branch-2:2026-11", "checkin": {"note": "二", "id": "c1", "at": "x"}},
    {"z": 1, "a": {"y": [3, 2, {"b": None, "a": True}], "x": 1.5}, "m": -0.0, "big": 10**20},
    {"note": "引号\" 反斜杠\\ 换行\n 制表\t 控制\x01 分隔\u2028 表情😀 零宽\u200b"},
    {"note": "孤立的代理项 \ud800 ", "empty": {}, "list": [], "float": 1e-7, "exp": 1e16},
]


def _write(path: Path, datas: list[dict[str, Any]]) -> list[LedgerRecord]:
    ledger = Ledger(path, None, None)
    return [ledger.append(at("2026-11-26 10:00") + timedelta(minutes=i), "checkin", "wu-fang",
                          data) for i, data in enumerate(datas)]


def _earlier_release(path: Path, datas: list[dict[str, Any]]) -> None:
    """A ledger as every release before the stored form wrote it."""
    prev, lines = GENESIS, []
    for i, data in enumerate(datas, start=1):
        body = {"seq": i, "at": (at("2026-11-26 10:00") + timedelta(minutes=i)).isoformat(),
                "type": "checkin", "actor": "wu-fang", "data": data, "prev": prev}
        prev = hashlib.sha256(canonical(body)).hexdigest()
        lines.append(json.dumps({**body, "hash": prev}, ensure_ascii=False,
                                separators=(",", ":")).encode() + b"\n")
    path.write_bytes(b"".join(lines))


def _read(path: Path, exact: bool = True) -> tuple[list[LedgerRecord | ChainBreak],
                                                    list[ChainBreak]]:
    reader = ChainReader(path, exact=exact)
    return list(reader), reader.reencoded


def _edit_line(path: Path, number: int, edit: Any) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[number - 1] = edit(lines[number - 1])
    path.write_bytes(b"\n".join(lines))


def test_every_line_is_stored_as_the_bytes_its_hash_covers(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    written = _write(path, AWKWARD)
    lines = path.read_bytes().splitlines()
    assert len(lines) == len(AWKWARD)
    for record, line in zip(written, lines, strict=True):
        hashed = canonical(record.body())
        assert hashlib.sha256(hashed).hexdigest() == record.hash
        assert line == hashed[:-1] + f',"hash":"{record.hash}"}}'.encode()
        assert in_stored_form(line)
        assert json.loads(line) == {**record.body(), "hash": record.hash}
    items, reencoded = _read(path)
    assert items == written and reencoded == []
    assert written[3].data["note"] == "孤立的代理项 \ufffd "  # stored as valid UTF-8


def test_a_ledger_in_stored_form_is_verified_without_re_serialising(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ledger.jsonl"
    written = _write(path, AWKWARD * 5)

    def refuse(body: dict[str, Any]) -> bytes:
        raise AssertionError("a line in stored form was re-serialised")

    monkeypatch.setattr(ledger_module, "canonical", refuse)
    items, reencoded = _read(path)
    assert items == written and reencoded == []
    assert Ledger.open(path, lambda record: None).last_seq == len(written)


def test_lines_earlier_releases_wrote_verify_and_so_does_a_ledger_holding_both(
        tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    _earlier_release(path, AWKWARD[:3])
    assert not any(in_stored_form(line) for line in path.read_bytes().splitlines())
    opened = Ledger.open(path, lambda record: None)
    opened.append(at("2026-11-26 11:00"), "checkin", "wu-fang", AWKWARD[3])
    items, reencoded = _read(path)
    assert [r.seq for r in items if isinstance(r, LedgerRecord)] == [1, 2, 3, 4]
    assert reencoded == []
    assert in_stored_form(path.read_bytes().splitlines()[3])


def test_the_ledger_of_the_first_release_verifies_exactly(tmp_path: Path) -> None:
    fixture = ROOT / "tests" / "fixtures" / "release-0.1.0" / "data" / "ledger.jsonl"
    items, reencoded = _read(fixture)
    assert len(items) == 103 and all(isinstance(r, LedgerRecord) for r in items)
    assert reencoded == []


EDITS_KEEPING_THE_RECORD = [  # (what was done, the edit, what the audit says)
    ("a space after each colon", lambda b: b.replace(b'":', b'": '), "多了空白"),
    ("a CR before the newline", lambda b: b + b"\r", "多了空白"),
    ("a character escaped", lambda b: b.replace("二".encode(), b"\\u4e8c"), "写法"),
    ("a value shown first and the hashed one last",
     lambda b: b.replace('"note":"二"'.encode(), '"note":"贰","note":"二"'.encode()),
     "字段 note 出现了不止一次"),
    ("an extra field", lambda b: b[:-1] + b',"approved":true}', "多了字段 approved"),
    ("keys inside data rearranged",
     lambda b: b.replace(b'"checkin":{"at":"x","id":"c1","note":"\xe4\xba\x8c"}',
                         b'"checkin":{"note":"\xe4\xba\x8c","id":"c1","at":"x"}'),
     "顺序被调换"),
]


@pytest.mark.parametrize("earlier", [False, True], ids=["stored form", "earlier form"])
@pytest.mark.parametrize(("what", "edit", "said"), EDITS_KEEPING_THE_RECORD,
                         ids=[e[0] for e in EDITS_KEEPING_THE_RECORD])
def test_an_edit_that_keeps_the_record_is_reported_and_the_chain_goes_on(
        tmp_path: Path, what: str, edit: Any, said: str, earlier: bool) -> None:
    path = tmp_path / "ledger.jsonl"
    datas = [AWKWARD[1], AWKWARD[0], AWKWARD[2]]
    if earlier:
        _earlier_release(path, datas)
    else:
        _write(path, datas)
    if earlier and what == "keys inside data rearranged":
        pytest.skip("earlier releases wrote data's keys in no fixed order: nothing to compare")
    before = path.read_bytes()
    _edit_line(path, 2, edit)
    assert path.read_bytes() != before
    items, reencoded = _read(path)
    assert [r.seq for r in items if isinstance(r, LedgerRecord)] == [1, 2, 3]  # all intact
    assert [(r.line, r.seq) for r in reencoded] == [(2, 2)]
    assert said in reencoded[0].problem
    # Opening replays what was hashed, which is intact: the store still opens.
    assert Ledger.open(path, lambda record: None).last_seq == 3
    # The chain goes on past the edited line: a changed record after it is still found.
    _edit_line(path, 3, lambda b: b.replace("表情".encode(), "表态".encode()))
    items, reencoded = _read(path)
    assert isinstance(items[-1], ChainBreak) and items[-1].line == 3
    assert "哈希值不符" in items[-1].problem and len(reencoded) == 1


@pytest.mark.parametrize("earlier", [False, True], ids=["stored form", "earlier form"])
def test_a_changed_record_breaks_the_chain_in_either_form(tmp_path: Path,
                                                           earlier: bool) -> None:
    path = tmp_path / "ledger.jsonl"
    datas = [AWKWARD[1], AWKWARD[0], AWKWARD[2]]
    if earlier:
        _earlier_release(path, datas)
    else:
        _write(path, datas)
    _edit_line(path, 2, lambda b: b.replace('"note":"二"'.encode(), '"note":"贰"'.encode()))
    items, _ = _read(path)
    assert isinstance(items[-1], ChainBreak) and (items[-1].line, items[-1].seq) == (2, 2)
    assert "哈希值不符" in items[-1].problem


def test_a_changed_record_given_a_fresh_hash_breaks_the_chain_at_the_next(
        tmp_path: Path) -> None:
    """The stored hash is trusted only as the hash of the bytes before it: a forger who
    rehashes an edited line still breaks the next record's link to it."""
    path = tmp_path / "ledger.jsonl"
    _write(path, [AWKWARD[1], AWKWARD[0], AWKWARD[2]])

    def forge(line: bytes) -> bytes:
        body = line[:-75].replace('"note":"二"'.encode(), '"note":"贰"'.encode()) + b"}"
        return body[:-1] + f',"hash":"{hashlib.sha256(body).hexdigest()}"}}'.encode()

    _edit_line(path, 2, forge)
    assert in_stored_form(path.read_bytes().splitlines()[1])
    items, _ = _read(path)
    assert isinstance(items[-1], ChainBreak) and (items[-1].line, items[-1].seq) == (3, 3)
    assert "没有接在记录 2 之后" in items[-1].problem


def test_a_line_rewritten_into_exactly_the_earlier_form_passes_as_one(tmp_path: Path) -> None:
    """What no check can see (`ChainReader`): a line in stored form rewritten byte for byte as
    an earlier release would have written it. Every value is as written."""
    path = tmp_path / "ledger.jsonl"
    _write(path, [AWKWARD[1], AWKWARD[0], AWKWARD[2]])

    def earlier(line: bytes) -> bytes:
        obj = json.loads(line)
        order = ("seq", "at", "type", "actor", "data", "prev", "hash")
        return json.dumps({k: obj[k] for k in order}, ensure_ascii=False,
                          separators=(",", ":")).encode()

    _edit_line(path, 2, earlier)
    items, reencoded = _read(path)
    assert [r.seq for r in items if isinstance(r, LedgerRecord)] == [1, 2, 3]
    assert reencoded == []


def test_a_torn_tail_is_still_set_aside_not_reported(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    _write(path, AWKWARD[:2])
    whole = path.read_bytes()
    path.write_bytes(whole + whole.splitlines(keepends=True)[1][:40])
    reader = ChainReader(path, exact=True)
    assert len(list(reader)) == 2 and reader.torn_at == len(whole) and not reader.reencoded


def test_records_appended_together_chain_like_records_appended_alone(tmp_path: Path) -> None:
    """One write and one fsync for a pass's records, each its own line in the chain; a crash
    that tears the batch keeps the whole lines before the tear, as if appended one by one."""
    alone, together = tmp_path / "alone.jsonl", tmp_path / "together.jsonl"
    moment = at("2026-11-26 10:00")
    one = Ledger(alone, None, None)
    for data in AWKWARD[:3]:
        one.append(moment, "escalation", "system", data)
    many = Ledger(together, None, None)
    made = many.append_many(moment, [("escalation", "system", d) for d in AWKWARD[:3]])
    assert together.read_bytes() == alone.read_bytes()
    assert [r.seq for r in made] == [1, 2, 3] and many.last_hash == one.last_hash
    lines = together.read_bytes().splitlines(keepends=True)
    together.write_bytes(b"".join(lines[:2]) + lines[2][:30])  # torn inside the third line
    reader = ChainReader(together, exact=True)
    assert [r.seq for r in reader if isinstance(r, LedgerRecord)] == [1, 2]
    assert reader.torn_at == len(lines[0]) + len(lines[1])
