"""WeCom (SPEC §9, issue 4): a command through the whole callback path against a bare
wechatpy echo, and bulk delivery through the fake API under rate limits that bind.

    python -m bench.bench_wecom [--workdir DIR]

1. `待办` from a branch secretary at bureau scale (300 people, 40 units, 3 years), through
   `WeComCallback.receive`: signature check, decrypt, parse, handle (the real store), encrypt
   the passive reply. Baseline, same machine, same run, same messages: wechatpy's echo app —
   `decrypt_message`, `parse_message`, `create_reply` with the message's own text,
   `encrypt_message` — i.e. the same path with our handler replaced by "say it back".
   Target ratio ≤ 2.0.
2. 2,000 personalised reminders through `WeComChannel` to the loopback fake, whose API limit
   is set to 300 calls a minute and the bot's to the same. Time runs 5× fast on both sides
   (one injected clock), so six simulated minutes take about 75 s. Reported: calls refused
   or dropped by the fake (must be 0) and the achieved rate against the fastest the limit
   allows for the batch (target ≥ 90 %). A second run sends 20 reminders each to 100
   people with the per-member limit at 5 a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from wechatpy.enterprise import create_reply, parse_message
from wechatpy.enterprise.crypto import WeChatCrypto

from bench.bureau import TZ, ensure_store
from bot.app import App
from bot.channels.base import TransientSendError
from bot.channels.wecom import USERID
from bot.channels.wecom_api import WeComAPI, WeComChannel, WeComLimits
from bot.channels.wecom_callback import WeComCallback
from bot.clock import FakeClock
from bot.config import load
from bot.evidence import Evidence
from handlers.messages import Reply
from schedules.model import build_org
from tests.fake_wecom import FakeWeCom, ManualClock
from tests.wecom_callback import CallbackSimulator

TOKEN = "benchTokenBenchTokenBenchToken12"
AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
CORP = "wwbench000000001"
AGENT = 1000002


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


async def callback_path(folder: Path, n: int) -> None:
    with tempfile.TemporaryDirectory() as work:  # a copy: the bot writes to its store
        subprocess.run(["cp", "-a", f"{folder}/.", work], check=True)
        await _callback_path(Path(work), n)


async def _callback_path(folder: Path, n: int) -> None:
    from datetime import datetime
    config = load(folder / "config.toml")
    clock = FakeClock(datetime(2026, 11, 26, 10, tzinfo=TZ))
    app = App.open(config, clock)
    # A branch secretary: head of a branch, with its tasks of three years in the store.
    head = next(u.head for u in app.org.units.values() if u.kind == "branch")
    userid = app.org.people[head].address(USERID.key) or ""
    sim = CallbackSimulator(TOKEN, AES_KEY, CORP, AGENT)
    crypto = WeChatCrypto(TOKEN, AES_KEY, CORP)
    with FakeWeCom(corp_id=CORP, agent_id=AGENT) as fake:
        api = WeComAPI(CORP, fake.secret, AGENT, fake.base_url)
        channel = WeComChannel(app.org, api)
        callback = WeComCallback(app.handle, crypto, AGENT, channel, api, clock.now,
                                 Evidence(app.store.files), quick=app.quick)
        requests = [sim.text(userid, "待办") for _ in range(n + 50)]
        for r in requests[:50]:  # warm-up
            await callback.receive(r.query, r.body, "bench")
        ours, bare = [], []
        for r in requests[50:]:
            start = time.perf_counter()
            answer = await callback.receive(r.query, r.body, "bench")
            ours.append(time.perf_counter() - start)
            assert answer.status == 200 and answer.body, "待办 is answered passively"
            start = time.perf_counter()  # wechatpy's echo app: the message back as the reply
            plain = crypto.decrypt_message(r.body, r.query["msg_signature"],
                                           r.query["timestamp"], r.query["nonce"])
            message = parse_message(plain)
            echo = create_reply(message.content, message).render()
            crypto.encrypt_message(echo, r.query["nonce"], r.query["timestamp"])
            bare.append(time.perf_counter() - start)
        reply = sim.reply_fields(answer.body)["Content"]
    app.close()
    p50, b50 = statistics.median(ours) * 1000, statistics.median(bare) * 1000
    print(f"  待办 from a branch secretary: reply {len(reply.encode())} bytes, "
          f"{reply.count('【')} tasks listed")
    print(f"  whole WeCom path       p50 {p50:6.3f} ms   p99 {pct(ours, 0.99):6.3f} ms   (n={n})")
    print(f"  wechatpy echo          p50 {b50:6.3f} ms   p99 {pct(bare, 0.99):6.3f} ms")
    ratio = p50 / b50
    print(f"  ratio (p50): {ratio:.2f}; target ≤ 2.0: {'met' if ratio <= 2.0 else 'MISSED'}")


def bulk(label: str, people: int, each: int, api_per_minute: int | None,
         member_per_minute: int) -> None:
    from bench.bureau import write_config
    with tempfile.TemporaryDirectory() as work:
        base = load(write_config(Path(work), max(people, 60), 6)).org
    everyone = [p if p.address(USERID.key) else
                replace(p, addresses=(*p.addresses, (USERID.key, f"U{i}")))
                for i, p in enumerate(base.people.values())]
    org = build_org(base.name, base.timezone, everyone, list(base.units.values()),
                    list(base.duties.values()))
    recipients = list(org.people.values())[:people]
    clock = ManualClock()  # simulated time: the limiter is measured, not the machine
    with FakeWeCom(corp_id=CORP, agent_id=AGENT, clock=clock, api_per_minute=api_per_minute,
                   per_member_minute=member_per_minute) as fake:
        api = WeComAPI(CORP, fake.secret, AGENT, fake.base_url, clock=clock,
                       sleep=clock.advance)
        channel = WeComChannel(org, api, cards=True, clock=clock, sleep=clock.advance,
                               limits=WeComLimits(member_per_minute, 1000,
                                                  api_per_minute or 10_000),
                               max_wait=0.0)
        queue = [(p.id, f"【待办提醒】{p.name}：第 {k + 1} 项事项将于12月31日截止。")
                 for k in range(each) for p in recipients]
        start, retries = clock(), 0
        while queue:
            waiting = []
            for person, text in queue:
                try:
                    channel.send(person, False, Reply(text))
                except TransientSendError:  # at a limit: the delivery loop tries again
                    waiting.append((person, text))
            retries += len(waiting)
            queue = waiting
            if queue:
                clock.advance(1.0)
        elapsed = clock() - start
        refused = len([r for r in fake.requests if r.path.endswith("message/send")]) - len(
            fake.delivered) - len(fake.dropped)
        sent = len(fake.delivered)
    limit = api_per_minute if api_per_minute else people * member_per_minute
    total = people * each
    # The fastest any sender may go under a sliding one-minute window: `limit` at once,
    # then `limit` more each minute.
    ideal = ((total - 1) // limit) * 60.0
    print(f"  {label}: {sent} delivered in {elapsed:.1f} s (simulated), "
          f"{refused} refused (45009), {len(fake.dropped)} dropped over a member limit")
    rate, best = total / elapsed * 60, total / max(ideal, 1e-9) * 60
    ok = elapsed and ideal / elapsed >= 0.9 and not refused and not fake.dropped
    print(f"    achieved {rate:.0f}/min; the limit allows at most {best:.0f}/min for this "
          f"batch (all in {ideal:.0f} s): {ideal / elapsed:.1%}; target ≥ 90 %: "
          f"{'met' if ok else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("-n", type=int, default=500)
    args = parser.parse_args()
    folder, _ = ensure_store(args.workdir, "bureau")
    print("WeCom callback path, bureau scale (300 people, 40 units, 3 years):")
    asyncio.run(callback_path(folder, args.n))
    print("bulk delivery through the fake API (simulated time, shared by the fake and the bot):")
    bulk("2,000 reminders to 2,000 people, API limit 300/min", 2000, 1, 300, 30)
    bulk("2,000 reminders to 100 people, per-member limit 5/min", 100, 20, None, 5)


if __name__ == "__main__":
    main()
