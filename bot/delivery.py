"""The reconciliation pass: plan → persist → deliver (linkedin/oncall's notifier shape).

Every minute (and at start-up, and before each console message) the pass asks the planner
which notices are due, writes them to the outbox with their unique keys in one durable
write, then delivers pending entries one by one: `sending` is recorded before the channel
is called and `sent` after it accepted, so a crash repeats at most the one in flight —
which start-up marks `unknown` instead of sending blindly again. Nothing important lives
only in memory: a restart recomputes the same plan and finds it already handled.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.app import App
from bot.channels.base import Outbound, PermanentSendError, TransientSendError
from handlers import notices as words
from handlers.messages import Reply
from schedules.reminders import Notice, Stage, digest_notices, task_notices
from schedules.tasks import Status
from storage.repository import Delivery, OutboxEntry

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
NO_CHANNEL = "没有可用的渠道：此人未登记任何已启用渠道的账号"


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 … minutes, at most 30."""
    return timedelta(minutes=min(30, 2 ** max(attempts - 1, 0)))


Route = Callable[[Notice], list[str] | None]  # channel names; [] none at all; None: not here


@dataclass
class PassResult:
    planned: int = 0
    skipped: int = 0
    sent: int = 0
    failed: int = 0


def entry_for(notice: Notice, channel: str, state: Delivery = Delivery.PENDING,
              error: str = "") -> OutboxEntry:
    return OutboxEntry(notice=notice.key, channel=channel, subject=notice.subject,
                       stage=notice.stage_name, recipient=notice.recipient, due_at=notice.at,
                       task=notice.task, group=notice.group, state=state, error=error)


def stage_of(entry: OutboxEntry) -> Stage:
    return Stage(entry.stage.rsplit("-", 1)[0] if entry.stage[-1].isdigit() else entry.stage)


def as_notice(entry: OutboxEntry) -> Notice:
    occurrence = int(entry.stage.rsplit("-", 1)[1]) if entry.stage[-1].isdigit() else 0
    return Notice(entry.subject, stage_of(entry), entry.recipient, entry.due_at, occurrence,
                  entry.task, entry.group)


class Deliverer:
    def __init__(self, app: App, channels: Mapping[str, Outbound], defer_unreached: bool) -> None:
        self.app = app
        self.channels = dict(channels)
        # In `chat`, messages for other people wait for `run`; in `run`, nobody is "later".
        self.defer_unreached = defer_unreached
        self._lock = threading.Lock()
        self.last_pass: datetime | None = None

    def route(self, notice: Notice) -> list[str] | None:
        names = [n for n, ch in self.channels.items() if ch.reaches(notice.recipient, notice.group)]
        if names:
            return names
        return None if self.defer_unreached else []

    def recover(self, now: datetime) -> int:
        """Entries left `sending` by a crash may or may not have gone out: mark them
        `unknown` (admins see them in their weekly report) rather than send them twice."""
        store = self.app.store
        stuck = [e for e in store.deliveries() if e.state is Delivery.SENDING]
        for entry in stuck:
            store.move_delivery(entry, Delivery.UNKNOWN, now, "发送中断（进程退出），可能已送达")
        return len(stuck)

    def run_pass(self, now: datetime) -> PassResult:
        with self._lock:
            result = self._plan(now)
            result.sent, result.failed = self._deliver(now)
            self.last_pass = now
            if result.sent or result.failed or result.skipped:
                log.info("reminder pass at %s: %d sent, %d failed, %d skipped",
                         now.isoformat(timespec="minutes"), result.sent, result.failed,
                         result.skipped)
            return result

    def _plan(self, now: datetime) -> PassResult:
        app, store = self.app, self.app.store
        app.refresh(now)
        handled = store.handled_notices()
        open_tasks = store.open_tasks()
        plan = task_notices(app.org, open_tasks, app.calendar, now, handled)
        groups = {u.id for u in app.org.units.values() if u.group is not None}
        due = plan.send + digest_notices(app.org, groups, app.calendar,
                                         app.config.reminders, now, handled)
        entries: list[OutboxEntry] = []
        escalated: dict[str, list[str]] = defaultdict(list)
        for notice in due:
            channels = self.route(notice)
            if channels is None:
                continue
            if notice.stage is Stage.ESCALATION and notice.task:
                escalated[notice.task].append(notice.recipient)
            if not channels:
                entries.append(entry_for(notice, "", Delivery.FAILED, NO_CHANNEL))
            entries += [entry_for(notice, c) for c in channels]
        entries += [entry_for(n, "", Delivery.SKIPPED, "停机期间错过，已不再需要")
                    for n in plan.skip]
        escalations = []
        for task_key, recipients in escalated.items():
            task = store.task(task_key)
            if task is not None:
                escalations.append({
                    "task": task_key, "to": recipients, "due": task.due.isoformat(),
                    "workdays_overdue": app.calendar.workdays_after(
                        task.due, now.astimezone(app.org.timezone).date()),
                })
        if entries:
            store.add_deliveries(entries, now, escalations)
        return PassResult(planned=len(entries) - len(plan.skip), skipped=len(plan.skip))

    def _deliver(self, now: datetime) -> tuple[int, int]:
        store = self.app.store
        batches: dict[tuple[str, str, str, str], list[OutboxEntry]] = defaultdict(list)
        for entry in store.pending_deliveries(now):
            if entry.channel in self.channels:
                day = entry.due_at.astimezone(self.app.org.timezone).date().isoformat()
                batches[entry.subject, entry.recipient, entry.channel, day].append(entry)
        sent = failed = 0
        for batch in batches.values():
            outcome = self._send(batch, now)
            sent += outcome is Delivery.SENT
            failed += outcome is Delivery.FAILED
        return sent, failed

    def _send(self, batch: Sequence[OutboxEntry], now: datetime) -> Delivery:
        """One message for stages merged on the same day; every entry moves together."""
        store, first = self.app.store, batch[0]
        reply = self.render(batch, now)
        if reply is None:
            why = "事项已完成，无需提醒" if first.task else "没有需要告知的内容"
            for entry in batch:
                store.move_delivery(entry, Delivery.SKIPPED, now, why)
            return Delivery.SKIPPED
        for entry in batch:
            store.move_delivery(entry, Delivery.SENDING, now)
        try:
            self.channels[first.channel].send(first.recipient, first.group, reply)
        except PermanentSendError as e:
            return self._settle(batch, Delivery.FAILED, now, str(e))
        except TransientSendError as e:
            attempts = first.attempts + 1  # counting this one
            if attempts >= MAX_ATTEMPTS:
                return self._settle(batch, Delivery.FAILED, now, f"多次重试仍失败：{e}")
            for entry in batch:
                store.move_delivery(entry, Delivery.PENDING, now, str(e),
                                    not_before=now + backoff(attempts))
            return Delivery.PENDING
        return self._settle(batch, Delivery.SENT, now)

    def _settle(self, batch: Sequence[OutboxEntry], state: Delivery, now: datetime,
                error: str = "") -> Delivery:
        for entry in batch:
            self.app.store.move_delivery(entry, state, now, error)
        if state is Delivery.FAILED:
            log.warning("delivery to %s on %s failed: %s", batch[0].recipient, batch[0].channel,
                        error)
        return state

    def render(self, batch: Sequence[OutboxEntry], now: datetime) -> Reply | None:
        app = self.app
        notices = [as_notice(e) for e in batch]
        first = notices[0]
        if first.stage is Stage.WEEKLY_DIGEST and first.group:
            return words.weekly_digest(app.org, first.recipient, app.store, now)
        if first.stage is Stage.WEEKLY_DIGEST:
            week_ago = now - timedelta(days=7)
            problems = [e for e in app.store.deliveries()
                        if e.state in (Delivery.FAILED, Delivery.UNKNOWN)
                        and e.updated is not None and e.updated >= week_ago]
            return words.admin_report(app.org, problems)
        if first.stage is Stage.MONTHLY_DIGEST:
            return words.monthly_digest(app.org, first.recipient, app.store, app.calendar, now)
        task = app.store.task(first.task or "")
        if task is None or task.status is not Status.OPEN:
            return None  # done since it was planned (a check-in at 08:59 stops the 09:00 one)
        return words.task_reminder(app.org, task, notices, app.calendar, now)
