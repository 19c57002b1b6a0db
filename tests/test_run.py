"""`dutybot run` as an admin starts it: a separate process with WeCom and Telegram enabled,
secrets in its environment, talking to the loopback fakes; stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import httpx

from bot.cli import STARTED
from tests.builders import ROOT
from tests.fake_telegram import FakeTelegram
from tests.fake_wecom import FakeWeCom
from tests.test_monitoring import scrape
from tests.test_telegram import telegram_config
from tests.test_wecom import AES_KEY, AGENT, CORP, ENV, TOKEN, wecom_section
from tests.wecom_callback import CallbackSimulator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Lines:
    """A process's stderr, read as it comes, with a way to wait for a line (no polling)."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        with stream:
            for line in stream:
                with self._seen:
                    self.lines.append(line)
                    self._seen.notify_all()

    def wait_for(self, text: str, timeout: float = 20.0) -> None:
        with self._seen:
            if not self._seen.wait_for(lambda: any(text in line for line in self.lines),
                                       timeout):
                raise AssertionError(f"no “{text}” in: {''.join(self.lines)}")

    def all(self) -> str:
        self._thread.join(timeout=20)
        return "".join(self.lines)


def test_run_serves_wecom_and_telegram_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    with FakeWeCom(corp_id=CORP, agent_id=AGENT) as wecom, FakeTelegram() as telegram:
        telegram.add_user(5001, "吴芳")
        path = telegram_config(tmp_path, telegram.base_url)
        text = path.read_text(encoding="utf-8").replace(
            "[server]\nport = 0", f"[server]\nport = {port}\n{wecom_section(wecom.base_url)}")
        text += '\n[log]\nfile = "logs/dutybot.log"\n'
        path.write_text(text, encoding="utf-8")
        env = {**os.environ, **ENV, "TG_TOKEN": telegram.token, "PYTHONPATH": str(ROOT)}
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run", "--config", str(path),
             "--now", "2026-11-26T10:00"],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        assert process.stderr is not None
        log = Lines(process.stderr)
        try:
            base = f"http://127.0.0.1:{port}"
            log.wait_for(STARTED)  # the server and the Telegram bot are up
            health = httpx.get(base + "/healthz").json()
            assert set(health["channels"]) == {"telegram", "wecom", "wecom-robot"}

            sim = CallbackSimulator(TOKEN, AES_KEY, CORP, AGENT)
            request = sim.text("WuFang", "待办")
            answer = httpx.post(base + "/wecom/callback", params=request.query,
                                content=request.body, timeout=5)
            assert answer.status_code == 200
            assert sim.reply_fields(answer.content)["Content"].startswith("您有 6 项待办")

            telegram.push_message(5001, "待办")
            [answer_text] = telegram.wait_for_texts(5001, 1, timeout=10)
            assert answer_text.startswith("您好，这个账号还没有绑定")
            scraped = scrape(base)
            wecom_route = (("route", "wecom"),)
            assert scraped[("dutybot_callbacks_total", (*wecom_route, ("status", "200")))] == 1
            assert scraped[("dutybot_callback_duration_seconds_count", wecom_route)] == 1
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=20)
        err = log.all()
        assert process.returncode == 0, err
        assert "渠道：企业微信、企业微信群机器人、Telegram。" in err and "下一次 10:01" in err
        assert TOKEN not in err and AES_KEY not in err and telegram.token not in err
        logged = (tmp_path / "logs" / "dutybot.log").read_text(encoding="utf-8")
        assert "listening for callbacks" in logged
        assert TOKEN not in logged and AES_KEY not in logged and telegram.token not in logged
        assert ENV["WECOM_SECRET"] not in logged


def test_secrets_are_redacted_from_any_log_line() -> None:
    import logging

    from bot.cli import _Redact
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1,
                               "HTTP Request: POST %s", ("http://x/bot123456:TEST-token/getMe",),
                               None)
    assert _Redact(["123456:TEST-token", ""]).filter(record)
    assert record.getMessage() == "HTTP Request: POST http://x/bot***/getMe"
