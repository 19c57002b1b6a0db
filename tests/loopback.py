"""A loopback HTTP server in a background thread: the base of the platform fakes.

A fake subclasses `LoopbackServer` and answers `handle(method, raw_path, body, content_type)`
with a `Served`; this module does the socket, the thread, starting and stopping.
"""

from __future__ import annotations

import email.parser
import email.policy
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self


@dataclass
class Served:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


class LoopbackServer:
    name = "fake"
    poll_interval = 0.05

    def __init__(self) -> None:
        self._closing = threading.Event()  # set on close: wakes stalled or waiting handlers
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def handle(self, method: str, raw_path: str, body: bytes, content_type: str) -> Served:
        raise NotImplementedError

    def wake(self) -> None:
        """Called on close, before the server stops: release anything waiting."""

    def start(self) -> Self:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever,
                                        kwargs={"poll_interval": self.poll_interval},
                                        name=self.name, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        self.wake()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._server.server_address[1])


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a long poll or a stalled handler must not hold up close()
    request_queue_size = 128  # the default 5 drops concurrent connects (1 s SYN retry)
    fake: LoopbackServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a stall, a long poll) and hung up is expected: no trace."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the fakes record every request themselves."""

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.server.fake.handle(method, self.path, body,
                                        self.headers.get("Content-Type", ""))
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)


def parse_multipart(body: bytes, content_type: str
                    ) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    """A multipart/form-data body: its plain fields, and its files (filename, content type,
    size, bytes) by field name."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    files: dict[str, dict[str, Any]] = {}
    for part in message.iter_parts():
        assert isinstance(part, EmailMessage)
        name = str(part.get_param("name", header="content-disposition") or "")
        data = part.get_payload(decode=True)
        data = data if isinstance(data, bytes) else b""
        filename = part.get_filename()
        if filename is None:
            fields[name] = data.decode("utf-8", "replace")
        else:
            files[name] = {"filename": filename, "content_type": part.get_content_type(),
                           "size": len(data), "data": data}
    return fields, files
