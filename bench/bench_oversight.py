"""The leaders' view (SPEC §9, issue 6): `总览` at bureau scale, and `dutybot report --year` at
bureau and city scale, with peak RSS.

    python -m bench.bench_oversight [--workdir DIR] [--skip-city]

Stores are built as in `bench.bench_reminders` (and shared with it: same folders). Each
measurement runs in a fresh process on the store, so peak RSS is that of the command alone.
Baseline measured in the same run: `帮助` through the same dispatch path (no store work) for
`总览`; for the report, reading every task of the store (what any report must do at least).
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
from datetime import date, datetime
from pathlib import Path

from bench.bureau import ROOT, SCALES, TZ, ensure_store
from bot.app import App
from bot.clock import FakeClock
from bot.config import load
from bot.report import Report, Span
from handlers.messages import Inbound

NOW = datetime(2026, 11, 26, 10, tzinfo=TZ)
YEAR = 2025  # the last whole year of the three lived through


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def measure_overview(folder: Path) -> dict[str, float]:
    config = load(folder / "config.toml")
    app = App.open(config, FakeClock(NOW), read_only=True)
    org = app.org
    secretary = next(p.id for p in org.people.values() if "party-secretary" in p.roles)
    leader = next(p.id for p in org.people.values()
                  if "leader" in p.roles and p.id != secretary)

    def timed(sender: str, text: str, n: int) -> list[float]:
        samples = []
        for _ in range(n):
            message = Inbound(channel="console", sender=sender, text=text, received_at=NOW)
            start = time.perf_counter()
            reply = app.dispatcher.handle(message)
            samples.append(time.perf_counter() - start)
            assert reply.text, "every command answers"
        return samples

    figures = {}
    for label, sender, text in [("help", secretary, "帮助"), ("all", secretary, "总览"),
                                ("leader", leader, "总览"), ("past", secretary, "总览 2025-H1"),
                                ("overdue", secretary, "逾期")]:
        samples = timed(sender, text, 500)
        figures[f"{label}_p50"] = statistics.median(samples) * 1000
        figures[f"{label}_p99"] = pct(samples, 0.99)
    figures["units"] = len(org.units)
    figures["tasks"] = len(app.store.all_tasks())
    app.close()
    return figures


def measure_report(folder: Path, out: Path) -> dict[str, float]:
    config = load(folder / "config.toml")
    start = time.perf_counter()
    app = App.open(config, FakeClock(NOW), read_only=True)
    opened = time.perf_counter() - start
    start = time.perf_counter()
    every = app.store.all_tasks()
    in_year = sum(date(YEAR, 1, 1) <= t.due <= date(YEAR, 12, 31) for t in every)
    baseline = time.perf_counter() - start
    start = time.perf_counter()
    made = Report(app.org, app.store, app.calendar, Span.of(YEAR, None), NOW.date()).write(out)
    written = time.perf_counter() - start
    assert made.tasks == in_year
    app.close()
    return {"open_s": opened, "report_s": written, "baseline_s": baseline,
            "tasks": made.tasks, "checkins": made.checkins, "bytes": out.stat().st_size,
            "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child(*args: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-m", "bench.bench_oversight", *args], check=True,
                         cwd=ROOT, capture_output=True, text=True)
    result: dict[str, float] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--skip-city", action="store_true")
    parser.add_argument("--overview", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.overview:
        print(json.dumps(measure_overview(args.overview)))
        return
    if args.report:
        print(json.dumps(measure_report(*args.report)))
        return
    for scale, (people, units, years, _) in SCALES.items():
        if scale == "city" and args.skip_city:
            continue
        folder, built = ensure_store(args.workdir, scale)
        print(f"{scale}: {people} people, {units} units, {years} years; store ready in "
              f"{built:.0f} s")
        if scale == "bureau":
            f = child("--overview", str(folder))
            print(f"  {f['tasks']:.0f} tasks, {f['units']:.0f} units")
            for key, label in [("help", "baseline: 帮助 (same path)"),
                               ("all", "总览 (party secretary: every unit)"),
                               ("leader", "总览 (a supervising leader)"),
                               ("past", "总览 2025-H1 (a past half-year)"),
                               ("overdue", "逾期 (party secretary)")]:
                print(f"  {label:<38} p50 {f[key + '_p50']:7.3f} ms   "
                      f"p99 {f[key + '_p99']:7.3f} ms   (n=500)")
            verdict = "met" if f["all_p99"] < 50 else "MISSED"
            print(f"  target 总览 p99 < 50 ms: {verdict}")
        with tempfile.TemporaryDirectory(dir=args.workdir) as work:
            r = child("--report", str(folder), str(Path(work) / "report.xlsx"))
        print(f"  report --year {YEAR}: {r['tasks']:.0f} tasks, {r['checkins']:.0f} check-ins "
              f"→ {r['bytes'] / 1e6:.1f} MB xlsx in {r['report_s']:.2f} s "
              f"(+ {r['open_s']:.2f} s opening the store); baseline, listing the year's "
              f"tasks: {r['baseline_s'] * 1000:.0f} ms; peak RSS {r['rss_mb']:.0f} MB")
        if scale == "city":
            total = r["report_s"] + r["open_s"]
            print(f"  target < 10 s at city scale (whole command): "
                  f"{'met' if total < 10 else 'MISSED'} ({total:.1f} s)")


if __name__ == "__main__":
    main()
