"""WeCom 智能机器人 (SPEC §9): a command through the long connection against a bare SDK echo
over the same loopback gateway, at bureau scale.

    python -m bench.bench_aibot [--workdir DIR] [-n N] [--warmup W]

`待办` from a branch secretary at bureau scale (300 people, 40 units, 3 years), pushed by the
loopback gateway of `tests/fake_aibot.py` as an `aibot_msg_callback` frame, through dutybot's
own `AibotLink` (built by `bot.platforms.connect` from `[channels.wecom_aibot]`, on its own
event loop in a background thread, as `dutybot run` runs it): the official SDK's receive
loop, parse, handle (the real store), the markdown answer as `aibot_respond_msg`. Baseline,
same machine, same run, same messages: `EchoBot`, the same SDK answering each text with the
text itself — the same path with our handler replaced by "say it back". Each client has a
gateway of its own (one gateway lets one bot subscribe at a time), both the same fake with
its own thread and TLS certificate; the round trip is stamped on the gateway's loop, from
the callback frame out to the reply frame in. Rounds are interleaved and their order
rotated: 待办 through dutybot, 帮助 through dutybot (no store work: what the transport and
dispatch cost), the echo. Target: 待办 p50 ÷ echo p50 ≤ 2.0.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from bench.bureau import TZ, ensure_store
from bot.app import App
from bot.channels.wecom import USERID
from bot.channels.wecom_aibot import NAME, AibotLink, sdk
from bot.clock import FakeClock
from bot.config import load
from bot.platforms import connect
from tests.fake_aibot import EchoBot, FakeAibotGateway, Received, finish_other_tasks

T = TypeVar("T")
SECRET_ENV = "DUTYBOT_BENCH_AIBOT_SECRET"


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


class LoopThread:
    """An asyncio loop in a background thread: where our `AibotLink` runs, as in `dutybot run`."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="dutybot-run",
                                        daemon=True)

    def start(self) -> LoopThread:
        self._thread.start()
        return self

    def call(self, work: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout)

    def stop(self) -> None:
        self.call(finish_other_tasks())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()


def content(reply: Received) -> str:
    """The text of an answer: our markdown, or the echo's stream."""
    body = reply.frame["body"]
    part = body.get("markdown") or body.get("stream") or {}
    return str(part.get("content") or "")


def long_connection(folder: Path, n: int, warmup: int) -> None:
    with tempfile.TemporaryDirectory() as work:  # a copy: the bot writes to its store
        subprocess.run(["cp", "-a", f"{folder}/.", work], check=True)
        _long_connection(Path(work), n, warmup)


def _long_connection(folder: Path, n: int, warmup: int) -> None:
    aibot = sdk()
    saved = aibot.ws._SSL_CONTEXT
    with FakeAibotGateway(bot_id="bench-dutybot", secret="bench-dutybot-secret") as ours_gw, \
            FakeAibotGateway(bot_id="bench-echo", secret="bench-echo-secret") as echo_gw:
        # One CA file trusting both fakes: our link sets the SDK's (module-wide) TLS context
        # from it, and the echo's SDK client connects with the same context.
        ca = folder / "gateway-ca.pem"
        ca.write_text(ours_gw._cert_pem + echo_gw._cert_pem, encoding="utf-8")
        path = folder / "config.toml"
        path.write_text(path.read_text(encoding="utf-8") + f"""
[channels.wecom_aibot]
enabled = true
bot_id = "{ours_gw.bot_id}"
secret_env = "{SECRET_ENV}"
ws_url = "{ours_gw.url}"
ca_file = "{ca}"
""", encoding="utf-8")
        config = load(path)
        app = App.open(config, FakeClock(datetime(2026, 11, 26, 10, tzinfo=TZ)))
        # A branch secretary: head of a branch, with its tasks of three years in the store.
        head = next(u.head for u in app.org.units.values() if u.kind == "branch")
        userid = app.org.people[head].address(USERID.key) or ""
        assert userid, f"{head} has a wecom_userid in the bureau config"
        platforms = connect(config, app, {SECRET_ENV: ours_gw.secret})
        link: AibotLink = platforms.adapter(NAME)
        runner = LoopThread().start()
        echo: EchoBot | None = None
        try:
            runner.call(link.start())
            runner.call(asyncio.wait_for(link.authenticated.wait(), 10))
            echo = EchoBot(echo_gw).start(timeout=10)

            def trip(gateway: FakeAibotGateway, text: str) -> tuple[Received, float]:
                gateway.sent.clear()  # waiting scans what the client sent: keep it short
                return gateway.roundtrip(userid, text, timeout=10.0)

            rounds: list[tuple[str, Callable[[], tuple[Received, float]]]] = [
                ("待办", lambda: trip(ours_gw, "待办")),
                ("帮助", lambda: trip(ours_gw, "帮助")),
                ("echo", lambda: trip(echo_gw, "待办")),
            ]
            samples: dict[str, list[float]] = {name: [] for name, _ in rounds}
            last: dict[str, str] = {}
            started = time.perf_counter()
            for i in range(warmup + n):
                for name, action in rounds[i % 3:] + rounds[:i % 3]:  # each kind goes first
                    reply, seconds = action()
                    if i >= warmup:
                        samples[name].append(seconds)
                        last[name] = content(reply)
            elapsed = time.perf_counter() - started
            runner.call(link.stop())
        finally:
            if echo is not None:
                echo.stop()
            runner.stop()
            app.close()
            aibot.ws._SSL_CONTEXT = saved
    todo, help_, bare = samples["待办"], samples["帮助"], samples["echo"]
    assert "【" in last["待办"] and last["echo"] == "待办", "each is answered in full"
    reply = last["待办"]
    print(f"  待办 from a branch secretary ({userid}): reply {len(reply.encode())} bytes, "
          f"{reply.count('【')} tasks listed; 帮助: {len(last['帮助'].encode())} bytes")
    print(f"  {warmup} warm-up rounds, then {n} rounds of three in {elapsed:.1f} s")
    lines = [("待办 through dutybot", todo), ("帮助 through dutybot", help_),
             ("SDK echo, same gateway", bare)]
    for label, got in lines:
        print(f"  {label:<24} p50 {statistics.median(got) * 1000:6.3f} ms   "
              f"p99 {pct(got, 0.99):6.3f} ms   (n={len(got)})")
    floor = statistics.median(bare)
    ratio, transport = statistics.median(todo) / floor, statistics.median(help_) / floor
    paired = statistics.median(a / b for a, b in zip(todo, bare, strict=True))
    print(f"  帮助 ÷ echo (p50): {transport:.2f} (transport and dispatch, no store work)")
    print(f"  待办 ÷ echo: p50 {ratio:.2f}, p99 {pct(todo, 0.99) / pct(bare, 0.99):.2f}, "
          f"median of paired rounds {paired:.2f}")
    print(f"  ratio (p50): {ratio:.2f}; target ≤ 2.0: {'met' if ratio <= 2.0 else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    args = parser.parse_args()
    folder, _ = ensure_store(args.workdir, "bureau")
    print("WeCom 智能机器人 long connection, bureau scale (300 people, 40 units, 3 years):")
    long_connection(folder, args.n, args.warmup)


if __name__ == "__main__":
    main()
