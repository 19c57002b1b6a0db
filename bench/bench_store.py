"""Bureau-scale store benchmark (SPEC §9): `待办` and a durable check-in, p50/p99, peak RSS.

    python -m bench.bench_store [--workdir DIR]

The store (300 people, 40 units, the full catalogue, 3 years of history) is built once in
a child process and reused; the measurements run in this process, so peak RSS is that of
a bot that opened the store and served commands. Baselines measured in the same run:
`帮助` through the same path (no store work), a bare 300-byte append + fsync (the floor of
any durable write on this disk), and TinyDB's stock JSONStorage inserting one document
into a file holding the same history (what the store design avoids).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from tinydb import TinyDB
from tinydb.storages import JSONStorage

from bench.bureau import ROOT, TZ
from bot.app import App
from bot.clock import FakeClock
from bot.config import load
from handlers.messages import Inbound
from schedules.tasks import Status
from storage import records

NOW = datetime(2026, 11, 26, 10, tzinfo=TZ)


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return (statistics.median(ordered) * 1000,
            ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] * 1000)


def timed(action: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return samples


def report(label: str, samples: list[float]) -> tuple[float, float]:
    p50, p99 = percentiles(samples)
    print(f"{label:<44} p50 {p50:8.3f} ms   p99 {p99:8.3f} ms   (n={len(samples)})")
    return p50, p99


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path,
                        default=Path(tempfile.gettempdir()) / "dutybot-bench-store")
    args = parser.parse_args()
    build = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bench.bureau", str(args.workdir), "300", "40", "3"],
                   check=True, cwd=ROOT)
    print(f"store ready in {time.perf_counter() - build:.1f} s: {args.workdir / 'store'}")

    config = load(args.workdir / "config.toml")
    clock = FakeClock(NOW)
    opened = time.perf_counter()
    app = App.open(config, clock)
    print(f"open + load + plan: {(time.perf_counter() - opened) * 1000:.0f} ms; "
          f"{len(app.store.all_tasks())} tasks, "
          f"{sum(len(t.checkins) for t in app.store.all_tasks())} check-ins, "
          f"ledger {app.store.ledger_path().stat().st_size / 1e6:.1f} MB")
    heads = [u.head for u in config.org.units.values()]

    def say(person: str, text: str) -> str:
        clock.advance(timedelta(milliseconds=1))
        return app.handle(Inbound("console", person, text, clock.now())).text

    print()
    report("baseline: 帮助 (same path, no store work)",
           timed(lambda: say(heads[5], "帮助"), 2000))
    samples: list[float] = []
    for i in range(2000):
        person = heads[i % len(heads)]
        samples += timed(lambda p=person: say(p, "待办"), 1)  # type: ignore[misc]
    _, todo_p99 = report("待办 (unit heads in turn)", samples)

    open_tasks = [t for t in app.store.all_tasks()
                  if t.status is Status.OPEN and config.org.assignee(t.owner)]
    checkins: list[float] = []
    for round_ in range(3):
        for task in open_tasks:
            assignee = config.org.assignee(task.owner) or ""
            start = time.perf_counter()
            reply = say(assignee, f"打卡 {task.number} 第{round_}轮")
            checkins.append(time.perf_counter() - start)
            assert reply.startswith("已记录完成"), reply
            say(assignee, f"撤销 {task.number}")
    _, write_p99 = report("打卡 (durable check-in, whole command)", checkins)

    fd, floor_path = tempfile.mkstemp(dir=args.workdir)
    line = b"x" * 299 + b"\n"

    def append() -> None:
        os.write(fd, line)
        os.fsync(fd)

    floor = report("baseline: 300-byte append + fsync", timed(append, 500))[0]
    os.close(fd)
    os.unlink(floor_path)

    stock_path = args.workdir / "stock-tinydb.json"
    stock_path.unlink(missing_ok=True)
    stock = TinyDB(stock_path, storage=JSONStorage)
    stock.table("tasks").insert_multiple(records.task_to_doc(t, 0)
                                         for t in app.store.all_tasks())
    doc = records.task_to_doc(open_tasks[0], 0)
    stock_p50 = report("baseline: stock TinyDB insert, same history",
                       timed(lambda: stock.table("tasks").insert(doc), 20))[0]
    stock.close()
    stock_path.unlink()
    app.close()

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    ours = percentiles(checkins)[0]
    print()
    print(f"check-in p50 / fsync floor p50: {ours / floor:.1f}x; "
          f"stock TinyDB insert / our check-in (p50): {stock_p50 / ours:.1f}x")
    print(f"peak RSS: {rss_mb:.0f} MB")
    verdicts = [("check-in p99 < 20 ms", write_p99 < 20), ("待办 p99 < 10 ms", todo_p99 < 10),
                ("RSS < 100 MB", rss_mb < 100)]
    print("targets: " + "; ".join(f"{name}: {'met' if ok else 'MISSED'}"
                                  for name, ok in verdicts))


if __name__ == "__main__":
    main()
