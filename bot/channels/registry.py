"""Every channel dutybot can run, in order: the order `check` lists them, `run` connects them
and a reminder's channels are tried. Adding a platform is one module and one line here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from bot.channels import telegram, wecom, wecom_aibot
from bot.channels.plugin import AddressKey, Channel

CHANNELS: tuple[Channel, ...] = (wecom.CHANNEL, wecom_aibot.CHANNEL, telegram.CHANNEL)


def by_name(name: str) -> Channel | None:
    return next((c for c in CHANNELS if c.name == name), None)


def person_keys() -> tuple[AddressKey, ...]:
    """The address keys `[[people]]` may carry, each once (channels may share one)."""
    return _unique(k for c in CHANNELS for k in c.person_keys)


def group_keys() -> tuple[AddressKey, ...]:
    return _unique(k for c in CHANNELS for k in c.group_keys)


def _unique(keys: Iterator[AddressKey]) -> tuple[AddressKey, ...]:
    return tuple({k.key: k for k in keys}.values())


def preferred(names: list[str], group: bool) -> list[str]:
    """The channels that deliver to a recipient all of `names` reach: none that another of
    them stands in for (the WeCom app for the 智能机器人's single chats, the 智能机器人 for
    a group's robot)."""
    dropped = {loser for c in CHANNELS for winner, loser, for_group in c.precedence
               if for_group == group and winner in names}
    return [n for n in names if n not in dropped]


def enabled(settings: Mapping[str, Any]) -> Iterator[tuple[Channel, Any]]:
    """The enabled channels with their settings, in registry order."""
    for channel in CHANNELS:
        found = settings.get(channel.name)
        if found is not None and found.enabled:
            yield channel, found
