"""Twenty planners reserving at the same moment for the last 10,000 clean cups of a type never
reserve more than there is, and each refusal names the shortfall (real concurrent transactions
on PostgreSQL; on SQLite the database serialises writers itself)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from tests.conftest import event_input, fresh_postgres_database, order_input
from wash_ops.accounts.models import Organisation, OrganisationStatus, Role
from wash_ops.accounts.services import create_user
from wash_ops.catalogue.services import sync_from_settings
from wash_ops.db import make_engine, make_session_factory, unit_of_work, utcnow
from wash_ops.inventory.ledger import balances, receive_into_stock, verify_ledger
from wash_ops.inventory.locations import create_location
from wash_ops.inventory.models import LocationKind, StockState
from wash_ops.inventory.reservations import ReservationShortfall, reserve_for_order
from wash_ops.migrate import upgrade
from wash_ops.models import Order, OrderStatus, User
from wash_ops.orders.services import create_event, create_order

PLANNERS = 20
STOCK = 10_000
PER_ORDER = 700  # 14 orders fit (9,800 cups); the other 6 are 500 short of the last 200


@pytest.fixture
def committed_database(settings):
    with fresh_postgres_database("inventory") as url:
        upgrade(url)
        engine = make_engine(url, pool_size=PLANNERS + 2)
        yield make_session_factory(engine)
        engine.dispose()


def test_simultaneous_reservations_never_exceed_the_clean_stock(committed_database, settings):
    factory = committed_database
    with unit_of_work(factory) as session:
        sync_from_settings(session, settings)
        organisation = Organisation(name="Stadsfeest", status=OrganisationStatus.APPROVED)
        session.add(organisation)
        organiser = create_user(
            session,
            email="o@example.test",
            name="O",
            password="x" * 12,
            role=Role.ORGANISER,
            organisation=organisation,
        )
        for index in range(PLANNERS):
            create_user(
                session,
                email=f"p{index}@example.test",
                name="P",
                password="x" * 12,
                role=Role.PLANNER,
            )
        zone = create_location(session, code="A", name="Hal A", kind=LocationKind.ZONE)
        rack = create_location(session, code="B", name="Hal B", kind=LocationKind.ZONE)
        receive_into_stock(session, cup_type="ECO33", quantity=6_000, location=zone, reason="new")
        receive_into_stock(session, cup_type="ECO33", quantity=4_000, location=rack, reason="new")
        event = create_event(
            session, settings, organisation, event_input(settings, days=21), utcnow()
        )
        for _ in range(PLANNERS):
            order = create_order(
                session,
                settings,
                organiser,
                event,
                order_input(event, {"ECO33": PER_ORDER}),
                utcnow(),
            )
            order.status = OrderStatus.CONFIRMED
    with factory() as session:
        order_ids = list(session.scalars(select(Order.id).order_by(Order.id)))
        planner_ids = list(session.scalars(select(User.id).where(User.role == Role.PLANNER)))

    barrier = threading.Barrier(PLANNERS)
    outcomes: list[str] = []
    shortfalls: list[dict[str, int]] = []

    def reserve(order_id: int, planner_id: int) -> None:
        try:
            with unit_of_work(factory) as session:
                planner = session.get_one(User, planner_id)
                order = session.get_one(Order, order_id)
                assert order.lines  # loaded before the race, not inside it
                barrier.wait(timeout=10)
                reserve_for_order(session, order, planner, utcnow())
            outcomes.append("reserved")
        except ReservationShortfall as error:
            outcomes.append("refused: " + str(error))
            shortfalls.append(error.shortfall)

    threads = [
        threading.Thread(target=reserve, args=pair)
        for pair in zip(order_ids, planner_ids, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(not thread.is_alive() for thread in threads)

    with factory() as session:
        reserved = sum(b.quantity for b in balances(session, state=StockState.RESERVED))
        clean = sum(b.quantity for b in balances(session, state=StockState.CLEAN_AVAILABLE))
        assert verify_ledger(session) == []
    fitting = STOCK // PER_ORDER
    assert len(outcomes) == PLANNERS
    assert outcomes.count("reserved") == fitting
    assert reserved == fitting * PER_ORDER <= STOCK
    assert clean == STOCK - reserved
    left = STOCK - fitting * PER_ORDER
    assert shortfalls == [{"ECO33": PER_ORDER - left}] * (PLANNERS - fitting)
    assert all(
        f"{PER_ORDER} needed, {left} available, {PER_ORDER - left} short" in outcome
        for outcome in outcomes
        if outcome != "reserved"
    )
