"""Issue 14's table at every size (SPEC §9): whole `dutybot` processes on stores of 300, 2,000
and 20,000 people, each figure a ratio to a floor measured in the same run beside it.

    python -m bench.bench_sizes [--sizes 300 2000 20000] [--runs 3] [--rows audit report]

For each size a store is built once (3 years of history; the reminder pass ran every morning
for 300 people only — building a city's mornings takes too long) and copied for each figure.
Rows:

- `chat` answering one command (`待办` from a unit head): the command's own time in its
  process (from `main` being called: opening the store, catching up, answering) ÷ the json
  floor (reading and `json.loads` of every store file and ledger line, in-process);
- `simulate` of a month, ÷ the json floor;
- `audit verify`, ÷ the json floor;
- `report --year`, ÷ the json floor, with its peak RSS;
- peak RSS of `chat` (target at city size ≤ 400 MB).

Each figure is the median of `runs` paired runs (floor, then the command); the ratio is the
median of the runs' own ratios.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bureau import ROOT, json_floor

SIZES = {300: 40, 2000: 200, 20000: 2000}  # people → units
YEARS = 3
NOW = "2026-11-26T10:00"
TARGETS = {"chat": 2.0, "simulate": 10.0, "audit": 3.0, "report": 4.0}


def build(workdir: Path, people: int) -> tuple[Path, float]:
    folder = workdir / f"dutybot-sizes-{people}"
    started = time.perf_counter()
    command = [sys.executable, "-m", "bench.bureau", str(folder), str(people),
               str(SIZES[people]), str(YEARS)] + ([] if people <= 300 else ["--no-reminders"])
    subprocess.run(command, check=True, cwd=ROOT)
    return folder, time.perf_counter() - started


# `dutybot ARGS…` in a child that says, last on stderr, how long `main` took (the command's
# own work: the interpreter's start and the imports are issue 14's start-up rows, measured
# by bench_startup) and its peak RSS, with that of the process it forked, if any (`audit
# verify` of a large store checks half the keys in a child at the same time: their sum is
# what the machine held at most). `bot.cli` imports the bot itself (`bot.app`, the runner)
# only in the commands that open the store: imported here before the clock starts.
CHILD = """
import resource, sys, time
from bot.cli import main
import bot.app, bot.runner
start = time.perf_counter()
try:
    code = main(sys.argv[1:])
finally:
    peak = sum(resource.getrusage(who).ru_maxrss
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    print(f"took={time.perf_counter() - start:.6f} rss_mb={peak / 1024:.0f}", file=sys.stderr)
sys.exit(code)
"""


def whole(args: list[str], stdin: str = "") -> tuple[float, float]:
    """Seconds `dutybot ARGS` took in its own process, and that process's peak RSS (MB)."""
    done = subprocess.run([sys.executable, "-c", CHILD, *args], input=stdin, text=True,
                          capture_output=True, check=True, cwd=ROOT)
    said = done.stderr.rsplit("took=", 1)[1].split()
    return float(said[0]), float(said[1].removeprefix("rss_mb="))


def floor_seconds(store: Path) -> float:
    start = time.perf_counter()
    json_floor(store)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 2000])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", nargs="+", choices=sorted(TARGETS), default=list(TARGETS),
                        help="only these rows (default: all)")
    args = parser.parse_args()
    rows: list[str] = []
    for people in args.sizes:
        cache, built = build(args.workdir, people)
        print(f"{people} people, {SIZES[people]} units, {YEARS} years: store ready in "
              f"{built:.0f} s", flush=True)
        work = Path(tempfile.mkdtemp(prefix=f"sizes-{people}-", dir=args.workdir))
        try:
            shutil.copytree(cache, work, dirs_exist_ok=True)
            config, store = work / "config.toml", work / "store"
            common = ["--config", str(config), "--now", NOW]
            out = work / "report.xlsx"
            commands = {
                "chat": (["chat", "--as", "负责人5", *common], "待办\n"),
                "simulate": (["simulate", "--from", "2026-12-01", "--to", "2026-12-31",
                              "--format", "jsonl", *common], ""),
                "audit": (["audit", "verify", "--config", str(config)], ""),
                "report": (["report", "--year", "2025", "--out", str(out), *common], ""),
            }
            whole(commands["chat"][0], commands["chat"][1])  # caches warm, store caught up
            for name in args.rows:
                argv, stdin = commands[name]
                floors, took, rss = [], [], 0.0
                for _ in range(args.runs):
                    floors.append(floor_seconds(store))
                    seconds, peak = whole(argv, stdin)
                    took.append(seconds)
                    rss = max(rss, peak)
                f, t = statistics.median(floors), statistics.median(took)
                # Each run's own ratio, then their median: the floor beside each command
                # moves with the machine's load as the command does.
                ratio = statistics.median(c / fl for c, fl in zip(took, floors, strict=True))
                verdict = "met" if ratio <= TARGETS[name] else "MISSED"
                line = (f"| {name} | {people:,} | {t:.2f} s | {f:.3f} s | **{ratio:.1f}×** | "
                        f"≤ {TARGETS[name]:.0f}× ({verdict}) | {rss:.0f} MB |")
                rows.append(line)
                print(line, flush=True)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print("| what | people | took | json floor | ratio | target | peak RSS |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
