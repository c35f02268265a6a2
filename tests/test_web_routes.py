"""The courier's phone view and the planner's route page over HTTP: ownership, bad input, and
no change when refused."""

from __future__ import annotations

import re

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


def test_planner_plans_moves_publishes_and_bad_input_changes_nothing(
    client, db, settings, make_user, published
):
    planner, _courier, order, stop = published
    login(client, planner)
    day = stop.plan.day.isoformat()
    page = client.get(f"/office/routes?day={day}")
    assert (
        page.status_code == 200 and 'id="route-map"' in page.text and "vendor/leaflet" in page.text
    )
    assert client.get("/office/routes?day=not-a-date").status_code == 400
    live = client.get(f"/office/routes/progress.json?day={day}")
    assert live.status_code == 200 and live.json == {"done": {}, "total": 1}
    assert client.get("/office/routes/progress.json?day=2026-02-30").status_code == 400
    replan = client.post("/office/routes/plan", data={"day": day})
    assert replan.status_code == 302 and "job=" in replan.headers["Location"]
    bad_move = client.post(
        f"/office/routes/stops/{stop.id}/move", data={"day": day, "vehicle_id": "x"}
    )
    assert bad_move.status_code == 422
    missing = client.post("/office/routes/stops/999999/lock", data={"day": day, "locked": "1"})
    assert missing.status_code == 404
    far = client.post(
        "/office/routes/manual",
        data={
            "day": day,
            "label": "Far away",
            "lat": "50.85",
            "lon": "2.9",
            "window_start": "09:00",
            "window_end": "11:00",
        },
    )
    assert far.status_code == 422 and "werkgebied" in far.text
    backwards = client.post(
        "/office/routes/manual",
        data={
            "day": day,
            "label": "Backwards",
            "lat": "51.05",
            "lon": "3.72",
            "window_start": "11:00",
            "window_end": "09:00",
        },
    )
    assert backwards.status_code == 422
    vehicle = stop.route.vehicle
    zero = client.post(
        f"/office/routes/vehicles/{vehicle.id}",
        data={"day": day, "capacity_crates": "lots", "active": "1"},
    )
    assert zero.status_code == 422
    db.expire_all()
    assert vehicle.capacity_crates == 120
    form = {
        "day": day,
        "capacity_crates": "100",
        "speed_kmh": "0",
        "shift_start": "06:30",
        "shift_end": "17:30",
        "max_distance_km": "250",
        "cost_per_km_cents": "30",
        "cost_per_hour_cents": "2900",
        "courier_id": "",
        "active": "1",
    }
    slow = client.post(f"/office/routes/vehicles/{vehicle.id}", data=form)
    assert slow.status_code == 422 and "snelheid" in slow.text
    db.expire_all()
    assert (vehicle.capacity_crates, vehicle.speed_kmh) == (120, 50.0)
    saved = client.post(f"/office/routes/vehicles/{vehicle.id}", data={**form, "speed_kmh": "45"})
    assert saved.status_code == 302
    db.expire_all()
    assert (vehicle.capacity_crates, vehicle.speed_kmh, vehicle.max_distance_km) == (100, 45, 250)
    assert vehicle.shift_end.isoformat() == "17:30:00" and vehicle.cost_per_hour_cents == 2900
    route = stop.route
    not_a_courier = client.post(
        f"/office/routes/routes/{route.id}/courier", data={"day": day, "courier_id": planner.id}
    )
    assert not_a_courier.status_code == 422 and "Kies een koerier" in not_a_courier.text
    db.expire_all()
    assert not route.courier_chosen
    stand_in = make_user(Role.COURIER)
    chosen = client.post(
        f"/office/routes/routes/{route.id}/courier", data={"day": day, "courier_id": stand_in.id}
    )
    assert chosen.status_code == 302
    db.expire_all()
    assert route.courier_id == stand_in.id and route.courier_chosen
    page = client.get(f"/office/routes?day={day}")
    assert f'<option value="{stand_in.id}" selected>' in page.text
    assert client.post(f"/office/routes/{stop.plan.id}/publish").status_code == 302


def test_courier_cannot_open_the_planner(client, published):
    _planner, courier, _order, _stop = published
    login(client, courier)
    assert client.get("/office/routes").status_code == 403


def test_office_sees_the_planned_window_on_the_order(client, published):
    planner, _courier, order, _stop = published
    login(client, planner)
    detail = client.get(f"/office/orders/{order.id}")
    assert detail.status_code == 200 and 'class="planned"' in detail.text


def test_organiser_sees_the_planned_window_and_the_calendar_feed(client, db, published):
    _planner, _courier, order, stop = published
    organiser = next(u for u in order.organisation.users)
    login(client, organiser)
    detail = client.get(f"/organiser/orders/{order.id}")
    assert detail.status_code == 200 and 'class="planned"' in detail.text
    listing = client.get("/organiser/orders")
    match = re.search(r'href="(http://localhost/calendar/[^"]+\.ics)"', listing.text)
    assert match, "no calendar address on the orders page"
    client.get("/logout")
    feed = client.get(match.group(1).replace("http://localhost", ""))
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    text = feed.get_data(as_text=True)
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.count("BEGIN:VEVENT") == 1
    assert f"UID:delivery-{order.id}@wash-ops" in text
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    assert client.get("/calendar/not-a-real-token-at-all.ics").status_code == 404
    assert client.get("/calendar/x.ics").status_code == 404
