"""The console channel: the bot in a terminal, or driven by a script through stdin.

Interactive (a terminal on stdin): a prompt per line, with line editing. Piped: one message
per line, each reply printed followed by a blank line, exit at end of input. Reminders
that fall due are printed as they come: in `chat`, those for the person chatting (and their
units' groups); in `run` without other channels, everyone's.
"""

from __future__ import annotations

import threading
from typing import TextIO

from handlers.messages import Reply
from schedules.model import Org

QUIT_WORDS = frozenset({"退出", "quit", "exit", "/quit"})


CONSOLE = "console"  # always there: `dutybot chat`, and `simulate` when nothing is enabled


class ConsoleChannel:
    name = CONSOLE

    def __init__(self, org: Org, stdin: TextIO, stdout: TextIO, interactive: bool,
                 audience: str | None) -> None:
        self.org = org
        self.stdin = stdin
        self.stdout = stdout
        self.interactive = interactive
        self.audience = audience  # the person chatting; None: print messages for everyone
        self._print_lock = threading.Lock()

    # ---- inbound -------------------------------------------------------------------------

    def banner(self, who: str) -> None:
        if self.interactive:
            self._print(f"dutybot · {self.org.name} · 当前身份：{who}\n"
                        "输入「帮助」查看命令，输入「退出」结束。\n")

    def read(self, prompt: str) -> str | None:
        """The next message, or None at the end of input or on a quit word."""
        while True:
            if self.interactive:
                try:
                    line = input(prompt)  # line editing, with `readline` loaded by the CLI
                except EOFError:
                    return None
            else:
                raw = self.stdin.readline()
                if not raw:
                    return None
                line = raw.rstrip("\r\n")
            if line.strip().lower() in QUIT_WORDS:
                return None
            if line.strip() or not self.interactive:
                return line

    def show(self, reply: Reply) -> None:
        self._print(reply.text + "\n")

    def goodbye(self) -> None:
        if self.interactive:
            self._print("再见。")

    # ---- outbound ------------------------------------------------------------------------

    def reaches(self, recipient: str, group: bool) -> bool:
        if self.audience is None:
            return True
        if group:
            person = self.org.people.get(self.audience)
            return person is not None and recipient in person.units
        return recipient == self.audience

    def send(self, recipient: str, group: bool, reply: Reply) -> None:
        mentions = " ".join(f"@{self.org.owner_name(p)}" for p in reply.mentions)
        body = reply.text + (f"\n{mentions}" if mentions else "")
        if group:
            unit = self.org.units.get(recipient)
            where = unit.group.name if unit and unit.group else self.org.owner_name(recipient)
            header = f"—— 群消息 · {where} ——"
        elif self.audience is None:
            header = f"—— 发给 {self.org.owner_name(recipient)} ——"
        else:
            header = "—— 提醒 ——"
        buttons = "  ".join(f"[{b.label}]" for b in reply.buttons)
        self._print("\n".join(filter(None, [header, body, buttons])) + "\n")

    def _print(self, text: str) -> None:
        with self._print_lock:
            self.stdout.write(text + "\n")
            self.stdout.flush()
