"""A loopback fake of the WeCom AI bot (智能机器人) long-connection gateway, for tests that drive
the real official SDK `wecom-aibot-python-sdk` 1.0.2 (import name `aibot`), and for the bench.

`FakeAibotGateway` runs, on its own event loop in a background thread:

- a WebSocket server on 127.0.0.1 speaking the gateway's JSON frames
  `{cmd, headers: {req_id}, body}`, answered by ack frames `{headers: {req_id}, errcode, errmsg}`
  (no cmd, same req_id): `aibot_subscribe` (bot id + secret checked; a wrong pair gets
  `INVALID_CREDENTIAL` and the connection closed), `ping`, `aibot_respond_msg`,
  `aibot_respond_welcome_msg`, `aibot_respond_update_msg` (their req_id must be one the fake
  pushed on that connection, else `INVALID_REQ_ID`) and `aibot_send_msg`. A newer subscribe
  with the same bot id kicks the older connection: `disconnected_event`, then close.
- an HTTP server on 127.0.0.1 serving media the way the SDK's `download_file` expects it:
  AES-256-CBC with the message's own `aeskey` (base64, "=" stripped; IV = first 16 key bytes),
  PKCS#7 padded to 32 bytes; the file name, if any, in `Content-Disposition`.

Tests push callbacks (`push_text`, `push_image`, `push_file`, `push_mixed`, `push_button`,
`push_enter_chat`, `replace_connection`, ...), read what the client sent in `sent`, and wait with
`wait_for` / `wait_sent` (real deadlines, woken on every frame). Faults: `fail_next` (an ack
with an errcode such as `RATE_LIMITED`, or no ack at all), media that is expired (`expire_media`),
answers with an error body, or is slow (`add_media(..., delay=)`).

The SDK always passes its own TLS context to `websockets.connect` (aibot/ws.py:126-132), and
websockets refuses a TLS context for a ws:// URL, so the real SDK can only talk wss://: the
fake serves TLS by default with a throw-away self-signed certificate, and `sdk_trusts(fake)`
points the SDK's module-level context (aibot/ws.py:15) at it for the duration.

`SdkThread` runs the real `WSClient` on its own loop in a background thread (the way our
adapter runs it) and records what it emits; `EchoBot` is the bench's bare baseline.

Frame shapes follow /work/shared/PLATFORMS.md §7, the SDK source and public clients of the
gateway; the errcodes marked "assumed" are not published for the long connection.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import ipaddress
import itertools
import json
import logging
import secrets
import ssl
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.x509.oid import NameOID
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

with warnings.catch_warnings():
    # aibot/ws.py:28 imports websockets.client.WebSocketClientProtocol, deprecated since
    # websockets 14: a DeprecationWarning at import time, an error under our pytest settings.
    warnings.simplefilter("ignore", DeprecationWarning)
    import aibot.ws
    from aibot import WSClient, WSClientOptions, generate_req_id

T = TypeVar("T")

# --- commands (aibot/types.py WsCmd) ----------------------------------------------------------
SUBSCRIBE = "aibot_subscribe"
PING = "ping"
RESPOND = "aibot_respond_msg"
RESPOND_WELCOME = "aibot_respond_welcome_msg"
RESPOND_UPDATE = "aibot_respond_update_msg"
SEND = "aibot_send_msg"
MSG_CALLBACK = "aibot_msg_callback"
EVENT_CALLBACK = "aibot_event_callback"
REPLIES = (RESPOND, RESPOND_WELCOME, RESPOND_UPDATE)

# --- errcodes ---------------------------------------------------------------------------------
OK = 0
INVALID_CREDENTIAL = 40001  # assumed: WeCom's generic "invalid secret"
RATE_LIMITED = 45009  # assumed: WeCom's generic "api freq out of limit"
INVALID_REQ_ID = 846605  # seen in public clients of the gateway, errmsg "invalid req_id"
FAKE_UNKNOWN_COMMAND = 99999  # the fake's own: a cmd it does not know

DEFAULT_BOT_ID = "fake-aibot-id"
DEFAULT_SECRET = "fake-aibot-secret"
NORMAL_CLOSE = 1000


# --- media crypto -----------------------------------------------------------------------------
def new_aeskey() -> str:
    """A per-message key as the gateway sends it: 32 random bytes, base64 without "="."""
    return base64.b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def _key_bytes(aeskey: str) -> bytes:
    return base64.b64decode(aeskey + "=" * (-len(aeskey) % 4))


def encrypt_media(data: bytes, aeskey: str) -> bytes:
    """AES-256-CBC, IV = the key's first 16 bytes, PKCS#7 to a multiple of 32 (what
    aibot/crypto_utils.py:176 `decrypt_file` undoes)."""
    key = _key_bytes(aeskey)
    pad = 32 - len(data) % 32
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return encryptor.update(data + bytes([pad]) * pad) + encryptor.finalize()


# --- records ----------------------------------------------------------------------------------
@dataclass
class Media:
    id: str
    url: str
    data: bytes
    aeskey: str
    filename: str | None = None
    status: int = 200
    error_body: bytes | None = None  # served (with `status`) instead of the encrypted data
    delay: float = 0.0  # seconds before answering
    downloads: int = 0


@dataclass
class Received:
    """A frame the client sent, as the fake read it."""

    cmd: str
    req_id: str
    body: Any
    frame: dict[str, Any]
    connection: int
    at: float  # time.perf_counter() when read


@dataclass
class Pushed:
    """A callback frame the fake sent."""

    req_id: str
    frame: dict[str, Any]
    connection: int
    at: float  # time.perf_counter() just before sending
    media: list[Media] = field(default_factory=list)

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = self.frame["body"]
        return body


@dataclass
class _Fault:
    cmd: str
    errcode: int | None  # None: no ack at all
    errmsg: str
    times: int


class _Link:
    def __init__(self, number: int, ws: ServerConnection) -> None:
        self.number = number
        self.ws = ws
        self.authenticated = False
        self.callbacks: set[str] = set()  # req_ids pushed on this connection


def wait_for(predicate: Callable[[], T], timeout: float = 2.0, what: str = "",
             wake: threading.Condition | None = None) -> T:
    """Poll `predicate` until it returns something truthy, with a real deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        if wake is None:
            time.sleep(min(remaining, 0.002))
        else:
            with wake:
                wake.wait(min(remaining, 0.01))


# --- the gateway ------------------------------------------------------------------------------
class FakeAibotGateway:
    def __init__(self, bot_id: str = DEFAULT_BOT_ID, secret: str = DEFAULT_SECRET, *,
                 tls: bool = True, bot_name: str = "助手",
                 auth_fail_close_code: int = NORMAL_CLOSE,
                 replace_close_code: int = NORMAL_CLOSE) -> None:
        self.bot_id = bot_id
        self.secret = secret
        self.tls = tls
        self.bot_name = bot_name  # the @-mention in group texts
        self.auth_fail_close_code = auth_fail_close_code
        self.replace_close_code = replace_close_code
        self.sent: list[Received] = []  # every frame any client sent, in order
        self.pushed: list[Pushed] = []  # every callback the fake sent
        self.acks: list[dict[str, Any]] = []  # every ack frame the fake sent
        self.subscribed = threading.Event()  # set on the first successful subscribe
        self.subscriptions = 0  # successful subscribes, over all connections
        self.connections = 0  # WebSocket connections accepted
        self._links: list[_Link] = []
        self._media: dict[str, Media] = {}
        self._faults: list[_Fault] = []
        self._numbers = itertools.count(1)
        self._changed = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-aibot",
                                        daemon=True)
        self._folder = tempfile.TemporaryDirectory(prefix="fake-aibot-")
        self._cert_pem = ""
        self._ws_server: Server | None = None
        self._runner: web.AppRunner | None = None
        self._closing: asyncio.Event | None = None
        self._ws_port = self._http_port = 0
        self._state = "new"

    # lifecycle
    def start(self) -> Self:
        self._thread.start()
        self._state = "running"
        self._run(self._open())
        return self

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        if self._state != "running":
            return
        try:
            self._run(self._shut())
        finally:
            self._state = "closed"
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()
            self._folder.cleanup()

    @property
    def url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self._ws_port}"

    @property
    def media_base(self) -> str:
        return f"http://127.0.0.1:{self._http_port}"

    def media_url(self, media_id: str) -> str:
        return f"{self.media_base}/media/{media_id}"

    def client_ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this fake's certificate (and nothing else)."""
        return ssl.create_default_context(cadata=self._cert_pem)

    def options(self, **overrides: Any) -> WSClientOptions:
        """SDK options pointing at this fake, with a quiet logger; `overrides` win."""
        settings: dict[str, Any] = {"bot_id": self.bot_id, "secret": self.secret,
                                    "ws_url": self.url, "logger": SdkLog()}
        settings.update(overrides)
        return WSClientOptions(**settings)

    @property
    def open_connections(self) -> int:
        return len(self._links)

    # pushing callbacks (any thread but the fake's)
    def push_text(self, userid: str, text: str, chatid: str | None = None, *,
                  mention: bool = True) -> Pushed:
        """A text message; in a group it arrives as "@<bot_name> text", as the gateway sends it."""
        body = self._message(userid, chatid, "text")
        content = f"@{self.bot_name} {text}" if chatid and mention else text
        body["text"] = {"content": content}
        return self.push(MSG_CALLBACK, body)

    def push_voice(self, userid: str, transcript: str, chatid: str | None = None) -> Pushed:
        body = self._message(userid, chatid, "voice")
        body["voice"] = {"content": transcript}
        return self.push(MSG_CALLBACK, body)

    def push_image(self, userid: str, data: bytes, chatid: str | None = None,
                   **media: Any) -> Pushed:
        item = self.add_media(data, **media)
        body = self._message(userid, chatid, "image")
        body["image"] = {"url": item.url, "aeskey": item.aeskey}
        return self.push(MSG_CALLBACK, body, [item])

    def push_file(self, userid: str, data: bytes, filename: str, chatid: str | None = None,
                  **media: Any) -> Pushed:
        """A file message; its name travels only in the download's Content-Disposition."""
        item = self.add_media(data, filename=filename, **media)
        body = self._message(userid, chatid, "file")
        body["file"] = {"url": item.url, "aeskey": item.aeskey}
        return self.push(MSG_CALLBACK, body, [item])

    def push_mixed(self, userid: str, parts: list[str | bytes],
                   chatid: str | None = None) -> Pushed:
        """Text and images in one message: a str is a text item, bytes an image item."""
        items: list[dict[str, Any]] = []
        media: list[Media] = []
        for part in parts:
            if isinstance(part, str):
                items.append({"msgtype": "text", "text": {"content": part}})
            else:
                media.append(self.add_media(part))
                items.append({"msgtype": "image",
                              "image": {"url": media[-1].url, "aeskey": media[-1].aeskey}})
        body = self._message(userid, chatid, "mixed")
        body["mixed"] = {"msg_item": items}
        return self.push(MSG_CALLBACK, body, media)

    def push_event(self, userid: str | None, eventtype: str, chatid: str | None = None,
                   **fields: Any) -> Pushed:
        """An `aibot_event_callback`: body.msgtype "event", body.event = {eventtype, **fields}."""
        body = self._message(userid, chatid, "event")
        body["event"] = {"eventtype": eventtype, **fields}
        return self.push(EVENT_CALLBACK, body)

    def push_enter_chat(self, userid: str) -> Pushed:
        return self.push_event(userid, "enter_chat")

    def push_button(self, userid: str, event_key: str, task_id: str, chatid: str | None = None,
                    card_type: str = "button_interaction") -> Pushed:
        """A template-card button tap (the nested shape: event.template_card_event.*)."""
        card = {"card_type": card_type, "event_key": event_key, "task_id": task_id}
        return self.push_event(userid, "template_card_event", chatid, template_card_event=card)

    def push(self, cmd: str, body: dict[str, Any], media: list[Media] | None = None) -> Pushed:
        """Send a callback frame to the newest subscribed connection."""
        return self._run(self._push(self._current(), cmd, body, media or []))

    def replace_connection(self, close_code: int | None = None) -> Pushed:
        """What a newer connection with the same bot does to this one: `disconnected_event`,
        then the gateway closes the socket (`close_code`, default `replace_close_code`)."""
        return self._run(self._kick(self._current(), close_code))

    def close_connection(self, code: int = NORMAL_CLOSE) -> None:
        """Close the newest connection with a closing handshake and no event (the SDK then
        goes silent: aibot/ws.py:192)."""
        link = self._current()
        self._run(link.ws.close(code, "closed by the gateway"))

    def drop_connection(self) -> None:
        """Cut the newest connection without a closing handshake (a network failure)."""
        link = self._current()
        self._loop.call_soon_threadsafe(link.ws.transport.abort)

    # faults
    def fail_next(self, cmd: str, errcode: int | None = RATE_LIMITED,
                  errmsg: str = "api freq out of limit", times: int = 1) -> None:
        """Answer the next `times` frames with `cmd` with `errcode` (None: do not answer)."""
        self._faults.append(_Fault(cmd, errcode, errmsg, times))

    def add_media(self, data: bytes, filename: str | None = None, *, aeskey: str | None = None,
                  status: int = 200, error_body: bytes | None = None,
                  delay: float = 0.0) -> Media:
        media_id = secrets.token_hex(8)
        media = Media(media_id, self.media_url(media_id), data, aeskey or new_aeskey(), filename,
                      status, error_body, delay)
        self._media[media_id] = media
        return media

    def expire_media(self, media: Media | str, status: int = 404,
                     error_body: bytes = b"media expired") -> None:
        item = self._media[media if isinstance(media, str) else media.id]
        item.status, item.error_body = status, error_body

    # reading what the client did
    def sent_cmds(self, cmd: str) -> list[Received]:
        return [frame for frame in list(self.sent) if frame.cmd == cmd]

    def wait_for(self, predicate: Callable[[], T], timeout: float = 2.0, what: str = "") -> T:
        return wait_for(predicate, timeout, what, self._changed)

    def wait_sent(self, cmd: str, req_id: str | None = None, timeout: float = 2.0) -> Received:
        """The first frame with `cmd` (and `req_id`, if given) the client sent."""
        def found() -> Received | None:
            return next((f for f in self.sent_cmds(cmd) if req_id in (None, f.req_id)), None)
        return self.wait_for(found, timeout, f"{cmd} {req_id or ''}".strip())

    def roundtrip(self, userid: str, text: str, chatid: str | None = None,
                  timeout: float = 5.0) -> tuple[Received, float]:
        """Push a text and wait for its reply: (the reply frame, seconds from frame out to
        reply in, both stamped on the fake's loop)."""
        pushed = self.push_text(userid, text, chatid)
        reply = self.wait_sent(RESPOND, pushed.req_id, timeout)
        return reply, reply.at - pushed.at

    # internals: all below run on the fake's loop
    def _run(self, work: Coroutine[Any, Any, T], timeout: float = 5.0) -> T:
        if threading.current_thread() is self._thread:
            raise RuntimeError("call the fake from a test thread, not from its own loop")
        if self._state != "running":
            work.close()
            raise RuntimeError("the fake is not running")
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout)

    def _notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    def _current(self) -> _Link:
        links = [link for link in list(self._links) if link.authenticated]
        if not links:
            raise RuntimeError("no subscribed connection to push to")
        return links[-1]

    def _message(self, userid: str | None, chatid: str | None, msgtype: str) -> dict[str, Any]:
        body: dict[str, Any] = {"msgid": secrets.token_hex(12), "aibotid": self.bot_id,
                                "chattype": "group" if chatid else "single",
                                "create_time": int(time.time()), "msgtype": msgtype}
        if chatid:
            body["chatid"] = chatid
        if userid is not None:
            body["from"] = {"userid": userid}
        return body

    async def _open(self) -> None:
        self._closing = asyncio.Event()
        context = self._server_ssl() if self.tls else None
        self._ws_server = await serve(self._serve, "127.0.0.1", 0, ssl=context,
                                      ping_interval=None)
        self._ws_port = self._ws_server.sockets[0].getsockname()[1]
        app = web.Application()
        app.router.add_get("/media/{media_id}", self._serve_media)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server  # aiohttp keeps the listening asyncio.Server here
        assert isinstance(server, asyncio.Server)
        self._http_port = server.sockets[0].getsockname()[1]

    async def _shut(self) -> None:
        assert self._closing is not None and self._ws_server and self._runner
        self._closing.set()  # releases slow media
        self._ws_server.close()
        await self._ws_server.wait_closed()
        await self._runner.cleanup()
        current = asyncio.current_task()
        left = [task for task in asyncio.all_tasks() if task is not current]
        for task in left:
            task.cancel()
        await asyncio.gather(*left, return_exceptions=True)

    def _server_ssl(self) -> ssl.SSLContext:
        cert, key = self._self_signed()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        return context

    def _self_signed(self) -> tuple[Path, Path]:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-aibot")])
        now = dt.datetime.now(dt.UTC)
        public = key.public_key()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public),
                           critical=False)
            .sign(key, hashes.SHA256())
        )
        self._cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
        folder = Path(self._folder.name)
        (folder / "cert.pem").write_text(self._cert_pem)
        (folder / "key.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
        return folder / "cert.pem", folder / "key.pem"

    async def _serve(self, ws: ServerConnection) -> None:
        link = _Link(next(self._numbers), ws)
        self._links.append(link)
        self.connections += 1
        try:
            async for raw in ws:
                await self._on_frame(link, raw)
        except ConnectionClosed:
            pass
        finally:
            self._links.remove(link)
            self._notify()

    async def _on_frame(self, link: _Link, raw: str | bytes) -> None:
        frame = json.loads(raw)
        cmd = frame.get("cmd", "")
        req_id = (frame.get("headers") or {}).get("req_id", "")
        self.sent.append(Received(cmd, req_id, frame.get("body"), frame, link.number,
                                  time.perf_counter()))
        self._notify()
        if cmd == SUBSCRIBE:
            await self._subscribe(link, req_id, frame.get("body") or {})
            return
        if not link.authenticated:
            await self._ack(link, req_id, INVALID_CREDENTIAL, "not subscribed")
            return
        fault = next((f for f in self._faults if f.cmd == cmd and f.times > 0), None)
        if fault is not None:
            fault.times -= 1
            if fault.errcode is not None:
                await self._ack(link, req_id, fault.errcode, fault.errmsg)
            return
        if cmd in REPLIES and req_id not in link.callbacks:
            await self._ack(link, req_id, INVALID_REQ_ID, "invalid req_id")
        elif cmd in (PING, SEND, *REPLIES):
            await self._ack(link, req_id, OK, "ok")
        else:
            await self._ack(link, req_id, FAKE_UNKNOWN_COMMAND, f"unknown cmd {cmd!r} (fake)")

    async def _subscribe(self, link: _Link, req_id: str, body: dict[str, Any]) -> None:
        if body.get("bot_id") != self.bot_id or body.get("secret") != self.secret:
            await self._ack(link, req_id, INVALID_CREDENTIAL, "invalid bot_id or secret")
            await link.ws.close(self.auth_fail_close_code, "authentication failed")
            return
        older = [other for other in self._links if other.authenticated and other is not link]
        link.authenticated = True
        # Counted before the ack goes out: the SDK reports "authenticated" on the ack, and a
        # test that saw it must find the subscription already counted.
        ack = self._noted_ack(req_id, OK, "ok")
        self.subscriptions += 1
        self.subscribed.set()
        await self._send_ack(link, ack)
        for other in older:
            await self._kick(other, None)

    async def _kick(self, link: _Link, close_code: int | None) -> Pushed:
        pushed = await self._push(link, EVENT_CALLBACK,
                                  self._message(None, None, "event")
                                  | {"event": {"eventtype": "disconnected_event"}}, [])
        link.authenticated = False
        code = self.replace_close_code if close_code is None else close_code
        await link.ws.close(code, "replaced by a newer connection")
        return pushed

    async def _push(self, link: _Link, cmd: str, body: dict[str, Any],
                    media: list[Media]) -> Pushed:
        req_id = f"cb_{secrets.token_hex(10)}"
        frame = {"cmd": cmd, "headers": {"req_id": req_id}, "body": body}
        link.callbacks.add(req_id)
        pushed = Pushed(req_id, frame, link.number, time.perf_counter(), media)
        self.pushed.append(pushed)
        await link.ws.send(json.dumps(frame, ensure_ascii=False))
        return pushed

    async def _ack(self, link: _Link, req_id: str, errcode: int, errmsg: str) -> None:
        await self._send_ack(link, self._noted_ack(req_id, errcode, errmsg))

    def _noted_ack(self, req_id: str, errcode: int, errmsg: str) -> dict[str, Any]:
        ack = {"headers": {"req_id": req_id}, "errcode": errcode, "errmsg": errmsg}
        self.acks.append(ack)
        return ack

    async def _send_ack(self, link: _Link, ack: dict[str, Any]) -> None:
        with suppress(ConnectionClosed):
            await link.ws.send(json.dumps(ack))
        self._notify()

    async def _serve_media(self, request: web.Request) -> web.Response:
        media = self._media.get(request.match_info["media_id"])
        if media is None:
            return web.Response(status=404, text="no such media")
        media.downloads += 1
        if media.delay and self._closing is not None:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), media.delay)
        if media.error_body is not None or media.status != 200:
            return web.Response(status=media.status, body=media.error_body or b"")
        headers = {}
        if media.filename:
            headers["Content-Disposition"] = (
                f"attachment; filename*=UTF-8''{quote(media.filename)}")
        return web.Response(body=encrypt_media(media.data, media.aeskey),
                            content_type="application/octet-stream", headers=headers)


@contextmanager
def sdk_trusts(gateway: FakeAibotGateway) -> Iterator[None]:
    """Let the SDK's TLS context (a module global, aibot/ws.py:15) trust the fake, then restore."""
    saved = aibot.ws._SSL_CONTEXT
    aibot.ws._SSL_CONTEXT = gateway.client_ssl_context()
    try:
        yield
    finally:
        aibot.ws._SSL_CONTEXT = saved


# --- the real SDK in a background thread ------------------------------------------------------
class SdkLog:
    """The SDK's logger protocol (debug/info/warn/error, message + extra args) onto `logging`,
    keeping the lines for tests. A bare `logging.Logger` would not do: the SDK calls `warn`
    and passes extra args without placeholders (aibot/api.py:73)."""

    def __init__(self, name: str = "aibot") -> None:
        self._log = logging.getLogger(name)
        self.lines: list[tuple[str, str]] = []

    def _emit(self, level: int, message: str, args: tuple[Any, ...]) -> None:
        text = " ".join([message, *map(str, args)])
        self.lines.append((logging.getLevelName(level), text))
        self._log.log(level, "%s", text)

    def debug(self, message: str, *args: Any) -> None:
        self._emit(logging.DEBUG, message, args)

    def info(self, message: str, *args: Any) -> None:
        self._emit(logging.INFO, message, args)

    def warn(self, message: str, *args: Any) -> None:
        self._emit(logging.WARNING, message, args)

    def error(self, message: str, *args: Any) -> None:
        self._emit(logging.ERROR, message, args)


class SdkThread:
    """The SDK's `WSClient` on its own event loop in a background thread.

    Register handlers on `client` before `start`; they run on that loop. `events` records
    what the client emitted: the lifecycle events with their argument, and every message /
    event frame under "message" / "event". An "error" handler is always attached: without
    one pyee raises the error inside the SDK's receive loop."""

    LIFECYCLE = ("connected", "authenticated", "disconnected", "reconnecting", "error")

    def __init__(self, options: WSClientOptions) -> None:
        self.options = options
        self.client = WSClient(options)
        self._connecting: asyncio.Task[Any] | None = None
        self.events: list[tuple[str, Any]] = []
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="aibot-sdk",
                                        daemon=True)
        for name in (*self.LIFECYCLE, "message", "event"):
            self.client.on(name, self._recorder(name))

    def _recorder(self, name: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self.events.append((name, args[0] if args else None))
        return record

    def start(self, wait: bool = True, timeout: float = 2.0) -> Self:
        """Connect in the background; with `wait`, until authenticated. (`connect()` is not
        awaited here: when the first attempt fails it only returns after all retries.)"""
        self._thread.start()
        self.loop.call_soon_threadsafe(self._connect)
        if wait:
            self.wait_event("authenticated", timeout)
        return self

    def _connect(self) -> None:
        self._connecting = self.loop.create_task(self.client.connect())

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def call(self, work: Coroutine[Any, Any, T], timeout: float = 5.0) -> T:
        """Run a coroutine (e.g. `client.send_message(...)`) on the SDK's loop; its result."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    def named(self, name: str) -> list[Any]:
        return [value for event, value in list(self.events) if event == name]

    def wait_event(self, name: str, timeout: float = 2.0) -> Any:
        """The first argument the client emitted with `name` (waits for it)."""
        return wait_for(lambda: self.named(name), timeout, f"SDK event {name!r}")[0]

    def stop(self) -> None:
        """`disconnect()` on the loop, let the SDK's own tasks finish (cancel stragglers such
        as a back-off sleep), then stop and close the loop."""
        if not self._thread.is_alive():
            return
        try:
            self.call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    async def _stop(self) -> None:
        self.client.disconnect()
        await finish_other_tasks()


async def finish_other_tasks(grace: float = 0.5) -> None:
    """Let the loop's other tasks finish for `grace` seconds, then cancel what is left (a
    back-off sleep): a clean stop, with no "Task was destroyed" warnings."""
    current = asyncio.current_task()
    left = [task for task in asyncio.all_tasks() if task is not current]
    if left:
        _, pending = await asyncio.wait(left, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


class EchoBot(SdkThread):
    """The bench's bare baseline over the same gateway: the SDK answering each text with the
    text itself, in one stream frame with finish=true."""

    def __init__(self, gateway: FakeAibotGateway, **options: Any) -> None:
        super().__init__(gateway.options(**options))
        self.client.on("message.text", self._echo)

    async def _echo(self, frame: dict[str, Any]) -> None:
        text = frame["body"]["text"]["content"]
        await self.client.reply_stream(frame, generate_req_id("stream"), text, finish=True)
