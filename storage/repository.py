"""The repository interface the handlers and the scheduler use; `TinyDBStore` implements it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from schedules.meetings import Meeting, MeetingRecord
from schedules.reminders import SkipMark, Stage
from schedules.tasks import Attachment, CheckIn, PlannedTask, Task
from storage.files import FileStore


class TaskNotOpen(Exception):
    """A check-in was asked for a task that is already done or excused."""


class TaskNotExcused(Exception):
    """An excuse was to be withdrawn from a task that is not excused."""


class MeetingNotOpen(Exception):
    """A change was asked of a meeting already held (recorded) or cancelled."""


class CheckinNotLive(Exception):
    """An undo was asked for a check-in already undone (or a restore for one in effect)."""


class BindRefused(Exception):
    """A binding code that does not work: `reason` is "unknown", "expired" or "used"."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class BindRefusal:
    """A binding code that did not work, tried from a chat account (kept in the ledger, so
    the limit on guessing survives a restart)."""

    channel: str
    account: str
    at: datetime


@dataclass(frozen=True)
class Delegation:
    """`委托`: someone else gets a person's reminders and may record for them, until a day
    (inclusive, in the bureau's time zone) or until cancelled."""

    person: str
    delegate: str
    since: datetime
    until: date | None = None

    def active(self, day: date) -> bool:
        return self.until is None or day <= self.until


def stand_ins_on(delegations: Iterable[Delegation], day: date) -> dict[str, list[str]]:
    """Who stands in for whom on `day` (`委托`): person → delegates."""
    found: dict[str, list[str]] = {}
    for d in delegations:
        if d.active(day):
            found.setdefault(d.person, []).append(d.delegate)
    return found


@dataclass(frozen=True)
class Outcome:
    """What an inbound message already did, so a redelivery is answered, not repeated."""

    type: str  # a ledger record's type (`storage.records.RecordType`): checkin, task-excused …
    task: str  # task key
    checkin: str  # check-in id ("" when the record is not about a check-in)


@dataclass(frozen=True)
class Escalation:
    """An accountability item from the ledger: an overdue task reported to its leaders."""

    task: str  # task key
    at: datetime
    told: tuple[str, ...]  # who was sent the escalation
    missed: tuple[str, ...]  # who would have been, had the bot been running that day
    workdays_overdue: int


class Delivery(StrEnum):
    """Where an outbox entry stands. Only `pending` is ever sent; `sending` left by a crash
    becomes `unknown` (it may or may not have gone out) and is shown to admins."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # permanently: unknown recipient, channel not configured, …
    UNKNOWN = "unknown"
    SKIPPED = "skipped"  # missed while the bot was down and no longer useful


def outbox_key(notice: str, channel: str) -> str:
    """The key of one message on one channel, in the outbox and the ledger."""
    return f"{notice}|{channel}"


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One message for one recipient on one channel."""

    notice: str  # the plan's key: subject|stage|recipient
    channel: str  # "console", "wecom", "wecom-robot", "telegram"; "" when skipped
    subject: str
    stage: Stage  # with `occurrence`, stored as one name (`overdue-2`: `stage_name`)
    recipient: str
    due_at: datetime
    task: str | None = None
    group: bool = False
    state: Delivery = Delivery.PENDING
    attempts: int = 0
    error: str = ""
    updated: datetime | None = None
    not_before: datetime | None = None  # retry back-off
    meeting: int = 0  # the meeting a meeting's message is about
    occurrence: int = 0  # the second overdue reminder: 2; 0 for a stage that comes once

    @property
    def key(self) -> str:
        return outbox_key(self.notice, self.channel)

    def moved(self, state: Delivery, at: datetime, error: str = "",
              not_before: datetime | None = None, attempt: bool = False) -> OutboxEntry:
        # Built directly, not by `dataclasses.replace` (twice the cost): replaying the ledger
        # moves thousands of entries. Every field, in the order declared.
        return OutboxEntry(self.notice, self.channel, self.subject, self.stage, self.recipient,
                           self.due_at, self.task, self.group, state, self.attempts + attempt,
                           error, at, not_before, self.meeting, self.occurrence)


class Repository(Protocol):
    @property
    def since(self) -> date:
        """The first day tasks are generated for (when the bureau started using the bot)."""
        ...

    @property
    def files(self) -> FileStore:
        """Where evidence photos and documents are kept: `files.keep(data, name, type)`
        before the check-in or record that names them (`Kept.attachment(...)`)."""
        ...

    def task(self, key: str) -> Task | None: ...

    def task_by_number(self, number: int) -> Task | None: ...

    def tasks_of(self, owners: Iterable[str]) -> list[Task]:
        """Tasks whose owner is one of `owners`, in number order."""
        ...

    def open_tasks_of(self, owners: Iterable[str]) -> list[Task]:
        """Open tasks whose owner is one of `owners`, in no particular order."""
        ...

    def checkins_since(self, moment: datetime) -> list[tuple[Task, CheckIn]]:
        """Every check-in (undone ones too) dated at or after `moment`, oldest first, each
        with its task as it stands."""
        ...

    def all_tasks(self) -> list[Task]: ...

    def open_tasks(self) -> list[Task]: ...

    def duties_under_way(self) -> set[tuple[str, str, str]]:
        """The (duty, owner, period kind) of every task (kind: a cadence's value)."""
        ...

    def add_tasks(self, planned: Sequence[PlannedTask], at: datetime) -> list[Task]:
        """Create the planned tasks that do not exist yet and move the due date of open ones
        whose plan changed; returns the tasks created or changed. Idempotent."""
        ...

    def check_in(
        self,
        task_key: str,
        person: str,
        at: datetime,
        note: str,
        channel: str,
        source: str | None = None,
        attachments: Sequence[Attachment] = (),
        on_behalf_of: str = "",
    ) -> CheckIn:
        """Record a check-in durably (`on_behalf_of`: who answers for the task, when `person`
        stands in for them). The same `source` again returns the earlier check-in; raises
        `TaskNotOpen` if the task is not open."""
        ...

    def undo_checkin(
        self, task_key: str, checkin_id: str, person: str, at: datetime,
        source: str | None = None, reason: str = "",
    ) -> Task:
        """Undo a check-in that is in effect (else `CheckinNotLive`); the ledger keeps both."""
        ...

    def restore_checkin(self, task_key: str, checkin_id: str, person: str, at: datetime,
                        source: str | None = None) -> Task:
        """Take back the undo of a check-in: in effect again with its own time and note.
        `CheckinNotLive` if it is not undone; `TaskNotOpen` if the task is done or excused
        in the meantime."""
        ...

    def attach(self, task_key: str, checkin_id: str, attachments: Sequence[Attachment],
               person: str, at: datetime, source: str | None = None) -> Task:
        """Add photos or files to a check-in (evidence sent after it); once per `source`."""
        ...

    def excuse(self, task_key: str, person: str, at: datetime, reason: str,
               source: str | None = None) -> Task:
        """Mark an open task excused (else `TaskNotOpen`), keeping who, when and why."""
        ...

    def withdraw_excuse(self, task_key: str, person: str, at: datetime, reason: str = "",
                        source: str | None = None) -> Task:
        """Withdraw the excuse of an excused task (else `TaskNotExcused`): it is open again;
        the ledger keeps the excuse and its withdrawal."""
        ...

    def open_event_task(self, duty: str, owner: str, due: date, note: str, person: str,
                        at: datetime, source: str | None = None) -> Task:
        """Open a task for an event (e.g. a reported opinion incident) reported by `person`;
        the same `source` again returns the task it opened."""
        ...

    def escalations(self) -> list[Escalation]:
        """Every escalation the ledger records, oldest first."""
        ...

    def bind_account(self, channel: str, account: str, code: str, at: datetime,
                     source: str | None = None) -> str:
        """Link a chat account to the person a code was issued for; returns the person id.
        Raises `BindRefused`. The same account using its code again gets the same answer."""
        ...

    def record_bind_refusal(self, channel: str, account: str, reason: str, at: datetime,
                            source: str | None = None) -> None:
        """Remember durably that a binding code did not work (once per `source`)."""
        ...

    def bind_refusals_since(self, moment: datetime) -> list[BindRefusal]:
        """Binding codes that did not work after `moment`, from any account."""
        ...

    def delegate(self, person: str, delegate: str, until: date | None, at: datetime,
                 source: str | None = None) -> Delegation:
        """Record that `delegate` stands in for `person` (replacing any earlier one)."""
        ...

    def end_delegation(self, person: str, at: datetime, source: str | None = None) -> None:
        """Record that `person`'s delegation ends now."""
        ...

    def delegations(self) -> list[Delegation]:
        """Every delegation in force or ended by date only (callers check `active`)."""
        ...

    def account_person(self, channel: str, account: str) -> str | None:
        """The person a chat account is bound to, if any."""
        ...

    def account_of(self, channel: str, person: str) -> str | None:
        """The chat account a person is bound to on a channel, if any."""
        ...

    def outcome_of(self, source: str) -> Outcome | None:
        """What the message with this source already changed, if anything."""
        ...

    def handled_notices(self) -> AbstractSet[str]:
        """Keys of every notice already in the outbox, whatever its state."""
        ...

    def add_deliveries(self, entries: Sequence[OutboxEntry], at: datetime,
                       escalations: Sequence[dict[str, object]] = (),
                       skipped: Mapping[str, Mapping[str, datetime]] | None = None) -> None:
        """Put planned (or skipped) entries in the outbox in one durable write; escalations
        (dicts with at least a "task" key) are recorded in the ledger as accountability
        items, once per task and escalation, however often this is called; `skipped` (task
        -> recipient -> moment) marks a task's reminders due by then as missed and not sent,
        in the same write (see `skipped_through`)."""
        ...

    def skipped_through(self) -> Mapping[str, Mapping[str, SkipMark]]:
        """For each task and recipient, the moment through which its reminders were found
        missed and skipped, and how often its deadline had moved then (`SkipMark`)."""
        ...

    def pending_deliveries(self, now: datetime) -> list[OutboxEntry]:
        """Pending entries whose back-off has passed, oldest first."""
        ...

    def deliveries(self) -> list[OutboxEntry]:
        """Entries of the last few weeks, and every one still in motion."""
        ...

    def sending_deliveries(self) -> list[OutboxEntry]:
        """Entries recorded as being sent (after a crash: perhaps sent, perhaps not)."""
        ...

    def move_deliveries(self, entries: Sequence[OutboxEntry], state: Delivery, at: datetime,
                        error: str = "", not_before: datetime | None = None) -> None:
        """Record new states durably (sending, sent, failed, unknown, retry), for entries that
        travel as one message in one write."""
        ...

    def deferred_files(self) -> AbstractContextManager[None]:
        """Within the block, changes are committed to the ledger as usual and the table files
        are folded once, at its end (a crash in between is repaired from the ledger)."""
        ...

    def fold(self) -> None:
        """Bring the table files up to the ledger (writes commit to the ledger alone; the
        files follow off the write path). A failure is logged, never raised."""
        ...

    # Meetings (SPEC §5a). Each raises `MeetingNotOpen` for a meeting held or cancelled,
    # and returns the meeting as it now stands; the same `source` again changes nothing.

    def announce_meeting(self, unit: str, duty: str, tasks: Sequence[str], organiser: str,
                         start: datetime, place: str, topic: str, invitees: Sequence[str],
                         also: Sequence[str], at: datetime,
                         source: str | None = None) -> Meeting:
        """A meeting fulfilling `tasks` (open ones, else `TaskNotOpen`), numbered from the
        task sequence."""
        ...

    def move_meeting(self, number: int, start: datetime, person: str, at: datetime,
                     source: str | None = None) -> Meeting: ...

    def cancel_meeting(self, number: int, reason: str, person: str, at: datetime,
                       source: str | None = None) -> Meeting: ...

    def ask_leave(self, number: int, person: str, reason: str, at: datetime,
                  source: str | None = None) -> Meeting: ...

    def join_meeting(self, number: int, person: str, at: datetime,
                     source: str | None = None) -> Meeting: ...

    def record_meeting(self, number: int, record: MeetingRecord, note: str,
                       makeups: Sequence[PlannedTask], excuse: Sequence[tuple[str, str]],
                       at: datetime, source: str | None = None,
                       on_behalf_of: str = "") -> Meeting:
        """纪实: the tasks it fulfils checked in at the held time, absentees' 补学 opened,
        `excuse` (task key, reason) closing those no longer needed — in one record."""
        ...

    def attach_to_meeting(self, number: int, attachments: Sequence[Attachment], person: str,
                          at: datetime, source: str | None = None) -> Meeting: ...

    def note_schedule(self, number: int, schedule_id: str, moves: int, at: datetime,
                      removed: bool = False, error: str = "") -> Meeting:
        """Its WeCom 日程 as synced for the meeting's `moves`th time (or the step that
        failed for good, and why)."""
        ...

    def meeting(self, number: int) -> Meeting | None: ...

    def meetings(self) -> list[Meeting]:
        """Every meeting, in number order."""
        ...

    def live_meetings(self) -> list[Meeting]:
        """Meetings that can still send something (not yet recorded), in no order."""
        ...

    def last_meeting_record_by(self, person: str) -> tuple[Meeting, MeetingRecord] | None:
        ...

    def last_checkin_by(self, person: str) -> tuple[Task, CheckIn] | None:
        """The person's most recent check-in, in effect or undone."""
        ...

    def refuses_writes_at(self, moment: datetime) -> bool:
        """Whether a write dated `moment` would be refused as earlier than the newest record."""
        ...

    def close(self) -> None: ...
