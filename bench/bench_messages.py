"""How many messages a person gets on the heaviest morning of a year (issue 11).

    python -m bench.bench_messages [--scale example|bureau] [--year 2026] [--workdir DIR]

Runs `simulate` over a whole year on a fresh copy of the store (nothing is sent or written)
and counts messages per (person or group, channel, send time): the most any one of them
gets at one send time, on which morning and to whom, how that morning is spread, and the
year's total. Against the last landed commit it gives the "before" figures (one message
per task and stage then).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path

from bench.bureau import TZ, ensure_store
from bot import simulate
from bot.app import make_calendar
from bot.config import load

ROOT = Path(__file__).resolve().parent.parent


def config_for(scale: str, workdir: Path) -> Path:
    if scale == "example":
        folder = workdir / "bench-messages-example"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        shutil.copy(ROOT / "config.example.toml", folder / "config.toml")
        return folder / "config.toml"
    built, _ = ensure_store(workdir, scale)
    copy = workdir / f"bench-messages-{scale}"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(built, copy)
    (copy / "store" / "dutybot.lock").unlink(missing_ok=True)
    return copy / "config.toml"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", choices=("example", "bureau"), default="example")
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    config = load(config_for(args.scale, args.workdir))
    started = time.perf_counter()
    now = datetime(args.year - 1, 12, 31, 12, tzinfo=TZ)
    if args.scale == "bureau":  # its store holds three years up to 2026-11-26: preview on
        now = datetime(2026, 11, 26, 12, tzinfo=TZ)
    first = max(date(args.year, 1, 1), now.date())
    messages = list(simulate.simulate(config, first, date(args.year, 12, 31),
                                      make_calendar(config), now))
    seconds = time.perf_counter() - started
    per_send = Counter((m.at, m.recipient, m.channel) for m in messages)
    (moment, recipient, _), most = per_send.most_common(1)[0]
    busiest = Counter(m.at for m in messages).most_common(1)[0][0]
    morning = [n for (at, _, _), n in per_send.items() if at == busiest]
    spread = ", ".join(f"{k} recipient(s) × {n}" for n, k in sorted(Counter(morning).items(),
                                                                   reverse=True))
    print(f"{args.scale}: {first} – {args.year}-12-31 previewed in {seconds:.1f} s")
    print(f"messages in the year: {len(messages)} to {len({m.recipient for m in messages})} "
          "recipients")
    print(f"most to one recipient at one send time: {most} ({config.org.owner_name(recipient)}, "
          f"{moment:%Y-%m-%d %H:%M})")
    print(f"busiest send time {busiest:%Y-%m-%d %H:%M}: {sum(morning)} messages to "
          f"{len(morning)} recipients ({spread})")


if __name__ == "__main__":
    main()
