"""The command line as an admin meets it (issue 11): Chinese help and errors, the version,
Ctrl-C, progress on a terminal, and `check --json`."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.cli import main
from tests.builders import ROOT

CJK = re.compile(r"[\u4e00-\u9fff]")
SUBCOMMANDS = ["chat", "check", "run", "simulate", "report", "bind-code", "audit"]


def run_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=60)


@pytest.mark.parametrize("words", [["--help"], *([c, "--help"] for c in SUBCOMMANDS),
                                   ["audit", "verify", "--help"]])
def test_help_is_in_chinese(words: list[str]) -> None:
    result = run_cli(*words)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines[0].startswith("用法：")
    options = [i for i, line in enumerate(lines) if line.startswith("  --")]
    unexplained = [lines[i] for i in options
                   if not CJK.search(lines[i]) and not CJK.search(lines[i + 1])]
    assert not unexplained, unexplained  # every option is explained in Chinese
    assert "show this help" not in result.stdout and "options:" not in result.stdout


@pytest.mark.parametrize(("words", "says"), [
    (["simulate", "--from", "x", "--to", "2026-12-31"], "「x」不是日期"),
    (["report", "--year", "2026"], "缺少必需的参数：--out"),
    (["simulate", "--from", "2026-01-01", "--to", "2026-01-02", "--format", "xml"],
     "无效的选项"),
    (["nosuch"], "无效的选项"),
    (["check", "--bogus"], "无法识别的参数：--bogus"),
])
def test_argument_errors_are_in_chinese(words: list[str], says: str) -> None:
    result = run_cli(*words)
    assert result.returncode == 2
    assert says in result.stderr and "错误：" in result.stderr
    assert "error:" not in result.stderr and "usage:" not in result.stderr


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert re.fullmatch(r"dutybot \d+\.\d+\.\d+\s*", capsys.readouterr().out)


def _terminal(args: list[str]) -> tuple[subprocess.Popen[bytes], int]:
    """The CLI on a pseudo-terminal that is its controlling terminal, as in a real shell
    (so Ctrl-C there is a SIGINT)."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))

    def own_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen([sys.executable, "-m", "bot.cli", *args], stdin=terminal,
                               stdout=terminal, stderr=terminal, cwd=ROOT,
                               preexec_fn=own_terminal)
    os.close(terminal)
    return process, controller


def _read_until(controller: int, marker: bytes, seen: bytearray, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while marker not in seen:
        ready, _, _ = select.select([controller], [], [], max(0.0, end - time.monotonic()))
        assert ready, f"no {marker!r} in {seen.decode(errors='replace')!r}"
        try:
            seen += os.read(controller, 4096)
        except OSError:  # the other end closed
            break


def test_ctrl_c_ends_the_chat_at_once(config_path: Path) -> None:
    process, controller = _terminal(["chat", "--config", str(config_path), "--as", "吴芳",
                                     "--now", "2026-11-26T10:00"])
    seen = bytearray()
    try:
        _read_until(controller, "吴芳> ".encode(), seen)
        os.write(controller, b"\x03")  # Ctrl-C
        started = time.monotonic()
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 3
        _read_until(controller, "再见。".encode(), seen, timeout=5)
    finally:
        process.kill()
        os.close(controller)
    assert b"Traceback" not in seen


def test_a_long_preview_shows_progress_on_a_terminal(config_path: Path) -> None:
    # Twenty years: long enough to take over the bar's one second however fast simulate gets.
    process, controller = _terminal(["simulate", "--from", "2026-01-01", "--to", "2045-12-31",
                                     "--config", str(config_path), "--now",
                                     "2025-12-31T12:00"])
    seen = bytearray()
    try:
        _read_until(controller, "预览".encode(), seen, timeout=60)  # the bar, after a second
        while process.poll() is None:
            ready, _, _ = select.select([controller], [], [], 1)
            if ready:
                try:
                    seen += os.read(controller, 65536)
                except OSError:
                    break
        assert process.wait(timeout=60) == 0
    finally:
        process.kill()
        os.close(controller)
    assert re.search(r"预览 .*\d+/7305 天", seen.decode(errors="replace"))


def test_piped_output_has_no_progress_bar(config_path: Path) -> None:
    result = run_cli("simulate", "--from", "2026-01-01", "--to", "2027-12-31", "--config",
                     str(config_path), "--now", "2025-12-31T12:00")
    assert result.returncode == 0 and "预览" not in result.stderr


def test_check_json_carries_deadlines_calendar_and_channels(
        config_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--json", "--config", str(config_path), "--now",
                 "2026-12-01T09:00"]) == 0
    document = json.loads(capsys.readouterr().out)
    tasks = document["deadlines"]["tasks"]
    assert tasks and all("2026-12-01" <= t["due"] <= "2027-01-30" for t in tasks)
    assert {"due": "2026-12-31", "duty": "theme-day", "owner": "branch-1",
            "period": "2026-12"} in tasks
    estimated = document["calendar"]["estimated"]
    assert [e["year"] for e in estimated] == [2027] and len(estimated[0]["missing"]) == 13
    assert document["channels"]["wecom"] == {"enabled": False}
    assert document["channels"]["console"]["enabled"] is True


LOADED = """
import sys
from bot.cli import main
code = main(sys.argv[2:])
heavy = sys.argv[1].split(",")
print("loaded:", ",".join(m for m in heavy if m in sys.modules), file=sys.stderr)
sys.exit(code)
"""


@pytest.mark.parametrize("command", [["chat", "--as", "吴芳"], ["check"], ["audit", "verify"]])
def test_everyday_commands_load_no_platform_server_or_office_library(
        command: list[str], config_path: Path) -> None:
    """Issue 14: `chat` and `check` import what they use — not Telegram, WeCom, the HTTP
    server, XlsxWriter, python-docx or prometheus-client — so they start in a fraction of
    the time."""
    assert loaded(HEAVY, command, config_path) == ""


HEAVY = ("telegram", "wechatpy", "starlette", "uvicorn", "xlsxwriter", "openpyxl", "docx",
         "prometheus_client", "tqdm", "aibot", "websockets", "aiohttp")
THE_BOT = ("bot.app", "bot.runner", "bot.channels.registry", "handlers.dispatch", "asyncio")


def loaded(modules: Sequence[str], command: list[str], config_path: Path) -> str:
    """Which of `modules` the command loaded, run in a process of its own."""
    result = subprocess.run([sys.executable, "-c", LOADED, ",".join(modules), *command,
                             "--config", str(config_path)], input="待办\n完成 二十二\n",
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode in (0, 1), result.stderr
    return result.stderr.rsplit("loaded: ", 1)[1].strip()


def test_audit_verify_reads_the_store_without_loading_the_bot(config_path: Path) -> None:
    """`audit verify` looks at the store alone (it works while the config is being put
    right): it starts without the bot's modules, the channels or asyncio."""
    loaded((), ["chat", "--as", "吴芳"], config_path)  # a store with a check-in
    assert loaded(THE_BOT, ["audit", "verify"], config_path) == ""
