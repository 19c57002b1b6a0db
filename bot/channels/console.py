"""The console channel: the bot in a terminal, or driven by a script through stdin.

Interactive (a terminal on stdin): a prompt per line. Piped: one message per line, each
reply printed followed by a blank line, exit at end of input.
"""

from __future__ import annotations

from typing import TextIO

from bot.app import App
from handlers.messages import Inbound, Reply

QUIT_WORDS = frozenset({"退出", "quit", "exit", "/quit"})


class ConsoleChannel:
    name = "console"

    def __init__(self, app: App, sender: str, stdin: TextIO, stdout: TextIO,
                 interactive: bool) -> None:
        self.app = app
        self.sender = sender
        self.stdin = stdin
        self.stdout = stdout
        self.interactive = interactive

    def run(self) -> None:
        person = self.app.org.person(self.sender)
        if self.interactive:
            who = person.name if person else self.sender
            self._print(f"dutybot · {self.app.org.name} · 当前身份：{who}\n"
                        "输入「帮助」查看命令，输入「退出」结束。\n")
        prompt = f"{person.name if person else self.sender}> "
        while True:
            line = self._read(prompt)
            if line is None:
                break
            message = line.rstrip("\r\n")
            if message.strip().lower() in QUIT_WORDS:
                break
            if not message.strip() and self.interactive:
                continue
            reply = self.app.handle(Inbound(
                channel=self.name, sender=self.sender, text=message,
                received_at=self.app.clock.now(),
            ))
            self.show(reply)
        if self.interactive:
            self._print("再见。")

    def _read(self, prompt: str) -> str | None:
        """The next message, or None at end of input."""
        if self.interactive:
            try:
                return input(prompt)  # line editing, with `readline` loaded by the CLI
            except EOFError:
                return None
        line = self.stdin.readline()
        return line or None

    def show(self, reply: Reply) -> None:
        self._print(reply.text + "\n")

    def _print(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()
