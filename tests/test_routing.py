"""Courier routes: the solver wrapper, stops from orders, plans, bad input and the courier's
confirmations feeding the stock ledger."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.conftest import local
from wash_ops.accounts.models import Role
from wash_ops.db import utcnow
from wash_ops.errors import Conflict, Forbidden, InvalidInput, NotFound
from wash_ops.inventory.journey import held_cups
from wash_ops.inventory.models import StockState
from wash_ops.orders.models import OrderStatus
from wash_ops.orders.services import confirm_order, submit_order
from wash_ops.routing.matrix import haversine_m, offline_matrix, travel_matrix
from wash_ops.routing.models import StopKind
from wash_ops.routing.services import (
    VehicleEdit,
    add_manual_stop,
    assign_courier,
    confirm_stop,
    fleet,
    move_stop,
    plan_day,
    plan_for,
    publish_plan,
    routes_of_courier,
    stops_for_day,
    sync_vehicles,
    update_vehicle,
)
from wash_ops.routing.solver import Problem, Reason, SolverStop, SolverVehicle, solve

# --- the solver on its own ---------------------------------------------------------------


def _line_problem(stops, vehicles, size=4):
    distance = [[abs(i - j) * 1000 for j in range(size)] for i in range(size)]
    return Problem(distance, [distance], stops, vehicles)


def test_solver_serves_delivery_and_pickup_and_reports_what_cannot_be_served():
    vehicle = SolverVehicle("V", capacity=10, shift_start=0, shift_end=10_000, durations=0)
    stops = [
        SolverStop("a", 1, delivery=4, pickup=3, service_s=60, tw_early=0, tw_late=5000),
        SolverStop("big", 2, delivery=11),  # more than the vehicle carries
        SolverStop("late", 3, delivery=1, tw_early=20_000, tw_late=21_000),  # after the shift
    ]
    solution = solve(_line_problem(stops, [vehicle]), 0.3)
    served = [visit.stop for route in solution.routes for visit in route.visits]
    assert served == [0]
    assert solution.unserved == {1: Reason.CAPACITY, 2: Reason.TIME_WINDOW}
    assert not solution.complete
    visit = solution.routes[0].visits[0]
    assert visit.load_after == 3 and visit.start >= 1000


def test_solver_range_and_zero_capacity_and_reloads():
    bike = SolverVehicle(
        "B",
        capacity=2,
        shift_start=0,
        shift_end=100_000,
        durations=0,
        max_distance=7000,
        max_reloads=5,
    )
    stops = [
        SolverStop("far", 4, delivery=1),
        SolverStop(f"n{0}", 1, delivery=2),
        SolverStop("n1", 1, delivery=2),
        SolverStop("n2", 1, delivery=2),
    ]
    solution = solve(_line_problem(stops, [bike], size=5), 0.3)
    assert solution.unserved == {0: Reason.RANGE}
    assert solution.routes[0].trips == 3  # six crates on a two-crate bike: three trips
    empty = SolverVehicle("Z", capacity=0, shift_start=0, shift_end=100_000, durations=0)
    solution = solve(_line_problem([SolverStop("x", 1, delivery=1)], [empty]), 0.2)
    assert solution.unserved == {0: Reason.CAPACITY} and solution.routes == []


def test_matrix_is_integer_metres_with_the_detour_and_osrm_falls_back():
    gent, aalst = (51.0543, 3.7174), (50.9378, 4.0410)
    matrix = offline_matrix([gent, aalst], 1.3)
    assert matrix.distance_m[0][1] == round(haversine_m(gent, aalst) * 1.3)
    assert 25_000 < matrix.distance_m[0][1] < 35_000
    fallback = travel_matrix([gent, aalst], 1.3, "http://127.0.0.1:9", timeout_s=0.5)
    assert fallback.source == "haversine" and fallback.distance_m == matrix.distance_m


# --- plans from orders -------------------------------------------------------------------


@pytest.fixture
def fleet_ready(db, settings, make_user):
    courier = make_user(Role.COURIER)
    vehicles = sync_vehicles(db, settings)
    for vehicle in vehicles:
        vehicle.courier = courier if vehicle.code == "VAN1" else None
    db.flush()
    return courier


@pytest.fixture
def confirmed(db, settings, make_user, make_order, pool_stock):
    planner = make_user(Role.PLANNER)
    organiser = make_user()

    def make(quantities, days=3):
        order = make_order(organiser, quantities, days=days)
        submit_order(db, settings, organiser, order, utcnow())
        confirm_order(db, settings, planner, order, utcnow())
        return order

    return planner, make


def _delivery_day(order, settings):
    return order.delivery_start.astimezone(settings.zone).date()


def test_orders_give_stops_split_over_the_largest_vehicle(db, settings, fleet_ready, confirmed):
    _planner, make = confirmed
    order = make({"ECO33": 12000, "ECO50": 600})  # 150 + 10 crates; the van takes 120
    stops = [
        s
        for s in stops_for_day(db, settings, _delivery_day(order, settings))
        if s.order_id == order.id
    ]
    assert [s.kind for s in stops] == [StopKind.DELIVERY, StopKind.DELIVERY]
    assert sum(s.crates for s in stops) == 160 and max(s.crates for s in stops) <= 120
    cups = {}
    for stop in stops:
        for line in stop.lines:
            cups[line["code"]] = cups.get(line["code"], 0) + line["cups"]
    assert cups == {"ECO33": 12000, "ECO50": 600}


def test_plan_serves_the_day_and_courier_confirms_into_the_ledger(
    db, settings, fleet_ready, confirmed, make_user
):
    planner, make = confirmed
    order = make({"ECO33": 800})  # 10 crates
    day = _delivery_day(order, settings)
    plan = plan_day(db, settings, day, utcnow(), planner, time_limit_s=0.5)
    assert plan.complete and plan.unserved == []
    stop = next(s for s in plan.stops if s.order_id == order.id)
    assert stop.route is not None and stop.arrives_at is not None
    assert order.delivery_start <= stop.arrives_at <= order.delivery_end
    courier = fleet_ready
    assert routes_of_courier(db, courier, day) == []  # not published yet
    publish_plan(db, planner, plan.id, utcnow())
    stop.route.courier_id = courier.id
    db.flush()
    assert [r.id for r in routes_of_courier(db, courier, day)] == [stop.route.id]

    other = make_user(Role.COURIER)
    with pytest.raises(NotFound):
        confirm_stop(db, other, stop.id, {"ECO33": 10}, "", utcnow())
    with pytest.raises(InvalidInput) as too_many:
        confirm_stop(db, courier, stop.id, {"ECO33": 11}, "", utcnow())
    assert too_many.value.first.field == "crates.ECO33"
    assert stop.done_at is None and order.status is OrderStatus.CONFIRMED

    confirm_stop(db, courier, stop.id, {"ECO33": 9}, "one crate left at the depot", utcnow())
    assert order.status is OrderStatus.AT_EVENT
    assert held_cups(db, order, StockState.AT_EVENT) == {"ECO33": 720}
    with pytest.raises(Conflict):
        confirm_stop(db, courier, stop.id, {"ECO33": 9}, "", utcnow())
    route = stop.route
    plan = plan_day(db, settings, day, utcnow(), planner, time_limit_s=0.3)
    assert stop.done_at is not None and stop.route is route and route in plan.routes


def test_replan_keeps_done_and_locked_stops_and_moves_on_request(
    db, settings, fleet_ready, confirmed
):
    planner, make = confirmed
    first = make({"ECO33": 400})
    make({"ECO25": 300})
    day = _delivery_day(first, settings)
    plan = plan_day(db, settings, day, utcnow(), planner, time_limit_s=0.3)
    bike = next(v for v in fleet(db) if v.code == "BIKE2")
    stop = next(s for s in plan.stops if s.order_id == first.id)
    plan = move_stop(db, settings, planner, stop.id, bike.id, utcnow())
    assert stop.locked and stop.route is not None and stop.route.vehicle_id == bike.id
    plan = plan_day(db, settings, day, utcnow(), planner, time_limit_s=0.3)
    assert stop.route.vehicle_id == bike.id  # still there after a re-plan


def test_the_planner_chooses_a_routes_courier_for_its_day(
    db, settings, fleet_ready, confirmed, make_user
):
    planner, make = confirmed
    first, second = make({"ECO33": 400}), make({"ECO25": 300})
    day = _delivery_day(first, settings)
    plan_day(db, settings, day, utcnow(), planner, time_limit_s=0.3)
    bikes = {v.code: v for v in fleet(db)}
    for order, code in ((first, "BIKE1"), (second, "BIKE2")):
        plan = plan_for(db, day)
        stop = next(s for s in plan.stops if s.order_id == order.id)
        move_stop(db, settings, planner, stop.id, bikes[code].id, utcnow())  # locks it there
    plan = plan_for(db, day)
    publish_plan(db, planner, plan.id, utcnow())
    route = next(r for r in plan.routes if r.vehicle_id == bikes["BIKE1"].id)
    other = next(r for r in plan.routes if r.vehicle_id == bikes["BIKE2"].id)
    stand_in = make_user(Role.COURIER)

    assign_courier(db, planner, route.id, str(stand_in.id))
    assert [r.id for r in routes_of_courier(db, stand_in, day)] == [route.id]
    plan = plan_day(db, settings, day, utcnow(), planner, time_limit_s=0.3)
    again = next(r for r in plan.routes if r.vehicle_id == bikes["BIKE1"].id)
    assert again.courier_id == stand_in.id and again.courier_chosen  # a re-plan keeps it

    other.starts_at, other.ends_at = again.starts_at, again.ends_at
    db.flush()
    with pytest.raises(Conflict) as busy:  # one courier, two routes at the same time
        assign_courier(db, planner, other.id, str(stand_in.id))
    assert busy.value.first.field == "courier_id"
    with pytest.raises(InvalidInput):
        assign_courier(db, planner, other.id, str(planner.id))  # not a courier
    with pytest.raises(InvalidInput):
        assign_courier(db, planner, other.id, "someone")
    with pytest.raises(NotFound):
        assign_courier(db, planner, 987654, str(stand_in.id))
    with pytest.raises(Forbidden):
        assign_courier(db, stand_in, other.id, str(stand_in.id))
    assert other.courier_id is None and not other.courier_chosen  # nothing changed

    assign_courier(db, planner, again.id, "")
    assert again.courier_id == bikes["BIKE1"].courier_id and not again.courier_chosen


def test_bad_input_for_manual_stops_and_vehicles(db, settings, fleet_ready, make_user):
    planner = make_user(Role.PLANNER)
    start = local(settings, 2, 9)
    base = dict(
        day=start.date(),
        label="Repair",
        address="",
        window_start=start,
        window_end=start + timedelta(hours=2),
    )
    with pytest.raises(InvalidInput) as none:
        add_manual_stop(db, settings, planner, lat=None, lon=None, **base)
    assert none.value.first.field == "lat"
    with pytest.raises(InvalidInput) as far:
        add_manual_stop(db, settings, planner, lat=50.85, lon=2.9, **base)  # Ieper, > 60 km
    assert "service area" in far.value.first.message
    with pytest.raises(InvalidInput) as window:
        add_manual_stop(
            db,
            settings,
            planner,
            lat=51.05,
            lon=3.72,
            **{**base, "window_end": start - timedelta(hours=1)},
        )
    assert window.value.first.field == "window_end"
    vehicle = fleet(db)[0]
    with pytest.raises(InvalidInput):
        update_vehicle(db, planner, vehicle.id, VehicleEdit("-3", None, True))
    assert vehicle.capacity_crates == 8 and not vehicle.edited
    bad_fields = dict(
        speed_kmh="fast",
        shift_start="07:00",
        shift_end="06:00",
        max_distance_km="-5",
        cost_per_km_cents="1.5",
        cost_per_hour_cents="nan",
    )
    with pytest.raises(InvalidInput) as every:
        update_vehicle(db, planner, vehicle.id, VehicleEdit(10, None, True, **bad_fields))
    assert {p.field for p in every.value.problems} == {
        "speed_kmh",
        "shift_end",
        "max_distance_km",
        "cost_per_km_cents",
        "cost_per_hour_cents",
    }
    assert (vehicle.capacity_crates, vehicle.speed_kmh, vehicle.max_distance_km) == (8, 15.0, 60.0)
    good_fields = dict(
        speed_kmh="18,5",
        shift_start="08:00",
        shift_end="16:30",
        max_distance_km="",
        cost_per_km_cents="7",
        cost_per_hour_cents="2400",
    )
    update_vehicle(db, planner, vehicle.id, VehicleEdit("9", None, False, **good_fields))
    assert (vehicle.capacity_crates, vehicle.speed_kmh, vehicle.max_distance_km) == (9, 18.5, None)
    assert vehicle.shift_start.isoformat() == "08:00:00" and not vehicle.active
    assert (vehicle.cost_per_km_cents, vehicle.cost_per_hour_cents) == (7, 2400) and vehicle.edited


def test_more_crates_than_any_vehicle_is_reported_never_dropped(
    db, settings, fleet_ready, make_user
):
    planner = make_user(Role.PLANNER)
    for vehicle in fleet(db):
        update_vehicle(db, planner, vehicle.id, VehicleEdit(0, None, True))
    start = local(settings, 2, 9)
    manual = add_manual_stop(
        db,
        settings,
        planner,
        day=start.date(),
        label="Big drop",
        address="",
        lat=51.05,
        lon=3.72,
        window_start=start,
        window_end=start + timedelta(hours=3),
        deliver_crates=5,
    )
    plan = plan_day(db, settings, start.date(), utcnow(), planner, time_limit_s=0.2)
    stop = next(s for s in plan.stops if s.manual_stop_id == manual.id)
    assert stop.route is None and stop.unserved_reason == "capacity"
    assert not plan.complete


def test_config_refuses_a_vehicle_whose_shift_ends_before_it_starts():
    from wash_ops.config import ConfigError, load_settings

    bad = {
        "vehicles": [
            {
                "code": "X1",
                "name": "X",
                "capacity_crates": 1,
                "speed_kmh": 10,
                "shift_start": "10:00",
                "shift_end": "09:00",
            }
        ]
    }
    with pytest.raises(ConfigError, match="vehicles.0"):
        load_settings(environ={}, overrides=bad)


def test_worker_plans_tomorrow_at_the_configured_hour(db, settings, session_factory, fleet_ready):
    from plc.worker import Worker
    from wash_ops.routing.services import plan_for
    from wash_ops.telemetry.register_map import load_register_map

    worker = Worker(settings, load_register_map(), session_factory, schedule=True)
    assert worker.scheduler is not None
    worker.scheduler.start = lambda *args, **kwargs: None  # jobs registered, not run
    worker._start_jobs()
    job = worker.scheduler.get_job("route-planning")
    assert job is not None and "hour='17'" in str(job.trigger)
    tomorrow = utcnow().astimezone(settings.zone).date() + timedelta(days=1)
    worker.plan_tomorrow()
    db.expire_all()
    plan = plan_for(db, tomorrow)
    assert plan is not None and plan.status.value == "draft"


def test_a_full_day_serves_what_fits_and_calls_the_rest_fleet_full():
    vehicle = SolverVehicle("V", capacity=10, shift_start=0, shift_end=5000, durations=0)
    # Both stops must be served at 2000 s exactly, 1 km apart: one vehicle serves only one.
    stops = [
        SolverStop("a", 1, delivery=1, tw_early=2000, tw_late=2000),
        SolverStop("b", 2, delivery=1, tw_early=2000, tw_late=2000),
    ]
    solution = solve(_line_problem(stops, [vehicle]), 0.3)
    assert len([v for r in solution.routes for v in r.visits]) == 1
    assert list(solution.unserved.values()) == [Reason.FLEET_FULL]
    assert solution.feasible and not solution.complete


def test_demo_plans_and_publishes_routes(db, settings):
    from wash_ops.demo import plan_demo_routes, seed_demo

    now = datetime.fromisoformat("2027-03-31T08:30").replace(tzinfo=settings.zone)
    seed_demo(db, settings, now)
    plans = plan_demo_routes(db, settings, now, days=3, time_limit_s=0.3)
    today = next(plan for plan in plans if plan.day == now.date())
    assert today.status.value == "published" and today.routes
    assert any(route.courier is not None for plan in plans for route in plan.routes)


def test_osrm_table_is_used_when_it_answers():
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Table(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server interface
            assert self.path.startswith("/table/v1/driving/3.717400,51.054300;4.041000,50.937800")
            body = json.dumps({"code": "Ok", "distances": [[0, 31234.4], [30987.6, 0]]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Table)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        matrix = travel_matrix([(51.0543, 3.7174), (50.9378, 4.0410)], 1.3, url, timeout_s=2)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert matrix.source == "osrm" and matrix.distance_m == [[0, 31234], [30988, 0]]


def test_a_stop_confirmed_while_the_solver_runs_keeps_its_confirmation(
    db, settings, fleet_ready, confirmed
):
    from wash_ops.routing.services import prepare_plan, solve_prepared, store_plan

    planner, make = confirmed
    order = make({"ECO33": 800})
    day = _delivery_day(order, settings)
    plan = plan_day(db, settings, day, utcnow(), planner, time_limit_s=0.2)
    publish_plan(db, planner, plan.id, utcnow())
    stop = next(s for s in plan.stops if s.order_id == order.id)
    route, sequence = stop.route, stop.sequence
    prepared = prepare_plan(db, settings, day, utcnow(), planner, time_limit_s=0.2)
    solution = solve_prepared(prepared)
    stop.route.courier_id = fleet_ready.id
    confirm_stop(db, fleet_ready, stop.id, {"ECO33": 10}, "", utcnow())  # meanwhile
    store_plan(db, settings, prepared, solution, utcnow())
    assert stop.done_at is not None and stop.route is route and stop.sequence == sequence
