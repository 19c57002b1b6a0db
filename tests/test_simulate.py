"""A year of reminders on the example bureau, through `dutybot simulate`."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot import simulate
from bot.app import App, make_calendar
from bot.cli import main
from bot.clock import FakeClock
from bot.config import Config, load
from schedules.calendar import statutory_holidays
from schedules.meetings import MeetingState, meeting_notices, send_moments
from schedules.periods import period_kind
from schedules.reminders import digest_notices, escalation_recipients, supervises, task_notices
from schedules.tasks import Task, plan_tasks
from storage.repository import stand_ins_on
from storage.tinydb_store import TinyDBStore
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
def year_jsonl(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, str]:
    """2026 on the example bureau, as `simulate --format jsonl` prints it."""
    folder = tmp_path_factory.mktemp("year")
    path = folder / "config.toml"
    path.write_bytes((Path(__file__).parent.parent / "config.example.toml").read_bytes())
    config = load(path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["simulate", "--from", "2026-01-01", "--to", "2026-12-31", "--format",
                     "jsonl", "--config", str(path), "--now", "2025-12-31T12:00"]) == 0
    return config, out.getvalue()


@pytest.fixture(scope="module")
def year(year_jsonl: tuple[Config, str]) -> Year:
    config, out = year_jsonl
    return config, [json.loads(line) for line in out.splitlines()]


# What `dutybot simulate --from 2026-01-01 --to 2026-12-31 --format jsonl --now 2025-12-31T12:00`
# prints on config.example.toml, byte for byte (its SHA-256 and size). A change to what the bot
# says, or when, changes it: check the difference is the one meant (run the command before and
# after the change and diff the outputs), then put the new figures here.
YEAR_2026 = ("f9bb342f154eaef195c3d55001a96f533e47390f653d12ef9a027610548b4f46", 1174521, 865)


def test_a_year_on_the_example_is_what_it_was(year_jsonl: tuple[Config, str]) -> None:
    """Pins the preview of 2026, so a change made for speed cannot change a word of it."""
    out = year_jsonl[1].encode()
    assert (hashlib.sha256(out).hexdigest(), len(out), out.count(b"\n")) == YEAR_2026


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


# ---- kept from day to day, as re-planning everything would have it ------------------------

def replanned(config: Config, first: date, last: date, now: datetime
              ) -> list[simulate.Message]:
    """`simulate` the plain way, as it once worked: every day which tasks are under way is
    worked out from all tasks, every open task is planned at every send time and every
    meeting looked at at every moment, with nothing remembered in between."""
    org, calendar = config.org, make_calendar(config)
    store = TinyDBStore.open(config.store_path, now, read_only=True)
    try:
        tasks = simulate.FutureTasks(store.all_tasks(), store.meetings())
        handled = set(store.handled_notices())
        skipped_before = dict(store.skipped_through())
        delegations = store.delegations()
        day = plan_from = since = max(first, store.since)
    finally:
        store.close()
    send_times = {(p.timezone or org.timezone, p.send_at)
                  for p in [config.reminders, *(d.policy for d in org.duties.values())]}
    groups = {u.id for u in org.units.values() if u.group is not None}
    messages: list[simulate.Message] = []
    while day <= last:
        midnight = datetime.combine(day, time(0), org.timezone)
        under_way = {(t.duty, t.owner, period_kind(t.period)) for t in tasks.by_key.values()}
        for p in plan_tasks(org, since, day, calendar, under_way, begun_from=plan_from):
            if p.key not in tasks.by_key:
                tasks.add(Task(p.key, tasks.next_number, p.duty, p.owner, p.period, p.due,
                               opened=midnight, title=p.title, owner_name=p.owner_name))
                tasks.next_number += 1
        plan_from = day + timedelta(days=1)
        live = [m for m in tasks.meetings.values() if m.state is not MeetingState.HELD]
        sends = {datetime.combine(day, t, tz) for tz, t in send_times}
        for moment in sorted(sends | send_moments(live, day, org, calendar, config.reminders)):
            meetings = meeting_notices(org, live, calendar, config.reminders, moment, handled,
                                       groups)
            due, skipped = meetings.send, meetings.skip
            if moment in sends:
                plan = task_notices(org, tasks.open_tasks(), calendar, moment, handled,
                                    stand_ins_on(delegations, day), skipped_before)
                due = plan.send + digest_notices(org, groups, calendar, config.reminders,
                                                 moment, handled) + due
                skipped += plan.skip
            handled.update(n.key for n in [*due, *skipped])
            messages += simulate._messages(config, tasks, calendar, due, moment)
        day += timedelta(days=1)
    return messages


MEMBERS = ["马丽", "钱华", "宋佳", "黄斌", "林晓", "郭强", "罗敏", "高远", "许静", "杜娟"]
HEADS = {"branch-1": "吴芳", "branch-2": "郑磊", "branch-3": "冯雪", "branch-4": "何军"}
LEADERS = ["李红梅", "张伟", "刘志强"]


def live_through(config_path: Path, first: date, last: date, seed: int) -> datetime:
    """Months of a busy bureau with a fake clock and a pass every morning (on most days):
    check-ins and undos, excuses, delegations for a while, incidents reported, meetings
    announced, asked leave of, moved, cancelled and recorded; halfway, a config change moves
    the theme days' deadlines. Returns the last moment."""
    from bot.delivery import Deliverer
    from tests.builders import Chat, RecordingChannel

    rng = random.Random(seed)
    config = load(config_path)
    clock = FakeClock(at(f"{first} 08:00"))
    app = App.open(config, clock)
    deliverer = Deliverer(app, {"console": RecordingChannel()}, defer_unreached=False)
    meetings: list[int] = []
    day = first
    try:
        while day <= last:
            if day == first + (last - first) * 2 // 3:
                app.close()
                text = config_path.read_text(encoding="utf-8").replace(
                    'evidence = "活动时间、主题、参加人数"',
                    'due = "end-5d"\nevidence = "活动时间、主题、参加人数"', 1)
                config_path.write_text(text, encoding="utf-8")
                config = load(config_path)
                app = App.open(config, clock)
                deliverer = Deliverer(app, {"console": RecordingChannel()}, False)
            clock.set(at(f"{day} 09:00"))
            if rng.random() < 0.8:  # some mornings the bot was down
                deliverer.run_pass(clock.now())
            for _ in range(rng.randint(0, 4)):
                clock.set(clock.now() + timedelta(minutes=rng.randint(1, 90)))
                act(app, clock, config, rng, meetings, Chat)
            if day in (first + timedelta(days=20), last - timedelta(days=1)):
                clock.set(clock.now() + timedelta(minutes=5))
                announce_one(app, clock, config, cancel=day < last - timedelta(days=1))
            day += timedelta(days=1)
        return clock.now()
    finally:
        app.close()


def announce_one(app: App, clock: FakeClock, config: Config, cancel: bool) -> None:
    """A meeting of the second branch next Wednesday, one member asking leave; then
    cancelled, or moved a day on."""
    from tests.builders import Chat, announce

    planned = {key for m in app.store.meetings() if m.state is MeetingState.PLANNED
               for key in m.tasks}
    task = next(t for t in app.store.open_tasks() if t.owner == "branch-2"
                and config.org.duties[t.duty].meeting is not None and t.key not in planned)
    number = announce(app, clock, str(task.number), "下周三 15:00 三楼会议室 学习", "郑磊")
    Chat(app, clock, "黄斌").say(f"请假 {number} 出差")
    said = Chat(app, clock, "郑磊").say(f"取消会议 {number} 因故推迟" if cancel
                                        else f"改期 {number} 下周四下午3点")
    assert said.startswith("已取消会议" if cancel else "已改期"), said


def act(app: App, clock: FakeClock, config: Config, rng: random.Random, meetings: list[int],
        chat: Any) -> None:
    org, store = config.org, app.store
    r = rng.random()
    if r < 0.35:
        person = rng.choice([*HEADS.values(), *LEADERS])
        mine = [t for t in store.open_tasks() if org.owner_name(org.assignee(t.owner) or "")
                == person]
        if mine:
            chat(app, clock, person).say(f"完成 {rng.choice(mine).number} 已完成")
    elif r < 0.45:
        done = [t for t in store.all_tasks() if t.checkin is not None]
        if done:
            task = rng.choice(done)
            assert task.checkin is not None
            chat(app, clock, org.owner_name(task.checkin.person)).say(f"撤销 {task.number}")
    elif r < 0.53:
        until = clock.now().date() + timedelta(days=rng.randint(1, 60))
        chat(app, clock, rng.choice(list(HEADS.values()))).say(
            f"委托 {rng.choice(MEMBERS)} 至{until.month}月{until.day}日"
            if rng.random() < 0.7 else f"委托 {rng.choice(MEMBERS)}")
    elif r < 0.56:
        chat(app, clock, rng.choice(list(HEADS.values()))).say("取消委托")
    elif r < 0.62:
        chat(app, clock, rng.choice(MEMBERS)).say(f"舆情 论坛有涉及本局的帖子{rng.randint(1, 99)}")
    elif r < 0.67:
        open_tasks = store.open_tasks()
        if open_tasks:
            task = rng.choice(open_tasks)
            chat(app, clock, rng.choice(LEADERS)).say(f"豁免 {task.number} 合并开展")
    elif r < 0.77:
        unit = rng.choice(list(HEADS))
        duties = [t for t in store.open_tasks() if t.owner == unit
                  and org.duties[t.duty].meeting is not None]
        if duties:
            when = rng.choice(["周五下午3点", "下周一上午9点半", "明天下午3点", "下周三 15:00"])
            said = chat(app, clock, HEADS[unit]).say(
                f"会议 {rng.choice(duties).number} {when} 三楼会议室 学习")
            if said.startswith("已发出会议通知"):
                meetings.append(max(m.number for m in store.meetings()))
    elif r < 0.9 and meetings:
        coming = [n for n in meetings if (m := store.meeting(n)) is not None
                  and m.state is MeetingState.PLANNED and m.start > clock.now()]
        meeting = store.meeting(rng.choice(coming or meetings))
        assert meeting is not None
        n, organiser = meeting.number, org.owner_name(meeting.organiser)
        what = rng.random()
        expected = meeting.attendees_expected()
        if what < 0.35 and expected:  # (everyone may be on leave already)
            who = org.owner_name(rng.choice(expected))
            chat(app, clock, who).say(f"请假 {n} 出差")
        elif what < 0.55:
            chat(app, clock, organiser).say(f"改期 {n} 下周二下午3点")
        elif what < 0.75:
            chat(app, clock, organiser).say(f"取消会议 {n} 因故推迟")
        else:
            chat(app, clock, organiser).say(f"纪实 {n}\n主持 {organiser}\n议题 学习\n决议 开展研讨")


@pytest.mark.parametrize("seed", [1, 2])
def test_what_is_kept_from_day_to_day_changes_nothing(config_path: Path, seed: int) -> None:
    """The incremental bookkeeping (tasks under way, when each task and meeting next has
    something to say) previews exactly what re-planning everything at every send time does,
    on a store with history of every kind, duties at two more send times (one in another
    time zone), and a range that begins before the store's last day."""
    text = config_path.read_text(encoding="utf-8")
    text = text.replace('evidence = "会议时间、应到实到人数、议题"',
                        'evidence = "会议时间、应到实到人数、议题"\n'
                        'reminders = { send_at = "14:30" }', 1)
    text = text.replace('evidence = "会议时间、参会支委、议题"',
                        'evidence = "会议时间、参会支委、议题"\n'
                        'reminders = { timezone = "Europe/Berlin" }', 1)
    config_path.write_text(text, encoding="utf-8")
    now = live_through(config_path, date(2026, 7, 1), date(2026, 10, 20), seed)
    config = load(config_path)
    store = TinyDBStore.open(config.store_path, now, read_only=True)
    try:
        tasks, meetings = store.all_tasks(), store.meetings()
        assert any(t.moves for t in tasks) and any(t.opened_by for t in tasks)
        assert any(c.undone_at for t in tasks for c in t.checkins)
        assert store.delegations() and any(m.leaves for m in meetings)
        assert {m.state for m in meetings} == set(MeetingState)
        assert any(m.state is MeetingState.PLANNED and m.start > now for m in meetings)
    finally:
        store.close()
    assert len({p.send_at for p in [config.reminders, *(d.policy for d in
                                                        config.org.duties.values())]}) == 2
    for first, last in [(date(2026, 10, 21), date(2027, 2, 28)),
                        (date(2026, 9, 15), date(2026, 12, 31))]:
        expected = replanned(config, first, last, now)
        got = list(simulate.simulate(config, first, last, make_calendar(config), now))
        assert got == expected
        assert len(got) > 150
