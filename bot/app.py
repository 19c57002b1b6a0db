"""The running bot: config, store, calendar and handlers wired together."""

from __future__ import annotations

import hashlib
import logging
import threading
from datetime import date, datetime, timedelta
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

from bot import config as bot_config
from bot.channels import registry
from bot.channels.console import CONSOLE
from bot.clock import Clock
from bot.config import Config
from handlers.dispatch import Dispatcher, reads_only
from handlers.messages import Inbound, Reply
from schedules import calendar as schedules_calendar
from schedules import model as schedules_model
from schedules import periods as schedules_periods
from schedules import tasks as schedules_tasks
from schedules.calendar import WorkCalendar
from schedules.tasks import Task, plan_tasks
from storage import upgrade
from storage.errors import StoreWriteFailed
from storage.tinydb_store import TinyDBStore

log = logging.getLogger(__name__)


def make_calendar(config: Config) -> WorkCalendar:
    return WorkCalendar(config.holidays, config.workdays)


# The modules whose code decides what is planned: an install from a checkout keeps its
# version number across updates, so their source is part of the fingerprint.
PLANNING_CODE = (bot_config, schedules_calendar, schedules_model, schedules_periods,
                 schedules_tasks)


def plan_fingerprint(config: Config) -> str:
    """What the tasks planned depend on, as one digest: the config file, the planning code,
    this release and the calendar libraries' data. Start-up plans only the days since the
    last planned one while it is unchanged; after any change it plans from the first day
    again, which picks up a changed plan (moved deadlines of open tasks, SPEC §4a)."""
    made = hashlib.sha256(config.path.read_bytes())
    for module in PLANNING_CODE:
        made.update(Path(str(module.__file__)).read_bytes())
    made.update(f"\0dutybot={upgrade.release()}".encode())
    for package in ("chinesecalendar", "holidays"):
        try:
            made.update(f"\0{package}={metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:  # run from a checkout without installing
            made.update(f"\0{package}".encode())
    return made.hexdigest()


class App:
    def __init__(self, config: Config, store: TinyDBStore, clock: Clock) -> None:
        self.config = config
        self.org = config.org
        self.store = store
        self.clock = clock
        self.calendar = make_calendar(config)
        self.dispatcher = Dispatcher(self.org, store, self.calendar, self.identify,
                                     frozenset(c.name for c in registry.CHANNELS if c.bindable))
        self._planned_through: date | None = None
        self.planned_from: date | None = None  # the first day the last planning looked at
        # Open tasks the reminder passes found nothing more can come of, by key, with the
        # record that made each what it was then (`Deliverer`): kept for the next start.
        self.settled: dict[str, int] = {}
        self._refresh_failing = False
        self._refresh_lock = threading.Lock()  # the ticker and message handlers both refresh

    @classmethod
    def open(cls, config: Config, clock: Clock, read_only: bool = False,
             counting_in: tuple[date, date] | None = None) -> App:
        """Open the store (raises `StoreError`) and bring its tasks up to date; read-only,
        it can hold only the tasks `counting_in` those days (`TinyDBStore.open`)."""
        store = TinyDBStore.open(config.store_path, clock.now(), read_only=read_only,
                                 backups=config.backups, max_file_bytes=config.max_file_bytes,
                                 counting_in=counting_in)
        app = cls(config, store, clock)
        if not read_only:
            app._recall()
            app.refresh(clock.now())
        return app

    def warnings(self, now: datetime) -> list[str]:
        """What the admin should know before using this store now, in Chinese: what opening
        repaired, why writes would fail, a clock behind the newest record."""
        found = list(self.store.notices)
        problem = self.store.write_problem()
        if problem:
            found.append(problem)
        newest = self.store.newest_record_at
        if newest is not None and self.store.refuses_writes_at(now):
            tz = self.org.timezone
            found.append(
                f"当前时间 {now.astimezone(tz):%Y-%m-%d %H:%M} 早于台账中最新一条记录的时间 "
                f"{newest.astimezone(tz):%Y-%m-%d %H:%M}：本次只能查询，"
                "完成记录等写入会被拒绝（记录不能倒签）。请核对系统时间或 --now。")
        return found

    def today(self, now: datetime) -> date:
        return now.astimezone(self.org.timezone).date()

    def refresh(self, now: datetime) -> None:
        """Create the tasks of every period that has begun. Each call looks only at the days
        since the last one; the first starts where the store's checkpoint says planning
        reached under this very plan (`plan_fingerprint`), else from the store's first day
        (so a changed plan is picked up at start-up). A store that cannot be written to is
        logged and tried again on the next call: the bot keeps answering from what it has."""
        with self._refresh_lock:
            self._refresh(now)

    def _refresh(self, now: datetime) -> None:
        today = self.today(now)
        if self._planned_through is None:
            self._planned_through = self.store.planned_through(self._plan)
        if self._planned_through is not None and today <= self._planned_through:
            return
        first = (self.store.since if self._planned_through is None
                 else self._planned_through + timedelta(days=1))
        self.planned_from = first
        planned = plan_tasks(self.org, self.store.since, today, self.calendar,
                             self.store.duties_under_way(), begun_from=first)
        try:
            created = self.store.add_tasks(planned, now)
        except StoreWriteFailed as e:  # said once; tried again on every later call
            if not self._refresh_failing:
                log.error("could not open the tasks due up to %s (will retry): %s", today, e)
            self._refresh_failing = True
            return
        self._refresh_failing = False
        if created:
            log.info("opened or updated %d task(s) up to %s", len(created), today)
        self._planned_through = today
        self.store.note_planned(self._plan, today, self._memo())

    def _memo(self) -> dict[str, Any]:
        """What planning and passes worked out that the next start under the same plan
        may take back (`_recall`) instead of working out again: the statutory holidays of
        years the calendar package does not cover (each start would import `holidays`),
        and the open tasks nothing more can come of, unless they change (each start's first
        reminder pass would look at every stage of each again)."""
        memo: dict[str, Any] = {}
        known = self.calendar.statutory_known()
        if known:
            memo["statutory"] = {str(year): sorted(d.isoformat() for d in days)
                                 for year, days in sorted(known.items())}
        settled = {key: seq for key, (_, seq) in self.settled_tasks().items()}
        if settled:
            memo["settled"] = settled
        return memo

    def settled_tasks(self) -> dict[str, tuple[Task, int]]:
        """The tasks of `settled` unchanged since, as they are, with their records."""
        store, found = self.store, {}
        for key, seq in sorted(self.settled.copy().items()):  # a pass may be adding
            task = store.task(key)
            if task is not None and store.recorded(task) == seq:
                found[key] = (task, seq)
        return found

    def _recall(self) -> None:
        """Take back what `_memo` kept, if it is as written (else it is worked out again)."""
        memo = self.store.planned_memo(self._plan)
        found = memo.get("statutory")
        try:
            known = {int(year): [date.fromisoformat(d) for d in days]
                     for year, days in (found or {}).items()}
        except (AttributeError, TypeError, ValueError):
            known = {}
        if all(d.year == year for year, days in known.items() for d in days):
            self.calendar.know_statutory(known)
        settled = memo.get("settled")
        if isinstance(settled, dict) and all(
                isinstance(k, str) and type(s) is int for k, s in settled.items()):
            self.settled = dict(settled)

    @cached_property
    def _plan(self) -> str:
        """This config's `plan_fingerprint`, worked out when planning first needs it (an
        App opened to read never does)."""
        return plan_fingerprint(self.config)

    def identify(self, message: Inbound) -> str | None:
        """Who sent `message`, by its channel module; on the console, a person id or name."""
        channel = registry.by_name(message.channel)
        if channel is None:
            found = self.org.person(message.sender) if message.channel == CONSOLE else None
            return found.id if found else None
        settings = self.config.channels.get(channel.name)
        return channel.identify(settings, self.org, self.store, message.sender)

    def handle(self, message: Inbound) -> Reply:
        self.refresh(message.received_at)
        return self.dispatcher.handle(message)

    def quick(self, message: Inbound) -> bool:
        """Whether `handle` may run on the event loop: it writes nothing (a read-only command,
        and no new day's tasks to open first). Anything else goes to a worker thread, so a
        slow disk never holds up other callbacks."""
        today = self.today(message.received_at)
        return (self._planned_through is not None and today <= self._planned_through
                and reads_only(message))

    def close(self) -> None:
        if self._planned_through is not None:  # with what the passes worked out since
            self.store.note_planned(self._plan, self._planned_through, self._memo())
        self.store.close()
