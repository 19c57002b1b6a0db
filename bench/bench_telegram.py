"""Telegram (issue 5): bulk delivery of 1,000 reminders through the loopback fake Bot API.

    python -m bench.bench_telegram

The real PTB `Application` (with `AIORateLimiter`) and our `TelegramChannel`, as the delivery
loop drives it: one worker thread sending, the bot's event loop doing the HTTP. 1,000
personalised reminders go to 100 bound people (10 each), with the overall limit configured
at 50 a second and private chats paced at one a second. The fake records every message's
time and flags any chat that got two within a second, any group over 20 a minute and any
second with more than the overall limit. Reported: violations (must be 0) and the achieved
rate against the configured one (target ≥ 90 %), all in simulated time shared by the fake
and our limiters, so the figure measures the limiter, not the machine.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from dataclasses import replace
from datetime import datetime
from itertools import pairwise
from pathlib import Path

from bench.bureau import TZ, write_config
from bot.app import App
from bot.channels.base import TransientSendError
from bot.channels.telegram import ACCOUNT, TelegramSettings
from bot.channels.telegram_bot import TelegramBot, TelegramChannel
from bot.clock import FakeClock
from bot.config import Config, load
from bot.evidence import Evidence
from handlers.messages import Reply
from schedules.model import build_org
from tests.fake_telegram import FakeTelegram
from tests.fake_wecom import ManualClock

PEOPLE, EACH, OVERALL = 100, 10, 50


def bureau(folder: Path) -> Config:
    config = load(write_config(folder, 300, 40))
    base = config.org
    everyone = [replace(p, addresses=(*p.addresses, (ACCOUNT.key, str(7_000_000 + i))))
                for i, p in enumerate(base.people.values())]
    org = build_org(base.name, base.timezone, everyone, list(base.units.values()),
                    list(base.duties.values()))
    return replace(config, org=org)


async def bulk(folder: Path) -> None:
    os.environ.setdefault("PTB_TIMEDELTA", "true")
    config = bureau(folder)
    wire = ManualClock()  # simulated time, shared by the fake and our limiters
    with FakeTelegram(overall_per_second=OVERALL, private_per_second=1.0, clock=wire) as fake:
        for person in config.org.people.values():
            account = person.address(ACCOUNT.key)
            assert account is not None
            fake.add_user(int(account), person.name)
        settings = TelegramSettings(enabled=True, token_env="X", api_base_url=fake.base_url,
                                    overall_per_second=OVERALL)
        app = App.open(config, FakeClock(datetime(2026, 11, 30, 9, tzinfo=TZ)))
        bot = TelegramBot(settings, fake.token, "", app.handle, app.quick, app.clock.now,
                          Evidence(app.store.files), clock=wire, sleep=wire.advance)
        await bot.start()
        channel = TelegramChannel(config.org, app.store, bot, max_wait=0.0)
        people = list(config.org.people)[:PEOPLE]
        queue = [(p, Reply(f"【待办提醒】第 {k + 1} 项事项将于12月31日截止（{p}）。"))
                 for k in range(EACH) for p in people]

        def send_all() -> float:
            start, waiting = wire(), queue
            while waiting:
                later = []
                for person, reply in waiting:
                    try:
                        channel.send(person, False, reply)
                    except TransientSendError:  # this chat's second is not over yet
                        later.append((person, reply))
                waiting = later
                if waiting:
                    wire.advance(0.05)
            return wire() - start

        elapsed = await asyncio.to_thread(send_all)
        await bot.stop()
        app.close()
        sent = [s for s in fake.sent if s.chat_id > 0]
        violations = list(fake.violations)
    kinds = sorted({v.limit for v in violations})
    per_chat: dict[int, list[float]] = {}
    for s in sent:
        per_chat.setdefault(s.chat_id, []).append(s.at)
    closest = min(b - a for times in per_chat.values() for a, b in pairwise(times))
    rate = len(sent) / elapsed
    print(f"1,000 reminders to {PEOPLE} people ({EACH} each), overall limit {OVERALL}/s, "
          f"private chats 1/s:")
    print(f"  {len(sent)} delivered in {elapsed:.1f} s (simulated); closest two to one chat "
          f"{closest:.2f} s apart; limit violations recorded by the fake: {len(violations)} "
          f"{kinds or ''}")
    # The fastest any sender may go under a sliding one-second window: OVERALL at once, then
    # OVERALL more each second.
    ideal = ((len(sent) - 1) // OVERALL) * 1.0
    ok = ideal / elapsed >= 0.9 and not violations and len(sent) == PEOPLE * EACH
    print(f"  achieved {rate:.1f}/s; the limit allows all in {ideal:.0f} s at best: "
          f"{ideal / elapsed:.1%}; target ≥ 90 % with no violations: "
          f"{'met' if ok else 'MISSED'}")


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    try:
        asyncio.run(bulk(folder))
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
