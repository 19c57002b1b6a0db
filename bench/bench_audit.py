"""`dutybot audit verify` against the json floor (SPEC §9: ≤ 3×), issue 14.

    python -m bench.bench_audit [--people 300 --units 40 --years 3] [--workdir DIR]
                                [--pairs 7] [--cache DIR] [--before TREE]

Builds a store with `bench.bureau` (in a child process, into a cache folder that later runs
reuse), copies it, and takes paired measurements, each in its own fresh child process: the
json floor (reading and `json.loads` of every store file and ledger line,
`bench.bureau.json_floor`) and `dutybot audit verify` (`bot.cli.main`, timed inside the child
after its imports, as the floor is). The figure is the median of the pairs' ratios, with the
absolute medians beside it; the whole `audit verify` process (interpreter start and imports
included) is shown for context. The order inside each pair alternates. With `--before TREE`
(a checkout of another commit, e.g. `git worktree add TREE <commit>`), each pair also times
that tree's `audit verify` on the same copy, so before and after come from the same run.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUFFIX = len(b',"hash":"') + 64 + len(b'"}')  # the hash member a line in stored form ends with


def _child(kind: str, config: Path) -> None:
    """Run in a fresh process: one figure, printed as JSON."""
    if kind == "floor":
        from bench.bureau import json_floor

        store = config.parent / "store"
        started = time.perf_counter()
        json_floor(store)
        print(json.dumps({"seconds": time.perf_counter() - started}))
        return
    from bot.cli import main

    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["audit", "verify", "--config", str(config)])
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "code": code, "said": (out.getvalue()
                                                                 + err.getvalue())[-300:]}))


def _run(kind: str, config: Path, tree: Path = ROOT) -> tuple[dict[str, object], float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bench.bench_audit", "--child", kind,
                           str(config)], cwd=tree, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    return json.loads(done.stdout.strip().splitlines()[-1]), wall


def stored_form_share(ledger: Path) -> tuple[int, int]:
    """How many lines end in the hash of the bytes before it (the stored form), of all."""
    stored = total = 0
    with open(ledger, "rb") as f:
        for raw in f:
            total += 1
            line = raw.rstrip(b"\n")
            if len(line) > SUFFIX and line.endswith(b'"}') and line[-SUFFIX:].startswith(
                    b',"hash":"'):
                body = line[:-SUFFIX] + b"}"
                if hashlib.sha256(body).hexdigest().encode() == line[-SUFFIX + 9:-2]:
                    stored += 1
    return stored, total


def build(cache: Path, people: int, units: int, years: int) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bench.bureau", str(cache), str(people), str(units),
                    str(years)], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", nargs=2, metavar=("KIND", "CONFIG"))
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--units", type=int, default=40)
    parser.add_argument("--years", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=7)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--cache", type=Path, help="where the built store is kept between runs")
    parser.add_argument("--before", type=Path, help="a checkout whose audit is timed alongside")
    args = parser.parse_args()
    if args.child:
        _child(args.child[0], Path(args.child[1]))
        return
    cache = args.cache or args.workdir / (
        f"dutybot-bench-audit-{args.people}-{args.units}-{args.years}")
    built_s = build(cache, args.people, args.units, args.years)
    mine = Path(tempfile.mkdtemp(prefix="bench-audit-", dir=args.workdir))
    try:
        shutil.copytree(cache, mine, dirs_exist_ok=True)
        (mine / "store" / "dutybot.lock").unlink(missing_ok=True)
        config, store = mine / "config.toml", mine / "store"
        ledger = store / "ledger.jsonl"
        stored, total = stored_form_share(ledger)
        files = len(list(store.glob("*.json")))
        print(f"{args.people} people, {args.units} units, {args.years} years "
              f"(store ready in {built_s:.0f} s, copied to {mine}): ledger {total} records, "
              f"{ledger.stat().st_size / 1e6:.1f} MB, {stored} in stored form; "
              f"{files} table files")
        if args.before is not None:
            (args.before / "bench").mkdir(exist_ok=True)
            shutil.copy(Path(__file__), args.before / "bench" / "bench_audit.py")
        _run("floor", config)  # a warm page cache for all alike
        kinds = ["floor", "audit"] + (["before"] if args.before is not None else [])
        seconds: dict[str, list[float]] = {kind: [] for kind in kinds}
        ratios: dict[str, list[float]] = {kind: [] for kind in kinds[1:]}
        walls: list[float] = []
        for i in range(args.pairs):
            got = {}
            for kind in kinds if i % 2 == 0 else kinds[::-1]:
                tree = args.before if kind == "before" else ROOT
                got[kind] = _run("floor" if kind == "floor" else "audit", config, tree)
            for kind in kinds:
                figure = got[kind][0]
                if figure.get("code", 0) != 0:
                    raise SystemExit(f"{kind}: audit verify failed: {figure['said']}")
                seconds[kind].append(float(str(figure["seconds"])))
            walls.append(got["audit"][1])
            floor_s = seconds["floor"][-1]
            line = f"  pair {i + 1}: floor {floor_s * 1000:7.1f} ms"
            for kind in kinds[1:]:
                ratios[kind].append(seconds[kind][-1] / floor_s)
                line += (f"  {kind} {seconds[kind][-1] * 1000:7.1f} ms = "
                         f"{ratios[kind][-1]:5.2f}x")
            print(line + f"  (audit's whole process {walls[-1] * 1000:.0f} ms)")
        median = statistics.median
        print(f"json floor {median(seconds['floor']) * 1000:.1f} ms; whole audit process "
              f"{median(walls) * 1000:.0f} ms")
        for kind in kinds[1:]:
            print(f"{kind:>6}: audit verify {median(seconds[kind]) * 1000:.1f} ms; median of "
                  f"ratios {median(ratios[kind]):.2f}x (range {min(ratios[kind]):.2f}–"
                  f"{max(ratios[kind]):.2f}x; target ≤ 3x)")
    finally:
        shutil.rmtree(mine, ignore_errors=True)


if __name__ == "__main__":
    main()
