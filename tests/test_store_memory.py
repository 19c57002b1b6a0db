"""Years of history without years of memory: settled outbox entries are let go after a few
weeks (their notices stay handled, their documents stay in the files), and old month files
are read again when written to, not kept parsed."""

from __future__ import annotations

from pathlib import Path

from bot.app import App
from bot.clock import FakeClock
from bot.config import load
from bot.delivery import Deliverer
from schedules.tasks import Status
from storage.audit import verify
from storage.repository import Delivery
from storage.tinydb_store import DELIVERY_MEMORY
from tests.builders import Chat, RecordingChannel, at


def test_settled_deliveries_are_let_go_but_never_sent_again(config_path: Path) -> None:
    clock = FakeClock(at("2026-11-26 10:00"))
    app = App.open(load(config_path), clock)
    channel = RecordingChannel()
    clock.set(at("2026-11-27 09:00"))
    Deliverer(app, {"console": channel}, False).run_pass(clock.now())
    sent = {(e.notice, e.channel) for e in app.store.deliveries() if e.state is Delivery.SENT}
    assert sent and channel.sent
    app.close()

    clock.set(at("2026-11-27 09:00") + DELIVERY_MEMORY + DELIVERY_MEMORY)
    app = App.open(load(config_path), clock)
    try:
        kept = {(e.notice, e.channel) for e in app.store.deliveries()}
        assert not sent & kept  # settled long ago: not held in memory any more
        assert {notice for notice, _ in sent} <= app.store.handled_notices()
        again = RecordingChannel()
        Deliverer(app, {"console": again}, False).run_pass(clock.now())
        assert not {r.text for _, _, r in again.sent} & {r.text for _, _, r in channel.sent}
        assert verify(app.store.folder).intact
    finally:
        app.close()


def test_an_old_month_file_is_read_again_to_be_written(config_path: Path) -> None:
    clock = FakeClock(at("2026-11-26 10:00"))
    App.open(load(config_path), clock).close()
    clock.set(at("2027-03-01 10:00"))  # November's file is no longer kept parsed
    app = App.open(load(config_path), clock)
    try:
        old = next(t for t in app.store.open_tasks() if t.period == "2026-11"
                   and t.owner == "branch-1")
        Chat(app, clock, "吴芳").say(f"完成 {old.number} 补记")
        done = app.store.task(old.key)
        assert done is not None and done.status is Status.DONE
        result = verify(app.store.folder)
        assert result.intact, result
    finally:
        app.close()
    app = App.open(load(config_path), clock)  # and the file says so after a restart
    try:
        done = app.store.task(old.key)
        assert done is not None and done.status is Status.DONE
        others = [t for t in app.store.all_tasks() if t.period == "2026-11"]
        assert len(others) > 1  # the rest of the month file is intact
    finally:
        app.close()
