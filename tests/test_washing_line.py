"""A wash batch against the line simulator over real Modbus TCP, read by the real worker: what
the PLC counted while the batch ran is what the batch books, to the cup, and its hygiene
record comes from the simulator's own temperature readings.

The supervisor ends a batch when its cups are through the line; counts the worker has read but
not yet stored at that moment would not be in the batch, so the test ends it as the
supervisor does: line standing still, readings stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from plc.simulator import start_simulator
from plc.worker import Worker
from tests.plc_support import fast_map, live, night_start, wait_for
from tests.washing_support import walk_to_received
from wash_ops.accounts.models import Organisation, OrganisationStatus, Role, User
from wash_ops.accounts.services import create_user
from wash_ops.catalogue.services import main_line, sync_from_settings
from wash_ops.db import make_engine, make_session_factory, unit_of_work, utcnow
from wash_ops.inventory.ledger import balances, receive_into_stock, verify_ledger
from wash_ops.inventory.locations import create_location
from wash_ops.inventory.models import LocationKind, StockState
from wash_ops.migrate import upgrade
from wash_ops.orders.models import Carrier, Service
from wash_ops.orders.services import EventInput, OrderInput, create_event, create_order
from wash_ops.telemetry.models import LineReading
from wash_ops.telemetry.register_map import load_register_map
from wash_ops.washing.models import WashBatch
from wash_ops.washing.services import end_batch, running_batch, start_batch

TIME_FACTOR = 3000  # a simulated hour in 1.2 s: the line washes about 3,000 cups a second
CUPS = 20_000


@pytest.fixture
def line_database(tmp_path, settings):
    url = f"sqlite:///{tmp_path / 'line.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    yield factory
    engine.dispose()


def _received_order(factory, settings) -> tuple[int, int]:
    """A committed rental order of 20,000 ECO33 cups, received dirty; (order id, supervisor id)."""
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
        supervisor = create_user(
            session, email="s@example.test", name="S", password="x" * 12, role=Role.SUPERVISOR
        )
        create_location(session, code="A", name="Hal A", kind=LocationKind.ZONE)
        create_location(session, code="IN", name="Ontvangst", kind=LocationKind.INTAKE)
        receive_into_stock(session, cup_type="ECO33", quantity=CUPS, location="A", reason="new")
        now = utcnow()
        event = create_event(
            session,
            settings,
            organisation,
            EventInput(
                name="Stadsfeest",
                starts_at=now.replace(microsecond=0) + _days(14),
                ends_at=now.replace(microsecond=0) + _days(14.4),
                postcode="9000",
            ),
            now,
        )
        order = create_order(
            session,
            settings,
            organiser,
            event,
            OrderInput(
                service=Service.RENT_AND_WASH,
                delivery_by=Carrier.COURIER,
                pickup_by=Carrier.COURIER,
                delivery_start=event.starts_at - _days(1.2),
                delivery_end=event.starts_at - _days(1),
                pickup_start=event.ends_at + _days(0.5),
                pickup_end=event.ends_at + _days(0.7),
                quantities={"ECO33": CUPS},
                notes="",
            ),
            now,
        )
        walk_to_received(session, order, planner)
        return order.id, supervisor.id


def settle(factory, readings: int = 2) -> None:
    """Wait until readings taken after this call are stored (so everything before is too)."""
    since = utcnow()
    for _ in range(readings):
        since = wait_for(lambda after=since: _stored_after(factory, after), what="a fresh reading")


def _stored_after(factory, moment):
    found = live(factory)
    if found is not None and found.last_good_at is not None and found.last_good_at > moment:
        return found.last_good_at
    return None


def _days(days: float) -> timedelta:
    return timedelta(days=days)


def test_a_batch_books_what_the_simulated_line_counted_while_it_ran(line_database, settings):
    factory = line_database
    order_id, supervisor_id = _received_order(factory, settings)
    register_map = load_register_map(environ={})
    with start_simulator(
        register_map,
        "127.0.0.1",
        0,
        time_factor=TIME_FACTOR,
        start=night_start(settings),
        tick_s=0.05,
        heartbeat_s=0.1,
        paused=True,
    ) as simulator:
        worker = Worker(settings, fast_map(register_map, simulator.port), factory, schedule=False)
        worker.start()
        try:

            def readings() -> int:
                """Gauge values stored so far."""
                with factory() as session:
                    stored = session.scalars(select(LineReading.gauges))
                    return sum(len(gauges) for gauges in stored)

            wait_for(readings, what="the worker's first readings")
            with unit_of_work(factory) as session:
                supervisor = session.get_one(User, supervisor_id)
                line = main_line(session, settings)
                batch = start_batch(
                    session,
                    settings,
                    supervisor,
                    line_id=line.id,
                    order_id=order_id,
                    cup_type="ECO33",
                    now=utcnow(),
                )
                batch_id, line_id = batch.id, line.id
            simulator.simulator.resume()

            def washed_so_far() -> int:
                with factory() as session:
                    found = running_batch(session, line_id, utcnow())
                    return found.cups_washed if found and found.cups_washed > 1500 else 0

            wait_for(washed_so_far, timeout=30, what="the line to wash 1,500 cups")
            # The supervisor ends a batch once its cups are through: the line stands still and
            # the worker has stored what it read until then.
            simulator.simulator.pause()
            settle(factory)
            with unit_of_work(factory) as session:
                supervisor = session.get_one(User, supervisor_id)
                ended = end_batch(
                    session,
                    settings,
                    register_map,
                    supervisor,
                    line_id=line_id,
                    batch_id=batch_id,
                    now=utcnow(),
                )
                ended_at, started_at = ended.ended_at, ended.started_at
        finally:
            worker.stop()

    with factory() as session:
        batch = session.get_one(WashBatch, batch_id)

        def counted(tag: str) -> int:
            return int(
                session.scalar(
                    select(func.coalesce(func.sum(LineReading.counted(tag)), 0)).where(
                        LineReading.at > started_at,
                        LineReading.at <= ended_at,
                    )
                )
            )

        assert batch.cups_washed == counted("cups_washed") > 1500
        assert batch.cups_rejected == counted("cups_rejected")
        assert batch.water_l == counted("water") > 0
        assert batch.wash_lowest_c is not None and batch.rinse_highest_c is not None
        assert batch.rinse_highest_c >= batch.rinse_lowest_c
        good = min(batch.cups_washed, CUPS)
        broken = min(batch.cups_rejected, CUPS - good)
        assert (batch.cups_good, batch.cups_broken) == (good, broken)
        clean_state = StockState.CLEAN_AVAILABLE if batch.hygiene_passed else StockState.QUARANTINED
        at_line = {
            b.state: b.quantity for b in balances(session, location="LINE-L1", cup_type="ECO33")
        }
        assert at_line[clean_state] == good
        assert at_line.get(StockState.RECEIVED_DIRTY, 0) == CUPS - good - broken
        assert verify_ledger(session) == []
