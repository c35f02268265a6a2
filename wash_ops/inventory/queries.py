"""Read-only views of the stock for the office and the organisers: the overview per cup type,
state and owner, the places with the crates they hold, and the ledger with filters and paging.

Nothing here writes; every change of stock goes through ``ledger``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, selectinload

from wash_ops.accounts.models import Organisation
from wash_ops.catalogue.models import CupType
from wash_ops.inventory.models import (
    POOL,
    STORAGE_KINDS,
    Location,
    LocationKind,
    StockBalance,
    StockMovement,
    StockState,
)

# The states in the order cups flow through them, for rows that read top to bottom.
STATE_ORDER = [
    StockState.CLEAN_AVAILABLE,
    StockState.CUSTOMER_STORED,
    StockState.RESERVED,
    StockState.LOADED,
    StockState.AT_EVENT,
    StockState.DIRTY_IN_TRANSIT,
    StockState.RECEIVED_DIRTY,
    StockState.ON_LINE,
    StockState.QUARANTINED,
    StockState.LOST,
    StockState.BROKEN,
]


def crates(cups: int, per_crate: int) -> int:
    return -(-cups // per_crate) if cups > 0 else 0


# --- the overview -----------------------------------------------------------------------


@dataclass(frozen=True)
class Owner:
    """A column of the overview: the rental pool (key 0, no organisation) or an organisation."""

    key: int
    organisation: Organisation | None

    @property
    def is_pool(self) -> bool:
        return self.key == POOL


@dataclass
class CupTypeStock:
    """Cups of one cup type per state (rows) and owner (columns)."""

    cup_type: CupType
    owners: list[Owner]
    cells: dict[tuple[StockState, int], int] = field(default_factory=dict)

    @property
    def states(self) -> list[StockState]:
        present = {state for state, _ in self.cells}
        return [state for state in STATE_ORDER if state in present]

    def cups(self, state: StockState, owner_key: int) -> int:
        return self.cells.get((state, owner_key), 0)

    def state_total(self, state: StockState) -> int:
        return sum(q for (s, _), q in self.cells.items() if s is state)

    def owner_total(self, owner_key: int) -> int:
        return sum(q for (_, o), q in self.cells.items() if o == owner_key)

    @property
    def total(self) -> int:
        return sum(self.cells.values())

    def crates(self, cups: int) -> int:
        return crates(cups, self.cup_type.cups_per_crate)


def stock_overview(session: Session, organisation_id: int | None = None) -> list[CupTypeStock]:
    """Non-zero stock per cup type × state × owner, the pool first and then organisations by
    name; only one organisation's cups when ``organisation_id`` is given."""
    query = (
        select(
            StockBalance.cup_type_id,
            StockBalance.state,
            StockBalance.owner_key,
            func.sum(StockBalance.quantity),
        )
        .where(StockBalance.quantity > 0)
        .group_by(StockBalance.cup_type_id, StockBalance.state, StockBalance.owner_key)
    )
    if organisation_id is not None:
        query = query.where(StockBalance.owner_key == organisation_id)
    rows = session.execute(query).all()
    if not rows:
        return []
    cup_types = {
        cup.id: cup
        for cup in session.scalars(select(CupType).where(CupType.id.in_({row[0] for row in rows})))
    }
    organisations = _organisations(session, {row[2] for row in rows} - {POOL})
    result: dict[int, CupTypeStock] = {}
    for cup_type_id, state, owner_key, quantity in rows:
        stock = result.get(cup_type_id)
        if stock is None:
            stock = result[cup_type_id] = CupTypeStock(cup_types[cup_type_id], [])
        stock.cells[(state, owner_key)] = int(quantity)
    for stock in result.values():
        keys = {owner_key for _, owner_key in stock.cells}
        stock.owners = _owners(keys, organisations)
    return sorted(result.values(), key=lambda s: (s.cup_type.volume_ml, s.cup_type.code))


def _organisations(session: Session, ids: set[int]) -> dict[int, Organisation]:
    if not ids:
        return {}
    return {o.id: o for o in session.scalars(select(Organisation).where(Organisation.id.in_(ids)))}


def _owners(keys: set[int], organisations: dict[int, Organisation]) -> list[Owner]:
    owners = [Owner(POOL, None)] if POOL in keys else []
    others = sorted(
        (organisations[key] for key in keys if key != POOL), key=lambda o: (o.name, o.id)
    )
    return owners + [Owner(o.id, o) for o in others]


def stock_owners(session: Session) -> list[Organisation]:
    """Organisations that own cups in the ledger, by name (a balance row is kept for every
    owner the ledger ever booked, so the small balance table answers)."""
    ids = select(StockBalance.owner_id).where(StockBalance.owner_id.is_not(None)).distinct()
    return list(
        session.scalars(
            select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.name)
        )
    )


# --- places -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaceRow:
    """A location with the crates it holds now and its depth in the warehouse tree."""

    location: Location
    crates: int
    cups: int
    depth: int = 0
    crates_inside: int = 0  # in the places inside it, at any depth
    cups_inside: int = 0

    @property
    def percent(self) -> int | None:
        capacity = self.location.capacity_crates
        if not capacity:
            return None
        return round(100 * self.crates / capacity)


def crates_at(session: Session, location_ids: set[int]) -> dict[int, tuple[int, int]]:
    """(crates, cups) per location: crates per cup type and owner, rounded up, like the ledger's
    capacity check; all states together."""
    if not location_ids:
        return {}
    rows = session.execute(
        select(
            StockBalance.location_id,
            StockBalance.owner_key,
            CupType.cups_per_crate,
            func.sum(StockBalance.quantity),
        )
        .join(CupType, CupType.id == StockBalance.cup_type_id)
        .where(StockBalance.location_id.in_(location_ids), StockBalance.quantity > 0)
        .group_by(
            StockBalance.location_id,
            StockBalance.cup_type_id,
            StockBalance.owner_key,
            CupType.cups_per_crate,
        )
    )
    result: dict[int, tuple[int, int]] = {}
    for location_id, _owner, per_crate, cups in rows:
        held_crates, held_cups = result.get(location_id, (0, 0))
        result[location_id] = (held_crates + crates(int(cups), per_crate), held_cups + int(cups))
    return result


def storage_places(session: Session, *, kinds: set[LocationKind] | None = None) -> list[PlaceRow]:
    """The warehouse places as a tree (each parent followed by its children, by code)."""
    places = list(
        session.scalars(
            select(Location)
            .where(Location.kind.in_(kinds or STORAGE_KINDS), Location.active)
            .order_by(Location.code)
        )
    )
    return _tree(places, crates_at(session, {p.id for p in places}))


def _tree(places: list[Location], held: dict[int, tuple[int, int]]) -> list[PlaceRow]:
    ids = {p.id for p in places}
    children: dict[int | None, list[Location]] = defaultdict(list)
    for place in places:
        children[place.parent_id if place.parent_id in ids else None].append(place)
    rows: list[PlaceRow] = []

    def walk(parent_id: int | None, depth: int) -> tuple[int, int]:
        """Adds the rows under ``parent_id``; returns the crates and cups they hold."""
        total_crates = total_cups = 0
        for place in children[parent_id]:
            index = len(rows)
            rows.append(PlaceRow(place, 0, 0))
            crates_inside, cups_inside = walk(place.id, depth + 1)
            own_crates, own_cups = held.get(place.id, (0, 0))
            rows[index] = PlaceRow(place, own_crates, own_cups, depth, crates_inside, cups_inside)
            total_crates += own_crates + crates_inside
            total_cups += own_cups + cups_inside
        return total_crates, total_cups

    walk(None, 0)
    return rows


def virtual_places_with_stock(session: Session) -> list[PlaceRow]:
    """Event and loss places that hold cups now."""
    ids = select(StockBalance.location_id).where(StockBalance.quantity > 0)
    places = list(
        session.scalars(
            select(Location)
            .where(Location.kind.not_in(STORAGE_KINDS), Location.id.in_(ids))
            .order_by(Location.kind, Location.code)
        )
    )
    held = crates_at(session, {p.id for p in places})
    return [PlaceRow(p, *held.get(p.id, (0, 0))) for p in places]


@dataclass(frozen=True)
class PlaceBalance:
    cup_type: CupType
    owner: Organisation | None
    state: StockState
    quantity: int

    @property
    def crates(self) -> int:
        return crates(self.quantity, self.cup_type.cups_per_crate)


@dataclass(frozen=True)
class PlaceDetail:
    place: PlaceRow
    path: list[Location]
    children: list[PlaceRow]
    balances: list[PlaceBalance]


def place_detail(session: Session, location: Location) -> PlaceDetail:
    """A location's stock, its place in the tree and its children with the crates they and
    the places inside them hold."""
    below: list[Location] = []
    seen, parents = {location.id}, {location.id}
    while parents:  # one level of the tree at a time
        level = session.scalars(
            select(Location).where(
                Location.parent_id.in_(parents), Location.active, Location.id.not_in(seen)
            )
        ).all()
        below.extend(level)
        parents = {p.id for p in level}
        seen |= parents
    held = crates_at(session, {location.id, *(p.id for p in below)})
    return PlaceDetail(
        place=PlaceRow(location, *held.get(location.id, (0, 0))),
        path=_path(location),
        children=[row for row in _tree(below, held) if row.depth == 0],
        balances=place_balances(session, location.id),
    )


def _path(location: Location) -> list[Location]:
    path, seen = [], {location.id}
    parent = location.parent
    while parent is not None and parent.id not in seen:
        path.insert(0, parent)
        seen.add(parent.id)
        parent = parent.parent
    return path


def place_balances(session: Session, location_id: int) -> list[PlaceBalance]:
    rows = session.execute(
        select(StockBalance)
        .where(StockBalance.location_id == location_id, StockBalance.quantity > 0)
        .options(selectinload(StockBalance.cup_type))
    ).scalars()
    balances = list(rows)
    organisations = _organisations(session, {b.owner_id for b in balances if b.owner_id})
    result = [
        PlaceBalance(
            b.cup_type,
            organisations.get(b.owner_id) if b.owner_id else None,
            b.state,
            b.quantity,
        )
        for b in balances
    ]
    rank = {state: index for index, state in enumerate(STATE_ORDER)}
    return sorted(
        result,
        key=lambda b: (
            b.cup_type.volume_ml,
            b.cup_type.code,
            b.owner is not None,
            b.owner.name if b.owner else "",
            rank[b.state],
        ),
    )


# --- the ledger -------------------------------------------------------------------------


@dataclass(frozen=True)
class MovementFilter:
    """Each field narrows the movements; None leaves it open. ``state`` and ``location`` match
    either side of a movement; ``since`` is inclusive and ``until`` exclusive."""

    cup_type: str | None = None
    state: StockState | None = None
    location: str | None = None
    owner_key: int | None = None
    order_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def _filtered(query: Select, wanted: MovementFilter) -> Select:
    if wanted.cup_type is not None:
        query = query.where(
            StockMovement.cup_type_id.in_(select(CupType.id).where(CupType.code == wanted.cup_type))
        )
    if wanted.state is not None:
        query = query.where(
            or_(StockMovement.from_state == wanted.state, StockMovement.to_state == wanted.state)
        )
    if wanted.location is not None:
        place = select(Location.id).where(Location.code == wanted.location).scalar_subquery()
        query = query.where(
            or_(StockMovement.from_location_id == place, StockMovement.to_location_id == place)
        )
    if wanted.owner_key is not None:
        query = query.where(
            StockMovement.owner_id.is_(None)
            if wanted.owner_key == POOL
            else StockMovement.owner_id == wanted.owner_key
        )
    if wanted.order_id is not None:
        query = query.where(StockMovement.order_id == wanted.order_id)
    if wanted.since is not None:
        query = query.where(StockMovement.at >= wanted.since)
    if wanted.until is not None:
        query = query.where(StockMovement.at < wanted.until)
    return query


def count_movements(session: Session, wanted: MovementFilter) -> int:
    query = _filtered(select(func.count()).select_from(StockMovement), wanted)
    return int(session.scalar(query) or 0)


def find_movements(
    session: Session, wanted: MovementFilter, *, offset: int = 0, limit: int | None = 50
) -> list[StockMovement]:
    """Movements newest first, with what a list shows loaded in a few queries."""
    query = (
        _filtered(select(StockMovement), wanted)
        .order_by(StockMovement.at.desc(), StockMovement.id.desc())
        .offset(offset)
        .limit(limit)
        .options(
            selectinload(StockMovement.cup_type),
            selectinload(StockMovement.owner),
            selectinload(StockMovement.from_location),
            selectinload(StockMovement.to_location),
            selectinload(StockMovement.order),
            selectinload(StockMovement.user),
        )
    )
    return list(session.scalars(query))
