"""Whether the pool can supply an order's rental cups on its delivery day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from wash_ops.catalogue.models import CupType
from wash_ops.config import Settings
from wash_ops.inventory.availability import availability
from wash_ops.orders.models import Order, OrderStatus, Service


@dataclass(frozen=True)
class PoolCheck:
    cup_type: CupType
    requested: int
    available: int
    day: date

    @property
    def enough(self) -> bool:
        return self.available >= self.requested


def pool_check(
    session: Session, settings: Settings, order: Order, now: datetime
) -> list[PoolCheck]:
    """For a rental order not yet confirmed: clean pool cups that can be promised on its
    delivery day, per cup type (empty for other orders)."""
    if order.service is not Service.RENT_AND_WASH or order.status not in (
        OrderStatus.DRAFT,
        OrderStatus.SUBMITTED,
    ):
        return []
    day = order.delivery_start.astimezone(settings.zone).date()
    checks = []
    for line in order.lines:
        [(_day, available)] = availability(session, settings, line.cup_type, day, 1, now)
        checks.append(PoolCheck(line.cup_type, line.quantity, available, day))
    return checks
