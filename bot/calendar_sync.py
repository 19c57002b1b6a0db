"""Meetings as WeCom 日程 (`[channels.wecom] calendar = true`, SPEC §5a): a planned meeting
gets a 日程 in its invitees' calendars, with WeCom's own reminder; a move updates it, a
cancel removes it. And the `respond_schedule` callback: a declined 日程 is leave.

A small step of the delivery pass: what a meeting's 日程 needs is decided from the meeting
alone (`schedules.meetings.calendar_step`), and each step taken is written to the ledger
(`meeting-scheduled`: the id and the move it reflects), so a restart neither repeats nor
misses one. A transient failure is tried again on the next pass, a few times; a permanent
one (WeCom refused the call) is logged once, recorded, and not tried again until the
meeting changes.

API facts, from WeCom's docs as copied in QQ::weixin::work::oa::schedule (metacpan,
v0.10: 93648 add, 97720 update, 97725 del, 97724 get; v0.04: the older 92622-92625) and
the callback pages 98111 / 97731 / 97732.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from bot.app import App
from bot.channels.base import (
    ChannelUnavailable,
    Outbound,
    PermanentSendError,
    SendError,
    TransientSendError,
    clip,
)
from bot.channels.wecom_api import WeComChannel
from handlers import text
from handlers.messages import Inbound
from schedules.meetings import CalendarStep, Meeting, calendar_step
from schedules.model import Org

log = logging.getLogger(__name__)

LENGTH = timedelta(minutes=90)  # a meeting has only a start; its 日程 lasts this long
MAX_ATTENDEES = 1000  # 93648: "日程参与者列表。最多支持1000人"
TEXT_LIMIT = 128  # 93648: summary "0 ~ 128 字符", location "不多于128个字符"
DESCRIPTION_LIMIT = 512  # 92622: "0 ~ 512 字符" (93648 now allows 1000)
# 93648: remind_before_event_secs "目前仅支持以下数值" 0, 5 min, 15 min, 1 h, 1 day; the same
# as negative remind_time_diffs, which wins when both are given (the other is deprecated).
REMIND_SECONDS = (0, 300, 900, 3600, 86400)
# 97724: attendees[].response_status 0 未处理, 1 待定, 2 全部接受, 3 仅接受一次, 4 拒绝.
DECLINED = 4
MAX_TRIES = 8  # transient failures of one step before it counts as failed for good
DONE = {CalendarStep.CREATE: "创建", CalendarStep.UPDATE: "更新", CalendarStep.REMOVE: "删除"}


def remind_seconds(before_minutes: int) -> int | None:
    """WeCom's reminder for `[meetings] before_minutes`: the longest it offers that is not
    earlier than asked (60 → 1 h, 30 → 15 min); None when meetings have no such reminder."""
    if before_minutes <= 0:
        return None
    return max(s for s in REMIND_SECONDS if s <= before_minutes * 60)


def schedule_body(org: Org, meeting: Meeting, userid_of: Callable[[str], str | None]
                  ) -> dict[str, Any]:
    """The `schedule` object of add and update (update overwrites, so both send it all).
    Attendees: the invited and 列席 with a WeCom account."""
    attendees: list[str] = []
    for person in (*meeting.invitees, *meeting.also):
        userid = userid_of(person)
        if userid and userid not in attendees:
            attendees.append(userid)
    seconds = remind_seconds(org.meetings.before_minutes)
    reminders: dict[str, Any] = {"is_remind": 0} if seconds is None else {
        "is_remind": 1, "remind_before_event_secs": seconds, "remind_time_diffs": [-seconds]}
    body: dict[str, Any] = {
        "start_time": int(meeting.start.timestamp()),  # Unix seconds (93648)
        "end_time": int((meeting.start + LENGTH).timestamp()),
        "attendees": [{"userid": u} for u in attendees[:MAX_ATTENDEES]],
        "summary": clip(text.calendar_summary(org, meeting), TEXT_LIMIT),
        "description": clip(meeting.topic, DESCRIPTION_LIMIT),
        "location": clip(meeting.place, TEXT_LIMIT),
        "reminders": reminders,
    }
    # 92622 requires the organizer; 93648 no longer lists it (the app's calendar holds the
    # 日程). Sent when the organiser has an account, as wechatpy 1.8.18 does.
    organizer = userid_of(meeting.organiser)
    if organizer:
        body["organizer"] = organizer
    return body


class CalendarSync:
    """Brings each live meeting's 日程 in line with the meeting, once per delivery pass."""

    def __init__(self, app: App, channel: WeComChannel,
                 stamp: Callable[[datetime], datetime] = lambda now: now) -> None:
        self.app, self.channel, self.stamp = app, channel, stamp
        self._tries: dict[tuple[int, int, CalendarStep], int] = {}  # memory only

    def run(self, now: datetime) -> int:
        """One pass; how many steps were taken. WeCom out of reach ends it early."""
        taken = 0
        for meeting in self.app.store.live_meetings():
            step = calendar_step(meeting, now)
            if step is None:
                continue
            try:
                self._take(meeting, step, now)
            except ChannelUnavailable as e:
                log.warning("企业微信日程同步暂停，下一轮再试：%s", e)
                return taken
            except PermanentSendError as e:
                self._give_up(meeting, step, str(e), now)
            except TransientSendError as e:
                key = (meeting.number, meeting.moves, step)
                tries = self._tries[key] = self._tries.get(key, 0) + 1
                if tries >= MAX_TRIES:
                    self._give_up(meeting, step, f"多次重试仍失败：{e}", now)
                elif tries == 1:
                    log.warning("会议 %d 的企业微信日程%s失败，下一轮重试：%s", meeting.number,
                                DONE[step], e)
            else:
                taken += 1
        return taken

    def _take(self, meeting: Meeting, step: CalendarStep, now: datetime) -> None:
        api, store = self.channel.api, self.app.store
        if step is CalendarStep.REMOVE:
            api.delete_schedule(meeting.schedule_id)
            store.note_schedule(meeting.number, meeting.schedule_id, meeting.moves,
                                self.stamp(now), removed=True)
            return
        body = schedule_body(self.app.org, meeting, self.channel.userid_of)
        if step is CalendarStep.CREATE:
            schedule_id = api.add_schedule(body)
        else:
            schedule_id = meeting.schedule_id
            api.update_schedule(schedule_id, body)
        store.note_schedule(meeting.number, schedule_id, meeting.moves, self.stamp(now))

    def _give_up(self, meeting: Meeting, step: CalendarStep, why: str, now: datetime) -> None:
        log.warning("会议 %d 的企业微信日程%s失败，不再重试：%s", meeting.number, DONE[step], why)
        self.app.store.note_schedule(meeting.number, meeting.schedule_id, meeting.moves,
                                     self.stamp(now), removed=step is CalendarStep.REMOVE,
                                     error=why)


def calendar_for(app: App, channels: Mapping[str, Outbound],
                 stamp: Callable[[datetime], datetime]) -> CalendarSync | None:
    """The pass's 日程 step, when the WeCom channel is connected and `calendar` is on."""
    wecom = channels.get(WeComChannel.name)
    settings = app.config.channel("wecom")
    if settings is None or not settings.calendar or not isinstance(wecom, WeComChannel):
        return None
    return CalendarSync(app, wecom, stamp)


def schedule_answered(app: App, channel: WeComChannel, userid: str, schedule_id: str,
                      message_id: str, at: datetime) -> None:
    """`respond_schedule`: someone answered a 日程 the app made. The event names only who
    and which 日程 (98111: FromUserName, CalId, ScheduleId), so the answer is read back
    (oa/schedule/get); a decline is leave, and the person is asked why. The event again —
    WeCom's retry, even after a restart — finds its leave recorded and does nothing."""
    if app.store.outcome_of(f"{WeComChannel.name}:{message_id}") is not None:
        return
    person = channel.person_of(userid)
    meeting = next((m for m in app.store.live_meetings() if m.schedule_id == schedule_id),
                   None)
    if person is None or meeting is None or not meeting.is_open():
        return
    try:
        found = channel.api.schedule(schedule_id)
    except SendError as e:
        log.warning("could not read back the WeCom 日程 of meeting %d: %s", meeting.number, e)
        return
    answers = found.get("attendees") if found else None
    if not isinstance(answers, list) or not any(
            isinstance(a, dict) and str(a.get("userid", "")).lower() == userid.lower()
            and a.get("response_status") == DECLINED for a in answers):
        return  # accepted, tentative, or not theirs to answer
    message = Inbound(channel=WeComChannel.name, sender=userid, text="", received_at=at,
                      message_id=message_id)
    reply = app.dispatcher.declined_in_calendar(message, meeting.number)
    if reply is None:
        return
    try:
        channel.send(person, False, reply)
    except SendError as e:
        log.warning("could not ask %s why they declined meeting %d: %s", person,
                    meeting.number, e)
