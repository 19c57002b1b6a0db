"""Tests of the WeCom test-support modules, driven by the real wechatpy 1.8.18 client.

`LoopbackWeChatClient` below is how the channel's tests should point wechatpy at the fake.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import threading
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from wechatpy.enterprise import WeChatClient, create_reply, parse_message
from wechatpy.enterprise.crypto import WeChatCrypto
from wechatpy.enterprise.exceptions import InvalidCorpIdException
from wechatpy.exceptions import (
    APILimitedException,
    InvalidSignatureException,
    WeChatClientException,
)

from tests import fake_wecom as wc
from tests.fake_wecom import FakeWeCom, ManualClock
from tests.wecom_callback import (
    MALFORMED_KINDS,
    SAMPLE_CORP_ID,
    SAMPLE_ENCODING_AES_KEY,
    SAMPLE_POST_BODY,
    SAMPLE_POST_MSG_SIGNATURE,
    SAMPLE_POST_NONCE,
    SAMPLE_POST_PLAINTEXT,
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

AGENT = 1000002
ROBOT_KEY = "robot-key-duty-group"


class LoopbackWeChatClient(WeChatClient):  # type: ignore[misc]
    """wechatpy's enterprise client, with gettoken routed through API_BASE_URL.

    1.8.18's `fetch_access_token` hard-codes https://qyapi.weixin.qq.com/cgi-bin/gettoken;
    `_fetch_access_token(url, params)` is the part that does the work.
    """

    def fetch_access_token(self) -> dict[str, Any]:
        result: dict[str, Any] = self._fetch_access_token(
            url=self.API_BASE_URL + "gettoken",
            params={"corpid": self.corp_id, "corpsecret": self.secret},
        )
        return result


def client_for(fake: FakeWeCom, *, secret: str | None = None, timeout: float = 5,
               auto_retry: bool = False) -> LoopbackWeChatClient:
    client = LoopbackWeChatClient(fake.corp_id, secret or fake.secret, timeout=timeout,
                                  auto_retry=auto_retry)
    client.API_BASE_URL = fake.base_url
    return client


def send_text(client: LoopbackWeChatClient, users: str, content: str = "hi") -> dict[str, Any]:
    result: dict[str, Any] = client.message.send_text(AGENT, users, content)
    return result


def post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        result: dict[str, Any] = json.loads(response.read())
    return result


def sha1_signature(*parts: str) -> str:
    """WeCom's msg_signature, written out independently of wechatpy."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def decrypt(simulator: CallbackSimulator, request: CallbackRequest) -> str:
    plaintext: str = simulator.crypto.decrypt_message(
        request.body, request.query["msg_signature"], request.query["timestamp"],
        request.query["nonce"])
    return plaintext


@pytest.fixture
def ticks() -> ManualClock:
    return ManualClock()


@pytest.fixture
def fake(ticks: ManualClock) -> Iterator[FakeWeCom]:
    with FakeWeCom(clock=ticks, known_users={"zhangsan", "lisi", "wangwu"},
                   robot_keys={ROBOT_KEY}) as server:
        yield server


@pytest.fixture
def client(fake: FakeWeCom) -> LoopbackWeChatClient:
    return client_for(fake)


# --- access token ------------------------------------------------------------------------------


def test_token_is_fetched_once_and_reused(fake: FakeWeCom,
                                          client: LoopbackWeChatClient) -> None:
    send_text(client, "zhangsan")
    send_text(client, "lisi")
    assert fake.token_calls == 1
    sends = fake.calls_to("message/send")
    assert [r.query["access_token"] for r in sends] == fake.issued_tokens * 2
    gettoken = fake.calls_to("gettoken")[0]
    assert gettoken.query == {"corpid": fake.corp_id, "corpsecret": wc.REDACTED}
    assert fake.secret not in repr(fake.requests)


def test_wrong_secret_or_corp_is_refused(fake: FakeWeCom) -> None:
    with pytest.raises(WeChatClientException) as wrong_secret:
        client_for(fake, secret="not-the-secret").fetch_access_token()
    assert wrong_secret.value.errcode == wc.INVALID_CREDENTIAL
    other_corp = client_for(fake)
    other_corp.corp_id = "wwsomeoneelse"
    with pytest.raises(WeChatClientException) as wrong_corp:
        other_corp.fetch_access_token()
    assert wrong_corp.value.errcode == wc.INVALID_CORP_ID
    assert fake.token_calls == 2 and fake.issued_tokens == []


def test_token_expires_on_the_fake_clock(fake: FakeWeCom, client: LoopbackWeChatClient,
                                         ticks: ManualClock) -> None:
    send_text(client, "zhangsan")
    ticks.advance(fake.token_ttl - 1)
    send_text(client, "zhangsan")  # still valid one second before expiry
    ticks.advance(1)
    # wechatpy judges expiry by the wall clock, so it still trusts its token.
    with pytest.raises(WeChatClientException) as expired:
        send_text(client, "zhangsan")
    assert expired.value.errcode == wc.EXPIRED_ACCESS_TOKEN
    assert not isinstance(expired.value, APILimitedException)
    assert len(fake.delivered) == 2 and fake.token_calls == 1


def test_expire_tokens_and_unknown_token(fake: FakeWeCom, client: LoopbackWeChatClient) -> None:
    send_text(client, "zhangsan")
    fake.expire_tokens()
    with pytest.raises(WeChatClientException) as expired:
        send_text(client, "zhangsan")
    assert expired.value.errcode == wc.EXPIRED_ACCESS_TOKEN
    client.fetch_access_token()  # a fresh token works again
    send_text(client, "zhangsan")
    assert len(fake.delivered) == 2

    stranger = LoopbackWeChatClient(fake.corp_id, fake.secret, access_token="made-up",
                                    timeout=5, auto_retry=False)
    stranger.API_BASE_URL = fake.base_url
    with pytest.raises(WeChatClientException) as unknown:
        send_text(stranger, "zhangsan")
    assert unknown.value.errcode == wc.INVALID_ACCESS_TOKEN


def test_auto_retry_refetches_after_42001(fake: FakeWeCom) -> None:
    # What wechatpy does by default (with no cap on retries; PLATFORMS §4).
    client = client_for(fake, auto_retry=True)
    send_text(client, "zhangsan")
    fake.expire_tokens()
    send_text(client, "zhangsan")
    assert fake.token_calls == 2 and len(fake.delivered) == 2


# --- message/send ------------------------------------------------------------------------------


def test_invalid_users_listed_lowercased_and_others_delivered(
        fake: FakeWeCom, client: LoopbackWeChatClient, ticks: ManualClock) -> None:
    result = send_text(client, "ZhangSan|Ghost|nobody", "交接班")
    assert result["errcode"] == 0
    assert result["invaliduser"] == "ghost|nobody"
    assert result["msgid"]
    assert fake.delivered == [(
        "ZhangSan",
        {"touser": "ZhangSan|Ghost|nobody", "toparty": "", "totag": "", "agentid": AGENT,
         "msgtype": "text", "text": {"content": "交接班"}, "safe": 0},
        ticks(),
    )]
    assert fake.texts_to("zhangsan") == ["交接班"]
    clean = send_text(client, "lisi")
    assert "invaliduser" not in clean  # absent when empty: read it with .get()


def test_all_recipients_invalid_is_81013_with_invaliduser(
        fake: FakeWeCom, client: LoopbackWeChatClient) -> None:
    with pytest.raises(WeChatClientException) as error:
        send_text(client, "Ghost|nobody")
    assert error.value.errcode == wc.ALL_RECIPIENTS_INVALID
    assert error.value.response.json()["invaliduser"] == "ghost|nobody"
    assert fake.delivered == [] and fake.dropped == []


def test_wrong_agent_and_unknown_msgtype_are_refused(
        fake: FakeWeCom, client: LoopbackWeChatClient) -> None:
    with pytest.raises(WeChatClientException) as agent:
        client.message.send_text(AGENT + 1, "zhangsan", "hi")
    assert agent.value.errcode == wc.INVALID_AGENT_ID
    with pytest.raises(WeChatClientException) as kind:
        client.message.send(AGENT, "zhangsan", msg={"msgtype": "hologram", "hologram": {}})
    assert kind.value.errcode == wc.INVALID_MESSAGE_TYPE
    assert fake.delivered == []


def test_api_frequency_limit_raises_api_limited(ticks: ManualClock) -> None:
    with FakeWeCom(clock=ticks, api_per_minute=2) as fake:
        client = client_for(fake)
        send_text(client, "zhangsan")
        send_text(client, "lisi")
        ticks.advance(30)
        with pytest.raises(APILimitedException) as limited:
            send_text(client, "wangwu")
        assert limited.value.errcode == wc.API_FREQ_OUT_OF_LIMIT
        ticks.advance(31)  # the first two calls left the minute, but the block lasts 60 s
        with pytest.raises(APILimitedException):
            send_text(client, "wangwu")
        ticks.advance(30)
        send_text(client, "wangwu")
        assert [d.userid for d in fake.delivered] == ["zhangsan", "lisi", "wangwu"]


def test_beyond_30_a_minute_per_member_is_silently_dropped(
        fake: FakeWeCom, client: LoopbackWeChatClient, ticks: ManualClock) -> None:
    results = [send_text(client, "zhangsan", f"n{i}") for i in range(33)]
    assert all(r["errcode"] == 0 for r in results)  # the platform does not tell
    assert len(fake.delivered) == 30
    assert [d.body["text"]["content"] for d in fake.dropped] == ["n30", "n31", "n32"]
    send_text(client, "lisi")  # another member has their own budget
    assert fake.delivered[-1].userid == "lisi"
    ticks.advance(59)
    send_text(client, "zhangsan")
    assert len(fake.dropped) == 4
    ticks.advance(1.5)  # the first 30 have left the sliding minute
    send_text(client, "zhangsan")
    assert fake.texts_to("zhangsan")[-1] == "hi" and len(fake.dropped) == 4


def test_hour_limit_per_member(ticks: ManualClock) -> None:
    with FakeWeCom(clock=ticks, per_member_minute=3, per_member_hour=5) as fake:
        client = client_for(fake)
        for _ in range(3):
            send_text(client, "zhangsan")
        ticks.advance(61)
        for _ in range(3):
            send_text(client, "zhangsan")
        assert (len(fake.delivered), len(fake.dropped)) == (5, 1)
        ticks.advance(3600)
        send_text(client, "zhangsan")
        assert len(fake.delivered) == 6


# --- template cards ----------------------------------------------------------------------------


def button_card(task_id: str, card_type: str = "button_interaction") -> dict[str, Any]:
    return {"msgtype": "template_card", "template_card": {
        "card_type": card_type, "task_id": task_id,
        "main_title": {"title": "值班提醒"},
        "button_list": [{"text": "已完成", "style": 1, "key": "done"}],
    }}


def test_card_response_code_updates_once(fake: FakeWeCom,
                                         client: LoopbackWeChatClient) -> None:
    sent = client.message.send(AGENT, "zhangsan", msg=button_card("task-1"))
    code = sent["response_code"]
    update = {"userids": ["zhangsan"], "agentid": AGENT, "response_code": code,
              "button": {"replace_name": "已处理"}}
    assert client.post("message/update_template_card", data=update)["errcode"] == 0
    with pytest.raises(WeChatClientException) as again:
        client.post("message/update_template_card", data=update)
    assert again.value.errcode == wc.INVALID_RESPONSE_CODE
    assert [(u.response_code, u.body["button"]) for u in fake.card_updates] == [
        (code, {"replace_name": "已处理"})]


def test_card_codes_unknown_issued_and_expired(fake: FakeWeCom, client: LoopbackWeChatClient,
                                               ticks: ManualClock) -> None:
    def update(code: str) -> dict[str, Any]:
        data = {"userids": ["zhangsan"], "agentid": AGENT, "response_code": code,
                "button": {"replace_name": "已处理"}}
        result: dict[str, Any] = client.post("message/update_template_card", data=data)
        return result

    with pytest.raises(WeChatClientException) as unknown:
        update("never-issued")
    assert unknown.value.errcode == wc.INVALID_RESPONSE_CODE
    assert update(fake.issue_response_code("from-a-click"))["errcode"] == 0
    notice = client.message.send(AGENT, "zhangsan", msg=button_card("task-2", "text_notice"))
    assert "response_code" not in notice
    stale = fake.issue_response_code()
    ticks.advance(wc.RESPONSE_CODE_TTL)
    client.fetch_access_token()  # 72 h outlive the token too
    with pytest.raises(WeChatClientException) as expired:
        update(stale)
    assert expired.value.errcode == wc.INVALID_RESPONSE_CODE
    assert len(fake.card_updates) == 1


# --- group robot -------------------------------------------------------------------------------


def test_robot_20_a_minute_then_45009(fake: FakeWeCom, ticks: ManualClock) -> None:
    url = fake.robot_url(ROBOT_KEY)
    for i in range(20):
        assert post_json(url, {"msgtype": "text", "text": {"content": f"m{i}"}})["errcode"] == 0
    over = post_json(url, {"msgtype": "text", "text": {"content": "m20"}})
    assert over["errcode"] == wc.API_FREQ_OUT_OF_LIMIT
    ticks.advance(60)
    assert post_json(url, {"msgtype": "text", "text": {"content": "m21"}})["errcode"] == 0
    contents = [p.body["text"]["content"] for p in fake.robot_posts[ROBOT_KEY]]
    assert contents == [f"m{i}" for i in range(20)] + ["m21"]


def test_robot_unknown_key_and_markdown_size(fake: FakeWeCom) -> None:
    unknown = post_json(fake.robot_url("leaked-old-key"),
                        {"msgtype": "text", "text": {"content": "x"}})
    assert unknown["errcode"] == wc.INVALID_ROBOT_KEY
    url = fake.robot_url(ROBOT_KEY)
    fits = "值" * (4096 // 3) + "a"  # 4096 bytes
    assert post_json(url, {"msgtype": "markdown", "markdown": {"content": fits}})["errcode"] == 0
    too_long = post_json(url, {"msgtype": "markdown", "markdown": {"content": fits + "a"}})
    assert too_long["errcode"] == wc.CONTENT_TOO_LONG
    assert len(fake.robot_posts[ROBOT_KEY]) == 1 and "leaked-old-key" not in fake.robot_posts


# --- scripting ---------------------------------------------------------------------------------


def test_fail_next_answers_scripted_errors_then_recovers(
        fake: FakeWeCom, client: LoopbackWeChatClient) -> None:
    fake.fail_next("message/send", wc.SYSTEM_BUSY, times=2)
    fake.fail_next("message/send", wc.IP_NOT_ALLOWED, body_extra={"from_ip": "203.0.113.9"})
    codes = []
    for _ in range(3):
        with pytest.raises(WeChatClientException) as error:
            send_text(client, "zhangsan")
        codes.append(error.value.errcode)
    assert codes == [wc.SYSTEM_BUSY, wc.SYSTEM_BUSY, wc.IP_NOT_ALLOWED]
    assert error.value.response.json()["from_ip"] == "203.0.113.9"
    assert fake.delivered == []
    send_text(client, "zhangsan")
    assert len(fake.delivered) == 1


def test_fail_next_http_is_a_transport_error(fake: FakeWeCom,
                                             client: LoopbackWeChatClient) -> None:
    fake.fail_next_http("message/send", status=502)
    with pytest.raises(WeChatClientException) as error:
        send_text(client, "zhangsan")
    assert error.value.errcode is None and error.value.response.status_code == 502
    send_text(client, "zhangsan")
    assert len(fake.delivered) == 1


def test_stall_times_the_client_out_but_the_send_took_effect(fake: FakeWeCom) -> None:
    client = client_for(fake, timeout=0.05)
    client.fetch_access_token()
    fake.stall(0.2)
    with pytest.raises(requests.exceptions.ReadTimeout):
        send_text(client, "zhangsan")
    assert len(fake.delivered) == 1  # delivered; only the answer was late
    fake.stall(0)
    assert send_text(client, "zhangsan")["errcode"] == 0


def test_concurrent_sends_are_all_recorded(fake: FakeWeCom) -> None:
    fake.known_users = None
    msgids: list[str] = []

    def worker(n: int) -> None:
        client = client_for(fake)
        for i in range(5):
            msgids.append(send_text(client, f"user{n}-{i}")["msgid"])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(fake.delivered) == 40 and len(set(msgids)) == 40
    assert len({d.userid for d in fake.delivered}) == 40


# --- media -------------------------------------------------------------------------------------


def test_media_upload_then_get_returns_the_bytes(fake: FakeWeCom,
                                                 client: LoopbackWeChatClient) -> None:
    data = bytes(range(256)) * 4 + b"\r\n--\r\n"
    uploaded = client.media.upload("image", ("photo.jpg", io.BytesIO(data), "image/jpeg"))
    assert uploaded["type"] == "image" and uploaded["created_at"].isdigit()
    got = client.get("media/get", params={"media_id": uploaded["media_id"]})
    assert isinstance(got, requests.Response)  # not JSON: wechatpy hands back the response
    assert got.content == data and got.headers["Content-Type"] == "image/jpeg"
    seeded = fake.add_media(b"%PDF-1.7", media_type="file", filename="plan.pdf",
                            content_type="application/pdf")
    assert client.get("media/get", params={"media_id": seeded}).content == b"%PDF-1.7"
    with pytest.raises(WeChatClientException) as missing:
        client.get("media/get", params={"media_id": "nope"})
    assert missing.value.errcode == wc.INVALID_MEDIA_ID
    with pytest.raises(WeChatClientException) as bad_type:
        client.media.upload("hologram", io.BytesIO(data))
    assert bad_type.value.errcode == wc.INVALID_MEDIA_TYPE


# --- callback: WeCom's sample vectors ------------------------------------------------------------


def test_sample_vectors_verify_and_decrypt_with_wechatpy() -> None:
    crypto = WeChatCrypto(SAMPLE_TOKEN, SAMPLE_ENCODING_AES_KEY, SAMPLE_CORP_ID)
    echo = crypto.check_signature(SAMPLE_VERIFY_MSG_SIGNATURE, SAMPLE_VERIFY_TIMESTAMP,
                                  SAMPLE_VERIFY_NONCE, SAMPLE_VERIFY_ECHOSTR)
    assert echo == SAMPLE_VERIFY_RESULT == "1288432023552776189"
    plaintext = crypto.decrypt_message(SAMPLE_POST_BODY, SAMPLE_POST_MSG_SIGNATURE,
                                       SAMPLE_POST_TIMESTAMP, SAMPLE_POST_NONCE)
    assert plaintext == SAMPLE_POST_PLAINTEXT
    message = parse_message(plaintext)
    assert (message.type, message.source, message.content, message.agent) == (
        "text", "ChenJiaShun", "你好", 1000002)


def test_signature_formula_matches_the_sample_and_the_simulator() -> None:
    encrypt = ET.fromstring(SAMPLE_POST_BODY).findtext("Encrypt", "")
    assert sha1_signature(SAMPLE_TOKEN, SAMPLE_POST_TIMESTAMP, SAMPLE_POST_NONCE,
                          encrypt) == SAMPLE_POST_MSG_SIGNATURE
    simulator = CallbackSimulator.sample()
    request = simulator.text("ChenJiaShun", "你好", msg_id=1, create_time=1476422779)
    ours = ET.fromstring(request.body)
    assert [child.tag for child in ours] == ["ToUserName", "Encrypt", "AgentID"]
    assert ours.findtext("ToUserName") == SAMPLE_CORP_ID and ours.findtext("AgentID") == "1000002"
    q = request.query
    assert q["msg_signature"] == sha1_signature(SAMPLE_TOKEN, q["timestamp"], q["nonce"],
                                                ours.findtext("Encrypt", ""))


# --- callback simulator round trips ------------------------------------------------------------


def test_text_round_trip_through_wechatpy() -> None:
    simulator = CallbackSimulator.sample()
    content = "签到 ]]> <b>&amp; 完成"
    request = simulator.text("ZhangSan", content, msg_id=42, create_time=1795000000)
    assert request.method == "POST"
    message = parse_message(decrypt(simulator, request))
    assert (message.type, message.source, message.target, message.content, message.id,
            message.agent, message.time) == (
        "text", "ZhangSan", SAMPLE_CORP_ID, content, 42, 1000002, 1795000000)
    assert decrypt(simulator, request) == request.plaintext


def test_image_and_file_round_trip() -> None:
    simulator = CallbackSimulator.sample()
    image = parse_message(decrypt(simulator, simulator.image("lisi", "MEDIA-1", msg_id=7)))
    assert (image.type, image.source, image.media_id, image.id) == ("image", "lisi", "MEDIA-1", 7)
    assert image.image.startswith("https://")
    file = parse_message(decrypt(simulator, simulator.file("lisi", "MEDIA-2")))
    assert file.type == "unknown"
    assert (file._data["MsgType"], file._data["MediaId"]) == ("file", "MEDIA-2")


def test_card_click_parses_as_unknown_with_fields_in_data() -> None:
    simulator = CallbackSimulator.sample()
    request = simulator.card_click("wangwu", event_key="done", task_id="duty-2026-11-26",
                                   response_code="RC-1", create_time=1795000001)
    message = parse_message(decrypt(simulator, request))
    assert message.type == "unknown" and message.source == "wangwu"
    data = message._data
    assert (data["MsgType"], data["Event"], data["EventKey"], data["TaskId"],
            data["CardType"], data["ResponseCode"], data["CreateTime"]) == (
        "event", "template_card_event", "done", "duty-2026-11-26", "button_interaction",
        "RC-1", "1795000001")
    assert "MsgId" not in data


def test_verify_url_query_survives_url_encoding() -> None:
    simulator = CallbackSimulator.sample()
    request = simulator.verify_url("echo-1234567890")
    decoded = {k: v[0] for k, v in parse_qs(request.query_string).items()}
    assert decoded == request.query
    # This echo pads to 64 bytes, so its base64 ends in "==", which must travel escaped.
    assert request.query["echostr"].endswith("==") and "%3D%3D" in request.query_string
    assert "+" not in request.query_string and "/" not in request.query_string
    assert request.method == "GET" and request.body == b""
    echo = simulator.crypto.check_signature(decoded["msg_signature"], decoded["timestamp"],
                                            decoded["nonce"], decoded["echostr"])
    assert echo == request.plaintext == "echo-1234567890"
    assert request.url("https://bot.example/wecom").startswith("https://bot.example/wecom?")


def test_decrypt_reply_checks_and_decrypts_a_passive_reply() -> None:
    simulator = CallbackSimulator.sample()
    message = parse_message(decrypt(simulator, simulator.text("zhangsan", "签到")))
    reply = simulator.crypto.encrypt_message(create_reply("已签到", message).render(), "99")
    fields = simulator.reply_fields(reply)
    assert (fields["MsgType"], fields["Content"], fields["ToUserName"]) == (
        "text", "已签到", "zhangsan")
    tampered = re.sub(r"<MsgSignature><!\[CDATA\[(\w)", r"<MsgSignature><![CDATA[x", reply)
    with pytest.raises(InvalidSignatureException):
        simulator.decrypt_reply(tampered)


# --- hostile requests ----------------------------------------------------------------------------


def test_bad_signature_and_wrong_corp_are_caught_by_wechatpy() -> None:
    simulator = CallbackSimulator.sample()
    good = simulator.text("zhangsan", "hi")
    bad = simulator.bad_signature(good)
    assert bad.body == good.body and bad.query["msg_signature"] != good.query["msg_signature"]
    with pytest.raises(InvalidSignatureException):
        decrypt(simulator, bad)
    bad_echo = simulator.bad_signature(simulator.verify_url())
    with pytest.raises(InvalidSignatureException):
        simulator.crypto.check_signature(*(bad_echo.query[k] for k in (
            "msg_signature", "timestamp", "nonce", "echostr")))
    with pytest.raises(InvalidCorpIdException):
        decrypt(simulator, simulator.wrong_corp(simulator.text_xml("zhangsan", "hi")))


def test_oversize_is_a_valid_message_that_is_only_too_big() -> None:
    simulator = CallbackSimulator.sample()
    request = simulator.oversize(256 * 1024)
    assert len(request.body) >= 256 * 1024
    assert parse_message(decrypt(simulator, request)).content.startswith("长长长")


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
def test_malformed_bodies_do_not_yield_an_encrypt(kind: Any) -> None:
    simulator = CallbackSimulator.sample()
    request = simulator.malformed(kind)
    assert set(request.query) == {"msg_signature", "timestamp", "nonce"}
    try:
        encrypt = ET.fromstring(request.body).find("Encrypt")
    except ET.ParseError:
        encrypt = None
    assert encrypt is None


@pytest.mark.parametrize("build", ["billion_laughs", "external_entity"])
def test_entity_payloads_are_otherwise_valid(build: str) -> None:
    simulator = CallbackSimulator.sample()
    request: CallbackRequest = getattr(simulator, build)()
    body = request.body.decode("utf-8")
    assert "<!DOCTYPE" in body and "<!ENTITY" in body
    if build == "external_entity":
        assert 'SYSTEM "file:///etc/passwd"' in body and "<ToUserName>&xxe;" in body
    else:
        assert body.count("<!ENTITY") == 10 and "<ToUserName>&lol9;" in body
    # Refusing the DOCTYPE must be the only reason to reject it: the rest verifies.
    encrypt = re.search(r"<Encrypt><!\[CDATA\[(.*?)\]\]></Encrypt>", body)
    assert encrypt is not None
    plaintext = simulator.crypto.decrypt_message(
        {"Encrypt": encrypt.group(1)}, request.query["msg_signature"],
        request.query["timestamp"], request.query["nonce"])
    assert parse_message(plaintext).content == "hello"
