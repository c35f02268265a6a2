"""The courier's phone view and the planner's route page over HTTP: ownership, bad input, and
no change when refused."""

from __future__ import annotations

import pytest

from tests.conftest import login
from wash_ops.accounts.models import Role
from wash_ops.db import utcnow
from wash_ops.orders.models import OrderStatus
from wash_ops.orders.services import confirm_order, submit_order
from wash_ops.routing.services import plan_day, publish_plan, sync_vehicles


@pytest.fixture
def published(db, settings, make_user, make_order, pool_stock):
    planner, organiser, courier = make_user(Role.PLANNER), make_user(), make_user(Role.COURIER)
    sync_vehicles(db, settings)
    order = make_order(organiser, {"ECO33": 800}, days=3)
    submit_order(db, settings, organiser, order, utcnow())
    confirm_order(db, settings, planner, order, utcnow())
    day = order.delivery_start.astimezone(settings.zone).date()
    plan = plan_day(db, settings, day, utcnow(), planner, time_limit_s=0.3)
    publish_plan(db, planner, plan.id, utcnow())
    stop = next(s for s in plan.stops if s.order_id == order.id)
    assert stop.route is not None
    stop.route.courier_id = courier.id
    db.flush()
    return planner, courier, order, stop


def test_courier_confirms_own_stop_and_is_refused_otherwise(client, db, make_user, published):
    _planner, courier, order, stop = published
    other = make_user(Role.COURIER)
    login(client, other)
    assert client.get(f"/courier/stops/{stop.id}").status_code == 404
    assert client.post(f"/courier/stops/{stop.id}", data={"crates-ECO33": "10"}).status_code == 404
    client.get("/logout")
    login(client, courier)
    page = client.get(f"/courier/stops/{stop.id}")
    assert page.status_code == 200 and "geo:" in page.text and "openstreetmap" in page.text
    too_many = client.post(f"/courier/stops/{stop.id}", data={"crates-ECO33": "11"})
    assert too_many.status_code == 422 and "11" in too_many.text
    db.expire_all()
    assert stop.done_at is None and order.status is OrderStatus.CONFIRMED
    garbage = client.post(f"/courier/stops/{stop.id}", data={"crates-ECO33": "ten"})
    assert garbage.status_code == 422 and stop.done_at is None
    done = client.post(f"/courier/stops/{stop.id}", data={"crates-ECO33": "10", "problem": ""})
    assert done.status_code == 302
    db.expire_all()
    assert order.status is OrderStatus.AT_EVENT and stop.done_at is not None
    again = client.post(f"/courier/stops/{stop.id}", data={"crates-ECO33": "10"})
    assert again.status_code == 409


def test_organiser_cannot_open_the_courier_view(client, make_user):
    login(client, make_user())
    assert client.get("/courier/").status_code == 403
