"""Reminder planning, pure: stage days at the edges, merging, catch-up, escalation routing."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from bot.config import Config
from schedules.calendar import WorkCalendar
from schedules.model import Policy
from schedules.reminders import (
    EVERYONE,
    SkipMark,
    Stage,
    escalation_recipients,
    skip_marks,
    task_notices,
    task_stages,
)
from schedules.tasks import CheckIn, Task
from tests.builders import SHANGHAI, at

CAL = WorkCalendar()
DEFAULT = Policy()


def days(due: date, policy: Policy = DEFAULT, calendar: WorkCalendar = CAL) -> dict[str, date]:
    return {s.name: s.day for s in task_stages(due, policy, calendar)}


def test_an_ordinary_thursday_deadline() -> None:
    assert days(date(2026, 12, 31)) == {
        "advance": date(2026, 12, 24), "eve": date(2026, 12, 30), "due": date(2026, 12, 31),
        # The package has no 2027 calendar, but 元旦 is computed: a holiday all the same
        "overdue-1": date(2027, 1, 4), "overdue-2": date(2027, 1, 5),
        "overdue-3": date(2027, 1, 6), "escalation": date(2027, 1, 6),
        "overdue-4": date(2027, 1, 7), "overdue-5": date(2027, 1, 8),
    }


def test_across_the_year_end_with_next_years_holidays_in_config() -> None:
    calendar = WorkCalendar(holidays=[date(2027, 1, 1)])
    stages = days(date(2026, 12, 31), calendar=calendar)
    assert stages["overdue-1"] == date(2027, 1, 4)
    assert stages["escalation"] == date(2027, 1, 6)


def test_a_saturday_deadline_moves_the_due_day_back_and_merges_with_the_eve() -> None:
    stages = days(date(2026, 12, 19))  # Saturday
    assert stages["advance"] == date(2026, 12, 11)  # the 12th is a Saturday too: back to Fri
    assert stages["eve"] == stages["due"] == date(2026, 12, 18)
    assert stages["overdue-1"] == date(2026, 12, 21)


def test_the_eve_of_the_national_day_holiday() -> None:
    stages = days(date(2026, 9, 30))
    assert stages["eve"] == date(2026, 9, 29)
    assert stages["due"] == date(2026, 9, 30)
    assert stages["overdue-1"] == date(2026, 10, 8)  # after the whole holiday
    assert stages["overdue-3"] == stages["escalation"] == date(2026, 10, 10)  # make-up Sat


def test_a_deadline_on_a_make_up_workday() -> None:
    stages = days(date(2026, 10, 10))  # Saturday, but a working day
    assert stages["due"] == date(2026, 10, 10)
    assert stages["eve"] == date(2026, 10, 9)
    assert stages["advance"] == date(2026, 9, 30)  # 10-03 is a holiday: back before it


def test_a_deadline_inside_a_holiday() -> None:
    stages = days(date(2026, 10, 4))
    assert stages["eve"] == stages["due"] == date(2026, 9, 30)
    assert stages["overdue-1"] == date(2026, 10, 8)


def test_policy_switches() -> None:
    quiet = Policy(advance_days=0, eve=False, overdue_max=2, escalate_on=0)
    assert list(days(date(2026, 12, 31), quiet)) == ["due", "overdue-1", "overdue-2"]
    late = Policy(overdue_max=1, escalate_on=4)
    assert days(date(2026, 11, 30), late)["escalation"] == date(2026, 12, 4)


def task(key: str = "branch-meeting:branch-1:2026-Q4", due: date = date(2026, 12, 31),
         opened: datetime | None = None, **kw: object) -> Task:
    duty, owner, period = key.split(":")
    return Task(key, 22, duty, owner, period, due,
                opened=opened or at("2026-10-01 00:00"), **kw)  # type: ignore[arg-type]


def plan_at(config: Config, moment: datetime, tasks: list[Task], handled: set[str] | None = None):
    return task_notices(config.org, tasks, CAL, moment, handled or set())


def test_nothing_before_send_time_then_the_stage(config: Config) -> None:
    t = task()
    assert plan_at(config, at("2026-12-24 08:59"), [t]).send == []
    sent = plan_at(config, at("2026-12-24 09:00"), [t]).send
    assert [(n.stage, n.recipient) for n in sent] == [(Stage.ADVANCE, "wu-fang")]
    assert plan_at(config, at("2026-12-24 09:01"), [t], {sent[0].key}).send == []


def test_weekends_holidays_and_quiet_hours_send_nothing(config: Config) -> None:
    t = task(due=date(2026, 12, 21))  # Monday; its eve is Friday the 18th
    assert plan_at(config, at("2026-12-19 09:00"), [t]).send == []  # Saturday
    assert plan_at(config, at("2026-12-18 21:00"), [t]).send == []  # Friday, quiet hours
    assert plan_at(config, at("2026-12-18 19:59"), [t]).send != []  # Friday, not yet quiet


def test_a_done_task_gets_nothing_and_an_undo_resumes_at_the_next_stage(config: Config) -> None:
    checkin = CheckIn("c9", "k", "wu-fang", at("2026-12-30 08:59"), "", "console")
    done = task().with_checkin(checkin)
    assert plan_at(config, at("2026-12-30 09:00"), [done]).send == []
    reopened = done.with_undo("c9", at("2026-12-30 10:00"))
    assert plan_at(config, at("2026-12-30 10:01"), [reopened]).send == []  # the eve passed
    due_day = plan_at(config, at("2026-12-31 09:00"), [reopened]).send
    assert [n.stage for n in due_day] == [Stage.DUE]


def test_a_task_created_late_does_not_fire_past_stages(config: Config) -> None:
    late = task(opened=at("2026-12-30 11:00"))
    assert plan_at(config, at("2026-12-30 12:00"), [late]).send == []
    assert [n.stage for n in plan_at(config, at("2026-12-31 09:00"), [late]).send] == [Stage.DUE]


def test_catch_up_sends_only_the_newest_useful_stage(config: Config) -> None:
    t = task(due=date(2026, 12, 3))  # Thursday: advance 11-26, eve 12-02, due 12-03
    # Down from before 11-26 until 12-03 10:00: advance and eve were missed.
    plan = plan_at(config, at("2026-12-03 10:00"), [t])
    assert [n.stage for n in plan.send] == [Stage.DUE]
    assert {n.stage for n in plan.skip} == {Stage.ADVANCE, Stage.EVE}
    # Down until long after the overdue window: nothing is useful any more.
    stale = plan_at(config, at("2026-12-21 10:00"), [t])
    assert stale.send == [] and len(stale.skip) == 2 + 5 + 1 + 2  # …+ two escalations


def test_stages_on_the_same_day_come_together(config: Config) -> None:
    t = task(due=date(2026, 12, 19))  # eve and due both on Friday the 18th
    plan = plan_at(config, at("2026-12-18 09:00"), [t])
    assert {n.stage for n in plan.send} == {Stage.EVE, Stage.DUE}
    assert {n.at for n in plan.send} == {datetime(2026, 12, 18, 9, tzinfo=SHANGHAI)}


def test_escalations_follow_the_org(config: Config) -> None:
    org = config.org
    assert escalation_recipients(org, "branch-2") == ["zhang-wei", "zhao-min"]
    assert escalation_recipients(org, "branch-4") == ["liu-zhiqiang", "zhao-min"]
    assert escalation_recipients(org, "li-hongmei") == ["wang-jianguo", "zhao-min"]
    assert escalation_recipients(org, "party-group") == ["zhao-min"]  # 党组: admins only
    t = task("theme-day:branch-2:2026-11", due=date(2026, 11, 30))
    plan = plan_at(config, at("2026-12-03 09:00"), [t])
    assert {(n.stage, n.recipient) for n in plan.send} == {
        (Stage.OVERDUE, "zheng-lei"), (Stage.ESCALATION, "zhang-wei"),
        (Stage.ESCALATION, "zhao-min")}


@pytest.mark.parametrize(("hour", "sends"), [(0, False), (7, False), (9, True), (19, True),
                                             (20, False), (23, False)])
def test_quiet_hours_hold_everything(config: Config, hour: int, sends: bool) -> None:
    t = task(due=date(2026, 12, 3))  # Thursday: due at 09:00
    moment = datetime(2026, 12, 3, hour, tzinfo=SHANGHAI) + timedelta(minutes=30)
    assert bool(plan_at(config, moment, [t]).send) is sends


def test_a_missed_stage_gives_way_to_one_coming_later_the_same_day(config: Config) -> None:
    t = task(due=date(2026, 12, 3))  # the eve (Wednesday) was missed; back at 08:30 Thursday
    early = plan_at(config, at("2026-12-03 08:30"), [t])
    assert early.send == [] and {n.stage for n in early.skip} == {Stage.ADVANCE, Stage.EVE}
    handled = {n.key for n in early.skip}
    assert [n.stage for n in plan_at(config, at("2026-12-03 09:00"), [t], handled).send] == [
        Stage.DUE]


def test_stages_before_the_task_existed_are_recorded_as_skipped(config: Config) -> None:
    late = task(opened=at("2026-12-24 10:00"))  # advance was at 09:00 that day
    plan = plan_at(config, at("2026-12-24 10:01"), [late])
    assert plan.send == [] and [n.stage for n in plan.skip] == [Stage.ADVANCE]


def test_a_task_past_all_its_stages_is_reported_settled(config: Config) -> None:
    t = task(due=date(2026, 11, 30))
    first = plan_at(config, at("2026-12-21 10:00"), [t])  # long after the overdue window
    assert first.send == [] and first.skip and first.settled == []  # skips to record first
    handled = {n.key for n in first.skip}
    again = plan_at(config, at("2026-12-21 10:01"), [t], handled)
    assert again.send == again.skip == [] and again.settled == [t]
    ongoing = task(due=date(2026, 12, 31))
    assert plan_at(config, at("2026-12-21 10:01"), [ongoing]).settled == []


def test_skip_marks_say_what_was_skipped_and_nothing_more(config: Config) -> None:
    """A task whose every missed stage is skipped is marked for everyone; a task that also
    sends something is marked per recipient, so a message not sent yet stays unhandled."""
    gone, current = task(due=date(2026, 11, 30)), task(due=date(2026, 12, 31))
    moment = at("2026-12-21 10:00")
    plan = plan_at(config, moment, [gone])
    assert plan.send == [] and skip_marks(plan) == {
        gone.key: {EVERYONE: max(n.at for n in plan.skip)}}
    again = task_notices(config.org, [gone], CAL, moment + timedelta(minutes=1), set(),
                         {"wu-fang": ["ma-li"]}, as_stored(plan))  # a stand-in: nothing old
    assert again.send == again.skip == []
    down = plan_at(config, at("2026-12-30 10:00"), [current])  # advance missed, eve sent
    assert down.send and down.skip
    assert set(skip_marks(down)[current.key]) == {n.recipient for n in down.skip}


def as_stored(plan, moves: int = 0):  # type: ignore[no-untyped-def]
    """The plan's skip marks as the store keeps them."""
    return {task: {r: SkipMark(m, moves) for r, m in by.items()}
            for task, by in skip_marks(plan).items()}


def test_a_mark_knows_stages_by_name_when_the_deadline_moves(config: Config) -> None:
    """As outbox keys did: after the deadline moves, what was skipped under the old one
    stays handled, and a stage that had not come under it (here the escalation, which the
    earlier deadline brings forward) is looked at again."""
    t = task(due=date(2026, 12, 31))
    first = plan_at(config, at("2027-01-05 08:00"), [t])
    assert first.send == [] and Stage.ESCALATION not in {n.stage for n in first.skip}
    moved = t.with_due(date(2026, 12, 28))
    again = task_notices(config.org, [moved], CAL, at("2027-01-05 08:01"), set(), None,
                         as_stored(first))
    found = {n.stage for n in [*again.send, *again.skip]}
    assert Stage.ESCALATION in found
    assert not found & {Stage.ADVANCE, Stage.EVE, Stage.DUE}
    later = t.with_due(date(2027, 1, 29))  # moved later: the old stages are not said again
    third = task_notices(config.org, [later], CAL, at("2027-01-05 08:01"), set(), None,
                         as_stored(first))
    assert not {n.stage for n in [*third.send, *third.skip]} & {Stage.ADVANCE, Stage.EVE,
                                                                 Stage.DUE}
