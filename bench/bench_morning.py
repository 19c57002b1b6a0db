"""The 09:00 pass on a store whose history was built without reminder passes (SPEC §9,
issue 14): the bot's first morning after months down, the worst case for what a pass
records of the reminders it missed.

    python -m bench.bench_morning [--people 2000] [--runs 3]

Each figure in its own child process, on its own copy of the store (`bench_sizes`'s, built
once and shared with it: its 2,000 and 20,000 people were built without passes):
- the backlog morning: the 09:00 pass of Monday 2026-11-30, the first pass the store has
  seen: it plans, records what it skips, escalates and sends that morning's messages;
- its floor, the pass's own sending: the same Monday pass on a copy whose backlog a pass on
  the Friday before already recorded — what the morning costs with nothing left behind;
- the ledger's growth in the backlog morning, in bytes and records.
Each time is the median of `runs` paired runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench.bench_sizes import build
from bench.bureau import ROOT, TZ, NullChannel

MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=TZ)
FRIDAY = datetime(2026, 11, 27, 9, 0, tzinfo=TZ)
SIZES = (2000, 20000)  # bench_sizes' stores whose history was built without passes
TARGET_RATIO, TARGET_GROWTH = 3.0, 0.02


def measure(folder: Path, before: bool) -> dict[str, float]:
    """The Monday pass in this process (after a Friday pass first, with `before`)."""
    from bot.app import App
    from bot.clock import FakeClock
    from bot.config import load
    from bot.delivery import Deliverer

    config = load(folder / "config.toml")
    clock = FakeClock(FRIDAY if before else MONDAY)
    app = App.open(config, clock)
    deliverer = Deliverer(app, {"console": NullChannel()}, defer_unreached=False)
    if before:
        deliverer.run_pass(FRIDAY)
        clock.set(MONDAY)
    ledger = app.store.ledger_path()
    size, records = ledger.stat().st_size, app.store.records()
    start = time.perf_counter()
    result = deliverer.run_pass(MONDAY)
    seconds = time.perf_counter() - start
    grown, added = ledger.stat().st_size - size, app.store.records() - records
    app.close()
    return {"seconds": seconds, "sent": result.sent, "skipped": result.skipped,
            "ledger_before": size, "ledger_grown": grown, "records_added": added}


def child(cache: Path, workdir: Path, before: bool) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="morning-", dir=workdir))
    try:
        shutil.copytree(cache, work, dirs_exist_ok=True)
        done = subprocess.run([sys.executable, "-m", "bench.bench_morning", "--measure",
                               str(work), *(["--before"] if before else [])],
                              check=True, cwd=ROOT, capture_output=True, text=True)
        figures: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
        return figures
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--people", type=int, default=2000, choices=SIZES)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--before", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.before)))
        return
    cache, built = build(args.workdir, args.people)
    print(f"{args.people} people, 3 years without reminder passes: store ready in "
          f"{built:.0f} s", flush=True)
    backlog, floor = [], []
    for _ in range(args.runs):
        floor.append(child(cache, args.workdir, before=True))
        backlog.append(child(cache, args.workdir, before=False))
    b = statistics.median(r["seconds"] for r in backlog)
    f = statistics.median(r["seconds"] for r in floor)
    first = backlog[0]
    growth = first["ledger_grown"] / first["ledger_before"]
    print(f"backlog morning: {b:.2f} s, {first['sent']:.0f} sent, {first['skipped']:.0f} "
          f"missed stages skipped; ledger {first['ledger_before'] / 1e6:.1f} MB "
          f"+ {first['ledger_grown'] / 1e6:.2f} MB ({growth:.1%}) in "
          f"{first['records_added']:.0f} records")
    print(f"floor (the same Monday with nothing left behind): {f:.2f} s, "
          f"{floor[0]['sent']:.0f} sent")
    ratio = b / f
    print(f"ratio {ratio:.1f}× (target ≤ {TARGET_RATIO:.0f}×: "
          f"{'met' if ratio <= TARGET_RATIO else 'MISSED'}); ledger growth {growth:.1%} "
          f"(target ≤ {TARGET_GROWTH:.0%}: {'met' if growth <= TARGET_GROWTH else 'MISSED'})")


if __name__ == "__main__":
    main()
