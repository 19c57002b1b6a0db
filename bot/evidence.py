"""Evidence files kept on arrival (SPEC §7): a photo or file that comes with a message is
downloaded from its platform at once and kept in the store under its SHA-256, before the
message is handled — a WeCom `media_id` is gone after three days.

Each channel hands over a `Fetch` that knows its platform (WeCom `media/get`, the
智能机器人's per-message AES key, Telegram `getFile`). A download that fails for a transient
reason is tried again; one that still fails, or a file refused (too big, a type we do not
keep), is recorded with the reason in the attachment (`Attachment.error`), said in the
reply, and listed for admins in their weekly report: never dropped without a word.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from handlers.messages import Inbound
from schedules.tasks import Attachment
from storage.files import FileStore, Refusal, Refused

log = logging.getLogger(__name__)

BACKOFF = (0.5, 2.0)  # seconds before the second and third tries


@dataclass(frozen=True)
class Fetched:
    data: bytes
    name: str = ""  # the platform's file name, when it gives one
    type: str = ""  # the platform's MIME type, when it gives one


class FetchFailed(Exception):
    """A download failed; `transient` when trying again may help (network, timeouts,
    the platform busy), not when the file is gone (an expired media id)."""

    def __init__(self, why: str, transient: bool = True) -> None:
        super().__init__(why)
        self.transient = transient


class FetchTooBig(Exception):
    """The file is over the cap; the download stopped there."""

    def __init__(self, size: int) -> None:
        super().__init__(f"{size} bytes")
        self.size = size


# Downloads one attachment (its `ref` is the platform's id) and returns at most `limit`
# bytes, or raises `FetchFailed` / `FetchTooBig`.
Fetch = Callable[[Attachment, int], Fetched]


class Evidence:
    def __init__(self, files: FileStore, sleep: Callable[[float], None] = time.sleep,
                 backoff: Sequence[float] = BACKOFF) -> None:
        self.files, self.sleep, self.backoff = files, sleep, tuple(backoff)

    def collect(self, message: Inbound, fetch: Fetch) -> Inbound:
        """`message` with each attachment kept (or refused, with the reason). Runs in a
        worker thread: downloads block."""
        if not message.attachments:
            return message
        kept = tuple(self.keep(a, fetch) for a in message.attachments)
        return replace(message, attachments=kept)

    def keep(self, attachment: Attachment, fetch: Fetch) -> Attachment:
        if attachment.sha256 or attachment.error:
            return attachment  # already kept or refused (a channel that had the bytes)
        for pause in (*self.backoff, None):
            try:
                got = fetch(attachment, self.files.max_bytes)
            except FetchTooBig as e:
                return Refused(Refusal.TOO_BIG, e.size).attachment(
                    attachment.kind, attachment.ref, attachment.name)
            except FetchFailed as e:
                if pause is None or not e.transient:
                    log.warning("could not download %s %r, giving up: %s", attachment.kind,
                                attachment.ref[:40], e)
                    break
                log.warning("could not download %s %r, trying again: %s", attachment.kind,
                            attachment.ref[:40], e)
                self.sleep(pause)
                continue
            name = got.name or attachment.name
            return self.files.keep(got.data, name, got.type).attachment(
                attachment.kind, attachment.ref, name)
        return Refused(Refusal.DOWNLOAD).attachment(attachment.kind, attachment.ref,
                                                    attachment.name)
