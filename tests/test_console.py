"""The console channel as a user meets it: `dutybot chat` in a subprocess with piped stdin."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from handlers import table, text
from tests.builders import ROOT

NOW = "2026-11-26T10:00:00+08:00"


def chat(config: Path, person: str, *lines: str, now: str = NOW) -> list[str]:
    """Run one chat session; return the replies (blank-line separated on stdout)."""
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat", "--config", str(config), "--as", person,
         "--now", now],
        input="\n".join(lines) + "\n", capture_output=True, text=True, cwd=ROOT, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return [r.strip() for r in result.stdout.strip().split("\n\n")]


def test_check_in_survives_a_restart_and_can_be_undone(config_path: Path) -> None:
    todo, = chat(config_path, "吴芳", "待办")
    assert todo.startswith("您有 6 项待办")
    first = int(re.findall(r"【(\d+)】", todo)[0])

    replies = chat(config_path, "吴芳", f"打卡 {first} 已召开，参会12人", "待办")
    assert replies[0].startswith(text.CHECKED_IN) and "已召开，参会12人" in replies[0]
    assert replies[1].startswith("您有 5 项待办") and f"【{first}】" not in replies[1]

    after_restart = chat(config_path, "吴芳", "待办", f"打卡 {first}")
    assert after_restart[0].startswith("您有 5 项待办")
    assert "无需重复" in after_restart[1]

    undone = chat(config_path, "吴芳", "撤销", "待办")
    assert undone[0].startswith(text.UNDONE) and f"【{first}】" in undone[0]
    assert undone[1].startswith("您有 6 项待办")


def test_an_unknown_person_is_refused_naming_the_closest(config_path: Path) -> None:
    for who, hint in [("吴方", "是不是：吴芳"), ("陌生人", "运行 dutybot check")]:
        result = subprocess.run(
            [sys.executable, "-m", "bot.cli", "chat", "--config", str(config_path), "--as", who],
            input="待办\n", capture_output=True, text=True, cwd=ROOT, timeout=60)
        assert result.returncode == 2 and result.stdout == ""
        assert f"没有「{who}」这个人" in result.stderr and hint in result.stderr
    assert "局" not in text.NOT_REGISTERED.replace("本单位", "")  # nothing about the org


def test_quit_word_ends_the_session(config_path: Path) -> None:
    replies = chat(config_path, "吴芳", "帮助", "退出", "待办")
    assert replies == [table.HELP]


def test_a_store_used_by_another_process_is_refused(config_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "chat", "--config", str(config_path), "--as", "吴芳"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    ) as holder:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.write("帮助\n")
        holder.stdin.flush()
        assert holder.stdout.readline().startswith("可用命令")  # it is up and holds the store
        second = subprocess.run(
            [sys.executable, "-m", "bot.cli", "chat", "--config", str(config_path)],
            input="待办\n", capture_output=True, text=True, cwd=ROOT, timeout=60,
        )
        holder.stdin.close()
        holder.wait(timeout=30)
    assert second.returncode == 1
    assert "另一个 dutybot 进程" in second.stderr and second.stdout == ""


def test_bundled_example_is_used_when_there_is_no_config(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "check", "--now", NOW], capture_output=True,
        text=True, cwd=tmp_path, timeout=60,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "config.example.toml" in result.stderr and len(result.stderr.splitlines()) == 1
    assert "示例市林业局" in result.stdout


def test_a_terminal_gets_a_banner_and_a_prompt(config_path: Path) -> None:
    import os
    import pty
    import select

    controller, terminal = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "chat", "--config", str(config_path), "--as", "吴芳",
         "--now", NOW],
        stdin=terminal, stdout=terminal, stderr=terminal, cwd=ROOT,
    ) as bot:
        os.close(terminal)
        seen = b""

        def read_until(marker: bytes) -> None:
            nonlocal seen
            while marker not in seen:
                ready, _, _ = select.select([controller], [], [], 30)
                assert ready, f"no {marker!r} in {seen.decode(errors='replace')!r}"
                seen += os.read(controller, 4096)

        read_until("吴芳> ".encode())
        os.write(controller, "待办\n".encode())
        read_until("您有 6 项待办".encode())
        os.write(controller, "退出\n".encode())
        read_until("再见".encode())
        assert bot.wait(timeout=30) == 0
    os.close(controller)
    assert "当前身份：吴芳" in seen.decode()


def test_chat_prints_the_reminders_that_fall_due_once(config_path: Path) -> None:
    chat(config_path, "吴芳", "帮助", now="2026-11-20T10:00:00+08:00")  # the store begins
    first = chat(config_path, "吴芳", "待办", now="2026-11-23T09:30:00+08:00")
    [reminder] = [r for r in first if r.startswith("—— 提醒 ——")]  # one, for three tasks
    assert reminder.count("还有7天") == 3
    assert first[-1].startswith("您有 6 项待办")  # the reply comes after the reminders
    again = chat(config_path, "吴芳", "待办", now="2026-11-23T09:40:00+08:00")
    assert not any(r.startswith("—— 提醒 ——") for r in again)
    others = chat(config_path, "郑磊", "待办", now="2026-11-23T09:45:00+08:00")
    [kept] = [r for r in others if r.startswith("—— 提醒 ——")]  # his were kept for him
    assert kept.count("还有7天") == 3


def test_a_trial_chat_leaves_reminders_to_the_live_bot(config_path: Path) -> None:
    text = config_path.read_text(encoding="utf-8")
    config_path.write_text(text + '\n[channels.wecom]\nenabled = true\ncorp_id = "ww1"\n'
                           'agent_id = 1000002\nsecret_env = "DUTYBOT_WECOM_SECRET"\n'
                           'token_env = "DUTYBOT_WECOM_TOKEN"\n'
                           'aes_key_env = "DUTYBOT_WECOM_AES_KEY"\n',
                           encoding="utf-8")
    chat(config_path, "吴芳", "帮助", now="2026-11-20T10:00:00+08:00")
    replies = chat(config_path, "吴芳", "待办", now="2026-11-23T09:30:00+08:00")
    assert not any(r.startswith("—— 提醒 ——") for r in replies)
    assert replies[-1].startswith("您有 6 项待办")
