"""The replay's short cuts make exactly what the long way makes (tracker #14).

`schedules.tasks._copied` stands in for `dataclasses.replace`, `OutboxEntry.moved` builds its
entry directly, and `storage.records` reads a document of the writer's shape in line, falling
back to the field-by-field checks for anything else. Here each is compared with the long way,
on full objects and on documents broken in every field: same value, or the same error.
"""

from __future__ import annotations

import copy
from dataclasses import fields, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from schedules.reminders import Stage
from schedules.tasks import Attachment, CheckIn, Excuse, Status, Task, made
from storage import records
from storage.ledger import RecordInvalid
from storage.repository import Delivery, OutboxEntry

TZ = timezone(timedelta(hours=8))
AT = datetime(2026, 3, 2, 9, 30, tzinfo=TZ)


def _checkin(n: int, **extra: Any) -> CheckIn:
    return CheckIn(f"c{n}", "d:o:2026-03", "p1", AT + timedelta(hours=n), f"note {n}", "wecom",
                   (Attachment("image", "m1", "a.jpg", "ab" * 32, 12, "image/jpeg", ""),),
                   **extra)


def _task() -> Task:
    """A task with every field away from its default."""
    return Task("d:o:2026-03", 7, "d", "o", "2026-03", date(2026, 3, 31), Status.DONE,
                (_checkin(1, undone_at=AT + timedelta(days=1), undone_by="p2",
                          on_behalf_of="p3", meeting=4),
                 _checkin(2, restored_at=AT + timedelta(days=2))),
                "about", AT, "p4",
                (Excuse("p5", AT, "ill", AT + timedelta(days=3), "p6", "well"),),
                "Duty", "Owner", 2, date(2026, 3, 20))


def _entry() -> OutboxEntry:
    return OutboxEntry("s|stage|r", "wecom", "s", Stage.OVERDUE, "r", AT, "d:o:2026-03", True,
                       Delivery.SENDING, 3, "err", AT + timedelta(minutes=1),
                       AT + timedelta(minutes=2), 5, 2)


def _same_fields(value: object) -> None:
    assert set(vars(value)) == {f.name for f in fields(value)}  # type: ignore[arg-type]


def test_task_changes_are_what_replace_makes() -> None:
    task = _task()
    extra = (Attachment("file", "m2", "b.pdf"),)
    c1, c2 = task.checkins
    open_task = replace(task, status=Status.OPEN)
    excused = replace(task, status=Status.EXCUSED)
    newer = replace(c2, note="again")
    cases = [
        (task.with_due(date(2026, 4, 1)),
         replace(task, due=date(2026, 4, 1), moves=3, previous_due=task.due)),
        (task.with_checkin(_checkin(3)),
         replace(task, status=Status.DONE, checkins=(c1, c2, _checkin(3)))),
        (task.with_checkin_replaced(newer), replace(task, checkins=(c1, newer))),
        (task.with_attachments("c2", extra),
         replace(task, checkins=(c1, replace(c2, attachments=(*c2.attachments, *extra))))),
        (open_task.with_excuse(Excuse("p7", AT, "away")),
         replace(task, status=Status.EXCUSED,
                 excuses=(*task.excuses, Excuse("p7", AT, "away")))),
        (excused.with_excuse_withdrawn("p8", AT, "back"),
         replace(task, status=Status.OPEN, excuses=(replace(
             task.excuses[0], withdrawn_at=AT, withdrawn_by="p8", withdrawn_reason="back"),))),
        (task.with_undo("c2", AT, "p9"),
         replace(task, status=Status.OPEN, checkins=(c1, replace(
             c2, undone_at=AT, undone_by="p9", restored_at=None)))),
        (replace(task, status=Status.OPEN).with_restore("c1", AT),
         replace(task, status=Status.DONE, checkins=(replace(
             c1, undone_at=None, undone_by="", restored_at=AT), c2))),
    ]
    for got, expected in cases:
        assert got == expected and type(got) is Task
        _same_fields(got)
        for a, b in zip(got.checkins, expected.checkins, strict=True):
            assert a == b
            _same_fields(a)
        for e in got.excuses:
            _same_fields(e)
        assert hash(got) == hash(expected)
    assert task == _task()  # the original untouched
    with pytest.raises(AttributeError):
        cases[0][0].due = date(2026, 1, 1)  # type: ignore[misc]  # still frozen


def test_made_is_what_the_constructor_makes() -> None:
    """`made` (how the readers make tasks and check-ins) against the constructor: equal,
    hashing alike, every field and no other, still frozen; a value more or less than the
    class has fields is refused (a field added to `Task` cannot be silently dropped)."""
    task = _task()
    for value in (task, *task.checkins, *task.excuses, task.checkins[0].attachments[0]):
        values = [getattr(value, f.name) for f in fields(value)]  # type: ignore[arg-type]
        got = made(type(value), values)
        assert got == value and type(got) is type(value) and hash(got) == hash(value)
        _same_fields(got)
        assert list(vars(got)) == [f.name for f in fields(value)]  # type: ignore[arg-type]
        with pytest.raises(AttributeError):
            got.note = "changed"  # type: ignore[misc,union-attr]  # still frozen
        for wrong in (values[:-1], [*values, None]):
            with pytest.raises(ValueError):
                made(type(value), wrong)
    doc = records.task_to_doc(task, 11)
    read, _ = records.task_from_doc(doc)
    assert read == task and hash(read) == hash(task)
    assert records._opener({"key": "d:o:2026-03", "number": 7, "duty": "d", "owner": "o",
                            "period": "2026-03", "due": "2026-03-31"}, AT)(None).moves == 0


@pytest.mark.parametrize("attempt", [False, True])
def test_moved_is_what_replace_makes(attempt: bool) -> None:
    entry = _entry()
    at, later = AT + timedelta(hours=1), AT + timedelta(hours=2)
    got = entry.moved(Delivery.FAILED, at, "gone", later, attempt=attempt)
    assert got == replace(entry, state=Delivery.FAILED, updated=at, error="gone",
                          not_before=later, attempts=entry.attempts + attempt)
    assert entry.moved(Delivery.SENT, at) == replace(entry, state=Delivery.SENT, updated=at,
                                                     error="", not_before=None)


def _outcome(read: Any, doc: Any) -> Any:
    try:
        return ("ok", read(doc))
    except RecordInvalid as e:
        return ("invalid", str(e))


_ODD_VALUES: list[Any] = [None, "", "x", "2026-13-01", "2026-03-02T09:30:00", 0, 1, -1, True,
                          False, 1.0, [], {}, [1], "open", "sent", "overdue-2"]


def _variants(doc: dict[str, Any]) -> list[Any]:
    """The document with each field (and each field of what it holds) removed or replaced
    by each odd value; and a few things that are not documents at all."""
    found: list[Any] = [None, [], "doc", 3, {}]

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for name, value in list(items):
            if isinstance(node, dict):
                found.append(_changed(doc, path, name, _REMOVED))
            found.extend(_changed(doc, path, name, odd) for odd in _ODD_VALUES)
            if isinstance(value, dict | list):
                walk(value, (*path, name))

    walk(doc, ())
    return found


_REMOVED = object()


def _changed(doc: dict[str, Any], path: tuple[Any, ...], name: Any, value: Any) -> Any:
    """A copy of `doc` with the field `name` of what `path` leads to set to `value`
    (removed, for `_REMOVED`)."""
    changed = copy.deepcopy(doc)
    parent = changed
    for step in path:
        parent = parent[step]
    if value is _REMOVED:
        del parent[name]
    else:
        parent[name] = value
    return changed


def test_task_documents_read_alike_either_way() -> None:
    task = _task()
    docs = [records.task_to_doc(task, 11), records.task_to_doc(replace(
        task, checkins=(), excuses=(), opened=None, previous_due=None, status=Status.OPEN), 3)]
    short = records.task_to_doc(task, 5)  # as older releases wrote: optional fields left out
    for name in ("opened_by", "excuses", "title", "owner_name", "moves", "previous_due"):
        del short[name]
    legacy = records.task_to_doc(replace(task, excuses=()), 6)
    legacy["excuse"] = records.excuse_to_doc(task.excuses[0])
    del legacy["excuses"]
    both = records.task_to_doc(task, 9)
    both["excuses"][0]["at"] = "bad"
    both["checkins"][0]["at"] = "bad"
    for doc in [*docs, short, legacy, both]:
        for variant in [doc, *_variants(doc)]:
            assert (_outcome(records.task_from_doc, variant)
                    == _outcome(records._task_checked, variant)), variant
    assert records.task_from_doc(docs[0]) == (task, 11)


def test_outbox_documents_read_alike_either_way() -> None:
    entry = _entry()
    plain = OutboxEntry("s|due|r", "console", "s", Stage.DUE, "r", AT)
    docs = [records.entry_to_doc(entry, 8), records.entry_to_doc(plain, 2)]
    for doc in docs:
        for variant in [doc, *_variants(doc)]:
            assert (_outcome(records.entry_from_doc, variant)
                    == _outcome(lambda d: (records._entry_checked(d),
                                           records._get(d, "seq", int)), variant)), variant
    assert records.entry_from_doc(docs[0]) == (entry, 8)
    assert records.entry_from_doc(docs[1]) == (plain, 2)


def test_checkin_documents_read_alike_either_way() -> None:
    for c in _task().checkins:
        doc = records.checkin_to_doc(c)
        for variant in [doc, *_variants(doc)]:
            assert (_outcome(lambda d: records.checkin_from_doc("d:o:2026-03", d), variant)
                    == _outcome(lambda d: records._checkin_checked("d:o:2026-03", d), variant)
                    ), variant
        assert records.checkin_from_doc(c.task, doc) == c


def test_opened_task_specs_read_alike_either_way() -> None:
    """`_opener` in line (every planned task of three years goes through it) against
    `_opener_checked`, on the two shapes the store writes: planned and event tasks."""
    planned = {"key": "d:o:2026-03", "number": 7, "duty": "d", "owner": "o",
               "period": "2026-03", "due": "2026-03-31", "title": "Duty", "owner_name": "Owner"}
    event = {"key": "e:o:2026-03-02#1", "number": 8, "duty": "e", "owner": "o",
             "period": "2026-03-02#1", "due": "2026-03-05", "note": "about", "opened_by": "p1"}
    for spec in (planned, event):
        for variant in [spec, *_variants(spec)]:
            assert (_outcome(lambda s: records._opener(s, AT)(None), variant)
                    == _outcome(lambda s: records._opener_checked(s, AT)(None), variant)
                    ), variant
    assert records._opener(planned, AT)(None) == Task(
        "d:o:2026-03", 7, "d", "o", "2026-03", date(2026, 3, 31), opened=AT, title="Duty",
        owner_name="Owner")


def test_a_task_document_reads_as_a_task_only_when_it_does() -> None:
    """`task_doc_reads_as` (the audit's short cut) is True for what the writer makes, and
    never True where reading the document would give anything else, or fail."""
    task = _task()
    bare = replace(task, checkins=(), excuses=(), opened=None, previous_due=None,
                   status=Status.OPEN)
    short = records.task_to_doc(task, 5)  # as older releases wrote: optional fields left out
    for name in ("opened_by", "excuses", "title", "owner_name", "moves", "previous_due"):
        del short[name]
    assert records.task_doc_reads_as(records.task_to_doc(task, 11), task, 11)
    assert records.task_doc_reads_as(records.task_to_doc(bare, 3), bare, 3)
    for expected in (task, bare, replace(task, checkins=task.checkins[:1])):
        for doc in (records.task_to_doc(task, 11), records.task_to_doc(bare, 11), short):
            for variant in [doc, *_variants(doc), *_decimals(doc)]:
                if records.task_doc_reads_as(variant, expected, 11):
                    assert records.task_from_doc(variant) == (expected, 11), variant


def _decimals(doc: dict[str, Any]) -> list[Any]:
    """The document with each whole number in it written as a decimal or a boolean (equal
    to Python, refused by the reader), one at a time."""
    found: list[Any] = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for name, value in list(items):
            if type(value) is int:
                odd = (float(value), bool(value)) if value in (0, 1) else (float(value),)
                found.extend(_changed(doc, path, name, v) for v in odd)
            elif isinstance(value, dict | list):
                walk(value, (*path, name))

    walk(doc, ())
    return found
