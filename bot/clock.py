"""Where "now" comes from: the one place that reads the wall clock.

Everything else takes `now` as a parameter or a `Clock`; the CLI's `--now` and the tests'
fake clock use the same seam.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz

    def now(self) -> datetime:
        return datetime.now(self.tz)


class ShiftedClock:
    """The wall clock moved so that it read `start` when created: `--now` for live runs."""

    def __init__(self, start: datetime, base: Clock) -> None:
        self._base = base
        self._offset = start - base.now()

    def now(self) -> datetime:
        return self._base.now() + self._offset


class FakeClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, moment: datetime) -> None:
        self._now = moment
