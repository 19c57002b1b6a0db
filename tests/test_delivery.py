"""The reconciliation pass against a real store and a recording channel, with a fake clock."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from bot.app import App
from bot.channels.base import PermanentSendError, TransientSendError
from bot.clock import FakeClock
from bot.config import Config
from bot.delivery import Deliverer
from handlers.messages import Inbound
from storage.repository import Delivery
from tests.builders import RecordingChannel, at


@pytest.fixture
def bureau(config: Config) -> tuple[App, FakeClock]:
    """The example bureau, in use since 1 November, everything open."""
    clock = FakeClock(at("2026-11-01 08:00"))
    app = App.open(config, clock)
    yield app, clock
    app.close()


def deliverer(app: App, channel: RecordingChannel, defer: bool = False) -> Deliverer:
    return Deliverer(app, {channel.name: channel}, defer_unreached=defer)


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
    wu = channel.texts_for("wu-fang")
    assert len(wu) == 3 and all(t.startswith("【待办提醒】") and "还有7天" in t for t in wu)
    assert channel.sent[0][2].buttons[0].label == "已完成"
    before = len(channel.sent)
    for minutes in range(1, 5):
        d.run_pass(clock.now() + timedelta(minutes=minutes))
    assert len(channel.sent) == before
    states = Counter((e.state, e.stage) for e in app.store.deliveries())
    # Monday: the admin's weekly report had nothing to say, so it was not sent.
    assert states == {(Delivery.SENT, "advance"): 13, (Delivery.SENT, "weekly-digest"): 4,
                      (Delivery.SKIPPED, "weekly-digest"): 1}
    assert before == 17


def test_a_check_in_at_0859_stops_the_0900_reminder(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    channel = RecordingChannel()
    d = deliverer(app, channel)
    clock.set(at("2026-11-23 08:59"))
    task = app.store.task("theme-day:branch-1:2026-11")
    assert task is not None
    reply = app.handle(Inbound("console", "wu-fang", f"打卡 {task.number} 已开展", clock.now()))
    assert reply.text.startswith("已记录完成")
    clock.set(at("2026-11-23 09:00"))
    d.run_pass(clock.now())
    assert not any(f"【{task.number}】" in t for t in channel.texts_for("wu-fang"))
    assert len(channel.texts_for("wu-fang")) == 2  # the other two November tasks

    # Undone later that day: nothing more today; reminders resume at the next stage.
    clock.set(at("2026-11-23 11:00"))
    app.handle(Inbound("console", "wu-fang", "撤销", clock.now()))
    d.run_pass(clock.now() + timedelta(minutes=1))
    assert len(channel.texts_for("wu-fang")) == 2
    clock.set(at("2026-11-27 09:00"))  # Friday, the eve of Monday's deadline
    d.run_pass(clock.now())
    assert sum(f"【{task.number}】" in t for t in channel.texts_for("wu-fang")) == 1


def test_escalation_reaches_the_supervisor_and_the_admins_and_the_ledger(
        bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    channel = RecordingChannel()
    d = deliverer(app, channel)
    for day in ("2026-11-30", "2026-12-01", "2026-12-02", "2026-12-03"):
        clock.set(at(f"{day} 09:00"))
        d.run_pass(clock.now())
    zhang = [t for t in channel.texts_for("zhang-wei") if t.startswith("【逾期督办】")]
    assert len(zhang) == 6  # branches 2 and 3, three November tasks each
    assert any("机关第二党支部" in t and "负责人：郑磊" in t for t in zhang)
    assert not any("机关第一党支部" in t for t in zhang)  # not his unit
    assert len(channel.texts_for("zhao-min")) >= 13  # the admin hears of all of them
    assert ledger_types(app)["escalation"] == 13  # one accountability item per task
    assert sum(t.startswith("【逾期提醒】") for t in channel.texts_for("wu-fang")) == 9


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
    wu = channel.texts_for("wu-fang")
    assert len(wu) == 3 and all(t.startswith("【逾期提醒】") for t in wu)  # one per task
    skipped = [e for e in app.store.deliveries() if e.state is Delivery.SKIPPED]
    assert {e.stage for e in skipped if e.recipient == "wu-fang"} == {"eve", "due"}
    d.run_pass(clock.now() + timedelta(minutes=5))
    assert len(channel.texts_for("wu-fang")) == 3


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
    assert len(failed) == 1 and failed[0].error == "用户不存在或已离职"
    d.run_pass(clock.now() + timedelta(minutes=10))
    assert len([e for e in app.store.deliveries() if e.state is Delivery.FAILED]) == 1
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
    channel.failures = [TransientSendError("平台繁忙")] * 3  # …but none gets out
    d.run_pass(clock.now())
    assert channel.sent == []
    clock.set(at("2026-11-28 10:00"))  # Saturday: nothing, however long they waited
    d.run_pass(clock.now())
    clock.set(at("2026-11-27 22:00"))  # Friday night: quiet hours
    d.run_pass(clock.now())
    assert channel.sent == []
    clock.set(at("2026-11-30 09:00"))  # the deadline: the week-old advance is stale now
    d.run_pass(clock.now())
    texts = channel.texts_for("wu-fang")
    assert len(texts) == 3 and all(t.startswith("【今日截止】") for t in texts)
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
        reports += [t for t in channel.texts_for("zhao-min") if t.startswith("【投递情况】")
                    and t not in reports]
    failed = [e for e in app.store.deliveries() if e.state is Delivery.FAILED]
    assert failed and all(e.channel == "" for e in failed)
    listed = sum(int(r.split("过去一周有 ")[1].split(" 条")[0]) for r in reports)
    assert listed == len(failed)  # every failure reported, none twice


def test_an_escalation_is_recorded_once_per_task(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    record = {"task": "theme-day:branch-1:2026-11", "stage": "escalation", "to": ["li-hongmei"]}
    app.store.add_deliveries([], clock.now(), [record])
    app.store.add_deliveries([], clock.now(), [record])
    assert ledger_types(app)["escalation"] == 1
