"""Reminder pass benchmark (SPEC §9): p50/p99 of the minute pass on the TinyDB store, at
bureau scale (3 years of history, reminders included) and city scale, with peak RSS.

    python -m bench.bench_reminders [--workdir DIR] [--skip-city]

Each scale is measured in a fresh child process (so RSS is that of a bot holding that
store). Per scale: opening the store; the 09:00 pass of a working day (plans, writes and
delivers that morning's messages through a null channel); then 300 passes in the minutes
after it, when nothing new is due — what the bot does all day. Baseline in the same
process: listing the open tasks from the store, the least any pass must do.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from bench.bureau import ROOT, SCALES, TZ, NullChannel, ensure_store
from bot.app import App
from bot.clock import FakeClock
from bot.config import load
from bot.delivery import Deliverer
from schedules.tasks import Status

MORNING = datetime(2026, 11, 30, 9, 0, tzinfo=TZ)  # Monday: a deadline, digests


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def measure(folder: Path) -> dict[str, float]:
    config = load(folder / "config.toml")
    clock = FakeClock(MORNING)
    start = time.perf_counter()
    app = App.open(config, clock)
    opened = time.perf_counter() - start
    deliverer = Deliverer(app, {"console": NullChannel()}, defer_unreached=False)
    start = time.perf_counter()
    morning = deliverer.run_pass(MORNING)
    morning_s = time.perf_counter() - start
    steady: list[float] = []
    baseline: list[float] = []
    for minute in range(1, 301):
        now = MORNING + timedelta(minutes=minute)
        start = time.perf_counter()
        result = deliverer.run_pass(now)
        steady.append(time.perf_counter() - start)
        assert result.sent == 0, "nothing new should be due in the minutes after 09:00"
        start = time.perf_counter()
        app.store.open_tasks()
        baseline.append(time.perf_counter() - start)
    tasks = app.store.all_tasks()
    figures = {
        "tasks": len(tasks),
        "open": sum(t.status is Status.OPEN for t in tasks),
        "outbox": len(app.store.deliveries()),
        "open_s": opened,
        "morning_s": morning_s,
        "morning_messages": morning.sent,
        "p50_ms": statistics.median(steady) * 1000,
        "p99_ms": pct(steady, 0.99),
        "baseline_p50_ms": statistics.median(baseline) * 1000,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    app.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--skip-city", action="store_true")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return
    for scale, (people, units, years, history) in SCALES.items():
        if scale == "city" and args.skip_city:
            continue
        folder, built = ensure_store(args.workdir, scale)
        print(f"{scale}: {people} people, {units} units, {years} years "
              f"({'with' if history else 'without'} reminder history); store ready in "
              f"{built:.0f} s")
        # A copy per run, so the measured morning is the same each time.
        work = Path(tempfile.mkdtemp(dir=args.workdir))
        subprocess.run(["cp", "-a", f"{folder}/.", str(work)], check=True)
        out = subprocess.run([sys.executable, "-m", "bench.bench_reminders", "--measure",
                              str(work)], check=True, cwd=ROOT, capture_output=True, text=True)
        subprocess.run(["rm", "-rf", str(work)], check=True)
        f = json.loads(out.stdout)
        print(f"  {f['tasks']:.0f} tasks ({f['open']:.0f} open), {f['outbox']:.0f} outbox "
              f"entries; open + load + plan {f['open_s']:.2f} s")
        print(f"  09:00 pass: {f['morning_messages']:.0f} messages planned, written and "
              f"delivered in {f['morning_s'] * 1000:.0f} ms")
        print(f"  minute pass: p50 {f['p50_ms']:.2f} ms, p99 {f['p99_ms']:.2f} ms "
              f"(baseline, listing open tasks: p50 {f['baseline_p50_ms']:.2f} ms; "
              f"ratio {f['p50_ms'] / f['baseline_p50_ms']:.1f}x)")
        verdict = "met" if f["p99_ms"] < 100 else "MISSED"
        print(f"  peak RSS {f['rss_mb']:.0f} MB; target p99 < 100 ms"
              f"{' (bureau scale)' if scale == 'bureau' else ''}: "
              f"{verdict if scale == 'bureau' else 'reported only'}")


if __name__ == "__main__":
    main()
