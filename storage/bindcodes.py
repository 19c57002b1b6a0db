"""One-time codes that link a chat account (Telegram) to a person: `dutybot bind-code 张三`.

The admin issues a code while the bot may be running — and the running bot holds the store's
lock — so codes live in their own append-only file in the store folder, `bind-codes.jsonl`,
one line per code: its SHA-256 (never the code itself), the person, when it expires. The
bot reads the file when someone tries a code; using a code is recorded in the ledger, which
is what makes it single-use.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

FILE = "bind-codes.jsonl"
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud or typed from paper
LENGTH = 8  # 31^8 ≈ 8.5e11 codes, against at most 5 tries an hour per account


@dataclass(frozen=True)
class IssuedCode:
    digest: str
    person: str
    expires: datetime


def digest(code: str) -> str:
    normalised = code.strip().upper().replace("-", "").replace(" ", "")
    return hashlib.sha256(normalised.encode()).hexdigest()


def issue(folder: Path, person: str, now: datetime, valid_for: timedelta) -> tuple[str, datetime]:
    """A new random code for `person`, stored hashed; returns it (shown once) and its expiry."""
    code = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    expires = now + valid_for
    line = json.dumps({"digest": digest(code), "person": person, "expires": expires.isoformat(),
                       "issued": now.isoformat()}, ensure_ascii=False) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    return f"{code[:4]}-{code[4:]}", expires


def find(folder: Path, code: str) -> IssuedCode | None:
    """The issued code matching `code` (case and a dash or spaces ignored), if any."""
    wanted = digest(code)
    path = folder / FILE
    if not path.exists():
        return None
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            item = json.loads(raw)
            if secrets.compare_digest(item["digest"], wanted):
                return IssuedCode(item["digest"], item["person"],
                                  datetime.fromisoformat(item["expires"]))
        except (ValueError, KeyError, TypeError):
            continue  # a torn last line from an interrupted `bind-code`
    return None
