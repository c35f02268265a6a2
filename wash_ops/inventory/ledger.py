"""The stock ledger: every change of stock is a movement, booked here and nowhere else.

``book_movements`` writes one or more movement lines as a whole: it locks the balance rows it
touches (``SELECT ... FOR UPDATE``; SQLite serialises writers itself), refuses the whole booking
when any balance would go negative or any place would exceed its crate capacity, and otherwise
appends the movements and updates the balances in the same transaction. It flushes and never
commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, literal, or_, select, union_all, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from wash_ops.accounts.models import Organisation, User
from wash_ops.catalogue.models import CupType
from wash_ops.db import utcnow
from wash_ops.errors import N_, Conflict, InvalidInput, Problem, Problems
from wash_ops.inventory.locations import cups_by_key, is_whole, location_by_code
from wash_ops.inventory.models import (
    POOL,
    STORAGE_KINDS,
    Location,
    StockBalance,
    StockMovement,
    StockState,
)
from wash_ops.orders.models import Order

MAX_REASON = 200


@dataclass(frozen=True)
class MovementLine:
    """One line of a booking. Cup types and locations by object or by code; no from side means
    the cups come from outside the system."""

    cup_type: CupType | str
    quantity: int
    to_state: StockState
    to_location: Location | str
    from_state: StockState | None = None
    from_location: Location | str | None = None
    owner_id: int | None = None


@dataclass(frozen=True)
class Shortage:
    cup_type: str
    state: StockState
    location: str
    available: int
    requested: int


class InsufficientStock(Conflict):
    """A booking would take more cups from a place than it holds; nothing was written."""

    def __init__(self, shortages: list[Shortage]) -> None:
        message = N_(
            "Only %(available)s %(cup_type)s cups are %(state)s at %(location)s; "
            "%(requested)s cannot be moved."
        )
        first = shortages[0]
        super().__init__(message, "quantity", **_params(first))
        self.problems = [Problem("quantity", message, _params(s)) for s in shortages]
        self.shortages = shortages


class OverCapacity(Conflict):
    """A booking would put more crates in a place than it holds; nothing was written."""

    def __init__(self, location: Location, crates: int) -> None:
        super().__init__(
            N_("%(location)s holds %(capacity)s crates; after this move it would hold %(crates)s."),
            "to_location",
            location=location.code,
            capacity=location.capacity_crates,
            crates=crates,
        )
        self.location_code = location.code
        self.crates = crates


def _params(shortage: Shortage) -> dict[str, object]:
    return {
        "available": shortage.available,
        "cup_type": shortage.cup_type,
        "state": shortage.state,
        "location": shortage.location,
        "requested": shortage.requested,
    }


@dataclass(frozen=True)
class _Line:
    cup_type: CupType
    quantity: int
    owner_id: int | None
    from_state: StockState | None
    from_location: Location | None
    to_state: StockState
    to_location: Location

    @property
    def owner_key(self) -> int:
        return POOL if self.owner_id is None else self.owner_id

    def from_key(self) -> tuple[int, int, StockState, int] | None:
        if self.from_state is None or self.from_location is None:
            return None
        return (self.cup_type.id, self.owner_key, self.from_state, self.from_location.id)

    def to_key(self) -> tuple[int, int, StockState, int]:
        return (self.cup_type.id, self.owner_key, self.to_state, self.to_location.id)


# --- booking ----------------------------------------------------------------------------


def book_movements(
    session: Session,
    lines: Sequence[MovementLine],
    *,
    reason: str,
    user: User | None = None,
    order: Order | None = None,
    at: datetime | None = None,
    check_capacity: bool = True,
) -> list[StockMovement]:
    """Book all lines or none. Bad input raises ``InvalidInput``; a negative balance
    ``InsufficientStock``; a place over its crate capacity ``OverCapacity``."""
    resolved = _resolve(session, lines, reason)
    _lock_locations(session, resolved, check_capacity)
    _take(session, resolved)
    if check_capacity:
        _check_capacity(session, resolved)
    return _write(session, resolved, reason.strip(), user, order, at or utcnow())


def move_stock(
    session: Session,
    *,
    cup_type: CupType | str,
    quantity: int,
    from_state: StockState | None,
    from_location: Location | str | None,
    to_state: StockState,
    to_location: Location | str,
    reason: str,
    owner_id: int | None = None,
    order: Order | None = None,
    user: User | None = None,
    at: datetime | None = None,
) -> StockMovement:
    line = MovementLine(
        cup_type=cup_type,
        quantity=quantity,
        from_state=from_state,
        from_location=from_location,
        to_state=to_state,
        to_location=to_location,
        owner_id=owner_id,
    )
    return book_movements(session, [line], reason=reason, user=user, order=order, at=at)[0]


def receive_into_stock(
    session: Session,
    *,
    cup_type: CupType | str,
    quantity: int,
    location: Location | str,
    reason: str,
    state: StockState = StockState.CLEAN_AVAILABLE,
    owner_id: int | None = None,
    user: User | None = None,
    at: datetime | None = None,
) -> StockMovement:
    """Cups entering the system from outside (new pool cups, a customer's own cups)."""
    return move_stock(
        session,
        cup_type=cup_type,
        quantity=quantity,
        from_state=None,
        from_location=None,
        to_state=state,
        to_location=location,
        reason=reason,
        owner_id=owner_id,
        user=user,
        at=at,
    )


def put_away(
    session: Session,
    *,
    cup_type: CupType | str,
    quantity: int,
    from_location: Location | str,
    to_location: Location | str,
    state: StockState = StockState.CLEAN_AVAILABLE,
    owner_id: int | None = None,
    user: User | None = None,
    at: datetime | None = None,
    reason: str = "put away",
) -> StockMovement:
    """Move cups between warehouse places without changing their state."""
    target = _location(session, to_location, Problems(), "to_location")
    if target is not None and target.kind not in STORAGE_KINDS:
        raise InvalidInput(
            N_("Cups can only be put away in a warehouse place, not in %(location)s."),
            "to_location",
            location=target.code,
        )
    return move_stock(
        session,
        cup_type=cup_type,
        quantity=quantity,
        from_state=state,
        from_location=from_location,
        to_state=state,
        to_location=to_location,
        reason=reason,
        owner_id=owner_id,
        user=user,
        at=at,
    )


# --- the steps of a booking -------------------------------------------------------------


def _resolve(session: Session, lines: Sequence[MovementLine], reason: str) -> list[_Line]:
    problems = Problems()
    if not lines:
        problems.add("lines", N_("A movement needs at least one line."))
    reason = reason.strip()
    if not reason:
        problems.add("reason", N_("Give a reason."))
    elif len(reason) > MAX_REASON:
        problems.add("reason", N_("Keep the reason under %(count)s characters."), count=MAX_REASON)
    resolved = []
    for index, line in enumerate(lines):
        field = f"lines.{index}"
        cup_type = _cup_type(session, line.cup_type, problems, f"{field}.cup_type")
        if not is_whole(line.quantity) or line.quantity <= 0:
            problems.add(f"{field}.quantity", N_("Enter a whole number of cups greater than zero."))
        if line.owner_id is not None and session.get(Organisation, line.owner_id) is None:
            problems.add(f"{field}.owner", N_("Unknown owner."))
        to_location = _location(session, line.to_location, problems, f"{field}.to_location")
        from_location = None
        if (line.from_state is None) != (line.from_location is None):
            problems.add(
                f"{field}.from_location",
                N_("Give both the state and the place the cups come from."),
            )
        elif line.from_location is not None:
            from_location = _location(
                session, line.from_location, problems, f"{field}.from_location"
            )
        if (
            from_location is not None
            and from_location is to_location
            and line.from_state == line.to_state
        ):
            problems.add(field, N_("A movement must change the state or the place of the cups."))
        if cup_type is not None and to_location is not None:
            resolved.append(
                _Line(
                    cup_type,
                    line.quantity,
                    line.owner_id,
                    line.from_state,
                    from_location,
                    line.to_state,
                    to_location,
                )
            )
    problems.raise_if_any()
    return resolved


def _cup_type(
    session: Session, value: CupType | str, problems: Problems, field: str
) -> CupType | None:
    if isinstance(value, CupType):
        return value
    cup_type = session.scalar(select(CupType).where(CupType.code == value))
    if cup_type is None:
        problems.add(field, N_("Unknown cup type: %(code)s."), code=value)
    return cup_type


def _location(
    session: Session, value: Location | str, problems: Problems, field: str
) -> Location | None:
    if isinstance(value, Location):
        location = value
    else:
        try:
            location = location_by_code(session, value)
        except InvalidInput:
            problems.add(field, N_("Unknown location: %(code)s."), code=value)
            return None
    if not location.active:
        problems.add(field, N_("Location %(code)s is not in use."), code=location.code)
    return location


def _lock_locations(session: Session, lines: list[_Line], check_capacity: bool) -> None:
    """Serialise bookings into capacity-limited places so two cannot both fill the last crate."""
    ids = sorted(
        {line.to_location.id for line in lines if line.to_location.capacity_crates is not None}
    )
    if check_capacity and ids:
        session.execute(
            select(Location.id).where(Location.id.in_(ids)).order_by(Location.id).with_for_update()
        )


def _take(session: Session, lines: list[_Line]) -> None:
    """Lock the balances the booking touches (in id order, against deadlocks) and refuse it
    whole when a from side does not hold enough cups."""
    wanted: dict[tuple[int, int, StockState, int], int] = defaultdict(int)
    for line in lines:
        key = line.from_key()
        if key is not None:
            wanted[key] += line.quantity
    keys = set(wanted) | {line.to_key() for line in lines}
    held: dict[tuple[int, int, StockState, int], int] = {}
    if keys:
        rows = session.execute(
            select(
                StockBalance.cup_type_id,
                StockBalance.owner_key,
                StockBalance.state,
                StockBalance.location_id,
                StockBalance.quantity,
            )
            .where(_keys_match(keys))
            .order_by(StockBalance.id)
            .with_for_update()
        )
        held = {(c, o, s, loc): quantity for c, o, s, loc, quantity in rows}
    by_key = {line.from_key(): line for line in lines}
    shortages = [
        Shortage(
            cup_type=by_key[key].cup_type.code,
            state=key[2],
            location=by_key[key].from_location.code,  # type: ignore[union-attr]
            available=held.get(key, 0),
            requested=quantity,
        )
        for key, quantity in wanted.items()
        if held.get(key, 0) < quantity
    ]
    if shortages:
        raise InsufficientStock(shortages)


def _keys_match(keys: set[tuple[int, int, StockState, int]]):
    return or_(
        *(
            and_(
                StockBalance.cup_type_id == cup_type_id,
                StockBalance.owner_key == owner_key,
                StockBalance.state == state,
                StockBalance.location_id == location_id,
            )
            for cup_type_id, owner_key, state, location_id in sorted(keys)
        )
    )


def _check_capacity(session: Session, lines: list[_Line]) -> None:
    """Places that gain cups must still hold them in whole crates per cup type and owner."""
    change: dict[int, dict[tuple[int, int], int]] = defaultdict(lambda: defaultdict(int))
    for line in lines:
        if line.from_location is line.to_location:
            continue
        change[line.to_location.id][(line.cup_type.id, line.owner_key)] += line.quantity
        if line.from_location is not None:
            change[line.from_location.id][(line.cup_type.id, line.owner_key)] -= line.quantity
    per_crate = {line.cup_type.id: line.cup_type.cups_per_crate for line in lines}
    places = {line.to_location.id: line.to_location for line in lines}
    for place_id, place in sorted(places.items()):
        if place.capacity_crates is None or not any(v > 0 for v in change[place_id].values()):
            continue
        cups = defaultdict(int, cups_by_key(session, place_id))
        for key, delta in change[place_id].items():
            cups[key] += delta
        per_crate.update(_cups_per_crate(session, {key[0] for key in cups} - set(per_crate)))
        crates = sum(-(-count // per_crate[key[0]]) for key, count in cups.items() if count > 0)
        if crates > place.capacity_crates:
            raise OverCapacity(place, crates)


def _cups_per_crate(session: Session, ids: set[int]) -> dict[int, int]:
    if not ids:
        return {}
    return dict(
        session.execute(select(CupType.id, CupType.cups_per_crate).where(CupType.id.in_(ids))).all()
    )


def _write(
    session: Session,
    lines: list[_Line],
    reason: str,
    user: User | None,
    order: Order | None,
    at: datetime,
) -> list[StockMovement]:
    for line in lines:
        key = line.from_key()
        if key is not None:
            session.execute(
                update(StockBalance)
                .where(_keys_match({key}))
                .values(quantity=StockBalance.quantity - line.quantity)
            )
        _add_to_balance(session, line)
    movements = [
        StockMovement(
            cup_type_id=line.cup_type.id,
            owner_id=line.owner_id,
            quantity=line.quantity,
            from_state=line.from_state,
            from_location_id=line.from_location.id if line.from_location else None,
            to_state=line.to_state,
            to_location_id=line.to_location.id,
            reason=reason,
            order_id=order.id if order is not None else None,
            user_id=user.id if user is not None else None,
            at=at,
        )
        for line in lines
    ]
    session.add_all(movements)
    session.flush()
    return movements


def _add_to_balance(session: Session, line: _Line) -> None:
    """Insert the balance row or add to it, in one statement that is safe under concurrency."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(StockBalance).values(
        cup_type_id=line.cup_type.id,
        owner_id=line.owner_id,
        owner_key=line.owner_key,
        state=line.to_state,
        location_id=line.to_location.id,
        quantity=line.quantity,
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["cup_type_id", "owner_key", "state", "location_id"],
            set_={"quantity": StockBalance.quantity + statement.excluded.quantity},
        )
    )


# --- reading and checking ---------------------------------------------------------------


@dataclass(frozen=True)
class Balance:
    cup_type: str
    owner_id: int | None
    state: StockState
    location: str
    quantity: int


def balances(
    session: Session,
    *,
    cup_type: CupType | str | None = None,
    state: StockState | None = None,
    location: Location | str | None = None,
    owner_key: int | None = None,
) -> list[Balance]:
    """Non-zero balances, optionally for one cup type, state, location or owner (POOL or an
    organisation id)."""
    query = (
        select(
            CupType.code,
            StockBalance.owner_id,
            StockBalance.state,
            Location.code,
            StockBalance.quantity,
        )
        .join(CupType, CupType.id == StockBalance.cup_type_id)
        .join(Location, Location.id == StockBalance.location_id)
        .where(StockBalance.quantity > 0)
        .order_by(CupType.code, Location.code, StockBalance.state, StockBalance.owner_key)
    )
    if cup_type is not None:
        query = query.where(
            CupType.code == (cup_type.code if isinstance(cup_type, CupType) else cup_type)
        )
    if state is not None:
        query = query.where(StockBalance.state == state)
    if location is not None:
        query = query.where(
            Location.code == (location.code if isinstance(location, Location) else location)
        )
    if owner_key is not None:
        query = query.where(StockBalance.owner_key == owner_key)
    return [Balance(*row) for row in session.execute(query)]


def verify_ledger(session: Session) -> list[str]:
    """Differences between the balance table and the sum of the ledger; [] when they agree."""
    owner_key = func.coalesce(StockMovement.owner_id, literal(POOL))
    into = select(
        StockMovement.cup_type_id.label("cup_type_id"),
        owner_key.label("owner_key"),
        StockMovement.to_state.label("state"),
        StockMovement.to_location_id.label("location_id"),
        StockMovement.quantity.label("delta"),
    )
    out_of = select(
        StockMovement.cup_type_id,
        owner_key,
        StockMovement.from_state,
        StockMovement.from_location_id,
        -StockMovement.quantity,
    ).where(StockMovement.from_location_id.is_not(None))
    flows = union_all(into, out_of).subquery()
    ledger = {
        (row.cup_type_id, row.owner_key, StockState(row.state), row.location_id): int(row.total)
        for row in session.execute(
            select(
                flows.c.cup_type_id,
                flows.c.owner_key,
                flows.c.state,
                flows.c.location_id,
                func.sum(flows.c.delta).label("total"),
            ).group_by(flows.c.cup_type_id, flows.c.owner_key, flows.c.state, flows.c.location_id)
        )
    }
    table = {
        (row.cup_type_id, row.owner_key, row.state, row.location_id): row.quantity
        for row in session.execute(
            select(StockBalance).execution_options(populate_existing=True)
        ).scalars()
    }
    codes = dict(session.execute(select(CupType.id, CupType.code)).all())
    places = dict(session.execute(select(Location.id, Location.code)).all())
    differences = []
    for key in sorted(set(ledger) | set(table)):
        booked, held = ledger.get(key, 0), table.get(key, 0)
        if booked != held:
            cup_type_id, owner, state, location_id = key
            differences.append(
                f"{codes[cup_type_id]} owner {owner or 'pool'} {state} at {places[location_id]}:"
                f" balance {held}, ledger {booked}"
            )
    return differences
