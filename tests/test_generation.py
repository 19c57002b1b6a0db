"""Task generation: who owns what, which periods, and idempotence across runs and restarts."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path

from bot.app import App
from bot.clock import FakeClock
from bot.config import Config, load
from schedules.calendar import WorkCalendar
from schedules.tasks import plan_tasks
from storage.tinydb_store import TinyDBStore
from tests.builders import at

CAL = WorkCalendar()


def test_plan_for_one_day_covers_every_calendar_duty_and_owner(config: Config) -> None:
    planned = plan_tasks(config.org, date(2026, 11, 26), date(2026, 11, 26), CAL)
    per_duty = Counter(p.duty for p in planned)
    assert per_duty["branch-meeting"] == 4  # four branches
    assert per_duty["party-lecture"] == 4  # four leaders, each their own
    assert per_duty["office-summary"] == 3  # 机关党委, 办公室, 机关纪委
    assert per_duty["theme-day"] == 4
    assert per_duty["report-to-city"] == 2  # both listed deadlines are ahead
    assert "opinion-incident" not in per_duty  # event duties open by message only
    keys = {p.key for p in planned}
    assert "branch-meeting:branch-1:2026-Q4" in keys
    assert "party-lecture:li-hongmei:2026" in keys
    assert "office-summary:office:2026-H2" in keys
    summary = next(p for p in planned if p.key == "office-summary:office:2026-H2")
    assert summary.due == date(2026, 12, 20)


def test_plan_over_a_year_counts_periods(config: Config) -> None:
    planned = plan_tasks(config.org, date(2026, 1, 1), date(2026, 12, 31), CAL)
    per_duty = Counter(p.duty for p in planned)
    assert per_duty["three-meetings-committee"] == 12 * 4
    assert per_duty["branch-meeting"] == 4 * 4
    assert per_duty["party-group-meeting"] == 2
    assert per_duty["annual-inspection"] == 1
    assert len({p.key for p in planned}) == len(planned)


def test_generating_twice_changes_nothing(app: App, clock: FakeClock) -> None:
    before = app.store.all_tasks()
    assert before, "the example bureau has tasks on 2026-11-26"
    assert app.store.add_tasks(plan_tasks(app.org, app.store.since, clock.now().date(), CAL),
                               clock.now()) == []
    assert app.store.all_tasks() == before


def test_numbers_survive_a_restart_and_new_periods_get_new_numbers(config: Config) -> None:
    clock = FakeClock(at("2026-11-26 10:00"))
    first = App.open(config, clock)
    numbers = {t.key: t.number for t in first.store.all_tasks()}
    first.close()

    clock.set(at("2026-12-02 09:00"))
    second = App.open(config, clock)
    after = {t.key: t.number for t in second.store.all_tasks()}
    second.close()
    assert {k: after[k] for k in numbers} == numbers
    new = set(after) - set(numbers)
    assert "theme-day:branch-1:2026-12" in new
    assert min(after[k] for k in new) > max(numbers.values())
    assert len(set(after.values())) == len(after)


def test_a_running_bot_opens_next_months_tasks_when_the_month_turns(app: App,
                                                                   clock: FakeClock) -> None:
    assert app.store.task("theme-day:branch-2:2026-12") is None
    clock.set(at("2026-12-01 08:00"))
    app.refresh(clock.now())
    assert app.store.task("theme-day:branch-2:2026-12") is not None


def test_a_changed_due_rule_moves_open_tasks_only(config_path: Path) -> None:
    clock = FakeClock(at("2026-11-26 10:00"))
    app = App.open(load(config_path), clock)
    done_key = "office-summary:office:2026-H2"
    app.store.check_in(done_key, "zhou-tao", clock.now(), "已报送", "console")
    app.close()

    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text.replace('due = ["06-20", "12-20"]', 'due = ["06-15", "12-15"]'),
                           encoding="utf-8")
    app = App.open(load(config_path), clock)
    try:
        moved = app.store.task("office-summary:discipline:2026-H2")
        kept = app.store.task(done_key)
        assert moved is not None and moved.due == date(2026, 12, 15)
        assert kept is not None and kept.due == date(2026, 12, 20)
    finally:
        app.close()


def test_deadlines_before_the_first_day_are_not_tracked(config: Config) -> None:
    app = App.open(config, FakeClock(at("2026-12-20 10:00")))
    try:
        assert app.store.task("annual-inspection:party-committee:2026") is None  # due 12-15
        assert app.store.task("report-to-city:party-committee:2026-12-10") is None
        assert app.store.task("office-summary:office:2026-H2") is not None  # due 12-20
    finally:
        app.close()


def test_the_store_remembers_its_first_day(config: Config, tmp_path: Path) -> None:
    store = TinyDBStore.open(tmp_path / "s", at("2026-03-05 08:00"))
    store.close()
    store = TinyDBStore.open(tmp_path / "s", at("2026-11-26 08:00"))
    assert store.since == date(2026, 3, 5)
    store.close()


def test_a_unit_added_later_starts_with_the_current_period(config_path: Path) -> None:
    clock = FakeClock(at("2026-02-10 10:00"))
    App.open(load(config_path), clock).close()
    text = config_path.read_text(encoding="utf-8")
    marker = "# 责任事项 [[duties]]"
    config_path.write_text(text.replace(marker, (
        '\n[[units]]\nid = "branch-5"\nname = "种苗站党支部"\nkind = "branch"\n'
        'head = "gao-yuan"\nsupervisor = "zhang-wei"\n\n' + marker)), encoding="utf-8")
    clock.set(at("2026-11-26 10:00"))
    app = App.open(load(config_path), clock)
    try:
        new = {t.period for t in app.store.all_tasks() if t.owner == "branch-5"}
        old = {t.period for t in app.store.all_tasks()
               if t.owner == "branch-1" and t.duty == "theme-day"}
    finally:
        app.close()
    assert new == {"2026-11", "2026-Q4"}  # no backlog of months before it existed
    assert len(old) == 10  # February to November for a branch that was there
