"""Reserving pool cups for rental orders, and giving them back.

A reservation turns clean pool cups into reserved ones where they stand (the cups do not move),
booked in the ledger with the order. What an order holds is read back from the ledger: the
movements that carry the order, into and out of the states of a rental's journey.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wash_ops.accounts.models import User
from wash_ops.catalogue.models import CupType
from wash_ops.errors import N_, Conflict, Forbidden, Problem
from wash_ops.inventory.ledger import MovementLine, book_movements
from wash_ops.inventory.models import (
    POOL,
    STORAGE_KINDS,
    Location,
    StockBalance,
    StockMovement,
    StockState,
)
from wash_ops.orders.models import Order, OrderStatus, Service

# The states of a rental's journey: the cups are out of the clean pool but will come back.
OUT_STATES = frozenset(
    {
        StockState.RESERVED,
        StockState.LOADED,
        StockState.AT_EVENT,
        StockState.DIRTY_IN_TRANSIT,
        StockState.RECEIVED_DIRTY,
        StockState.ON_LINE,
    }
)
RESERVABLE = frozenset({OrderStatus.SUBMITTED, OrderStatus.CONFIRMED})


@dataclass(frozen=True)
class Missing:
    cup_type: str
    needed: int
    available: int

    @property
    def short(self) -> int:
        return self.needed - self.available


class ReservationShortfall(Conflict):
    """Not enough clean pool cups for the order; nothing was reserved."""

    message = N_(
        "Not enough clean %(cup_type)s cups: %(needed)s needed, %(available)s available, "
        "%(short)s short."
    )

    def __init__(self, missing: list[Missing]) -> None:
        super().__init__(self.message, "quantities", **_params(missing[0]))
        self.problems = [Problem("quantities", self.message, _params(m)) for m in missing]
        self.shortfall = {m.cup_type: m.short for m in missing}


def _params(missing: Missing) -> dict[str, object]:
    return {
        "cup_type": missing.cup_type,
        "needed": missing.needed,
        "available": missing.available,
        "short": missing.short,
    }


def reserve_for_order(
    session: Session, order: Order, user: User, at: datetime | None = None
) -> list[StockMovement]:
    """Reserve what the order still lacks, per cup type, from clean pool cups in any warehouse
    place; all of it or nothing (``ReservationShortfall`` names the shortfall per cup type)."""
    _require_office(user)
    if order.service is not Service.RENT_AND_WASH:
        raise Conflict(N_("Only rental orders reserve pool cups."))
    _lock_order(session, order)
    if order.status not in RESERVABLE:
        raise Conflict(N_("A %(status)s order cannot reserve cups."), status=order.status)
    held = cups_out(session, order)
    needed = {
        line.cup_type: line.quantity - held.get(line.cup_type_id, 0)
        for line in order.lines
        if line.quantity > held.get(line.cup_type_id, 0)
    }
    if not needed:
        return []
    rows = session.execute(
        select(StockBalance.cup_type_id, StockBalance.location_id, StockBalance.quantity)
        .where(
            StockBalance.cup_type_id.in_(cup_type.id for cup_type in needed),
            StockBalance.owner_key == POOL,
            StockBalance.state == StockState.CLEAN_AVAILABLE,
            StockBalance.quantity > 0,
            StockBalance.location_id.in_(
                select(Location.id).where(Location.kind.in_(STORAGE_KINDS))
            ),
        )
        .order_by(StockBalance.id)
        .with_for_update()
    ).all()
    available: dict[int, int] = defaultdict(int)
    for row in rows:
        available[row.cup_type_id] += row.quantity
    missing = [
        Missing(cup_type.code, quantity, available[cup_type.id])
        for cup_type, quantity in sorted(needed.items(), key=lambda item: item[0].code)
        if available[cup_type.id] < quantity
    ]
    if missing:
        raise ReservationShortfall(missing)
    lines = []
    for cup_type, quantity in needed.items():
        for row in rows:
            if quantity == 0:
                break
            if row.cup_type_id != cup_type.id:
                continue
            take = min(quantity, row.quantity)
            location = session.get_one(Location, row.location_id)
            lines.append(
                _line(cup_type, take, StockState.CLEAN_AVAILABLE, StockState.RESERVED, location)
            )
            quantity -= take
    return book_movements(
        session,
        lines,
        reason=f"reserved for {order.reference}",
        user=user,
        order=order,
        at=at,
        check_capacity=False,
    )


def release_reservation(
    session: Session, order: Order, user: User, at: datetime | None = None
) -> list[StockMovement]:
    """Give the order's reserved cups back to the clean pool where they stand."""
    _require_office(user)
    return release_for_cancellation(session, order, user, at)


def release_for_cancellation(
    session: Session, order: Order, user: User, at: datetime | None = None
) -> list[StockMovement]:
    """The release that cancelling an order implies (the cancellation checked who may do it):
    reserved and loaded cups go back to the clean pool where they stand."""
    _lock_order(session, order)
    lines = [
        _line(
            order_line.cup_type,
            quantity,
            state,
            StockState.CLEAN_AVAILABLE,
            session.get_one(Location, location_id),
        )
        for state in (StockState.RESERVED, StockState.LOADED)
        for order_line in order.lines
        for (cup_type_id, location_id), quantity in sorted(
            reserved_by_place(session, order, state).items()
        )
        if cup_type_id == order_line.cup_type_id and quantity > 0
    ]
    if not lines:
        return []
    return book_movements(
        session,
        lines,
        reason=f"reservation released for {order.reference}",
        user=user,
        order=order,
        at=at,
        check_capacity=False,
    )


def cups_out(session: Session, order: Order) -> dict[int, int]:
    """Pool cups per cup type id the order holds in the states of its journey."""
    return {
        cup_type_id: quantity
        for (order_id, cup_type_id), quantity in cups_out_by_order(session, [order.id]).items()
    }


def cups_out_by_order(
    session: Session, order_ids: list[int] | None = None, cup_type_id: int | None = None
) -> dict[tuple[int, int], int]:
    """Pool cups per (order id, cup type id) held in the journey's states, from the ledger."""
    totals: dict[tuple[int, int], int] = defaultdict(int)
    for side_state, sign in ((StockMovement.to_state, 1), (StockMovement.from_state, -1)):
        query = (
            select(
                StockMovement.order_id, StockMovement.cup_type_id, func.sum(StockMovement.quantity)
            )
            .where(
                StockMovement.order_id.is_not(None),
                StockMovement.owner_id.is_(None),
                side_state.in_(OUT_STATES),
            )
            .group_by(StockMovement.order_id, StockMovement.cup_type_id)
        )
        if order_ids is not None:
            query = query.where(StockMovement.order_id.in_(order_ids))
        if cup_type_id is not None:
            query = query.where(StockMovement.cup_type_id == cup_type_id)
        for order_id, held_type_id, quantity in session.execute(query):
            totals[(order_id, held_type_id)] += sign * int(quantity)
    return {key: quantity for key, quantity in totals.items() if quantity > 0}


def reserved_by_place(
    session: Session, order: Order, state: StockState = StockState.RESERVED
) -> dict[tuple[int, int], int]:
    """Pool cups the order holds in ``state`` per (cup type id, location id), from the ledger."""
    totals: dict[tuple[int, int], int] = defaultdict(int)
    sides = (
        (StockMovement.to_state, StockMovement.to_location_id, 1),
        (StockMovement.from_state, StockMovement.from_location_id, -1),
    )
    for state_column, location, sign in sides:
        rows = session.execute(
            select(StockMovement.cup_type_id, location, func.sum(StockMovement.quantity))
            .where(
                StockMovement.order_id == order.id,
                StockMovement.owner_id.is_(None),
                state_column == state,
            )
            .group_by(StockMovement.cup_type_id, location)
        )
        for cup_type_id, location_id, quantity in rows:
            totals[(cup_type_id, location_id)] += sign * int(quantity)
    return dict(totals)


def _line(
    cup_type: CupType,
    quantity: int,
    from_state: StockState,
    to_state: StockState,
    location: Location,
) -> MovementLine:
    return MovementLine(
        cup_type=cup_type,
        quantity=quantity,
        from_state=from_state,
        from_location=location,
        to_state=to_state,
        to_location=location,
    )


def _lock_order(session: Session, order: Order) -> None:
    """One reservation per order at a time; re-reads the status under the lock."""
    session.execute(select(Order.id).where(Order.id == order.id).with_for_update())
    session.refresh(order, ["status"])


def _require_office(user: User) -> None:
    if not user.is_office:
        raise Forbidden(N_("Only the office can do this."))
