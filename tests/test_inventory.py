"""The storage inventory: ledger and balances, locations and capacity, reservations,
availability by date and stock counts. Every refusal is checked to have written nothing."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from wash_ops.accounts.models import Role
from wash_ops.db import utcnow
from wash_ops.errors import Conflict, Forbidden, InvalidInput
from wash_ops.inventory.availability import availability
from wash_ops.inventory.counts import count_location
from wash_ops.inventory.ledger import (
    InsufficientStock,
    MovementLine,
    OverCapacity,
    balances,
    book_movements,
    move_stock,
    put_away,
    receive_into_stock,
    verify_ledger,
)
from wash_ops.inventory.locations import create_location, event_location, occupied_crates
from wash_ops.inventory.models import LocationKind, StockBalance, StockMovement, StockState
from wash_ops.inventory.reservations import (
    ReservationShortfall,
    release_reservation,
    reserve_for_order,
)
from wash_ops.orders.models import OrderStatus, Service

CLEAN, RESERVED = StockState.CLEAN_AVAILABLE, StockState.RESERVED
SUBMITTED, CONFIRMED = OrderStatus.SUBMITTED, OrderStatus.CONFIRMED


@pytest.fixture
def warehouse(db):
    zone = create_location(db, code="A", name="Hal A", kind=LocationKind.ZONE)
    rack = create_location(db, code="A-01", name="Rek 1", kind=LocationKind.RACK, parent=zone)
    small = create_location(
        db,
        code="A-01-1",
        name="Plaats 1",
        kind=LocationKind.PALLET,
        parent=rack,
        capacity_crates=10,
    )
    large = create_location(
        db,
        code="A-01-2",
        name="Plaats 2",
        kind=LocationKind.PALLET,
        parent=rack,
        capacity_crates=200,
    )
    return zone, rack, small, large


@pytest.fixture
def planner(make_user):
    return make_user(Role.PLANNER)


def written(db) -> tuple[int, int, int]:
    """Movements, balance rows and cups in balances: what a refusal must leave unchanged."""
    return (
        db.scalar(select(func.count()).select_from(StockMovement)),
        db.scalar(select(func.count()).select_from(StockBalance)),
        db.scalar(select(func.coalesce(func.sum(StockBalance.quantity), 0))),
    )


def held(db, code: str, state: StockState, location: str) -> int:
    return sum(
        b.quantity
        for b in balances(db, cup_type=code, state=state, location=location)
        if b.owner_id is None
    )


# --- ledger and balances ------------------------------------------------------------------


def test_movements_keep_balances_and_ledger_in_step(db, warehouse, planner, make_organisation):
    customer = make_organisation("Stadsfeest vzw")
    receive_into_stock(
        db, cup_type="ECO33", quantity=5000, location="A", reason="new", user=planner
    )
    receive_into_stock(
        db,
        cup_type="ECO50",
        quantity=300,
        location="A",
        state=StockState.CUSTOMER_STORED,
        owner_id=customer.id,
        reason="customer's own cups",
    )
    put_away(db, cup_type="ECO33", quantity=800, from_location="A", to_location="A-01-1")
    move_stock(
        db,
        cup_type="ECO33",
        quantity=120,
        from_state=CLEAN,
        from_location="A",
        to_state=StockState.QUARANTINED,
        to_location="A",
        reason="stains",
    )
    put_away(db, cup_type="ECO33", quantity=80, from_location="A-01-1", to_location="A-01-2")

    assert held(db, "ECO33", CLEAN, "A") == 5000 - 800 - 120
    assert held(db, "ECO33", StockState.QUARANTINED, "A") == 120
    assert held(db, "ECO33", CLEAN, "A-01-1") == 720
    assert held(db, "ECO33", CLEAN, "A-01-2") == 80
    [own] = balances(db, cup_type="ECO50")
    assert (own.owner_id, own.state, own.quantity) == (customer.id, StockState.CUSTOMER_STORED, 300)
    assert verify_ledger(db) == []


def test_a_corrupted_balance_is_detected(db, warehouse):
    receive_into_stock(db, cup_type="ECO33", quantity=400, location="A", reason="new")
    assert verify_ledger(db) == []
    db.execute(update(StockBalance).values(quantity=StockBalance.quantity + 7))
    differences = verify_ledger(db)
    assert differences == ["ECO33 owner pool clean_available at A: balance 407, ledger 400"]


def test_the_database_refuses_a_negative_balance(db, warehouse):
    receive_into_stock(db, cup_type="ECO33", quantity=10, location="A", reason="new")
    with pytest.raises(IntegrityError), db.begin_nested():
        db.execute(update(StockBalance).values(quantity=-1))


def test_moving_more_cups_than_a_place_holds_is_refused(db, warehouse):
    receive_into_stock(db, cup_type="ECO33", quantity=500, location="A", reason="new")
    before = written(db)
    with pytest.raises(InsufficientStock) as refused:
        put_away(db, cup_type="ECO33", quantity=501, from_location="A", to_location="A-01-2")
    assert refused.value.shortages[0].available == 500
    assert (
        str(refused.value) == "Only 500 ECO33 cups are clean_available at A; 501 cannot be moved."
    )
    assert written(db) == before


def test_a_booking_with_one_short_line_writes_nothing(db, warehouse):
    receive_into_stock(db, cup_type="ECO33", quantity=500, location="A", reason="new")
    receive_into_stock(db, cup_type="ECO25", quantity=100, location="A", reason="new")
    before = written(db)
    lines = [
        MovementLine("ECO33", 400, CLEAN, "A-01-2", from_state=CLEAN, from_location="A"),
        MovementLine("ECO25", 101, CLEAN, "A-01-2", from_state=CLEAN, from_location="A"),
    ]
    with pytest.raises(InsufficientStock) as refused:
        book_movements(db, lines, reason="put away")
    assert [s.cup_type for s in refused.value.shortages] == ["ECO25"]
    assert written(db) == before
    assert held(db, "ECO33", CLEAN, "A") == 500


def test_two_lines_from_one_balance_are_added_up_before_checking(db, warehouse):
    receive_into_stock(db, cup_type="ECO33", quantity=500, location="A", reason="new")
    before = written(db)
    lines = [
        MovementLine("ECO33", 300, CLEAN, "A-01-2", from_state=CLEAN, from_location="A"),
        MovementLine(
            "ECO33", 300, StockState.QUARANTINED, "A", from_state=CLEAN, from_location="A"
        ),
    ]
    with pytest.raises(InsufficientStock) as refused:
        book_movements(db, lines, reason="split")
    assert refused.value.shortages[0].requested == 600
    assert written(db) == before


@pytest.mark.parametrize("quantity", [0, -5, 2.5, "10", True])
def test_a_quantity_must_be_a_whole_number_above_zero(db, warehouse, quantity):
    before = written(db)
    with pytest.raises(InvalidInput) as refused:
        receive_into_stock(db, cup_type="ECO33", quantity=quantity, location="A", reason="new")
    assert refused.value.first.message == "Enter a whole number of cups greater than zero."
    assert written(db) == before


@pytest.mark.parametrize(
    ("cup_type", "location", "message"),
    [
        ("NOPE", "A", "Unknown cup type: %(code)s."),
        ("ECO33", "Z-99", "Unknown location: %(code)s."),
    ],
)
def test_an_unknown_cup_type_or_location_is_refused(db, warehouse, cup_type, location, message):
    before = written(db)
    with pytest.raises(InvalidInput) as refused:
        receive_into_stock(db, cup_type=cup_type, quantity=10, location=location, reason="new")
    assert refused.value.first.message == message
    assert written(db) == before


def test_a_movement_needs_a_reason_and_a_change(db, warehouse):
    receive_into_stock(db, cup_type="ECO33", quantity=10, location="A", reason="new")
    before = written(db)
    with pytest.raises(InvalidInput) as refused:
        move_stock(
            db,
            cup_type="ECO33",
            quantity=5,
            from_state=CLEAN,
            from_location="A",
            to_state=CLEAN,
            to_location="A",
            reason="  ",
        )
    assert {p.field for p in refused.value.problems} == {"reason", "lines.0"}
    assert written(db) == before


# --- locations ----------------------------------------------------------------------------


def test_capacity_counts_crates_rounded_up_per_cup_type(db, warehouse):
    _, _, small, _ = warehouse  # 10 crates; ECO33 has 80 cups a crate, ECO25 100
    receive_into_stock(db, cup_type="ECO33", quantity=2000, location="A", reason="new")
    receive_into_stock(db, cup_type="ECO25", quantity=100, location="A", reason="new")
    put_away(db, cup_type="ECO33", quantity=720, from_location="A", to_location=small)
    put_away(db, cup_type="ECO25", quantity=1, from_location="A", to_location=small)
    assert occupied_crates(db, small) == 9 + 1
    before = written(db)
    with pytest.raises(OverCapacity) as refused:
        put_away(db, cup_type="ECO33", quantity=1, from_location="A", to_location=small)
    assert refused.value.crates == 11
    assert str(refused.value) == "A-01-1 holds 10 crates; after this move it would hold 11."
    assert written(db) == before
    # the part-filled ECO25 crate takes 99 more cups without a new crate
    put_away(db, cup_type="ECO25", quantity=99, from_location="A", to_location=small)
    assert occupied_crates(db, small) == 10


def test_a_state_change_in_place_is_not_refused_for_capacity(db, warehouse):
    _, _, small, _ = warehouse
    receive_into_stock(db, cup_type="ECO33", quantity=800, location=small, reason="new")
    move_stock(
        db,
        cup_type="ECO33",
        quantity=40,
        from_state=CLEAN,
        from_location=small,
        to_state=StockState.QUARANTINED,
        to_location=small,
        reason="check",
    )
    assert occupied_crates(db, small) == 10


def test_location_rules(db, warehouse):
    zone, rack, small, _ = warehouse
    with pytest.raises(InvalidInput) as refused:
        create_location(db, code="a", name="Hal A again", kind=LocationKind.ZONE)
    assert refused.value.first.message == "Location %(code)s already exists."
    with pytest.raises(InvalidInput):
        create_location(db, code="R-X", name="Rek", kind=LocationKind.RACK, parent=small)
    for capacity in (0, -3, 1.5):
        with pytest.raises(InvalidInput):
            create_location(
                db, code="P-X", name="P", kind=LocationKind.PALLET, capacity_crates=capacity
            )
    with pytest.raises(InvalidInput):
        create_location(db, code="EV-1", name="Event", kind=LocationKind.EVENT)


def test_put_away_only_into_a_warehouse_place(db, warehouse, make_user, make_event):
    organiser = make_user()
    place = event_location(db, make_event(organiser.organisation))
    assert event_location(db, place.event) is place
    receive_into_stock(db, cup_type="ECO33", quantity=100, location="A", reason="new")
    before = written(db)
    with pytest.raises(InvalidInput):
        put_away(db, cup_type="ECO33", quantity=10, from_location="A", to_location=place)
    assert written(db) == before


# --- reservations -------------------------------------------------------------------------


def order_in(db, status, make_user, make_order, quantities, **changes):
    """An order in ``status``, set directly: the order flow (and the line's calendar, which
    depends on the weekday of the run) is tested elsewhere."""
    order = make_order(make_user(), quantities, **changes)
    order.status = status
    db.flush()
    return order


def test_reserve_and_release_for_an_order(db, settings, warehouse, planner, make_user, make_order):
    order = order_in(db, SUBMITTED, make_user, make_order, {"ECO33": 4000, "ECO50": 600})
    receive_into_stock(db, cup_type="ECO33", quantity=3000, location="A", reason="new")
    receive_into_stock(db, cup_type="ECO33", quantity=2000, location="A-01-2", reason="new")
    receive_into_stock(db, cup_type="ECO50", quantity=600, location="A", reason="new")

    movements = reserve_for_order(db, order, planner)
    assert {m.order_id for m in movements} == {order.id}
    assert held(db, "ECO33", RESERVED, "A") + held(db, "ECO33", RESERVED, "A-01-2") == 4000
    assert held(db, "ECO33", CLEAN, "A") + held(db, "ECO33", CLEAN, "A-01-2") == 1000
    assert held(db, "ECO50", RESERVED, "A") == 600
    assert reserve_for_order(db, order, planner) == []  # already holds all it needs

    release_reservation(db, order, planner)
    assert held(db, "ECO33", CLEAN, "A") == 3000
    assert held(db, "ECO33", CLEAN, "A-01-2") == 2000
    assert held(db, "ECO50", CLEAN, "A") == 600
    assert balances(db, state=RESERVED) == []
    assert verify_ledger(db) == []


def test_a_reservation_is_refused_as_a_whole_with_the_shortfall(
    db, settings, warehouse, planner, make_user, make_order
):
    order = order_in(db, SUBMITTED, make_user, make_order, {"ECO33": 4000, "ECO50": 600})
    receive_into_stock(db, cup_type="ECO33", quantity=5000, location="A", reason="new")
    receive_into_stock(db, cup_type="ECO50", quantity=450, location="A", reason="new")
    before = written(db)
    with pytest.raises(ReservationShortfall) as refused:
        reserve_for_order(db, order, planner)
    assert refused.value.shortfall == {"ECO50": 150}
    assert str(refused.value) == (
        "Not enough clean ECO50 cups: 600 needed, 450 available, 150 short."
    )
    assert written(db) == before


def test_reservations_are_for_the_office_and_rental_orders(
    db, settings, warehouse, planner, make_user, make_order
):
    receive_into_stock(db, cup_type="ECO33", quantity=5000, location="A", reason="new")
    before = written(db)
    order = order_in(db, SUBMITTED, make_user, make_order, {"ECO33": 100})
    with pytest.raises(Forbidden):
        reserve_for_order(db, order, make_user(Role.SUPERVISOR))
    own = order_in(db, SUBMITTED, make_user, make_order, {"ECO33": 100}, service=Service.WASH_OWN)
    with pytest.raises(Conflict):
        reserve_for_order(db, own, planner)
    draft = make_order(make_user(), {"ECO33": 100})
    with pytest.raises(Conflict):
        reserve_for_order(db, draft, planner)
    assert written(db) == before


# --- availability by date -----------------------------------------------------------------


def test_availability_by_date_worked_example(
    db, settings, warehouse, planner, make_user, make_order
):
    """10,000 clean ECO33. Order A (4,000, event on day 10) is confirmed and reserved; order B
    (3,000, event on day 20) is confirmed, not reserved; order C (2,000) is only submitted.

    A's event ends at midnight after day 10, pickup ends day 11 16:00, + 72 h turnaround =
    day 14 16:00, so its cups count again from day 15. B's delivery starts day 19 10:00 (its
    cups leave on day 19) and they are back from day 25.

    projected stock: days 0-14 6,000; 15-18 10,000; 19-24 7,000; from 25 10,000.
    promise for day d = lowest projected from d on: 6,000 to day 14, 7,000 to day 24, then 10,000.
    """
    today = utcnow().astimezone(settings.zone).date()
    receive_into_stock(db, cup_type="ECO33", quantity=10_000, location="A", reason="new")
    a = order_in(db, CONFIRMED, make_user, make_order, {"ECO33": 4000}, days=10)
    b = order_in(db, CONFIRMED, make_user, make_order, {"ECO33": 3000}, days=20)
    order_in(db, SUBMITTED, make_user, make_order, {"ECO33": 2000}, days=12)
    reserve_for_order(db, a, planner)
    turnaround = timedelta(hours=settings.orders.turnaround_hours)
    assert settings.orders.turnaround_hours == 72
    assert (a.pickup_end + turnaround).astimezone(settings.zone).date() == today + timedelta(14)
    assert b.delivery_start.astimezone(settings.zone).date() == today + timedelta(19)
    assert (b.pickup_end + turnaround).astimezone(settings.zone).date() == today + timedelta(24)

    days = availability(db, settings, "ECO33", today, 30)

    assert [day for day, _ in days] == [today + timedelta(n) for n in range(30)]
    expected = [6000] * 15 + [7000] * 10 + [10_000] * 5
    assert [available for _, available in days] == expected
    assert availability(db, settings, "ECO50", today, 3) == [
        (today + timedelta(n), 0) for n in range(3)
    ]


def test_availability_refuses_bad_input(db, settings):
    today = utcnow().date()
    with pytest.raises(InvalidInput):
        availability(db, settings, "NOPE", today, 7)
    for days in (0, -1, 400, 2.5):
        with pytest.raises(InvalidInput):
            availability(db, settings, "ECO33", today, days)


# --- stock counts -------------------------------------------------------------------------


def test_a_count_books_the_differences_with_its_reason(db, warehouse, planner):
    receive_into_stock(db, cup_type="ECO33", quantity=1000, location="A-01-2", reason="new")
    movements = count_location(
        db, "A-01-2", {"ECO33": 950, "ECO25": 20}, reason="yearly count", user=planner
    )
    assert sorted((m.cup_type.code, m.quantity, m.to_state) for m in movements) == [
        ("ECO25", 20, CLEAN),
        ("ECO33", 50, StockState.LOST),
    ]
    assert {m.reason for m in movements} == {"count: yearly count"}
    assert {m.user_id for m in movements} == {planner.id}
    assert held(db, "ECO33", CLEAN, "A-01-2") == 950
    assert held(db, "ECO33", StockState.LOST, "LOSS-COUNT") == 50
    assert held(db, "ECO25", CLEAN, "A-01-2") == 20
    assert count_location(db, "A-01-2", {"ECO33": 950}, reason="again", user=planner) == []
    assert verify_ledger(db) == []


@pytest.mark.parametrize("role", [Role.ORGANISER, Role.SUPERVISOR, Role.COURIER])
def test_only_a_planner_books_a_count(db, warehouse, make_user, role):
    receive_into_stock(db, cup_type="ECO33", quantity=1000, location="A", reason="new")
    before = written(db)
    with pytest.raises(Forbidden):
        count_location(db, "A", {"ECO33": 900}, reason="count", user=make_user(role))
    assert written(db) == before


@pytest.mark.parametrize("counted", [{"ECO33": -1}, {"ECO33": 1.5}, {"ECO33": "9"}, {"NOPE": 3}])
def test_a_count_must_be_whole_and_not_negative(db, warehouse, planner, counted):
    receive_into_stock(db, cup_type="ECO33", quantity=1000, location="A", reason="new")
    before = written(db)
    with pytest.raises(InvalidInput):
        count_location(db, "A", counted, reason="count", user=planner)
    with pytest.raises(InvalidInput):
        count_location(db, "NOWHERE", {"ECO33": 3}, reason="count", user=planner)
    assert written(db) == before


@pytest.mark.parametrize("seed", range(20))
def test_lowest_stock_from_each_day_matches_the_definition(seed):
    """Running totals give what the definition says: the lowest projected stock from a day on."""
    import random

    from wash_ops.inventory.availability import _lowest_from_each_day

    rng = random.Random(seed)
    first = date(2027, 5, 1)
    changes = {
        first + timedelta(days=rng.randint(-5, 40)): rng.randint(-3000, 3000) for _ in range(12)
    }
    start = rng.randint(0, 8000)

    def projected(day):
        return start + sum(delta for when, delta in changes.items() if when <= day)

    expected = []
    for offset in range(30):
        day = first + timedelta(days=offset)
        later = [when for when in changes if when > day]
        expected.append((day, max(0, min([projected(day), *(projected(when) for when in later)]))))
    assert _lowest_from_each_day(start, changes, first, 30) == expected
