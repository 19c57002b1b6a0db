"""Build a synthetic bureau (SPEC §9) and a store holding years of its history.

Used by the benchmarks; not part of the product. The duty catalogue is the example
bureau's, so the scale figures are for the full §4 catalogue.
"""

from __future__ import annotations

import gc
import json
import random
import statistics
import time as timer
import tomllib
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.app import App
from bot.clock import FakeClock
from bot.config import Config, load
from bot.delivery import Deliverer
from handlers.messages import Reply
from schedules.tasks import Status
from storage.tinydb_store import TinyDBStore

ROOT = Path(__file__).resolve().parent.parent
TZ = ZoneInfo("Asia/Shanghai")
CORE_UNITS = [  # ids the example catalogue refers to by name
    ("party-group", "局党组", "party-group"),
    ("party-committee", "机关党委", "party-committee"),
    ("discipline", "机关纪委", "discipline-committee"),
    ("office", "办公室", "office"),
]


def _toml_value(value: object) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return str(value)


def write_config(folder: Path, people: int, units: int) -> Path:
    """A config with `people` people and `units` units (4 core units, the rest split between
    offices and branches 1:3), 5 leaders, and the example's duty catalogue."""
    example = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    rng = random.Random(people * 1000 + units)
    leaders = [f"leader-{i}" for i in range(5)]
    extra = units - len(CORE_UNITS)
    offices = extra // 4
    unit_rows = [(uid, name, kind) for uid, name, kind in CORE_UNITS]
    unit_rows += [(f"office-{i}", f"第{i + 1}科室", "office") for i in range(offices)]
    unit_rows += [(f"branch-{i}", f"第{i + 1}党支部", "branch") for i in range(extra - offices)]
    heads = {uid: f"head-{i}" for i, (uid, _, _) in enumerate(unit_rows) if i}
    heads["party-group"] = leaders[0]
    everyone: list[dict[str, object]] = []
    for i, pid in enumerate(leaders):
        roles = ["party-secretary", "leader"] if i == 0 else ["leader"]
        everyone.append({"id": pid, "name": f"领导{i}", "roles": roles, "units": ["party-group"],
                         "wecom_userid": f"L{i}"})
    for i, (uid, _, _) in enumerate(unit_rows[1:], start=1):
        everyone.append({"id": heads[uid], "name": f"负责人{i}", "units": [uid],
                         "wecom_userid": f"H{i}"})
    for i in range(people - len(everyone)):
        uid = unit_rows[1 + rng.randrange(len(unit_rows) - 1)][0]
        entry: dict[str, object] = {"id": f"member-{i}", "name": f"党员{i}", "units": [uid]}
        if i == 0:
            entry["roles"] = ["admin"]
        everyone.append(entry)
    lines = ['[bureau]', 'name = "基准测试局"', '', '[store]', 'path = "store"', '']
    for person in everyone:
        lines.append("[[people]]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in person.items()]
        lines.append("")
    for i, (uid, name, kind) in enumerate(unit_rows):
        lines += ["[[units]]", f'id = "{uid}"', f'name = "{name}"', f'kind = "{kind}"',
                  f'head = "{heads[uid]}"']
        if uid != "party-group":
            lines.append(f'supervisor = "{leaders[1 + i % 4]}"')
        lines.append("")
    for duty in example["duties"]:
        lines.append("[[duties]]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in duty.items()]
        lines.append("")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


class BulkStore(TinyDBStore):
    """Builds history fast: every change is still committed to the ledger, but the month
    files are written once at the end instead of after each change (benchmark set-up only;
    the measurements reopen the store from disk as the bot would)."""

    bulk = True

    def _persist(self) -> None:
        if not self.bulk:
            super()._persist()

    def flush(self) -> None:
        self.bulk = False
        self._persist()

    def task_keys(self) -> set[str]:
        return set(self._tasks)

    def task_count(self) -> int:
        return len(self._tasks)


class NullChannel:
    name = "console"

    def reaches(self, recipient: str, group: bool) -> bool:
        return True

    def send(self, recipient: str, group: bool, reply: Reply) -> None:
        pass


def build_history(config: Config, start: date, now: datetime, done_share: float = 0.95,
                  reminders: bool = True) -> int:
    """Live through from `start` to `now`: tasks open as their periods begin, most are
    checked in a few days before their deadline, and (with `reminders`) the reminder pass
    runs every morning, so the outbox holds years of sent messages. Returns check-ins."""
    rng = random.Random(7)
    clock = FakeClock(datetime.combine(start, time(8), TZ))
    store = BulkStore.open(config.store_path, clock.now())
    app = App(config, store, clock)
    deliverer = Deliverer(app, {"console": NullChannel()}, defer_unreached=False)
    due_on: dict[date, list[str]] = defaultdict(list)  # the day each task gets checked in
    seen: set[str] = set()
    count = 0
    try:
        day = start
        while day < now.date():
            clock.set(datetime.combine(day, time(9), TZ))
            if reminders:
                deliverer.run_pass(clock.now())
            else:
                app.refresh(clock.now())
            if store.task_count() != len(seen):
                keys = store.task_keys()
                for key in sorted(keys - seen):  # opened today
                    task = store.task(key)
                    if task is not None and rng.random() <= done_share:
                        offset = timedelta(days=rng.randint(0, 20))
                        due_on[max(day, task.due - offset)].append(key)
                seen = keys
            for key in due_on.pop(day, []):
                task = store.task(key)
                if task is None or task.status is not Status.OPEN:
                    continue
                assignee = config.org.assignee(task.owner) or "unknown"
                store.check_in(key, assignee, clock.now() + timedelta(hours=6),
                               f"已完成，参会{rng.randint(5, 40)}人", "wecom")
                count += 1
            day += timedelta(days=1)
        store.flush()
    finally:
        store.close()
    return count


def bureau(folder: Path, people: int, units: int, years: int, now: datetime,
           reminders: bool = True) -> Config:
    config = load(write_config(folder, people, units))
    if not (config.store_path / "meta.json").exists():
        build_history(config, date(now.year - years, now.month, 1), now, reminders=reminders)
    return config


# The shared benchmark stores: people, units, years, and whether the reminder pass ran every
# morning while they were built (the city's history is built without it: too slow).
SCALES = {"bureau": (300, 40, 3, True), "city": (20000, 2000, 3, False)}


def ensure_store(workdir: Path, scale: str) -> tuple[Path, float]:
    """A private copy of a scale's store (built once, in a child process, into a cache
    folder under `workdir`), so no benchmark changes what another measures; removed when
    the process ends. And the seconds the build (or the check that it was built) took."""
    import atexit
    import shutil
    import subprocess
    import sys
    import tempfile
    import time

    people, units, years, history = SCALES[scale]
    cache = workdir / f"dutybot-bench-{scale}"
    started = time.perf_counter()
    command = [sys.executable, "-m", "bench.bureau", str(cache), str(people), str(units),
               str(years)] + ([] if history else ["--no-reminders"])
    subprocess.run(command, check=True, cwd=ROOT)
    built = time.perf_counter() - started
    mine = Path(tempfile.mkdtemp(prefix=f"dutybot-bench-{scale}-", dir=workdir))
    shutil.copytree(cache, mine, dirs_exist_ok=True)  # the config names the store relatively
    atexit.register(shutil.rmtree, mine, ignore_errors=True)
    return mine, built


if __name__ == "__main__":  # python -m bench.bureau FOLDER PEOPLE UNITS YEARS [--no-reminders]
    import sys

    folder, people, units, years = Path(sys.argv[1]), *map(int, sys.argv[2:5])
    bureau(folder, people, units, years, datetime(2026, 11, 26, 10, tzinfo=TZ),
           reminders="--no-reminders" not in sys.argv)


def json_floor(folder: Path) -> None:
    """The floor opening and audits are measured against: read and `json.loads` every store
    file and every ledger line."""
    for path in sorted(folder.glob("*.json")):
        json.loads(path.read_bytes())
    with open(folder / "ledger.jsonl", "rb") as f:
        for line in f:
            json.loads(line)


def median_seconds(action: Callable[[], object], repeat: int = 5) -> float:
    samples = []
    for _ in range(repeat):
        gc.collect()
        start = timer.perf_counter()
        action()
        samples.append(timer.perf_counter() - start)
    return statistics.median(samples)
