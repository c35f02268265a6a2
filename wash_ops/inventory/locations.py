"""Warehouse locations (zones, racks, pallet places, goods-in) and the virtual ones: a place
per event and per loss reason."""

from __future__ import annotations

import enum
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wash_ops.catalogue.models import CupType
from wash_ops.errors import N_, InvalidInput, Problems
from wash_ops.inventory.models import Location, LocationKind, StockBalance
from wash_ops.orders.models import Event

CODE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{0,31}$")

# Which kinds may sit inside which: a rack in a zone, a pallet place in a rack or zone.
PARENT_KINDS: dict[LocationKind, frozenset[LocationKind]] = {
    LocationKind.ZONE: frozenset(),
    LocationKind.INTAKE: frozenset(),
    LocationKind.RACK: frozenset({LocationKind.ZONE}),
    LocationKind.PALLET: frozenset({LocationKind.ZONE, LocationKind.RACK}),
}


class LossReason(enum.StrEnum):
    MISSING = "missing"  # not returned from an event: billed to the organiser
    BREAKAGE = "breakage"  # rejected on the line: written off
    COUNT = "count"  # a stock count found fewer cups than booked


def create_location(
    session: Session,
    *,
    code: str,
    name: str,
    kind: LocationKind,
    parent: Location | None = None,
    capacity_crates: int | None = None,
) -> Location:
    """A warehouse place. Event and loss places are made by ``event_location``/``loss_location``."""
    problems = Problems()
    code = code.strip().upper()
    if not CODE.match(code):
        problems.add(
            "code", N_("A location code is 1 to 32 capital letters, digits, dots or dashes.")
        )
    elif session.scalar(select(Location.id).where(Location.code == code)) is not None:
        problems.add("code", N_("Location %(code)s already exists."), code=code)
    name = name.strip()
    if not name or len(name) > 120:
        problems.add(
            "name", N_("Give the location a name of at most %(count)s characters."), count=120
        )
    if kind not in PARENT_KINDS:
        problems.add("kind", N_("Event and loss places are made by the system."))
    elif parent is not None and parent.kind not in PARENT_KINDS[kind]:
        problems.add(
            "parent",
            N_("A %(kind)s cannot be placed in a %(parent)s."),
            kind=kind,
            parent=parent.kind,
        )
    if capacity_crates is not None and (not is_whole(capacity_crates) or capacity_crates <= 0):
        problems.add("capacity_crates", N_("Capacity is a whole number of crates above zero."))
    problems.raise_if_any()
    location = Location(
        code=code, name=name, kind=kind, parent=parent, capacity_crates=capacity_crates
    )
    session.add(location)
    session.flush()
    return location


def location_by_code(session: Session, code: str) -> Location:
    location = session.scalar(select(Location).where(Location.code == code.strip().upper()))
    if location is None:
        raise InvalidInput(N_("Unknown location: %(code)s."), "location", code=code)
    return location


def event_location(session: Session, event: Event) -> Location:
    """The virtual place of an event's cups, made on first use."""
    location = session.scalar(select(Location).where(Location.event_id == event.id))
    if location is None:
        location = Location(
            code=f"EVENT-{event.id}", name=event.name, kind=LocationKind.EVENT, event_id=event.id
        )
        session.add(location)
        session.flush()
    return location


def loss_location(session: Session, reason: LossReason) -> Location:
    """The virtual place of cups lost or broken for this reason, made on first use."""
    code = f"LOSS-{reason.upper()}"
    location = session.scalar(select(Location).where(Location.code == code))
    if location is None:
        location = Location(code=code, name=f"Loss: {reason}", kind=LocationKind.LOSS)
        session.add(location)
        session.flush()
    return location


def occupied_crates(session: Session, location: Location) -> int:
    """Crates the location holds: per cup type and owner (cups of different owners or types
    never share a crate), all states together, rounded up to whole crates."""
    return sum(crates_by_key(session, location.id).values())


def crates_by_key(session: Session, location_id: int) -> dict[tuple[int, int], int]:
    cups = cups_by_key(session, location_id)
    per_crate = dict(
        session.execute(
            select(CupType.id, CupType.cups_per_crate).where(
                CupType.id.in_({cup_type_id for cup_type_id, _ in cups})
            )
        ).all()
    )
    return {key: -(-count // per_crate[key[0]]) for key, count in cups.items()}


def cups_by_key(session: Session, location_id: int) -> dict[tuple[int, int], int]:
    """Cups at a location per (cup type id, owner key), all states together."""
    rows = session.execute(
        select(StockBalance.cup_type_id, StockBalance.owner_key, func.sum(StockBalance.quantity))
        .where(StockBalance.location_id == location_id)
        .group_by(StockBalance.cup_type_id, StockBalance.owner_key)
    )
    return {(cup_type_id, owner_key): int(total) for cup_type_id, owner_key, total in rows}


def is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
