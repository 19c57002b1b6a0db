"""The real WeCom AI bot SDK (`aibot`, wecom-aibot-python-sdk 1.0.2) against the loopback fake
gateway: the frames, the media crypto, and the SDK behaviours our adapter has to live with.

Each SDK client runs on its own loop in a background thread (`SdkThread`), as in the adapter.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest

from tests.fake_aibot import (
    EVENT_CALLBACK,
    INVALID_CREDENTIAL,
    INVALID_REQ_ID,
    PING,
    RATE_LIMITED,
    RESPOND,
    RESPOND_UPDATE,
    RESPOND_WELCOME,
    SEND,
    SUBSCRIBE,
    EchoBot,
    FakeAibotGateway,
    SdkThread,
    sdk_trusts,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 3


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    yield
    left = [t.name for t in threading.enumerate() if t.name in ("fake-aibot", "aibot-sdk")]
    assert not left, f"threads still running: {left}"


@pytest.fixture
def gateway() -> Iterator[FakeAibotGateway]:
    with FakeAibotGateway() as fake, sdk_trusts(fake):
        yield fake


@pytest.fixture
def sdk(gateway: FakeAibotGateway) -> Iterator[Callable[..., SdkThread]]:
    """Makes (not starts) SDK clients for the gateway; stops them all afterwards."""
    made: list[SdkThread] = []

    def make(**options: Any) -> SdkThread:
        options.setdefault("reconnect_interval", 20)
        made.append(SdkThread(gateway.options(**options)))
        return made[-1]

    yield make
    for runner in reversed(made):
        runner.stop()


def frames(runner: SdkThread, msgtype: str) -> list[dict[str, Any]]:
    return [f for f in runner.named("message") + runner.named("event")
            if f["body"]["msgtype"] == msgtype]


def lifecycle(runner: SdkThread) -> list[str]:
    return [name for name, _ in runner.events if name in SdkThread.LIFECYCLE]


# --- connection ---------------------------------------------------------------------------------
def test_subscribes_with_bot_id_and_secret(gateway: FakeAibotGateway,
                                           sdk: Callable[..., SdkThread]) -> None:
    runner = sdk().start()
    assert gateway.subscribed.is_set()
    first = gateway.sent[0]
    assert first.cmd == SUBSCRIBE and first.req_id.startswith("aibot_subscribe_")
    assert first.body == {"bot_id": gateway.bot_id, "secret": gateway.secret}
    assert gateway.acks[0] == {"headers": {"req_id": first.req_id}, "errcode": 0, "errmsg": "ok"}
    assert runner.client.is_connected


def test_heartbeat_pings_are_answered(gateway: FakeAibotGateway,
                                      sdk: Callable[..., SdkThread]) -> None:
    sdk(heartbeat_interval=10).start()
    ping = gateway.wait_sent(PING)
    assert ping.req_id.startswith("ping_") and ping.body is None
    gateway.wait_for(lambda: {"headers": {"req_id": ping.req_id}, "errcode": 0,
                              "errmsg": "ok"} in gateway.acks)


def test_wrong_secret_is_refused(gateway: FakeAibotGateway,
                                 sdk: Callable[..., SdkThread]) -> None:
    runner = sdk(secret="not-the-secret").start(wait=False)
    error = runner.wait_event("error")
    assert f"(code: {INVALID_CREDENTIAL})" in str(error)
    gateway.wait_for(lambda: gateway.open_connections == 0, what="the fake closing the socket")
    assert not gateway.subscribed.is_set() and "authenticated" not in lifecycle(runner)


def test_plain_ws_url_is_unusable_by_the_sdk() -> None:
    """The SDK hands its TLS context to websockets for any URL (aibot/ws.py:126-132)."""
    with FakeAibotGateway(tls=False) as fake:
        assert fake.url.startswith("ws://")
        runner = SdkThread(fake.options(max_reconnect_attempts=0)).start(wait=False)
        try:
            error = runner.wait_event("error")
        finally:
            runner.stop()
        assert isinstance(error, ValueError)
        assert str(error) == "ssl argument is incompatible with a ws:// URI"
        assert fake.connections == 0


# --- messages in, replies out ---------------------------------------------------------------
def test_text_reply_goes_back_with_the_callbacks_req_id(gateway: FakeAibotGateway,
                                                        sdk: Callable[..., SdkThread]) -> None:
    runner = sdk()
    acks: list[dict[str, Any]] = []

    async def on_text(frame: dict[str, Any]) -> None:
        answer = "收到：" + frame["body"]["text"]["content"]
        acks.append(await runner.client.reply_stream(frame, "stream-1", answer, finish=True))

    runner.client.on("message.text", on_text)
    runner.start()
    pushed = gateway.push_text("zhangsan", "值班")
    reply = gateway.wait_sent(RESPOND, pushed.req_id)
    assert reply.body == {"msgtype": "stream",
                          "stream": {"id": "stream-1", "finish": True, "content": "收到：值班"}}
    assert gateway.wait_for(lambda: acks) == [
        {"headers": {"req_id": pushed.req_id}, "errcode": 0, "errmsg": "ok"}]
    body = runner.named("message")[0]["body"]
    assert body["chattype"] == "single" and body["from"] == {"userid": "zhangsan"}


def test_group_text_carries_the_mention(gateway: FakeAibotGateway,
                                        sdk: Callable[..., SdkThread]) -> None:
    runner = sdk().start()
    gateway.push_text("lisi", "今天谁值班", chatid="wrgroup1")
    body = gateway.wait_for(lambda: frames(runner, "text"))[0]["body"]
    assert body["chattype"] == "group" and body["chatid"] == "wrgroup1"
    assert body["text"]["content"] == "@助手 今天谁值班"


def test_reply_to_an_unknown_req_id_is_refused(gateway: FakeAibotGateway,
                                               sdk: Callable[..., SdkThread]) -> None:
    runner = sdk().start()
    reply = runner.client.reply({"headers": {"req_id": "never-pushed"}},
                                {"msgtype": "markdown", "markdown": {"content": "x"}})
    with pytest.raises(RuntimeError, match=f"errcode={INVALID_REQ_ID}"):
        runner.call(reply)


def test_active_push_reaches_the_gateway(gateway: FakeAibotGateway,
                                         sdk: Callable[..., SdkThread]) -> None:
    runner = sdk().start()
    markdown = {"msgtype": "markdown", "markdown": {"content": "**明日值班**：张三"}}
    ack = runner.call(runner.client.send_message("zhangsan", markdown))
    sent = gateway.sent_cmds(SEND)[0]
    assert sent.req_id.startswith("aibot_send_msg_") and ack["headers"]["req_id"] == sent.req_id
    assert sent.body == {"chatid": "zhangsan", **markdown} and ack["errcode"] == 0


def test_rate_limited_push_raises_with_the_errcode_in_the_message(
        gateway: FakeAibotGateway, sdk: Callable[..., SdkThread]) -> None:
    runner = sdk().start()
    gateway.fail_next(SEND, RATE_LIMITED)
    body = {"msgtype": "markdown", "markdown": {"content": "hi"}}
    with pytest.raises(RuntimeError, match=f"errcode={RATE_LIMITED}"):
        runner.call(runner.client.send_message("wrgroup1", body))
    assert runner.call(runner.client.send_message("wrgroup1", body))["errcode"] == 0


def test_enter_chat_gets_a_welcome(gateway: FakeAibotGateway,
                                   sdk: Callable[..., SdkThread]) -> None:
    runner = sdk()
    welcome = {"msgtype": "text", "text": {"content": "您好，我是值班助手"}}

    async def on_enter(frame: dict[str, Any]) -> None:
        await runner.client.reply_welcome(frame, welcome)

    runner.client.on("event.enter_chat", on_enter)
    runner.start()
    pushed = gateway.push_enter_chat("wangwu")
    assert gateway.wait_sent(RESPOND_WELCOME, pushed.req_id).body == welcome


def test_button_tap_updates_the_card(gateway: FakeAibotGateway,
                                     sdk: Callable[..., SdkThread]) -> None:
    runner = sdk()

    async def on_tap(frame: dict[str, Any]) -> None:
        tap = frame["body"]["event"]["template_card_event"]
        card = {"card_type": "button_interaction", "task_id": tap["task_id"],
                "main_title": {"title": "已确认"}, "button_list": []}
        await runner.client.update_template_card(frame, card)

    runner.client.on("event.template_card_event", on_tap)
    runner.start()
    pushed = gateway.push_button("zhangsan", "confirm", "duty-42", chatid="wrgroup1")
    update = gateway.wait_sent(RESPOND_UPDATE, pushed.req_id)
    assert update.body["response_type"] == "update_template_card"
    assert update.body["template_card"]["task_id"] == "duty-42"


# --- media ------------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [1, 31, 32, 1000])
def test_image_download_decrypts_to_the_original(gateway: FakeAibotGateway,
                                                 sdk: Callable[..., SdkThread],
                                                 size: int) -> None:
    runner = sdk().start()
    data = PNG[:size]
    gateway.push_image("zhangsan", data)
    image = gateway.wait_for(lambda: frames(runner, "image"))[0]["body"]["image"]
    assert len(image["aeskey"]) == 43  # base64 of 32 bytes, "=" stripped
    assert runner.call(runner.client.download_file(image["url"], image["aeskey"])) == (data, None)


def test_file_download_names_the_file(gateway: FakeAibotGateway,
                                      sdk: Callable[..., SdkThread]) -> None:
    runner = sdk().start()
    gateway.push_file("zhangsan", b"PK\x03\x04 sheet", "值班表 12月.xlsx")
    file = gateway.wait_for(lambda: frames(runner, "file"))[0]["body"]["file"]
    got = runner.call(runner.client.download_file(file["url"], file["aeskey"]))
    assert got == (b"PK\x03\x04 sheet", "值班表 12月.xlsx")


def test_mixed_message_items(gateway: FakeAibotGateway, sdk: Callable[..., SdkThread]) -> None:
    runner = sdk().start()
    gateway.push_mixed("zhangsan", ["看这张", PNG])
    items = gateway.wait_for(lambda: frames(runner, "mixed"))[0]["body"]["mixed"]["msg_item"]
    assert items[0] == {"msgtype": "text", "text": {"content": "看这张"}}
    image = items[1]["image"]
    assert runner.call(runner.client.download_file(image["url"], image["aeskey"]))[0] == PNG


def test_expired_media_raises_the_http_error(gateway: FakeAibotGateway,
                                             sdk: Callable[..., SdkThread]) -> None:
    runner = sdk().start()
    pushed = gateway.push_image("zhangsan", PNG)
    gateway.expire_media(pushed.media[0])
    image = pushed.body["image"]
    with pytest.raises(aiohttp.ClientResponseError) as raised:
        runner.call(runner.client.download_file(image["url"], image["aeskey"]))
    assert raised.value.status == 404


def test_error_body_fails_decryption(gateway: FakeAibotGateway,
                                     sdk: Callable[..., SdkThread]) -> None:
    runner = sdk().start()
    media = gateway.add_media(PNG, aeskey="A" * 43,
                              error_body=b'{"errcode":40007,"errmsg":"invalid media_id"}')
    with pytest.raises(RuntimeError, match="decrypt_file: Decryption failed"):
        runner.call(runner.client.download_file(media.url, media.aeskey))


def test_slow_media_times_out_after_request_timeout(gateway: FakeAibotGateway,
                                                    sdk: Callable[..., SdkThread]) -> None:
    runner = sdk(request_timeout=100).start()
    media = gateway.add_media(PNG, delay=5.0)
    with pytest.raises(TimeoutError):
        runner.call(runner.client.download_file(media.url, media.aeskey))


# --- losing the connection --------------------------------------------------------------------
def test_replaced_connection_event_reaches_the_handler(gateway: FakeAibotGateway,
                                                       sdk: Callable[..., SdkThread]) -> None:
    runner = sdk()
    replaced: list[dict[str, Any]] = []

    def on_replaced(frame: dict[str, Any]) -> None:
        replaced.append(frame)
        runner.client.disconnect()  # the SDK would not stop by itself: see the next test

    runner.client.on("event.disconnected_event", on_replaced)
    runner.start()
    pushed = gateway.replace_connection(close_code=4000)
    assert gateway.wait_for(lambda: replaced)[0]["headers"]["req_id"] == pushed.req_id
    gateway.wait_for(lambda: not runner.client.is_connected)
    assert replaced[0]["body"]["event"] == {"eventtype": "disconnected_event"}


def test_sdk_fights_back_after_an_abnormal_close(gateway: FakeAibotGateway,
                                                 sdk: Callable[..., SdkThread]) -> None:
    """Without our own stop, a replaced SDK reconnects (and would kick the newer one)."""
    runner = sdk().start()
    gateway.replace_connection(close_code=4000)
    gateway.wait_for(lambda: lifecycle(runner).count("authenticated") == 2,
                     what="the SDK subscribing again")
    assert lifecycle(runner)[2:] == ["disconnected", "reconnecting", "connected",
                                     "authenticated"]
    assert gateway.subscriptions == 2


def test_a_callback_without_msgtype_never_reaches_the_handlers(
        gateway: FakeAibotGateway, sdk: Callable[..., SdkThread]) -> None:
    """aibot/message_handler.py:34 drops any frame whose body has no msgtype, events included:
    were the real disconnected_event to come without one, only the close would be seen."""
    runner = sdk().start()
    gateway.push(EVENT_CALLBACK, {"event": {"eventtype": "disconnected_event"}})
    logger = runner.options.logger
    gateway.wait_for(lambda: any("invalid message format" in line for _, line in logger.lines))
    assert runner.named("event") == []


def test_newer_connection_kicks_the_older(gateway: FakeAibotGateway,
                                          sdk: Callable[..., SdkThread]) -> None:
    older = sdk().start()
    newer = sdk().start()
    kicked = older.wait_event("event")
    assert kicked["body"]["event"]["eventtype"] == "disconnected_event"
    gateway.wait_for(lambda: not older.client.is_connected)
    assert newer.client.is_connected


def test_normal_close_leaves_the_sdk_silently_offline(gateway: FakeAibotGateway,
                                                      sdk: Callable[..., SdkThread]) -> None:
    """websockets ends `async for` quietly on close code 1000/1001, so the SDK's receive loop
    (aibot/ws.py:192) returns without "disconnected" and without reconnecting."""
    runner = sdk().start()
    gateway.replace_connection(close_code=1000)
    manager = runner.client._ws_manager
    gateway.wait_for(lambda: manager._receive_task.done(), what="the receive loop to end")
    assert not runner.client.is_connected
    assert lifecycle(runner) == ["connected", "authenticated"]


def test_missed_heartbeat_acks_close_without_reconnecting(gateway: FakeAibotGateway,
                                                          sdk: Callable[..., SdkThread]) -> None:
    """Two unanswered pings: the SDK closes the socket itself (aibot/ws.py:314), cleanly, so
    it ends like the test above."""
    gateway.fail_next(PING, errcode=None, times=1000)
    runner = sdk(heartbeat_interval=10).start()
    manager = runner.client._ws_manager
    gateway.wait_for(lambda: manager._receive_task.done(), what="the receive loop to end")
    assert lifecycle(runner) == ["connected", "authenticated"] and gateway.subscriptions == 1


def test_dropped_network_reconnects(gateway: FakeAibotGateway,
                                    sdk: Callable[..., SdkThread]) -> None:
    runner = sdk().start()
    gateway.drop_connection()
    gateway.wait_for(lambda: gateway.subscriptions == 2, what="a second subscribe")
    pushed = gateway.push_text("zhangsan", "还在吗")
    gateway.wait_for(lambda: any(f["headers"]["req_id"] == pushed.req_id
                                 for f in runner.named("message")))


# --- bench baseline ---------------------------------------------------------------------------
def test_echo_bot_roundtrip(gateway: FakeAibotGateway) -> None:
    with EchoBot(gateway) as echo:
        reply, seconds = gateway.roundtrip("zhangsan", "ping 1")
        assert reply.body["stream"]["content"] == "ping 1"
        assert 0 < seconds < 1
        assert echo.client.is_connected
