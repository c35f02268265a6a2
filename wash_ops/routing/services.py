"""Route planning: the fleet, the stops of a day, plans (solve, lock, move, publish) and the
courier's confirmations, which move the cups in the stock ledger."""

from __future__ import annotations

import math
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from wash_ops.accounts.models import Role, User
from wash_ops.config import Settings
from wash_ops.db import utcnow
from wash_ops.errors import N_, Conflict, Forbidden, InvalidInput, NotFound, Problems
from wash_ops.geo.places import distance_km
from wash_ops.inventory.journey import deliver_order, held_cups, load_order, pick_up_order
from wash_ops.inventory.models import StockState
from wash_ops.orders.models import Order, OrderStatus, Service
from wash_ops.orders.services import courier_legs_on
from wash_ops.routing.matrix import haversine_m, seconds_at, travel_matrix
from wash_ops.routing.models import (
    CalendarFeed,
    ManualStop,
    PlanStatus,
    Route,
    RoutePlan,
    RouteStop,
    StopKind,
    Vehicle,
)
from wash_ops.routing.solver import Problem, Solution, SolverStop, SolverVehicle, solve

MAX_NOTE = 500
DAY_S = 24 * 3600
# Cost weights on metres and seconds, in thousandths of a cent: cents per km × 1 per metre,
# cents per hour ÷ 3.6 per second (rounded to whole numbers by the caller).
KM_WEIGHT, HOUR_WEIGHT = 1, 1 / 3.6


# --- fleet ------------------------------------------------------------------------------


def sync_vehicles(session: Session, settings: Settings) -> list[Vehicle]:
    """Bring the configured fleet into the database; a vehicle the planner edited keeps his
    changes, an unconfigured vehicle goes inactive."""
    existing = {vehicle.code: vehicle for vehicle in session.scalars(select(Vehicle))}
    configured = set()
    for entry in settings.vehicles:
        configured.add(entry.code)
        vehicle = existing.get(entry.code)
        if vehicle is not None and vehicle.edited:
            continue
        vehicle = vehicle or Vehicle(code=entry.code)
        for key in (
            "name",
            "capacity_crates",
            "speed_kmh",
            "shift_start",
            "shift_end",
            "max_distance_km",
            "cost_per_km_cents",
            "cost_per_hour_cents",
            "max_reloads",
        ):
            setattr(vehicle, key, getattr(entry, key))
        courier = None
        if entry.courier_email:
            courier = session.scalar(
                select(User).where(User.email == entry.courier_email, User.role == Role.COURIER)
            )
        vehicle.courier = courier
        vehicle.active = True
        session.add(vehicle)
    for code, vehicle in existing.items():
        if code not in configured:
            vehicle.active = False
    session.flush()
    return fleet(session)


def fleet(session: Session, active_only: bool = False) -> list[Vehicle]:
    query = select(Vehicle).order_by(Vehicle.code)
    if active_only:
        query = query.where(Vehicle.active)
    return list(session.scalars(query))


def couriers(session: Session) -> list[User]:
    return list(
        session.scalars(
            select(User).where(User.role == Role.COURIER, User.active).order_by(User.name)
        )
    )


@dataclass(frozen=True)
class VehicleEdit:
    """The planner's edit of a vehicle, as typed: every field is checked before any is set."""

    capacity_crates: object
    courier_id: object
    active: bool
    speed_kmh: object = None  # None: unchanged (the other fields likewise)
    shift_start: object = None
    shift_end: object = None
    max_distance_km: object = None  # "" or 0: no range limit
    cost_per_km_cents: object = None
    cost_per_hour_cents: object = None


def update_vehicle(session: Session, actor: User, vehicle_id: int, edit: VehicleEdit) -> Vehicle:
    """The planner's edit: capacity, courier, whether the vehicle is in service, and (when
    given) speed, shift, range and costs. Nothing changes unless every field is right."""
    _require_office(actor)
    vehicle = session.get(Vehicle, vehicle_id)
    if vehicle is None:
        raise NotFound(N_("This vehicle does not exist."))
    problems = Problems()
    capacity = _whole(edit.capacity_crates)
    if capacity is None or capacity < 0 or capacity > 10_000:
        problems.add("capacity_crates", N_("Enter a capacity between 0 and 10000 crates."))
    courier = None
    if edit.courier_id not in (None, "", 0):
        courier_number = _whole(edit.courier_id)
        courier = session.get(User, courier_number) if courier_number is not None else None
        if courier is None or courier.role is not Role.COURIER:
            problems.add("courier_id", N_("Choose a courier."))
    changes = _vehicle_changes(vehicle, edit, problems)
    problems.raise_if_any()
    assert capacity is not None
    vehicle.capacity_crates = capacity
    vehicle.courier = courier
    vehicle.active = bool(edit.active)
    for name, value in changes.items():
        setattr(vehicle, name, value)
    vehicle.edited = True
    session.flush()
    return vehicle


def _vehicle_changes(vehicle: Vehicle, edit: VehicleEdit, problems: Problems) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if edit.speed_kmh is not None:
        speed = _number(edit.speed_kmh)
        if speed is None or not 1 <= speed <= 200:
            problems.add("speed_kmh", N_("Enter a speed between 1 and 200 km/h."))
        else:
            changes["speed_kmh"] = speed
    starts = _clock(edit.shift_start) if edit.shift_start is not None else vehicle.shift_start
    ends = _clock(edit.shift_end) if edit.shift_end is not None else vehicle.shift_end
    if starts is None:
        problems.add("shift_start", N_("Enter a time as HH:MM."))
    if ends is None:
        problems.add("shift_end", N_("Enter a time as HH:MM."))
    if starts is not None and ends is not None:
        if ends <= starts:
            problems.add("shift_end", N_("The shift must end after it starts."))
        else:
            changes["shift_start"], changes["shift_end"] = starts, ends
    if edit.max_distance_km is not None:
        if edit.max_distance_km in ("", 0):
            changes["max_distance_km"] = None
        else:
            distance = _number(edit.max_distance_km)
            if distance is None or not 1 <= distance <= 2000:
                problems.add(
                    "max_distance_km", N_("Enter a range between 1 and 2000 km, or leave it empty.")
                )
            else:
                changes["max_distance_km"] = distance
    for name in ("cost_per_km_cents", "cost_per_hour_cents"):
        raw = getattr(edit, name)
        if raw is None:
            continue
        cents = _whole(raw)
        if cents is None or not 0 <= cents <= 1_000_000:
            problems.add(name, N_("Enter a whole number of cents between 0 and 1000000."))
        else:
            changes[name] = cents
    return changes


def _number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip().replace(",", "."))
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _clock(value: object) -> time | None:
    if isinstance(value, time):
        return value
    if not isinstance(value, str):
        return None
    try:
        return time.fromisoformat(value.strip())
    except ValueError:
        return None


def _whole(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())
    return None


# --- stops ------------------------------------------------------------------------------


@dataclass
class StopDraft:
    key: str
    kind: StopKind
    label: str
    address: str
    lat: float
    lon: float
    window_start: datetime
    window_end: datetime
    crates: int
    lines: list[dict[str, Any]] = field(default_factory=list)
    order_id: int | None = None
    manual_stop_id: int | None = None
    deliver: int = 0
    collect: int = 0


def service_seconds(settings: Settings, crates: int) -> int:
    return settings.routing.service_base_s + settings.routing.service_per_crate_s * crates


def stops_for_day(session: Session, settings: Settings, day: date) -> list[StopDraft]:
    """Every courier leg of the confirmed orders on ``day`` and the manual stops, an order's
    crates split into parts no larger than the largest vehicle (served on several trips)."""
    largest = max((v.capacity_crates for v in fleet(session, active_only=True)), default=0)
    drafts: list[StopDraft] = []
    for leg in courier_legs_on(session, settings, day):
        order, event = leg.order, leg.order.event
        kind = StopKind.DELIVERY if leg.kind == "delivery" else StopKind.PICKUP
        lines = [
            {"code": line.cup_type.code, "cups": line.quantity, "crates": line.crates}
            for line in order.lines
        ]
        address = " ".join(part for part in (event.address, event.postcode, event.place) if part)
        for part, part_lines in enumerate(_split(lines, largest)):
            crates = sum(line["crates"] for line in part_lines)
            drafts.append(
                StopDraft(
                    key=f"{kind.value}:{order.id}:{part}",
                    kind=kind,
                    label=event.name,
                    address=address,
                    lat=event.lat,
                    lon=event.lon,
                    window_start=leg.starts,
                    window_end=leg.ends,
                    crates=crates,
                    lines=part_lines,
                    order_id=order.id,
                    deliver=crates if kind is StopKind.DELIVERY else 0,
                    collect=crates if kind is StopKind.PICKUP else 0,
                )
            )
    for manual in manual_stops_on(session, day):
        drafts.append(
            StopDraft(
                key=f"manual:{manual.id}",
                kind=StopKind.MANUAL,
                label=manual.label,
                address=manual.address,
                lat=manual.lat,
                lon=manual.lon,
                window_start=manual.window_start,
                window_end=manual.window_end,
                crates=manual.deliver_crates + manual.collect_crates,
                manual_stop_id=manual.id,
                deliver=manual.deliver_crates,
                collect=manual.collect_crates,
            )
        )
    return drafts


def _split(lines: list[dict[str, Any]], largest: int) -> list[list[dict[str, Any]]]:
    """Parts of at most ``largest`` crates (whole crates, cups kept per cup type); one part
    when no vehicle has room (the stop is then reported, never dropped)."""
    total = sum(line["crates"] for line in lines)
    if largest <= 0 or total <= largest:
        return [lines]
    parts: list[list[dict[str, Any]]] = []
    current: list[dict[str, Any]] = []
    room = largest
    for line in lines:
        cups, crates = line["cups"], line["crates"]
        per_crate = math.ceil(cups / crates) if crates else cups
        while crates > 0:
            take = min(room, crates)
            taken_cups = min(cups, take * per_crate)
            current.append({"code": line["code"], "cups": taken_cups, "crates": take})
            cups -= taken_cups
            crates -= take
            room -= take
            if room == 0:
                parts.append(current)
                current, room = [], largest
    if current:
        parts.append(current)
    return parts


def manual_stops_on(session: Session, day: date) -> list[ManualStop]:
    return list(session.scalars(select(ManualStop).where(ManualStop.day == day)))


def add_manual_stop(
    session: Session,
    settings: Settings,
    actor: User,
    *,
    day: date,
    label: str,
    address: str,
    lat: float | None,
    lon: float | None,
    window_start: datetime,
    window_end: datetime,
    deliver_crates: object = 0,
    collect_crates: object = 0,
    notes: str = "",
) -> ManualStop:
    _require_office(actor)
    problems = Problems()
    label = (label or "").strip()
    if not label:
        problems.add("label", N_("Say what the stop is for."))
    elif len(label) > 120:
        problems.add("label", N_("Keep the name under %(count)s characters."), count=120)
    check_place(settings, lat, lon, problems)
    if window_end <= window_start:
        problems.add("window_end", N_("The time window must close after it opens."))
    deliver, collect = _whole(deliver_crates), _whole(collect_crates)
    for name, value in (("deliver_crates", deliver), ("collect_crates", collect)):
        if value is None or value < 0 or value > 10_000:
            problems.add(name, N_("Enter a number of crates between 0 and 10000."))
    if len(notes) > MAX_NOTE:
        problems.add("notes", N_("Keep the notes under %(count)s characters."), count=MAX_NOTE)
    problems.raise_if_any()
    assert lat is not None and lon is not None and deliver is not None and collect is not None
    stop = ManualStop(
        day=day,
        label=label,
        address=(address or "").strip()[:200],
        lat=lat,
        lon=lon,
        window_start=window_start,
        window_end=window_end,
        deliver_crates=deliver,
        collect_crates=collect,
        notes=notes.strip(),
        created_by_id=actor.id,
    )
    session.add(stop)
    session.flush()
    return stop


def check_place(
    settings: Settings, lat: float | None, lon: float | None, problems: Problems
) -> None:
    """A stop needs coordinates within the site's service area."""
    if lat is None or lon is None or not isinstance(lat, int | float):
        problems.add("lat", N_("A stop needs its coordinates."))
        return
    if not (-90 <= lat <= 90 and -180 <= float(lon) <= 180):
        problems.add("lat", N_("These are not valid coordinates."))
        return
    away = distance_km(settings.site.lat, settings.site.lon, lat, float(lon))
    if away > settings.site.service_radius_km:
        problems.add(
            "lat",
            N_("This place is %(away)s km away, outside our service area of %(radius)s km."),
            away=round(away),
            radius=round(settings.site.service_radius_km),
        )


# --- planning ---------------------------------------------------------------------------


def plan_for(session: Session, day: date) -> RoutePlan | None:
    return session.scalar(
        select(RoutePlan)
        .where(RoutePlan.day == day)
        .options(selectinload(RoutePlan.routes), selectinload(RoutePlan.stops))
    )


def plan_day(
    session: Session,
    settings: Settings,
    day: date,
    now: datetime,
    actor: User | None = None,
    time_limit_s: float | None = None,
) -> RoutePlan:
    """Plan (or re-plan) the routes of ``day``. Stops already done stay where they were and
    their vehicle goes on from there; locked stops stay on their vehicle; the rest is solved
    anew. Stops the solver cannot serve are kept with the reason, unrouted."""
    prepared = prepare_plan(session, settings, day, now, actor, time_limit_s)
    return store_plan(session, settings, prepared, solve_prepared(prepared), now)


@dataclass
class PreparedPlan:
    """A day's routing problem, with the ids to store its answer by: the solve can then run
    outside any database transaction (a background re-plan must not hold SQLite's lock)."""

    plan_id: int
    day: date
    stop_ids: list[int]  # the open stops, in the order of problem.stops
    vehicle_ids: list[int]  # in the order of problem.vehicles
    problem: Problem
    travelled: dict[int, int]
    matrix_source: str
    time_limit_s: float


def solve_prepared(prepared: PreparedPlan) -> Solution:
    if not prepared.problem.stops:
        return Solution([])
    return solve(prepared.problem, prepared.time_limit_s)


def prepare_plan(
    session: Session,
    settings: Settings,
    day: date,
    now: datetime,
    actor: User | None = None,
    time_limit_s: float | None = None,
) -> PreparedPlan:
    """The stops of the day brought up to date in the plan (flushed), and the problem."""
    if actor is not None:
        _require_office(actor)
    zone = settings.zone
    midnight = datetime.combine(day, time(), zone)
    plan = plan_for(session, day)
    if plan is None:
        plan = RoutePlan(day=day, created_by_id=actor.id if actor else None)
        session.add(plan)
        session.flush()
    existing = {stop.key: stop for stop in plan.stops}
    drafts = stops_for_day(session, settings, day)
    wanted = {draft.key for draft in drafts}
    for key, stop in list(existing.items()):
        if key not in wanted and stop.done_at is None:
            plan.stops.remove(stop)
            session.delete(stop)
            del existing[key]
    for draft in drafts:
        stop = existing.get(draft.key)
        if stop is None:
            stop = RouteStop(key=draft.key, plan=plan)
            session.add(stop)
            existing[draft.key] = stop
        if stop.done_at is not None:
            continue
        stop.kind, stop.order_id, stop.manual_stop_id = (
            draft.kind,
            draft.order_id,
            draft.manual_stop_id,
        )
        stop.label, stop.address = draft.label[:120], draft.address[:200]
        stop.lat, stop.lon = draft.lat, draft.lon
        stop.window_start, stop.window_end = draft.window_start, draft.window_end
        stop.crates, stop.lines = draft.crates, draft.lines
        stop.service_s = service_seconds(settings, draft.crates)
    session.flush()
    deliver = {draft.key: draft.deliver for draft in drafts}
    collect = {draft.key: draft.collect for draft in drafts}

    vehicles = fleet(session, active_only=True)
    open_stops = [stop for stop in plan.stops if stop.done_at is None]
    done = [stop for stop in plan.stops if stop.done_at is not None]
    points = [(settings.site.lat, settings.site.lon)] + [(s.lat, s.lon) for s in open_stops]
    # Where a vehicle with stops done today goes on from: its last stop done, not before now.
    position: dict[int, tuple[int, int]] = {}
    travelled: dict[int, int] = {}
    routing = settings.routing
    for route in plan.routes:
        finished = sorted((s for s in done if s.route is route), key=lambda s: s.sequence)
        if finished:
            last = max(finished, key=lambda s: s.done_at or now)
            points.append((last.lat, last.lon))
            position[route.vehicle_id] = (len(points) - 1, _seconds(now, midnight))
            path = [(settings.site.lat, settings.site.lon)] + [(s.lat, s.lon) for s in finished]
            travelled[route.vehicle_id] = round(
                sum(haversine_m(a, b) for a, b in pairwise(path)) * routing.detour_factor
            )
    matrix = travel_matrix(points, routing.detour_factor, routing.osrm_url, routing.osrm_timeout_s)
    durations = [
        [[seconds_at(d, vehicle.speed_kmh) for d in row] for row in matrix.distance_m]
        for vehicle in vehicles
    ]
    vehicle_index = {vehicle.id: i for i, vehicle in enumerate(vehicles)}
    solver_vehicles = []
    # Planning today: no vehicle leaves before now.
    earliest = max(0, _seconds(now, midnight)) if now.astimezone(zone).date() == day else 0
    for i, vehicle in enumerate(vehicles):
        start_location, not_before = position.get(vehicle.id, (0, earliest))
        not_before = max(not_before, earliest)
        start = max(
            _seconds(datetime.combine(day, vehicle.shift_start, zone), midnight), not_before
        )
        end = _seconds(datetime.combine(day, vehicle.shift_end, zone), midnight)
        solver_vehicles.append(
            SolverVehicle(
                key=vehicle.code,
                capacity=vehicle.capacity_crates,
                shift_start=start,
                shift_end=max(start, end),
                durations=i,
                max_distance=(
                    max(0, round(vehicle.max_distance_km * 1000) - travelled.get(vehicle.id, 0))
                    if vehicle.max_distance_km
                    else None
                ),
                distance_cost=max(1, vehicle.cost_per_km_cents) * KM_WEIGHT,
                duration_cost=round(vehicle.cost_per_hour_cents * HOUR_WEIGHT),
                max_reloads=vehicle.max_reloads,
                start_location=start_location,
            )
        )
    solver_stops = []
    for row, stop in enumerate(open_stops, start=1):
        pinned = None
        if stop.locked and stop.route is not None:
            pinned = vehicle_index.get(stop.route.vehicle_id)
        solver_stops.append(
            SolverStop(
                key=stop.key,
                location=row,
                delivery=deliver.get(stop.key, 0),
                pickup=collect.get(stop.key, 0),
                service_s=stop.service_s,
                tw_early=max(0, _seconds(stop.window_start, midnight)),
                tw_late=max(0, _seconds(stop.window_end, midnight)),
                vehicle=pinned,
            )
        )
    session.flush()
    return PreparedPlan(
        plan_id=plan.id,
        day=day,
        stop_ids=[stop.id for stop in open_stops],
        vehicle_ids=[vehicle.id for vehicle in vehicles],
        problem=Problem(matrix.distance_m, durations, solver_stops, solver_vehicles),
        travelled=travelled,
        matrix_source=matrix.source,
        time_limit_s=time_limit_s if time_limit_s is not None else routing.time_limit_s,
    )


def store_plan(
    session: Session, settings: Settings, prepared: PreparedPlan, solution: Solution, now: datetime
) -> RoutePlan:
    """Write a solution into the plan. A stop confirmed or removed while the solver ran keeps
    what it has; the rest takes the solver's answer."""
    plan = session.get_one(RoutePlan, prepared.plan_id)
    midnight = datetime.combine(prepared.day, time(), settings.zone)
    vehicles = [session.get_one(Vehicle, vehicle_id) for vehicle_id in prepared.vehicle_ids]
    open_stops: list[RouteStop | None] = []
    for stop_id in prepared.stop_ids:
        stop = session.get(RouteStop, stop_id)
        open_stops.append(stop if stop is not None and stop.done_at is None else None)
    done = [stop for stop in plan.stops if stop.done_at is not None]
    route_of = {route.vehicle_id: route for route in plan.routes}
    _store(
        session, plan, vehicles, open_stops, done, solution, midnight, route_of, prepared.travelled
    )
    plan.solve_seconds = round(solution.seconds, 3)
    plan.matrix_source = prepared.matrix_source
    plan.created_at = now
    session.flush()
    return plan


def _seconds(moment: datetime, midnight: datetime) -> int:
    return round((moment - midnight).total_seconds())


def _store(
    session, plan, vehicles, open_stops, done, solution, midnight, route_of, travelled
) -> None:
    open_stops_now = [stop for stop in open_stops if stop is not None]
    for stop in open_stops_now:
        stop.route = None
        stop.arrives_at = stop.departs_at = None
        stop.sequence, stop.trip, stop.load_after = 0, 0, 0
        stop.unserved_reason = ""
    used: set[int] = set()
    for planned in solution.routes:
        vehicle = vehicles[planned.vehicle]
        route = route_of.get(vehicle.id)
        if route is None:
            route = Route(plan=plan, vehicle=vehicle, distance_m=0)
            session.add(route)
            route_of[vehicle.id] = route
        used.add(vehicle.id)
        already = sorted((s for s in done if s.route is route), key=lambda s: s.sequence)
        if not route.courier_chosen:
            route.courier_id = vehicle.courier_id
        route.starts_at = (
            already[0].arrives_at or midnight + timedelta(seconds=planned.start)
            if already
            else midnight + timedelta(seconds=planned.start)
        )
        route.ends_at = midnight + timedelta(seconds=planned.end)
        route.distance_m = travelled.get(vehicle.id, 0) + planned.distance
        route.trips = planned.trips
        visits = [visit for visit in planned.visits if open_stops[visit.stop] is not None]
        for sequence, visit in enumerate(visits, start=len(already) + 1):
            stop = open_stops[visit.stop]
            assert stop is not None
            stop.route = route
            stop.sequence, stop.trip, stop.load_after = sequence, visit.trip, visit.load_after
            stop.arrives_at = midnight + timedelta(seconds=visit.start)
            stop.departs_at = midnight + timedelta(seconds=visit.end)
    for route in list(plan.routes):
        has_done = any(s.route is route for s in done)
        if route.vehicle.id not in used and not has_done:
            plan.routes.remove(route)
            if route.id is not None:
                session.delete(route)
    for index, reason in solution.unserved.items():
        left_out = open_stops[index]
        if left_out is not None:
            left_out.unserved_reason = reason.value
    plan.complete = solution.complete and all(stop.route is not None for stop in open_stops_now)
    session.flush()
    plan.distance_m = sum(route.distance_m for route in plan.routes)
    plan.duration_s = sum(
        round((route.ends_at - route.starts_at).total_seconds()) for route in plan.routes
    )


def assign_courier(session: Session, actor: User, route_id: int, courier_id: object) -> Route:
    """The courier who drives this route on its day (another than the vehicle's, for a day
    off or a swap); empty gives the route back its vehicle's courier. Re-plans keep the choice.
    A courier drives one route at a time: routes of the same day may not overlap."""
    _require_office(actor)
    route = session.get(Route, _whole(route_id) or 0)
    if route is None:
        raise NotFound(N_("This route does not exist."))
    if courier_id in (None, "", 0):
        route.courier_chosen = False
        route.courier_id = route.vehicle.courier_id
        session.flush()
        return route
    number = _whole(courier_id)
    courier = session.get(User, number) if number is not None else None
    if courier is None or courier.role is not Role.COURIER or not courier.active:
        raise InvalidInput(N_("Choose a courier."), "courier_id")
    for other in route.plan.routes:
        if (
            other is not route
            and other.courier_id == courier.id
            and other.starts_at < route.ends_at
            and route.starts_at < other.ends_at
        ):
            raise Conflict(
                N_("%(courier)s already drives %(vehicle)s at that time."),
                "courier_id",
                courier=courier.name,
                vehicle=other.vehicle.name,
            )
    route.courier_id = courier.id
    route.courier_chosen = True
    session.flush()
    return route


def lock_stop(session: Session, actor: User, stop_id: int, locked: bool) -> RouteStop:
    _require_office(actor)
    stop = _stop(session, stop_id)
    if locked and stop.route is None:
        raise Conflict(N_("Only a stop on a route can be locked."))
    stop.locked = locked
    session.flush()
    return stop


def move_stop(
    session: Session, settings: Settings, actor: User, stop_id: int, vehicle_id: int, now: datetime
) -> RoutePlan:
    """Put a stop on another vehicle's route, lock it there and re-plan the day."""
    _require_office(actor)
    stop = _stop(session, stop_id)
    if stop.done_at is not None:
        raise Conflict(N_("This stop is done and can no longer move."))
    vehicle = session.get(Vehicle, vehicle_id)
    if vehicle is None or not vehicle.active:
        raise InvalidInput(N_("Choose a vehicle in service."), "vehicle_id")
    plan = stop.plan
    route = next((r for r in plan.routes if r.vehicle_id == vehicle.id), None)
    if route is None:
        route = Route(
            plan=plan,
            vehicle=vehicle,
            courier_id=vehicle.courier_id,
            starts_at=now,
            ends_at=now,
        )
        session.add(route)
    stop.route = route
    stop.locked = True
    session.flush()
    return plan_day(session, settings, plan.day, now, actor)


def publish_plan(session: Session, actor: User, plan_id: int, now: datetime) -> RoutePlan:
    _require_office(actor)
    plan = session.get(RoutePlan, plan_id)
    if plan is None:
        raise NotFound(N_("This plan does not exist."))
    if not plan.routes:
        raise Conflict(N_("This plan has no routes to publish."))
    plan.status = PlanStatus.PUBLISHED
    plan.published_at = now
    session.flush()
    return plan


def _stop(session: Session, stop_id: int) -> RouteStop:
    stop = session.get(RouteStop, stop_id)
    if stop is None:
        raise NotFound(N_("This stop does not exist."))
    return stop


# --- the courier ------------------------------------------------------------------------


def routes_of_courier(session: Session, courier: User, day: date) -> list[Route]:
    """The courier's own routes of a published plan for ``day``."""
    return list(
        session.scalars(
            select(Route)
            .join(RoutePlan)
            .where(
                RoutePlan.day == day,
                RoutePlan.status == PlanStatus.PUBLISHED,
                Route.courier_id == courier.id,
            )
            .options(selectinload(Route.stops), selectinload(Route.vehicle))
            .order_by(Route.starts_at)
        )
    )


def stop_of_courier(session: Session, courier: User, stop_id: int) -> RouteStop:
    """A stop on one of the courier's published routes; NotFound for anyone else's."""
    stop = session.get(RouteStop, stop_id)
    if (
        stop is None
        or stop.route is None
        or stop.plan.status is not PlanStatus.PUBLISHED
        or (stop.route.courier_id != courier.id and not courier.is_office)
    ):
        raise NotFound(N_("This stop is not on your route."))
    return stop


def confirm_stop(
    session: Session,
    courier: User,
    stop_id: int,
    crates: dict[str, object],
    problem: str,
    now: datetime,
) -> RouteStop:
    """The courier confirms the crates delivered or collected per cup type, with a problem
    noted if any. When every part of the order's leg is confirmed, the cups move in the ledger
    (delivery: loaded → at the event; pickup: at the event → dirty in transit)."""
    if courier.role is not Role.COURIER and not courier.is_office:
        raise Forbidden(N_("Only a courier confirms stops."))
    stop = stop_of_courier(session, courier, stop_id)
    if stop.done_at is not None:
        raise Conflict(N_("This stop is already confirmed."))
    problems = Problems()
    expected = {line["code"]: line for line in stop.lines}
    counted: dict[str, int] = {}
    for code, raw in (crates or {}).items():
        value = _whole(raw)
        if code not in expected:
            problems.add(f"crates.{code}", N_("This stop has no %(code)s cups."), code=code)
        elif value is None or value < 0:
            problems.add(f"crates.{code}", N_("Enter the crates as a whole number, 0 or more."))
        elif value > expected[code]["crates"]:
            problems.add(
                f"crates.{code}",
                N_("This stop holds %(crates)s crates of %(code)s; %(counted)s is more."),
                crates=expected[code]["crates"],
                code=code,
                counted=value,
            )
        else:
            counted[code] = value
    if stop.kind is StopKind.MANUAL and not expected:
        counted = {}
    elif not problems.items and sorted(counted) != sorted(expected):
        missing = sorted(set(expected) - set(counted))[0]
        problems.add(f"crates.{missing}", N_("Count the crates of %(code)s."), code=missing)
    problem = (problem or "").strip()
    if len(problem) > MAX_NOTE:
        problems.add("problem", N_("Keep the note under %(count)s characters."), count=MAX_NOTE)
    problems.raise_if_any()
    stop.done_at = now
    stop.confirmed_by_id = courier.id
    stop.problem = problem
    stop.confirmed_crates = sum(counted.values())
    stop.lines = [{**line, "confirmed_crates": counted.get(line["code"], 0)} for line in stop.lines]
    session.flush()
    if stop.order_id is not None:
        _book_leg(session, courier, stop, now)
    return stop


def _book_leg(session: Session, courier: User, stop: RouteStop, now: datetime) -> None:
    """Move the order's cups once every part of this leg (delivery or pickup) is confirmed."""
    parts = [s for s in stop.plan.stops if s.order_id == stop.order_id and s.kind is stop.kind]
    if any(part.done_at is None for part in parts):
        return
    order = session.get_one(Order, stop.order_id)
    if order.service is not Service.RENT_AND_WASH:
        return  # the organiser's own cups enter the ledger when received at the facility
    per_crate = {line.cup_type.code: line.cup_type.cups_per_crate for line in order.lines}
    crates: dict[str, int] = defaultdict(int)
    cups_planned: dict[str, int] = defaultdict(int)
    for part in parts:
        for line in part.lines:
            crates[line["code"]] += int(line.get("confirmed_crates", 0))
            cups_planned[line["code"]] += int(line["cups"])
    if stop.kind is StopKind.DELIVERY:
        if order.status is not OrderStatus.CONFIRMED:
            return
        reserved = held_cups(session, order, StockState.RESERVED)
        loaded = held_cups(session, order, StockState.LOADED)
        if not loaded and not reserved:
            return
        source = loaded or reserved
        counts = {
            code: min(source.get(code, 0), crates[code] * per_crate.get(code, 1)) for code in source
        }
        if sum(counts.values()) == 0:
            return
        if not loaded:
            load_order(session, order, courier, counts, at=now)
        deliver_order(session, order, courier, counts, at=now)
    else:
        if order.status is not OrderStatus.AT_EVENT:
            return
        at_event = held_cups(session, order, StockState.AT_EVENT)
        counts = {
            code: min(at_event.get(code, 0), crates[code] * per_crate.get(code, 1))
            for code in at_event
        }
        if sum(counts.values()) == 0:
            return
        pick_up_order(session, order, courier, counts, at=now)


# --- organisers ---------------------------------------------------------------------------

PLANNED_MARGIN = timedelta(minutes=15)


@dataclass(frozen=True)
class PlannedVisit:
    """When our courier is planned at an order's event: the first part's arrival to the last
    part's departure, with a margin, within the order's window."""

    order_id: int
    reference: str
    kind: StopKind
    event: str
    address: str
    starts: datetime
    ends: datetime


def planned_visits(
    session: Session, organisation_id: int, order_id: int | None = None
) -> list[PlannedVisit]:
    """The published planned deliveries and pickups of an organisation's orders."""
    query = (
        select(RouteStop)
        .join(RoutePlan, RouteStop.plan_id == RoutePlan.id)
        .join(Order, RouteStop.order_id == Order.id)
        .where(
            Order.organisation_id == organisation_id,
            RoutePlan.status == PlanStatus.PUBLISHED,
            RouteStop.arrives_at.is_not(None),
        )
        .options(selectinload(RouteStop.order))
    )
    if order_id is not None:
        query = query.where(RouteStop.order_id == order_id)
    spans: dict[tuple[int, StopKind], list[RouteStop]] = defaultdict(list)
    for stop in session.scalars(query):
        assert stop.order_id is not None
        spans[(stop.order_id, stop.kind)].append(stop)
    visits = []
    for (order_id_, kind), stops in spans.items():
        first = min(s.arrives_at for s in stops if s.arrives_at is not None)
        last = max((s.departs_at or s.arrives_at) for s in stops if s.arrives_at is not None)
        assert first is not None and last is not None
        sample = stops[0]
        starts = max(sample.window_start, first - PLANNED_MARGIN)
        ends = min(sample.window_end, last + PLANNED_MARGIN)
        order = sample.order
        assert order is not None
        visits.append(
            PlannedVisit(
                order_id_,
                order.reference,
                kind,
                sample.label,
                sample.address,
                starts,
                max(ends, starts),
            )
        )
    return sorted(visits, key=lambda v: v.starts)


def calendar_token(session: Session, organisation_id: int) -> str:
    """The organisation's secret calendar address token, made on first use."""
    feed = session.scalar(
        select(CalendarFeed).where(CalendarFeed.organisation_id == organisation_id)
    )
    if feed is None:
        feed = CalendarFeed(organisation_id=organisation_id, token=secrets.token_urlsafe(24))
        session.add(feed)
        session.flush()
    return feed.token


def calendar_for_token(session: Session, token: str) -> str:
    """The iCalendar text (RFC 5545) of the planned visits behind a token; NotFound otherwise."""
    if not isinstance(token, str) or not 16 <= len(token) <= 64:
        raise NotFound(N_("This calendar does not exist."))
    feed = session.scalar(select(CalendarFeed).where(CalendarFeed.token == token))
    if feed is None:
        raise NotFound(N_("This calendar does not exist."))
    return ics(planned_visits(session, feed.organisation_id), utcnow())


ICS_SUMMARY = {StopKind.DELIVERY: "Delivery of clean cups", StopKind.PICKUP: "Pickup of used cups"}


def ics(visits: list[PlannedVisit], stamp: datetime) -> str:
    def when(moment: datetime) -> str:
        return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")

    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//wash-ops//courier routes//EN",
        "CALSCALE:GREGORIAN",
        "X-WR-CALNAME:wash-ops",
    ]
    for visit in visits:
        summary = f"{ICS_SUMMARY.get(visit.kind, 'Visit')}: {visit.event} ({visit.reference})"
        lines += [
            "BEGIN:VEVENT",
            f"UID:{visit.kind.value}-{visit.order_id}@wash-ops",
            f"DTSTAMP:{when(stamp)}",
            f"DTSTART:{when(visit.starts)}",
            f"DTEND:{when(visit.ends)}",
            f"SUMMARY:{_ics_text(summary)}",
            f"LOCATION:{_ics_text(visit.address)}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(_fold(line) + "\r\n" for line in lines)


def _ics_text(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\n", "\\n")
        .replace("\r", "")
    )


def _fold(line: str) -> str:
    """Lines of at most 75 octets, continued with a space (RFC 5545 3.1)."""
    out, current = [], b""
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > 75:
            out.append(current.decode())
            current = b" "
        current += encoded
    out.append(current.decode())
    return "\r\n".join(out)


def _require_office(actor: User) -> None:
    if not actor.is_office:
        raise Forbidden(N_("Only the office can do this."))


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
