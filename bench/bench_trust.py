"""What checking the record costs (issue 10): opening the store, `audit verify` and a durable
check-in, each as a ratio to a floor measured in the same run (SPEC §9).

    python -m bench.bench_trust [--scale bureau|city] [--workdir DIR] [--repeat N]

The store is built once (`bench.bureau`) and each figure is taken on a fresh copy of it.
Floors: the "json floor" (reading and `json.loads` of every store file and ledger line) for
opening and auditing; one 300-byte append + fsync for a check-in. Opening now checks every
field's type and every record's shape and time order; the audit compares each file with
the ledger as of the record the file reflects, outbox and meta included.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from bench.bureau import TZ, ensure_store, json_floor, median_seconds
from schedules.tasks import Status
from storage.audit import verify
from storage.tinydb_store import TinyDBStore

NOW = datetime(2026, 11, 26, 10, tzinfo=TZ)


def copy_of(store: Path, workdir: Path, name: str) -> Path:
    target = workdir / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(store, target)
    (target / "dutybot.lock").unlink(missing_ok=True)
    return target


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", choices=("bureau", "city"), default="bureau")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    built, seconds = ensure_store(args.workdir, args.scale)
    store = built / "store"  # where the builder's config keeps it
    print(f"{args.scale} store ready in {seconds:.0f} s: {store}")
    ledger_mb = (store / "ledger.jsonl").stat().st_size / 1e6
    files = len(list(store.glob("*.json")))
    print(f"ledger {ledger_mb:.1f} MB, {files} table files")

    folder = copy_of(store, args.workdir, f"bench-trust-{args.scale}")
    json_floor(folder)  # the page cache is warm for every figure alike
    floor = median_seconds(lambda: json_floor(folder), args.repeat)
    opened = median_seconds(
        lambda: TinyDBStore.open(folder, NOW, read_only=True).close(), args.repeat)
    audited = median_seconds(lambda: verify(folder), args.repeat)
    result = verify(folder)
    assert result.intact, result

    writable = copy_of(store, args.workdir, f"bench-trust-{args.scale}-w")
    live = TinyDBStore.open(writable, NOW)
    candidates = [t for t in live.all_tasks() if t.status is Status.OPEN][:300]
    last = (writable / "ledger.jsonl").read_bytes().rstrip(b"\n").rsplit(b"\n", 1)[-1]
    moment = max(NOW, datetime.fromisoformat(json.loads(last)["at"]))  # writes go forward
    checkins = []
    for task in candidates:
        moment += timedelta(milliseconds=5)
        start = time.perf_counter()
        live.check_in(task.key, "bench", moment, "已召开", "console")
        checkins.append(time.perf_counter() - start)
    live.close()
    fd, path = tempfile.mkstemp(dir=args.workdir)
    line = b"x" * 299 + b"\n"
    appends = []
    for _ in range(300):
        start = time.perf_counter()
        os.write(fd, line)
        os.fsync(fd)
        appends.append(time.perf_counter() - start)
    os.close(fd)
    os.unlink(path)
    checkin_p50 = statistics.median(checkins)
    append_p50 = statistics.median(appends)
    checkin_p99 = sorted(checkins)[int(0.99 * (len(checkins) - 1))]

    print()
    print(f"json floor (read + json.loads of every file and ledger line): {floor * 1000:8.1f} ms")
    print(f"open (read-only: load, verify the chain, replay):   {opened * 1000:8.1f} ms"
          f"  = {opened / floor:4.2f}x the json floor")
    print(f"audit verify:                                       {audited * 1000:8.1f} ms"
          f"  = {audited / floor:4.2f}x the json floor")
    print(f"300-byte append + fsync p50:                        {append_p50 * 1000:8.3f} ms")
    print(f"durable check-in (store) p50 {checkin_p50 * 1000:.3f} ms, "
          f"p99 {checkin_p99 * 1000:.3f} ms  = {checkin_p50 / append_p50:4.1f}x the fsync floor")
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(writable, ignore_errors=True)


if __name__ == "__main__":
    main()
