"""The bureau as the plan describes it: people, units, duties and their rules.

Everything here is frozen and built once from config by `bot.config`; the rest of the
domain reads it and never changes it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from enum import StrEnum
from functools import cached_property
from typing import TypeVar
from zoneinfo import ZoneInfo

K = TypeVar("K")


class Role(StrEnum):
    """What a person may do; the first three are stated in config, the rest follow from units."""

    PARTY_SECRETARY = "party-secretary"  # 党组书记: first responsible, sees everything
    LEADER = "leader"  # 党组成员 / 分管领导: supervises units
    ADMIN = "admin"  # 党务干事 in 机关党委: keeps the plan, sees everything
    UNIT_HEAD = "unit-head"  # derived: head of some unit
    MEMBER = "member"  # derived: belongs to some unit


STATED_ROLES = frozenset({Role.PARTY_SECRETARY, Role.LEADER, Role.ADMIN})


class Cadence(StrEnum):
    WEEKLY = "weekly"  # Monday to Sunday (ISO weeks)
    SEMI_MONTHLY = "semi-monthly"  # the 1st to the 15th, the 16th to the month's end
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    HALF_YEARLY = "half-yearly"
    YEARLY = "yearly"
    AS_REQUIRED = "as-required"  # one-off deadlines an admin lists in config
    EVENT = "event"  # opened by a message (e.g. an opinion incident), not by the calendar


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    roles: frozenset[Role]
    units: tuple[str, ...] = ()
    mobile: str | None = None
    # Where each channel reaches this person, by the config key it is written under
    # (e.g. ("wecom_userid", "zhangsan")); the channel modules know what the keys mean.
    addresses: tuple[tuple[str, str], ...] = ()

    def has(self, role: Role) -> bool:
        return role in self.roles

    def address(self, key: str) -> str | None:
        return next((value for k, value in self.addresses if k == key), None)


@dataclass(frozen=True)
class GroupChat:
    """A unit's work group, where digests go; each channel's address of it by config key
    (e.g. ("aibot_chatid", "wrk…")), as for `Person.addresses`."""

    name: str
    addresses: tuple[tuple[str, str], ...] = ()

    def address(self, key: str) -> str | None:
        return next((value for k, value in self.addresses if k == key), None)


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    kind: str
    head: str  # person id: the secretary of a branch, the head of an office
    supervisor: str | None = None  # person id of the 分管领导
    group: GroupChat | None = None
    deputy: str | None = None  # stands in for the head: gets the reminders, may record
    committee: tuple[str, ...] = ()  # person ids of the 支部委员会, invited to 支委会


@dataclass(frozen=True)
class Policy:
    """When a duty's reminders go out (SPEC §5); the bureau's defaults, overridable per duty."""

    advance_days: int = 7  # 0: no advance reminder
    eve: bool = True
    due_day: bool = True
    overdue_max: int = 5  # reminders while overdue, one per working day
    escalate_on: int = 3  # the Nth working day overdue; 0: never
    send_at: time = time(9, 0)
    quiet_start: time = time(20, 0)  # nothing is sent from here …
    quiet_end: time = time(8, 0)  # … to here
    timezone: ZoneInfo | None = None  # None: the bureau's

    def quiet(self, moment: time) -> bool:
        if self.quiet_start == self.quiet_end:
            return False
        if self.quiet_start < self.quiet_end:
            return self.quiet_start <= moment < self.quiet_end
        return moment >= self.quiet_start or moment < self.quiet_end


@dataclass(frozen=True)
class DueRule:
    """When a task is due within its period.

    Exactly one form applies: an offset from the period's start or end (`anchor`, `days`),
    fixed month-days such as 06-20 and 12-20 (one per period), the Nth (or last) given
    weekday or working day of the period (`ordinal`, `weekday`), fixed dates for
    as-required duties, or N working days after opening for event duties.
    """

    anchor: str = "end"  # "end" | "start" | "month-days" | "weekday" | "workday" | "dates"
    #                      | "opened"
    days: int = 0
    month_days: tuple[tuple[int, int], ...] = ()
    dates: tuple[date, ...] = ()
    ordinal: int = 0  # 1, 2, … the Nth; -1 the last; 0 a week's only one ("fri")
    weekday: int = 0  # Monday 0 … Sunday 6 (for "weekday")

    def describe(self) -> str:
        if self.anchor in ("weekday", "workday"):
            which = {-1: "最后一个", 0: "", 1: "第一个"}.get(self.ordinal, f"第{self.ordinal}个")
            day = f"周{'一二三四五六日'[self.weekday]}" if self.anchor == "weekday" else "工作日"
            return which + day
        if self.anchor == "month-days":
            return "、".join(f"{m:02d}-{d:02d}" for m, d in self.month_days)
        if self.anchor == "dates":
            return "、".join(d.isoformat() for d in self.dates)
        if self.anchor == "opened":
            return f"开启后第{self.days}个工作日"
        if self.anchor == "start":
            return f"期初后第{self.days}天" if self.days else "期初"
        return f"期末前{-self.days}天" if self.days else "期末"


@dataclass(frozen=True)
class Owners:
    """Who a duty applies to: units of some kinds, named units, or each person with a role."""

    kinds: tuple[str, ...] = ()
    units: tuple[str, ...] = ()
    role: Role | None = None


class Invitees(StrEnum):
    """Who a meeting duty invites (SPEC §5a), besides any listed people."""

    MEMBERS = "members"  # everyone whose `units` include the unit
    COMMITTEE = "committee"  # the unit's `committee`
    LEADERS = "leaders"  # 党组成员: everyone with the leader role
    LISTED = "listed"  # only the people listed


@dataclass(frozen=True)
class Attendees:
    """A meeting duty's invitees: a group, or listed people; `also` adds 列席 invitees."""

    who: Invitees = Invitees.MEMBERS
    people: tuple[str, ...] = ()  # for `LISTED`
    also: tuple[str, ...] = ()


@dataclass(frozen=True)
class MeetingPolicy:
    """When meeting reminders go out (`[meetings]`): on the working day before at `eve_at`
    and `before_minutes` before the start; absentees' 补学 is due `makeup_days` working days
    after the meeting; an unrecorded meeting reminds its organiser `record_days` working
    days after it."""

    eve_at: time = time(16, 0)
    before_minutes: int = 60
    makeup_days: int = 10
    record_days: int = 3


class Adjust(StrEnum):
    """What happens to a deadline that falls on a non-working day."""

    NONE = "none"  # it stays
    PREVIOUS = "previous-workday"
    NEXT = "next-workday"


@dataclass(frozen=True)
class Duty:
    id: str
    title: str
    clause: str
    cadence: Cadence
    due: DueRule
    owners: Owners
    evidence: str = ""
    policy: Policy = field(default_factory=Policy)
    adjust: Adjust = Adjust.NONE
    about_previous: bool = False  # done early in a period about the one before (年度述职)
    keyword: str = ""  # an event duty's word: `舆情 …`, `上报 汛情 …`
    meeting: Attendees | None = None  # a meeting duty (`meeting = true`): who is invited


@dataclass(frozen=True)
class Org:
    """The bureau: its people, units and duties, in the order config lists them."""

    name: str
    timezone: ZoneInfo
    people: Mapping[str, Person]
    units: Mapping[str, Unit]
    duties: Mapping[str, Duty]
    _names: Mapping[str, str] = field(default_factory=dict, repr=False)
    meetings: MeetingPolicy = field(default_factory=MeetingPolicy)
    _by_address: dict[tuple[str, bool], Mapping[str, Person]] = field(
        default_factory=dict, repr=False, compare=False)

    @cached_property
    def admins(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.people.values() if p.has(Role.ADMIN))

    @cached_property
    def party_secretaries(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.people.values() if p.has(Role.PARTY_SECRETARY))

    def by_address(self, key: str, fold_case: bool = False) -> Mapping[str, Person]:
        """People by their address under config key `key` (lower-cased if `fold_case`)."""
        cached = self._by_address.get((key, fold_case))
        if cached is None:
            cached = {(a.lower() if fold_case else a): p for p in self.people.values()
                      if (a := p.address(key))}
            self._by_address[key, fold_case] = cached
        return cached

    def person(self, key: str) -> Person | None:
        """A person by id or by display name."""
        found = self.people.get(key)
        if found is None and key in self._names:
            found = self.people.get(self._names[key])
        return found

    def owner_name(self, owner_id: str) -> str:
        if owner_id in self.units:
            return self.units[owner_id].name
        if owner_id in self.people:
            return self.people[owner_id].name
        return owner_id

    def units_headed_by(self, person_id: str) -> Iterator[Unit]:
        return iter(self._units_by_head.get(person_id, ()))

    # Asked on every message: looked up, not a scan of every unit (a city has thousands).
    @cached_property
    def _units_by_head(self) -> Mapping[str, tuple[Unit, ...]]:
        return _grouped(self.units.values(), lambda u: u.head)

    @cached_property
    def _units_by_deputy(self) -> Mapping[str | None, tuple[Unit, ...]]:
        return _grouped(self.units.values(), lambda u: u.deputy)

    @cached_property
    def _owner_sets(self) -> Mapping[str, frozenset[str]]:
        return {d.id: frozenset(self.duty_owners(d)) for d in self.duties.values()}

    def owns(self, duty_id: str, owner_id: str) -> bool:
        """Whether the plan gives `duty_id` to `owner_id` (fast: asked for every task)."""
        owners = self._owner_sets.get(duty_id)
        return owners is not None and owner_id in owners

    def stands_in_for(self, person_id: str) -> tuple[str, ...]:
        """The units whose head `person_id` stands in for, as their `deputy`."""
        return tuple(u.id for u in self._units_by_deputy.get(person_id, ()))

    def members_of(self, unit_id: str) -> tuple[str, ...]:
        """The people whose `units` include the unit, in config order."""
        return tuple(p.id for p in self.people.values() if unit_id in p.units)

    def invitees(self, duty: Duty, owner: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Who a meeting of `duty` held by `owner` invites: (应到, 列席), each in config
        order, nobody twice."""
        attendees = duty.meeting or Attendees()
        if attendees.who is Invitees.MEMBERS:
            invited = self.members_of(owner)
        elif attendees.who is Invitees.COMMITTEE:  # a unit without one: all its members
            unit = self.units.get(owner)
            invited = (unit.committee if unit and unit.committee else self.members_of(owner))
        elif attendees.who is Invitees.LEADERS:
            invited = tuple(p.id for p in self.people.values() if p.has(Role.LEADER))
        else:
            invited = tuple(p for p in attendees.people if p in self.people)
        also = tuple(p for p in attendees.also if p in self.people and p not in invited)
        return invited, also

    def duty_owners(self, duty: Duty) -> list[str]:
        """Ids of the units or people a duty applies to, in config order."""
        if duty.owners.role is not None:
            role = duty.owners.role
            return [p.id for p in self.people.values() if p.has(role)]
        if duty.owners.units:
            return list(duty.owners.units)
        kinds = set(duty.owners.kinds)
        return [u.id for u in self.units.values() if u.kind in kinds]

    def assignee(self, owner_id: str) -> str | None:
        """Who answers for an owner's tasks: a unit's head, or the person themself."""
        if owner_id in self.units:
            return self.units[owner_id].head
        if owner_id in self.people:
            return owner_id
        return None


def build_org(
    name: str,
    timezone: ZoneInfo,
    people: list[Person],
    units: list[Unit],
    duties: list[Duty],
    meetings: MeetingPolicy | None = None,
) -> Org:
    """Assemble an `Org`, adding the roles that follow from unit membership and headship."""
    heads = {u.head for u in units}
    completed = []
    for p in people:
        roles = set(p.roles)
        if p.id in heads:
            roles.add(Role.UNIT_HEAD)
        if p.units:
            roles.add(Role.MEMBER)
        completed.append(
            Person(p.id, p.name, frozenset(roles), p.units, p.mobile, p.addresses)
        )
    return Org(
        name=name,
        timezone=timezone,
        people={p.id: p for p in completed},
        units={u.id: u for u in units},
        duties={d.id: d for d in duties},
        _names={p.name: p.id for p in completed},
        meetings=meetings or MeetingPolicy(),
    )


def _grouped(units: Iterable[Unit], key: Callable[[Unit], K]) -> Mapping[K, tuple[Unit, ...]]:
    """Units by `key`, each group in config order."""
    found: dict[K, list[Unit]] = {}
    for unit in units:
        found.setdefault(key(unit), []).append(unit)
    return {k: tuple(v) for k, v in found.items()}
