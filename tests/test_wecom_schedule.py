"""Meetings as WeCom 日程 (`[channels.wecom] calendar = true`), over loopback: the real client
code against `FakeWeCom`'s oa/schedule/* and `respond_schedule` callbacks encrypted as WeCom
does. Created once, moved → updated, cancelled → deleted, a restart repeats nothing, a
declined 日程 is leave with its reason asked; transient errors retried, permanent ones not."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import App
from bot.calendar_sync import LENGTH, remind_seconds
from bot.channels.base import PermanentSendError, SendError, TransientSendError
from bot.channels.wecom_api import WeComAPI
from bot.clock import FakeClock
from bot.config import ConfigError, load
from bot.delivery import Deliverer
from bot.platforms import Platforms, connect
from bot.runner import health
from bot.server import HttpServer, make_app
from handlers import text
from schedules.meetings import Meeting
from storage.audit import verify
from storage.records import RecordType
from tests.builders import EXAMPLE, Chat, at
from tests.fake_wecom import (
    ACCEPTED,
    DECLINED,
    SCHEDULE_CANCELLED,
    SYSTEM_BUSY,
    FakeWeCom,
    ManualClock,
)
from tests.test_wecom import AES_KEY, AGENT, CORP, ENV, TOKEN, USERS, wecom_section
from tests.wecom_callback import CallbackRequest, CallbackSimulator

BRANCH_1_ON_WECOM = {"ChenJing", "ZhaoMin", "ZhouTao", "WuFang"}  # the others have no userid


def calendar_config(folder: Path, base_url: str, calendar: bool) -> Path:
    path = folder / "config.toml"
    if not path.exists():
        shutil.copy(EXAMPLE, path)
        with path.open("a", encoding="utf-8") as f:
            f.write(wecom_section(base_url) + f"calendar = {str(calendar).lower()}\n"
                    "\n[server]\nport = 0\n")
    return path


@dataclass
class Rig:
    app: App
    clock: FakeClock
    fake: FakeWeCom
    sim: CallbackSimulator
    platforms: Platforms
    deliverer: Deliverer
    url: str
    http: httpx.AsyncClient

    async def post(self, request: CallbackRequest) -> httpx.Response:
        return await self.http.post(self.url, params=request.query, content=request.body)

    async def answered(self, request: CallbackRequest) -> httpx.Response:
        """Posted, and what it set in motion finished."""
        response = await self.post(request)
        assert self.platforms.adapter("wecom") is not None
        await self.platforms.adapter("wecom").drain()
        return response

    def say(self, who: str, words: str) -> str:
        return Chat(self.app, self.clock, who).say(words)

    def announce(self) -> Meeting:
        theme = self.app.store.task("theme-day:branch-1:2026-12")
        assert theme is not None
        reply = self.say("吴芳", f"会议 {theme.number} 周五下午3点 三楼会议室 学习贯彻全会精神")
        assert reply.startswith("已发出会议通知"), reply
        return self.app.store.meetings()[-1]

    def meeting(self, number: int) -> Meeting:
        found = self.app.store.meeting(number)
        assert found is not None
        return found

    def pass_at(self, when: str) -> None:
        self.clock.set(at(when))
        self.deliverer.run_pass(self.clock.now())

    def calls(self, action: str) -> list[Any]:
        return [r.body for r in self.fake.calls_to(f"oa/schedule/{action}")]


@asynccontextmanager
async def bot(folder: Path, fake: FakeWeCom, calendar: bool = True,
              clock: FakeClock | None = None) -> AsyncIterator[Rig]:
    """The bot over `folder`'s store, connected to `fake`; a second one on the same folder
    is the same bot restarted."""
    config = load(calendar_config(folder, fake.base_url, calendar))
    clock = clock or FakeClock(at("2026-12-01 10:00"))  # a Tuesday
    app = App.open(config, clock)
    wire = ManualClock()
    platforms = connect(config, app, ENV, clock=wire, sleep=wire.advance)
    deliverer = Deliverer(app, platforms.outbound, defer_unreached=False)
    server = HttpServer(make_app(lambda: health(app, deliverer), platforms.wiring.routes),
                        config.server)
    await server.start()
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            yield Rig(app, clock, fake, CallbackSimulator(TOKEN, AES_KEY, CORP, AGENT),
                      platforms, deliverer, f"http://127.0.0.1:{server.port}/wecom/callback",
                      http)
        assert platforms.adapter("wecom") is not None
        await platforms.adapter("wecom").drain()
    finally:
        await server.stop()
        app.close()


@pytest.fixture
def fake() -> Iterator[FakeWeCom]:
    with FakeWeCom(corp_id=CORP, agent_id=AGENT, known_users=USERS) as running:
        yield running


def schedule_records(app: App) -> list[dict[str, Any]]:
    lines = app.store.ledger_path().read_text(encoding="utf-8").splitlines()
    return [r["data"] for r in map(json.loads, lines)
            if r["type"] == RecordType.MEETING_SCHEDULED]


# ---- the 日程 follows the meeting --------------------------------------------------------

async def test_a_meeting_gets_one_schedule_for_its_invitees_with_the_reminder(
        tmp_path: Path, fake: FakeWeCom) -> None:
    async with bot(tmp_path, fake) as rig:
        meeting = rig.announce()
        rig.pass_at("2026-12-01 10:01")
        rig.pass_at("2026-12-01 10:02")
        (add,) = rig.calls("add")
        body = add["schedule"]
        assert {a["userid"] for a in body["attendees"]} == BRANCH_1_ON_WECOM
        assert body["organizer"] == "WuFang"
        assert body["start_time"] == int(at("2026-12-04 15:00").timestamp())
        assert body["end_time"] - body["start_time"] == LENGTH.total_seconds() == 90 * 60
        assert body["reminders"] == {"is_remind": 1, "remind_before_event_secs": 3600,
                                     "remind_time_diffs": [-3600]}  # [meetings] 60 minutes
        assert body["summary"] == text.calendar_summary(rig.app.org, meeting)
        assert (body["location"], body["description"]) == ("三楼会议室", "学习贯彻全会精神")
        (schedule_id,) = fake.live_schedules()
        assert rig.meeting(meeting.number).schedule_id == schedule_id


def test_wecom_reminder_is_the_nearest_it_offers_not_earlier_than_asked() -> None:
    assert [remind_seconds(m) for m in (60, 30, 15, 3, 0, 2000)] == [
        3600, 900, 900, 0, None, 86400]


async def test_a_move_updates_and_a_cancel_deletes_it(tmp_path: Path,
                                                       fake: FakeWeCom) -> None:
    async with bot(tmp_path, fake) as rig:
        number = rig.announce().number
        rig.pass_at("2026-12-01 10:01")
        (schedule_id,) = fake.live_schedules()
        assert rig.say("吴芳", f"改期 {number} 周五下午4点").startswith("已改期"), "moved"
        rig.pass_at("2026-12-01 10:05")
        rig.pass_at("2026-12-01 10:06")
        (update,) = rig.calls("update")
        assert update["schedule"]["schedule_id"] == schedule_id
        assert fake.schedules[schedule_id].body["start_time"] == int(
            at("2026-12-04 16:00").timestamp())
        assert fake.schedules[schedule_id].updates == 1
        rig.say("吴芳", f"取消会议 {number} 因故推迟")
        rig.pass_at("2026-12-01 10:10")
        rig.pass_at("2026-12-01 10:11")
        assert rig.calls("del") == [{"schedule_id": schedule_id}]
        assert fake.schedules[schedule_id].status == SCHEDULE_CANCELLED
        assert len(rig.calls("add")) == 1 and rig.meeting(number).schedule_removed


async def test_a_restart_between_passes_neither_repeats_nor_misses(
        tmp_path: Path, fake: FakeWeCom) -> None:
    clock = FakeClock(at("2026-12-01 10:00"))
    async with bot(tmp_path, fake, clock=clock) as rig:
        number = rig.announce().number
        rig.pass_at("2026-12-01 10:01")
        rig.say("吴芳", f"改期 {number} 周五下午4点")  # moved while the bot goes down
    async with bot(tmp_path, fake, clock=clock) as rig:
        rig.pass_at("2026-12-01 10:05")
        rig.pass_at("2026-12-01 10:06")
    async with bot(tmp_path, fake, clock=clock) as rig:
        rig.pass_at("2026-12-01 10:07")
        assert len(rig.calls("add")) == 1 and len(rig.calls("update")) == 1
        assert [(r["moves"], r.get("removed", False)) for r in schedule_records(rig.app)] == [
            (0, False), (1, False)]
        assert verify(rig.app.store.folder).intact  # the audit replays them too


def test_calendar_is_true_or_false(tmp_path: Path) -> None:
    path = calendar_config(tmp_path, "http://127.0.0.1:9/cgi-bin/", True)
    path.write_text(path.read_text(encoding="utf-8").replace(
        "calendar = true", 'calendar = "yes"'), encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load(path)
    assert e.value.key.endswith("calendar") and "true 或 false" in e.value.problem
    assert not load(EXAMPLE).channels["wecom"].calendar  # off unless asked for


async def test_calendar_off_makes_no_schedule_calls(tmp_path: Path, fake: FakeWeCom) -> None:
    async with bot(tmp_path, fake, calendar=False) as rig:
        number = rig.announce().number
        rig.pass_at("2026-12-01 10:01")
        rig.say("吴芳", f"取消会议 {number}")
        rig.pass_at("2026-12-01 10:05")
        assert not fake.calls_to("oa/schedule/")
        assert fake.calls_to("message/send")  # the notices themselves went out
        before = rig.app.store.records()
        assert (await rig.answered(rig.sim.schedule_answer("ZhouTao", "abc"))).status_code == 200
        assert rig.app.store.records() == before and not fake.calls_to("oa/schedule/")


# ---- failures ----------------------------------------------------------------------------

async def test_a_transient_error_is_retried_on_the_next_pass(tmp_path: Path,
                                                              fake: FakeWeCom) -> None:
    async with bot(tmp_path, fake) as rig:
        number = rig.announce().number
        fake.fail_next("oa/schedule/add", SYSTEM_BUSY, times=3)  # the client's own 3 tries
        rig.pass_at("2026-12-01 10:01")
        assert not fake.live_schedules() and rig.meeting(number).schedule_id == ""
        rig.pass_at("2026-12-01 10:02")
        assert len(fake.live_schedules()) == 1 and rig.meeting(number).schedule_id


@pytest.mark.parametrize("refusal", ["no 日程 permission", "an invalid attendee"])
async def test_a_permanent_error_is_logged_once_and_not_retried(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, refusal: str) -> None:
    known = [u for u in USERS if refusal == "no 日程 permission" or u != "ZhouTao"]
    with FakeWeCom(corp_id=CORP, agent_id=AGENT, known_users=known,
                   schedule_allowed=refusal == "an invalid attendee") as fake:
        async with bot(tmp_path, fake) as rig:
            number = rig.announce().number
            with caplog.at_level(logging.WARNING):
                for minute in range(1, 6):
                    rig.pass_at(f"2026-12-01 10:0{minute}")
            assert len(rig.calls("add")) == 1
            said = [r.getMessage() for r in caplog.records if r.name == "bot.calendar_sync"]
            assert len(said) == 1 and "不再重试" in said[0]
            code = "48002" if refusal == "no 日程 permission" else "40003"
            assert code in said[0] and code in rig.meeting(number).schedule_error
            assert "fake-app-secret" not in said[0]
            # Fixed in the console, then the meeting moved: tried again for the new time.
            fake.schedule_allowed, fake.known_users = True, None
            rig.say("吴芳", f"改期 {number} 周五下午4点")
            rig.pass_at("2026-12-01 10:10")
            assert len(rig.calls("add")) == 2 and len(fake.live_schedules()) == 1


# ---- a declined 日程 ----------------------------------------------------------------------

async def test_a_declined_schedule_is_leave_and_the_next_message_its_reason(
        tmp_path: Path, fake: FakeWeCom) -> None:
    async with bot(tmp_path, fake) as rig:
        number = rig.announce().number
        rig.pass_at("2026-12-01 10:01")
        (schedule_id,) = fake.live_schedules()
        before = len(fake.texts_to("ZhouTao"))
        rig.clock.advance(timedelta(minutes=3))
        fake.respond(schedule_id, "ZhouTao", DECLINED)
        event = rig.sim.schedule_answer("ZhouTao", schedule_id)
        response = await rig.answered(event)
        assert response.status_code == 200 and response.content == b""
        leave = rig.meeting(number).on_leave()["zhou-tao"]
        assert leave.reason == text.CALENDAR_DECLINED == "日程中已拒绝"
        (asked,) = fake.texts_to("ZhouTao")[before:]
        assert "日程中拒绝" in asked and f"请假 {number} 原因" in asked
        # WeCom's retry of the event, and the same event after a restart: nothing more.
        await rig.answered(event)
        assert rig.platforms.adapter("wecom") is not None
        rig.platforms.adapter("wecom")._recent.clear()
        await rig.answered(event)
        assert len(rig.meeting(number).leaves) == 1
        assert len(fake.texts_to("ZhouTao")) == before + 1
        # The organiser hears of it on the next pass, as of any leave.
        rig.pass_at("2026-12-01 10:05")
        assert any("周涛（日程中已拒绝）" in t for t in fake.texts_to("WuFang"))
        # The next free text is the reason (answered passively, in the HTTP response).
        rig.clock.advance(timedelta(minutes=2))
        reply = rig.sim.reply_fields((await rig.post(rig.sim.text("ZhouTao", "出差"))).content)
        assert reply["Content"].startswith("已更新请假原因"), reply["Content"]
        assert rig.meeting(number).on_leave()["zhou-tao"].reason == "出差"
        assert len(fake.texts_to("ZhouTao")) == before + 1


async def test_an_answer_that_is_not_a_decline_or_not_theirs_changes_nothing(
        tmp_path: Path, fake: FakeWeCom) -> None:
    async with bot(tmp_path, fake) as rig:
        number = rig.announce().number
        rig.pass_at("2026-12-01 10:01")
        (schedule_id,) = fake.live_schedules()
        before = rig.app.store.records()
        fake.respond(schedule_id, "ZhouTao", ACCEPTED)
        await rig.answered(rig.sim.schedule_answer("ZhouTao", schedule_id))
        fake.respond(schedule_id, "ZhouTao", DECLINED)
        await rig.answered(rig.sim.schedule_answer("SunLi", schedule_id))  # not invited
        await rig.answered(rig.sim.schedule_answer("ZhouTao", "somebodyelsesschedule"))
        assert rig.app.store.records() == before and not rig.meeting(number).on_leave()
        # Already on leave (asked in chat): the decline neither overwrites nor asks again.
        rig.say("周涛", f"请假 {number} 培训")
        await rig.answered(rig.sim.schedule_answer("ZhouTao", schedule_id))
        assert rig.meeting(number).on_leave()["zhou-tao"].reason == "培训"


async def test_a_hostile_or_malformed_schedule_event_is_refused_and_leaves_no_trace(
        tmp_path: Path, fake: FakeWeCom) -> None:
    async with bot(tmp_path, fake) as rig:
        number = rig.announce().number
        rig.pass_at("2026-12-01 10:01")
        (schedule_id,) = fake.live_schedules()
        fake.respond(schedule_id, "ZhouTao", DECLINED)
        before = rig.app.store.records()
        sim = rig.sim
        bad = [
            sim.bad_signature(sim.schedule_answer("ZhouTao", schedule_id)),
            sim.wrong_corp(sim.schedule_event_xml("ZhouTao", schedule_id=schedule_id)),
            sim.encrypt_post(sim.schedule_event_xml("ZhouTao", schedule_id="")),
            sim.encrypt_post(sim.schedule_event_xml(
                "ZhouTao", schedule_id=f"{schedule_id}<x>&amp;")),
            sim.encrypt_post(sim.schedule_event_xml("周" * 40, schedule_id=schedule_id)),
            sim.encrypt_post(sim.schedule_event_xml("ZhouTao", schedule_id=schedule_id)
                             .replace("</xml>", "<AgentID>1000099</AgentID></xml>")),
        ]
        for request in bad:
            response = await rig.answered(request)
            assert 400 <= response.status_code < 500 and response.content == b""
        assert rig.app.store.records() == before and not rig.meeting(number).on_leave()
        assert not fake.calls_to("oa/schedule/get")


# ---- the fake's 日程 API, through the bot's own client -------------------------------------

def test_the_fake_speaks_the_schedule_api_as_documented(fake: FakeWeCom) -> None:
    api = WeComAPI(CORP, "fake-app-secret", AGENT, fake.base_url)
    body = {"start_time": 1_796_000_000, "end_time": 1_796_005_400, "summary": "主题党日",
            "attendees": [{"userid": "ZhouTao"}, {"userid": "WuFang"}],
            "reminders": {"is_remind": 1, "remind_before_event_secs": 3600}}
    schedule_id = api.add_schedule(body)
    assert len(schedule_id) == 32
    fake.respond(schedule_id, "ZhouTao", DECLINED)
    found = api.schedule(schedule_id)
    assert found is not None and found["status"] == 0
    assert {"userid": "zhoutao", "response_status": DECLINED} in found["attendees"]
    with pytest.raises(SendError):  # WeCom offers no reminder 30 minutes before
        api.add_schedule({**body, "reminders": {"is_remind": 1,
                                                "remind_before_event_secs": 1800}})
    with pytest.raises(TransientSendError):  # not a code the bot knows: tried again later
        api.update_schedule("no-such-schedule", body)
    api.delete_schedule(schedule_id)
    gone = api.schedule(schedule_id)
    assert gone is not None and gone["status"] == SCHEDULE_CANCELLED
    assert not fake.live_schedules()
    fake.schedule_allowed = False
    with pytest.raises(PermanentSendError, match="可调用接口的应用"):
        api.add_schedule(body)
