"""The WeCom 智能机器人 end to end over its long connection: the real official SDK against the
loopback gateway (`tests.fake_aibot`), with the real store, handlers, evidence files and
delivery loop. A unit's group talks back (`@助手 完成 22 已召开`), cards work, digests reach
the group, and a photo sent on day 1 is still in the record on day 30."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from wechatpy.crypto import _get_signature
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

from bot.app import App
from bot.channels.base import ChannelUnavailable, TransientSendError
from bot.channels.buttons import CHECKIN_KEY
from bot.channels.registry import CHANNELS
from bot.channels.telegram import PIPL_NOTE
from bot.channels.wecom_aibot import (
    CHANNEL,
    NAME,
    AibotCallback,
    AibotLink,
    read_link_end,
    sdk,
)
from bot.cli import main
from bot.clock import FakeClock
from bot.config import ConfigError, load
from bot.delivery import Deliverer
from bot.platforms import Platforms, connect
from bot.report import DETAIL_SHEET, Report, Span
from bot.simulate import routes
from handlers import text
from handlers.messages import Reply
from handlers.table import HELP
from schedules.tasks import Status
from storage.audit import verify
from tests.builders import EXAMPLE, at
from tests.fake_aibot import (
    RATE_LIMITED,
    RESPOND,
    RESPOND_UPDATE,
    SEND,
    SUBSCRIBE,
    FakeAibotGateway,
)
from tests.fake_wecom import ManualClock

CHAT = "wrkBRANCH1chat"  # 机关第一党支部's group, as the 智能机器人 knows it
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64 + b"evidence"


def aibot_config(folder: Path, gateway: FakeAibotGateway) -> Path:
    ca = folder / "gateway-ca.pem"
    ca.write_text(gateway._cert_pem, encoding="utf-8")
    path = folder / "config.toml"
    shutil.copy(EXAMPLE, path)
    source = path.read_text(encoding="utf-8").replace(
        'wecom_robot_key_env = "DUTYBOT_ROBOT_BRANCH_1" }',
        f'wecom_robot_key_env = "DUTYBOT_ROBOT_BRANCH_1", aibot_chatid = "{CHAT}" }}')
    path.write_text(source + f"""
[channels.wecom_aibot]
enabled = true
bot_id = "{gateway.bot_id}"
secret_env = "AIBOT_SECRET"
ws_url = "{gateway.url}"
ca_file = "{ca}"
""", encoding="utf-8")
    return path


@dataclass
class Rig:
    app: App
    clock: FakeClock
    gateway: FakeAibotGateway
    platforms: Platforms
    deliverer: Deliverer

    @property
    def link(self) -> AibotLink:
        link: AibotLink = self.platforms.adapter(NAME)
        return link

    async def said(self, pushed: object, cmd: str = RESPOND) -> str:
        """The content of our answer to a pushed frame."""
        req_id = pushed.req_id  # type: ignore[attr-defined]
        got = await asyncio.to_thread(self.gateway.wait_sent, cmd, req_id, 10.0)
        await self.link.drain()
        body = got.frame["body"]
        return str(body.get("markdown", {}).get("content") or body)

    def task_of(self, person: str) -> int:
        task = next(t for t in self.app.store.all_tasks()
                    if t.owner == person and t.status is Status.OPEN)
        return task.number


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    saved = sdk().ws._SSL_CONTEXT
    with FakeAibotGateway() as gateway:
        config = load(aibot_config(tmp_path, gateway))
        clock = FakeClock(at("2026-11-26 10:00"))
        app = App.open(config, clock)
        wire = ManualClock()
        platforms = connect(config, app, {"AIBOT_SECRET": gateway.secret}, clock=wire,
                            sleep=wire.advance)
        deliverer = Deliverer(app, platforms.outbound, defer_unreached=False)
        link = platforms.adapter(NAME)
        link.watch_seconds = 0.05  # the watchdog looks often (tests of reconnecting)
        await link.start()
        await asyncio.wait_for(link.authenticated.wait(), 10)
        try:
            yield Rig(app, clock, gateway, platforms, deliverer)
        finally:
            await link.stop()
            app.close()
            sdk().ws._SSL_CONTEXT = saved


async def test_a_private_todo_is_answered_in_the_chat(rig: Rig) -> None:
    number = rig.task_of("branch-1")
    said = await rig.said(rig.gateway.push_text("WuFang", "待办"))
    assert f"【{number}】" in said


async def test_a_group_checkin_by_mention_records_once(rig: Rig) -> None:
    number = rig.task_of("branch-1")
    pushed = rig.gateway.push_text("WuFang", f"完成 {number} 已召开", chatid=CHAT)
    said = await rig.said(pushed)
    task = rig.app.store.task_by_number(number)
    assert task is not None and task.status is Status.DONE and task.checkin is not None
    assert task.checkin.channel == NAME and task.checkin.note == "已召开"
    assert "已召开" not in said  # a group sees no notes
    # The gateway delivers the same message again: nothing more is recorded.
    rig.gateway.push(pushed.frame["cmd"], pushed.frame["body"])
    await asyncio.sleep(0)
    await rig.link.drain()
    again = rig.app.store.task_by_number(number)
    assert again is not None and again.checkins == task.checkins


async def test_other_queries_in_the_group_are_invited_to_private(rig: Rig) -> None:
    said = await rig.said(rig.gateway.push_text("WuFang", "总览", chatid=CHAT))
    assert said == text.ASK_IN_PRIVATE


async def test_a_card_tap_checks_in_and_updates_the_card(rig: Rig) -> None:
    number = rig.task_of("branch-1")
    pushed = rig.gateway.push_button("WuFang", f"{CHECKIN_KEY}{number}", "task-1")
    await rig.said(pushed, RESPOND_UPDATE)
    task = rig.app.store.task_by_number(number)
    assert task is not None and task.status is Status.DONE


async def test_the_weekly_digest_is_pushed_to_the_group(rig: Rig) -> None:
    rig.clock.set(at("2026-11-30 09:00"))
    await asyncio.to_thread(rig.deliverer.run_pass, rig.clock.now())
    pushes = [r for r in rig.gateway.sent_cmds(SEND) if r.frame["body"]["chatid"] == CHAT]
    assert pushes
    assert pushes[0].frame["body"]["markdown"]["content"].startswith("【本周提示】机关第一党支部")


async def test_a_photo_is_kept_and_still_in_the_record_thirty_days_later(
        rig: Rig, tmp_path: Path) -> None:
    number = rig.task_of("branch-1")
    await rig.said(rig.gateway.push_text("WuFang", f"完成 {number}"))
    await rig.said(rig.gateway.push_image("WuFang", PNG))
    task = rig.app.store.task_by_number(number)
    assert task is not None and task.checkin is not None
    [photo] = task.checkin.attachments
    assert photo.size == len(PNG) and photo.sha256 and not photo.error
    assert rig.app.store.files.path(photo.sha256).read_bytes() == PNG
    rig.clock.set(rig.clock.now() + timedelta(days=30))
    assert verify(rig.app.config.store_path).intact  # every kept file checked
    out = tmp_path / "report.xlsx"
    Report(rig.app.org, rig.app.store, rig.app.calendar, Span.of(2026, None),
           rig.app.today(rig.clock.now())).write(out)
    from openpyxl import load_workbook
    cells = [str(c.value) for row in load_workbook(out)[DETAIL_SHEET].iter_rows() for c in row]
    assert any(photo.sha256[:12] in c for c in cells)


async def test_a_slow_photo_holds_up_nobody_else_and_keeps_its_senders_order(
        rig: Rig) -> None:
    number = rig.task_of("branch-1")
    await rig.said(rig.gateway.push_text("WuFang", f"完成 {number}"))
    photo = rig.gateway.push_image("WuFang", PNG, delay=2.0)
    after = rig.gateway.push_text("WuFang", "待办")
    other = rig.gateway.push_text("ZhengLei", "待办")
    await asyncio.to_thread(rig.gateway.wait_sent, RESPOND, other.req_id, 10.0)
    assert not [r for r in rig.gateway.sent_cmds(RESPOND)
                if r.req_id in (photo.req_id, after.req_id)]  # hers wait for her photo
    await rig.said(photo)
    await rig.said(after)
    first, second = (next(r.at for r in rig.gateway.sent_cmds(RESPOND) if r.req_id == p.req_id)
                     for p in (photo, after))
    assert first < second
    task = rig.app.store.task_by_number(number)
    assert task is not None and task.checkin is not None and task.checkin.attachments


async def test_a_replaced_connection_stops_and_says_so(rig: Rig) -> None:
    # (in a thread: the fake waits for the closing handshake, which this loop answers)
    await asyncio.to_thread(rig.gateway.replace_connection, 4000)  # abnormal: SDK reconnects
    await asyncio.to_thread(rig.gateway.wait_for, lambda: rig.link.replaced, 5.0)
    await asyncio.to_thread(rig.gateway.wait_for, lambda: rig.gateway.open_connections == 0,
                            5.0)
    subscribes = len(rig.gateway.sent_cmds(SUBSCRIBE))
    assert rig.link.health() == {"connected": False, "replaced": True, "refused": False}
    with pytest.raises(ChannelUnavailable):  # reminders wait; they are not lost
        rig.platforms.outbound[NAME].send("wu-fang", False, Reply("提醒"))
    await asyncio.sleep(0.5)  # long enough for the watchdog to have reconnected, were it on
    assert len(rig.gateway.sent_cmds(SUBSCRIBE)) == subscribes
    ended = read_link_end(rig.app.config.store_path)  # and `check` says so, after the run
    assert ended is not None
    [_, said] = CHANNEL.states(rig.app.config.channels[NAME], rig.app.config, {})
    assert said == ended


async def test_after_a_silent_clean_close_the_watchdog_connects_anew(rig: Rig) -> None:
    before = len(rig.gateway.sent_cmds(SUBSCRIBE))
    await asyncio.to_thread(rig.gateway.close_connection)
    await asyncio.to_thread(
        rig.gateway.wait_for, lambda: len(rig.gateway.sent_cmds(SUBSCRIBE)) > before, 10.0)
    said = await rig.said(rig.gateway.push_text("WuFang", "帮助"))
    assert said.startswith(HELP[:10])


async def test_a_refused_secret_is_final(tmp_path: Path) -> None:
    with FakeAibotGateway() as gateway:
        config = load(aibot_config(tmp_path, gateway))
        app = App.open(config, FakeClock(at("2026-11-26 10:00")))
        platforms = connect(config, app, {"AIBOT_SECRET": "wrong"})
        link: AibotLink = platforms.adapter(NAME)
        link.watch_seconds = 0.01
        await link.start()
        await asyncio.to_thread(gateway.wait_for, lambda: bool(link.refused), 5.0)
        await asyncio.sleep(0.1)
        assert len(gateway.sent_cmds(SUBSCRIBE)) == 1 and link.health()["refused"]
        assert read_link_end(config.store_path) not in (None, read_link_end(tmp_path))
        await link.stop()
        app.close()


async def test_a_rate_limited_push_is_retried_later(rig: Rig) -> None:
    rig.gateway.fail_next(SEND, RATE_LIMITED)
    outbound = rig.platforms.outbound[NAME]
    with pytest.raises(TransientSendError):
        await asyncio.to_thread(outbound.send, "branch-1", True, Reply("本周提示"))
    await asyncio.to_thread(outbound.send, "branch-1", True, Reply("本周提示"))
    assert rig.gateway.sent_cmds(SEND)[-1].frame["body"]["chatid"] == CHAT


def test_adding_the_aibot_was_one_module_and_one_registry_line() -> None:
    import bot.channels.registry as registry
    source = Path(registry.__file__).read_text(encoding="utf-8")
    assert [line for line in source.splitlines() if "wecom_aibot" in line] == [
        "from bot.channels import telegram, wecom, wecom_aibot",
        "CHANNELS: tuple[Channel, ...] = (wecom.CHANNEL, wecom_aibot.CHANNEL, telegram.CHANNEL)"]
    assert [c.name for c in CHANNELS].count(NAME) == 1


def test_enabling_it_without_a_bot_id_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    shutil.copy(EXAMPLE, path)
    path.write_text(path.read_text(encoding="utf-8")
                    + '\n[channels.wecom_aibot]\nenabled = true\nsecret_env = "S"\n',
                    encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert caught.value.key == "channels.wecom_aibot.bot_id"


# ---- the JSON callback transport -----------------------------------------------------------

TOKEN = "aibotToken123"
AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"  # 43 characters, as WeCom issues


def callback_config(folder: Path) -> Path:
    path = folder / "config.toml"
    shutil.copy(EXAMPLE, path)
    path.write_text(path.read_text(encoding="utf-8") + """
[channels.wecom_aibot]
enabled = true
bot_id = "aibot-1"
transport = "callback"
token_env = "AIBOT_TOKEN"
aes_key_env = "AIBOT_AES_KEY"
""", encoding="utf-8")
    return path


def sealed(body: dict[str, object], stamp: int,
           token: str = TOKEN) -> tuple[dict[str, str], bytes]:
    """A callback as WeCom sends it: the body encrypted with ReceiveId "", signed."""
    crypto = WeChatCrypto(token, AES_KEY, "")
    encrypt = PrpCrypto(crypto.key).encrypt(json.dumps(body, ensure_ascii=False), "")
    encrypt = encrypt.decode() if isinstance(encrypt, bytes) else encrypt
    nonce = "nonce1"
    query = {"msg_signature": _get_signature(token, str(stamp), nonce, encrypt),
             "timestamp": str(stamp), "nonce": nonce}
    return query, json.dumps({"encrypt": encrypt}).encode()


def opened(answer: bytes) -> dict[str, object]:
    envelope = json.loads(answer)
    crypto = WeChatCrypto(TOKEN, AES_KEY, "")
    assert envelope["msgsignature"] == _get_signature(TOKEN, envelope["timestamp"],
                                                      envelope["nonce"], envelope["encrypt"])
    found: dict[str, object] = json.loads(PrpCrypto(crypto.key).decrypt(envelope["encrypt"], ""))
    return found


@dataclass
class CallbackRig:
    app: App
    callback: AibotCallback
    now: float = 1_790_000_000.0

    def message(self, userid: str, content: str, chatid: str = "") -> dict[str, object]:
        body: dict[str, object] = {"msgid": f"m{len(content)}-{content[:8]}", "aibotid": "aibot-1",
                                   "chattype": "group" if chatid else "single",
                                   "from": {"userid": userid}, "msgtype": "text",
                                   "text": {"content": f"@助手 {content}" if chatid else content}}
        if chatid:
            body["chatid"] = chatid
        return body

    async def post(self, body: dict[str, object], stamp: float | None = None
                   ) -> tuple[int, bytes]:
        query, raw = sealed(body, int(self.now if stamp is None else stamp))
        return await self.callback.receive(query, raw, "test")


@pytest.fixture
async def callback_rig(tmp_path: Path) -> AsyncIterator[CallbackRig]:
    config = load(callback_config(tmp_path))
    app = App.open(config, FakeClock(at("2026-11-26 10:00")))
    rig = CallbackRig(app, None)  # type: ignore[arg-type]
    platforms = connect(config, app, {"AIBOT_TOKEN": TOKEN, "AIBOT_AES_KEY": AES_KEY},
                        wall=lambda: rig.now)
    rig.callback = platforms.adapter(NAME)
    assert platforms.outbound == {} and platforms.needs_server  # answers only; no pushes
    try:
        yield rig
    finally:
        await rig.callback.stop()
        app.close()


async def test_a_group_checkin_over_the_callback_is_answered_in_the_response(
        callback_rig: CallbackRig) -> None:
    rig = callback_rig
    number = next(t.number for t in rig.app.store.all_tasks()
                  if t.owner == "branch-1" and t.status is Status.OPEN)
    status, answer = await rig.post(rig.message("WuFang", f"完成 {number} 已召开", CHAT))
    assert status == 200
    said = opened(answer)
    assert said["msgtype"] == "markdown"
    task = rig.app.store.task_by_number(number)
    assert task is not None and task.status is Status.DONE and task.checkin is not None
    assert task.checkin.channel == NAME
    again, nothing = await rig.post(rig.message("WuFang", f"完成 {number} 已召开", CHAT))
    assert (again, nothing) == (200, b"")  # WeCom's retry: acted on once


async def test_a_private_todo_over_the_callback(callback_rig: CallbackRig) -> None:
    rig = callback_rig
    number = next(t.number for t in rig.app.store.all_tasks()
                  if t.owner == "branch-1" and t.status is Status.OPEN)
    status, answer = await rig.post(rig.message("WuFang", "待办"))
    said = opened(answer)
    assert status == 200 and f"【{number}】" in str(said["markdown"])


async def test_a_stale_or_forged_callback_is_refused_and_leaves_no_trace(
        callback_rig: CallbackRig) -> None:
    rig = callback_rig
    before = rig.app.store.records()
    status, _ = await rig.post(rig.message("WuFang", "完成 1"), stamp=rig.now - 301)
    assert status == 403
    query, raw = sealed(rig.message("WuFang", "完成 1"), int(rig.now), token="forged")
    assert (await rig.callback.receive(query, raw, "test"))[0] == 403
    assert (await rig.callback.receive(query, b"not json", "test"))[0] == 400
    assert (await rig.callback.receive(query, b"x" * (64 * 1024 + 1), "test"))[0] == 413
    assert rig.app.store.records() == before


async def test_the_callback_url_is_verified(callback_rig: CallbackRig) -> None:
    rig = callback_rig
    crypto = WeChatCrypto(TOKEN, AES_KEY, "")
    echo = PrpCrypto(crypto.key).encrypt("echo-123", "")
    echo = echo.decode() if isinstance(echo, bytes) else echo
    stamp = str(int(rig.now))
    query = {"msg_signature": _get_signature(TOKEN, stamp, "n", echo), "timestamp": stamp,
             "nonce": "n", "echostr": echo}
    assert rig.callback.verify(query, "test") == (200, b"echo-123")
    assert rig.callback.verify({**query, "msg_signature": "0" * 40}, "test")[0] == 403


async def test_a_card_tap_over_the_callback_updates_the_card(
        callback_rig: CallbackRig) -> None:
    rig = callback_rig
    number = next(t.number for t in rig.app.store.all_tasks()
                  if t.owner == "branch-1" and t.status is Status.OPEN)
    tap = {"msgid": "tap-1", "chattype": "single", "from": {"userid": "WuFang"},
           "msgtype": "event", "event": {"eventtype": "template_card_event",
                                         "template_card_event": {
                                             "event_key": f"{CHECKIN_KEY}{number}",
                                             "task_id": "card-9"}}}
    status, answer = await rig.post(tap)
    said = opened(answer)
    assert status == 200 and said["response_type"] == "update_template_card"
    task = rig.app.store.task_by_number(number)
    assert task is not None and task.status is Status.DONE


async def test_a_photo_over_the_callback_is_decrypted_with_the_bots_key_and_kept(
        callback_rig: CallbackRig) -> None:
    rig = callback_rig
    number = next(t.number for t in rig.app.store.all_tasks()
                  if t.owner == "branch-1" and t.status is Status.OPEN)
    await rig.post(rig.message("WuFang", f"完成 {number}"))
    with FakeAibotGateway() as gateway:  # its HTTP side serves the encrypted file
        media = gateway.add_media(PNG, aeskey=AES_KEY)
        photo = {"msgid": "photo-1", "chattype": "single", "from": {"userid": "WuFang"},
                 "msgtype": "image", "image": {"url": media.url}}
        status, _ = await rig.post(photo)
    assert status == 200
    task = rig.app.store.task_by_number(number)
    assert task is not None and task.checkin is not None
    [kept] = task.checkin.attachments
    assert rig.app.store.files.path(kept.sha256).read_bytes() == PNG


def test_check_says_whether_the_aibot_is_ready_and_warns_of_telegram(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = callback_config(tmp_path)
    path.write_text(path.read_text(encoding="utf-8") + """
[channels.telegram]
enabled = true
token_env = "TG_TOKEN"
""", encoding="utf-8")
    monkeypatch.delenv("AIBOT_TOKEN", raising=False)
    assert main(["check", "--config", str(path), "--now", "2026-12-01T09:00"]) == 0
    out = capsys.readouterr().out
    config = load(path)
    [state] = CHANNEL.states(config.channels[NAME], config, {})
    assert state in out and "未就绪" in state and "AIBOT_TOKEN" in out
    assert PIPL_NOTE in out  # 个人信息保护法 第三十六条
    monkeypatch.setenv("AIBOT_TOKEN", TOKEN)
    monkeypatch.setenv("AIBOT_AES_KEY", AES_KEY)
    [ready] = CHANNEL.states(config.channels[NAME], config, dict(os.environ))
    assert "未就绪" not in ready


def test_simulate_routes_a_group_with_a_chat_id_to_the_aibot_not_its_robot(
        tmp_path: Path) -> None:
    with FakeAibotGateway() as gateway:
        path = aibot_config(tmp_path, gateway)
    alone = load(path)
    assert routes(alone, "wu-fang", False) == [NAME]  # no WeCom app: people too
    path.write_text(path.read_text(encoding="utf-8") + """
[channels.wecom]
enabled = true
corp_id = "ww0123456789abcdef"
agent_id = 1000002
token_env = "T"
aes_key_env = "A"
secret_env = "S"
""", encoding="utf-8")
    both = load(path)
    assert routes(both, "branch-1", True) == [NAME]  # not also the group robot
    assert routes(both, "branch-2", True) == ["wecom-robot"]  # no chat id: its robot
    assert routes(both, "wu-fang", False) == ["wecom"]  # the app reaches people
