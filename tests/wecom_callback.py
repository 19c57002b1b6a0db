"""Builds what WeCom sends to an app's callback URL, for tests of the WeCom channel.

A `CallbackSimulator` holds an app's callback settings (token, EncodingAESKey, corp id,
agent id) and uses wechatpy's own crypto to produce:

- plaintext XML for a text, image or file message, a `template_card_event` and the 日程
  events (`respond_schedule` …);
- the encrypted POST WeCom makes (`<xml><ToUserName/><Encrypt/><AgentID/></xml>` and the
  `msg_signature`, `timestamp`, `nonce` query), and the URL-verification GET (`echostr`);
- the decryption of the server's passive reply;
- hostile requests: wrong signature, wrong corp id, oversize body, malformed XML, and
  DOCTYPE/ENTITY payloads (billion laughs, external entity).

Protocol facts: /work/shared/PLATFORMS.md §1-§2. WeCom retries a delivery 3 times with the
same body, so replaying one `CallbackRequest` is how to test dedupe.
"""

from __future__ import annotations

import itertools
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal
from urllib.parse import urlencode

from wechatpy.enterprise.crypto import WeChatCrypto

# --- WeCom's published sample vectors ------------------------------------------------------
# Source: the official WeCom callback sample, sbzhu/weworkapi_python callback/Sample.py
# (commit 27220fbe9d5251d46101e33751568eae9f413666); the same values are in its
# callback_python3/Sample.py. Checked locally: wechatpy 1.8.18 reproduces both results.
SAMPLE_TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
SAMPLE_ENCODING_AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
SAMPLE_CORP_ID = "ww1436e0e65a779aee"
SAMPLE_AGENT_ID = 1000002

# Example 1: URL verification (GET).
SAMPLE_VERIFY_MSG_SIGNATURE = "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb"
SAMPLE_VERIFY_TIMESTAMP = "1476416373"
SAMPLE_VERIFY_NONCE = "47744683"
SAMPLE_VERIFY_ECHOSTR = (
    "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="
)
SAMPLE_VERIFY_RESULT = "1288432023552776189"

# Example 2: an encrypted message (POST).
SAMPLE_POST_MSG_SIGNATURE = "0c3914025cb4b4d68103f6bfc8db550f79dcf48e"
SAMPLE_POST_TIMESTAMP = "1476422779"
SAMPLE_POST_NONCE = "1597212914"
SAMPLE_POST_BODY = (
    "<xml><ToUserName><![CDATA[ww1436e0e65a779aee]]></ToUserName>\n"
    "<Encrypt><![CDATA[Kl7kjoSf6DMD1zh7rtrHjFaDapSCkaOnwu3bqLc5tAybhhMl9pFeK8NslNPVdMwmBQTN"
    "oW4mY7AIjeLvEl3NyeTkAgGzBhzTtRLNshw2AEew+kkYcD+Fq72Kt00fT0WnN87hGrW8SqGc+NcT3mu87Ha3dz"
    "1pSDi6GaUA6A0sqfde0VJPQbZ9U+3JWcoD4Z5jaU0y9GSh010wsHF8KZD24YhmZH4ch4Ka7ilEbjbfvhKkNL65"
    "HHL0J6EYJIZUC2pFrdkJ7MhmEbU2qARR4iQHE7wy24qy0cRX3Mfp6iELcDNfSsPGjUQVDGxQDCWjayJOpcwocu"
    "gux082f49HKYg84EpHSGXAyh+/oxwaWbvL6aSDPOYuPDGOCI8jmnKiypE+]]></Encrypt>\n"
    "<AgentID><![CDATA[1000002]]></AgentID>\n"
    "</xml>"
)
SAMPLE_POST_PLAINTEXT = (
    "<xml><ToUserName>ww1436e0e65a779aee</ToUserName><FromUserName>ChenJiaShun</FromUserName>"
    "<CreateTime>1476422779</CreateTime><MsgType>text</MsgType><Content>你好</Content>"
    "<MsgId>1456453720</MsgId><AgentID>1000002</AgentID></xml>"
)

MalformedKind = Literal["truncated", "not_xml", "no_encrypt", "empty"]
MALFORMED_KINDS: tuple[MalformedKind, ...] = ("truncated", "not_xml", "no_encrypt", "empty")


@dataclass(frozen=True)
class CallbackRequest:
    """One request WeCom would make to the callback URL."""

    method: Literal["GET", "POST"]
    query: dict[str, str]  # raw (decoded) values: msg_signature, timestamp, nonce[, echostr]
    body: bytes  # b"" for GET
    plaintext: str  # what was encrypted: the message XML, or the echo a GET must answer

    @property
    def query_string(self) -> str:
        """URL-encoded, as WeCom sends it (`+`, `/`, `=` in echostr are escaped)."""
        return urlencode(self.query)

    def url(self, base: str) -> str:
        return f"{base}{'&' if '?' in base else '?'}{self.query_string}"

    def with_query(self, **changes: str) -> CallbackRequest:
        return replace(self, query={**self.query, **changes})


def cdata(text: str) -> str:
    """`text` as CDATA; a `]]>` inside is split across two sections."""
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


class CallbackSimulator:
    """WeCom's side of one app's callback: builds, encrypts and signs what it would send."""

    def __init__(
        self,
        token: str,
        encoding_aes_key: str,
        corp_id: str,
        agent_id: int = SAMPLE_AGENT_ID,
        *,
        clock: Callable[[], float] = time.time,  # unix seconds, for CreateTime and timestamp
    ) -> None:
        self.token = token
        self.encoding_aes_key = encoding_aes_key
        self.corp_id = corp_id
        self.agent_id = agent_id
        self.clock = clock
        self.crypto = WeChatCrypto(token, encoding_aes_key, corp_id)
        self._nonces = itertools.count(1_000_000_001)
        self._msg_ids = itertools.count(7_100_000_000_000_000_001)

    @classmethod
    def sample(cls) -> CallbackSimulator:
        """Configured with WeCom's published sample token, key and corp id."""
        return cls(SAMPLE_TOKEN, SAMPLE_ENCODING_AES_KEY, SAMPLE_CORP_ID, SAMPLE_AGENT_ID)

    # --- plaintext XML ---------------------------------------------------------------------

    def _xml(self, from_user: str, msg_type: str, create_time: int | None,
             fields: list[tuple[str, str | int]], agent: bool = True) -> str:
        moment = int(self.clock()) if create_time is None else create_time
        parts = [
            f"<ToUserName>{cdata(self.corp_id)}</ToUserName>",
            f"<FromUserName>{cdata(from_user)}</FromUserName>",
            f"<CreateTime>{moment}</CreateTime>",
            f"<MsgType>{cdata(msg_type)}</MsgType>",
        ]
        for name, value in fields:
            parts.append(f"<{name}>{value if isinstance(value, int) else cdata(value)}</{name}>")
        if agent:
            parts.append(f"<AgentID>{self.agent_id}</AgentID>")
        return "<xml>" + "".join(parts) + "</xml>"

    def _msg_id(self, msg_id: int | None) -> int:
        return next(self._msg_ids) if msg_id is None else msg_id

    def text_xml(self, from_user: str, content: str, *, msg_id: int | None = None,
                 create_time: int | None = None) -> str:
        return self._xml(from_user, "text", create_time,
                         [("Content", content), ("MsgId", self._msg_id(msg_id))])

    def image_xml(self, from_user: str, *, media_id: str,
                  pic_url: str = "https://wework.qpic.cn/fake/0", msg_id: int | None = None,
                  create_time: int | None = None) -> str:
        return self._xml(from_user, "image", create_time,
                         [("PicUrl", pic_url), ("MediaId", media_id),
                          ("MsgId", self._msg_id(msg_id))])

    def file_xml(self, from_user: str, *, media_id: str, msg_id: int | None = None,
                 create_time: int | None = None) -> str:
        # NOT FROM THE DOCS: the app receive-message page (90239) lists text, image, voice,
        # video, location and link only. This mirrors image's MediaId so the channel can be
        # tested against a type it does not know; wechatpy parses it as UnknownMessage.
        return self._xml(from_user, "file", create_time,
                         [("MediaId", media_id), ("MsgId", self._msg_id(msg_id))])

    def card_event_xml(self, from_user: str, *, event_key: str, task_id: str,
                       response_code: str, card_type: str = "button_interaction",
                       create_time: int | None = None) -> str:
        """A click on a template card button (doc 90240; no MsgId: events dedupe otherwise)."""
        return self._xml(from_user, "event", create_time, [
            ("Event", "template_card_event"), ("EventKey", event_key), ("TaskId", task_id),
            ("CardType", card_type), ("ResponseCode", response_code),
        ])

    def schedule_event_xml(self, from_user: str, *, schedule_id: str,
                           event: str = "respond_schedule",
                           cal_id: str = "wcjgewCwAAqeJcPI1d8Pwbjt7nttzAAA",
                           create_time: int | None = None) -> str:
        """A 日程 event: `respond_schedule` when an attendee accepts, marks tentative or
        declines a 日程 the app made (doc 98111; `add_schedule`, `modify_schedule`,
        `delete_schedule`: 97731, 97732). As the docs' samples show it: CalId and
        ScheduleId, no AgentID — and nothing saying how the attendee answered."""
        return self._xml(from_user, "event", create_time, [
            ("Event", event), ("CalId", cal_id), ("ScheduleId", schedule_id)], agent=False)

    # --- what goes over the wire ----------------------------------------------------------------

    def _stamp(self, timestamp: str | None, nonce: str | None) -> tuple[str, str]:
        return (str(int(self.clock())) if timestamp is None else timestamp,
                str(next(self._nonces)) if nonce is None else nonce)

    def _encrypt(self, plaintext: str, timestamp: str, nonce: str,
                 receive_id: str | None) -> tuple[str, str]:
        """(Encrypt, msg_signature) — wechatpy's reply encryption does exactly this."""
        crypto = self.crypto if receive_id is None else WeChatCrypto(
            self.token, self.encoding_aes_key, receive_id)
        reply = ET.fromstring(crypto.encrypt_message(plaintext, nonce, timestamp))
        return reply.findtext("Encrypt", ""), reply.findtext("MsgSignature", "")

    def _outer(self, encrypt: str) -> str:
        return (f"<xml><ToUserName>{cdata(self.corp_id)}</ToUserName>"
                f"<Encrypt>{cdata(encrypt)}</Encrypt>"
                f"<AgentID>{cdata(str(self.agent_id))}</AgentID></xml>")

    def encrypt_post(self, plaintext_xml: str, *, timestamp: str | None = None,
                     nonce: str | None = None, receive_id: str | None = None) -> CallbackRequest:
        """The POST WeCom makes for `plaintext_xml`; `receive_id` overrides the corp id inside."""
        timestamp, nonce = self._stamp(timestamp, nonce)
        encrypt, signature = self._encrypt(plaintext_xml, timestamp, nonce, receive_id)
        query = {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce}
        return CallbackRequest("POST", query, self._outer(encrypt).encode("utf-8"), plaintext_xml)

    def text(self, from_user: str, content: str, *, msg_id: int | None = None,
             create_time: int | None = None) -> CallbackRequest:
        return self.encrypt_post(self.text_xml(from_user, content, msg_id=msg_id,
                                               create_time=create_time))

    def image(self, from_user: str, media_id: str, *, msg_id: int | None = None,
              create_time: int | None = None) -> CallbackRequest:
        return self.encrypt_post(self.image_xml(from_user, media_id=media_id, msg_id=msg_id,
                                                create_time=create_time))

    def file(self, from_user: str, media_id: str, *, msg_id: int | None = None,
             create_time: int | None = None) -> CallbackRequest:
        return self.encrypt_post(self.file_xml(from_user, media_id=media_id, msg_id=msg_id,
                                               create_time=create_time))

    def card_click(self, from_user: str, *, event_key: str, task_id: str,
                   response_code: str, create_time: int | None = None) -> CallbackRequest:
        return self.encrypt_post(self.card_event_xml(
            from_user, event_key=event_key, task_id=task_id, response_code=response_code,
            create_time=create_time))

    def schedule_answer(self, from_user: str, schedule_id: str, *,
                        create_time: int | None = None) -> CallbackRequest:
        return self.encrypt_post(self.schedule_event_xml(
            from_user, schedule_id=schedule_id, create_time=create_time))

    def verify_url(self, echo: str | None = None, *, timestamp: str | None = None,
                   nonce: str | None = None, receive_id: str | None = None) -> CallbackRequest:
        """The GET WeCom sends when the admin saves the callback URL; answer `.plaintext`."""
        timestamp, nonce = self._stamp(timestamp, nonce)
        echo = str(next(self._msg_ids)) if echo is None else echo
        echostr, signature = self._encrypt(echo, timestamp, nonce, receive_id)
        query = {"msg_signature": signature, "timestamp": timestamp, "nonce": nonce,
                 "echostr": echostr}
        return CallbackRequest("GET", query, b"", echo)

    # --- the server's passive reply ---------------------------------------------------------

    def decrypt_reply(self, reply: str | bytes) -> str:
        """Check and decrypt `<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>`."""
        text = reply.decode("utf-8") if isinstance(reply, bytes) else reply
        if "<!DOCTYPE" in text.upper():
            raise ValueError("a passive reply must not declare a DOCTYPE")
        root = ET.fromstring(text)
        fields = {child.tag: child.text or "" for child in root}
        plaintext: str = self.crypto.decrypt_message(
            {"Encrypt": fields.get("Encrypt", "")},
            fields.get("MsgSignature", ""), fields.get("TimeStamp", ""), fields.get("Nonce", ""))
        return plaintext

    def reply_fields(self, reply: str | bytes) -> dict[str, str]:
        """The decrypted reply's top-level elements, e.g. `{"MsgType": "text", ...}`."""
        return {child.tag: (child.text or "") for child in ET.fromstring(self.decrypt_reply(reply))}

    # --- hostile requests -------------------------------------------------------------------

    @staticmethod
    def bad_signature(request: CallbackRequest) -> CallbackRequest:
        """The same request with a msg_signature that differs in its last hex digit."""
        signature = request.query["msg_signature"]
        flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
        return request.with_query(msg_signature=flipped)

    def wrong_corp(self, plaintext_xml: str,
                   other_corp_id: str = "wwintruder0000000") -> CallbackRequest:
        """Correctly signed, but encrypted for another corp (the receiveid inside differs)."""
        return self.encrypt_post(plaintext_xml, receive_id=other_corp_id)

    def oversize(self, size: int = 1 << 20, from_user: str = "zhangsan") -> CallbackRequest:
        """A valid, correctly signed text message whose body is at least `size` bytes."""
        # Base64 of AES output grows the plaintext by 4/3.
        content = "长" * (size * 3 // 4 // 3 + 64)
        request = self.text(from_user, content)
        assert len(request.body) >= size
        return request

    def malformed(self, kind: MalformedKind = "truncated") -> CallbackRequest:
        """A correctly signed query with a broken body (`MALFORMED_KINDS`)."""
        good = self.text("zhangsan", "hello")
        body = {
            "truncated": good.body[: len(good.body) // 2],
            "not_xml": b"msg=hello&from=zhangsan",
            "no_encrypt": (f"<xml><ToUserName>{cdata(self.corp_id)}</ToUserName>"
                           f"<AgentID>{self.agent_id}</AgentID></xml>").encode(),
            "empty": b"",
        }[kind]
        return replace(good, body=body)

    def _with_doctype(self, doctype: str, reference: str) -> CallbackRequest:
        # The Encrypt and signature are valid, so the DOCTYPE is the only reason to refuse it.
        good = self.text("zhangsan", "hello")
        encrypt = ET.fromstring(good.body).findtext("Encrypt", "")
        body = (f'<?xml version="1.0"?>\n{doctype}\n'
                f"<xml><ToUserName>{reference}</ToUserName>"
                f"<Encrypt>{cdata(encrypt)}</Encrypt>"
                f"<AgentID>{cdata(str(self.agent_id))}</AgentID></xml>")
        return replace(good, body=body.encode("utf-8"))

    def billion_laughs(self) -> CallbackRequest:
        """Nested internal entities expanding to 10**9 "lol"s, in the outer body."""
        entities = ['<!ENTITY lol0 "lol">'] + [
            f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
        return self._with_doctype("<!DOCTYPE xml [\n" + "\n".join(entities) + "\n]>", "&lol9;")

    def external_entity(self, target: str = "file:///etc/passwd") -> CallbackRequest:
        """An external entity (XXE) pointing at `target`, referenced in the outer body."""
        return self._with_doctype(f'<!DOCTYPE xml [<!ENTITY xxe SYSTEM "{target}">]>', "&xxe;")
