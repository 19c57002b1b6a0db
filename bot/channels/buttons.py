"""Button keys: what a tapped button sends back (a WeCom card's EventKey, a Telegram
callback_data). Short ASCII, so they fit every platform's limit (Telegram: 64 bytes)."""

from __future__ import annotations

from handlers.messages import Button
from handlers.parse import Parsed, parse, split_number

CHECKIN_KEY = "checkin-"
TODO_KEY = "todo"
TEXT_KEY = "cmd-"


def button_key(button: Button) -> str:
    """A card button's key: ASCII, since it comes back in the click's callback."""
    parsed = parse(button.command)
    if isinstance(parsed, Parsed) and parsed.name == "checkin":
        number, rest = split_number(parsed.args)
        if number is not None and not rest:
            return f"{CHECKIN_KEY}{number}"
    if isinstance(parsed, Parsed) and parsed.name == "todo" and not parsed.args:
        return TODO_KEY
    return TEXT_KEY + button.command.encode().hex()


def command_of(key: str) -> str | None:
    """The command a card button stands for; None for a key we never made."""
    if key.startswith(CHECKIN_KEY) and key[len(CHECKIN_KEY):].isdigit():
        return f"打卡 {key[len(CHECKIN_KEY):]}"
    if key == TODO_KEY:
        return "待办"
    if key.startswith(TEXT_KEY):
        try:
            return bytes.fromhex(key[len(TEXT_KEY):]).decode()
        except ValueError:
            return None
    return None
