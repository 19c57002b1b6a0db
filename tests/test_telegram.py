"""Telegram end to end, over loopback: the real python-telegram-bot `Application` (polling or
webhook) against `FakeTelegram`, with the real store, handlers and delivery loop."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import App
from bot.channels.telegram import TelegramSettings
from bot.channels.telegram_bot import TelegramBot
from bot.clock import FakeClock
from bot.config import ConfigError, load
from bot.delivery import Deliverer
from bot.platforms import MissingSecret, Platforms, connect
from bot.runner import health
from bot.server import HttpServer, make_app
from handlers import text
from schedules.tasks import Attachment, Status
from storage import bindcodes
from storage.files import MB, Refusal
from storage.repository import Delivery
from tests.builders import EXAMPLE, ROOT, at, numbers_in
from tests.fake_telegram import MAX_DOWNLOAD, FakeTelegram
from tests.fake_wecom import ManualClock

WU, ZHENG, LI, STRANGER = 5001, 5002, 5003, 6666  # Telegram user ids
GROUP = -1001234  # 机关第一党支部's Telegram group
SECRET = "webhook-secret_123"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(200)) + b"\xff\xd9"
PDF = b"%PDF-1.4\n" + bytes(range(32, 127)) * 20 + b"\n%%EOF\n"


def telegram_config(folder: Path, base_url: str, mode: str = "polling",
                    detail: str = "full", max_file_mb: int | None = None) -> Path:
    path = folder / "config.toml"
    shutil.copy(EXAMPLE, path)
    source = path.read_text(encoding="utf-8").replace(
        'wecom_robot_key_env = "DUTYBOT_ROBOT_BRANCH_1" }',
        f'wecom_robot_key_env = "DUTYBOT_ROBOT_BRANCH_1", telegram_chat_id = {GROUP} }}')
    if max_file_mb is not None:
        source = source.replace("[store]\n", f"[store]\nmax_file_mb = {max_file_mb}\n", 1)
    webhook = ('webhook_url = "https://duty.example.gov.cn/telegram/webhook"\n'
               'secret_token_env = "TG_SECRET"\n' if mode == "webhook" else "")
    path.write_text(source + f"""
[channels.telegram]
enabled = true
token_env = "TG_TOKEN"
mode = "{mode}"
detail = "{detail}"
api_base_url = "{base_url}"
{webhook}
[server]
port = 0
""", encoding="utf-8")
    return path


@dataclass
class Rig:
    app: App
    clock: FakeClock
    wire: ManualClock
    fake: FakeTelegram
    platforms: Platforms
    deliverer: Deliverer
    folder: Path

    @property
    def bot(self) -> TelegramBot:
        assert self.platforms.adapter("telegram") is not None
        return self.platforms.adapter("telegram")

    def code_for(self, name: str, hours: int = 24) -> str:
        person = self.app.org.person(name)
        assert person is not None
        code, _ = bindcodes.issue(self.app.config.store_path, person.id, self.clock.now(),
                                  timedelta(hours=hours))
        return code

    async def texts(self, chat: int, count: int) -> list[str]:
        """The bot's messages to `chat` once there are `count` of them."""
        return await asyncio.to_thread(self.fake.wait_for_texts, chat, count)

    async def bind(self, user: int, person: str) -> None:
        before = len(self.fake.texts_to(user))
        self.fake.push_command(user, "bind", self.code_for(person))
        reply = (await self.texts(user, before + 1))[-1]
        assert reply.startswith("绑定成功")

    async def answer(self, user: int, send: Callable[[], object]) -> str:
        """The bot's answer to what `send` pushes from `user`."""
        before = len(self.fake.texts_to(user))
        send()
        return (await self.texts(user, before + 1))[-1]

    async def run_pass(self) -> None:
        await asyncio.to_thread(self.deliverer.run_pass, self.clock.now())

    def number(self, key: str) -> int:
        task = self.app.store.task(key)
        assert task is not None
        return task.number


@pytest.fixture(autouse=True)
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


async def start_rig(tmp_path: Path, mode: str = "polling", detail: str = "full",
                    max_file_mb: int | None = None) -> tuple[Rig, Callable[[], Any]]:
    wire = ManualClock()
    fake = FakeTelegram(clock=wire).start()
    for user, name in [(WU, "吴芳"), (ZHENG, "郑磊"), (LI, "李红梅"), (STRANGER, "路人")]:
        fake.add_user(user, name)
    fake.add_group(GROUP, "机关第一党支部工作群")
    config = load(telegram_config(tmp_path, fake.base_url, mode, detail, max_file_mb))
    clock = FakeClock(at("2026-11-26 10:00"))
    app = App.open(config, clock)
    env = {"TG_TOKEN": fake.token, "TG_SECRET": SECRET}
    platforms = connect(config, app, env, clock=wire, sleep=wire.advance)
    deliverer = Deliverer(app, platforms.outbound, defer_unreached=False)
    assert platforms.adapter("telegram") is not None
    await platforms.adapter("telegram").start()
    rig = Rig(app, clock, wire, fake, platforms, deliverer, tmp_path)

    async def stop() -> None:
        assert platforms.adapter("telegram") is not None
        await platforms.adapter("telegram").stop()
        app.close()
        fake.close()
    return rig, stop


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    started, stop = await start_rig(tmp_path)
    yield started
    await stop()


# ---- binding ---------------------------------------------------------------------------

async def test_bind_then_commands_work(rig: Rig) -> None:
    assert rig.fake.webhook is None  # polling: getUpdates, no webhook
    await rig.bind(WU, "吴芳")
    assert rig.app.store.account_person("telegram", str(WU)) == "wu-fang"
    rig.fake.push_command(WU, "todo")
    todo = (await rig.texts(WU, 2))[-1]
    assert todo.startswith("您有 6 项待办")
    keyboard = rig.fake.messages_to(WU)[-1]["reply_markup"]["inline_keyboard"]
    assert keyboard[0][0]["callback_data"].startswith("checkin-")
    rig.fake.push_message(WU, "近期 30")
    assert "未来 30 天内截止的事项" in (await rig.texts(WU, 3))[-1]


async def test_an_unbound_account_only_learns_how_to_bind(rig: Rig) -> None:
    rig.fake.push_command(STRANGER, "todo")
    rig.fake.push_message(STRANGER, "查询 第一支部")
    replies = await rig.texts(STRANGER, 2)
    assert replies == [text.UNBOUND, text.UNBOUND]


async def test_wrong_expired_and_reused_codes_are_refused(rig: Rig) -> None:
    rig.fake.push_command(STRANGER, "bind", "AAAA-BBBB")
    assert "不正确" in (await rig.texts(STRANGER, 1))[-1]
    expired, _ = bindcodes.issue(rig.app.config.store_path, "zheng-lei",
                                 rig.clock.now() - timedelta(hours=25), timedelta(hours=24))
    rig.fake.push_command(ZHENG, "bind", expired)
    assert "已过期" in (await rig.texts(ZHENG, 1))[-1]
    code = rig.code_for("郑磊")
    rig.fake.push_message(ZHENG, f"绑定 {code.lower()}")  # case and the dash do not matter
    assert (await rig.texts(ZHENG, 2))[-1].startswith("绑定成功：郑磊")
    rig.fake.push_command(STRANGER, "bind", code)
    assert "已被使用过" in (await rig.texts(STRANGER, 2))[-1]
    assert rig.app.store.account_person("telegram", str(STRANGER)) is None


async def test_five_wrong_tries_an_hour_then_even_a_right_code_waits(rig: Rig) -> None:
    for i in range(5):
        rig.fake.push_command(STRANGER, "bind", f"WRONG-{i:03d}")
    await rig.texts(STRANGER, 5)
    right = rig.code_for("郑磊")
    rig.fake.push_command(STRANGER, "bind", right)
    assert (await rig.texts(STRANGER, 6))[-1] == text.BIND_TOO_MANY
    assert rig.app.store.account_person("telegram", str(STRANGER)) is None
    rig.clock.advance(timedelta(hours=1, minutes=1))
    rig.fake.push_command(STRANGER, "bind", right)
    assert (await rig.texts(STRANGER, 7))[-1].startswith("绑定成功：郑磊")


async def test_the_lockout_survives_a_restart(tmp_path: Path) -> None:
    rig, stop = await start_rig(tmp_path)
    try:
        for i in range(5):
            rig.fake.push_command(STRANGER, "bind", f"WRONG-{i:03d}")
        await rig.texts(STRANGER, 5)
        right = rig.code_for("郑磊")
    finally:
        await stop()
    rig, stop = await start_rig(tmp_path)  # a restart forgives nothing
    try:
        rig.fake.push_command(STRANGER, "bind", right)
        assert (await rig.texts(STRANGER, 1))[-1] == text.BIND_TOO_MANY
        assert rig.app.store.account_person("telegram", str(STRANGER)) is None
    finally:
        await stop()


async def test_guessing_from_many_accounts_is_limited_too(rig: Rig) -> None:
    accounts = [9000 + i for i in range(6)]
    for account in accounts:
        rig.fake.add_user(account, f"路人{account}")
    for account in accounts[:4]:  # 4 × 5 = 20 wrong codes, each account within its own five
        for i in range(5):
            rig.fake.push_command(account, "bind", f"WRONG-{account}-{i}")
        await rig.texts(account, 5)
    right = rig.code_for("郑磊")
    rig.fake.push_command(accounts[5], "bind", right)  # a fresh account: still refused
    assert (await rig.texts(accounts[5], 1))[-1] == text.BIND_TOO_MANY
    assert rig.app.store.account_person("telegram", str(accounts[5])) is None
    refused = rig.app.store.ledger_path().read_text(encoding="utf-8").count('"bind-refused"')
    assert refused == 20  # recorded while counting, not once the limit is reached


async def test_codes_are_stored_hashed(rig: Rig) -> None:
    code = rig.code_for("吴芳")
    stored = (rig.app.config.store_path / bindcodes.FILE).read_text(encoding="utf-8")
    assert code.replace("-", "") not in stored and code not in stored
    assert bindcodes.digest(code) in stored


# ---- reminders, buttons, taps ----------------------------------------------------------

async def test_reminder_button_tap_check_in_message_edited(rig: Rig) -> None:
    await rig.bind(WU, "吴芳")
    rig.clock.set(at("2026-11-30 09:00"))
    await rig.run_pass()
    n = rig.number("theme-day:branch-1:2026-11")
    [card] = [m for m in rig.fake.messages_to(WU) if "今天截止" in str(m.get("text"))]
    buttons = [b for row in card["reply_markup"]["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == [f"✅ 完成【{k}】" for k in numbers_in(card["text"])
                                            ] + ["查看待办"]  # one message, a button each
    assert f"checkin-{n}" in [b["callback_data"] for b in buttons]
    rig.fake.push_callback(WU, f"checkin-{n}", card)
    await asyncio.to_thread(rig.fake.wait_until, lambda: bool(rig.fake.edits))
    task = rig.app.store.task_by_number(n)
    assert task is not None and task.status is Status.DONE
    assert task.checkin is not None and task.checkin.channel == "telegram"
    [answer] = rig.fake.answered
    assert answer.text == "已记录完成 ✅"
    edited = rig.fake.message(WU, card["message_id"])
    assert edited["text"].endswith(f"✅ 【{n}】已于11月30日 09:00 记录完成")
    left = [b["callback_data"] for row in edited["reply_markup"]["inline_keyboard"]
            for b in row]
    assert f"checkin-{n}" not in left and len(left) == len(buttons) - 1  # the others stay


async def test_private_chats_are_paced_and_nobody_exceeds_a_limit(rig: Rig) -> None:
    await rig.bind(WU, "吴芳")
    rig.clock.set(at("2026-11-30 09:00"))
    await rig.run_pass()  # the morning's one message, then three answers at once
    for command in ("待办", "近期", "帮助"):
        rig.fake.push_message(WU, command)
    await rig.texts(WU, 5)
    to_wu = [s.at for s in rig.fake.sent if s.chat_id == WU][1:]  # after the bind reply
    assert len(to_wu) >= 4
    assert all(b - a >= 1.0 for a, b in pairwise(to_wu))
    assert not rig.fake.violations


async def test_a_429_is_waited_out_and_sent_once(rig: Rig) -> None:
    await rig.bind(WU, "吴芳")
    rig.fake.fail_next("sendMessage", 429, retry_after=1)
    rig.clock.set(at("2026-11-30 09:00"))
    await rig.run_pass()
    texts = rig.fake.texts_to(WU)[1:]
    assert len(texts) == 1 and len(numbers_in(texts[0])) == 3  # arrived once, all of it
    assert all(e.state is Delivery.SENT for e in rig.app.store.deliveries()
               if e.channel == "telegram" and e.recipient == "wu-fang")


async def test_a_blocked_user_is_a_permanent_failure(rig: Rig) -> None:
    await rig.bind(WU, "吴芳")
    rig.fake.block(WU)
    rig.clock.set(at("2026-11-30 09:00"))
    await rig.run_pass()
    failed = [e for e in rig.app.store.deliveries()
              if e.recipient == "wu-fang" and e.channel == "telegram"]
    assert failed and all(e.state is Delivery.FAILED and "403" in e.error for e in failed)


# ---- evidence files --------------------------------------------------------------------

async def checked_in(rig: Rig) -> int:
    """吴芳, bound, has just checked in her theme day; its number."""
    await rig.bind(WU, "吴芳")
    n = rig.number("theme-day:branch-1:2026-11")
    assert (await rig.answer(WU, lambda: rig.fake.push_message(WU, f"打卡 {n} 已开展"))
            ).startswith(text.CHECKED_IN)
    return n


def attachments(rig: Rig, n: int) -> tuple[Attachment, ...]:
    task = rig.app.store.task_by_number(n)
    assert task is not None and task.checkin is not None
    return task.checkin.attachments


def cap_mb(rig: Rig) -> int:
    return rig.app.store.files.max_bytes // MB


async def test_a_photo_after_a_check_in_is_downloaded_and_kept(rig: Rig) -> None:
    n = await checked_in(rig)
    rig.clock.advance(timedelta(minutes=5))
    photo = rig.fake.add_file(JPEG)
    reply = await rig.answer(WU, lambda: rig.fake.push_photo(WU, photo))
    task = rig.app.store.task_by_number(n)
    assert task is not None
    assert reply == text.attached(f"【{n}】{text.describe(rig.app.org, task, 'wu-fang')}", 1)
    [kept] = attachments(rig, n)
    assert (kept.kind, kept.ref, kept.size, kept.type, kept.error) == (
        "image", photo, len(JPEG), "image/jpeg", "")
    assert kept.sha256 == hashlib.sha256(JPEG).hexdigest()
    assert rig.app.store.files.path(kept.sha256).read_bytes() == JPEG  # the bytes, not an id
    assert [(d.file_id, d.status) for d in rig.fake.downloads] == [(photo, 200)]  # not the
    # thumbnail, and through getFile's file_path at the fake's file URL


async def test_a_document_checks_in_with_its_caption_and_keeps_its_name(rig: Rig) -> None:
    await rig.bind(WU, "吴芳")
    n = rig.number("theme-day:branch-1:2026-11")
    document = rig.fake.add_file(PDF, file_name="主题党日记录.pdf", mime_type="application/pdf")
    reply = await rig.answer(WU, lambda: rig.fake.push_document(WU, document,
                                                                 f"打卡 {n} 已开展"))
    assert reply.startswith(text.CHECKED_IN)
    [kept] = attachments(rig, n)
    assert (kept.kind, kept.ref, kept.name, kept.type, kept.size, kept.error) == (
        "file", document, "主题党日记录.pdf", "application/pdf", len(PDF), "")
    assert rig.app.store.files.path(kept.sha256).read_bytes() == PDF


async def test_an_expired_file_id_is_recorded_as_not_kept_and_said(rig: Rig) -> None:
    n = await checked_in(rig)
    photo = rig.fake.add_file(JPEG)
    rig.fake.expire_file(photo)
    reply = await rig.answer(WU, lambda: rig.fake.push_photo(WU, photo))
    assert text.file_not_kept(Refusal.DOWNLOAD.value, "", cap_mb(rig)) in reply
    [refused] = attachments(rig, n)  # recorded with its id and why, never dropped
    assert (refused.ref, refused.sha256, refused.error) == (photo, "", Refusal.DOWNLOAD.value)
    assert len(rig.fake.calls("getFile")) == 1  # gone for good: not asked again
    assert not rig.fake.downloads


async def test_a_busy_telegram_is_asked_again(rig: Rig) -> None:
    n = await checked_in(rig)
    photo = rig.fake.add_file(JPEG)
    rig.fake.fail_next("getFile", 502, times=2)
    await rig.answer(WU, lambda: rig.fake.push_photo(WU, photo))
    [kept] = attachments(rig, n)
    assert kept.sha256 and not kept.error
    assert len(rig.fake.calls("getFile")) == 3


@pytest.mark.parametrize(("cap", "size", "stated", "refusal", "recorded", "asked"), [
    (1, 2 * MB, True, Refusal.TOO_BIG, 2 * MB, 0),  # the message says how big: not asked
    (1, 2 * MB, False, Refusal.TOO_BIG, 2 * MB, 1),  # getFile says: not downloaded
    (1, MAX_DOWNLOAD + 1, False, Refusal.TOO_BIG, 0, 1),  # Telegram gives bots 20 MB at most
    (50, 30 * MB, True, Refusal.DOWNLOAD, 0, 1),  # within our cap, over Telegram's
], ids=["stated", "get-file", "telegram-limit", "over-telegram-limit-only"])
async def test_a_file_over_the_cap_is_refused_unfetched(
        tmp_path: Path, cap: int, size: int, stated: bool, refusal: Refusal, recorded: int,
        asked: int) -> None:
    rig, stop = await start_rig(tmp_path, max_file_mb=cap)
    try:
        n = await checked_in(rig)
        document = rig.fake.add_file(PDF, file_name="录像.pdf", size=size)
        reply = await rig.answer(WU, lambda: rig.fake.push_document(WU, document,
                                                                     with_size=stated))
        assert text.file_not_kept(refusal.value, "录像.pdf", cap) in reply
        [refused] = attachments(rig, n)
        assert (refused.ref, refused.name, refused.sha256, refused.error) == (
            document, "录像.pdf", "", refusal.value)
        assert refused.size == recorded  # 0: not known
        assert len(rig.fake.calls("getFile")) == asked and not rig.fake.downloads
    finally:
        await stop()


async def test_a_slow_download_is_waited_for(rig: Rig) -> None:
    n = await checked_in(rig)
    photo = rig.fake.add_file(JPEG, delay=1.0)  # the fake's answer waits; the test does not
    reply = await rig.answer(WU, lambda: rig.fake.push_photo(WU, photo))
    task = rig.app.store.task_by_number(n)
    assert task is not None
    assert reply == text.attached(f"【{n}】{text.describe(rig.app.org, task, 'wu-fang')}", 1)
    [kept] = attachments(rig, n)
    assert rig.app.store.files.path(kept.sha256).read_bytes() == JPEG
    assert len(rig.fake.calls("getFile")) == 1  # once: not timed out and tried again


async def test_a_slow_download_holds_up_nobody_else_and_keeps_its_senders_order(
        rig: Rig) -> None:
    n = await checked_in(rig)
    await rig.bind(ZHENG, "郑磊")
    photo = rig.fake.add_file(JPEG, delay=3.0)
    before = len(rig.fake.texts_to(WU))
    rig.fake.push_photo(WU, photo)
    rig.fake.push_message(WU, "待办")  # after her photo: answered after it, in her order
    other = await rig.answer(ZHENG, lambda: rig.fake.push_message(ZHENG, "待办"))
    assert other and len(rig.fake.texts_to(WU)) == before  # 郑磊 did not wait for her file
    mine = await rig.texts(WU, before + 2)
    task = rig.app.store.task_by_number(n)
    assert task is not None
    assert mine[before] == text.attached(
        f"【{n}】{text.describe(rig.app.org, task, 'wu-fang')}", 1)


# ---- groups ----------------------------------------------------------------------------

async def test_group_commands_with_botname_and_the_weekly_digest(rig: Rig) -> None:
    await rig.bind(WU, "吴芳")
    rig.fake.push_message(WU, "大家好", chat_id=GROUP)  # chatter: not for the bot
    rig.fake.push_message(WU, "/todo@some_other_bot", chat_id=GROUP)
    rig.fake.push_message(WU, f"/todo@{rig.fake.username}", chat_id=GROUP)
    replies = await rig.texts(GROUP, 1)
    await asyncio.sleep(0.2)  # the two messages before it were ignored, not slow
    assert len(rig.fake.texts_to(GROUP)) == 1 and replies[0].startswith("您有 6 项待办")
    rig.fake.push_message(WU, f"/bind@{rig.fake.username} ABCD-EFGH", chat_id=GROUP)
    assert "私聊" in (await rig.texts(GROUP, 2))[-1]
    rig.clock.set(at("2026-11-30 09:00"))  # Monday: the weekly digest
    await rig.run_pass()
    digest = next(m for m in rig.fake.messages_to(GROUP) if "【本周提示】" in m["text"])
    assert digest["text"].startswith("【本周提示】机关第一党支部")
    sent = next(s for s in rig.fake.sent if s.message is digest or s.message == digest)
    assert sent.params.get("parse_mode") == "HTML" and f"tg://user?id={WU}" in str(
        sent.params.get("text"))


# ---- detail level ----------------------------------------------------------------------

async def test_minimal_detail_leaves_out_names_and_notes(tmp_path: Path) -> None:
    rig, stop = await start_rig(tmp_path, detail="minimal")
    try:
        await rig.bind(LI, "李红梅")
        await rig.bind(WU, "吴芳")
        rig.clock.set(at("2026-12-03 09:00"))  # November's tasks escalate to 李红梅
        await rig.run_pass()
        to_leader = rig.fake.texts_to(LI)
        escalation = next(t for t in to_leader if t.startswith("【逾期督办】"))
        assert "吴芳" not in escalation and "负责人：" not in escalation
        n = rig.number("theme-day:branch-1:2026-11")
        rig.fake.push_message(WU, f"打卡 {n} 已开展，参会12人")
        confirmation = (await rig.texts(WU, len(rig.fake.texts_to(WU)) + 1))[-1]
        assert confirmation.startswith(text.CHECKED_IN) and "参会12人" not in confirmation
        task = rig.app.store.task_by_number(n)
        assert task is not None and task.checkin is not None
        assert task.checkin.note == "已开展，参会12人"  # kept, just not shown here
    finally:
        await stop()


# ---- webhook ---------------------------------------------------------------------------

async def test_webhook_secret_dedupe_and_processing_before_200(tmp_path: Path) -> None:
    rig, stop = await start_rig(tmp_path, mode="webhook")
    assert rig.platforms.needs_server
    server = HttpServer(make_app(lambda: health(rig.app, rig.deliverer),
                                 rig.platforms.wiring.routes),
                        rig.app.config.server)
    await server.start()
    url = f"http://127.0.0.1:{server.port}/telegram/webhook"
    try:
        hook = rig.fake.webhook
        assert hook is not None and hook.secret_token == SECRET
        assert hook.url == "https://duty.example.gov.cn/telegram/webhook"
        code = rig.code_for("吴芳")
        async with httpx.AsyncClient(timeout=10) as http:
            ledger = rig.app.store.ledger_path().read_bytes()
            bind = rig.fake.make_update(WU, f"/bind {code}")
            wrong = await http.post(url, json=bind,
                                    headers={"X-Telegram-Bot-Api-Secret-Token": "nope"})
            missing = await http.post(url, json=bind)
            assert wrong.status_code == missing.status_code == 403
            assert rig.app.store.ledger_path().read_bytes() == ledger
            assert rig.app.store.account_person("telegram", str(WU)) is None
            headers = rig.fake.webhook_headers()
            assert (await http.post(url, json=bind, headers=headers)).status_code == 200
            # Processed before the 200: the binding is already recorded.
            assert rig.app.store.account_person("telegram", str(WU)) == "wu-fang"
            n = rig.number("theme-day:branch-1:2026-11")
            done = rig.fake.make_update(WU, f"打卡 {n} 已开展")
            for _ in range(2):  # Telegram redelivers
                assert (await http.post(url, content=json.dumps(done),
                                        headers=headers)).status_code == 200
            rig.bot._seen.clear()  # and after a restart, the store still knows the update
            assert (await http.post(url, json=done, headers=headers)).status_code == 200
            records = rig.app.store.ledger_path().read_text(encoding="utf-8")
            assert records.count('"type":"checkin"') == 1
            garbage = await http.post(url, content=b"{not json", headers=headers)
            assert garbage.status_code == 400
            ledger = rig.app.store.ledger_path().read_bytes()
            for shape in (b"[1,2,3]", b"null", b"5", b'"x"', b"[" * 100_000 + b"]" * 100_000,
                          b'{"update_id": "1"}', b'{"update_id": 7, "message": [1]}',
                          b'{"update_id": 8, "message": {"chat": 5}}'):
                answer = await http.post(url, content=shape, headers=headers)
                assert answer.status_code == 400, shape[:40]
            assert rig.app.store.ledger_path().read_bytes() == ledger
    finally:
        await server.stop()
        await stop()


async def test_a_missing_token_is_named(tmp_path: Path) -> None:
    with FakeTelegram() as fake:
        config = load(telegram_config(tmp_path, fake.base_url))
        app = App.open(config, FakeClock(at("2026-11-26 10:00")))
        with pytest.raises(MissingSecret, match="TG_TOKEN"):
            connect(config, app, {})
        app.close()


def test_a_refused_token_at_start_up_is_one_line_without_the_token(tmp_path: Path) -> None:
    with FakeTelegram() as fake:
        path = telegram_config(tmp_path, fake.base_url)
        wrong = "654321:WRONG-secret-token-value"
        env = {**os.environ, "TG_TOKEN": wrong, "PYTHONPATH": str(ROOT)}
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(path), "--now",
             "2026-11-26T10:00"], env=env, capture_output=True, text=True, cwd=tmp_path,
            timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    assert wrong not in output and "WRONG-secret" not in output
    [line] = [ln for ln in result.stderr.splitlines() if "无法启动" in ln]
    assert "TG_TOKEN" in line and "401" in line


def test_check_and_bind_code_from_the_command_line(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    from bot.cli import main
    path = telegram_config(tmp_path, "http://127.0.0.1:9/bot")
    monkeypatch.delenv("TG_TOKEN", raising=False)
    assert main(["check", "--config", str(path), "--now", "2026-11-26T10:00"]) == 0
    out = capsys.readouterr().out
    assert "Telegram 已启用（轮询，信息完整，1 个单位群" in out and "TG_TOKEN" in out
    assert main(["bind-code", "吴芳", "--config", str(path), "--now", "2026-11-26T10:00"]) == 0
    printed = capsys.readouterr().out
    code = printed.split("绑定码：", 1)[1].split()[0]
    issued = bindcodes.find(load(path).store_path, code)
    assert issued is not None and issued.person == "wu-fang"
    assert abs(issued.expires - at("2026-11-27 10:00")) < timedelta(seconds=5)
    assert "有效期至 2026-11-27 10:00" in printed
    assert main(["bind-code", "不存在的人", "--config", str(path)]) == 2


def test_files_come_from_beside_the_api_base_url(tmp_path: Path) -> None:
    assert TelegramSettings().file_base_url == "https://api.telegram.org/file/bot"
    local = TelegramSettings(api_base_url="http://10.0.0.5:8081/bot")  # a local Bot API server
    assert local.file_base_url == "http://10.0.0.5:8081/file/bot"
    with pytest.raises(ConfigError) as caught:
        load(telegram_config(tmp_path, "https://tg-proxy.example.cn/api/"))
    assert caught.value.key == "channels.telegram.api_base_url" and "/bot" in caught.value.problem
