"""Meetings (issue 16): announced to those invited, reminded, answered with leave, moved or
cancelled, recorded as held (纪实) — which completes the tasks and opens 补学 — and shown to
those allowed. Lived through the example bureau, with the delivery loop and the store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import App
from bot.clock import FakeClock
from bot.config import ConfigError, load
from bot.delivery import Deliverer
from handlers import text
from handlers.messages import Inbound
from handlers.text import MEETING_HEADS
from schedules.meetings import MeetingState, is_makeup
from schedules.reminders import Stage
from schedules.tasks import Attachment, Status
from storage.audit import verify
from storage.records import RecordType
from tests.builders import Chat, RecordingChannel, at, record_text, task_of
from tests.builders import announce as announce_as

BRANCH_1 = ("chen-jing", "zhao-min", "zhou-tao", "wu-fang", "ma-li", "qian-hua", "song-jia")


@pytest.fixture
def bureau(config_path: Path) -> Iterator[tuple[App, FakeClock]]:
    clock = FakeClock(at("2026-12-01 10:00"))  # a Tuesday
    app = App.open(load(config_path), clock)
    app.refresh(clock.now())
    yield app, clock
    app.close()


def announce(app: App, clock: FakeClock, words: str = "周五下午3点 三楼会议室 学习贯彻全会精神",
             tasks: str | None = None) -> int:
    return announce_as(app, clock, tasks or str(task_of(app, "theme-day").number), words)


def ledger_records(app: App) -> int:
    return app.store.records()


def deliver(app: App, clock: FakeClock, when: str) -> RecordingChannel:
    """A delivery pass at `when`; the meeting messages it sent (digests and task reminders
    of the same pass are left out)."""
    channel = RecordingChannel()
    clock.set(at(when))
    Deliverer(app, {"console": channel}, False).run_pass(clock.now())
    heads = tuple(MEETING_HEADS.values())
    channel.sent = [item for item in channel.sent if item[2].text.startswith(heads)]
    return channel


# ---- announcing ---------------------------------------------------------------------------

def test_a_meeting_is_announced_to_each_member_and_the_group(bureau: tuple[App, FakeClock]
                                                              ) -> None:
    app, clock = bureau
    theme = task_of(app, "theme-day")
    highest = max(t.number for t in app.store.all_tasks())
    number = announce(app, clock)
    assert number == highest + 1  # from the task sequence: a number means one thing
    meeting = app.store.meeting(number)
    assert meeting is not None and meeting.tasks == (theme.key,)
    assert meeting.start == at("2026-12-04 15:00") and meeting.place == "三楼会议室"
    assert meeting.invitees == BRANCH_1
    channel = deliver(app, clock, "2026-12-01 10:01")
    told = {who for who, group, _ in channel.sent if not group}
    assert told == set(BRANCH_1) - {"wu-fang"}  # the organiser has the reply already
    assert [who for who, group, _ in channel.sent if group] == ["branch-1"]
    notice = next(r for who, _, r in channel.sent if who == "song-jia")
    assert notice.text.startswith(MEETING_HEADS[Stage.MEETING_NOTICE])
    assert [b.command for b in notice.buttons] == [f"参加 {number}", f"请假 {number}"]
    assert Chat(app, clock, "宋佳").say("会议").count(f"【{number}】") == 1
    assert f"【{number}】" in Chat(app, clock, "宋佳").say("待办")
    again = deliver(app, clock, "2026-12-01 10:02")
    assert not again.sent  # once per (meeting, stage, recipient)


def test_one_meeting_fulfils_several_tasks(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    general = task_of(app, "three-meetings-general", period="2026-Q4")
    special = task_of(app, "branch-meeting", period="2026-Q4")
    number = announce(app, clock, tasks=f"{general.number}+{special.number}")
    meeting = app.store.meeting(number)
    assert meeting is not None and meeting.tasks == (general.key, special.key)
    clock.set(at("2026-12-04 16:00"))
    Chat(app, clock, "吴芳").say(f"纪实 {number} 主持 吴芳")
    for key in meeting.tasks:
        done = app.store.task(key)
        assert done is not None and done.status is Status.DONE
        assert done.checkin is not None and done.checkin.at == at("2026-12-04 15:00")
    # nobody records the same meeting twice
    wu = Chat(app, clock, "吴芳")
    assert wu.say(f"完成 {special.number}") == text.already_done(
        f"【{special.number}】" + text.describe(app.org, special), "12月4日（周五）")


def test_the_committee_meeting_invites_the_committee(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    committee = task_of(app, "three-meetings-committee")
    number = announce(app, clock, tasks=str(committee.number))
    meeting = app.store.meeting(number)
    assert meeting is not None
    assert meeting.invitees == app.org.units["branch-1"].committee


@pytest.mark.parametrize("words, says", [
    ("三楼会议室", text.meeting_time_missing("none")),
    ("12月5日 三楼", text.meeting_time_missing("time")),
    ("今天上午9点 三楼", text.meeting_in_past("12月1日（周二）09:00")),
    ("周五晚上11点 三楼", text.meeting_at_night("12月4日（周五）23:00")),
    ("2028-01-05 15:00 三楼", text.meeting_too_far("2028年1月5日（周三）15:00")),
    ("周五下午3点 三楼 " + "议" * 10_000, text.too_long("议题", 10_000, 200)),
])
def test_a_bad_announcement_says_why_and_changes_nothing(bureau: tuple[App, FakeClock],
                                                         words: str, says: str) -> None:
    app, clock = bureau
    before = ledger_records(app)
    theme = task_of(app, "theme-day")
    assert Chat(app, clock, "吴芳").say(f"会议 {theme.number} {words}") == says
    assert ledger_records(app) == before


def test_only_who_answers_for_the_unit_announces(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    theme = task_of(app, "theme-day")
    before = ledger_records(app)
    assert Chat(app, clock, "宋佳").say(f"会议 {theme.number} 周五下午3点") == text.no_such_task(
        theme.number)
    report = task_of(app, "annual-inspection", "party-committee", "2026")
    assert Chat(app, clock, "陈静").say(f"会议 {report.number} 周五下午3点") == (
        text.not_a_meeting_duty(f"【{report.number}】" + text.describe(
            app.org, report, "chen-jing"), report.number))
    assert ledger_records(app) == before


def test_a_keyword_finds_the_task_of_the_meetings_period(bureau: tuple[App, FakeClock]
                                                         ) -> None:
    app, clock = bureau
    number = announce(app, clock, tasks="主题党日")
    meeting = app.store.meeting(number)
    assert meeting is not None and meeting.tasks == (task_of(app, "theme-day").key,)
    taken = Chat(app, clock, "吴芳").say("会议 主题党日 下周一上午9点 三楼")
    assert taken == text.task_has_meeting(
        f"【{task_of(app, 'theme-day').number}】"
        + text.describe(app.org, task_of(app, "theme-day"), "wu-fang"), number,
        text.meeting_line(app.org, meeting, clock.now().date()))


# ---- reminders ----------------------------------------------------------------------------

def test_reminders_the_day_before_and_an_hour_before_not_to_those_on_leave(
        bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    number = announce(app, clock)
    deliver(app, clock, "2026-12-01 10:01")
    assert Chat(app, clock, "宋佳").say(f"请假 {number} 出差").startswith(
        text.leave_taken(text.meeting_line(app.org, app.store.meeting(number), clock.now().date()),
                         "吴芳", "出差", number, False)[:8])
    eve = deliver(app, clock, "2026-12-03 16:00")  # Thursday, the working day before
    reminded = {who for who, _, r in eve.sent
                if r.text.startswith(MEETING_HEADS[Stage.MEETING_EVE])}
    assert reminded == set(BRANCH_1) - {"song-jia"}
    soon = deliver(app, clock, "2026-12-04 14:00")
    assert {who for who, _, _ in soon.sent} == set(BRANCH_1) - {"song-jia"}
    assert not deliver(app, clock, "2026-12-04 14:30").sent


def test_no_eve_reminder_when_the_notice_came_less_than_a_day_ahead(
        bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    clock.set(at("2026-12-03 17:00"))
    number = announce(app, clock, "明天上午10点 三楼")
    deliver(app, clock, "2026-12-03 17:01")
    meeting = app.store.meeting(number)
    assert meeting is not None and meeting.start == at("2026-12-04 10:00")
    assert not deliver(app, clock, "2026-12-03 19:00").sent
    soon = deliver(app, clock, "2026-12-04 09:00")
    assert len(soon.sent) == len(BRANCH_1)


def test_a_reminder_in_quiet_hours_waits_for_their_end(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    number = announce(app, clock, "周五上午8点半 三楼")  # an hour before is 07:30: quiet
    deliver(app, clock, "2026-12-01 10:01")
    assert not deliver(app, clock, "2026-12-04 07:30").sent
    at_eight = deliver(app, clock, "2026-12-04 08:00")
    assert {who for who, _, _ in at_eight.sent} == set(BRANCH_1)
    assert all(str(number) in r.text for _, _, r in at_eight.sent)


def test_news_on_a_day_off_waits_for_the_next_working_morning(bureau: tuple[App, FakeClock]
                                                              ) -> None:
    app, clock = bureau
    clock.set(at("2026-12-05 11:00"))  # a Saturday
    announce(app, clock, "下周三下午3点 三楼")
    assert not deliver(app, clock, "2026-12-05 11:01").sent
    assert not deliver(app, clock, "2026-12-06 12:00").sent
    monday = deliver(app, clock, "2026-12-07 09:00")
    assert len(monday.sent) == len(BRANCH_1)  # six members and the group


# ---- leave, move, cancel ------------------------------------------------------------------

def test_leave_is_told_to_the_organiser_at_once_and_never_named_to_the_group(
        bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    number = announce(app, clock)
    deliver(app, clock, "2026-12-01 10:01")
    song = Chat(app, clock, "宋佳")
    line = text.meeting_line(app.org, app.store.meeting(number), clock.now().date())
    assert song.say(f"请假 {number}") == text.leave_reason_please(line, number)
    assert song.say("家中有事") == text.leave_taken(line, "吴芳", "家中有事", number, False)
    told = deliver(app, clock, "2026-12-01 10:05")
    assert [who for who, _, _ in told.sent] == ["wu-fang"]
    assert "宋佳" in told.sent[0][2].text and "家中有事" in told.sent[0][2].text
    Chat(app, clock, "钱华").say(f"请假 {number} 出差")
    second = deliver(app, clock, "2026-12-01 10:10")
    assert len(second.sent) == 1 and "钱华" in second.sent[0][2].text  # one per request
    group = Inbound("console", "吴芳", f"查询 {number}", clock.now(), conversation="group-1")
    in_group = app.handle(group).text
    assert "请假 2 人" in in_group and "宋佳" not in in_group and "出差" not in in_group
    other = Chat(app, clock, "马丽").say(f"查询 {number}")
    assert "请假 2 人" in other and "家中有事" not in other  # reasons: not to other members
    mine = Chat(app, clock, "吴芳").say(f"查询 {number}")
    assert "宋佳（家中有事）" in mine and "钱华（出差）" in mine
    assert Chat(app, clock, "宋佳").say(f"参加 {number}") == text.joined(line, withdrew=True)
    meeting = app.store.meeting(number)
    assert meeting is not None and "song-jia" not in meeting.on_leave()


def test_a_moved_meeting_tells_everyone_told_and_its_old_reminders_never_go_out(
        bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    number = announce(app, clock)
    deliver(app, clock, "2026-12-01 10:01")
    clock.set(at("2026-12-02 10:00"))
    wu = Chat(app, clock, "吴芳")
    assert wu.say(f"改期 {number} 下周一上午9点半").startswith("已改期")
    moved = deliver(app, clock, "2026-12-02 10:01")
    assert {who for who, _, _ in moved.sent} == set(BRANCH_1) - {"wu-fang"} | {"branch-1"}
    assert all(r.text.startswith(MEETING_HEADS[Stage.MEETING_MOVED]) for _, _, r in moved.sent)
    assert not deliver(app, clock, "2026-12-03 16:00").sent  # the old eve: never
    assert not deliver(app, clock, "2026-12-04 14:00").sent
    eve = deliver(app, clock, "2026-12-04 16:00")  # Friday before Monday the 7th
    assert len(eve.sent) == len(BRANCH_1)


def test_a_cancelled_meeting_says_so_once_and_leaves_its_task_open(
        bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    number = announce(app, clock)
    deliver(app, clock, "2026-12-01 10:01")
    reply = Chat(app, clock, "吴芳").say(f"取消会议 {number} 因故推迟")
    assert reply.startswith("已取消会议")
    told = deliver(app, clock, "2026-12-01 10:05")
    assert len(told.sent) == len(BRANCH_1)  # six members and the group
    assert all(r.text.startswith(MEETING_HEADS[Stage.MEETING_CANCELLED]) for _, _, r in told.sent)
    assert not deliver(app, clock, "2026-12-03 16:00").sent
    assert task_of(app, "theme-day").status is Status.OPEN
    meeting = app.store.meeting(number)
    assert meeting is not None and meeting.state is MeetingState.CANCELLED
    assert Chat(app, clock, "宋佳").say(f"请假 {number} 出差") == text.meeting_cancelled_already(
        text.meeting_line(app.org, meeting, clock.now().date()))


def test_cancelled_before_its_notice_went_out_says_nothing(bureau: tuple[App, FakeClock]
                                                           ) -> None:
    app, clock = bureau
    clock.set(at("2026-12-01 21:00"))  # quiet hours: the notice waits for the morning
    number = announce(app, clock)
    Chat(app, clock, "吴芳").say(f"取消会议 {number}")
    assert not deliver(app, clock, "2026-12-02 08:00").sent


@pytest.mark.parametrize("who, what", [("宋佳", "改期 {n} 下周一上午9点"),
                                       ("宋佳", "取消会议 {n}"), ("宋佳", "纪实 {n}")])
def test_only_the_organiser_changes_or_records(bureau: tuple[App, FakeClock], who: str,
                                               what: str) -> None:
    app, clock = bureau
    number = announce(app, clock)
    before = ledger_records(app)
    if what.startswith("纪实"):
        clock.set(at("2026-12-04 16:30"))
    line = text.meeting_line(app.org, app.store.meeting(number), clock.now().date())
    reply = Chat(app, clock, who).say(what.format(n=number))
    assert reply == text.not_organiser(line, "吴芳", record=what.startswith("纪实"))
    assert ledger_records(app) == before


# ---- the record (纪实) ---------------------------------------------------------------------

def test_a_record_completes_the_task_at_the_meeting_time_and_opens_makeup(
        bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    number = announce(app, clock)
    Chat(app, clock, "宋佳").say(f"请假 {number} 出差")
    clock.set(at("2026-12-07 11:00"))  # recorded the Monday after
    reply = Chat(app, clock, "吴芳").say(record_text(number))
    assert reply.startswith("已记录会议纪实")
    theme = task_of(app, "theme-day")
    assert theme.status is Status.DONE and theme.checkin is not None
    assert theme.checkin.at == at("2026-12-04 15:00")  # when held, not when typed
    assert theme.checkin.meeting == number and theme.checkin.person == "wu-fang"
    meeting = app.store.meeting(number)
    assert meeting is not None and meeting.state is MeetingState.HELD
    record = meeting.record
    assert record is not None
    assert {a.person: a.reason for a in record.absent} == {"qian-hua": "病假", "song-jia": "出差"}
    assert set(record.present) == set(BRANCH_1) - {"qian-hua", "song-jia"}
    assert (record.chair, record.recorder) == ("吴芳", "马丽")
    makeups = [app.store.task(k) for k in meeting.makeups]
    assert sorted(t.owner for t in makeups if t) == ["qian-hua", "song-jia"]
    for t in makeups:
        assert t is not None and is_makeup(t) and t.due.isoformat() == "2026-12-18"
    song = Chat(app, clock, "宋佳")
    mine = next(t for t in makeups if t and t.owner == "song-jia")
    assert f"【{mine.number}】{text.MAKEUP_PREFIX}" in song.say("待办")
    assert song.say(f"完成 {mine.number} 已自学").startswith(text.CHECKED_IN)
    assert not verify(app.store.folder).broken and verify(app.store.folder).intact


def test_attendance_on_leave_but_came(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    number = announce(app, clock)
    Chat(app, clock, "宋佳").say(f"请假 {number} 出差")
    clock.set(at("2026-12-04 16:30"))
    Chat(app, clock, "吴芳").say(f"纪实 {number} 出席 宋佳")
    meeting = app.store.meeting(number)
    assert meeting is not None and meeting.record is not None
    assert not meeting.record.absent and not meeting.makeups


def test_a_photo_after_the_record_joins_it(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    number = announce(app, clock)
    clock.set(at("2026-12-04 16:30"))
    Chat(app, clock, "吴芳").say(f"纪实 {number}")
    clock.set(at("2026-12-04 16:35"))
    photo = Inbound("console", "吴芳", "", clock.now(), message_id="p1",
                    attachments=(Attachment("image", "photo-1", "会场.jpg"),))
    assert app.handle(photo).text == text.meeting_attached(
        text.meeting_line(app.org, app.store.meeting(number), clock.now().date()), 1)
    meeting = app.store.meeting(number)
    assert meeting is not None and meeting.record is not None
    assert [a.ref for a in meeting.record.attachments] == ["photo-1"]
    assert app.handle(photo).text  # redelivered: attached once
    meeting = app.store.meeting(number)
    assert meeting is not None and meeting.record is not None
    assert len(meeting.record.attachments) == 1


def test_a_second_record_corrects_the_first_and_the_ledger_keeps_both(
        bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    number = announce(app, clock)
    clock.set(at("2026-12-04 16:30"))
    wu = Chat(app, clock, "吴芳")
    wu.say(f"纪实 {number} 缺席 钱华（病假）；缺席 马丽")
    meeting = app.store.meeting(number)
    assert meeting is not None
    first = {app.store.task(k).owner: app.store.task(k) for k in meeting.makeups}  # type: ignore[union-attr]
    assert set(first) == {"qian-hua", "ma-li"}
    clock.set(at("2026-12-04 17:00"))
    assert wu.say(f"纪实 {number} 时间 15:30；缺席 钱华（病假）").startswith("已更正会议纪实")
    meeting = app.store.meeting(number)
    assert meeting is not None and len(meeting.records) == 2
    theme = task_of(app, "theme-day")
    assert theme.checkin is not None and theme.checkin.at == at("2026-12-04 15:30")
    assert len(theme.checkins) == 1  # restated, not a second check-in
    ma = app.store.task(first["ma-li"].key)
    assert ma is not None and ma.status is Status.EXCUSED
    assert ma.excuse is not None and ma.excuse.reason == text.MAKEUP_NOT_NEEDED
    lines = app.store.ledger_path().read_text(encoding="utf-8")
    assert lines.count(f'"type":"{RecordType.MEETING_RECORDED}"') == 2


def test_bare_undo_does_not_take_a_meetings_check_in(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    number = announce(app, clock)
    clock.set(at("2026-12-04 16:30"))
    wu = Chat(app, clock, "吴芳")
    wu.say(f"纪实 {number}")
    theme = task_of(app, "theme-day")
    assert wu.say("撤销") == text.undo_meeting(f"【{theme.number}】" + text.describe(
        app.org, theme, "wu-fang"), number)
    assert task_of(app, "theme-day").status is Status.DONE


@pytest.mark.parametrize("lines, says", [
    ("缺席 冯雪", lambda app, line: text.record_not_invited("冯雪", line)),
    ("缺席 张三丰", lambda app, line: text.record_unknown_name("张三丰")),
    ("参会 钱华", lambda app, line: text.record_bad_line(
        1, "参会 钱华", "时间、地点、主持、记录、缺席、出席、列席、议题、内容、决议、决定")),
    ("议题 " + "议" * 10_000, lambda app, line: text.too_long("议题", 10_000, 1000)),
])
def test_a_bad_record_says_why_and_changes_nothing(bureau: tuple[App, FakeClock], lines: str,
                                                   says: object) -> None:
    app, clock = bureau
    number = announce(app, clock)
    clock.set(at("2026-12-04 16:30"))
    before = ledger_records(app)
    line = text.meeting_line(app.org, app.store.meeting(number), clock.now().date())
    assert Chat(app, clock, "吴芳").say(f"纪实 {number}\n{lines}") == says(app, line)  # type: ignore[operator]
    assert ledger_records(app) == before


def test_a_record_before_the_start_is_refused(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    number = announce(app, clock)
    line = text.meeting_line(app.org, app.store.meeting(number), clock.now().date())
    assert Chat(app, clock, "吴芳").say(f"纪实 {number}") == text.record_too_early(
        line, "12月4日（周五）15:00", number)


def test_a_name_matching_two_invitees_is_asked_again(config_path: Path) -> None:
    config_path.write_text(config_path.read_text(encoding="utf-8") + """
[[people]]
id = "wang-xiaohong"
name = "王小红"
units = ["branch-1"]

[[people]]
id = "li-xiaohong"
name = "李小红"
units = ["branch-1"]
""", encoding="utf-8")
    clock = FakeClock(at("2026-12-01 10:00"))
    app = App.open(load(config_path), clock)
    try:
        number = announce(app, clock)
        clock.set(at("2026-12-04 16:30"))
        assert Chat(app, clock, "吴芳").say(f"纪实 {number} 缺席 小红") == text.record_ambiguous(
            "小红", ["王小红", "李小红"])
    finally:
        app.close()


def test_leave_after_the_start_and_unknown_meetings(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    number = announce(app, clock)
    song = Chat(app, clock, "宋佳")
    assert song.say("请假 9999 出差") == text.no_such_meeting(9999)
    assert Chat(app, clock, "郑磊").say(f"请假 {number} 出差") == text.no_such_meeting(number)
    clock.set(at("2026-12-04 15:10"))
    line = text.meeting_line(app.org, app.store.meeting(number), clock.now().date())
    assert song.say(f"请假 {number} 出差") == text.meeting_begun(line)
    assert song.say(f"完成 {number}") == text.checkin_meeting(number)


def test_an_unrecorded_meeting_reminds_its_organiser_once(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    announce(app, clock)
    deliver(app, clock, "2026-12-01 10:01")
    assert not [w for w, _, r in deliver(app, clock, "2026-12-09 09:00").sent]  # day 3
    told = deliver(app, clock, "2026-12-10 09:00")  # after the 3rd working day after
    assert [w for w, _, _ in told.sent] == ["wu-fang"]
    assert told.sent[0][2].text.startswith(MEETING_HEADS[Stage.MEETING_UNRECORDED])
    assert not deliver(app, clock, "2026-12-11 09:00").sent


# ---- across a restart, and in the audit ---------------------------------------------------

def test_meetings_survive_a_restart_and_reminders_go_out_once(config_path: Path) -> None:
    clock = FakeClock(at("2026-12-01 10:00"))
    app = App.open(load(config_path), clock)
    number = announce(app, clock)
    Chat(app, clock, "宋佳").say(f"请假 {number} 出差")
    first = deliver(app, clock, "2026-12-01 10:01")
    app.close()
    app = App.open(load(config_path), clock)
    try:
        meeting = app.store.meeting(number)
        assert meeting is not None and "song-jia" in meeting.on_leave()
        assert not deliver(app, clock, "2026-12-01 10:02").sent
        assert first.sent
        # down from Wednesday to Friday 14:30: the eve reminder is past its use, the hour
        # before still has one
        late = deliver(app, clock, "2026-12-04 14:30")
        assert {w for w, _, _ in late.sent} == set(BRANCH_1) - {"song-jia"}
        assert all("分钟后" in r.text for _, _, r in late.sent)
        result = verify(app.store.folder)
        assert result.intact, result
    finally:
        app.close()


def test_the_audit_names_a_meeting_record_that_does_not_fit(config_path: Path) -> None:
    clock = FakeClock(at("2026-12-01 10:00"))
    app = App.open(load(config_path), clock)
    number = announce(app, clock)
    Chat(app, clock, "宋佳").say(f"请假 {number} 出差")
    folder = app.store.folder
    app.close()
    from tests.builders import rechain

    def point_elsewhere(items: list[dict[str, object]]) -> None:
        for item in items:
            if item["type"] == RecordType.MEETING_LEAVE:
                item["data"]["meeting"] = 9999  # type: ignore[index]
    rechain(folder / "ledger.jsonl", point_elsewhere)
    result = verify(folder)
    assert result.broken is not None and "9999" in result.broken.problem


# ---- config -------------------------------------------------------------------------------

@pytest.mark.parametrize("change, key, says", [
    (('id = "theme-day"', 'id = "theme-day"\nattendees = "everyone"'), "attendees", "不是可选值"),
    (('id = "annual-inspection"', 'id = "annual-inspection"\nattendees = "members"'),
     "attendees", "只有会议类事项"),
    (('id = "duty-report"', 'id = "duty-report"\nmeeting = true'), "meeting", "须适用于单位"),
    (('id = "theme-day"', 'id = "theme-day"\nalso = ["nobody"]'), "also[0]", "nobody"),
    (('committee = ["wu-fang", "chen-jing", "zhou-tao"]',
      'committee = ["wu-fang", "zheng-lei"]'), "committee[1]", "不是机关第一党支部的成员"),
    (('before_minutes = 60', 'before_minutes = -5'), "before_minutes", "之间"),
])
def test_meeting_config_is_validated(config_path: Path, change: tuple[str, str], key: str,
                                     says: str) -> None:
    original = config_path.read_text(encoding="utf-8")
    assert change[0] in original
    config_path.write_text(original.replace(change[0], change[1], 1), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load(config_path)
    assert e.value.key.endswith(key) and says in e.value.problem


def test_simulate_shows_the_meetings_in_the_store(config_path: Path) -> None:
    from bot.simulate import simulate
    from schedules.calendar import WorkCalendar
    clock = FakeClock(at("2026-12-01 10:00"))
    app = App.open(load(config_path), clock)
    number = announce(app, clock)
    app.close()
    config = load(config_path)
    messages = list(simulate(config, at("2026-12-02 00:00").date(), at("2026-12-04 00:00").date(),
                             WorkCalendar(), clock.now()))
    stages = {(m.at, n.stage) for m in messages for n in m.notices if n.meeting == number}
    assert (at("2026-12-03 16:00"), Stage.MEETING_EVE) in stages
    assert (at("2026-12-04 14:00"), Stage.MEETING_SOON) in stages
    eve = [m for m in messages if m.at == at("2026-12-03 16:00")]
    assert {m.recipient for m in eve} == set(BRANCH_1)


def test_a_task_whose_meeting_is_planned_is_completed_by_its_record(
        bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    number = announce(app, clock)
    theme = task_of(app, "theme-day")
    meeting = app.store.meeting(number)
    assert meeting is not None
    before = ledger_records(app)
    line = f"【{theme.number}】" + text.describe(app.org, theme, "wu-fang")
    assert Chat(app, clock, "吴芳").say(f"完成 {theme.number} 已开展") == text.checkin_planned(
        line, text.meeting_line(app.org, meeting, clock.now().date()), number)
    assert ledger_records(app) == before and task_of(app, "theme-day").status is Status.OPEN


def test_an_announcement_delivered_twice_announces_once(bureau: tuple[App, FakeClock]) -> None:
    app, clock = bureau
    theme = task_of(app, "theme-day")
    wu = Chat(app, clock, "吴芳")
    first = wu.say(f"会议 {theme.number} 周五下午3点 三楼", message_id="m-1")
    again = wu.say(f"会议 {theme.number} 周五下午3点 三楼", message_id="m-1")
    assert first.startswith("已发出会议通知") and len(app.store.meetings()) == 1
    meeting = app.store.meetings()[0]
    assert again == text.replayed_meeting(text.meeting_line(app.org, meeting,
                                                            clock.now().date()))


def test_a_corrected_record_moves_its_check_ins_in_time_for_the_digests(
        bureau: tuple[App, FakeClock]) -> None:
    """The digests read check-ins by date (`checkins_since`): a second 纪实 that says the
    meeting was held at another time moves its check-ins there."""
    app, clock = bureau
    number = announce(app, clock)  # Friday 15:00
    clock.set(at("2026-12-04 16:30"))
    wu = Chat(app, clock, "吴芳")
    wu.say(f"纪实 {number}")
    clock.set(at("2026-12-04 17:00"))
    assert wu.say(f"纪实 {number} 时间 15:30").startswith("已更正会议纪实")
    since = [(t.key, c.at) for t, c in app.store.checkins_since(at("2026-12-04 15:10"))]
    theme = task_of(app, "theme-day")
    assert (theme.key, at("2026-12-04 15:30")) in since
    everything = app.store.checkins_since(at("2026-12-04 00:00"))
    assert [c.at for _, c in everything] == sorted(c.at for _, c in everything)
    assert len({(t.key, c.id) for t, c in everything}) == len(everything)  # each once
