"""A read-only store of the tasks that count in a span (`TinyDBStore.open(counting_in=…)`),
as `report` opens it (tracker #14: "read only the year asked for"): it holds what the whole
store holds for those days, and is the whole store again when a record the files lag
behind changes a task it left unmade."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from schedules.tasks import PlannedTask, Status, reporting_day
from storage.tinydb_store import TinyDBStore
from tests.builders import at

NOW = at("2026-02-10 10:00")
YEAR_2025 = (date(2025, 1, 1), date(2025, 12, 31))


def planned() -> list[PlannedTask]:
    """Monthly tasks from November 2025 to February 2026, and 2025's annual report, which is
    due in January 2026 but counts in 2025 (the period it is about)."""
    monthly = [PlannedTask(f"monthly:unit:{p}", "monthly", "unit", p, due)
               for p, due in [("2025-11", date(2025, 11, 28)), ("2025-12", date(2025, 12, 31)),
                              ("2026-01", date(2026, 1, 30)), ("2026-02", date(2026, 2, 27))]]
    annual = PlannedTask("annual:unit:2025", "annual", "unit", "2025", date(2026, 1, 20))
    return [*monthly, annual]


def store_of(folder: Path) -> Path:
    store = TinyDBStore.open(folder, NOW)
    store.add_tasks(planned(), at("2025-11-01 09:00"))
    store.check_in("monthly:unit:2025-12", "p", at("2025-12-30 10:00"), "已召开", "console")
    store.close()
    return folder


def test_a_view_holds_the_tasks_counting_in_its_span_as_the_whole_store_has_them(
        tmp_path: Path) -> None:
    folder = store_of(tmp_path / "store")
    whole = TinyDBStore.open(folder, NOW, read_only=True)
    view = TinyDBStore.open(folder, NOW, read_only=True, counting_in=YEAR_2025)
    try:
        counted = [t for t in whole.all_tasks()
                   if YEAR_2025[0] <= reporting_day(t) <= YEAR_2025[1]]
        assert view.all_tasks() == counted
        assert {t.key for t in counted} == {"monthly:unit:2025-11", "monthly:unit:2025-12",
                                            "annual:unit:2025"}  # in a 2026 file, too
        assert len(whole.all_tasks()) == 5
        assert view.escalations() == whole.escalations()
    finally:
        view.close()
        whole.close()


@pytest.mark.parametrize(("checked_in", "held"), [
    ("monthly:unit:2026-02", 5),  # a task the view left unmade: the store is opened whole
    ("annual:unit:2025", 3),  # one it made: the record is applied, and it stays a view
])
def test_a_record_the_files_lag_behind_is_never_lost_to_the_view(
        tmp_path: Path, checked_in: str, held: int) -> None:
    folder = store_of(tmp_path / "store")
    writer = TinyDBStore.open(folder, NOW)  # a running bot: its check-in is not folded yet
    try:
        writer.check_in(checked_in, "p", NOW, "已完成", "console")
        view = TinyDBStore.open(folder, NOW, read_only=True, counting_in=YEAR_2025)
        try:
            task = view.task(checked_in)
            assert task is not None and task.status is Status.DONE
            assert len(view.all_tasks()) == held
        finally:
            view.close()
    finally:
        writer.close()
