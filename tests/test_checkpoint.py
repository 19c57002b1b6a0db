"""Opening from a checkpoint of the ledger (tracker #14): start-up reads only the records
after it and sees the very store a reading of the whole chain gives; a checkpoint the ledger
or the month files no longer bear out is not trusted (the whole chain is read, as without
one); `audit verify` still reads every record and checks the checkpoint against them."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.clock import FakeClock
from bot.config import load
from bot.delivery import Deliverer
from schedules import calendar as calendar_module
from schedules.tasks import PlannedTask
from storage import bindcodes, checkpoint
from storage.audit import describe_problems, verify
from storage.errors import StoreCorrupt
from storage.ledger import LedgerRecord, read_records
from storage.tinydb_store import TinyDBStore
from tests.builders import EXAMPLE, Chat, RecordingChannel, at, rechain
from tests.test_simulate import live_through

FIRST, LAST = date(2026, 9, 1), date(2026, 11, 20)


@pytest.fixture(scope="module")
def lived_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example bureau lived through three months (check-ins, undos, excuses, delegations,
    meetings, escalations), with an account bound and a wrong code tried; closed, so its
    checkpoint stands at the last record."""
    config_path = tmp_path_factory.mktemp("lived") / "config.toml"
    shutil.copy(EXAMPLE, config_path)
    end = live_through(config_path, FIRST, LAST, seed=14)
    folder = load(config_path).store_path
    store = TinyDBStore.open(folder, end)
    try:
        code, _ = bindcodes.issue(folder, "wu-fang", end, timedelta(days=1))
        store.bind_account("telegram", "1001", code, end, source="telegram:7")
        store.record_bind_refusal("telegram", "1002", "unknown", end, source="telegram:8")
    finally:
        store.close()
    return folder


def copy_of(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / "store"
    shutil.copytree(folder, target)
    return target


def state(store: TinyDBStore, folder: Path) -> dict[str, Any]:
    """Everything a reader of the store can ask of it, as comparable values."""
    sources = {r.data["source"] for r in read_records(folder / "ledger.jsonl")
               if isinstance(r, LedgerRecord) and r.data.get("source")}
    return {
        "tasks": store.all_tasks(),
        "deliveries": sorted(store.deliveries(), key=lambda e: e.key),
        "handled": set(store.handled_notices()),
        "escalations": store.escalations(),
        "skipped": store.skipped_through(),
        "delegations": sorted(store.delegations(), key=lambda d: d.person),
        "refusals": store.bind_refusals_since(at("2000-01-01 00:00")),
        "accounts": (store.account_person("telegram", "1001"),
                     store.account_of("telegram", "wu-fang")),
        "meetings": store.meetings(),
        "live": store.live_meetings(),
        "sources": {s: store.outcome_of(s) for s in sources},
        "records": store.records(),
        "newest": store.newest_record_at,
    }


def opened(folder: Path, read_only: bool = True) -> tuple[TinyDBStore, dict[str, Any]]:
    store = TinyDBStore.open(folder, at("2026-11-30 10:00"), read_only=read_only)
    return store, state(store, folder)


def test_opening_reads_only_the_records_after_the_checkpoint_and_sees_the_same_store(
        lived_store: Path, tmp_path: Path) -> None:
    folder = copy_of(lived_store, tmp_path)
    assert (folder / checkpoint.FILE).exists()
    quick, seen = opened(folder)
    assert quick.replayed == 0 and quick.records() > 500
    assert seen["meetings"] and seen["escalations"] and seen["delegations"] is not None
    assert seen["accounts"] == ("wu-fang", "1001") and seen["refusals"] and seen["skipped"]
    (folder / checkpoint.FILE).unlink()
    whole, everything = opened(folder)
    assert whole.replayed == whole.records()
    assert seen == everything


def test_the_records_after_an_older_checkpoint_are_read_and_applied(
        lived_store: Path, tmp_path: Path, config_path: Path) -> None:
    """A crash after records were appended but before the next checkpoint: the old one
    stands, and what follows it is read as before."""
    folder = copy_of(lived_store, tmp_path)
    older = (folder / checkpoint.FILE).read_bytes()
    store = TinyDBStore.open(folder, at("2026-11-30 10:00"))
    task = next(t for t in store.open_tasks())
    store.check_in(task.key, "wu-fang", at("2026-11-30 10:00"), "后补", "console",
                   source="console:after")
    store.delegate("wu-fang", "ma-li", None, at("2026-11-30 10:01"), source="console:d")
    store.close()
    written = store.records()
    (folder / checkpoint.FILE).write_bytes(older)  # as if the last one was never written
    reopened, seen = opened(folder)
    assert reopened.replayed == 2 and reopened.records() == written
    (folder / checkpoint.FILE).unlink()
    assert seen == opened(folder)[1]


def test_a_new_checkpoint_every_so_many_records_and_on_closing(tmp_path: Path) -> None:
    folder = tmp_path / "store"
    store = TinyDBStore.open(folder, at("2026-11-26 09:00"))
    store.checkpoint_every = 3
    for i in range(5):
        store.add_tasks([PlannedTask(f"d{i}:u:2026-11", f"d{i}", "u", "2026-11",
                                     date(2026, 11, 30))], at("2026-11-26 09:00"))
        store.fold()  # as the minute pass does
    mark = checkpoint.read(folder)
    assert mark is not None and mark.mark.seq == 3  # not at every fold
    store.close()
    mark = checkpoint.read(folder)
    assert mark is not None and mark.mark.seq == 5


def _edit_early_record(folder: Path) -> None:
    def change(rows: list[dict[str, Any]]) -> None:
        rows[0]["actor"] = "someone-else"
    rechain(folder / "ledger.jsonl", change)


def _truncate_ledger(folder: Path) -> None:
    lines = (folder / "ledger.jsonl").read_bytes().splitlines(keepends=True)
    (folder / "ledger.jsonl").write_bytes(b"".join(lines[:-5]))


def _remove_a_month(folder: Path) -> None:
    (folder / "tasks-2026-10.json").unlink()


def _older_month(folder: Path) -> None:
    path = folder / "tasks-2026-11.json"
    tables = json.loads(path.read_bytes())
    del tables["tasks"][max(tables["tasks"], key=int)]
    path.write_text(json.dumps(tables, ensure_ascii=False), encoding="utf-8")


def _garbage(folder: Path) -> None:
    (folder / checkpoint.FILE).write_bytes(b'{"version": 1, "mark": ')


def _forged_mark(folder: Path) -> None:
    doc = json.loads((folder / checkpoint.FILE).read_bytes())
    doc["mark"]["hash"] = "0" * 64
    (folder / checkpoint.FILE).write_text(json.dumps(doc), encoding="utf-8")


def _other_seq(folder: Path) -> None:
    doc = json.loads((folder / checkpoint.FILE).read_bytes())
    doc["mark"]["seq"] -= 1
    (folder / checkpoint.FILE).write_text(json.dumps(doc), encoding="utf-8")


DISTRUSTED = {
    "ledger rewritten before it": _edit_early_record,
    "ledger cut back": _truncate_ledger,
    "month file removed": _remove_a_month,
    "month file put back": _older_month,
    "unreadable": _garbage,
    "mark not in the ledger": _forged_mark,
    "mark names another record": _other_seq,
}


@pytest.mark.parametrize("damage", list(DISTRUSTED))
def test_a_checkpoint_not_borne_out_is_not_trusted(damage: str, lived_store: Path,
                                                   tmp_path: Path) -> None:
    folder = copy_of(lived_store, tmp_path)
    DISTRUSTED[damage](folder)
    try:
        store = TinyDBStore.open(folder, at("2026-11-30 10:00"), read_only=True)
    except StoreCorrupt as e:  # what reading the whole chain finds, as without a checkpoint
        assert damage == "ledger cut back" and "台账只有" in str(e)
        return
    assert store.replayed == store.records()  # the whole chain read again
    if damage.startswith("month"):  # what the file lost is rebuilt from the ledger
        (folder / checkpoint.FILE).unlink()
        pristine = copy_of(lived_store, tmp_path / "pristine")
        (pristine / checkpoint.FILE).unlink()
        assert state(store, folder) == opened(pristine)[1]


def test_a_store_the_checkpoint_is_not_borne_out_in_gets_a_new_one(
        lived_store: Path, tmp_path: Path) -> None:
    folder = copy_of(lived_store, tmp_path)
    _remove_a_month(folder)
    TinyDBStore.open(folder, at("2026-11-30 10:00")).close()
    again = TinyDBStore.open(folder, at("2026-11-30 10:00"), read_only=True)
    assert again.replayed == 0 and (folder / "tasks-2026-10.json").exists()


def test_the_audit_checks_the_checkpoint_against_the_whole_chain(
        lived_store: Path, tmp_path: Path) -> None:
    folder = copy_of(lived_store, tmp_path)
    assert verify(folder).intact
    doc = json.loads((folder / checkpoint.FILE).read_bytes())
    bound = next(r for r in doc["records"] if r["type"] == "account-bound")
    bound["data"]["person"] = "li-hongmei"  # a forged binding start-up would trust
    (folder / checkpoint.FILE).write_text(json.dumps(doc, ensure_ascii=False),
                                         encoding="utf-8")
    result = verify(folder)
    assert not result.intact and result.checkpoint is not None
    assert any(checkpoint.FILE in p for p in describe_problems(result, folder))


def test_a_record_edited_before_the_checkpoint_is_found_by_the_audit(
        lived_store: Path, tmp_path: Path) -> None:
    """What opening from a checkpoint gives up: it does not re-read the records before it.
    The audit does, and names the edit."""
    folder = copy_of(lived_store, tmp_path)
    path = folder / "ledger.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[3] = lines[3].replace(b'"actor":"dutybot"', b'"actor":"dutyb0t"')
    path.write_bytes(b"".join(lines))
    TinyDBStore.open(folder, at("2026-11-30 10:00"), read_only=True)  # trusted as checked
    result = verify(folder)
    assert result.broken is not None and result.broken.line == 4


def test_the_bot_writes_a_checkpoint_on_the_way_out(config_path: Path) -> None:
    config = load(config_path)
    clock = FakeClock(at("2026-11-26 10:00"))
    app = App.open(config, clock)
    Chat(app, clock, "吴芳").say("待办")
    app.close()
    mark = checkpoint.read(config.store_path)
    assert mark is not None and mark.mark.seq == TinyDBStore.open(
        config.store_path, clock.now(), read_only=True).records()


def test_start_up_plans_only_the_days_since_the_last_planned_one(config_path: Path) -> None:
    config = load(config_path)
    clock = FakeClock(at("2026-11-26 10:00"))
    app = App.open(config, clock)
    assert app.planned_from == app.store.since  # a new store: from its first day
    app.close()
    clock.set(at("2026-11-28 10:00"))
    app = App.open(config, clock)
    assert app.planned_from == date(2026, 11, 27)
    app.close()
    app = App.open(config, clock)  # remembered even when those days opened no task
    assert app.planned_from is None
    app.close()
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace('name = "', 'name = "新', 1), encoding="utf-8")
    clock.set(at("2026-11-29 10:00"))
    app = App.open(load(config_path), clock)  # another plan: from the first day again
    assert app.planned_from == app.store.since
    app.close()


def test_planning_day_by_day_opens_a_task_due_before_its_period_begins(
        config_path: Path) -> None:
    """A monthly duty due at the start, moved back to the previous working day: November
    2026 begins on a Sunday, so its task is due on Friday 30 October. Planning only the days
    since the last planned one still opens it on the first of the month."""
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace(
        'evidence = "学习时间、主题、参加人员"',
        'evidence = "学习时间、主题、参加人员"\ndue = "start"\nadjust = "previous-workday"', 1),
        encoding="utf-8")
    config = load(config_path)
    clock = FakeClock(at("2026-09-01 10:00"))  # in use since September: the duty under way
    App.open(config, clock).close()
    clock.set(at("2026-10-31 10:00"))  # a Saturday: planned through it
    App.open(config, clock).close()
    clock.set(at("2026-11-02 10:00"))
    app = App.open(config, clock)
    try:
        assert app.planned_from == date(2026, 11, 1)  # from the day after the last planned
        task = app.store.task("theory-study:party-group:2026-11")
        assert task is not None and task.due == date(2026, 10, 30)
    finally:
        app.close()


def test_the_plan_fingerprint_follows_the_planning_code(config_path: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """An install from a checkout keeps its version across updates: a change to the code
    that plans is a change of plan all the same (start-up then plans from the first day)."""
    import types

    from bot import app as app_module

    source = tmp_path / "tasks.py"
    source.write_text("RULE = 1\n", encoding="utf-8")
    monkeypatch.setattr(app_module, "PLANNING_CODE", (types.SimpleNamespace(__file__=source),))
    config = load(config_path)
    before = app_module.plan_fingerprint(config)
    assert app_module.plan_fingerprint(config) == before
    source.write_text("RULE = 2\n", encoding="utf-8")
    assert app_module.plan_fingerprint(config) != before


def test_the_next_start_takes_back_the_statutory_holidays_worked_out(
        config_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """2027 is not in chinese-calendar: its statutory holidays are worked out by the
    `holidays` package, whose import costs each process 0.1 s. The checkpoint keeps them
    under the plan, so the next start under the same plan does not work them out again."""
    config = load(config_path)
    clock = FakeClock(at("2026-12-28 10:00"))
    app = App.open(config, clock)
    assert not app.calendar.is_workday(date(2027, 2, 8))  # 春节, worked out
    app.close()
    mark = checkpoint.read(config.store_path)
    assert mark is not None and mark.planned is not None and mark.planned.memo
    monkeypatch.setattr(calendar_module, "statutory_holidays", _not_again)
    app = App.open(config, clock)
    try:
        assert not app.calendar.is_workday(date(2027, 2, 8))  # taken back
        assert app.calendar.is_workday(date(2027, 2, 10))
    finally:
        app.close()


def _not_again(year: int) -> frozenset[date]:
    raise AssertionError(f"statutory holidays of {year} worked out again")


def test_statutory_holidays_kept_under_another_plan_or_garbled_are_worked_out_again(
        config_path: Path) -> None:
    config = load(config_path)
    clock = FakeClock(at("2026-12-28 10:00"))
    app = App.open(config, clock)
    assert not app.calendar.is_workday(date(2027, 2, 8))
    app.close()
    store = TinyDBStore.open(config.store_path, clock.now())
    assert store.planned_memo("another plan") == {}
    mark = checkpoint.read(config.store_path)
    assert mark is not None and mark.planned is not None
    store.note_planned(mark.planned.plan, mark.planned.through,
                       {"statutory": {"2027": ["2027-02-10", "8 February"]}})
    store.close()
    app = App.open(config, clock)
    try:  # a garbled memo is ignored: 10 February stays a working day, 8 February not
        assert app.calendar.is_workday(date(2027, 2, 10))
        assert not app.calendar.is_workday(date(2027, 2, 8))
    finally:
        app.close()


def test_the_next_start_takes_back_the_tasks_its_passes_settled(config_path: Path) -> None:
    """An open task whose every stage is behind it and handled says nothing more until it
    changes: a pass that finds so need not look at it again, nor need the next start under
    the same plan (each of its first passes went over every stage of every open task). A
    task changed since is looked at again."""
    config = load(config_path)
    clock = FakeClock(at("2026-09-01 10:00"))
    App.open(config, clock).close()
    clock.set(at("2026-11-26 10:00"))
    app = App.open(config, clock)
    first = Deliverer(app, {"console": RecordingChannel()}, False)
    first.run_pass(clock.now())  # sends or skips what was missed since September
    first.run_pass(clock.now())  # and finds that nothing more comes of the overdue ones
    settled = dict(app.settled)
    assert len(settled) >= 2  # overdue tasks nobody did, every reminder of them behind
    changed = next(iter(settled))
    task = app.store.task(changed)
    assert task is not None and app.store.recorded(task) == settled[changed]
    who = app.org.assignee(task.owner)
    assert who is not None
    app.store.check_in(changed, who, clock.now(), "补交", "console")
    app.close()
    app = App.open(config, clock)
    try:
        again = Deliverer(app, {"console": RecordingChannel()}, False)
        assert set(again._settled) == set(settled) - {changed}
        assert all(t is app.store.task(k) for k, t in again._settled.items())
        assert again.run_pass(clock.now()).planned == 0  # as without: nothing more came
        fresh = Deliverer(app, {"console": RecordingChannel()}, False)
        fresh._settled.clear()
        assert fresh.run_pass(clock.now()).planned == 0
    finally:
        app.close()


def test_a_checkpoint_written_before_the_memo_still_reads(lived_store: Path,
                                                         tmp_path: Path) -> None:
    folder = copy_of(lived_store, tmp_path)
    doc = json.loads((folder / checkpoint.FILE).read_text(encoding="utf-8"))
    doc["planned"] = ["fingerprint", "2026-11-20"]  # as the second session wrote it
    (folder / checkpoint.FILE).write_text(json.dumps(doc), encoding="utf-8")
    mark = checkpoint.read(folder)
    assert mark is not None
    assert mark.planned == checkpoint.Planned("fingerprint", date(2026, 11, 20), None)
    store = TinyDBStore.open(folder, at("2026-11-20 18:00"), read_only=True)
    assert store.planned_through("fingerprint") == date(2026, 11, 20)
    assert store.planned_memo("fingerprint") == {}


def test_a_month_file_lost_while_the_bot_runs_is_rebuilt_at_the_next_start(
        lived_store: Path, tmp_path: Path) -> None:
    """The fold after it writes only the changed documents; the checkpoint then must not
    vouch for the shorter file."""
    folder = copy_of(lived_store, tmp_path)
    store = TinyDBStore.open(folder, at("2026-11-30 10:00"))
    every = {t.key for t in store.all_tasks()}
    month = [t for t in store.open_tasks() if t.due.month == 11 and t.due.year == 2026
             and (folder / "tasks-2026-11.json").read_text(encoding="utf-8").count(t.key)]
    (folder / "tasks-2026-11.json").unlink()
    store.check_in(month[0].key, "wu-fang", at("2026-11-30 10:00"), "补", "console")
    store.close()
    again = TinyDBStore.open(folder, at("2026-11-30 10:05"), read_only=True)
    assert {t.key for t in again.all_tasks()} == every
