"""Who may see and excuse what (SPEC §6 “Scope”). Every query command asks here.

Everyone sees their own tasks; a unit head the unit's; a supervising leader (一岗双责) the
units they supervise; the party group secretary and the admins of 机关党委 everything. A
target outside someone's scope is answered exactly like one that does not exist.
"""

from __future__ import annotations

from dataclasses import dataclass

from schedules.model import Org, Person, Role


@dataclass(frozen=True)
class Scope:
    person: str
    everything: bool
    units: tuple[str, ...]  # unit ids visible, in config order
    people: tuple[str, ...]  # people whose own tasks (述职, 党课 …) are visible, in config order

    def covers(self, owner: str) -> bool:
        return owner in self.units or owner in self.people

    @property
    def owners(self) -> tuple[str, ...]:
        """Every visible owner in the order rows are shown: units first, then people."""
        return self.units + self.people


def scope_of(org: Org, person: Person) -> Scope:
    if person.has(Role.PARTY_SECRETARY) or person.has(Role.ADMIN):
        return Scope(person.id, True, tuple(org.units), tuple(org.people))
    units = tuple(u.id for u in org.units.values()
                  if u.head == person.id or u.supervisor == person.id)
    return Scope(person.id, False, units, (person.id,))


def may_excuse(org: Org, person: Person, owner: str) -> bool:
    """Admins and the party secretary excuse anything; a supervising leader the tasks of the
    units they supervise. Nobody excuses their own duty."""
    if owner == person.id or org.assignee(owner) == person.id:
        return False
    if person.has(Role.ADMIN) or person.has(Role.PARTY_SECRETARY):
        return True
    unit = org.units.get(owner)
    return unit is not None and unit.supervisor == person.id


SELF_WORDS = frozenset({"我", "本人", "自己", "me", "myself"})


def find_owners(org: Org, scope: Scope, target: str) -> list[list[str]]:
    """What `target` (a unit's or a person's name, possibly shortened: 第二支部) names within
    the scope: candidates, each the list of owners to show (a person: their own tasks and
    the units they head). Only visible names are ever matched, so a name outside the scope
    finds nothing, exactly as a name that does not exist."""
    wanted = target.strip()
    if wanted in SELF_WORDS:
        wanted = scope.person
    candidates: list[tuple[str, list[str]]] = []
    for unit_id in scope.units:
        unit = org.units[unit_id]
        candidates.append((unit.name, [unit_id]))
        if wanted == unit_id:
            return [[unit_id]]
    for p in org.people.values():
        owners = [o for o in (p.id, *(u.id for u in org.units_headed_by(p.id)))
                  if scope.covers(o)]
        if owners:
            candidates.append((p.name, owners))
            if wanted == p.id:
                return [owners]
    for level in (_exact, _contains, _in_order):
        found = [owners for name, owners in candidates if level(wanted, name)]
        if found:
            return found
    return []


def _exact(wanted: str, name: str) -> bool:
    return wanted == name


def _contains(wanted: str, name: str) -> bool:
    return len(wanted) >= 2 and wanted in name


def _in_order(wanted: str, name: str) -> bool:
    """`第二支部` in `机关第二党支部`: every character, in order."""
    if len(wanted) < 2:
        return False
    rest = iter(name)
    return all(ch in rest for ch in wanted)
