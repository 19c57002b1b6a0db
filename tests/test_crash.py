"""Kill -9 at random points during a stream of check-ins and the folds that bring the month
files up to the ledger: the store always loads, every check-in that was acknowledged is
there (for a reader beside the bot too), and `audit verify` straight after the kill finds
the record intact (a lagging file is not tampering)."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from schedules.tasks import PlannedTask, Status
from storage import checkpoint
from storage.audit import verify
from storage.tinydb_store import TinyDBStore
from tests.builders import ROOT, at

TASKS = 400

WORKER = """
import sys
from datetime import timedelta
from pathlib import Path
from schedules.tasks import Status
from storage.tinydb_store import TinyDBStore
from tests.builders import at

now = at("2026-11-26 10:00")
store = TinyDBStore.open(Path(sys.argv[1]), now)
store.checkpoint_every = int(sys.argv[2])
for task in store.all_tasks():
    if task.status is Status.OPEN:
        store.check_in(task.key, "p", now, f"note {task.number}", "console",
                       source=f"console:{task.number}")
        print(task.number, flush=True)  # the acknowledgement: sent only after the write
        if task.number % 3 == 0:
            store.fold()  # as the minute pass does: a kill may land in the middle of one
"""


@pytest.mark.parametrize("every", [checkpoint.EVERY, 1], ids=["rare", "every-fold"])
def test_acknowledged_check_ins_survive_sigkill(tmp_path: Path, every: int) -> None:
    """With a checkpoint at every fold, a kill also lands between the files and the
    checkpoint, and in the checkpoint's own write: opening never trusts one the ledger and
    the files do not bear out, and never loses what follows it."""
    folder = tmp_path / "store"
    store = TinyDBStore.open(folder, at("2026-11-26 09:00"))
    store.add_tasks([PlannedTask(f"d{i}:u:2026-11", f"d{i}", "u", "2026-11", date(2026, 11, 30))
                     for i in range(TASKS)], at("2026-11-26 09:00"))
    store.close()
    rng = random.Random(20261126)
    acknowledged: set[int] = set()
    kills = from_checkpoint = 0
    while len(acknowledged) < TASKS - 40 and kills < 40:
        wanted = rng.randint(0, 12)
        with subprocess.Popen([sys.executable, "-c", WORKER, str(folder), str(every)], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True) as worker:
            assert worker.stdout is not None
            for _ in range(wanted):
                line = worker.stdout.readline()
                if not line:
                    break
                acknowledged.add(int(line))
            worker.kill()  # SIGKILL, mid-write more often than not
        kills += 1
        audit = verify(folder)  # before anything repairs the store
        assert audit.intact, f"audit after kill {kills} reported {audit}"
        reader = TinyDBStore.open(folder, at("2026-11-26 11:00"), read_only=True)
        seen = {t.number for t in reader.all_tasks() if t.status is Status.DONE}
        assert acknowledged <= seen, f"a reader missed {sorted(acknowledged - seen)}"

        reopened = TinyDBStore.open(folder, at("2026-11-26 11:00"))
        from_checkpoint += reopened.replayed < reopened.records()
        try:
            done = {t.number for t in reopened.all_tasks() if t.status is Status.DONE}
            missing = acknowledged - done
            assert not missing, f"acknowledged but lost after kill {kills}: {sorted(missing)}"
            for task in reopened.all_tasks():
                assert len(task.checkins) <= 1, f"task {task.number} checked in twice"
                if task.checkin:
                    assert task.checkin.note == f"note {task.number}"
        finally:
            reopened.close()
    assert kills >= 20
    assert not list(folder.glob("*.tmp"))
    if every == 1:
        assert from_checkpoint >= kills // 2, "the checkpoint was hardly ever used"
