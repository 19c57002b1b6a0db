"""Meetings at bureau scale (issue 16, SPEC §9): what three years of every branch's meetings
cost the bot, each figure as a ratio to a floor measured in the same run.

    python -m bench.bench_meetings [--workdir DIR]

Two stores of the same bureau (300 people, 40 units, the full catalogue, every branch with
~10 members and a 3-person committee) are built once into DIR/dutybot-bench-meetings, in
child processes, living day by day through the same 3 years: one where every meeting duty
is held as a meeting — announced (`会议`), answered with leave (`请假`), reminded, recorded
(`纪实`, with absences, opening 补学 tasks) through the chat commands — and one where the
same tasks are simply checked in. Each measurement then runs on its own copy of a store:

- `纪实` through the whole command path (durable), on each store, ÷ one 300-byte append +
  fsync, with `完成` of the 补学 tasks it opened beside it;
- `会议` and `待办` for a branch secretary ÷ `帮助` on the same dispatch path;
- the minute pass at a quiet moment, peak RSS of the process and opening the store, with
  meetings ÷ without (each store in a fresh child process);
- `dutybot record-book` for one branch-year, when the command exists.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time as timer
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from bench.bureau import (
    ROOT,
    SCALES,
    TZ,
    BulkStore,
    NullChannel,
    _toml_value,
    json_floor,
    median_seconds,
    write_config,
)
from bot.app import App
from bot.clock import FakeClock
from bot.config import Config, load
from bot.delivery import Deliverer
from handlers.messages import Inbound
from schedules.meetings import MeetingState, is_makeup
from schedules.periods import parse_period_key
from schedules.tasks import Status, Task
from storage.tinydb_store import TinyDBStore

NOW = datetime(2026, 11, 26, 10, tzinfo=TZ)  # a Thursday, as in the other benches
MORNING = NOW.replace(hour=9)  # the pass measured: 09:00, then each minute to 13:00
QUIET_MINUTES = 240  # 09:01–13:00: before any 60-minutes-before reminder of a 14:30 meeting
COMBINED = ("three-meetings-general", "branch-meeting")  # held as one meeting each quarter
REASONS = ("出差", "参加培训", "病假", "外出调研", "家中有事")
TOPICS = ("学习贯彻党的二十届四中全会精神", "意识形态工作专题研究", "党风廉政建设警示教育",
          "学习习近平新时代中国特色社会主义思想", "发展党员工作", "年度组织生活会准备")


# ---- the bureau: branches with members and committees -------------------------------------

def _dump(doc: dict[str, Any]) -> str:
    lines: list[str] = []
    for name, value in doc.items():
        rows = value if isinstance(value, list) else [value]
        for row in rows:
            lines.append(f"[[{name}]]" if isinstance(value, list) else f"[{name}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in row.items()]
            lines.append("")
    return "\n".join(lines)


def write_bureau(folder: Path) -> Path:
    """`bench.bureau`'s bureau, with party members in the branches: everyone outside the
    party group who is not in a branch joins one (staff of the offices are members of some
    branch), and each branch gets a committee of its head and two members."""
    people, units, _, _ = SCALES["bureau"]
    path = write_config(folder, people, units)
    doc = tomllib.loads(path.read_text(encoding="utf-8"))
    branches = [u["id"] for u in doc["units"] if u["kind"] == "branch"]
    joining = [p for p in doc["people"]
               if "party-group" not in p["units"] and not set(p["units"]) & set(branches)]
    for i, person in enumerate(joining):
        person["units"] = [*person["units"], branches[i % len(branches)]]
    for unit in doc["units"]:
        if unit["kind"] == "branch":
            members = [p["id"] for p in doc["people"]
                       if unit["id"] in p["units"] and p["id"] != unit["head"]]
            unit["committee"] = [unit["head"], *members[:2]]
    path.write_text(_dump(doc), encoding="utf-8")
    return path


# ---- three years of history ---------------------------------------------------------------

@dataclass
class Plan:
    """A meeting to be held: its tasks, and the days it is announced and held."""

    tasks: list[Task]
    announce: date
    held: date
    start: time
    number: int = 0


def is_meeting_task(config: Config, task: Task) -> bool:
    duty = config.org.duties.get(task.duty)
    return (duty is not None and duty.meeting is not None and task.owner in config.org.units
            and not is_makeup(task))


def live(config: Config, start: date, now: datetime, meetings: bool) -> dict[str, int]:
    """Live from `start` to the day before `now`. Each day: the delivery pass at 09:00, 10:05,
    14:00 and 16:00 (notices, the eve and 60-minutes-before reminders, leave messages and
    every task reminder go out as in the running bot); announcements at 10:00, leave at
    11:00, plain check-ins at 15:00, 纪实 at 17:30 — commands through the chat path, each
    by whoever would send it. With `meetings` false, meeting tasks are checked in too."""
    rng = random.Random(16)
    clock = FakeClock(datetime.combine(start, time(8), TZ))
    store = BulkStore.open(config.store_path, clock.now())
    assert isinstance(store, BulkStore)
    app = App(config, store, clock)
    org, calendar = config.org, app.calendar
    deliverer = Deliverer(app, {"console": NullChannel()}, defer_unreached=False)
    checkins: dict[date, list[str]] = defaultdict(list)
    announce: dict[date, list[Plan]] = defaultdict(list)
    leaves: dict[date, list[tuple[Plan, str]]] = defaultdict(list)
    held: dict[date, list[Plan]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    seen: set[str] = set()

    def at(day: date, hour: int, minute: int = 0) -> datetime:
        clock.set(datetime.combine(day, time(hour, minute), TZ))
        return clock.now()

    def say(person: str, words: str, expect: str) -> None:
        clock.advance(timedelta(milliseconds=1))
        reply = app.handle(Inbound("console", person, words, clock.now())).text
        assert reply.startswith(expect), (words, reply)

    def plan_meeting(tasks: list[Task], today: date) -> None:
        first = parse_period_key(tasks[0].period)[1].start
        earliest = max(today + timedelta(days=4), first)
        latest = max(earliest, min(t.due for t in tasks))
        day = earliest + timedelta(days=rng.randint(0, (latest - earliest).days))
        while not calendar.is_workday(day):
            day += timedelta(days=1)
        told = day - timedelta(days=rng.randint(2, 7))
        while told > today and not calendar.is_workday(told):
            told -= timedelta(days=1)
        plan = Plan(tasks, max(told, today), day, rng.choice((time(9, 30), time(14, 30),
                                                              time(15, 0))))
        announce[plan.announce].append(plan)

    def opened(day: date, keys: list[str]) -> None:
        combined: dict[tuple[str, str], list[Task]] = defaultdict(list)
        for key in keys:
            task = store.task(key)
            if task is None:
                continue
            if meetings and is_meeting_task(config, task):
                if rng.random() < 0.96:  # the rest are never held: overdue
                    if task.duty in COMBINED:
                        combined[task.owner, task.period].append(task)
                    else:
                        plan_meeting([task], day)
            elif rng.random() <= 0.95:
                offset = timedelta(days=rng.randint(0, 20))
                checkins[max(day, task.due - offset)].append(key)
        for tasks in combined.values():
            plan_meeting(sorted(tasks, key=lambda t: COMBINED.index(t.duty)), day)

    try:
        day = start
        while day < now.date():
            deliverer.run_pass(at(day, 9))
            if store.task_count() != len(seen):
                keys = store.task_keys()
                opened(day, sorted(keys - seen))
                seen = keys
            at(day, 10)
            for plan in announce.pop(day, []):
                organiser = org.units[plan.tasks[0].owner].head
                numbers = "+".join(str(t.number) for t in plan.tasks)
                moment = datetime.combine(plan.held, plan.start)
                say(organiser, f"会议 {numbers} {moment:%Y-%m-%d %H:%M} 党员活动室 "
                    f"{rng.choice(TOPICS)}", "已发出会议通知")
                made = max(store.meetings(), key=lambda m: m.number)
                plan.number = made.number
                counts["meetings"] += 1
                for person in made.invitees:  # leave asked before the meeting's day
                    if person != organiser and rng.random() < 0.04:
                        when = plan.announce + timedelta(
                            days=rng.randint(0, (plan.held - plan.announce).days - 1))
                        leaves[when].append((plan, person))
                if rng.random() < 0.99:  # a few are never recorded
                    late = rng.random() < 0.1
                    held[calendar.next_workday(plan.held) if late else plan.held].append(plan)
            deliverer.run_pass(at(day, 10, 5))
            at(day, 11)
            for plan, person in leaves.pop(day, []):
                say(person, f"请假 {plan.number} {rng.choice(REASONS)}", "已向召集人")
                counts["leaves"] += 1
            deliverer.run_pass(at(day, 14))
            moment = at(day, 15)
            for key in checkins.pop(day, []):
                task = store.task(key)
                if task is None or task.status is not Status.OPEN:
                    continue
                assignee = org.assignee(task.owner) or "unknown"
                store.check_in(key, assignee, moment, f"已完成，参会{rng.randint(5, 40)}人",
                               "wecom")
                counts["checkins"] += 1
            deliverer.run_pass(at(day, 16))
            at(day, 17, 30)
            for plan in held.pop(day, []):
                counts["attendance"] += record(app, clock, plan.number, rng)
            day += timedelta(days=1)
        store.flush()
        counts["makeups"] = sum(is_makeup(t) for t in store.all_tasks())
        counts["records"] = store.records()
    finally:
        store.close()
    return dict(counts)


def record_text(app: App, number: int, rng: random.Random, absent_share: float = 0.03) -> str:
    """A multi-line 纪实 as a secretary types it: chair, note-taker, absentees, topics."""
    meeting = app.store.meeting(number)
    assert meeting is not None
    people = app.org.people
    others = [p for p in meeting.invitees if p != meeting.organiser] or [meeting.organiser]
    away = meeting.on_leave()
    absent = [p for p in others if p not in away and rng.random() < absent_share]
    lines = [f"纪实 {number}", f"主持 {people[meeting.organiser].name}",
             f"记录 {people[rng.choice(others)].name}"]
    if absent:
        lines.append("缺席 " + " ".join(f"{people[p].name}（病假）" for p in absent))
    lines += [f"议题 {meeting.topic}，通报近期意识形态工作情况",
              "决议 按计划推进学习，下月前报送心得体会"]
    return "\n".join(lines)


def record(app: App, clock: FakeClock, number: int, rng: random.Random) -> int:
    """`纪实` by the organiser; the attendance rows it wrote (present and absent)."""
    meeting = app.store.meeting(number)
    assert meeting is not None
    clock.advance(timedelta(milliseconds=1))
    reply = app.handle(Inbound("console", meeting.organiser, record_text(app, number, rng),
                               clock.now())).text
    assert reply.startswith("已记录会议纪实"), reply
    done = app.store.meeting(number)
    assert done is not None and done.record is not None
    return len(done.record.present) + len(done.record.absent)


def build(folder: Path, meetings: bool) -> None:
    """The bureau and its history in `folder`; built.json (what it holds) marks it done."""
    config = load(write_bureau(folder))
    assert sum(d.meeting is not None for d in config.org.duties.values()) >= 7
    shutil.rmtree(config.store_path, ignore_errors=True)  # what an interrupted build left
    years = SCALES["bureau"][2]
    counts = live(config, date(NOW.year - years, NOW.month, 1), NOW, meetings)
    (folder / "built.json").write_text(json.dumps(counts), encoding="utf-8")


def ensure_stores(workdir: Path) -> tuple[dict[str, Path], float]:
    """The two stores (built in parallel child processes when not there yet)."""
    base = workdir / "dutybot-bench-meetings"
    folders = {"with": base / "with", "without": base / "without"}
    started = timer.perf_counter()
    children = [subprocess.Popen([sys.executable, "-m", "bench.bench_meetings", "--build",
                                  str(folder), *([] if kind == "with" else ["--plain"])],
                                 cwd=ROOT)
                for kind, folder in folders.items()
                if not (folder / "built.json").exists()]
    for child in children:
        if child.wait() != 0:
            raise SystemExit("building a store failed")
    return folders, timer.perf_counter() - started


def copy_of(folder: Path, workdir: Path, name: str) -> Path:
    """A fresh copy of a built bureau (config and store), for one measurement."""
    target = workdir / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(folder, target)
    (target / "store" / "dutybot.lock").unlink(missing_ok=True)
    return target


# ---- measuring ----------------------------------------------------------------------------

def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def fsync_floor(folder: Path, n: int = 500) -> list[float]:
    fd, path = tempfile.mkstemp(dir=folder)
    line = b"x" * 299 + b"\n"
    samples = []
    try:
        for _ in range(n):
            start = timer.perf_counter()
            os.write(fd, line)
            os.fsync(fd)
            samples.append(timer.perf_counter() - start)
    finally:
        os.close(fd)
        os.unlink(path)
    return samples


def measure_record(folder: Path, rounds: int = 3) -> dict[str, float]:
    """`纪实` through the dispatcher on a writable store, for meetings that have begun: at the
    first working day of each coming month the secretaries announce a meeting for each open
    meeting task still in time (not timed), and the day after, once they were held, record
    each (timed), with absentees as often as in the history; then each absentee checks in
    their 补学 (`完成`, timed: a check-in on the same store, for comparison). Floor: a
    300-byte append + fsync, two after each 纪实."""
    config = load(folder / "config.toml")
    clock = FakeClock(NOW)
    app = App.open(config, clock)
    rng = random.Random(5)
    samples: list[float] = []
    checkins: list[float] = []
    floor: list[float] = []
    lines: list[int] = []
    month = date(NOW.year, NOW.month, 1)
    for _ in range(rounds):
        month = (month + timedelta(days=32)).replace(day=1)
        day = month if app.calendar.is_workday(month) else app.calendar.next_workday(month)
        clock.set(datetime.combine(day, time(10), TZ))
        app.refresh(clock.now())
        planned = {k for m in app.store.live_meetings() if m.state is MeetingState.PLANNED
                   for k in m.tasks}
        held = app.calendar.next_workday(day)
        slots: dict[str, int] = defaultdict(int)
        for task in app.store.open_tasks():
            if not is_meeting_task(config, task) or task.key in planned or task.due < day:
                continue  # (overdue ones stay so: one meeting a task, a few a day)
            head = config.org.units[task.owner].head
            hour = (9, 10, 11, 14, 15, 16, 17)[slots[task.owner] % 7]
            slots[task.owner] += 1
            clock.advance(timedelta(milliseconds=1))
            said = app.handle(Inbound("console", head, f"会议 {task.number} "
                                      f"{held:%Y-%m-%d} {hour}:00 党员活动室 {TOPICS[0]}",
                                      clock.now())).text
            assert said.startswith("已发出会议通知"), said
        clock.set(datetime.combine(held, time(18, 30), TZ))
        app.refresh(clock.now())
        begun = [m for m in app.store.live_meetings()
                 if m.state is MeetingState.PLANNED and m.start <= clock.now()]
        before = {t.key for t in app.store.open_tasks() if is_makeup(t)}
        for meeting in sorted(begun, key=lambda m: m.number):
            words = record_text(app, meeting.number, rng, 0.07)  # as many as leave + absent
            lines.append(len(words.encode()))
            clock.advance(timedelta(milliseconds=1))
            message = Inbound("console", meeting.organiser, words, clock.now(),
                              message_id=f"bench-{meeting.number}")
            start = timer.perf_counter()
            reply = app.dispatcher.handle(message)
            samples.append(timer.perf_counter() - start)
            assert reply.text.startswith("已记录会议纪实"), reply.text
            floor += fsync_floor(folder, 2)
        makeups = [t for t in app.store.open_tasks() if is_makeup(t) and t.key not in before]
        for task in makeups:
            clock.advance(timedelta(milliseconds=1))
            message = Inbound("console", task.owner, f"完成 {task.number} 已自学", clock.now(),
                              message_id=f"bench-{task.number}")
            start = timer.perf_counter()
            reply = app.dispatcher.handle(message)
            checkins.append(timer.perf_counter() - start)
            assert reply.text.startswith("已记录完成"), reply.text
    app.close()
    return {"n": len(samples), "p50": p50(samples), "p99": pct(samples, 0.99),
            "floor_p50": p50(floor), "floor_p99": pct(floor, 0.99),
            "bytes": statistics.median(lines), "checkins": len(checkins),
            "checkin_p50": p50(checkins), "checkin_p99": pct(checkins, 0.99)}


def measure_commands(folder: Path, n: int = 500) -> dict[str, float]:
    """`帮助`, `会议` and `待办` from the branch secretaries in turn, through the dispatcher,
    on the store opened read-only (as bench_oversight does)."""
    config = load(folder / "config.toml")
    app = App.open(config, FakeClock(NOW), read_only=True)
    secretaries = [u.head for u in config.org.units.values() if u.kind == "branch"]
    figures: dict[str, float] = {}
    for label, words in (("help", "帮助"), ("meetings", "会议"), ("todo", "待办")):
        samples = []
        for i in range(n):
            message = Inbound("console", secretaries[i % len(secretaries)], words, NOW)
            start = timer.perf_counter()
            reply = app.dispatcher.handle(message)
            samples.append(timer.perf_counter() - start)
            assert reply.text
        figures[f"{label}_p50"] = p50(samples)
        figures[f"{label}_p99"] = pct(samples, 0.99)
    listed = [app.dispatcher.handle(Inbound("console", s, "会议", NOW)).text.count("【")
              for s in secretaries]
    figures["listed"] = statistics.mean(listed)
    app.close()
    return figures


def measure_pass(folder: Path) -> dict[str, float]:
    """In a fresh process: open the store as the bot does, the 09:00 pass, then a pass each
    minute to 13:00, when nothing is due; peak RSS of the process."""
    config = load(folder / "config.toml")
    clock = FakeClock(MORNING)
    start = timer.perf_counter()
    app = App.open(config, clock)
    opened = timer.perf_counter() - start
    deliverer = Deliverer(app, {"console": NullChannel()}, defer_unreached=False)
    morning = deliverer.run_pass(MORNING)
    samples = []
    for minute in range(1, QUIET_MINUTES + 1):
        now = MORNING + timedelta(minutes=minute)
        start = timer.perf_counter()
        result = deliverer.run_pass(now)
        samples.append(timer.perf_counter() - start)
        assert result.sent == 0 and result.planned == 0, (now, result)
    store = app.store
    figures = {"open_s": opened, "morning_sent": morning.sent, "p50": p50(samples),
               "p99": pct(samples, 0.99), "tasks": len(store.all_tasks()),
               "meetings": len(store.meetings()), "live": len(store.live_meetings()),
               "outbox": len(store.deliveries()), "records": store.records(),
               "ledger_mb": store.ledger_path().stat().st_size / 1e6,
               "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    app.close()
    return figures


def measure_open(folder: Path) -> dict[str, float]:
    store = folder / "store"
    json_floor(store)  # a warm page cache for both figures alike
    return {"floor_s": median_seconds(lambda: json_floor(store)),
            "open_s": median_seconds(
                lambda: TinyDBStore.open(store, NOW, read_only=True).close())}


def measure_record_book(folder: Path, out: Path) -> dict[str, float] | None:
    """`dutybot record-book` for one branch's last whole year, whole command; floor: the
    same interpreter opening the same store read-only in a child of its own."""
    if not (ROOT / "bot" / "record_book.py").exists():
        return None
    config = folder / "config.toml"
    dutybot = [sys.executable, "-m", "bot.cli"]
    command = [*dutybot, "record-book", "--config", str(config), "--unit", "branch-0",
               "--year", str(NOW.year - 1), "--out", str(out), "--now", NOW.isoformat()]
    floor = [sys.executable, "-c", "import sys; from datetime import datetime; "
             "from bot.config import load; from storage.tinydb_store import TinyDBStore; "
             "from pathlib import Path; c = load(Path(sys.argv[1])); "
             "TinyDBStore.open(c.store_path, datetime.now().astimezone(), read_only=True)",
             str(config)]
    times = {}
    for label, argv in (("book", command), ("floor", floor)):
        start = timer.perf_counter()
        done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
        times[label] = timer.perf_counter() - start
        if done.returncode != 0:
            print(f"  {label} failed ({done.returncode}): {(done.stderr or done.stdout)[-400:]}")
            return {}
    return {"book_s": times["book"], "floor_s": times["floor"],
            "bytes": out.stat().st_size if out.exists() else 0}


def child(*args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-m", "bench.bench_meetings", *args], check=True,
                         cwd=ROOT, capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout)
    return result


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--plain", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        build(args.build, meetings=not args.plain)
        return
    if args.measure:
        what, folder = args.measure
        measure = {"record": measure_record, "commands": measure_commands,
                   "pass": measure_pass}[what]
        print(json.dumps(measure(Path(folder))))
        return

    folders, built = ensure_stores(args.workdir)
    people, units, years, _ = SCALES["bureau"]
    print(f"bureau: {people} people, {units} units, {years} years; stores ready in {built:.0f} s")
    for kind, folder in folders.items():
        c = json.loads((folder / "built.json").read_text(encoding="utf-8"))
        print(f"  {kind + ' meetings:':<18} {c.get('meetings', 0):5} meetings, "
              f"{c.get('attendance', 0):6} attendance rows, {c.get('leaves', 0):4} leaves, "
              f"{c.get('makeups', 0):4} 补学 tasks, {c.get('checkins', 0):5} plain check-ins, "
              f"{c['records']} ledger records")
    work = Path(tempfile.mkdtemp(dir=args.workdir, prefix="bench-meetings-"))

    def on_copy(what: str, kind: str) -> dict[str, float]:
        folder = copy_of(folders[kind], work, f"{what}-{kind}")
        try:
            return child("--measure", what, str(folder))
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    try:
        passes = {kind: on_copy("pass", kind) for kind in folders}
        for kind, f in passes.items():
            print(f"  {kind + ':':<9} {f['tasks']:.0f} tasks, {f['meetings']:.0f} meetings "
                  f"({f['live']:.0f} not yet recorded or cancelled), {f['outbox']:.0f} outbox "
                  f"entries, {f['records']:.0f} ledger records, ledger {f['ledger_mb']:.1f} MB")
        print()
        for kind in folders:
            r = on_copy("record", kind)
            print(f"纪实 on the store {kind} 3 years of meetings (whole command, durable; "
                  f"{r['n']:.0f} meetings, ~{r['bytes']:.0f}-byte messages):")
            print(f"  纪实                              p50 {r['p50']:7.3f} ms   "
                  f"p99 {r['p99']:7.3f} ms")
            print(f"  完成 of the {r['checkins']:3.0f} 补学 tasks it opened  p50 "
                  f"{r['checkin_p50']:7.3f} ms   p99 {r['checkin_p99']:7.3f} ms")
            print(f"  floor: 300-byte append + fsync    p50 {r['floor_p50']:7.3f} ms   "
                  f"p99 {r['floor_p99']:7.3f} ms")
            ratio = r["p50"] / r["floor_p50"]
            print(f"  纪实 ratio p50 {ratio:.1f}x, p99 {r['p99'] / r['floor_p99']:.1f}x "
                  f"(完成 p50 {r['checkin_p50'] / r['floor_p50']:.1f}x); target p50 ≤ 10x: "
                  f"{verdict(ratio <= 10)}")
        print()
        commands = {kind: on_copy("commands", kind) for kind in folders}
        for kind, f in commands.items():
            print(f"{kind} meetings, branch secretaries in turn (n=500 each; 会议 lists "
                  f"{f['listed']:.1f} meetings on average):")
            for key, label in (("help", "帮助 (floor: same path)"), ("meetings", "会议"),
                               ("todo", "待办")):
                times = f"p50 {f[key + '_p50']:7.3f} ms   p99 {f[key + '_p99']:7.3f} ms"
                if key != "help":
                    times += f"   = {f[key + '_p50'] / f['help_p50']:5.1f}x"
                print(f"  {label:<24} {times}")
        print()
        w, wo = passes["with"], passes["without"]
        pass_ratio = w["p50"] / wo["p50"]
        print(f"minute pass, {QUIET_MINUTES} passes 09:01–13:00 after the 09:00 pass "
              f"({w['morning_sent']:.0f} / {wo['morning_sent']:.0f} messages):")
        print(f"  with meetings     p50 {w['p50']:7.2f} ms   p99 {w['p99']:7.2f} ms")
        print(f"  without (floor)   p50 {wo['p50']:7.2f} ms   p99 {wo['p99']:7.2f} ms")
        print(f"  ratio p50 {pass_ratio:.2f}x, p99 {w['p99'] / wo['p99']:.2f}x; "
              f"target ≤ 1.3x: {verdict(pass_ratio <= 1.3)}; "
              f"p99 ≤ 100 ms: {verdict(w['p99'] <= 100)}")
        rss_ratio = w["rss_mb"] / wo["rss_mb"]
        print(f"peak RSS (that process): with {w['rss_mb']:.0f} MB, without {wo['rss_mb']:.0f} "
              f"MB = {rss_ratio:.2f}x; target ≤ 1.5x: {verdict(rss_ratio <= 1.5)}")
        print(f"open + load + plan (App.open, that process): with {w['open_s'] * 1000:.0f} ms, "
              f"without {wo['open_s'] * 1000:.0f} ms = {w['open_s'] / wo['open_s']:.2f}x")
        opens = {}
        for kind in folders:
            folder = copy_of(folders[kind], work, f"open-{kind}")
            opens[kind] = measure_open(folder)
            shutil.rmtree(folder, ignore_errors=True)
        for kind, f in opens.items():
            print(f"store open, read-only ({kind + ' meetings'}): {f['open_s'] * 1000:6.0f} ms; "
                  f"json floor {f['floor_s'] * 1000:5.0f} ms = {f['open_s'] / f['floor_s']:.2f}x")
        w_open, wo_open = opens["with"], opens["without"]
        print(f"  with ÷ without meetings: {w_open['open_s'] / wo_open['open_s']:.2f}x"
              f" (json floor {w_open['floor_s'] / wo_open['floor_s']:.2f}x)")
        print()
        folder = copy_of(folders["with"], work, "book-with")
        book = measure_record_book(folder, work / "record-book.docx")
        shutil.rmtree(folder, ignore_errors=True)
        if book is None:
            print("record-book: skipped (bot/record_book.py does not exist yet)")
        elif book:
            print(f"record-book --unit branch-0 --year {NOW.year - 1} (whole command): "
                  f"{book['book_s']:.2f} s, {book['bytes'] / 1e3:.0f} kB; floor (a child "
                  f"opening the store): {book['floor_s']:.2f} s = "
                  f"{book['book_s'] / book['floor_s']:.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
