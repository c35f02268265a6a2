"""Planners confirming at the same moment never overbook the line (real concurrent
transactions on PostgreSQL; on SQLite the database serialises writers itself)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import event_input, fresh_postgres_database, order_input
from wash_ops.accounts.models import Organisation, OrganisationStatus, Role
from wash_ops.accounts.services import create_user
from wash_ops.catalogue.services import sync_from_settings
from wash_ops.db import make_engine, make_session_factory, unit_of_work, utcnow
from wash_ops.errors import Conflict
from wash_ops.inventory.ledger import receive_into_stock
from wash_ops.inventory.locations import create_location
from wash_ops.inventory.models import LocationKind
from wash_ops.migrate import upgrade
from wash_ops.models import Order, OrderStatus, User
from wash_ops.orders.services import confirm_order, create_event, create_order, submit_order
from wash_ops.planning.services import calendar_for

PLANNERS = 8


@pytest.fixture
def committed_database(settings):
    with fresh_postgres_database("concurrency") as url:
        upgrade(url)
        engine = make_engine(url, pool_size=PLANNERS + 2)
        yield make_session_factory(engine)
        engine.dispose()


def test_simultaneous_confirmations_book_no_more_than_the_capacity(committed_database, settings):
    factory = committed_database
    capacity = settings.line.capacity_per_day
    with unit_of_work(factory) as session:
        sync_from_settings(session, settings)
        place = create_location(session, code="HAL-A", name="Hal A", kind=LocationKind.ZONE)
        receive_into_stock(
            session, cup_type="ECO33", quantity=PLANNERS * capacity, location=place, reason="stock"
        )
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
        event = create_event(
            session, settings, organisation, event_input(settings, days=21), utcnow()
        )
        for _ in range(PLANNERS):
            # every order needs a full day of the line inside the same two-day window
            data = order_input(
                event, {"ECO33": capacity}, pickup_end=event.ends_at + timedelta(hours=16)
            )
            order = create_order(session, settings, organiser, event, data, utcnow())
            submit_order(session, settings, organiser, order, utcnow())
    with factory() as session:
        order_ids = list(session.scalars(select(Order.id).order_by(Order.id)))
        planner_ids = list(session.scalars(select(User.id).where(User.role == Role.PLANNER)))
        first = session.get(Order, order_ids[0])
        calendar = calendar_for(settings, first.line)
        window = calendar.days(first.wash_release_on, first.wash_due_on)
        window_days = sum(1 for day in window if calendar.is_open(day))

    barrier = threading.Barrier(PLANNERS)
    outcomes: list[str] = []

    def confirm(order_id: int, planner_id: int) -> None:
        try:
            with unit_of_work(factory) as session:
                planner = session.get(User, planner_id)
                order = session.get(Order, order_id)
                barrier.wait(timeout=10)
                confirm_order(session, settings, planner, order, utcnow())
            outcomes.append("confirmed")
        except Conflict as error:
            outcomes.append("refused: " + str(error))

    threads = [
        threading.Thread(target=confirm, args=pair)
        for pair in zip(order_ids, planner_ids, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(not thread.is_alive() for thread in threads)

    with factory() as session:
        confirmed = session.scalars(
            select(Order).where(Order.status == OrderStatus.CONFIRMED)
        ).all()
    assert len(outcomes) == PLANNERS
    assert window_days >= 1
    assert outcomes.count("confirmed") == len(confirmed) == window_days
    assert all("does not fit" in outcome for outcome in outcomes if outcome != "confirmed")
