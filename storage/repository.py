"""The repository interface the handlers and the scheduler use; `TinyDBStore` implements it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from schedules.tasks import Attachment, CheckIn, PlannedTask, Task


class TaskNotOpen(Exception):
    """A check-in was asked for a task that is already done or excused."""


class CheckinNotLive(Exception):
    """An undo was asked for a check-in that is already undone."""


@dataclass(frozen=True)
class Outcome:
    """What an inbound message already did, so a redelivery is answered, not repeated."""

    type: str  # a ledger record type: "checkin" or "checkin-undone"
    task: str  # task key
    checkin: str  # check-in id


class Repository(Protocol):
    @property
    def since(self) -> date:
        """The first day tasks are generated for (when the bureau started using the bot)."""
        ...

    def task(self, key: str) -> Task | None: ...

    def task_by_number(self, number: int) -> Task | None: ...

    def tasks_of(self, owners: Iterable[str]) -> list[Task]:
        """Tasks whose owner is one of `owners`, in number order."""
        ...

    def all_tasks(self) -> list[Task]: ...

    def duties_under_way(self) -> set[tuple[str, str]]:
        """The (duty, owner) pairs that have at least one task."""
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
    ) -> CheckIn:
        """Record a check-in durably. The same `source` again returns the earlier check-in;
        raises `TaskNotOpen` if the task is not open."""
        ...

    def undo_checkin(
        self, task_key: str, checkin_id: str, person: str, at: datetime, source: str | None = None
    ) -> Task:
        """Undo a check-in that is in effect (else `CheckinNotLive`); the ledger keeps both."""
        ...

    def outcome_of(self, source: str) -> Outcome | None:
        """What the message with this source already changed, if anything."""
        ...

    def last_checkin_by(self, person: str) -> tuple[Task, CheckIn] | None:
        """The person's most recent check-in that is still in effect."""
        ...

    def close(self) -> None: ...
