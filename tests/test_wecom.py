"""WeCom end to end, over loopback: the real wechatpy client against `FakeWeCom`, and
callbacks encrypted as WeCom does (`CallbackSimulator`) posted to the running server."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import runner
from bot.app import App
from bot.channels.base import TransientSendError
from bot.channels.buttons import button_key, command_of
from bot.channels.wecom_api import PERMANENT, WeComChannel
from bot.clock import FakeClock
from bot.config import load
from bot.delivery import Deliverer
from bot.platforms import MissingSecret, Platforms, connect
from bot.runner import health
from bot.server import HttpServer, make_app
from handlers import text
from handlers.messages import Button, Reply
from schedules.tasks import Status
from storage.files import Refusal
from storage.repository import Delivery
from tests.builders import EXAMPLE, at
from tests.fake_wecom import SYSTEM_BUSY, FakeWeCom, ManualClock
from tests.wecom_callback import (
    SAMPLE_AGENT_ID,
    SAMPLE_CORP_ID,
    SAMPLE_ENCODING_AES_KEY,
    SAMPLE_POST_BODY,
    SAMPLE_POST_MSG_SIGNATURE,
    SAMPLE_POST_NONCE,
    SAMPLE_POST_TIMESTAMP,
    SAMPLE_TOKEN,
    SAMPLE_VERIFY_ECHOSTR,
    SAMPLE_VERIFY_MSG_SIGNATURE,
    SAMPLE_VERIFY_NONCE,
    SAMPLE_VERIFY_RESULT,
    SAMPLE_VERIFY_TIMESTAMP,
    CallbackRequest,
    CallbackSimulator,
)

# WeCom's published sample app: its token, key and corp id.
TOKEN, AES_KEY, CORP, AGENT = (SAMPLE_TOKEN, SAMPLE_ENCODING_AES_KEY, SAMPLE_CORP_ID,
                               SAMPLE_AGENT_ID)
ROBOT_KEY = "robot-key-branch-1"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(200)) + b"\xff\xd9"
USERS = ["WangJianGuo", "LiHongMei", "ZhangWei", "LiuZhiQiang", "ChenJing", "ZhaoMin",
         "SunLi", "ZhouTao", "WuFang", "ZhengLei", "FengXue", "HeJun"]
ENV = {"WECOM_TOKEN": TOKEN, "WECOM_AES_KEY": AES_KEY, "WECOM_SECRET": "fake-app-secret",
       "DUTYBOT_ROBOT_BRANCH_1": ROBOT_KEY}


def wecom_section(base_url: str, cards: bool = True) -> str:
    """The `[channels.wecom]` table for the sample corp, its secrets named as in ENV."""
    return f"""
[channels.wecom]
enabled = true
corp_id = "{CORP}"
agent_id = {AGENT}
token_env = "WECOM_TOKEN"
aes_key_env = "WECOM_AES_KEY"
secret_env = "WECOM_SECRET"
api_base_url = "{base_url}"
cards = {"true" if cards else "false"}
"""


def wecom_config(folder: Path, base_url: str, cards: bool = True) -> Path:
    path = folder / "config.toml"
    shutil.copy(EXAMPLE, path)
    with path.open("a", encoding="utf-8") as f:
        f.write(wecom_section(base_url, cards) + "\n[server]\nport = 0\n")
    return path


@dataclass
class Rig:
    app: App
    clock: FakeClock  # the bot's "now"
    wire: ManualClock  # the rate limits' and the fake's seconds
    fake: FakeWeCom
    sim: CallbackSimulator
    platforms: Platforms
    deliverer: Deliverer
    url: str
    http: httpx.AsyncClient

    async def post(self, request: CallbackRequest) -> httpx.Response:
        return await self.http.post(self.url, params=request.query, content=request.body)

    def checkins(self) -> int:
        return self.app.store.ledger_path().read_text(encoding="utf-8").count('"checkin",')

    def number(self, key: str) -> int:
        task = self.app.store.task(key)
        assert task is not None
        return task.number


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    wire = ManualClock()
    with FakeWeCom(corp_id=CORP, agent_id=AGENT, known_users=USERS, robot_keys=[ROBOT_KEY],
                   clock=wire) as fake:
        config = load(wecom_config(tmp_path, fake.base_url))
        clock = FakeClock(at("2026-11-26 10:00"))
        app = App.open(config, clock)
        platforms = connect(config, app, ENV, clock=wire, sleep=wire.advance)
        deliverer = Deliverer(app, platforms.outbound, defer_unreached=False)
        server = HttpServer(make_app(lambda: health(app, deliverer), platforms.wiring.routes),
                            config.server)
        await server.start()
        sim = CallbackSimulator(TOKEN, AES_KEY, CORP, AGENT)
        async with httpx.AsyncClient(timeout=10) as http:
            yield Rig(app, clock, wire, fake, sim, platforms, deliverer,
                      f"http://127.0.0.1:{server.port}/wecom/callback", http)
        assert platforms.adapter("wecom") is not None
        await platforms.adapter("wecom").drain()
        await server.stop()
        app.close()


def card_keys(body: dict[str, object]) -> list[str]:
    card = body["template_card"]
    assert isinstance(card, dict)
    return [b["key"] for b in card["button_list"]]


# ---- the published sample vectors --------------------------------------------------------

async def test_url_verification_with_the_published_sample(tmp_path: Path) -> None:
    with FakeWeCom(corp_id=CORP, agent_id=AGENT) as fake:
        config = load(wecom_config(tmp_path, fake.base_url))
        app = App.open(config, FakeClock(at("2026-11-26 10:00")))
        # The samples were signed in 2016: checked as of then (today they are too old).
        platforms = connect(config, app, ENV, wall=lambda: float(SAMPLE_VERIFY_TIMESTAMP))
        assert platforms.adapter("wecom") is not None
        good = platforms.adapter("wecom").verify({"msg_signature": SAMPLE_VERIFY_MSG_SIGNATURE,
                                       "timestamp": SAMPLE_VERIFY_TIMESTAMP,
                                       "nonce": SAMPLE_VERIFY_NONCE,
                                       "echostr": SAMPLE_VERIFY_ECHOSTR}, "test")
        assert (good.status, good.body) == (200, SAMPLE_VERIFY_RESULT.encode())
        bad = platforms.adapter("wecom").verify({"msg_signature": "0" * 40,
                                      "timestamp": SAMPLE_VERIFY_TIMESTAMP,
                                      "nonce": SAMPLE_VERIFY_NONCE,
                                      "echostr": SAMPLE_VERIFY_ECHOSTR}, "test")
        assert bad.status == 403 and bad.body == b""
        # The sample POST is a text from ChenJiaShun, who is not registered: a polite
        # refusal, encrypted, and nothing recorded.
        platforms.adapter("wecom").wall = lambda: float(SAMPLE_POST_TIMESTAMP) + 299
        answer = await platforms.adapter("wecom").receive(
            {"msg_signature": SAMPLE_POST_MSG_SIGNATURE, "timestamp": SAMPLE_POST_TIMESTAMP,
             "nonce": SAMPLE_POST_NONCE}, SAMPLE_POST_BODY.encode(), "test")
        assert answer.status == 200
        reply = CallbackSimulator.sample().reply_fields(answer.body)
        assert reply["ToUserName"] == "ChenJiaShun" and "尚未登记" in reply["Content"]
        app.close()


async def test_url_verification_over_http(rig: Rig) -> None:
    request = rig.sim.verify_url("echo-20261126")
    response = await rig.http.get(rig.url, params=request.query)
    assert response.status_code == 200 and response.text == "echo-20261126"
    old = rig.sim.verify_url("echo-old", timestamp=str(int(time.time()) - 301))
    response = await rig.http.get(rig.url, params=old.query)
    assert response.status_code == 403 and response.content == b""


async def test_replies_in_flight_are_drained_at_shutdown(tmp_path: Path) -> None:
    """`dutybot run` stopping (SIGTERM) while a card update is still on its way: the run
    ends only once it went out."""
    with FakeWeCom(corp_id=CORP, agent_id=AGENT, known_users=USERS) as fake:
        config = load(wecom_config(tmp_path, fake.base_url))
        app = App.open(config, FakeClock(at("2026-11-26 10:00")))
        platforms = connect(config, app, ENV)
        deliverer = Deliverer(app, platforms.outbound, defer_unreached=False)
        services = platforms.services(lambda: health(app, deliverer), config.server)
        server = next(s for s in services if isinstance(s, HttpServer))
        stop = asyncio.Event()
        running = asyncio.create_task(runner.run(app, deliverer, services, stop))
        await server.ready.wait()
        channel = platforms.outbound["wecom"]
        assert isinstance(channel, WeComChannel)
        channel.api.client.fetch_access_token()
        fake.stall(1.0, effective=False)  # the card update takes a second to land
        sim = CallbackSimulator(TOKEN, AES_KEY, CORP, AGENT)
        task = app.store.task("theme-day:branch-1:2026-11")
        assert task is not None
        tap = sim.card_click("WuFang", event_key=f"checkin-{task.number}", task_id="t-9",
                             response_code=fake.issue_response_code())
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.post(f"http://127.0.0.1:{server.port}/wecom/callback",
                                     params=tap.query, content=tap.body)
        assert answer.status_code == 200
        stop.set()  # what SIGTERM does
        await running
        fake.stall(0)
        assert len(fake.card_updates) == 1  # not lost with the process
        app.close()


# ---- commands and the passive reply ------------------------------------------------------

async def test_todo_is_answered_passively_within_the_second(rig: Rig) -> None:
    start = time.perf_counter()
    response = await rig.post(rig.sim.text("LiHongMei", "待办"))
    elapsed = time.perf_counter() - start
    assert response.status_code == 200 and elapsed < 1.0
    reply = rig.sim.reply_fields(response.content)
    assert reply["ToUserName"] == "LiHongMei" and reply["FromUserName"] == CORP
    assert reply["Content"].startswith("您有") and "述职报告" in reply["Content"]
    assert not rig.fake.calls_to("message/send")  # answered in the HTTP response itself


async def test_a_text_check_in_and_its_retry_record_once(rig: Rig) -> None:
    n = rig.number("branch-meeting:branch-1:2026-Q4")
    request = rig.sim.text("WuFang", f"打卡 {n} 已召开，参会12人", msg_id=7001)
    first = rig.sim.reply_fields((await rig.post(request)).content)["Content"]
    again = rig.sim.reply_fields((await rig.post(request)).content)["Content"]
    assert first.startswith(text.CHECKED_IN) and again == first
    assert rig.checkins() == 1
    # The same MsgId after a restart of the bot (memory gone): the store still knows it.
    assert rig.platforms.adapter("wecom") is not None
    rig.platforms.adapter("wecom")._recent.clear()
    third = rig.sim.reply_fields((await rig.post(request)).content)["Content"]
    assert third.startswith(text.REPLAYED) and rig.checkins() == 1


async def test_a_photo_after_a_check_in_attaches_to_it(rig: Rig) -> None:
    n = rig.number("theme-day:branch-1:2026-11")
    await rig.post(rig.sim.text("WuFang", f"打卡 {n} 已开展"))
    rig.clock.advance(timedelta(minutes=5))
    photo = rig.fake.add_media(JPEG)
    reply = rig.sim.reply_fields((await rig.post(rig.sim.image("WuFang", photo))).content)
    line = f"【{n}】{text.describe(rig.app.org, rig.app.store.task_by_number(n), 'wu-fang')}"
    assert reply["Content"] == text.attached(line, 1)
    task = rig.app.store.task_by_number(n)
    assert task is not None and task.checkin is not None
    [kept] = task.checkin.attachments
    assert (kept.kind, kept.ref, kept.size, kept.error) == ("image", photo, len(JPEG), "")
    assert rig.app.store.files.path(kept.sha256).read_bytes() == JPEG  # kept, not just its id
    rig.clock.advance(timedelta(minutes=11))
    document = rig.fake.add_media(b"%PDF-1.4 minutes", media_type="file",
                                  filename="minutes.pdf", content_type="application/pdf")
    late = rig.sim.reply_fields((await rig.post(rig.sim.file("WuFang", document))).content)
    assert late["Content"] == text.ATTACH_NO_CHECKIN
    task = rig.app.store.task_by_number(n)
    assert task is not None and task.checkin is not None and len(task.checkin.attachments) == 1


async def test_a_photo_whose_media_id_expired_is_recorded_as_not_kept_and_said(
        rig: Rig) -> None:
    n = rig.number("theme-day:branch-1:2026-11")
    await rig.post(rig.sim.text("WuFang", f"打卡 {n} 已开展"))
    photo = rig.fake.add_media(JPEG)
    rig.fake.expire_media(photo)
    reply = rig.sim.reply_fields((await rig.post(rig.sim.image("WuFang", photo))).content)
    assert text.file_not_kept(Refusal.DOWNLOAD.value, "", 20) in reply["Content"]
    task = rig.app.store.task_by_number(n)
    assert task is not None and task.checkin is not None
    [refused] = task.checkin.attachments  # recorded with its id and why, never dropped
    assert (refused.ref, refused.sha256, refused.error) == (photo, "", Refusal.DOWNLOAD.value)
    monday_rig(rig)  # and the admins hear of it in their weekly report
    rig.deliverer.run_pass(rig.clock.now())
    assert any(text.unkept_head(1) in t for t in rig.fake.texts_to("ZhaoMin"))


async def test_a_busy_media_download_is_tried_again(rig: Rig) -> None:
    n = rig.number("theme-day:branch-1:2026-11")
    await rig.post(rig.sim.text("WuFang", f"打卡 {n} 已开展"))
    photo = rig.fake.add_media(JPEG)
    rig.fake.fail_next("media/get", SYSTEM_BUSY, times=2)
    await rig.post(rig.sim.image("WuFang", photo))
    task = rig.app.store.task_by_number(n)
    assert task is not None and task.checkin is not None
    assert task.checkin.attachments[0].sha256 and not task.checkin.attachments[0].error


async def test_a_long_answer_goes_as_app_messages_in_pieces(rig: Rig) -> None:
    n = rig.number("theme-day:branch-1:2026-11")
    note = "\n".join(f"第{i}项：" + "已组织学习并开展讨论" * 6 for i in range(12))
    response = await rig.post(rig.sim.text("WuFang", f"完成 {n} {note}"))
    assert response.status_code == 200 and response.content == b""  # too long to be passive
    assert rig.platforms.adapter("wecom") is not None
    await rig.platforms.adapter("wecom").drain()
    pieces = [d.body["text"]["content"] for d in rig.fake.delivered if d.userid == "WuFang"]
    assert len(pieces) >= 2 and all(len(p.encode()) <= 2048 for p in pieces)
    assert pieces[0].startswith(text.CHECKED_IN) and pieces[-1].endswith("查看。")
    assert sum(len(p.encode()) for p in pieces) > 2048


# ---- reminders out, taps in --------------------------------------------------------------

async def test_card_out_tap_in_check_in_recorded_card_updated(rig: Rig) -> None:
    rig.clock.set(at("2026-11-30 09:00"))  # November's deadline: reminders for the branches
    rig.deliverer.run_pass(rig.clock.now())
    n = rig.number("theme-day:branch-1:2026-11")
    to_wu = [d.body for d in rig.fake.delivered if d.userid == "WuFang"]
    card = next(b for b in to_wu if f"checkin-{n}" in card_keys(b))
    assert card["msgtype"] == "template_card" and card["agentid"] == AGENT
    template = card["template_card"]
    assert isinstance(template, dict) and template["card_type"] == "button_interaction"
    assert template["main_title"]["title"].startswith("【今日提醒】")  # three tasks, one card
    numbers = [rig.number(f"{d}:branch-1:2026-11") for d in (
        "three-meetings-committee", "three-meetings-group", "theme-day")]
    assert card_keys(card) == [f"checkin-{k}" for k in numbers] + ["todo"]
    assert all(f"【{k}】" in template["sub_title_text"] for k in numbers)

    code = rig.fake.issue_response_code()
    tap = rig.sim.card_click("WuFang", event_key=f"checkin-{n}",
                             task_id=template["task_id"], response_code=code)
    start = time.perf_counter()
    response = await rig.post(tap)
    assert response.status_code == 200 and time.perf_counter() - start < 1.0
    task = rig.app.store.task_by_number(n)
    assert task is not None and task.status is Status.DONE
    assert task.checkin is not None and task.checkin.channel == "wecom"
    assert rig.platforms.adapter("wecom") is not None
    await rig.platforms.adapter("wecom").drain()
    [update] = rig.fake.card_updates
    assert update.response_code == code and update.body["button"] == {"replace_name": "已完成"}
    # WeCom retries the same event: still one check-in, no second card update.
    assert (await rig.post(tap)).status_code == 200
    await rig.platforms.adapter("wecom").drain()
    assert rig.checkins() == 1 and len(rig.fake.card_updates) == 1


async def test_a_todo_tap_answers_with_an_app_message(rig: Rig) -> None:
    tap = rig.sim.card_click("WuFang", event_key="todo", task_id="t-1",
                             response_code=rig.fake.issue_response_code())
    assert (await rig.post(tap)).status_code == 200
    assert rig.platforms.adapter("wecom") is not None
    await rig.platforms.adapter("wecom").drain()
    [sent] = [d.body for d in rig.fake.delivered if d.userid == "WuFang"]
    # 待办 is a list too long for a card: it comes as text, whole.
    assert sent["msgtype"] == "text" and sent["text"]["content"].startswith("您有 6 项待办")
    assert sent["text"]["content"].count("【") == 6
    assert rig.fake.card_updates == []


async def test_a_stalled_api_does_not_make_the_callback_late(rig: Rig) -> None:
    channel = rig.platforms.outbound["wecom"]
    assert isinstance(channel, WeComChannel)
    channel.api.client.fetch_access_token()  # a token in hand: only the card update stalls
    rig.fake.stall(3.0)
    n = rig.number("theme-day:branch-1:2026-11")
    tap = rig.sim.card_click("WuFang", event_key=f"checkin-{n}", task_id="t-2",
                             response_code=rig.fake.issue_response_code())
    start = time.perf_counter()
    response = await rig.post(tap)
    assert response.status_code == 200 and time.perf_counter() - start < 1.0
    text = await rig.post(rig.sim.text("LiHongMei", "逾期"))
    assert text.status_code == 200 and time.perf_counter() - start < 2.0
    assert rig.platforms.adapter("wecom") is not None
    await rig.platforms.adapter("wecom").drain()  # the card update went out, 3 s later
    rig.fake.stall(0)
    assert len(rig.fake.card_updates) == 1


# ---- hostile callbacks ---------------------------------------------------------------------

def hostile(sim: CallbackSimulator) -> dict[str, tuple[CallbackRequest, int]]:
    valid = sim.text("WuFang", "打卡 主题党日")
    return {
        "bad signature": (CallbackSimulator.bad_signature(valid), 403),
        "wrong corp": (sim.wrong_corp(sim.text_xml("WuFang", "打卡 主题党日")), 403),
        "oversize": (sim.oversize(), 413),
        "malformed": (sim.malformed("truncated"), 400),
        "not xml": (sim.malformed("not_xml"), 400),
        "billion laughs": (sim.billion_laughs(), 400),
        "external entity": (sim.external_entity(), 400),
        # A real request, signed correctly, but captured and replayed too late (or early).
        "stale": (sim.encrypt_post(sim.text_xml("WuFang", "打卡 主题党日"),
                                   timestamp=str(int(time.time()) - 360)), 403),
        "from the future": (sim.encrypt_post(sim.text_xml("WuFang", "打卡 主题党日"),
                                             timestamp=str(int(time.time()) + 360)), 403),
        "no timestamp": (valid.with_query(timestamp=""), 400),
    }


@pytest.mark.parametrize("case", ["bad signature", "wrong corp", "oversize", "malformed",
                                  "not xml", "billion laughs", "external entity", "stale",
                                  "from the future", "no timestamp"])
async def test_hostile_callbacks_are_refused_and_leave_no_trace(
        rig: Rig, case: str, caplog: pytest.LogCaptureFixture) -> None:
    ledger = rig.app.store.ledger_path().read_bytes()
    request, status = hostile(rig.sim)[case]
    response = await rig.post(request)
    assert response.status_code == status and response.content == b""
    assert rig.app.store.ledger_path().read_bytes() == ledger
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1
    assert TOKEN not in refusals[0] and AES_KEY not in refusals[0]


# ---- sending under the platform's rules --------------------------------------------------

def monday_rig(rig: Rig) -> None:
    rig.clock.set(at("2026-11-30 09:00"))


async def test_token_expiry_mid_batch_is_refreshed_and_nothing_is_lost(rig: Rig) -> None:
    monday_rig(rig)
    rig.fake.fail_next("message/send", 42001, times=1)
    result = rig.deliverer.run_pass(rig.clock.now())
    assert result.failed == 0 and result.sent > 5
    assert rig.fake.token_calls == 2  # the first token, and the one after 42001
    sent = [e for e in rig.app.store.deliveries() if e.channel == "wecom"]
    assert all(e.state is Delivery.SENT for e in sent)
    delivered = [(d.userid, str(d.body)) for d in rig.fake.delivered]
    assert len(delivered) == len(set(delivered))  # nothing twice


async def test_45009_mid_batch_backs_off_and_delivers_each_once(rig: Rig) -> None:
    monday_rig(rig)
    rig.fake.fail_next("message/send", 45009, times=1)
    rig.deliverer.run_pass(rig.clock.now())
    calls = len(rig.fake.calls_to("message/send"))
    assert calls == 1  # the rest waited, without knocking again
    assert not [e for e in rig.app.store.deliveries()
                if e.channel == "wecom" and e.state is Delivery.SENT]
    waiting = [e for e in rig.app.store.deliveries() if e.state is Delivery.PENDING]
    tried = [e for e in waiting if e.attempts]
    assert len({e.recipient for e in tried}) == 1  # one message (a bundle) was tried…
    assert all(e.not_before is not None for e in tried)  # …and backs off
    assert len(waiting) > 5  # the others were not tried while WeCom was blocking
    rig.wire.advance(61)  # WeCom's block lasts a minute
    rig.clock.set(at("2026-11-30 09:02"))
    rig.deliverer.run_pass(rig.clock.now())
    assert all(e.state is Delivery.SENT for e in rig.app.store.deliveries()
               if e.channel == "wecom")
    delivered = [(d.userid, str(d.body)) for d in rig.fake.delivered]
    assert len(delivered) == len(set(delivered)) and not rig.fake.dropped


async def test_unknown_users_and_permanent_errors_are_reported(rig: Rig) -> None:
    rig.fake.known_users = {u.lower() for u in USERS if u != "WuFang"}
    monday_rig(rig)
    rig.deliverer.run_pass(rig.clock.now())
    failed = [e for e in rig.app.store.deliveries()
              if e.recipient == "wu-fang" and e.state is Delivery.FAILED]
    assert failed and all(e.error == PERMANENT[81013] for e in failed)
    rig.fake.known_users = None
    rig.fake.fail_next("message/send", 60020, times=1)
    rig.clock.set(at("2026-12-01 09:00"))
    rig.deliverer.run_pass(rig.clock.now())
    assert any(e.error == PERMANENT[60020] for e in rig.app.store.deliveries())


async def test_per_member_limits_are_never_exceeded(rig: Rig) -> None:
    channel = rig.platforms.outbound["wecom"]
    for i in range(30):
        channel.send("wu-fang", False, Reply(f"第 {i} 条"))
    with pytest.raises(TransientSendError, match="条数限制"):  # the delivery loop retries
        channel.send("wu-fang", False, Reply("第 31 条"))
    channel.send("zhou-tao", False, Reply("别人不受影响"))
    rig.wire.advance(58)  # within max_wait (5 s) of the window's end: waits, then sends
    channel.send("wu-fang", False, Reply("第 31 条"))
    times = [d.at for d in rig.fake.delivered if d.userid == "WuFang"]
    assert len(times) == 31 and not rig.fake.dropped
    assert times[30] - times[0] >= 60


async def test_the_weekly_digest_reaches_the_branch_group_with_mentions(rig: Rig) -> None:
    monday_rig(rig)
    rig.deliverer.run_pass(rig.clock.now())
    [post] = rig.fake.robot_posts[ROBOT_KEY]
    content = post.body["markdown"]["content"]
    assert content.startswith("【本周提示】机关第一党支部") and "<@WuFang>" in content
    others = [e for e in rig.app.store.deliveries()
              if e.group and e.recipient == "branch-2"]
    assert others and all(e.state is Delivery.FAILED for e in others)  # no robot key set


async def test_a_robot_sends_at_most_twenty_a_minute(rig: Rig) -> None:
    robot = rig.platforms.outbound["wecom-robot"]
    for i in range(20):
        robot.send("branch-1", True, Reply(f"第 {i} 条"))
    rig.wire.advance(55)  # the 21st waits (≤ 10 s) for the first to leave the window
    robot.send("branch-1", True, Reply("第 21 条"))
    times = [p.at for p in rig.fake.robot_posts[ROBOT_KEY]]
    assert len(times) == 21 and times[20] - times[0] >= 60
    rig.wire.advance(120)
    long = Reply("\n".join(f"· 第 {i} 项事项，截止日期为十二月三十一日" for i in range(300)))
    robot.send("branch-1", True, long)
    pieces = rig.fake.robot_posts[ROBOT_KEY][21:]
    assert len(pieces) > 1 and all(len(p.body["markdown"]["content"].encode()) <= 4096
                                   for p in pieces)
    assert "".join(p.body["markdown"]["content"] for p in pieces).count("· 第") == 300


# ---- configuration and health --------------------------------------------------------------

async def test_cards_can_be_switched_off(tmp_path: Path) -> None:
    wire = ManualClock()
    with FakeWeCom(corp_id=CORP, agent_id=AGENT, clock=wire) as fake:
        config = load(wecom_config(tmp_path, fake.base_url, cards=False))
        clock = FakeClock(at("2026-11-26 10:00"))
        app = App.open(config, clock)
        platforms = connect(config, app, ENV, clock=wire, sleep=wire.advance)
        clock.set(at("2026-11-30 09:00"))
        Deliverer(app, platforms.outbound, defer_unreached=False).run_pass(clock.now())
        bodies = [d.body for d in fake.delivered if d.userid == "WuFang"]
        assert bodies and all(b["msgtype"] == "text" for b in bodies)
        assert any("「完成 " in b["text"]["content"] for b in bodies)
        app.close()


async def test_a_missing_secret_is_named(tmp_path: Path) -> None:
    config = load(wecom_config(tmp_path, "http://127.0.0.1:9/cgi-bin/"))
    app = App.open(config, FakeClock(at("2026-11-26 10:00")))
    with pytest.raises(MissingSecret, match="WECOM_SECRET"):
        connect(config, app, {k: v for k, v in ENV.items() if k != "WECOM_SECRET"})
    app.close()


async def test_healthz_reports_the_last_pass(rig: Rig) -> None:
    base = rig.url.rsplit("/wecom", 1)[0]
    before = await rig.http.get(base + "/healthz")
    assert before.status_code == 503 and before.json()["last_pass"] is None
    await asyncio.to_thread(rig.deliverer.run_pass, rig.clock.now())
    after = await rig.http.get(base + "/healthz")
    body = after.json()
    assert after.status_code == 200 and body["status"] == "ok"
    assert body["store"]["records"] > 0 and "wecom" in body["channels"]


def test_button_keys_round_trip() -> None:
    for command in ("打卡 37", "待办", "查询 第二支部"):
        key = button_key(Button("x", command))
        assert key.isascii() and command_of(key) == command
    assert command_of("checkin-12") == "打卡 12" and command_of("evil") is None


async def test_identical_messages_go_in_one_call(tmp_path: Path) -> None:
    wire = ManualClock()
    with FakeWeCom(corp_id=CORP, agent_id=AGENT, known_users=USERS, clock=wire) as fake:
        path = wecom_config(tmp_path, fake.base_url)
        path.write_text(path.read_text(encoding="utf-8").replace(  # a second admin
            'name = "孙立"                      # 机关纪委书记\n',
            'name = "孙立"                      # 机关纪委书记\nroles = ["admin"]\n'),
            encoding="utf-8")
        config = load(path)
        clock = FakeClock(at("2026-11-26 10:00"))
        app = App.open(config, clock)
        platforms = connect(config, app, ENV, clock=wire, sleep=wire.advance)
        clock.set(at("2026-12-03 09:00"))  # the third working day after November's deadline
        Deliverer(app, platforms.outbound, defer_unreached=False).run_pass(clock.now())
        sends = [r.body for r in fake.calls_to("message/send")]
        together = [b for b in sends if "|" in str(b["touser"])]
        assert together, "the same words to both admins travel as one call"
        assert any({"SunLi", "ZhaoMin"} == set(str(b["touser"]).split("|")) for b in together)
        escalated = [e for e in app.store.deliveries() if e.stage == "escalation"]
        assert escalated and all(e.state is Delivery.SENT for e in escalated)
        app.close()


def test_check_says_whether_wecom_is_ready(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main
    path = wecom_config(tmp_path, "http://127.0.0.1:9/cgi-bin/")
    for name in (*ENV, "DUTYBOT_ROBOT_BRANCH_2"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WECOM_TOKEN", TOKEN)
    assert main(["check", "--config", str(path), "--now", "2026-11-26T10:00"]) == 0
    out = capsys.readouterr().out
    assert "企业微信 已启用但未就绪" in out and "WECOM_SECRET" in out and TOKEN not in out
    assert "群机器人 0/4 个就绪" in out
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    main(["check", "--config", str(path), "--now", "2026-11-26T10:00"])
    out = capsys.readouterr().out
    assert "企业微信 已启用（回调地址" in out and "群机器人 1/4 个就绪" in out
    assert "缺少环境变量" not in out and AES_KEY not in out


def test_check_json_lists_wecom_userids(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from bot.cli import main
    assert main(["check", "--json", "--config", str(EXAMPLE)]) == 0
    people = json.loads(capsys.readouterr().out)["people"]
    assert {p["name"]: p.get("wecom_userid") for p in people}["吴芳"] == "WuFang"


async def test_an_unreachable_api_stops_the_pass_and_the_outbox_drains_later(rig: Rig) -> None:
    monday_rig(rig)
    rig.fake.fail_next_http("message/send", 502, times=1)  # WeCom answers with an HTTP error
    rig.deliverer.run_pass(rig.clock.now())
    assert len(rig.fake.calls_to("message/send")) == 1  # no knocking on every entry
    waiting = [e for e in rig.app.store.deliveries()
               if e.channel == "wecom" and e.state is Delivery.PENDING]
    assert len(waiting) > 5 and not rig.fake.delivered
    rig.clock.set(at("2026-11-30 09:02"))  # the next passes, once it is back
    rig.deliverer.run_pass(rig.clock.now())
    rig.clock.set(at("2026-11-30 09:04"))
    rig.deliverer.run_pass(rig.clock.now())
    assert all(e.state is Delivery.SENT for e in rig.app.store.deliveries()
               if e.channel == "wecom")
    delivered = [(d.userid, str(d.body)) for d in rig.fake.delivered]
    assert len(delivered) == len(set(delivered)) >= len({e.recipient for e in waiting})


def test_a_hanging_gettoken_times_out() -> None:
    from bot.channels.base import ChannelUnavailable
    from bot.channels.wecom_api import WeComAPI
    with FakeWeCom(corp_id=CORP, agent_id=AGENT) as fake:
        api = WeComAPI(CORP, fake.secret, AGENT, fake.base_url, timeout=0.2)
        fake.stall(1.0, effective=False)
        start = time.perf_counter()
        with pytest.raises(ChannelUnavailable, match="连接企业微信失败"):
            api.send(["WuFang"], {"msgtype": "text", "text": {"content": "x"}})
        assert time.perf_counter() - start < 0.9  # gave up on gettoken; never waited it out
        fake.stall(0)
        assert not fake.delivered


@given(st.text(alphabet="ab中文\n", max_size=300), st.integers(min_value=3, max_value=40))
def test_split_text_keeps_everything_within_the_limit(text: str, limit: int) -> None:
    from bot.channels.base import split_text, utf8_size
    for size in (utf8_size, len):
        pieces = split_text(text, limit, size)
        assert all(0 < size(p) <= limit for p in pieces)
        assert "".join(pieces).replace("\n", "") == text.replace("\n", "")  # nothing lost
