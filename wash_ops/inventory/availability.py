"""Clean pool cups available by date, per cup type (available-to-promise).

The rule, in the site's local days:

1. Start from the clean pool cups in warehouse places now (``clean_available``, owner pool).
2. Cups a rental order holds on its journey (reserved, loaded, at the event, dirty in transit,
   received dirty, on the line — read from the ledger by order) come back clean on the day
   *after* ``max(pickup_end, now) + orders.turnaround_hours``. Pool cups in those states that no
   order holds come back on the day after ``now + turnaround``.
3. A confirmed rental order that has not yet reserved (all of) its cups takes the missing cups
   on the local day its delivery starts, and gives them back as in 2.
4. The projected clean stock on day *t* is the stock of step 1 plus the changes of steps 2 and 3
   dated on or before *t*.
   What can still be promised for delivery on day *d* is the lowest projected stock from *d* on
   (an order delivered on *d* keeps its cups for an unknown time, so it must not take cups a
   later commitment needs). Below zero shows as 0: the stock is already overcommitted.

Submitted orders that have not reserved count for nothing; quarantined, lost and broken cups
and customers' own cups are never available.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from wash_ops.catalogue.models import CupType
from wash_ops.config import Settings
from wash_ops.db import utcnow
from wash_ops.errors import N_, InvalidInput
from wash_ops.inventory.locations import is_whole
from wash_ops.inventory.models import POOL, STORAGE_KINDS, Location, StockBalance, StockState
from wash_ops.inventory.reservations import OUT_STATES, cups_out_by_order
from wash_ops.orders.models import Order, OrderLine, OrderStatus, Service

MAX_DAYS = 366


def availability(
    session: Session,
    settings: Settings,
    cup_type: CupType | str,
    first_day: date,
    days: int,
    now: datetime | None = None,
) -> list[tuple[date, int]]:
    """Clean pool cups of ``cup_type`` that can be promised for each of ``days`` days."""
    cup = _cup_type(session, cup_type)
    if not is_whole(days) or not 1 <= days <= MAX_DAYS:
        raise InvalidInput(N_("Ask for 1 to %(count)s days."), "days", count=MAX_DAYS)
    now = now or utcnow()
    start = clean_pool_now(session, cup.id)
    changes = _changes(session, settings, cup.id, now)
    return _lowest_from_each_day(start, changes, first_day, days)


def _lowest_from_each_day(
    start: int, changes: dict[date, int], first_day: date, days: int
) -> list[tuple[date, int]]:
    """For each day, the lowest projected stock from that day on (running totals, then the
    minimum over every later change day), shown as 0 when negative."""
    change_days = sorted(changes)
    projected = []
    running = start
    for day in change_days:
        running += changes[day]
        projected.append(running)
    lowest_after = [0] * len(projected)
    floor = None
    for index in range(len(projected) - 1, -1, -1):
        floor = projected[index] if floor is None else min(floor, projected[index])
        lowest_after[index] = floor
    result = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        done = bisect_right(change_days, day)
        level = projected[done - 1] if done else start
        lowest = min(level, lowest_after[done]) if done < len(projected) else level
        result.append((day, max(0, lowest)))
    return result


def clean_pool_now(session: Session, cup_type_id: int) -> int:
    return int(
        session.scalar(
            select(func.coalesce(func.sum(StockBalance.quantity), 0)).where(
                StockBalance.cup_type_id == cup_type_id,
                StockBalance.owner_key == POOL,
                StockBalance.state == StockState.CLEAN_AVAILABLE,
                StockBalance.location_id.in_(
                    select(Location.id).where(Location.kind.in_(STORAGE_KINDS))
                ),
            )
        )
    )


def _changes(
    session: Session, settings: Settings, cup_type_id: int, now: datetime
) -> dict[date, int]:
    turnaround = timedelta(hours=settings.orders.turnaround_hours)

    def back_on(pickup_end: datetime) -> date:
        return _local_day(settings, max(pickup_end, now) + turnaround) + timedelta(days=1)

    changes: dict[date, int] = defaultdict(int)
    held, pickup_ends = _held_by_open_orders(session, cup_type_id, now)
    for order_id, quantity in held.items():
        changes[back_on(pickup_ends[order_id])] += quantity
    confirmed = session.execute(
        select(Order, OrderLine.quantity)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(
            Order.status == OrderStatus.CONFIRMED,
            Order.service == Service.RENT_AND_WASH,
            OrderLine.cup_type_id == cup_type_id,
        )
    )
    for order, quantity in confirmed:
        unreserved = quantity - held.get(order.id, 0)
        if unreserved > 0:
            changes[_local_day(settings, order.delivery_start)] -= unreserved
            changes[back_on(order.pickup_end)] += unreserved
    out_total = session.scalar(
        select(func.coalesce(func.sum(StockBalance.quantity), 0)).where(
            StockBalance.cup_type_id == cup_type_id,
            StockBalance.owner_key == POOL,
            StockBalance.state.in_(OUT_STATES),
        )
    )
    unattributed = int(out_total) - sum(held.values())
    if unattributed > 0:
        changes[back_on(now)] += unattributed
    return changes


def _held_by_open_orders(
    session: Session, cup_type_id: int, now: datetime
) -> tuple[dict[int, int], dict[int, datetime]]:
    """Cups of this type held by orders whose pickup is still ahead or that are confirmed.

    An order whose pickup has passed gets its cups back on the same day as cups no order holds
    (now + turnaround), so it needs no reading of its own: the ledger is only read for the
    orders that still matter, through the (order, cup type) index.
    """
    open_orders = dict(
        session.execute(
            select(Order.id, Order.pickup_end)
            .join(OrderLine, OrderLine.order_id == Order.id)
            .where(
                OrderLine.cup_type_id == cup_type_id,
                Order.service == Service.RENT_AND_WASH,
                or_(Order.pickup_end > now, Order.status == OrderStatus.CONFIRMED),
            )
        ).all()
    )
    if not open_orders:
        return {}, {}
    held = {
        order_id: quantity
        for (order_id, held_type), quantity in cups_out_by_order(
            session, list(open_orders), cup_type_id
        ).items()
        if held_type == cup_type_id
    }
    return held, open_orders


def _local_day(settings: Settings, moment: datetime) -> date:
    return moment.astimezone(settings.zone).date()


def _cup_type(session: Session, value: CupType | str) -> CupType:
    if isinstance(value, CupType):
        return value
    cup = session.scalar(select(CupType).where(CupType.code == value))
    if cup is None:
        raise InvalidInput(N_("Unknown cup type: %(code)s."), "cup_type", code=value)
    return cup
