"""Wash batches: the dirty backlog, a batch from start to end with its stock movements and
hygiene record, the hygiene limits at their edges, the eco figures, and every refusal checked to
have written nothing. Readings go through the telemetry ingest like the poller's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.washing_support import (
    REGISTER_MAP,
    Line1,
    fresh_live_records,  # noqa: F401 - autouse
    walk_to_received,
)
from wash_ops.accounts.models import Role
from wash_ops.catalogue.models import Line
from wash_ops.catalogue.services import main_line
from wash_ops.errors import Conflict, Forbidden, InvalidInput, NotFound
from wash_ops.inventory.journey import close_order, receive_customer_cups
from wash_ops.inventory.ledger import receive_into_stock, verify_ledger
from wash_ops.inventory.locations import create_location
from wash_ops.inventory.models import LocationKind, StockBalance, StockMovement, StockState
from wash_ops.orders.models import OrderStatus, OrderStatusChange, Service
from wash_ops.washing.eco import order_eco, organiser_eco
from wash_ops.washing.models import BatchStatus, WashBatch
from wash_ops.washing.readings import counter_total, temperature_record
from wash_ops.washing.services import (
    batch_for,
    dirty_backlog,
    end_batch,
    order_batches,
    running_batch,
    start_batch,
)

S = StockState
T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def warehouse(db):
    create_location(db, code="A", name="Hal A", kind=LocationKind.ZONE)
    create_location(db, code="IN", name="Ontvangst", kind=LocationKind.INTAKE)
    for code in ("ECO33", "ECO50"):
        receive_into_stock(db, cup_type=code, quantity=20_000, location="A", reason="new")


@pytest.fixture
def planner(make_user):
    return make_user(Role.PLANNER)


@pytest.fixture
def supervisor(make_user):
    return make_user(Role.SUPERVISOR)


@pytest.fixture
def line(db, settings):
    return main_line(db, settings)


@pytest.fixture
def plc(db, line, settings):
    return Line1(db, line, settings)


@pytest.fixture
def received(db, warehouse, planner, make_user, make_order):
    """An order of 4,000 ECO33 and 600 ECO50, all back and received dirty at IN."""
    order = make_order(make_user(), {"ECO33": 4000, "ECO50": 600})
    return walk_to_received(db, order, planner)


def balances_now(db) -> dict[tuple[str, S, str], int]:
    rows = db.scalars(select(StockBalance).where(StockBalance.quantity > 0))
    return {(b.cup_type.code, b.state, b.location.code): b.quantity for b in rows}


def written(db, order) -> tuple:
    """What a refusal must leave unchanged."""
    db.refresh(order)
    return (
        db.scalar(select(func.count()).select_from(StockMovement)),
        tuple(sorted(balances_now(db).items())),
        db.scalar(select(func.count()).select_from(WashBatch)),
        tuple(
            (b.id, b.status, b.ended_at)
            for b in db.scalars(select(WashBatch).execution_options(populate_existing=True))
        ),
        order.status,
        db.scalar(
            select(func.count())
            .select_from(OrderStatusChange)
            .where(OrderStatusChange.order_id == order.id)
        ),
    )


def start(db, settings, user, line, order, cup_type="ECO33", at=T0, **kw):
    return start_batch(
        db, settings, user, line_id=line.id, order_id=order.id, cup_type=cup_type, now=at, **kw
    )


def end(db, settings, user, line, batch, at):
    return end_batch(db, settings, REGISTER_MAP, user, line_id=line.id, batch_id=batch.id, now=at)


# --- the backlog ----------------------------------------------------------------------------


def test_the_backlog_lists_dirty_cups_per_order_and_cup_type_most_urgent_first(
    db, settings, warehouse, planner, line, make_user, make_order
):
    later = walk_to_received(db, make_order(make_user(), {"ECO33": 1000}, days=20), planner)
    sooner = walk_to_received(db, make_order(make_user(), {"ECO50": 300}, days=10), planner)
    now = sooner.pickup_end
    items = dirty_backlog(db, settings, line, now)
    assert [(i.reference, i.cup_type.code, i.cups) for i in items] == [
        (sooner.reference, "ECO50", 300),
        (later.reference, "ECO33", 1000),
    ]
    turnaround = timedelta(hours=settings.orders.turnaround_hours)
    assert items[0].deadline == sooner.pickup_end + turnaround
    assert not items[0].late and not items[0].due_soon
    # A day before the promise runs out it is due soon; after it, late.
    soon = dirty_backlog(db, settings, line, items[0].deadline - timedelta(hours=2))
    assert soon[0].due_soon and not soon[0].late
    late = dirty_backlog(db, settings, line, items[0].deadline + timedelta(minutes=1))
    assert late[0].late and not late[0].due_soon


def test_a_submitted_order_the_clean_pool_cannot_serve_brings_the_deadline_forward(
    db, settings, warehouse, planner, line, make_user, make_order
):
    dirty = walk_to_received(db, make_order(make_user(), {"ECO33": 1000}, days=3), planner)
    needing = make_order(make_user(), {"ECO33": 25_000}, days=6)  # the pool holds 19,000
    needing.status = OrderStatus.SUBMITTED
    db.flush()
    now = dirty.pickup_end
    [item] = dirty_backlog(db, settings, line, now)
    assert item.needed_for == needing.reference
    assert item.needed_by == needing.delivery_start
    assert needing.delivery_start < item.promised_by
    assert item.deadline == needing.delivery_start


# --- a batch from start to end --------------------------------------------------------------


def test_a_batch_from_start_to_end_moves_the_stock_and_keeps_its_hygiene_record(
    db, settings, received, supervisor, planner, line, plc
):
    order = received
    plc.read(T0 - timedelta(seconds=2), wash=60.0, rinse=85.0)  # counters' baseline
    batch = start(db, settings, supervisor, line, order, quantity=3000)
    assert batch.status is BatchStatus.RUNNING and batch.cups_loaded == 3000
    assert order.status is OrderStatus.WASHING
    assert balances_now(db)[("ECO33", S.ON_LINE, "LINE-L1")] == 3000
    assert balances_now(db)[("ECO33", S.RECEIVED_DIRTY, "IN")] == 1000
    assert verify_ledger(db) == []

    # Five minutes of washing: 2,900 good, 40 rejected, water and energy metered.
    for minute in range(1, 6):
        at = T0 + timedelta(minutes=minute)
        for second in range(-55, 1, 5):
            plc.read(at + timedelta(seconds=second), wash=61.5, rinse=84.0 + minute / 10)
        plc.read(at, cups_washed=580, cups_rejected=8, water=90, energy=150)
    now = running_batch(db, line.id, T0 + timedelta(minutes=5))
    assert now is not None
    assert (now.number, now.order_reference, now.cup_type_code) == (
        batch.number,
        order.reference,
        "ECO33",
    )
    assert (now.cups_washed, now.cups_rejected, now.cups_left) == (2900, 40, 60)
    assert now.event == order.event.name and now.organisation == order.organisation.name
    assert now.hygiene_ok and not now.rinse.below_now
    assert now.rinse.latest_c == pytest.approx(84.5)

    ended = end(db, settings, supervisor, line, batch, T0 + timedelta(minutes=5, seconds=1))
    assert ended.status is BatchStatus.ENDED
    assert (ended.cups_washed, ended.cups_rejected) == (2900, 40)
    assert (ended.cups_good, ended.cups_broken, ended.cups_unwashed) == (2900, 40, 60)
    assert ended.water_l == 450 and ended.energy_kwh == pytest.approx(7.5)
    assert ended.hygiene_passed is True
    assert (ended.wash_lowest_c, ended.wash_highest_c) == (60.0, 61.5)
    assert (ended.rinse_lowest_c, ended.rinse_highest_c) == pytest.approx((84.1, 85.0))
    assert ended.wash_seconds_below == 0 and ended.rinse_seconds_below == 0
    assert balances_now(db) == {
        ("ECO33", S.CLEAN_AVAILABLE, "A"): 16000,
        ("ECO50", S.CLEAN_AVAILABLE, "A"): 19400,
        ("ECO33", S.CLEAN_AVAILABLE, "LINE-L1"): 2900,
        ("ECO33", S.BROKEN, "LOSS-BREAKAGE"): 40,
        ("ECO33", S.RECEIVED_DIRTY, "LINE-L1"): 60,
        ("ECO33", S.RECEIVED_DIRTY, "IN"): 1000,
        ("ECO50", S.RECEIVED_DIRTY, "IN"): 600,
    }
    assert verify_ledger(db) == []
    assert order.status is OrderStatus.WASHING  # cups of it are still dirty
    assert running_batch(db, line.id) is None

    # The rest of the order in two more batches; then it is washed, and can be closed.
    t1 = T0 + timedelta(hours=1)
    second = start(db, settings, supervisor, line, order, at=t1)
    assert second.cups_loaded == 1060
    plc.temperatures(t1, 60, 5, wash=60.0, rinse=85.0)
    plc.read(t1 + timedelta(seconds=60), cups_washed=1060)
    end(db, settings, supervisor, line, second, t1 + timedelta(seconds=60))
    t2 = t1 + timedelta(minutes=10)
    third = start(db, settings, supervisor, line, order, cup_type="ECO50", at=t2)
    plc.temperatures(t2, 60, 5, wash=60.0, rinse=85.0)
    plc.read(t2 + timedelta(seconds=60), cups_washed=600)
    end(db, settings, supervisor, line, third, t2 + timedelta(seconds=60))
    assert order.status is OrderStatus.WASHED
    assert order.history[-1].at == t2 + timedelta(seconds=60)  # when the last batch ended
    assert verify_ledger(db) == []
    close_order(db, order, planner)
    assert order.status is OrderStatus.CLOSED

    eco = order_eco(db, order.id)
    assert (eco.batches, eco.cups_washed, eco.cups_reused, eco.single_use_avoided) == (
        3,
        2900 + 1060 + 600,
        4560,
        4560,
    )
    assert eco.water_l == 450 and eco.energy_kwh == pytest.approx(7.5)
    assert eco.water_l_per_1000 == pytest.approx(round(450 * 1000 / 4560, 2))
    assert organiser_eco(db, order.organisation_id) == eco
    assert [b.id for b in order_batches(db, supervisor, order.id)[1]] == [
        batch.id,
        second.id,
        third.id,
    ]


def test_a_batch_that_fails_hygiene_goes_to_quarantine_not_to_clean_stock(
    db, settings, received, supervisor, line, plc
):
    plc.read(T0, wash=60.0, rinse=85.0)
    batch = start(db, settings, supervisor, line, received, cup_type="ECO50")
    plc.temperatures(T0 + timedelta(seconds=5), 120, 5, wash=60.0, rinse=79.5)
    plc.read(T0 + timedelta(seconds=125), cups_washed=590, cups_rejected=10)
    running = running_batch(db, line.id, T0 + timedelta(seconds=125))
    assert running is not None and running.rinse.below_now and not running.hygiene_ok
    ended = end(db, settings, supervisor, line, batch, T0 + timedelta(seconds=125))
    assert ended.hygiene_passed is False
    assert ended.rinse_seconds_below == 120 and ended.rinse_lowest_c == 79.5
    balances = balances_now(db)
    assert balances[("ECO50", S.QUARANTINED, "LINE-L1")] == 590
    assert ("ECO50", S.CLEAN_AVAILABLE, "LINE-L1") not in balances
    assert balances[("ECO50", S.BROKEN, "LOSS-BREAKAGE")] == 10
    assert verify_ledger(db) == []
    assert order_eco(db, received.id).cups_reused == 0


# --- the hygiene limits at their edges --------------------------------------------------------


def run_with_rinse(db, settings, order, supervisor, line, plc, readings, end_after=120):
    """A 120-second ECO50 batch with the wash at 60 °C and the rinse following ``readings``
    ((second, °C) pairs); returns the ended batch."""
    batch = start(db, settings, supervisor, line, order, cup_type="ECO50")
    for second, rinse in readings:
        plc.read(T0 + timedelta(seconds=second), wash=60.0, rinse=rinse)
    plc.read(T0 + timedelta(seconds=end_after), cups_washed=600)
    return end(db, settings, supervisor, line, batch, T0 + timedelta(seconds=end_after))


def hot(seconds=range(0, 121, 5)):
    return [(second, 85.0) for second in seconds]


def test_exactly_at_the_limit_passes(db, settings, received, supervisor, line, plc):
    limit = settings.hygiene.rinse_min_c
    ended = run_with_rinse(
        db, settings, received, supervisor, line, plc, [(s, limit) for s in range(0, 121, 5)]
    )
    assert ended.rinse_lowest_c == limit and ended.rinse_seconds_below == 0
    assert ended.hygiene_passed is True


def test_below_the_limit_for_exactly_the_allowed_seconds_passes(
    db, settings, received, supervisor, line, plc
):
    assert settings.hygiene.max_seconds_below == 60
    dip = [(s, 81.9) for s in range(10, 70, 5)]  # 10 … 65, each held 5 s: 60 s below
    readings = sorted(hot(range(0, 10, 5)) + dip + hot(range(70, 121, 5)))
    ended = run_with_rinse(db, settings, received, supervisor, line, plc, readings)
    assert ended.rinse_seconds_below == 60
    assert ended.hygiene_passed is True


def test_below_the_limit_one_second_longer_fails(db, settings, received, supervisor, line, plc):
    dip = [(s, 81.9) for s in range(10, 71, 5)]  # 10 … 70, the last held until 71: 61 s
    readings = sorted(hot(range(0, 10, 5)) + dip + hot(range(71, 121, 5)))
    ended = run_with_rinse(db, settings, received, supervisor, line, plc, readings)
    assert ended.rinse_seconds_below == 61
    assert ended.hygiene_passed is False
    assert balances_now(db)[("ECO50", S.QUARANTINED, "LINE-L1")] == 600


def test_time_without_readings_counts_as_below_the_limit(
    db, settings, received, supervisor, line, plc
):
    # Readings stop for 80 s: 10 s are covered by the last one (the stale limit), 70 s are not.
    readings = hot(range(0, 21, 5)) + hot(range(100, 121, 5))
    ended = run_with_rinse(db, settings, received, supervisor, line, plc, readings)
    assert ended.rinse_seconds_below == 70
    assert ended.hygiene_passed is False


def test_a_batch_without_any_temperature_reading_fails(
    db, settings, received, supervisor, line, plc
):
    ended = run_with_rinse(db, settings, received, supervisor, line, plc, [])
    assert ended.rinse_lowest_c is None and ended.wash_lowest_c is None
    assert ended.hygiene_passed is False


def test_the_reading_before_the_start_covers_the_first_seconds(
    db, settings, received, supervisor, line, plc
):
    plc.read(T0 - timedelta(seconds=4), wash=60.0, rinse=85.0)
    readings = hot(range(6, 121, 5))  # first reading in the batch 6 s after the start
    ended = run_with_rinse(db, settings, received, supervisor, line, plc, readings)
    assert ended.rinse_seconds_below == 0 and ended.hygiene_passed is True


# --- refusals write nothing -----------------------------------------------------------------


def test_a_second_batch_on_a_running_line_is_refused(db, settings, received, supervisor, line):
    running = start(db, settings, supervisor, line, received, quantity=100)
    before = written(db, received)
    with pytest.raises(Conflict) as refused:
        start(db, settings, supervisor, line, received, cup_type="ECO50")
    assert str(refused.value) == (
        f"Batch {running.number} is still running on this line: end it before starting another."
    )
    assert written(db, received) == before


def test_cups_that_are_not_in_the_backlog_are_refused(
    db, settings, received, warehouse, supervisor, planner, line, make_user, make_order
):
    before = written(db, received)
    with pytest.raises(Conflict, match="No dirty ECO25 cups"):
        start(db, settings, supervisor, line, received, cup_type="ECO25")
    with pytest.raises(InvalidInput, match="from 1 to 4000 cups"):
        start(db, settings, supervisor, line, received, quantity=4001)
    with pytest.raises(InvalidInput, match="from 1 to 4000 cups"):
        start(db, settings, supervisor, line, received, quantity=0)
    with pytest.raises(InvalidInput, match="Unknown cup type"):
        start(db, settings, supervisor, line, received, cup_type="NOPE")
    with pytest.raises(NotFound):
        start_batch(
            db, settings, supervisor, line_id=line.id, order_id=999_999, cup_type="ECO33", now=T0
        )
    assert written(db, received) == before
    confirmed = make_order(make_user(), {"ECO33": 100})
    confirmed.status = OrderStatus.CONFIRMED
    db.flush()
    before = written(db, confirmed)
    with pytest.raises(Conflict, match="No dirty ECO33 cups"):
        start(db, settings, supervisor, line, confirmed)
    assert written(db, confirmed) == before


def test_ending_twice_or_on_another_line_is_refused(db, settings, received, supervisor, line, plc):
    batch = start(db, settings, supervisor, line, received, quantity=100)
    other = Line(site_id=line.site_id, code="L2", name="Afwaslijn 2", capacity_per_day=1000)
    db.add(other)
    db.flush()
    before = written(db, received)
    with pytest.raises(Conflict, match="runs on another line"):
        end(db, settings, supervisor, other, batch, T0 + timedelta(minutes=1))
    with pytest.raises(InvalidInput, match="cannot end before it started"):
        end(db, settings, supervisor, line, batch, T0 - timedelta(minutes=1))
    with pytest.raises(NotFound):
        end_batch(db, settings, REGISTER_MAP, supervisor, line_id=line.id, batch_id=999_999, now=T0)
    assert written(db, received) == before
    end(db, settings, supervisor, line, batch, T0 + timedelta(minutes=1))
    before = written(db, received)
    with pytest.raises(Conflict, match="has already ended"):
        end(db, settings, supervisor, line, batch, T0 + timedelta(minutes=2))
    assert written(db, received) == before


def test_only_the_line_and_the_office_start_and_end_batches(
    db, settings, received, supervisor, line, make_user
):
    before = written(db, received)
    for role in (Role.ORGANISER, Role.COURIER):
        with pytest.raises(Forbidden):
            start(db, settings, make_user(role), line, received)
    assert written(db, received) == before
    batch = start(db, settings, make_user(Role.PLANNER), line, received, quantity=10)
    with pytest.raises(Forbidden):
        end(db, settings, make_user(Role.COURIER), line, batch, T0)


def test_an_organiser_sees_the_batches_of_their_own_orders_only(
    db, settings, received, supervisor, line, make_user
):
    batch = start(db, settings, supervisor, line, received, quantity=10)
    owner = make_user(Role.ORGANISER, organisation=received.organisation)
    assert batch_for(db, owner, batch.id) is batch
    assert order_batches(db, owner, received.id)[1] == [batch]
    stranger = make_user(Role.ORGANISER)
    with pytest.raises(NotFound):
        batch_for(db, stranger, batch.id)
    with pytest.raises(NotFound):
        order_batches(db, stranger, received.id)
    with pytest.raises(NotFound):
        batch_for(db, make_user(Role.COURIER), batch.id)


def test_the_live_record_polled_along_the_way_equals_the_record_computed_at_once(
    db, settings, received, supervisor, line, plc
):
    """The line screen's cache folds the settled past once; polling every 7 s while readings
    (with a dip and a gap) arrive gives what one fold over everything gives."""
    batch = start(db, settings, supervisor, line, received, cup_type="ECO50")
    rinse = {s: (80.0 if 40 <= s < 75 else 85.0) for s in range(0, 301, 3) if not 150 < s < 190}
    for second in range(0, 301):
        if second in rinse:
            plc.read(T0 + timedelta(seconds=second), wash=60.0, rinse=rinse[second], cups_washed=2)
        if second % 7 == 0:
            now = T0 + timedelta(seconds=second)
            live = running_batch(db, line.id, now)
            exact = temperature_record(
                db, line.id, "rinse_temperature", T0, now, 82.0, timedelta(seconds=10)
            )
            assert live is not None
            assert live.rinse.seconds_below == exact.seconds_below, second
            assert (live.rinse.lowest_c, live.rinse.latest_c) == (exact.lowest_c, exact.latest_c)
            assert live.cups_washed == counter_total(db, line.id, "cups_washed", T0, now)
    ended = end(db, settings, supervisor, line, batch, T0 + timedelta(seconds=300))
    assert ended.rinse_seconds_below == 33 + 32  # the dip (42 … 75 s) and the gap (160 … 192 s)
    assert live.rinse.seconds_below == ended.rinse_seconds_below


def test_a_customers_own_cups_are_washed_as_theirs(
    db, settings, warehouse, planner, supervisor, line, plc, make_user, make_order
):
    order = make_order(make_user(), {"ECO33": 800}, service=Service.WASH_OWN)
    order.status = OrderStatus.CONFIRMED
    db.flush()
    receive_customer_cups(db, order, planner, {"ECO33": 800}, "IN")
    [item] = [i for i in dirty_backlog(db, settings, line, T0) if i.order_id == order.id]
    assert (item.cups, item.owner_id) == (800, order.organisation_id)
    plc.read(T0, wash=60.0, rinse=85.0)
    batch = start(db, settings, supervisor, line, order)
    assert batch.owner_id == order.organisation_id
    plc.temperatures(T0 + timedelta(seconds=5), 60, 5, wash=60.0, rinse=85.0)
    # After the last temperature reading (T0 + 65 s): a reading older than the newest stored
    # moves no counter (ingest treats it as late, as MQTT can deliver after a broker restart).
    plc.read(T0 + timedelta(seconds=70), cups_washed=795, cups_rejected=5)
    end(db, settings, supervisor, line, batch, T0 + timedelta(seconds=70))
    owned = {
        (b.state, b.location.code): b.quantity
        for b in db.scalars(
            select(StockBalance).where(
                StockBalance.owner_id == order.organisation_id, StockBalance.quantity > 0
            )
        )
    }
    assert owned == {
        (S.CLEAN_AVAILABLE, "LINE-L1"): 795,
        (S.BROKEN, "LOSS-BREAKAGE"): 5,
    }
    assert order.status is OrderStatus.WASHED
    assert verify_ledger(db) == []
