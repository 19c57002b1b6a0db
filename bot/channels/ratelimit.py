"""Sliding-window rate limits, so sending never exceeds what a platform publishes.

WeCom silently drops app messages beyond 30 a minute or 1000 an hour to one member, and a
group robot takes 20 a minute: a message over the limit is not an error we could retry,
it is simply lost. So the sender asks here first and waits its turn (or gives up and lets
the delivery loop retry later, when the wait would be long).

The clock and the sleep are injected: the tests and the benchmark run the windows on their
own time.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

EPSILON = 1e-6  # float slack when a sleep ends exactly at the window's edge


@dataclass(frozen=True)
class Limit:
    count: int  # at most this many …
    seconds: float  # … in any window this long


class RateLimiter:
    """Per-key sliding windows under several limits at once (e.g. per minute and per hour)."""

    def __init__(self, limits: Sequence[Limit], clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.limits = tuple(limits)
        self.clock, self.sleep = clock, sleep
        self._sent: dict[Hashable, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._longest = max((lim.seconds for lim in self.limits), default=0.0)

    def wait_for(self, keys: Sequence[Hashable]) -> float:
        """Seconds until one more event is allowed for every key (0: now)."""
        with self._lock:
            return self._wait(keys, self.clock())

    def _wait(self, keys: Sequence[Hashable], now: float) -> float:
        wait = 0.0
        for key in keys:
            times = self._sent[key]
            while times and times[0] <= now - self._longest:
                times.popleft()
            for lim in self.limits:
                # The (count)-th most recent event must have left the window.
                if len(times) >= lim.count:
                    inside = [t for t in times if t > now - lim.seconds]
                    if len(inside) >= lim.count:
                        wait = max(wait, inside[-lim.count] + lim.seconds - now)
        return wait

    def acquire(self, keys: Sequence[Hashable], max_wait: float) -> bool:
        """Wait (at most `max_wait` seconds) until every key may send one more, and record
        that it did. False, recording nothing, when the wait would be longer."""
        while True:
            with self._lock:
                now = self.clock()
                wait = self._wait(keys, now)
                if wait <= EPSILON:
                    for key in keys:
                        self._sent[key].append(now)
                    return True
            if wait > max_wait + EPSILON:
                return False
            self.sleep(wait)
            max_wait -= wait
