"""Start-up of the everyday commands (issue 14, SPEC §9): each whole process, as an admin runs
it, against the venv's interpreter started with nothing to do, measured in pairs in the
same run.

    python -m bench.bench_startup [--runs 15]

Figures: `printf '待办\\n' | dutybot chat`, `dutybot --help`, `dutybot check`, each on the
example bureau in a temporary folder (its own store), the median of `runs` paired runs,
each ÷ the median of `python -c pass` (floor) run just before it.
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

from bench.bureau import ROOT

TARGET = 15.0  # issue 14: ≤ 15× `python -c pass`


def seconds(argv: list[str], stdin: str = "", cwd: Path | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(argv, input=stdin, text=True, capture_output=True, check=True, cwd=cwd)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    try:
        config = work / "config.toml"
        shutil.copy(ROOT / "config.example.toml", config)
        dutybot = [sys.executable, "-m", "bot.cli"]
        commands = {
            "printf '待办\\n' | dutybot chat": ([*dutybot, "chat", "--config", str(config)],
                                               "待办\n"),
            "dutybot --help": ([*dutybot, "--help"], ""),
            "dutybot check": ([*dutybot, "check", "--config", str(config)], ""),
        }
        seconds(commands["dutybot check"][0], cwd=ROOT)  # the store exists, caches warm
        print(f"whole processes, median of {args.runs} paired runs "
              f"(floor: {Path(sys.executable).name} -c pass)")
        for name, (argv, stdin) in commands.items():
            floor, took = [], []
            for _ in range(args.runs):
                floor.append(seconds([sys.executable, "-c", "pass"]))
                took.append(seconds(argv, stdin, cwd=ROOT))
            f, t = statistics.median(floor), statistics.median(took)
            verdict = "met" if t / f <= TARGET else "MISSED"
            print(f"  {name:<32} {t * 1000:7.0f} ms  floor {f * 1000:5.1f} ms  = {t / f:5.1f}x"
                  f"  (target ≤ {TARGET:.0f}x: {verdict})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
