"""A durable check-in against the fsync floor at each size (SPEC §9, tracker #14).

    python -m bench.bench_checkin [--workdir DIR] [--sizes 300,2000,20000] [--rounds N]

Each size's store is built once (`bench.bureau`, in a child process) and copied, so the
measurement never changes a store other benchmarks reuse. Two series take turns in blocks,
each sample paired with the floor beside it (one 300-byte append + fsync on the same disk,
before or after it in turn): `打卡 N` through the whole command path (`App.handle`: parse,
scope, the durable write, the reply), the month files folded every `FOLD_EVERY` check-ins
as the minute pass would; and the same check-in followed by `store.fold()`, what every
check-in paid while each write rewrote its month file. Each check-in is undone, untimed.
Bytes handed to `write` (`wchar` of /proc/self/io) per check-in are given beside the times.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from bench.bureau import ROOT, TZ
from bot.app import App
from bot.clock import FakeClock
from bot.config import load
from handlers.messages import Inbound
from storage import records

NOW = datetime(2026, 11, 26, 10, tzinfo=TZ)
UNITS = {300: 40, 2000: 200, 20000: 2000}  # SPEC §9's sizes
WITH_REMINDERS = {300, 2000}  # the city's history is built without the morning passes
BLOCKS = 4  # the check-in series and the folded one take turns, this many blocks in all
FOLD_EVERY = 50  # check-ins between the minute pass's folds (one a second, say)


def written() -> int | None:
    """Bytes this process has handed to `write` so far (Linux), or None."""
    try:
        with open("/proc/self/io", encoding="ascii") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("wchar:"))
    except (OSError, StopIteration):
        return None


def p50_p99(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return (statistics.median(ordered) * 1000,
            ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000)


def build(workdir: Path, people: int) -> Path:
    folder = workdir / f"dutybot-bench-{people}"
    command = [sys.executable, "-m", "bench.bureau", str(folder), str(people),
               str(UNITS.get(people, max(4, people // 10))), "3"]
    if people not in WITH_REMINDERS:
        command.append("--no-reminders")
    started = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT)
    print(f"{people} people: store ready in {time.perf_counter() - started:.1f} s")
    return folder


def measure(folder: Path, rounds: int) -> dict[str, float]:
    scratch = Path(tempfile.mkdtemp(prefix="checkin-", dir=folder.parent))
    try:
        shutil.copytree(folder, scratch / "bureau")
        (scratch / "bureau" / "store" / "dutybot.lock").unlink(missing_ok=True)
        return _measure(scratch / "bureau", rounds)
    finally:
        shutil.rmtree(scratch)


def _measure(folder: Path, rounds: int) -> dict[str, float]:
    config = load(folder / "config.toml")
    clock = FakeClock(NOW)
    opened = time.perf_counter()
    app = App.open(config, clock)
    store = app.store
    print(f"  open: {time.perf_counter() - opened:.1f} s; {len(store.all_tasks())} tasks; "
          f"ledger {store.ledger_path().stat().st_size / 1e6:.0f} MB")
    tasks = [t for t in store.open_tasks() if config.org.assignee(t.owner)]
    tasks.sort(key=lambda t: t.number)
    months = {records.task_shard(t) for t in tasks}
    sizes = [(store.folder / f"tasks-{m}.json").stat().st_size for m in months
             if (store.folder / f"tasks-{m}.json").exists()]
    print(f"  {len(tasks)} open tasks in {len(months)} month file(s) of up to "
          f"{max(sizes, default=0) / 1e3:.0f} kB")

    def say(person: str, text: str) -> str:
        clock.advance(timedelta(milliseconds=1))
        return app.handle(Inbound("console", person, text, clock.now())).text

    fd, floor_path = tempfile.mkstemp(dir=store.folder.parent)
    line = b"x" * 299 + b"\n"
    samples: dict[str, list[float]] = {"floor": [], "checkin": [], "folded_floor": [],
                                       "folded": []}
    bytes_per: list[int] = []

    def floor(series: str) -> None:
        start = time.perf_counter()
        os.write(fd, line)
        os.fsync(fd)
        samples["floor" if series == "checkin" else "folded_floor"].append(
            time.perf_counter() - start)

    def checkin(i: int, series: str) -> None:
        task = tasks[i % len(tasks)]
        assignee = config.org.assignee(task.owner) or ""
        before = written()
        start = time.perf_counter()
        reply = say(assignee, f"打卡 {task.number} 第{i}轮")
        if series == "folded":
            store.fold()
        elapsed = time.perf_counter() - start
        after = written()
        assert reply.startswith("已记录完成"), reply
        samples[series].append(elapsed)
        if series == "checkin" and before is not None and after is not None:
            bytes_per.append(after - before)
        say(assignee, f"撤销 {task.number}")  # untimed: the task open again
        if series == "folded" or i % FOLD_EVERY == 0:
            store.fold()  # untimed: as the minute pass folds

    try:
        for block in range(BLOCKS):  # the two series in turn, each paired with the floor
            series = "checkin" if block % 2 == 0 else "folded"
            store.fold()
            for i in range(block * rounds // BLOCKS, (block + 1) * rounds // BLOCKS):
                if i % 2:
                    floor(series)
                    checkin(i, series)
                else:
                    checkin(i, series)
                    floor(series)
    finally:
        os.close(fd)
        os.unlink(floor_path)
        app.close()
    result = {}
    for name, values in samples.items():
        result[f"{name}_p50"], result[f"{name}_p99"] = p50_p99(values)
    result["bytes"] = statistics.median(bytes_per) if bytes_per else float("nan")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "dutybot-bench-checkin")
    parser.add_argument("--sizes", default="300,2000",
                        help="people, comma-separated (SPEC §9: 300, 2000, 20000)")
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    rows = []
    for people in [int(s) for s in args.sizes.split(",")]:
        folder = build(args.workdir, people)
        result = measure(folder, args.rounds)
        rows.append((people, result))
        floor, ffloor = result["floor_p50"], result["folded_floor_p50"]
        print(f"  check-in (打卡, whole command)  p50 {result['checkin_p50']:7.2f} ms  "
              f"p99 {result['checkin_p99']:7.2f} ms  = {result['checkin_p50'] / floor:.1f}× "
              f"the floor beside it ({floor:.2f} ms, p99 {result['floor_p99']:.2f} ms); "
              f"{result['bytes']:.0f} bytes written")
        print(f"  check-in + month file folded  p50 {result['folded_p50']:7.2f} ms  "
              f"p99 {result['folded_p99']:7.2f} ms  = {result['folded_p50'] / ffloor:.1f}× "
              f"the floor beside it ({ffloor:.2f} ms)")
    print()
    print("| people | check-in p50 | p99 | floor p50 | ratio | bytes written | "
          "check-in + fold p50 | floor p50 | ratio |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for people, r in rows:
        f, ff = r["floor_p50"], r["folded_floor_p50"]
        print(f"| {people:,} | {r['checkin_p50']:.2f} ms | {r['checkin_p99']:.2f} ms | "
              f"{f:.2f} ms | **{r['checkin_p50'] / f:.1f}×** | {r['bytes']:.0f} | "
              f"{r['folded_p50']:.2f} ms | {ff:.2f} ms | {r['folded_p50'] / ff:.1f}× |")


if __name__ == "__main__":
    main()
