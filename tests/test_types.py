"""Stages and ledger record types are enums in memory and the same strings on disk as ever:
old stores keep loading and old ledgers keep verifying."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schedules.reminders import Stage, read_stage_name, stage_name
from storage import records
from storage.ledger import RecordInvalid
from storage.records import RecordType

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "release-0.1.0" / "data"


def test_record_types_are_the_strings_written_in_every_ledger() -> None:
    assert {t.value for t in RecordType} == {
        "tasks-opened", "task-due-changed", "checkin", "checkin-undone", "checkin-restored",
        "checkin-attached", "task-excused", "task-unexcused", "deliveries-added", "delivery",
        "reminders-skipped", "escalation", "escalations", "account-bound", "bind-refused",
        "delegated", "delegation-ended",
        "meeting-announced", "meeting-moved", "meeting-cancelled", "meeting-leave",
        "meeting-joined", "meeting-recorded", "meeting-attached", "meeting-scheduled"}
    assert json.dumps({"type": RecordType.CHECKIN_ATTACHED}) == '{"type": "checkin-attached"}'


def test_stages_are_the_strings_written_in_every_outbox() -> None:
    assert {s.value for s in Stage} == {
        "opened", "moved", "advance", "eve", "due", "overdue", "escalation", "weekly-digest",
        "monthly-digest", "meeting-notice", "meeting-moved", "meeting-cancelled",
        "meeting-eve", "meeting-soon", "meeting-leave", "meeting-unrecorded"}


@pytest.mark.parametrize("stage", list(Stage))
@pytest.mark.parametrize("occurrence", [0, 1, 2, 12])
def test_a_stage_name_reads_back_as_its_stage(stage: Stage, occurrence: int) -> None:
    name = stage_name(stage, occurrence)
    assert name == (f"{stage.value}-{occurrence}" if occurrence else stage.value)
    assert read_stage_name(name) == (stage, occurrence)


@pytest.mark.parametrize("name", ["", "-", "overdue-", "nonsense", "nonsense-2", "2"])
def test_a_name_no_stage_has_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="Stage"):
        read_stage_name(name)


def test_an_old_outbox_loads_typed_and_writes_back_byte_for_byte() -> None:
    table = json.loads((FIXTURE / "outbox-2026-11.json").read_text(encoding="utf-8"))
    docs = [doc for t in table.values() for doc in t.values()]
    assert docs
    for doc in docs:
        entry, seq = records.entry_from_doc(doc)
        assert isinstance(entry.stage, Stage)
        assert stage_name(entry.stage, entry.occurrence) == doc["stage"]
        assert json.dumps(records.entry_to_doc(entry, seq)) == json.dumps(doc)
    assert any(records.entry_from_doc(d)[0].occurrence for d in docs)  # meeting-leave-1


def test_an_unknown_stage_in_a_file_is_named() -> None:
    table = json.loads((FIXTURE / "outbox-2026-11.json").read_text(encoding="utf-8"))
    doc = next(doc for t in table.values() for doc in t.values())
    with pytest.raises(RecordInvalid, match="stage"):
        records.entry_from_doc({**doc, "stage": "reminder-of-sorts"})
