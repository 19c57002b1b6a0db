"""The HTTP server `dutybot run` starts when a channel needs callbacks: one Starlette ASGI
app served by uvicorn, in the same event loop as the reminder ticker.

Routes: `GET /healthz` (the last reconciliation pass and the store's state, for monitoring),
`GET /metrics` (Prometheus text format: see `bot.metrics`), and each channel's callback
routes (`bot.channels.plugin.HttpRoute`: `/wecom/callback`, `/wecom/aibot`,
`/telegram/webhook`), timed for `/metrics`. Commands that write run in worker threads; the
loop only moves bytes and answers reads from memory.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.channels.plugin import HttpRoute
from bot.config import ServerSettings
from bot.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]


async def read_capped(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it passes `limit` bytes (never buffering more)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def peer(request: Request) -> str:
    return request.client.host if request.client else "?"


def make_app(health: Callable[[], tuple[int, dict[str, Any]]],
             routes: Sequence[HttpRoute] = (),
             metrics: Metrics | None = None) -> Starlette:
    """`/healthz`, `/metrics` when measured, and the channels' routes (timed)."""
    async def healthz(request: Request) -> Response:
        status, body = await asyncio.to_thread(health)
        return JSONResponse(body, status_code=status)

    async def metrics_page(request: Request) -> Response:
        assert metrics is not None
        body = await asyncio.to_thread(metrics.render)
        return Response(body, media_type=CONTENT_TYPE)

    def timed(route: str, handler: Handler) -> Handler:
        if metrics is None:
            return handler
        observed = metrics

        async def answer(request: Request) -> Response:
            started = time.monotonic()
            response = await handler(request)
            observed.answered(route, response.status_code, time.monotonic() - started)
            return response
        return answer

    served = [Route("/healthz", healthz, methods=["GET"])]
    if metrics is not None:
        served.append(Route("/metrics", metrics_page, methods=["GET"]))
    served += [Route(r.path, timed(r.name, r.endpoint), methods=[r.method]) for r in routes]
    return Starlette(routes=served)


class HttpServer:
    """uvicorn's server run inside our own loop: our SIGINT/SIGTERM handling stays in charge
    (`Server.serve` would install its own), and `stop` ends it gracefully."""

    def __init__(self, app: Starlette, settings: ServerSettings) -> None:
        self.config = uvicorn.Config(app, host=settings.host, port=settings.port,
                                     log_level="warning", lifespan="off", access_log=False)
        self.server = uvicorn.Server(self.config)
        self._ticks: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()  # set once listening (tests wait on it)

    async def start(self) -> None:
        self.config.load()
        self.server.lifespan = self.config.lifespan_class(self.config)
        try:
            await self.server.startup()
        except SystemExit:  # uvicorn exits when it cannot bind
            raise OSError(f"无法在 {self.config.host}:{self.config.port} 上启动 HTTP 服务"
                          "（端口是否已被占用？）") from None
        self._ticks = asyncio.create_task(self.server.main_loop())
        log.info("listening for callbacks on %s:%d", self.config.host, self.port)
        self.ready.set()

    @property
    def port(self) -> int:
        port: int = self.server.servers[0].sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        self.server.should_exit = True
        if self._ticks is not None:
            await self._ticks
        await self.server.shutdown()
