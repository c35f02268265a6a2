"""Reading stock for the office and the API: balances by owner, the ledger filtered and paged,
and the warehouse places cups can be received into. Reading only; nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from wash_ops.catalogue.models import CupType
from wash_ops.errors import N_, InvalidInput, Problems
from wash_ops.inventory.ledger import Balance, balances
from wash_ops.inventory.locations import location_by_code
from wash_ops.inventory.models import (
    POOL,
    STORAGE_KINDS,
    Location,
    StockMovement,
    StockState,
)
from wash_ops.inventory.queries import MovementFilter, count_movements, find_movements

MAX_PAGE = 500
POOL_OWNER = "pool"


@dataclass(frozen=True)
class MovementPage:
    total: int
    limit: int
    offset: int
    items: list[StockMovement]


def stock_balances(
    session: Session,
    *,
    cup_type: str | None = None,
    state: StockState | None = None,
    location: str | None = None,
    owner: str | int | None = None,
) -> list[Balance]:
    """Non-zero balances; ``owner`` is "pool" or an organisation id. An unknown cup type or
    location is an input error rather than an empty answer."""
    problems = Problems()
    cup = _cup_type(session, cup_type, problems)
    place = _location(session, location, problems)
    owner_key = _owner_key(owner, problems)
    problems.raise_if_any()
    return balances(session, cup_type=cup, state=state, location=place, owner_key=owner_key)


def stock_movements(
    session: Session,
    *,
    cup_type: str | None = None,
    state: StockState | None = None,
    location: str | None = None,
    order_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> MovementPage:
    """Ledger lines, newest first. ``state`` and ``location`` match either side of a movement;
    ``since`` is inclusive and ``until`` exclusive."""
    problems = Problems()
    cup = _cup_type(session, cup_type, problems)
    place = _location(session, location, problems)
    if since is not None and until is not None and until <= since:
        problems.add("until", N_("The end of the period must come after its start."))
    if not 1 <= limit <= MAX_PAGE:
        problems.add("limit", N_("Ask for 1 to %(count)s movements at a time."), count=MAX_PAGE)
    if offset < 0:
        problems.add("offset", N_("The offset cannot be negative."))
    problems.raise_if_any()
    wanted = MovementFilter(
        cup_type=cup.code if cup is not None else None,
        state=state,
        location=place.code if place is not None else None,
        order_id=order_id,
        since=since,
        until=until,
    )
    items = find_movements(session, wanted, offset=offset, limit=limit)
    return MovementPage(count_movements(session, wanted), limit, offset, items)


def storage_places(session: Session) -> list[Location]:
    """Warehouse places in use, by code: where received cups can go."""
    return list(
        session.scalars(
            select(Location)
            .where(Location.kind.in_(STORAGE_KINDS), Location.active)
            .order_by(Location.code)
        )
    )


def _cup_type(session: Session, code: str | None, problems: Problems) -> CupType | None:
    if code is None:
        return None
    cup = session.scalar(select(CupType).where(CupType.code == code))
    if cup is None:
        problems.add("cup_type", N_("Unknown cup type: %(code)s."), code=code)
    return cup


def _location(session: Session, code: str | None, problems: Problems) -> Location | None:
    if code is None:
        return None
    try:
        return location_by_code(session, code)
    except InvalidInput:
        problems.add("location", N_("Unknown location: %(code)s."), code=code)
        return None


def _owner_key(owner: str | int | None, problems: Problems) -> int | None:
    if owner is None:
        return None
    if owner == POOL_OWNER:
        return POOL
    if isinstance(owner, int) and not isinstance(owner, bool) and owner > 0:
        return owner
    if isinstance(owner, str) and owner.isdigit() and int(owner) > 0:
        return int(owner)
    problems.add("owner", N_('The owner is "pool" or an organisation number.'))
    return None
