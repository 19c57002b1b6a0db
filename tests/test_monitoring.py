"""Watching the bot from outside (issue 15, SPEC §12): `/metrics` in Prometheus format and
`/healthz` whenever `[server]` is configured, even with only the console; what passes and
deliveries count; a log file kept by rotation, with time, level and source on every line."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from logging.handlers import TimedRotatingFileHandler
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import App
from bot.channels.base import PermanentSendError, TransientSendError
from bot.cli import STARTED, _log_to_file
from bot.clock import FakeClock
from bot.config import MIN_LOG_DAYS, Config, ConfigError, load
from bot.delivery import Deliverer
from bot.metrics import Metrics
from bot.runner import store_state
from storage.upgrade import FORMAT, release
from tests.builders import ROOT, RecordingChannel, at

Sample = tuple[str, tuple[tuple[str, str], ...]]


def scrape(base: str) -> dict[Sample, float]:
    """GET /metrics, parsed by prometheus-client's own parser: (name, labels) → value."""
    answer = httpx.get(base + "/metrics", timeout=5)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(answer.text)


def parse(text: str) -> dict[Sample, float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_a_console_only_bot_serves_health_and_metrics_when_server_is_configured(
        config_path: Path, tmp_path: Path) -> None:
    from tests.test_run import Lines, free_port
    port = free_port()
    App.open(load(config_path), FakeClock(at("2026-11-19 09:00"))).close()  # a week of store
    with config_path.open("a", encoding="utf-8") as f:
        f.write(f'\n[server]\nport = {port}\n\n[log]\nfile = "logs/dutybot.log"\n')
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(config_path),
         "--now", "2026-11-26T09:00"],  # a working day's send time: reminders go out at once
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert process.stderr is not None
    log = Lines(process.stderr)
    try:
        log.wait_for(STARTED)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(base + "/healthz").json()["status"] == "ok"
        scraped = scrape(base)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=20)
    assert process.returncode == 0, log.all()
    assert "/metrics" in log.all()
    assert scraped[("dutybot_passes_total", (("outcome", "ok"),))] >= 1
    assert scraped[("dutybot_pass_duration_seconds_count", ())] >= 1
    assert scraped[("dutybot_last_pass_timestamp_seconds", ())] == pytest.approx(
        at("2026-11-26 09:00").timestamp(), abs=120)
    assert scraped[("dutybot_messages_total", (("channel", "console"), ("state", "sent")))] >= 5
    assert scraped[("dutybot_store_records", ())] > 0
    assert scraped[("dutybot_store_writable", ())] == 1
    assert ("dutybot_info", (("format", str(FORMAT)), ("release", release()))) in scraped
    lines = (tmp_path / "logs" / "dutybot.log").read_text(encoding="utf-8").splitlines()
    assert lines and all(_stamped(line) for line in lines), lines
    assert any("reminder pass" in line and "（bot.delivery）" in line for line in lines)


def _stamped(line: str) -> bool:
    """`2026-12-02 09:00:01 信息：…（bot.delivery）`: time, level, and what it concerns."""
    day, clock, rest = line.split(" ", 2)
    return (len(day) == 10 and len(clock) == 8 and rest.split("：", 1)[0] in
            ("调试", "信息", "注意", "错误", "严重") and rest.endswith("）"))


@pytest.fixture
def week_old(config: Config) -> Iterator[tuple[App, FakeClock]]:
    """The example bureau whose store began a week ago, at this Thursday's send time."""
    clock = FakeClock(at("2026-11-19 09:00"))
    opened = App.open(config, clock)
    clock.set(at("2026-11-26 09:00"))
    yield opened, clock
    opened.close()


def test_deliveries_and_their_problems_are_counted_by_channel_and_state(
        week_old: tuple[App, FakeClock]) -> None:
    app, clock = week_old
    metrics = Metrics()
    metrics.watch(lambda: store_state(app))
    channel = RecordingChannel()
    channel.failures = [TransientSendError("timeout"), PermanentSendError("no such user")]
    deliverer = Deliverer(app, {"console": channel}, defer_unreached=False, metrics=metrics)
    deliverer.run_pass(clock.now())  # the first two sends fail: one retries, one is lost
    first = parse(metrics.render().decode())
    assert first[("dutybot_delivery_problems_total", (("channel", "console"),
                                                       ("kind", "retry")))] == 1
    assert first[("dutybot_delivery_problems_total", (("channel", "console"),
                                                       ("kind", "failed")))] == 1
    sent = first[("dutybot_messages_total", (("channel", "console"), ("state", "sent")))]
    assert sent == len(channel.sent)
    assert first[("dutybot_outbox", (("channel", "console"), ("state", "pending")))] >= 1
    clock.advance(timedelta(minutes=2))  # past the retry's back-off
    deliverer.run_pass(clock.now())
    second = parse(metrics.render().decode())
    assert second[("dutybot_messages_total", (("channel", "console"), ("state", "sent")))] == (
        sent + 1)
    assert ("dutybot_outbox", (("channel", "console"), ("state", "pending"))) not in second
    assert second[("dutybot_passes_total", (("outcome", "ok"),))] == 2


def test_a_pass_the_store_refuses_is_counted_and_not_taken_for_success(
        week_old: tuple[App, FakeClock]) -> None:
    app, clock = week_old
    metrics = Metrics()
    deliverer = Deliverer(app, {"console": RecordingChannel()}, defer_unreached=False,
                          metrics=metrics)
    deliverer.run_pass(clock.now())
    task = app.store.open_tasks()[0]
    app.store.check_in(task.key, task.owner, at("2026-11-27 10:00"), "", "console")
    clock.set(at("2026-11-27 09:00"))  # the day's notices are due, but the ledger is ahead
    deliverer.run_pass(clock.now())
    scraped = parse(metrics.render().decode())
    assert scraped[("dutybot_passes_total", (("outcome", "clock_behind"),))] == 1
    assert scraped[("dutybot_last_pass_timestamp_seconds", ())] == (
        at("2026-11-26 09:00").timestamp())


def test_the_log_file_rotates_daily_and_keeps_half_a_year(config_path: Path) -> None:
    with config_path.open("a", encoding="utf-8") as f:
        f.write('\n[log]\nfile = "logs/dutybot.log"\n')
    settings = load(config_path).log
    assert settings.keep_days == MIN_LOG_DAYS == 180
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        _log_to_file(settings)
        [handler] = [h for h in root.handlers if h not in before]
        assert isinstance(handler, TimedRotatingFileHandler)
        assert handler.when == "MIDNIGHT" and handler.backupCount == 180
        handler.close()
    finally:
        root.handlers[:] = before


@pytest.mark.parametrize("section, key", [
    ("[log]\nkeep_days = 30", "log.keep_days"),
    ("[log]\nfile = \"x.log\"\nrotate = \"daily\"", "log.rotate"),
])
def test_a_log_kept_too_briefly_or_mistyped_is_refused(config_path: Path, section: str,
                                                       key: str) -> None:
    with config_path.open("a", encoding="utf-8") as f:
        f.write(f"\n{section}\n")
    with pytest.raises(ConfigError) as raised:
        load(config_path)
    assert key in str(raised.value) and str(config_path) in str(raised.value)
