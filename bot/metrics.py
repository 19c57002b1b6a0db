"""What `GET /metrics` tells a monitoring system (Prometheus text format, `prometheus-client`).

Counts and durations only — channel names, states and routes, never a person, a task or a
message — so the page can be scraped by the bureau's monitoring without exposing anyone.
Each `dutybot run` has its own registry (tests start many in one process).

- `dutybot_passes_total{outcome}`: reminder passes: ok, clock_behind, store_unwritable, error;
  `dutybot_pass_duration_seconds`: how long each took;
  `dutybot_last_pass_timestamp_seconds`: when the last successful one ran (alert when old);
- `dutybot_messages_total{channel,state}`: messages (what one person or group gets at once)
  as they reach sent, failed, skipped, unknown (may or may not have arrived) or a retry;
  `dutybot_outbox{channel,state}`: those still pending or being sent now;
- `dutybot_delivery_problems_total{channel,kind}`: failed, unknown, retry — what an admin
  would want paged about;
- `dutybot_callback_duration_seconds{route}` and `dutybot_callbacks_total{route,status}`:
  WeCom and Telegram callbacks as our HTTP server answered them;
- `dutybot_store_records`, `dutybot_store_writable`, `dutybot_info{release,format}`.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from storage.repository import Delivery, OutboxEntry

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PASS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
CALLBACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5)  # WeCom waits 5 s
PROBLEMS = {Delivery.FAILED: "failed", Delivery.UNKNOWN: "unknown", Delivery.PENDING: "retry"}


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.passes = Counter("dutybot_passes", "Reminder passes run, by outcome", ["outcome"],
                              registry=r)
        self.pass_seconds = Histogram("dutybot_pass_duration_seconds",
                                      "How long each reminder pass took", buckets=PASS_BUCKETS,
                                      registry=r)
        self.last_pass = Gauge("dutybot_last_pass_timestamp_seconds",
                               "Unix time of the last successful reminder pass", registry=r)
        self.messages = Counter("dutybot_messages", "Messages by channel and the state reached",
                                ["channel", "state"], registry=r)
        self.problems = Counter("dutybot_delivery_problems",
                                "Messages that failed, may not have arrived, or wait to retry",
                                ["channel", "kind"], registry=r)
        self.callback_seconds = Histogram("dutybot_callback_duration_seconds",
                                          "Time to answer a platform callback", ["route"],
                                          buckets=CALLBACK_BUCKETS, registry=r)
        self.callbacks = Counter("dutybot_callbacks", "Platform callbacks answered, by status",
                                 ["route", "status"], registry=r)

    def passed(self, outcome: str, seconds: float, at: float | None) -> None:
        """A reminder pass ended; `at` (Unix time) only when it succeeded."""
        self.passes.labels(outcome).inc()
        self.pass_seconds.observe(seconds)
        if at is not None:
            self.last_pass.set(at)

    def moved(self, entries: Sequence[OutboxEntry], state: Delivery) -> None:
        """Outbox entries that moved together reached `state`: one message for each
        recipient among them (a bundle's entries are one message). Pending is not a state
        reached, a retry is; being sent is not counted (its outcome is)."""
        if state is Delivery.SENDING:
            return
        name = "retry" if state is Delivery.PENDING else state.value
        messages = Tally(e.channel or "none"
                         for e in {(e.channel, e.recipient, e.group): e for e in entries}.values())
        for channel, count in messages.items():
            self.messages.labels(channel, name).inc(count)
            if state in PROBLEMS:
                self.problems.labels(channel, PROBLEMS[state]).inc(count)

    def skipped(self, count: int) -> None:
        """Task reminders a pass found missed and not worth sending (one mark each task,
        no outbox entry): counted as skipped messages of no channel."""
        if count:
            self.messages.labels("none", Delivery.SKIPPED.value).inc(count)

    def answered(self, route: str, status: int, seconds: float) -> None:
        self.callback_seconds.labels(route).observe(seconds)
        self.callbacks.labels(route, str(status)).inc()

    def watch(self, state: Callable[[], StoreState]) -> None:
        """Read the store's gauges at each scrape."""
        self.registry.register(_StoreCollector(state))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class StoreState:
    """What the store says at a scrape."""

    def __init__(self, records: int, writable: bool, release: str, format: int,
                 in_motion: Iterable[OutboxEntry]) -> None:
        self.records, self.writable, self.release, self.format = records, writable, release, format
        self.in_motion = Tally((e.channel or "none", e.state.value) for e in in_motion)


class _StoreCollector(Collector):
    def __init__(self, state: Callable[[], StoreState]) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        now = self.state()
        yield GaugeMetricFamily("dutybot_store_records", "Records in the ledger", now.records)
        yield GaugeMetricFamily("dutybot_store_writable",
                                "1 when the store can be written, 0 when only read",
                                1 if now.writable else 0)
        outbox = GaugeMetricFamily("dutybot_outbox", "Messages pending or being sent now",
                                   labels=["channel", "state"])
        for (channel, state), count in sorted(now.in_motion.items()):
            outbox.add_metric([channel, state], count)
        yield outbox
        info = InfoMetricFamily("dutybot", "The running release and its store's format")
        info.add_metric([], {"release": now.release, "format": str(now.format)})
        yield info
