"""The reconciliation pass against a real store and a recording channel, with a fake clock."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from datetime import timedelta

import pytest

from bot.app import App
from bot.channels.base import PermanentSendError, TransientSendError
from bot.clock import FakeClock
from bot.config import Config
from bot.delivery import Deliverer
from handlers import text
from handlers.messages import Inbound
from storage.audit import verify
from storage.repository import Delivery
from tests.builders import RecordingChannel, at, numbers_in


@pytest.fixture
def bureau(config: Config) -> tuple[App, FakeClock]:
    """The example bureau, in use since 1 November, everything open."""
    clock = FakeClock(at("2026-11-01 08:00"))
    app = App.open(config, clock)
    yield app, clock
    app.close()


def deliverer(app: App, channel: RecordingChannel, defer: bool = False) -> Deliverer:
    return Deliverer(app, {channel.name: channel}, defer_unreached=defer)


LATE = re.compile(r"已逾期\d+个工作日")


def ledger_types(app: App) -> Counter[str]:
    lines = app.store.ledger_path().read_text(encoding="utf-8").splitlines()
    return Counter(line.split('"type":"')[1].split('"')[0] for line in lines)


def test_the_advance_reminder_goes_out_once(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    channel = RecordingChannel()
    d = deliverer(app, channel)
    clock.set(at("2026-11-23 08:59"))
    d.run_pass(clock.now())
    assert channel.sent == []
    clock.set(at("2026-11-23 09:00"))
    d.run_pass(clock.now())
    [wu] = channel.texts_for("wu-fang")  # three tasks, one message
    assert wu.count("还有7天") == 3 and len(numbers_in(wu)) == 3
    [reply] = [r for who, _, r in channel.sent if who == "wu-fang"]
    assert [b.label for b in reply.buttons] == [f"完成【{n}】" for n in numbers_in(wu)] + [
        "查看待办"]
    before = len(channel.sent)
    for minutes in range(1, 5):
        d.run_pass(clock.now() + timedelta(minutes=minutes))
    assert len(channel.sent) == before
    states = Counter((e.state, e.stage) for e in app.store.deliveries())
    # Monday: the admin's weekly note asks for next year's holidays (none in [calendar]).
    assert states == {(Delivery.SENT, "advance"): 13, (Delivery.SENT, "weekly-digest"): 5}
    [note] = channel.texts_for("zhao-min")
    assert "【节假日提示】2027 年" in note and "【投递情况】" not in note
    assert before == 10  # 13 reminders to 5 people, 4 group digests, the admin's note


def test_a_check_in_at_0859_stops_the_0900_reminder(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    channel = RecordingChannel()
    d = deliverer(app, channel)
    clock.set(at("2026-11-23 08:59"))
    task = app.store.task("theme-day:branch-1:2026-11")
    assert task is not None
    reply = app.handle(Inbound("console", "wu-fang", f"打卡 {task.number} 已开展", clock.now()))
    assert reply.text.startswith(text.CHECKED_IN)
    clock.set(at("2026-11-23 09:00"))
    d.run_pass(clock.now())
    assert task.number not in channel.numbers_for("wu-fang")
    assert len(channel.numbers_for("wu-fang")) == 2  # the other two November tasks

    # Undone later that day: nothing more today; reminders resume at the next stage.
    clock.set(at("2026-11-23 11:00"))
    app.handle(Inbound("console", "wu-fang", "撤销", clock.now()))
    d.run_pass(clock.now() + timedelta(minutes=1))
    assert len(channel.numbers_for("wu-fang")) == 2
    clock.set(at("2026-11-27 09:00"))  # Friday, the eve of Monday's deadline
    d.run_pass(clock.now())
    assert channel.numbers_for("wu-fang").count(task.number) == 1


def test_escalation_reaches_the_supervisor_and_the_admins_and_the_ledger(
        bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    channel = RecordingChannel()
    d = deliverer(app, channel)
    for day in ("2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03"):
        clock.set(at(f"{day} 09:00"))
        d.run_pass(clock.now())
    [zhang] = [t for t in channel.texts_for("zhang-wei") if t.startswith("【逾期督办】")]
    assert len(numbers_in(zhang)) == 6  # branches 2 and 3, three November tasks each: one
    assert "机关第二党支部" in zhang and "负责人：郑磊" in zhang
    assert "机关第一党支部" not in zhang  # not his unit
    assert "督促" in zhang  # he supervises them
    [admin] = [t for t in channel.texts_for("zhao-min") if t.startswith("【逾期知会】")]
    assert len(numbers_in(admin)) == 13  # the admin hears of all of them, for the record
    assert "督促" not in admin
    assert len(app.store.escalations()) == 13  # one accountability item per task…
    assert ledger_types(app)["escalations"] == 1  # …all in the pass's one record
    [record] = [json.loads(line) for line in app.store.ledger_path().read_text(
        encoding="utf-8").splitlines() if '"type":"escalations"' in line]
    # Each item holds what the accountability item is read from, nothing reading supplies
    # (its due date is the task's, as the ledger has it then): a city's backlog has 10,000.
    assert {k for item in record["data"]["items"] for k in item} == {
        "task", "to", "workdays_overdue"}
    wu = channel.texts_for("wu-fang")
    assert len(wu) == 4 and sum(len(LATE.findall(t)) for t in wu) == 9  # 3 days × 3 tasks


def test_three_days_down_sends_only_what_is_still_useful(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    channel = RecordingChannel()
    d = deliverer(app, channel)
    clock.set(at("2026-11-26 09:00"))
    d.run_pass(clock.now())
    channel.sent.clear()
    # Down from Thursday afternoon until Tuesday 10:00: eve (Fri) and due (Mon) were missed.
    clock.set(at("2026-12-01 10:00"))
    d.run_pass(clock.now())
    [wu] = channel.texts_for("wu-fang")
    assert len(LATE.findall(wu)) == 3 and len(numbers_in(wu)) == 3  # each task once
    # Eve (Fri) and due (Mon) were skipped: one mark a task and person, through Monday's
    # reminder, not an outbox entry per missed stage.
    marks = {task: by["wu-fang"].through for task, by in app.store.skipped_through().items()
             if "wu-fang" in by}
    assert len(marks) == 3 and set(marks.values()) == {at("2026-11-30 09:00")}
    assert not [e for e in app.store.deliveries() if e.state is Delivery.SKIPPED]
    d.run_pass(clock.now() + timedelta(minutes=5))
    assert len(channel.texts_for("wu-fang")) == 1
    app.close()
    reopened = App.open(app.config, clock)  # as marked after a restart: nothing said again
    d = deliverer(reopened, channel)
    d.run_pass(clock.now() + timedelta(minutes=10))
    assert len(channel.texts_for("wu-fang")) == 1
    reopened.close()


def test_transient_failures_retry_with_back_off(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    channel = RecordingChannel(only={"zhou-tao"})
    channel.failures = [TransientSendError("网络超时"), TransientSendError("网络超时")]
    d = deliverer(app, channel, defer=True)
    clock.set(at("2026-12-11 09:00"))  # advance reminder of the office summary (due 12-20)
    d.run_pass(clock.now())
    assert channel.sent == []
    entry = next(e for e in app.store.deliveries() if e.recipient == "zhou-tao")
    assert entry.state is Delivery.PENDING and entry.attempts == 1 and entry.not_before
    d.run_pass(clock.now() + timedelta(seconds=30))  # before the back-off: not tried
    assert next(e for e in app.store.deliveries() if e.recipient == "zhou-tao").attempts == 1
    d.run_pass(clock.now() + timedelta(minutes=1))
    d.run_pass(clock.now() + timedelta(minutes=3))
    assert len(channel.sent) == 1
    mine = [e for e in app.store.deliveries() if e.recipient == "zhou-tao"]
    assert [(e.state, e.attempts) for e in mine] == [(Delivery.SENT, 3)]


def test_permanent_failures_stop_and_reach_the_admins(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    channel = RecordingChannel()
    channel.failures = [PermanentSendError("用户不存在或已离职")]
    d = deliverer(app, channel)
    clock.set(at("2026-12-11 09:00"))
    d.run_pass(clock.now())
    failed = [e for e in app.store.deliveries() if e.state is Delivery.FAILED]
    assert failed and {(e.recipient, e.error) for e in failed} == {
        (failed[0].recipient, "用户不存在或已离职")}  # one message, of several reminders
    d.run_pass(clock.now() + timedelta(minutes=10))
    assert len([e for e in app.store.deliveries() if e.state is Delivery.FAILED]) == len(failed)
    clock.set(at("2026-12-14 09:00"))  # Monday: the admin's weekly report
    d.run_pass(clock.now())
    report = [t for t in channel.texts_for("zhao-min") if t.startswith("【投递情况】")]
    assert len(report) == 1 and "用户不存在或已离职" in report[0]


def test_in_chat_only_the_person_at_the_console_is_served_now(
        bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    channel = RecordingChannel(only={"wu-fang"})
    d = deliverer(app, channel, defer=True)
    clock.set(at("2026-11-23 09:00"))
    d.run_pass(clock.now())
    assert {who for who, _, _ in channel.sent} == {"wu-fang"}
    assert {e.recipient for e in app.store.deliveries()} == {"wu-fang"}  # others wait


def test_a_recipient_without_any_channel_is_recorded_as_failed(
        bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    channel = RecordingChannel(only={"wu-fang"})
    d = deliverer(app, channel, defer=False)
    clock.set(at("2026-11-23 09:00"))
    d.run_pass(clock.now())
    failed = {e.recipient for e in app.store.deliveries() if e.state is Delivery.FAILED}
    assert {"zheng-lei", "feng-xue", "he-jun"} <= failed


def test_weekly_digest_to_unit_groups_with_mentions(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    channel = RecordingChannel()
    d = deliverer(app, channel)
    clock.set(at("2026-11-02 09:00"))  # first working day of the week and of the month
    d.run_pass(clock.now())
    assert not [who for who, group, _ in channel.sent if group]  # nothing due within 2 weeks
    monthly = channel.texts_for("li-hongmei")
    assert len(monthly) == 1 and monthly[0].startswith("【月度情况】")
    assert monthly[0].index("办公室") < monthly[0].index("机关第一党支部")  # config order
    assert "您本人" in monthly[0] and monthly[0].rstrip().endswith("查看您本人的事项。")

    clock.set(at("2026-11-23 09:00"))  # Monday, a week before the November deadlines
    d.run_pass(clock.now())
    groups = [(who, r) for who, group, r in channel.sent if group]
    assert [who for who, _ in groups] == ["branch-1", "branch-2", "branch-3", "branch-4"]
    first = groups[0][1]
    assert first.mentions == ("wu-fang",)
    assert first.text.startswith("【本周提示】机关第一党支部：逾期及两周内截止的事项 3 项")
    assert "另有 3 项截止较晚" in first.text


def test_a_crash_leaves_sending_entries_unknown_not_resent(
        bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    channel = RecordingChannel()
    d = deliverer(app, channel)
    clock.set(at("2026-11-23 09:00"))
    d.run_pass(clock.now())
    entry = next(e for e in app.store.deliveries() if e.state is Delivery.SENT)
    app.store.move_deliveries([entry], Delivery.SENDING, clock.now())  # as if killed mid-send
    assert d.recover(clock.now()) == 1
    assert app.store.deliveries()[0].state is Delivery.UNKNOWN
    sent = len(channel.sent)
    d.run_pass(clock.now() + timedelta(minutes=1))
    assert len(channel.sent) == sent


def test_waiting_entries_respect_working_days_and_go_stale(
        bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    channel = RecordingChannel(only={"wu-fang"})
    d = deliverer(app, channel, defer=True)
    clock.set(at("2026-11-23 09:00"))  # Monday: the advance reminders are planned…
    channel.failures = [TransientSendError("平台繁忙")]  # …but the one message fails
    d.run_pass(clock.now())
    assert channel.sent == []
    clock.set(at("2026-11-28 10:00"))  # Saturday: nothing, however long they waited
    d.run_pass(clock.now())
    clock.set(at("2026-11-27 22:00"))  # Friday night: quiet hours
    d.run_pass(clock.now())
    assert channel.sent == []
    clock.set(at("2026-11-30 09:00"))  # the deadline: the week-old advance is stale now
    d.run_pass(clock.now())
    [today] = channel.texts_for("wu-fang")
    assert today.count("，今天截止") == 3
    advance = [e for e in app.store.deliveries() if e.stage == "advance"]
    assert {e.state for e in advance} == {Delivery.SKIPPED}


def test_an_unforeseen_send_error_is_retried_not_stuck(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    channel = RecordingChannel(only={"zhou-tao"})
    channel.failures = [ConnectionResetError("reset by peer")]
    d = deliverer(app, channel, defer=True)
    clock.set(at("2026-12-11 09:00"))
    d.run_pass(clock.now())
    assert [e.state for e in app.store.deliveries() if e.recipient == "zhou-tao"] == [
        Delivery.PENDING]
    d.run_pass(clock.now() + timedelta(minutes=2))
    assert len(channel.sent) == 1


def test_admins_hear_of_each_problem_once(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    channel = RecordingChannel(only={"wu-fang", "zhao-min"})  # nobody else has a channel
    d = deliverer(app, channel, defer=False)
    reports: list[str] = []
    for day in ("2026-11-23", "2026-11-24", "2026-11-27", "2026-11-30", "2026-12-01",
                "2026-12-07"):
        clock.set(at(f"{day} 09:00"))
        d.run_pass(clock.now())
        reports += [t for t in channel.texts_for("zhao-min") if "【投递情况】" in t
                    and t not in reports]
    failed = [e for e in app.store.deliveries() if e.state is Delivery.FAILED]
    assert failed and all(e.channel == "" for e in failed)
    listed = sum(int(r.split("过去一周有 ")[1].split(" 条")[0]) for r in reports)
    assert len(reports) == 3  # three Mondays; the last one shares the morning's message
    messages = {(e.recipient, e.channel, e.updated) for e in failed}
    assert listed == len(messages)  # every failed message reported, none twice


def test_a_passs_escalations_and_entries_are_one_durable_append(
        bureau: tuple[App, FakeClock], monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 14: the morning that escalates 13 tasks syncs the ledger once for all of them
    and its new outbox entries (each still its own record in the chain), not 14 times."""
    app, clock = bureau
    d = deliverer(app, RecordingChannel(only=set()), defer=False)  # reaches nobody: no sends
    for day in ("2026-11-30", "2026-12-01", "2026-12-02"):
        clock.set(at(f"{day} 09:00"))
        d.run_pass(clock.now())
    ledger = app.store.ledger_path().resolve()
    synced: list[str] = []
    real = os.fsync

    def counted(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)
    monkeypatch.setattr(os, "fsync", counted)
    before, items = ledger_types(app), len(app.store.escalations())
    clock.set(at("2026-12-03 09:00"))  # the third working day overdue: escalation
    d.run_pass(clock.now())
    monkeypatch.setattr(os, "fsync", real)
    added = ledger_types(app) - before
    assert len(app.store.escalations()) - items == 13
    assert added["escalations"] == 1 and added["deliveries-added"] == 1
    assert synced.count(str(ledger)) == 1
    assert verify(app.store.folder).intact


def test_an_escalation_is_recorded_once_per_task(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    record = {"task": "theme-day:branch-1:2026-11", "stage": "escalation", "to": ["li-hongmei"]}
    app.store.add_deliveries([], clock.now(), [record])
    app.store.add_deliveries([], clock.now(), [record, record])
    assert len(app.store.escalations()) == 1 and ledger_types(app)["escalations"] == 1
