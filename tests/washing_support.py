"""Helpers for the washing tests: an order walked to received through the real journey, and
readings fed through the telemetry ingest exactly as the poller hands them over."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from wash_ops.accounts.models import User
from wash_ops.catalogue.models import Line
from wash_ops.config import Settings
from wash_ops.inventory.journey import deliver_order, load_order, pick_up_order, receive_returns
from wash_ops.inventory.reservations import reserve_for_order
from wash_ops.orders.models import Order, OrderStatus
from wash_ops.telemetry.ingest import Quality, Reading, ingest
from wash_ops.telemetry.register_map import RegisterMap, load_register_map
from wash_ops.washing.services import LIVE

REGISTER_MAP: RegisterMap = load_register_map(environ={})


def walk_to_received(
    session: Session,
    order: Order,
    planner: User,
    returned: Mapping[str, int] | None = None,
    location: str = "IN",
) -> Order:
    """Confirmed (set directly), reserved, loaded, delivered, picked up and received."""
    order.status = OrderStatus.CONFIRMED
    session.flush()
    reserve_for_order(session, order, planner)
    load_order(session, order, planner)
    deliver_order(session, order, planner)
    pick_up_order(session, order, planner)
    counts = dict(returned or {line.cup_type.code: line.quantity for line in order.lines})
    receive_returns(
        session,
        order,
        planner,
        returned=counts,
        broken={},
        foreign_crates=0,
        location=location,
    )
    return order


class Line1:
    """Feeds one line's readings through ``ingest``: counters as raw PLC values that only grow,
    temperatures as engineering values."""

    def __init__(self, session: Session, line: Line, settings: Settings) -> None:
        self.session, self.line, self.settings = session, line, settings
        self.raw = {"cups_washed": 0, "cups_rejected": 0, "water": 0, "energy": 0}

    def read(
        self,
        at: datetime,
        *,
        wash: float | None = None,
        rinse: float | None = None,
        **added: int,
    ) -> None:
        """One reading at ``at``; ``added`` raises counters by raw amounts (energy in 0.01 kWh)."""
        for name, amount in added.items():
            self.raw[name] += amount
        values: dict[str, float | int] = dict(self.raw)
        if wash is not None:
            values["wash_temperature"] = wash
        if rinse is not None:
            values["rinse_temperature"] = rinse
        ingest(
            self.session,
            self.line,
            REGISTER_MAP,
            Reading(at=at, quality=Quality.GOOD, values=values),
            self.settings.zone,
            timedelta(seconds=self.settings.telemetry.stale_after_s),
        )

    def temperatures(
        self, start: datetime, seconds: int, step: int, wash: float, rinse: float
    ) -> None:
        for offset in range(0, seconds + 1, step):
            self.read(start + timedelta(seconds=offset), wash=wash, rinse=rinse)


@pytest.fixture(autouse=True)
def fresh_live_records() -> Iterator[None]:
    """The line screen's cache assumes committed readings never change; each test rolls its
    readings back, so each starts with an empty cache."""
    LIVE.clear()
    yield
    LIVE.clear()
