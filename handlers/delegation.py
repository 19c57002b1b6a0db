"""`委托 张三 至12月15日` / `取消委托`: someone stands in for me for a while — they get my
reminders too and may record my duties (and my units'); the ledger says who acted for whom.

A unit's standing `deputy` (config) works the same way for that unit, without a command.
"""

from __future__ import annotations

from handlers import text
from handlers.commands import Context, UserError
from handlers.messages import Reply
from handlers.parse import date_arg, split_first


def delegate(ctx: Context, args: str) -> Reply:
    current = next((d for d in ctx.store.delegations()
                    if d.person == ctx.person.id and d.active(ctx.today)), None)
    if not args.strip():
        if current is None:
            return Reply(text.DELEGATE_USAGE)
        return Reply(text.delegation_now(ctx.org.owner_name(current.delegate),
                                         text.day(current.until, ctx.today)
                                         if current.until else ""))
    name, rest = split_first(args)
    other = ctx.org.person(name)
    if other is None:
        raise UserError(text.delegate_unknown(name[:20]))
    if other.id == ctx.person.id:
        raise UserError(text.DELEGATE_SELF)
    until = None
    if rest:
        until = date_arg(rest, ctx.today)
        if until is None:
            raise UserError(text.DELEGATE_USAGE)
    ctx.store.delegate(ctx.person.id, other.id, until, ctx.now, source=ctx.message.source)
    return Reply(text.delegated(other.name, text.day(until, ctx.today) if until else ""))


def undelegate(ctx: Context, args: str) -> Reply:
    current = next((d for d in ctx.store.delegations()
                    if d.person == ctx.person.id and d.active(ctx.today)), None)
    if current is None:
        return Reply(text.NO_DELEGATION)
    ctx.store.end_delegation(ctx.person.id, ctx.now, source=ctx.message.source)
    return Reply(text.delegation_ended(ctx.org.owner_name(current.delegate)))
