"""The demo seeds on any day of the year: `make demo` must start whatever the date."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import pytest
from sqlalchemy import select

from wash_ops.demo import ORDER_PLAN, seed_demo
from wash_ops.orders.models import Order, OrderStatus

# The day a start failed (a pickup just before Christmas: the line is closed on the 25th and the
# 26th), the week before Christmas, Easter Monday's week and the summer festival season.
DAYS = ["2026-12-06", "2026-12-19", "2027-03-31", "2027-07-12"]


@pytest.mark.parametrize("day", DAYS)
def test_demo_seeds_on(day, db, settings):
    now = datetime.fromisoformat(f"{day}T09:30").replace(tzinfo=settings.zone)

    logins = seed_demo(db, settings, now)

    statuses = Counter(db.scalars(select(Order.status)))
    planned_drafts = sum(1 for target, _quantities in ORDER_PLAN if target == "draft")
    assert statuses[OrderStatus.DRAFT] == planned_drafts
    assert statuses[OrderStatus.CONFIRMED] >= 1
    assert statuses[OrderStatus.SUBMITTED] >= 1
    assert {login.email for login in logins} >= {
        "planner@wash-ops.test",
        "supervisor@wash-ops.test",
    }
