"""A year of reminders on the example bureau, through `dutybot simulate`."""

from __future__ import annotations

import contextlib
import io
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import simulate
from bot.app import App, make_calendar
from bot.cli import main
from bot.clock import FakeClock
from bot.config import Config, load
from schedules.calendar import statutory_holidays
from schedules.reminders import escalation_recipients, supervises
from tests.builders import at

MAKE_UP_WORKDAYS = {date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9),
                    date(2026, 9, 20), date(2026, 10, 10)}


Year = tuple[Config, list[dict[str, Any]]]


def carried(messages: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], str, str]]:
    """(message, task, stage kind) for every task notice a message carries (a bundle carries
    several): "overdue-2" is of kind "overdue"."""
    for m in messages:
        for n in m["notices"]:
            if "task" in n:
                yield m, n["task"], n["stage"].split("-")[0]


def tasks_in(m: dict[str, Any]) -> set[str]:
    return {n["task"] for n in m["notices"] if "task" in n}


@pytest.fixture(scope="module")
def year(tmp_path_factory: pytest.TempPathFactory) -> Year:
    folder = tmp_path_factory.mktemp("year")
    path = folder / "config.toml"
    path.write_bytes((Path(__file__).parent.parent / "config.example.toml").read_bytes())
    config = load(path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["simulate", "--from", "2026-01-01", "--to", "2026-12-31", "--format",
                     "jsonl", "--config", str(path), "--now", "2025-12-31T12:00"]) == 0
    return config, [json.loads(line) for line in out.getvalue().splitlines()]


def test_nothing_on_a_non_working_day_and_make_up_days_are_used(year: Year) -> None:
    config, messages = year
    calendar = make_calendar(config)
    days = {date.fromisoformat(str(m["at"])[:10]) for m in messages}
    assert all(calendar.is_workday(d) for d in days)
    assert date(2026, 10, 10) in days  # escalations of the 09-30 deadlines: a make-up Saturday
    assert len(days & MAKE_UP_WORKDAYS) >= 4
    assert not days & {date(2026, 10, d) for d in range(1, 8)}


def test_each_stage_at_most_once_per_task_and_recipient(year: Year) -> None:
    _, messages = year
    seen = Counter((n["task"], n["stage"], m["recipient"], m["channel"])
                   for m in messages for n in m["notices"] if "task" in n)
    assert seen and max(seen.values()) == 1
    overdue = Counter((task, m["recipient"]) for m, task, kind in carried(messages)
                      if kind == "overdue")
    assert max(overdue.values()) <= 5


def test_one_message_per_person_per_send_time(year: Year) -> None:
    _, messages = year
    per_moment = Counter((m["at"], m["recipient"], m["channel"]) for m in messages)
    assert max(per_moment.values()) == 1
    assert max(len(tasks_in(m)) for m in messages) >= 5  # heavy mornings come bundled


def test_counts_per_stage_follow_the_policy(year: Year) -> None:
    config, messages = year
    stages: dict[str, Counter[str]] = defaultdict(Counter)
    for _, task, kind in carried(messages):
        stages[task][kind] += 1
    checked = 0
    for key, counts in stages.items():
        duty_id, owner, period = key.split(":")
        due = date.fromisoformat(period) if len(period) == 10 else None
        if due is None and not (period.startswith("2026-0") or period in {
                "2026-10", "2026-11", "2026-Q1", "2026-Q2", "2026-Q3", "2026-H1"}):
            continue  # its overdue window runs into 2027
        policy = config.org.duties[duty_id].policy
        assert counts["advance"] == (1 if policy.advance_days else 0), key
        assert counts["eve"] == counts["due"] == 1, key
        assert counts["overdue"] == policy.overdue_max, key
        assert counts["escalation"] == len(escalation_recipients(config.org, owner)), key
        checked += 1
    assert checked > 150


def test_escalations_go_to_the_units_own_leader(year: Year) -> None:
    config, messages = year
    admins = {"zhao-min"}
    escalations = [(m, task) for m, task, kind in carried(messages) if kind == "escalation"]
    assert escalations
    for m, task in escalations:
        owner = task.split(":")[1]
        unit = config.org.units.get(owner)
        expected = {unit.supervisor} if unit and unit.supervisor else (
            set() if unit else {"wang-jianguo"})
        assert m["recipient"] in expected | admins, m
    by_branch2 = {m["recipient"] for m, task in escalations if ":branch-2:" in task}
    assert by_branch2 == {"zhang-wei", "zhao-min"}


def test_digests_come_weekly_and_monthly(year: Year) -> None:
    _, messages = year
    def with_stage(stage: str, recipient: str) -> list[dict[str, Any]]:
        return [m for m in messages if m["recipient"] == recipient
                and any(n["stage"] == stage for n in m["notices"])]

    weekly = with_stage("weekly-digest", "branch-1")
    monthly = with_stage("monthly-digest", "li-hongmei")
    assert 48 <= len(weekly) <= 53
    assert len(monthly) == 12
    first_days = [date.fromisoformat(str(m["at"])[:10]) for m in monthly]
    assert date(2026, 10, 8) in first_days  # after the National Day holiday
    assert all(d.day <= 8 for d in first_days)
    assert {tuple(sorted(m)) for m in messages} <= {
        ("at", "channel", "notices", "recipient", "stage", "text"),
        ("at", "channel", "notices", "recipient", "stage", "task", "text")}


def test_simulate_writes_nothing_and_counts_what_is_done(config_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    clock = FakeClock(at("2026-11-20 10:00"))
    app = App.open(load(config_path), clock)
    task = app.store.task("theme-day:branch-1:2026-11")
    assert task is not None
    app.store.check_in(task.key, "wu-fang", clock.now(), "已开展", "console")
    app.close()
    store = config_path.parent / "data" / "example"
    before = {p.name: p.read_bytes() for p in store.iterdir()}
    assert main(["simulate", "--from", "2026-11-20", "--to", "2026-12-10", "--format", "jsonl",
                 "--config", str(config_path), "--now", "2026-11-20T10:00"]) == 0
    messages = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {p.name: p.read_bytes() for p in store.iterdir()} == before
    assert not any(task.key in tasks_in(m) for m in messages)
    assert any("theme-day:branch-2:2026-11" in tasks_in(m) for m in messages)


def test_simulate_text_is_grouped_by_day(config_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--from", "2026-11-27", "--to", "2026-11-30", "--config",
                 str(config_path), "--now", "2026-11-20T10:00"]) == 0
    out = capsys.readouterr().out
    assert "2026-11-27（周五）" in out and "2026-11-28" not in out  # Saturday: nothing
    assert "09:00 → 吴芳 [console] eve" in out
    assert not (config_path.parent / "data").exists()


def test_simulate_matches_what_the_running_bot_sends(config_path: Path) -> None:
    """A quarter lived through with a fake clock — a pass every morning at 09:00, as the
    minute ticker would — sends exactly what `simulate` predicted for it."""
    from bot.delivery import Deliverer
    from tests.builders import RecordingChannel

    config = load(config_path)
    clock = FakeClock(at("2026-09-30 18:00"))
    App.open(config, clock).close()  # the store begins the day before
    predicted = Counter()
    for m in simulate_messages(config, date(2026, 10, 1), date(2026, 12, 31)):
        predicted[(m.at.date(), m.recipient, m.text)] += 1

    app = App.open(config, clock)
    channel = RecordingChannel()
    deliverer = Deliverer(app, {channel.name: channel}, defer_unreached=False)
    sent: Counter[tuple[date, str, str]] = Counter()
    day = date(2026, 10, 1)
    try:
        while day <= date(2026, 12, 31):
            clock.set(at(f"{day} 09:00"))
            before = len(channel.sent)
            deliverer.run_pass(clock.now())
            for recipient, _, reply in channel.sent[before:]:
                text = reply.text
                if reply.mentions:
                    text += "\n" + " ".join(f"@{config.org.owner_name(p)}"
                                            for p in reply.mentions)
                sent[(day, recipient, text)] += 1
            day += timedelta(days=1)
    finally:
        app.close()
    assert sent == predicted
    assert sum(sent.values()) > 200  # messages, each bundling what one person has that morning


def simulate_messages(config: Config, first: date, last: date) -> list[simulate.Message]:
    return list(simulate.simulate(config, first, last, make_calendar(config),
                                  at("2026-09-30 18:00")))


def test_a_duty_in_another_time_zone_is_previewed_at_its_own_hour(
        config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = config_path.read_text(encoding="utf-8").replace(
        'evidence = "活动时间、主题、参加人数"',
        'evidence = "活动时间、主题、参加人数"\nreminders = { timezone = "Europe/Berlin" }')
    config_path.write_text(text, encoding="utf-8")
    assert main(["simulate", "--from", "2026-11-23", "--to", "2026-11-23", "--format",
                 "jsonl", "--config", str(config_path), "--now", "2026-11-20T10:00"]) == 0
    messages = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    theme = [m for m in messages if any(t.startswith("theme-day:") for t in tasks_in(m))]
    assert theme and {m["at"] for m in theme} == {"2026-11-23T09:00:00+01:00"}
    assert all("还有7天" in m["text"] for m in theme)
    others = [m for m in messages if any(t.startswith("three-meetings") for t in tasks_in(m))]
    assert others and {m["at"] for m in others} == {"2026-11-23T09:00:00+08:00"}


# ---- a year the calendar package does not cover; tone --------------------------------------

@pytest.fixture(scope="module")
def year_2027(tmp_path_factory: pytest.TempPathFactory) -> Year:
    """2027 on the shipped example, whose [calendar] is empty."""
    folder = tmp_path_factory.mktemp("year2027")
    path = folder / "config.toml"
    path.write_bytes((Path(__file__).parent.parent / "config.example.toml").read_bytes())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["simulate", "--from", "2026-10-26", "--to", "2027-12-31", "--format",
                     "jsonl", "--config", str(path), "--now", "2026-10-25T12:00"]) == 0
    return load(path), [json.loads(line) for line in out.getvalue().splitlines()]


def test_nothing_goes_out_on_a_computed_statutory_holiday(year_2027: Year) -> None:
    _, messages = year_2027
    days = {date.fromisoformat(str(m["at"])[:10]) for m in messages}
    holidays = set(statutory_holidays(2027))
    assert len(holidays) == 13 and not days & holidays
    assert date(2027, 1, 4) in days  # the first working day after 元旦
    digests = [date.fromisoformat(str(m["at"])[:10]) for m in messages
               if any(n["stage"] == "weekly-digest" for n in m["notices"])
               and m["recipient"] == "branch-1"]
    assert date(2027, 2, 9) in digests  # the Spring Festival week's, after the holiday


def test_admins_are_asked_for_next_years_holidays_weekly_from_november(year_2027: Year) -> None:
    _, messages = year_2027
    notes = [date.fromisoformat(str(m["at"])[:10]) for m in messages
             if m["recipient"] == "zhao-min" and "【节假日提示】2027 年" in m["text"]]
    assert notes[0] == date(2026, 11, 2)  # the first Monday from 1 November, not before
    assert date(2026, 11, 9) in notes and date(2027, 3, 1) in notes  # weekly, still unfilled
    assert not any(d < date(2026, 11, 1) for d in notes)


def test_a_partial_calendar_does_not_silence_the_note_a_full_one_does(
        config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def notes_with(holidays: list[date]) -> list[dict[str, Any]]:
        text = config_path.read_text(encoding="utf-8")
        listed = ", ".join(f'"{d.isoformat()}"' for d in holidays)
        config_path.write_text(text.replace("holidays = []", f"holidays = [{listed}]", 1),
                               encoding="utf-8")
        assert main(["simulate", "--from", "2026-11-02", "--to", "2026-11-02", "--format",
                     "jsonl", "--config", str(config_path), "--now", "2026-11-01T12:00"]) == 0
        config_path.write_text(text, encoding="utf-8")
        return [m for line in capsys.readouterr().out.splitlines()
                if "【节假日提示】" in (m := json.loads(line))["text"]]

    guide = [date(2027, 1, 1), date(2027, 2, 8), date(2027, 2, 9)]  # the guide's example
    assert notes_with(guide)
    assert not notes_with(sorted(statutory_holidays(2027)))


def test_nobody_is_asked_to_hurry_someone_senior(year: Year) -> None:
    config, messages = year
    org = config.org
    for m in messages:
        if "督促" in m["text"]:
            escalated = {t for _, t, kind in carried([m]) if kind == "escalation"}
            assert escalated and all(supervises(org, m["recipient"], t.split(":")[1])
                                     for t in escalated), m
    admin = [m for m in messages if m["recipient"] == "zhao-min"]
    assert admin and not any("督促" in m["text"] for m in admin)
    assert any("【逾期知会】" in m["text"] for m in admin)
    secretary = [m for m in messages if m["recipient"] == "wang-jianguo"
                 and any(k == "overdue" and t.split(":")[1] == "party-group"
                         for _, t, k in carried([m]))]
    assert secretary and all("请尽快" not in m["text"] for m in secretary)
    assert any("【逾期提示】" in m["text"] for m in secretary)
