"""`dutybot simulate` of a year at bureau scale (issue 14, SPEC §9: ≤ 10× the json floor).

    python -m bench.bench_simulate [--workdir DIR] [--runs 7] [--tree DIR …]

The bureau store of `bench.bureau` (300 people, 40 units, the full catalogue, 3 years of
history up to 2026-11-26) is built once if it is not there, then copied with its config
into a folder of this run's own and brought up to date by one `chat` command (as
`bench_sizes` does). Each run is a pair, in the same order every time: the json floor
(`bench.bureau.json_floor`: read and `json.loads` every store file and ledger line, in this
process, median of 3), then `dutybot simulate --from 2026-11-27 --to 2027-11-26 --format
jsonl` (the next year) in a child process, output to a file. The figure held to the target
is the command's own time in its process (from `main` being called: opening the store,
the days, printing), as in `bench_sizes`; the whole process (interpreter start and imports
too: issue 14's start-up rows) is shown beside it. Figures are medians of the runs; "paired"
is the median of each run's ratio. One day (`--to 2026-11-27`) is timed the same way: what
any preview costs before the days themselves.

`--tree DIR` (repeatable) times the command as another checkout has it (the child runs in
DIR; the store copy and the floor are the same), interleaved with this one in each run, so
before and after come from the same minutes of a shared machine; each tree's output is
checked byte for byte against this one's.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bureau import ROOT, ensure_store, json_floor

TARGET = 10.0  # SPEC §9: simulate of a year at bureau scale ≤ 10× the json floor
NOW = "2026-11-26T10:00"  # where the built history ends
YEAR = ("2026-11-27", "2027-11-26")
DAY = ("2026-11-27", "2026-11-27")


def floor_seconds(store: Path) -> float:
    samples = []
    for _ in range(3):
        start = time.perf_counter()
        json_floor(store)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


# `dutybot ARGS…` in a child that says, last on stderr, how long `main` took.
CHILD = """
import sys, time
from bot.cli import main
start = time.perf_counter()
try:
    code = main(sys.argv[1:])
finally:
    print(f"took={time.perf_counter() - start:.6f}", file=sys.stderr)
sys.exit(code)
"""


def simulate_seconds(tree: Path, config: Path, span: tuple[str, str], out: Path
                     ) -> tuple[float, float]:
    """`main`'s own seconds and the whole process's, for one simulate into `out`."""
    command = [sys.executable, "-c", CHILD, "simulate", "--from", span[0], "--to", span[1],
               "--format", "jsonl", "--config", str(config), "--now", NOW]
    with open(out, "wb") as sink:
        start = time.perf_counter()
        done = subprocess.run(command, stdout=sink, stderr=subprocess.PIPE, check=True,
                              cwd=tree)
        whole = time.perf_counter() - start
    return float(done.stderr.decode().rsplit("took=", 1)[1].split()[0]), whole


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--tree", type=Path, action="append", default=[],
                        help="another checkout to time beside this one")
    args = parser.parse_args()
    built, seconds = ensure_store(args.workdir, "bureau")
    trees = {"this tree": ROOT, **{str(t): t.resolve() for t in args.tree}}
    work = Path(tempfile.mkdtemp(prefix="bench-simulate-", dir=args.workdir))
    try:
        shutil.copytree(built, work / "bureau")
        (work / "bureau" / "store" / "dutybot.lock").unlink(missing_ok=True)
        config, store = work / "bureau" / "config.toml", work / "bureau" / "store"
        ledger_mb = (store / "ledger.jsonl").stat().st_size / 1e6
        print(f"bureau store (300 people, 40 units, 3 years; ready in {seconds:.0f} s), copied: "
              f"{len(list(store.glob('*.json')))} table files, ledger {ledger_mb:.1f} MB")
        subprocess.run([sys.executable, "-m", "bot.cli", "chat", "--as", "负责人5", "--config",
                        str(config), "--now", NOW], input="待办\n", text=True, check=True,
                       capture_output=True, cwd=ROOT)  # the store as this release keeps it
        outputs: dict[str, Path] = {}
        for name, tree in trees.items():  # warm-up, and what each tree prints
            outputs[name] = work / f"out-{len(outputs)}.jsonl"
            simulate_seconds(tree, config, YEAR, outputs[name])
        first = next(iter(outputs.values()))
        lines = first.read_bytes().count(b"\n")
        print(f"simulate {YEAR[0]} … {YEAR[1]} (--now {NOW}): {lines} messages, "
              f"{first.stat().st_size / 1e6:.2f} MB of JSONL, sha256 {digest(first)}")
        for name, out in outputs.items():
            same = out.read_bytes() == first.read_bytes()
            print(f"  {name}: output {'identical' if same else 'DIFFERS: ' + digest(out)}")
        json_floor(store)  # a warm page cache for every figure alike
        floors: list[float] = []
        timings: dict[tuple[str, str], list[tuple[float, float]]] = {
            (name, span): [] for name in trees for span in ("year", "day")}
        for _ in range(args.runs):
            floors.append(floor_seconds(store))
            for name, tree in trees.items():
                timings[name, "year"].append(
                    simulate_seconds(tree, config, YEAR, work / "year.jsonl"))
                timings[name, "day"].append(
                    simulate_seconds(tree, config, DAY, work / "day.jsonl"))
        floor = statistics.median(floors)
        print(f"\nmedians of {args.runs} runs; json floor (read + json.loads of every store "
              f"file and ledger line) {floor * 1000:.0f} ms")
        for name in trees:
            for span, label in (("year", "a year"), ("day", "a day ")):
                own = [t for t, _ in timings[name, span]]
                whole = [w for _, w in timings[name, span]]
                took, process = statistics.median(own), statistics.median(whole)
                paired = statistics.median(t / f for t, f in zip(own, floors, strict=True))
                verdict = "" if span != "year" else (
                    f"  target ≤ {TARGET:.0f}x: {'met' if paired <= TARGET else 'MISSED'}")
                print(f"  {name:<20} simulate {label} {took * 1000:6.0f} ms = {took / floor:5.1f}x"
                      f" (paired {paired:5.1f}x); whole process {process * 1000:6.0f} ms = "
                      f"{process / floor:5.1f}x{verdict}")
            loop = statistics.median(y - d for (y, _), (d, _) in zip(
                timings[name, "year"], timings[name, "day"], strict=True))
            print(f"  {name:<20} the 364 days after the first: {loop * 1000:6.0f} ms = "
                  f"{loop / floor:5.1f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
