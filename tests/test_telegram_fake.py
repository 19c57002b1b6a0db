"""Tests of tests/fake_telegram.py, driven by the real python-telegram-bot client.

Each test checks a behaviour the bot will lean on, so a fake that got it wrong fails here
rather than letting a bot test pass against something Telegram would never do.
"""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes
from telegram.request import HTTPXRequest

from tests.fake_telegram import (
    BOT_BLOCKED,
    BOT_KICKED_GROUP,
    CANT_INITIATE,
    CHAT_NOT_FOUND,
    FILE_ID_INVALID,
    FILE_TOO_BIG,
    MAX_DOWNLOAD,
    MESSAGE_NOT_MODIFIED,
    MESSAGE_TO_EDIT_NOT_FOUND,
    QUERY_INVALID,
    WEBHOOK_ACTIVE,
    FakeTelegram,
)
from tests.fake_wecom import ManualClock

USER = 1001
GROUP = -4001


def ptb_text(description: str) -> str:
    """The message PTB's TelegramError keeps: "Bad Request: " dropped and capitalised."""
    stripped = description.removeprefix("Bad Request: ")
    return stripped.capitalize() if stripped != description else description


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(f"按钮 {d}", callback_data=d)
                                  for d in data]])


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        server.add_user(USER, "明", "li_ming")
        server.add_group(GROUP, "办公室值班群")
        yield server


@pytest.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as b:
        yield b


@pytest.fixture
def timedelta_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22.2+ warns (PTBDeprecationWarning) whenever RetryAfter is built or read with int
    # periods — even inside PTB's own error handling — unless the app opts in to timedelta.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


async def test_initialize_calls_get_me_at_base_url_plus_token(fake: FakeTelegram) -> None:
    app = (ApplicationBuilder().token(fake.token).base_url(fake.base_url)
           .base_file_url(fake.base_file_url).updater(None).build())
    async with app:
        assert app.bot.username == fake.username
        assert app.bot.id == 123456
    (get_me,) = fake.calls("getMe")
    assert get_me.path == f"/bot{fake.token}/getMe"


async def test_wrong_token_is_refused(fake: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("123456:not-the-token", base_url=fake.base_url):
            raise AssertionError("initialize must refuse the token before this")
    assert [r.method for r in fake.requests] == ["getMe"]


async def test_send_message_arrives_form_encoded_with_markup_as_json_string(
    fake: FakeTelegram, bot: Bot,
) -> None:
    markup = keyboard("done:7", "later:7")
    first = await bot.send_message(USER, "值班提醒", reply_markup=markup)
    second = await bot.send_message(GROUP, "群提醒")

    call = fake.calls("sendMessage")[0]
    assert call.encoding == "form"
    assert call.raw["chat_id"] == str(USER)
    assert isinstance(call.raw["reply_markup"], str)  # nested objects travel as JSON text
    assert call.params["reply_markup"] == markup.to_dict()
    assert first.reply_markup == markup
    assert first.chat.id == USER and first.chat.type == "private"
    assert first.from_user is not None and first.from_user.id == bot.id
    assert fake.texts_to(USER) == ["值班提醒"]
    assert fake.messages_to(USER)[0]["message_id"] == first.message_id
    assert second.chat.type == "group" and second.reply_markup is None
    assert fake.texts_to(GROUP) == ["群提醒"]


async def test_message_ids_increase_per_chat(fake: FakeTelegram, bot: Bot) -> None:
    fake.push_message(USER, "hi")  # the user's message takes id 1 in this chat
    one = await bot.send_message(USER, "a")
    two = await bot.send_message(USER, "b")
    other = await bot.send_message(GROUP, "c")
    assert (one.message_id, two.message_id, other.message_id) == (2, 3, 1)


async def test_edit_message_text(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(USER, "待办：周报", reply_markup=keyboard("done:1"))
    edited = await bot.edit_message_text("已完成：周报", chat_id=USER,
                                         message_id=sent.message_id)
    assert isinstance(edited, type(sent))
    assert edited.text == "已完成：周报"
    assert edited.reply_markup is None  # an edit without reply_markup drops the keyboard
    assert edited.edit_date is not None
    current = fake.message(USER, sent.message_id)
    assert current is not None and current["text"] == "已完成：周报"
    assert [(e.method, e.message_id) for e in fake.edits] == [
        ("editMessageText", sent.message_id)]

    with pytest.raises(BadRequest) as same:
        await bot.edit_message_text("已完成：周报", chat_id=USER, message_id=sent.message_id)
    assert same.value.message == ptb_text(MESSAGE_NOT_MODIFIED)
    with pytest.raises(BadRequest) as missing:
        await bot.edit_message_text("x", chat_id=USER, message_id=999)
    assert missing.value.message == ptb_text(MESSAGE_TO_EDIT_NOT_FOUND)
    assert len(fake.edits) == 1


async def test_edit_message_reply_markup_replaces_the_keyboard(
    fake: FakeTelegram, bot: Bot,
) -> None:
    sent = await bot.send_message(USER, "任务", reply_markup=keyboard("a"))
    edited = await bot.edit_message_reply_markup(USER, sent.message_id,
                                                 reply_markup=keyboard("b"))
    assert isinstance(edited, type(sent)) and edited.reply_markup == keyboard("b")
    assert edited.text == "任务"
    with pytest.raises(ValueError, match="no button"):
        fake.push_callback(USER, "a", fake.sent[0].message)  # that button is gone


async def test_answer_callback_query_once(fake: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(USER, "打卡？", reply_markup=keyboard("done:7"))
    update = Update.de_json(fake.push_callback(USER, "done:7", sent.to_dict()), bot)
    query = update.callback_query
    assert query is not None and query.data == "done:7"
    assert query.message is not None and query.message.message_id == sent.message_id

    assert await bot.answer_callback_query(query.id, text="已记录", show_alert=True) is True
    (answer,) = fake.answered
    assert (answer.callback_query_id, answer.user_id, answer.text, answer.show_alert) == (
        query.id, USER, "已记录", True)

    with pytest.raises(BadRequest) as twice:
        await bot.answer_callback_query(query.id)
    assert twice.value.message == ptb_text(QUERY_INVALID)
    with pytest.raises(BadRequest):
        await bot.answer_callback_query("4242")  # never issued
    assert len(fake.answered) == 1


async def test_get_updates_long_poll_returns_a_pushed_update_promptly(
    fake: FakeTelegram, bot: Bot,
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    deadline = time.monotonic() + 2
    while not fake.polling:
        assert time.monotonic() < deadline, "getUpdates never started waiting"
        await asyncio.sleep(0.01)
    assert not poll.done()

    pushed_at = time.monotonic()
    pushed = fake.push_command(USER, "done", "3", mention=True)
    updates = await asyncio.wait_for(poll, 2)
    assert time.monotonic() - pushed_at < 1

    (update,) = updates
    assert update.update_id == pushed["update_id"]
    assert update.message is not None
    command = f"/done@{fake.username}"
    assert update.message.text == f"{command} 3"
    (entity,) = update.message.entities
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, len(command))

    again = await bot.get_updates(timeout=0)  # not confirmed yet: delivered again
    assert [u.update_id for u in again] == [update.update_id]
    assert await bot.get_updates(offset=update.update_id + 1, timeout=0) == ()
    assert fake.pending_updates == []


async def test_offset_confirms_only_earlier_updates_and_limit_caps(
    fake: FakeTelegram, bot: Bot,
) -> None:
    ids = [fake.push_message(USER, f"m{i}")["update_id"] for i in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3
    first = await bot.get_updates(limit=1, timeout=0)
    assert [u.update_id for u in first] == ids[:1]
    rest = await bot.get_updates(offset=ids[1], timeout=0)
    assert [u.update_id for u in rest] == ids[1:]
    assert [u["update_id"] for u in fake.pending_updates] == ids[1:]


async def test_a_newer_get_updates_terminates_the_waiting_one(
    fake: FakeTelegram, bot: Bot,
) -> None:
    # A second process with the same token; one Bot cannot overlap its own getUpdates (PTB
    # gives getUpdates its own connection pool of size 1 and answers TimedOut instead).
    old = asyncio.create_task(bot.get_updates(timeout=5))
    while not fake.polling:
        await asyncio.sleep(0.01)
    async with Bot(fake.token, base_url=fake.base_url) as second:
        assert await second.get_updates(timeout=0) == ()
    with pytest.raises(Conflict, match="terminated by other getUpdates"):
        await asyncio.wait_for(old, 2)


async def test_pushed_command_reaches_a_ptb_command_handler(fake: FakeTelegram) -> None:
    seen: list[list[str]] = []

    async def done(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append(list(context.args or []))
        assert update.effective_message is not None
        await update.effective_message.reply_text("收到")

    app = (ApplicationBuilder().token(fake.token).base_url(fake.base_url)
           .updater(None).build())
    app.add_handler(CommandHandler("done", done))
    async with app:
        raw = fake.make_update(USER, f"/done@{fake.username} 3", chat_id=GROUP)
        await app.process_update(Update.de_json(raw, app.bot))
    assert seen == [["3"]]
    assert fake.texts_to(GROUP) == ["收到"]
    assert fake.pending_updates == []  # make_update does not queue


async def test_application_polling_round_trip(fake: FakeTelegram) -> None:
    replied = asyncio.Event()

    async def done(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(f"完成 {' '.join(context.args or [])}")
        replied.set()

    app = ApplicationBuilder().token(fake.token).base_url(fake.base_url).build()
    app.add_handler(CommandHandler("done", done))
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(timeout=dtm.timedelta(seconds=5))
        await app.start()
        fake.push_command(USER, "done", "3")
        await asyncio.wait_for(replied.wait(), 2)
        await app.updater.stop()  # confirms what it fetched with one more getUpdates
        await app.stop()
    assert fake.texts_to(USER) == ["完成 3"]
    assert fake.pending_updates == []
    assert [c.method for c in fake.requests][:2] == ["getMe", "deleteWebhook"]


async def test_webhook_blocks_get_updates_until_deleted(fake: FakeTelegram, bot: Bot) -> None:
    url = "https://duty.example.org/telegram/hook"
    assert await bot.set_webhook(url, secret_token="s3cret_-Token",
                                 allowed_updates=["message", "callback_query"])
    assert fake.webhook is not None
    assert (fake.webhook.url, fake.webhook.secret_token) == (url, "s3cret_-Token")
    assert fake.webhook_headers()["X-Telegram-Bot-Api-Secret-Token"] == "s3cret_-Token"

    fake.push_message(USER, "hi")
    info = await bot.get_webhook_info()
    assert (info.url, info.pending_update_count) == (url, 1)
    assert set(info.allowed_updates or ()) == {"message", "callback_query"}
    with pytest.raises(Conflict) as conflict:
        await bot.get_updates(timeout=0)
    assert conflict.value.message == WEBHOOK_ACTIVE

    with pytest.raises(BadRequest):
        await bot.set_webhook("http://duty.example.org/hook")  # Telegram wants HTTPS
    with pytest.raises(BadRequest):
        await bot.set_webhook(url, secret_token="has:colon")
    assert fake.webhook.url == url

    assert await bot.delete_webhook(drop_pending_updates=True)
    assert fake.webhook is None
    assert fake.pending_updates == []
    assert await bot.get_updates(timeout=0) == ()
    assert (await bot.get_webhook_info()).url == ""


async def test_scripted_429_raises_retry_after(
    fake: FakeTelegram, bot: Bot, timedelta_periods: None,
) -> None:
    fake.fail_next("sendMessage", 429, retry_after=2)
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(USER, "a")
    assert flood.value.retry_after == dtm.timedelta(seconds=2)
    assert fake.sent == []
    await bot.send_message(USER, "a")  # only the next call failed
    assert fake.texts_to(USER) == ["a"]


async def test_scripted_502_is_a_network_error(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next("sendMessage", 502, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(USER, "a")
    await bot.send_message(USER, "a")
    assert len(fake.calls("sendMessage")) == 3 and len(fake.sent) == 1


async def test_stall_lets_a_send_land_while_the_client_times_out(fake: FakeTelegram) -> None:
    request = HTTPXRequest(read_timeout=0.1)
    async with Bot(fake.token, base_url=fake.base_url, request=request) as bot:
        fake.stall(0.5)  # effective: the message is sent, only the answer is late
        with pytest.raises(TimedOut):
            await bot.send_message(USER, "一次")
    assert fake.texts_to(USER) == ["一次"]  # a blind retry would deliver it twice


async def test_blocked_and_unstarted_users_are_forbidden(fake: FakeTelegram, bot: Bot) -> None:
    fake.block(USER)
    with pytest.raises(Forbidden) as blocked:
        await bot.send_message(USER, "a")
    assert blocked.value.message == BOT_BLOCKED

    fake.add_user(2002, "芳", started=False)  # known, e.g. from a group, never /start-ed
    with pytest.raises(Forbidden) as unstarted:
        await bot.send_message(2002, "a")
    assert unstarted.value.message == CANT_INITIATE

    fake.block(GROUP)
    with pytest.raises(Forbidden) as kicked:
        await bot.send_message(GROUP, "a")
    assert kicked.value.message == BOT_KICKED_GROUP
    assert fake.sent == []


async def test_unknown_chat_is_not_found(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest) as missing:
        await bot.send_message(999_999, "a")
    assert missing.value.message == ptb_text(CHAT_NOT_FOUND) == "Chat not found"
    fake.push_message(999_999, "/start")  # a private message makes the chat known
    assert (await bot.send_message(999_999, "欢迎")).chat.id == 999_999


async def test_private_chat_limit_is_recorded_not_enforced() -> None:
    clock = ManualClock()
    with FakeTelegram(clock=clock) as fake:
        fake.add_user(USER, "明")
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            await bot.send_message(USER, "1")
            clock.advance(1.0)
            await bot.send_message(USER, "2")
            assert fake.violations == []
            clock.advance(0.5)
            await bot.send_message(USER, "3")
    assert [(v.chat_id, v.limit) for v in fake.violations] == [(USER, "private_per_second")]
    assert fake.texts_to(USER) == ["1", "2", "3"]  # accepted all the same


async def test_group_limit_is_per_minute() -> None:
    clock = ManualClock()
    with FakeTelegram(clock=clock) as fake:
        fake.add_group(GROUP, "群")
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            for i in range(20):
                await bot.send_message(GROUP, str(i))
                clock.advance(0.1)  # well over 1/s, yet within a group's 20 per minute
            assert fake.violations == []
            await bot.send_message(GROUP, "21st")
            clock.advance(60.0)
            await bot.send_message(GROUP, "later")
    assert [v.limit for v in fake.violations] == ["group_per_minute"]


async def test_enforced_limit_answers_429(timedelta_periods: None) -> None:
    clock = ManualClock()
    with FakeTelegram(clock=clock, enforce_limits=True) as fake:
        fake.add_user(USER, "明")
        async with Bot(fake.token, base_url=fake.base_url) as bot:
            await bot.send_message(USER, "1")
            clock.advance(0.2)
            with pytest.raises(RetryAfter) as flood:
                await bot.send_message(USER, "2")
            assert flood.value.retry_after == dtm.timedelta(seconds=1)
            clock.advance(0.8)
            await bot.send_message(USER, "2")
    assert fake.texts_to(USER) == ["1", "2"]
    assert fake.violations == []


async def test_json_bodies_any_method_case_and_unknown_methods(
    fake: FakeTelegram, bot: Bot,
) -> None:
    markup = keyboard("x").to_dict()
    async with httpx.AsyncClient() as client:
        reply = await client.post(f"{fake.base_url}{fake.token}/SENDMESSAGE",
                                  json={"chat_id": USER, "text": "hi", "reply_markup": markup})
        unknown = await client.post(f"{fake.base_url}{fake.token}/sendTelepathy", json={})
    assert reply.status_code == 200 and reply.json()["result"]["reply_markup"] == markup
    call = fake.calls("sendMessage")[0]
    assert (call.method, call.encoding, call.params["chat_id"]) == ("sendMessage", "json", USER)
    assert unknown.status_code == 404
    assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("send_telepathy")


async def test_commands_are_recorded(fake: FakeTelegram, bot: Bot) -> None:
    assert await bot.set_my_commands([("done", "完成任务"), ("list", "我的任务")])
    assert [c.command for c in await bot.get_my_commands()] == ["done", "list"]
    with pytest.raises(BadRequest):
        await bot.set_my_commands([("Done", "uppercase is refused")])
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()


# ---- files -------------------------------------------------------------------------------

async def test_get_file_then_download_through_ptb(fake: FakeTelegram, bot: Bot) -> None:
    data = b"%PDF-1.4 " + bytes(range(256)) * 40
    file_id = fake.add_file(data, file_name="会议记录.pdf", mime_type="application/pdf")
    found = await bot.get_file(file_id)
    assert (found.file_id, found.file_size) == (file_id, len(data))
    assert found.file_path is not None
    assert found.file_path.startswith(f"{fake.base_file_url}{fake.token}/documents/")
    assert found.file_path.endswith(".pdf")
    assert bytes(await found.download_as_bytearray()) == data
    [download] = fake.downloads
    assert (download.file_id, download.status) == (file_id, 200)
    assert fake.calls("getFile")[0].params["file_id"] == file_id


async def test_unknown_expired_and_too_big_files(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=ptb_text(FILE_ID_INVALID)):
        await bot.get_file("AgACAgUAAxkBAAI-no-such-file")
    file_id = fake.add_file(b"\xff\xd8\xff photo")
    found = await bot.get_file(file_id)
    fake.expire_file(file_id)
    with pytest.raises(BadRequest, match=ptb_text(FILE_ID_INVALID)):
        await bot.get_file(file_id)
    with pytest.raises(InvalidToken):  # PTB's reading of the 404 for a path no longer valid
        await found.download_as_bytearray()
    assert [d.status for d in fake.downloads] == [404]
    big = fake.add_file(b"stands for 25 MB", size=MAX_DOWNLOAD + 1)
    with pytest.raises(BadRequest, match=ptb_text(FILE_TOO_BIG)):
        await bot.get_file(big)


async def test_photo_and_document_updates(fake: FakeTelegram, bot: Bot) -> None:
    photo = fake.add_file(b"\xff\xd8\xff photo")
    document = fake.add_file(b"PK\x03\x04 docx", file_name="总结.docx",
                             mime_type="application/vnd.openxmlformats-officedocument."
                                       "wordprocessingml.document")
    fake.push_photo(USER, photo, "/done 7", width=1280, height=720)
    fake.push_document(USER, document, with_size=False)
    first, second = [Update.de_json(u, bot) for u in fake.pending_updates]
    assert first.message is not None and second.message is not None
    sizes = first.message.photo
    assert [p.width for p in sizes] == [90, 1280] and sizes[-1].file_id == photo
    assert sizes[-1].file_size == len(b"\xff\xd8\xff photo")
    assert first.message.caption == "/done 7" and first.message.text is None
    assert [e.type for e in first.message.caption_entities] == ["bot_command"]
    with pytest.raises(BadRequest):  # only the largest size can be fetched
        await bot.get_file(sizes[0].file_id)
    got = second.message.document
    assert got is not None and got.file_id == document and got.file_size is None
    assert got.file_name == "总结.docx" and got.mime_type is not None
    assert got.mime_type.endswith("wordprocessingml.document")


async def test_a_slow_file_times_out_a_short_read(fake: FakeTelegram) -> None:
    request = HTTPXRequest(read_timeout=0.2)
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url,
                   request=request) as bot:
        slow = fake.add_file(b"\xff\xd8\xff slow", delay=1.0)
        found = await bot.get_file(slow)
        with pytest.raises(TimedOut):
            await found.download_as_bytearray()
        assert bytes(await found.download_as_bytearray(read_timeout=5.0)) == b"\xff\xd8\xff slow"
