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
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.app import App
from bot.channels import registry
from bot.channels.base import ChannelUnavailable, Outbound, PermanentSendError, SendError
from handlers import notices as words
from handlers.messages import Reply
from schedules.meetings import QuietMeetings, meeting_notices, meeting_stale
from schedules.model import Policy
from schedules.reminders import (
    Notice,
    Stage,
    digest_notices,
    digest_stale,
    sendable,
    skip_marks,
    task_notice_stale,
    task_notices,
)
from schedules.tasks import Task
from storage.errors import ClockBehind, StoreWriteFailed
from storage.repository import Delivery, OutboxEntry, stand_ins_on

if TYPE_CHECKING:  # imported where used: `chat` never loads WeCom or prometheus-client
    from bot.calendar_sync import CalendarSync
    from bot.metrics import Metrics

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
NO_CHANNEL = "没有可用的渠道：此人未登记任何已启用渠道的账号"


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 … minutes, at most 30."""
    return timedelta(minutes=min(30, 2 ** max(attempts - 1, 0)))


@dataclass
class PassResult:
    planned: int = 0
    skipped: int = 0
    sent: int = 0
    failed: int = 0


def entry_for(notice: Notice, channel: str, now: datetime,
              state: Delivery = Delivery.PENDING, error: str = "") -> OutboxEntry:
    return OutboxEntry(notice=notice.key, channel=channel, subject=notice.subject,
                       stage=notice.stage, occurrence=notice.occurrence,
                       recipient=notice.recipient, due_at=notice.at,
                       task=notice.task, group=notice.group, state=state, error=error,
                       updated=None if state is Delivery.PENDING else now,
                       meeting=notice.meeting)


def as_notice(entry: OutboxEntry) -> Notice:
    return Notice(entry.subject, entry.stage, entry.recipient, entry.due_at, entry.occurrence,
                  entry.task, entry.group, entry.meeting)


class Deliverer:
    def __init__(self, app: App, channels: Mapping[str, Outbound], defer_unreached: bool,
                 metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics
        self.channels = dict(channels)
        # In `chat`, messages for other people wait for `run`; in `run`, nobody is "later".
        self.defer_unreached = defer_unreached
        self._lock = threading.Lock()
        self.last_pass: datetime | None = None
        # Tasks the planner said are finished with, as they were then; those a pass of an
        # earlier start found (`App.settled`) while they are as they were then.
        self._settled: dict[str, Task] = {  # a task that changes is a new object
            key: task for key, (task, _) in app.settled_tasks().items()}
        self._started: float | None = None  # monotonic start of the pass under way
        self._quiet = QuietMeetings()  # meetings with nothing due until a moment
        self.calendar: CalendarSync | None = None  # WeCom 日程, if on
        wecom = app.config.channel("wecom")
        if wecom is not None and wecom.calendar:  # 日程 are a WeCom app feature
            from bot.calendar_sync import calendar_for
            self.calendar = calendar_for(app, self.channels, self._stamp)

    def _stamp(self, now: datetime) -> datetime:
        """The time to record a write at: the pass's `now` moved on by the time the pass
        has taken, so a long pass (rate-limited sending) never writes behind a check-in
        that landed meanwhile."""
        if self._started is None:
            return now
        return now + timedelta(seconds=time.monotonic() - self._started)

    def route(self, notice: Notice) -> list[str] | None:
        """The channels that deliver this notice here; [] none at all (a permanent failure);
        None: not in this process (in `chat`, other people's messages wait for `run`)."""
        names = registry.preferred([n for n, ch in self.channels.items()
                                    if ch.reaches(notice.recipient, notice.group)],
                                   notice.group)
        if names:
            return names
        return None if self.defer_unreached else []

    def recover(self, now: datetime) -> int:
        """Entries left `sending` (by a crash, or a send that raised something unforeseen)
        may or may not have gone out: mark them `unknown` — admins see them in their weekly
        report — rather than send them twice. Passes never overlap, so at the start of one
        nothing is legitimately `sending`."""
        store = self.app.store
        stuck = store.sending_deliveries()
        self._move(stuck, Delivery.UNKNOWN, self._stamp(now), "发送中断，可能已送达")
        return len(stuck)

    def run_pass(self, now: datetime) -> PassResult:
        """One pass. A store that cannot be written (full, read-only, or a clock behind the
        ledger) ends the pass where it is, having sent nothing it could not record; the
        next pass tries again."""
        with self._lock, self.app.store.deferred_files():
            self._started = started = time.monotonic()
            outcome = "error"  # an exception the ticker logs
            try:
                self.recover(now)
                result = self._plan(now)
                result.sent, result.failed = self._deliver(now)
                if self.calendar is not None:
                    self.calendar.run(now)
                outcome = "ok"
            except ClockBehind as e:
                log.warning("reminder pass at %s not run: the clock is behind the ledger (%s)",
                            now.isoformat(timespec="minutes"), e)
                outcome = "clock_behind"
                return PassResult()
            except StoreWriteFailed as e:
                log.warning("reminder pass at %s stopped: the store cannot be written (%s)",
                            now.isoformat(timespec="minutes"), e)
                outcome = "store_unwritable"
                return PassResult()
            finally:
                self._started = None
                if self.metrics is not None:
                    self.metrics.passed(outcome, time.monotonic() - started,
                                        now.timestamp() if outcome == "ok" else None)
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
        live = [t for t in store.open_tasks()
                if self._settled.get(t.key) is not t]
        today = now.astimezone(app.org.timezone).date()
        stand_ins = stand_ins_on(store.delegations(), today)
        plan = task_notices(app.org, live, app.calendar, now, handled, stand_ins,
                            store.skipped_through())
        self._settled.update({t.key: t for t in plan.settled})
        for task in plan.settled:  # for the next start (`App.settled`)
            seq = store.recorded(task)
            if seq is not None:
                app.settled[task.key] = seq
        groups = {u.id for u in app.org.units.values() if u.group is not None}
        awake = self._quiet.awake(store.live_meetings(), now)
        meetings = meeting_notices(app.org, awake, app.calendar, app.config.reminders, now,
                                   handled, groups)
        self._quiet.note(meetings, store.meeting)
        meetings_stale = meetings.skip
        due = plan.send + digest_notices(app.org, groups, app.calendar,
                                         app.config.reminders, now, handled) + meetings.send
        entries: list[OutboxEntry] = []
        for notice in due:
            channels = self.route(notice)
            if channels is None:
                continue
            if not channels:
                entries.append(entry_for(notice, "", now, Delivery.FAILED, NO_CHANNEL))
            entries += [entry_for(notice, c, now) for c in channels]
        # A meeting's stale notices are entries; a task's skipped stages are one mark per
        # task and recipient (a store whose bot was down for months skips a great many).
        entries += [entry_for(n, "", now, Delivery.SKIPPED, "错过或已过时，不再发送")
                    for n in meetings_stale]
        planned_keys = {e.notice for e in entries}
        escalations = self._escalations(
            [n for n in plan.send if n.stage is Stage.ESCALATION and n.key in planned_keys]
            + [n for n in plan.skip if n.stage is Stage.ESCALATION],
            {n.key for n in plan.send}, now)
        marks = skip_marks(plan)
        if entries or marks:
            store.add_deliveries(entries, self._stamp(now), escalations, marks)
            if self.metrics is not None:
                for entry in entries:
                    if entry.state is not Delivery.PENDING:  # never to be sent: counted now
                        self.metrics.moved([entry], entry.state)
                self.metrics.skipped(len(plan.skip))
        skipped = len(plan.skip) + len(meetings_stale)
        return PassResult(planned=len(entries) - len(meetings_stale), skipped=skipped)

    def _escalations(self, notices: Sequence[Notice], sending: set[str],
                     now: datetime) -> list[dict[str, object]]:
        """One accountability item per escalated task: who is told, or that the bot was down
        when it fell due (then nobody was told, but the ledger still shows it)."""
        app = self.app
        by_task: dict[str, list[Notice]] = defaultdict(list)
        for n in notices:
            if n.task:
                by_task[n.task].append(n)
        items = []
        for task_key, group in by_task.items():
            task = app.store.task(task_key)
            if task is None:
                continue
            tz = self.policy_for(task_key).timezone or app.org.timezone
            today = now.astimezone(tz).date()
            items.append({
                "task": task_key, "stage": Stage.ESCALATION,  # its due date: the task's own
                "to": [n.recipient for n in group if n.key in sending],
                "missed": [n.recipient for n in group if n.key not in sending],
                "workdays_overdue": app.calendar.workdays_after(task.due, today),
            })
        return items

    def policy_for(self, task_key: str | None) -> Policy:
        """A task's duty's policy; the bureau's defaults for digests."""
        task = self.app.store.task(task_key) if task_key else None
        duty = self.app.org.duties.get(task.duty) if task else None
        return duty.policy if duty else self.app.config.reminders

    def _deliver(self, now: datetime) -> tuple[int, int]:
        """Send what is pending — but only at a time the policy allows, and only what is
        still worth sending: an older pending stage gives way to a newer one of the same
        task, and anything past its window is skipped (recorded), never sent late.
        Everything left for one person on one channel goes as one message."""
        app, store = self.app, self.app.store
        threads: dict[tuple[str, str, str], list[OutboxEntry]] = defaultdict(list)
        for entry in store.pending_deliveries(now):
            if entry.channel in self.channels:
                threads[entry.subject, entry.recipient, entry.channel].append(entry)
        bundles: dict[tuple[str, str, bool], list[list[OutboxEntry]]] = defaultdict(list)
        for entries in threads.values():
            policy = self.policy_for(entries[0].task)
            tz = policy.timezone or app.org.timezone
            if not self.may_send(entries[0], now, policy):
                continue
            newest = max(e.due_at.astimezone(tz).date() for e in entries)
            batch = [e for e in entries if e.due_at.astimezone(tz).date() == newest]
            self._move([e for e in entries if e not in batch], Delivery.SKIPPED,
                                  self._stamp(now), "已有更新的提醒")
            if self.stale(batch[0], policy, now):
                self._move(batch, Delivery.SKIPPED, self._stamp(now),
                                      "已过时，不再发送")
                continue
            first = batch[0]
            bundles[first.recipient, first.channel, first.group].append(batch)
        ready: list[tuple[list[OutboxEntry], Reply]] = []
        for batches in bundles.values():
            rendered = self.render(batches, now)
            for batch in batches:
                if batch[0].subject not in rendered.used:
                    why = "事项已完成，无需提醒" if batch[0].task else "没有需要告知的内容"
                    self._move(batch, Delivery.SKIPPED, self._stamp(now), why)
            if rendered.reply is not None:
                ready.append(([e for b in batches if b[0].subject in rendered.used
                               for e in b], rendered.reply))
        sent = failed = 0
        down: set[str] = set()  # channels found unreachable: the rest waits for the next pass
        for group in self._together(ready):
            channel = group[0][0][0].channel
            if channel in down:
                continue
            outcomes, unreachable = self._send(group, now)
            sent += outcomes.count(Delivery.SENT)
            failed += outcomes.count(Delivery.FAILED)
            if unreachable:
                down.add(channel)
        return sent, failed

    def _together(self, ready: list[tuple[list[OutboxEntry], Reply]]
                  ) -> list[list[tuple[list[OutboxEntry], Reply]]]:
        """Identical messages on a channel that can address many people at once (WeCom: up
        to 1000 a call) travel together; everything else alone, in order."""
        groups: dict[tuple[str, Reply], list[tuple[list[OutboxEntry], Reply]]] = {}
        alone: list[list[tuple[list[OutboxEntry], Reply]]] = []
        for item in ready:
            first = item[0][0]
            if first.group or not hasattr(self.channels[first.channel], "send_many"):
                alone.append([item])
            else:
                groups.setdefault((first.channel, item[1]), []).append(item)
        return alone + list(groups.values())

    def may_send(self, entry: OutboxEntry, now: datetime, policy: Policy) -> bool:
        """Reminders and digests go out on working days outside quiet hours; a meeting's
        messages only outside quiet hours (their planner already held back what can wait
        for a working day)."""
        tz = policy.timezone or self.app.org.timezone
        if entry.meeting:
            return not policy.quiet(now.astimezone(tz).time())
        return sendable(now, tz, policy, self.app.calendar)

    def stale(self, entry: OutboxEntry, policy: Policy, now: datetime) -> bool:
        notice = as_notice(entry)
        tz = policy.timezone or self.app.org.timezone
        today = now.astimezone(tz).date()
        if entry.meeting:
            return meeting_stale(self.app.store.meeting(entry.meeting), notice.stage,
                                 notice.occurrence, now)
        if notice.stage in (Stage.WEEKLY_DIGEST, Stage.MONTHLY_DIGEST):
            return digest_stale(notice, self.app.calendar, today)
        task = self.app.store.task(entry.task or "")
        return task is None or task_notice_stale(notice, task.due, policy, self.app.calendar,
                                                 today)

    def _send(self, group: list[tuple[list[OutboxEntry], Reply]], now: datetime
              ) -> tuple[list[Delivery], bool]:
        """One message (for stages merged on the same day), to one person or — when it is
        the same words — to several at once; each recipient's entries move together. Also
        says whether the channel turned out to be unreachable."""
        batches = [batch for batch, _ in group]
        reply, first = group[0][1], batches[0][0]
        channel = self.channels[first.channel]
        self._move([e for b in batches for e in b], Delivery.SENDING,
                              self._stamp(now))
        problems: dict[str, Exception] = {}
        try:
            if len(batches) == 1:
                channel.send(first.recipient, first.group, reply)
            else:
                send_many = getattr(channel, "send_many")  # noqa: B009 - checked in _together
                problems.update(send_many([b[0].recipient for b in batches], reply))
        except Exception as e:  # the whole call failed: the same for everyone in it
            if not isinstance(e, SendError):
                log.exception("sending to %s on %s raised", first.recipient, first.channel)
            problems = {b[0].recipient: e for b in batches}
        unreachable = any(isinstance(p, ChannelUnavailable) for p in problems.values())
        return [self._outcome(b, problems.get(b[0].recipient), now) for b in batches], unreachable

    def _outcome(self, batch: Sequence[OutboxEntry], problem: Exception | None,
                 now: datetime) -> Delivery:
        if problem is None:
            return self._settle(batch, Delivery.SENT, now)
        if isinstance(problem, PermanentSendError):
            return self._settle(batch, Delivery.FAILED, now, str(problem))
        attempts = batch[0].attempts + 1  # counting this one
        if attempts >= MAX_ATTEMPTS:
            return self._settle(batch, Delivery.FAILED, now, f"多次重试仍失败：{problem}")
        self._move(batch, Delivery.PENDING, self._stamp(now),
                                       str(problem) or type(problem).__name__,
                                       not_before=now + backoff(attempts))
        return Delivery.PENDING

    def _move(self, entries: Sequence[OutboxEntry], state: Delivery, at: datetime,
              error: str = "", not_before: datetime | None = None) -> None:
        self.app.store.move_deliveries(entries, state, at, error, not_before=not_before)
        if self.metrics is not None:
            self.metrics.moved(entries, state)

    def _settle(self, batch: Sequence[OutboxEntry], state: Delivery, now: datetime,
                error: str = "") -> Delivery:
        self._move(batch, state, self._stamp(now), error)
        if state is Delivery.FAILED:
            log.warning("delivery to %s on %s failed: %s", batch[0].recipient, batch[0].channel,
                        error)
        return state

    def render(self, batches: Sequence[Sequence[OutboxEntry]], now: datetime) -> words.Rendered:
        """One recipient's message on one channel: the words `simulate` shows too."""
        app = self.app
        first = batches[0][0]
        problems: Sequence[OutboxEntry] = ()
        admin = next((b for b in batches if b[0].stage is Stage.WEEKLY_DIGEST
                      and not b[0].group), None)
        if admin is not None:
            problems = self.problems_since_last_report(as_notice(admin[0]), now)
        return words.render(app.org, first.recipient, first.group,
                            [[as_notice(e) for e in batch] for batch in batches],
                            app.store, app.calendar, now, problems)

    def problems_since_last_report(self, notice: Notice, now: datetime) -> list[OutboxEntry]:
        """Messages that failed or may not have arrived since this admin's previous report
        went out: one per message (a bundle's entries fail together), oldest first."""
        deliveries = self.app.store.deliveries()
        now = self._stamp(now)  # what this pass itself recorded counts too
        mine = f"weekly-admin:{notice.recipient}:"
        previous = max((e.updated for e in deliveries
                        if e.subject.startswith(mine) and e.state is Delivery.SENT
                        and e.updated is not None and e.updated < now), default=None)
        problems: dict[tuple[str, str, str, datetime], OutboxEntry] = {}
        for e in deliveries:
            if (e.state in (Delivery.FAILED, Delivery.UNKNOWN) and e.updated is not None
                    and e.updated <= now and (previous is None or e.updated > previous)):
                problems.setdefault((e.recipient, e.channel, e.error, e.updated), e)
        return sorted(problems.values(), key=lambda e: e.updated or now)
