"""How an owner stands on its tasks over a span of days: the counts 总览 and the report show.

Pure: tasks, a time zone and `today` in, counts out. Owners are listed in the bureau's own
config order by the callers — never ranked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, tzinfo

from schedules.tasks import Status, Task, reporting_day


@dataclass(frozen=True)
class Standing:
    due: int = 0  # tasks due in the span (all of them, whatever their state)
    done: int = 0
    on_time: int = 0  # done on or before the due date
    late: int = 0  # done after it
    excused: int = 0
    overdue: int = 0  # open, and the due date has passed
    not_yet_due: int = 0  # open, due today or later
    escalated: int = 0  # tasks whose lateness was escalated to leaders
    retired: int = 0  # open tasks the config no longer has: neither due nor overdue

    def __add__(self, other: Standing) -> Standing:
        return Standing(*(a + b for a, b in zip(_fields(self), _fields(other), strict=True)))


def _fields(s: Standing) -> tuple[int, ...]:
    return (s.due, s.done, s.on_time, s.late, s.excused, s.overdue, s.not_yet_due, s.escalated,
            s.retired)


def due_within(tasks: Iterable[Task], first: date, last: date) -> list[Task]:
    """The tasks that count in [first, last]: by the period they are about (see
    `reporting_day`)."""
    return [t for t in tasks if first <= reporting_day(t) <= last]


def standing(tasks: Iterable[Task], tz: tzinfo, today: date,
             escalated: frozenset[str] = frozenset(),
             retired: frozenset[str] = frozenset()) -> Standing:
    """Counts over `tasks` (already narrowed to an owner and a span); `escalated` holds the
    keys of tasks that were escalated, `retired` those of open tasks the config no longer
    has."""
    due = done = on_time = late = excused = overdue = not_yet = esc = gone = 0
    for t in tasks:
        if t.key in retired:
            gone += 1
            continue
        due += 1
        esc += t.key in escalated
        if t.status is Status.DONE:
            done += 1
            finished = t.done_on(tz)
            if finished is not None and finished <= t.due:
                on_time += 1
            else:
                late += 1
        elif t.status is Status.EXCUSED:
            excused += 1
        elif t.due < today:
            overdue += 1
        else:
            not_yet += 1
    return Standing(due, done, on_time, late, excused, overdue, not_yet, esc, gone)
