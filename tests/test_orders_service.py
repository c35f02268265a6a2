"""Order intake rules in the services, against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import event_input, order_input
from wash_ops.accounts.models import Role
from wash_ops.db import utcnow
from wash_ops.errors import Conflict, Forbidden, InvalidInput, NotFound
from wash_ops.inventory.journey import load_order
from wash_ops.inventory.ledger import receive_into_stock, verify_ledger
from wash_ops.inventory.locations import create_location
from wash_ops.inventory.models import LocationKind, StockMovement, StockState
from wash_ops.inventory.reservations import reserved_by_place
from wash_ops.orders.models import Event, Order, OrderStatus, Service
from wash_ops.orders.services import (
    EventInput,
    cancel_order,
    confirm_order,
    create_event,
    create_order,
    move_pickup_to_earliest_fit,
    order_for,
    reject_order,
    submit_order,
    update_order,
)


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def test_order_shows_quantities_as_crates_rounded_up(db, make_user, make_order):
    order = make_order(make_user(), {"ECO33": 81, "ECO25": 100})
    crates = {line.cup_type.code: line.crates for line in order.lines}
    assert crates == {"ECO33": 2, "ECO25": 1}
    assert order.total_cups == 181
    assert order.status is OrderStatus.DRAFT
    assert [change.to_status for change in order.history] == [OrderStatus.DRAFT]


def test_full_happy_path_books_the_wash(pool_stock, db, settings, make_user, make_order):
    organiser = make_user()
    planner = make_user(Role.PLANNER)
    order = make_order(organiser)
    fit = submit_order(db, settings, organiser, order, utcnow())
    assert fit.fits and order.status is OrderStatus.SUBMITTED
    confirm_order(db, settings, planner, order, utcnow())
    assert order.status is OrderStatus.CONFIRMED
    assert [c.to_status for c in order.history] == [
        OrderStatus.DRAFT,
        OrderStatus.SUBMITTED,
        OrderStatus.CONFIRMED,
    ]


@pytest.mark.parametrize(
    ("quantities", "field"),
    [
        ({"ECO33": 0}, "lines.ECO33"),
        ({"ECO33": -5}, "lines.ECO33"),
        ({"ECO33": 1_000_001}, "lines.ECO33"),
        ({"ECO33": "12"}, "lines.ECO33"),
        ({}, "lines"),
    ],
)
def test_bad_quantities_are_refused_and_nothing_is_written(
    db, make_user, make_order, quantities, field
):
    organiser = make_user()
    before = count(db, Order)
    with pytest.raises(InvalidInput) as caught:
        make_order(organiser, quantities)
    assert caught.value.first.field == field
    assert count(db, Order) == before


def test_unknown_cup_type_is_refused(db, make_user, make_order):
    with pytest.raises(InvalidInput, match="Unknown cup type"):
        make_order(make_user(), {"PINT99": 100})


def test_window_rules(db, settings, make_user, make_event):
    organiser = make_user()
    event = make_event(organiser.organisation)
    cases = {
        "pickup_start": {
            "pickup_start": event.starts_at - timedelta(days=2),
            "pickup_end": event.starts_at - timedelta(days=1, hours=20),
        },
        "delivery_end": {"delivery_end": event.starts_at + timedelta(hours=1)},
        "delivery_start": {"delivery_start": utcnow() - timedelta(days=1)},
        "pickup_end": {"pickup_end": event.ends_at + timedelta(hours=11)},
    }
    for field, changes in cases.items():
        with pytest.raises(InvalidInput) as caught:
            create_order(db, settings, organiser, event, order_input(event, **changes), utcnow())
        assert field in [problem.field for problem in caught.value.problems], field


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"postcode": "9999"}, "postcode"),
        ({"postcode": "1000"}, None),  # Brussels is 50 km away: inside the 60 km default
        ({"postcode": "3500"}, "postcode"),  # Hasselt: outside the service area
        ({"postcode": "", "lat": 50.85, "lon": 5.69}, "lat"),  # Maastricht coordinates
        ({"postcode": ""}, "postcode"),
        ({"name": "   "}, "name"),
    ],
)
def test_event_place_and_name_rules(db, settings, make_organisation, changes, field):
    organisation = make_organisation()
    data = EventInput(**{**event_input(settings).__dict__, **changes})
    before = count(db, Event)
    if field is None:
        create_event(db, settings, organisation, data, utcnow())
        return
    with pytest.raises(InvalidInput) as caught:
        create_event(db, settings, organisation, data, utcnow())
    assert caught.value.first.field == field
    assert count(db, Event) == before


def test_event_must_end_after_it_starts_and_lie_ahead(db, settings, make_organisation):
    organisation = make_organisation()
    base = event_input(settings)
    backwards = EventInput(**{**base.__dict__, "ends_at": base.starts_at - timedelta(hours=1)})
    with pytest.raises(InvalidInput) as caught:
        create_event(db, settings, organisation, backwards, utcnow())
    assert caught.value.first.field == "ends_at"
    past = EventInput(**{**base.__dict__, "starts_at": utcnow() - timedelta(days=1)})
    with pytest.raises(InvalidInput) as caught:
        create_event(db, settings, organisation, past, utcnow())
    assert caught.value.first.field == "starts_at"


def test_outside_service_area_message_names_the_distance(db, settings, make_organisation):
    data = EventInput(**{**event_input(settings).__dict__, "postcode": "8400"})  # Oostende
    with pytest.raises(InvalidInput) as caught:
        create_event(db, settings, make_organisation(), data, utcnow())
    problem = caught.value.first
    assert problem.params["site"] == "Gentbrugge"
    assert problem.params["away"] > settings.site.service_radius_km


def test_someone_elses_order_is_not_found(db, make_user, make_order):
    order = make_order(make_user())
    stranger = make_user()
    with pytest.raises(NotFound):
        order_for(db, stranger, order.id)
    with pytest.raises(NotFound):
        order_for(db, make_user(Role.COURIER), order.id)
    assert order_for(db, make_user(Role.PLANNER), order.id) is order


def test_only_allowed_transitions(db, settings, make_user, make_order):
    organiser, planner = make_user(), make_user(Role.PLANNER)
    order = make_order(organiser)
    with pytest.raises(Conflict):
        confirm_order(db, settings, planner, order, utcnow())  # a draft cannot be confirmed
    with pytest.raises(Forbidden):
        reject_order(db, organiser, order, "no")
    submit_order(db, settings, organiser, order, utcnow())
    with pytest.raises(Conflict):
        submit_order(db, settings, organiser, order, utcnow())
    reject_order(db, planner, order, "Not in our region")
    assert order.status is OrderStatus.REJECTED
    assert order.last_reason(OrderStatus.REJECTED) == "Not in our region"
    with pytest.raises(Conflict):
        cancel_order(db, organiser, order, "changed our mind", utcnow())


def test_cancel_keeps_the_reason_and_needs_one(db, make_user, make_order):
    organiser = make_user()
    order = make_order(organiser)
    with pytest.raises(InvalidInput):
        cancel_order(db, organiser, order, "  ", utcnow())
    assert order.status is OrderStatus.DRAFT
    cancel_order(db, organiser, order, "Event called off", utcnow())
    assert order.status is OrderStatus.CANCELLED
    assert order.history[-1].reason == "Event called off"


def test_confirmed_order_can_no_longer_be_edited(pool_stock, db, settings, make_user, make_order):
    organiser = make_user()
    order = make_order(organiser)
    submit_order(db, settings, organiser, order, utcnow())
    confirm_order(db, settings, make_user(Role.PLANNER), order, utcnow())
    with pytest.raises(Conflict):
        update_order(
            db, settings, organiser, order, order_input(order.event, {"ECO33": 10}), utcnow()
        )


def test_unapproved_organisation_cannot_be_confirmed(
    db, settings, make_user, make_organisation, make_order
):
    organiser = make_user(organisation=make_organisation(approved=False))
    order = make_order(organiser)
    submit_order(db, settings, organiser, order, utcnow())
    with pytest.raises(Conflict, match="not approved"):
        confirm_order(db, settings, make_user(Role.PLANNER), order, utcnow())
    assert order.status is OrderStatus.SUBMITTED


def test_submit_refuses_a_wash_that_does_not_fit_and_offers_a_date(
    pool_stock, db, settings, make_user, make_order
):
    organiser, planner = make_user(), make_user(Role.PLANNER)
    capacity = settings.line.capacity_per_day
    big = make_order(organiser, {"ECO33": capacity * 2}, days=20)
    submit_order(db, settings, organiser, big, utcnow())
    confirm_order(db, settings, planner, big, utcnow())
    # the same pickup day, again a full two days of washing: the window has no room left
    same_day = make_order(organiser, {"ECO33": capacity}, days=20)
    with pytest.raises(Conflict) as caught:
        submit_order(db, settings, organiser, same_day, utcnow())
    fit = caught.value.fit
    assert not fit.fits and fit.earliest_pickup is not None
    assert same_day.status is OrderStatus.DRAFT
    moved_to = move_pickup_to_earliest_fit(db, settings, organiser, same_day, utcnow())
    assert moved_to == fit.earliest_pickup
    assert submit_order(db, settings, organiser, same_day, utcnow()).fits


def test_confirmation_that_would_overbook_is_refused(
    pool_stock, db, settings, make_user, make_order
):
    organiser, planner = make_user(), make_user(Role.PLANNER)
    capacity = settings.line.capacity_per_day
    first = make_order(organiser, {"ECO33": capacity * 2}, days=21)
    second = make_order(organiser, {"ECO50": capacity}, days=21)
    submit_order(db, settings, organiser, first, utcnow())
    submit_order(db, settings, organiser, second, utcnow())  # fits while first is unconfirmed
    confirm_order(db, settings, planner, first, utcnow())
    with pytest.raises(Conflict, match="does not fit"):
        confirm_order(db, settings, planner, second, utcnow())
    assert second.status is OrderStatus.SUBMITTED


def reserved_for(db, order) -> dict[str, int]:
    """Cups the order holds reserved, per cup type code, read back from the ledger."""
    codes = {line.cup_type_id: line.cup_type.code for line in order.lines}
    totals: dict[str, int] = {}
    for (cup_type_id, _location), quantity in reserved_by_place(db, order).items():
        if quantity:
            totals[codes[cup_type_id]] = totals.get(codes[cup_type_id], 0) + quantity
    return totals


def test_confirmation_reserves_rental_cups_and_cancellation_releases_them(
    db, settings, make_user, make_order, pool_stock
):
    organiser, planner = make_user(), make_user(Role.PLANNER)
    order = make_order(organiser, {"ECO33": 4000, "WINE15": 300})
    submit_order(db, settings, organiser, order, utcnow())
    confirm_order(db, settings, planner, order, utcnow())
    assert reserved_for(db, order) == {"ECO33": 4000, "WINE15": 300}
    cancel_order(db, organiser, order, "Event called off", utcnow())
    assert reserved_for(db, order) == {}
    assert verify_ledger(db) == []


def test_confirmation_is_refused_as_a_whole_when_pool_cups_are_short(
    db, settings, make_user, make_order
):
    organiser, planner = make_user(), make_user(Role.PLANNER)
    place = create_location(db, code="SMALL", name="Small stock", kind=LocationKind.ZONE)
    receive_into_stock(db, cup_type="ECO33", quantity=10_000, location=place, reason="stock")
    receive_into_stock(db, cup_type="WINE15", quantity=100, location=place, reason="stock")
    order = make_order(organiser, {"ECO33": 4000, "WINE15": 300})
    submit_order(db, settings, organiser, order, utcnow())
    movements_before = db.scalar(select(func.count()).select_from(StockMovement))
    with pytest.raises(Conflict) as caught:
        confirm_order(db, settings, planner, order, utcnow())
    assert "WINE15" in str(caught.value) and "200 short" in str(caught.value)
    assert order.status is OrderStatus.SUBMITTED
    assert db.scalar(select(func.count()).select_from(StockMovement)) == movements_before


def test_washing_own_cups_needs_no_pool_stock(db, settings, make_user, make_order):
    organiser, planner = make_user(), make_user(Role.PLANNER)
    order = make_order(organiser, {"ECO33": 4000}, service=Service.WASH_OWN)
    submit_order(db, settings, organiser, order, utcnow())
    confirm_order(db, settings, planner, order, utcnow())
    assert order.status is OrderStatus.CONFIRMED
    assert reserved_for(db, order) == {}


def test_cancelling_a_loaded_order_puts_its_cups_back(
    db, settings, make_user, make_order, pool_stock
):
    organiser, planner = make_user(), make_user(Role.PLANNER)
    order = make_order(organiser, {"ECO33": 4000})
    submit_order(db, settings, organiser, order, utcnow())
    confirm_order(db, settings, planner, order, utcnow())
    load_order(db, order, planner, {"ECO33": 4000})
    assert reserved_for(db, order) == {}
    cancel_order(db, planner, order, "Storm warning: event cancelled", utcnow())
    assert order.status is OrderStatus.CANCELLED
    loaded = {key: n for key, n in reserved_by_place(db, order, StockState.LOADED).items() if n}
    assert loaded == {}
    assert verify_ledger(db) == []
