"""Two supervisors tap "start" at the same moment on PostgreSQL: exactly one batch runs, the
other is told which batch is on the line, and the ledger holds only the first batch's cups
on the line (real concurrent transactions on committed data)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from tests.conftest import event_input, fresh_postgres_database, order_input
from tests.washing_support import walk_to_received
from wash_ops.accounts.models import Organisation, OrganisationStatus, Role, User
from wash_ops.accounts.services import create_user
from wash_ops.catalogue.services import main_line, sync_from_settings
from wash_ops.db import make_engine, make_session_factory, unit_of_work, utcnow
from wash_ops.errors import Conflict
from wash_ops.inventory.ledger import balances, receive_into_stock, verify_ledger
from wash_ops.inventory.locations import create_location
from wash_ops.inventory.models import LocationKind, StockState
from wash_ops.migrate import upgrade
from wash_ops.orders.models import Order
from wash_ops.orders.services import create_event, create_order
from wash_ops.washing.models import BatchStatus, WashBatch
from wash_ops.washing.services import start_batch

SUPERVISORS = 2


@pytest.fixture
def committed_database(settings):
    with fresh_postgres_database("washing") as url:
        upgrade(url)
        engine = make_engine(url, pool_size=SUPERVISORS + 2)
        yield make_session_factory(engine)
        engine.dispose()


@pytest.mark.parametrize("same_order", [True, False], ids=["same order", "two orders"])
def test_two_supervisors_starting_at_once_get_exactly_one_batch(
    committed_database, settings, same_order
):
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
        planner = create_user(
            session, email="p@example.test", name="P", password="x" * 12, role=Role.PLANNER
        )
        for index in range(SUPERVISORS):
            create_user(
                session,
                email=f"s{index}@example.test",
                name=f"S{index}",
                password="x" * 12,
                role=Role.SUPERVISOR,
            )
        create_location(session, code="A", name="Hal A", kind=LocationKind.ZONE)
        create_location(session, code="IN", name="Ontvangst", kind=LocationKind.INTAKE)
        receive_into_stock(session, cup_type="ECO33", quantity=10_000, location="A", reason="new")
        event = create_event(session, settings, organisation, event_input(settings), utcnow())
        for _ in range(2):
            order = create_order(
                session, settings, organiser, event, order_input(event, {"ECO33": 1000}), utcnow()
            )
            walk_to_received(session, order, planner)
    with factory() as session:
        order_ids = list(session.scalars(select(Order.id).order_by(Order.id)))
        supervisor_ids = list(
            session.scalars(select(User.id).where(User.role == Role.SUPERVISOR).order_by(User.id))
        )
        line_id = main_line(session, settings).id
    targets = [order_ids[0]] * SUPERVISORS if same_order else order_ids[:SUPERVISORS]

    barrier = threading.Barrier(SUPERVISORS)
    outcomes: list[str] = []

    def tap_start(supervisor_id: int, order_id: int) -> None:
        try:
            with unit_of_work(factory) as session:
                supervisor = session.get_one(User, supervisor_id)
                barrier.wait(timeout=10)
                batch = start_batch(
                    session,
                    settings,
                    supervisor,
                    line_id=line_id,
                    order_id=order_id,
                    cup_type="ECO33",
                    now=utcnow(),
                )
                number = batch.number
            outcomes.append("started " + number)
        except Conflict as error:
            outcomes.append("refused: " + str(error))

    threads = [
        threading.Thread(target=tap_start, args=pair)
        for pair in zip(supervisor_ids, targets, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert all(not thread.is_alive() for thread in threads)

    with factory() as session:
        batches = list(session.scalars(select(WashBatch)))
        on_line = sum(b.quantity for b in balances(session, state=StockState.ON_LINE))
        assert verify_ledger(session) == []
    assert len(batches) == 1 and batches[0].status is BatchStatus.RUNNING
    started = [o for o in outcomes if o.startswith("started")]
    assert started == [f"started {batches[0].number}"]
    assert sorted(outcomes) == sorted(
        [
            f"started {batches[0].number}",
            f"refused: Batch {batches[0].number} is still running on this line: "
            "end it before starting another.",
        ]
    )
    assert on_line == 1000
