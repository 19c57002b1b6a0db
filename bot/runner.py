"""The long-running loops: `dutybot chat` and `dutybot run`.

APScheduler's AsyncIOScheduler is only a one-minute ticker that starts a reconciliation
pass (in a worker thread, so the event loop stays free); the outbox decides what is due.
A pass also runs at start-up and, in `chat`, before each message, so a script driving the
console sees the reminders that fall due at its `--now`.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.app import App
from bot.channels.console import ConsoleChannel
from bot.delivery import Deliverer
from handlers.messages import Inbound
from storage.upgrade import release

if TYPE_CHECKING:
    from bot.metrics import StoreState

log = logging.getLogger(__name__)

TICK_SECONDS = 60


def _ticker(deliverer: Deliverer) -> AsyncIOScheduler:
    app = deliverer.app

    async def tick() -> None:
        try:
            await asyncio.to_thread(deliverer.run_pass, app.clock.now())
        except Exception:  # a failed pass is retried by the next tick; the loop stays up
            log.exception("reminder pass failed")

    scheduler = AsyncIOScheduler(timezone=app.org.timezone)
    scheduler.add_job(tick, "interval", seconds=TICK_SECONDS, id="reconcile",
                      max_instances=1, coalesce=True, misfire_grace_time=None)
    return scheduler


async def chat(app: App, console: ConsoleChannel, deliverer: Deliverer, sender: str) -> None:
    person = app.org.person(sender)
    console.banner(person.name if person else sender)
    prompt = f"{person.name if person else sender}> "
    await asyncio.to_thread(deliverer.run_pass, app.clock.now())
    scheduler = _ticker(deliverer)
    scheduler.start()
    try:
        while (line := await _read(console, prompt)) is not None:
            now = app.clock.now()
            await asyncio.to_thread(deliverer.run_pass, now)
            message = Inbound(channel=console.name, sender=sender, text=line, received_at=now)
            console.show(await asyncio.to_thread(app.handle, message))
    finally:
        scheduler.shutdown(wait=False)
    console.goodbye()


async def _read(console: ConsoleChannel, prompt: str) -> str | None:
    """The next line, read in a daemon thread: Ctrl-C ends the chat at once, instead of
    waiting at exit for a worker thread blocked in `input()`."""
    loop = asyncio.get_running_loop()
    line: asyncio.Future[str | None] = loop.create_future()

    def read() -> None:
        try:
            result = console.read(prompt)
        except BaseException as e:  # noqa: BLE001 - handed to the loop, which raises it
            loop.call_soon_threadsafe(_settle, line, None, e)
        else:
            loop.call_soon_threadsafe(_settle, line, result, None)

    threading.Thread(target=read, name="console-input", daemon=True).start()
    return await line


def _settle(future: asyncio.Future[str | None], result: str | None,
            error: BaseException | None) -> None:
    if future.done():  # the chat ended meanwhile
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def health(app: App, deliverer: Deliverer) -> tuple[int, dict[str, Any]]:
    """For `GET /healthz`: 200 while reminder passes keep running, 503 when the last one is
    older than three ticks (or none has run yet)."""
    now = app.clock.now()
    last = deliverer.last_pass
    fresh = last is not None and now - last <= timedelta(seconds=3 * TICK_SECONDS)
    body = {
        "status": "ok" if fresh else "stale",
        "now": now.isoformat(timespec="seconds"),
        "last_pass": last.isoformat(timespec="seconds") if last else None,
        "store": {"since": app.store.since.isoformat(), "records": app.store.records(),
                  "read_only": app.store.read_only},
        "channels": sorted(deliverer.channels),
        # Channels holding a connection say how it stands (the 智能机器人's long connection).
        "links": {name: getattr(channel, "health")()  # noqa: B009 - optional
                  for name, channel in deliverer.channels.items()
                  if callable(getattr(channel, "health", None))},
    }
    return (200 if fresh else 503), body


def store_state(app: App) -> StoreState:
    """The store's gauges for `GET /metrics`."""
    from bot.metrics import StoreState  # only `run` serves metrics
    store = app.store
    return StoreState(store.records(), not store.read_only and store.write_problem() is None,
                      release(), store.format, store.deliveries_in_motion())


class Service(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def run(app: App, deliverer: Deliverer, services: Sequence[Service] = (),
              stop: asyncio.Event | None = None,
              on_started: Callable[[], None] = lambda: None) -> None:
    """Until SIGINT or SIGTERM (or `stop` is set): recover, pass at once, then every minute;
    and run the services the enabled channels need (the HTTP server, Telegram's bot).
    Services stop in reverse order, each finishing what it has in flight."""
    stuck = await asyncio.to_thread(deliverer.recover, app.clock.now())
    if stuck:
        log.warning("%d message(s) were being sent when the bot stopped; marked unknown", stuck)
    await asyncio.to_thread(deliverer.run_pass, app.clock.now())
    scheduler = _ticker(deliverer)
    scheduler.start()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    started: list[Service] = []
    try:
        for service in services:
            await service.start()
            started.append(service)
        on_started()
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)
        for service in reversed(started):
            await service.stop()
