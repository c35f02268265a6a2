"""The vehicle-routing solver behind a small interface, so that it can be swapped.

The problem is plain integers: a distance matrix in metres (location 0 is the depot), a duration
matrix in seconds per vehicle (its speed), stops with a delivery and a pickup in crates, a service
time and a time window in seconds from the plan's midnight, and vehicles with a capacity in
crates, a shift, a range and costs. PyVRP 0.14 solves it: a mixed fleet (one vehicle type and
profile per vehicle), delivery and pickup at the same stop, time windows, maximum distance and
reloads at the depot. Every stop some vehicle could serve on its own is first required; when
that has no feasible plan, stops become optional with a prize above any stop's cost, so the
solver serves every stop it can and leaves out only what does not fit. Each stop left out is
checked on its own against every vehicle and given a reason.
"""

from __future__ import annotations

import enum
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyvrp import Model, PenaltyParams, SolveParams
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.stop import MaxRuntime

MAX_PENALTY = 1e9
UNREACHABLE = 50_000_000  # metres / seconds on an edge a pinned stop must not use


class Reason(enum.StrEnum):
    """Why a stop was left out, checked on the stop alone against each vehicle."""

    CAPACITY = "capacity"  # more crates than any vehicle carries
    RANGE = "range"  # there and back is beyond every vehicle's range
    TIME_WINDOW = "time_window"  # no vehicle reaches it within its window and its shift
    NO_VEHICLE = "no_vehicle"  # no vehicle with room is in service
    FLEET_FULL = "fleet_full"  # each vehicle could serve it alone, but not beside the rest


@dataclass(frozen=True)
class SolverStop:
    key: str
    location: int  # row of the matrices; 0 is the depot
    delivery: int = 0
    pickup: int = 0
    service_s: int = 0
    tw_early: int = 0
    tw_late: int = 2**40
    vehicle: int | None = None  # pinned to this vehicle (a locked stop)


@dataclass(frozen=True)
class SolverVehicle:
    key: str
    capacity: int
    shift_start: int
    shift_end: int
    durations: int  # index into Problem.durations (the vehicle's speed)
    max_distance: int | None = None
    distance_cost: int = 1  # per metre
    duration_cost: int = 0  # per second
    max_reloads: int = 0
    count: int = 1
    start_location: int = 0  # where it starts (the depot, or where it is during the day)


@dataclass(frozen=True)
class Problem:
    distance: Sequence[Sequence[int]]
    durations: Sequence[Sequence[Sequence[int]]]
    stops: Sequence[SolverStop]
    vehicles: Sequence[SolverVehicle]
    # True: when not every stop fits, serve what can be (plans of a day); False: all or nothing.
    prize_collecting: bool = True


@dataclass(frozen=True)
class Visit:
    stop: int  # index into Problem.stops
    trip: int
    arrival: int
    start: int
    end: int
    load_after: int


@dataclass
class PlannedRoute:
    vehicle: int
    visits: list[Visit]
    distance: int
    duration: int
    start: int
    end: int
    trips: int


@dataclass
class Solution:
    routes: list[PlannedRoute]
    unserved: dict[int, Reason] = field(default_factory=dict)
    feasible: bool = True
    seconds: float = 0.0

    @property
    def distance(self) -> int:
        return sum(route.distance for route in self.routes)

    @property
    def complete(self) -> bool:
        return self.feasible and not self.unserved


def solve(problem: Problem, time_limit_s: float, seed: int = 1) -> Solution:
    """Plan the routes; never raises for a hard day: what cannot be served is listed.

    First every stop that some vehicle could serve on its own is required; when the solver
    finds a feasible plan for them all, that is the plan. Otherwise (the day holds more than
    the fleet can do) the stops become optional with a prize above any stop's cost and a
    penalty ceiling above the prize, so that the solver serves as many as it can, feasibly."""
    started = time.perf_counter()
    servable = [i for i, stop in enumerate(problem.stops) if _alone_reason(problem, stop) is None]
    solution = _solve_pyvrp(problem, servable, time_limit_s, seed, prize=None)
    if not solution.feasible and problem.prize_collecting:
        solution = _solve_pyvrp(problem, servable, time_limit_s, seed + 1, prize=_prize(problem))
    for index, stop in enumerate(problem.stops):
        reason = _alone_reason(problem, stop)
        if reason is not None:
            solution.unserved[index] = reason
    solution.seconds = time.perf_counter() - started
    return solution


def _prize(problem: Problem) -> int:
    """More than serving any one stop can cost: a detour to the farthest point and back, and
    a whole shift of time, on the costliest vehicle."""
    farthest = max((max(row) for row in problem.distance), default=0)
    return 1 + max(
        (
            v.distance_cost * 2 * farthest + v.duration_cost * max(0, v.shift_end - v.shift_start)
            for v in problem.vehicles
        ),
        default=1,
    )


def _solve_pyvrp(
    problem: Problem, servable: list[int], time_limit_s: float, seed: int, prize: int | None
) -> Solution:
    if not servable or not problem.vehicles:
        return Solution([], {i: Reason.FLEET_FULL for i in servable})
    model = Model()
    size = len(problem.distance)
    locations = [model.add_location(x=0, y=0) for _ in range(size)]
    depot = model.add_depot(locations[0])
    starts = {0: depot}
    for vehicle in problem.vehicles:
        if vehicle.start_location not in starts:
            starts[vehicle.start_location] = model.add_depot(locations[vehicle.start_location])
    profiles = []
    for index, vehicle in enumerate(problem.vehicles):
        profile = model.add_profile()
        profiles.append(profile)
        model.add_vehicle_type(
            num_available=vehicle.count,
            capacity=[vehicle.capacity],
            start_depot=starts[vehicle.start_location],
            end_depot=depot,
            tw_early=vehicle.shift_start,
            tw_late=vehicle.shift_end,
            max_distance=vehicle.max_distance if vehicle.max_distance is not None else 2**62,
            unit_distance_cost=vehicle.distance_cost,
            unit_duration_cost=vehicle.duration_cost,
            profile=profile,
            reload_depots=[depot] if vehicle.max_reloads > 0 else [],
            max_reloads=vehicle.max_reloads,
            name=str(index),
        )
    clients = []
    for index in servable:
        stop = problem.stops[index]
        clients.append(
            model.add_client(
                locations[stop.location],
                delivery=[stop.delivery],
                pickup=[stop.pickup],
                service_duration=stop.service_s,
                tw_early=stop.tw_early,
                tw_late=stop.tw_late,
                prize=prize or 0,
                required=prize is None,
                name=stop.key,
            )
        )
    pinned = {problem.stops[i].location: problem.stops[i].vehicle for i in servable}
    for vehicle_index, (vehicle, profile) in enumerate(
        zip(problem.vehicles, profiles, strict=True)
    ):
        durations = problem.durations[vehicle.durations]
        for i in range(size):
            for j in range(size):
                if i == j:
                    continue
                distance, duration = problem.distance[i][j], durations[i][j]
                owner = pinned.get(j) if j else None
                if owner is not None and owner != vehicle_index:
                    distance, duration = UNREACHABLE, UNREACHABLE
                model.add_edge(locations[i], locations[j], distance, duration, profile=profile)
    with warnings.catch_warnings():
        # A day the fleet cannot fully serve drives the penalties up; that is reported below.
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        # Penalties may grow well above the per-second and per-metre costs (the default ceiling
        # is too low for costs in cents), and above the prize when stops are optional.
        ceiling = max(MAX_PENALTY, float(prize or 0) * 4)
        params = SolveParams(penalty=PenaltyParams(max_penalty=ceiling))
        result = model.solve(MaxRuntime(time_limit_s), seed=seed, display=False, params=params)
    best = result.best
    routes = []
    visited: set[int] = set()
    for route in best.routes():
        vehicle_index = route.vehicle_type()
        activities = list(route.schedule())
        visits: list[Visit] = []
        trip_loads: dict[int, int] = {}
        for activity in activities:
            if activity.is_client():
                stop_index = servable[activity.idx]
                trip_loads[activity.trip] = (
                    trip_loads.get(activity.trip, 0) + problem.stops[stop_index].delivery
                )
        loads = dict(trip_loads)
        previous_end, previous_location = None, problem.vehicles[vehicle_index].start_location
        durations = problem.durations[problem.vehicles[vehicle_index].durations]
        for activity in activities:
            if not activity.is_client():
                previous_end, previous_location = activity.end_time, 0
                continue
            stop_index = servable[activity.idx]
            stop = problem.stops[stop_index]
            loads[activity.trip] = loads[activity.trip] - stop.delivery + stop.pickup
            arrival = (
                previous_end + durations[previous_location][stop.location]
                if previous_end is not None
                else activity.start_time
            )
            visits.append(
                Visit(
                    stop_index,
                    activity.trip,
                    arrival,
                    activity.start_time,
                    activity.end_time,
                    loads[activity.trip],
                )
            )
            visited.add(stop_index)
            previous_end, previous_location = activity.end_time, stop.location
        routes.append(
            PlannedRoute(
                vehicle_index,
                visits,
                route.distance(),
                route.duration(),
                route.start_time(),
                route.end_time(),
                route.num_trips(),
            )
        )
    feasible = result.is_feasible()
    unserved = {i: Reason.FLEET_FULL for i in servable if i not in visited}
    if not feasible:
        # An infeasible best solution is no plan: nothing is shown as served.
        return Solution([], {i: Reason.FLEET_FULL for i in servable}, feasible=False)
    return Solution(routes, unserved)


def _alone_reason(problem: Problem, stop: SolverStop) -> Reason | None:
    """Why no vehicle could serve this stop even if it were the only one; None if one could."""
    vehicles = list(enumerate(problem.vehicles))
    if stop.vehicle is not None:
        vehicles = [(i, v) for i, v in vehicles if i == stop.vehicle]
    if not vehicles:
        return Reason.NO_VEHICLE
    big_enough = [(i, v) for i, v in vehicles if max(stop.delivery, stop.pickup) <= v.capacity]
    if not big_enough:
        return Reason.CAPACITY
    in_range = [
        (i, v)
        for i, v in big_enough
        if v.max_distance is None
        or problem.distance[v.start_location][stop.location] + problem.distance[stop.location][0]
        <= v.max_distance
    ]
    if not in_range:
        return Reason.RANGE
    for _i, vehicle in in_range:
        durations = problem.durations[vehicle.durations]
        arrival = vehicle.shift_start + durations[vehicle.start_location][stop.location]
        start = max(arrival, stop.tw_early)
        back = start + stop.service_s + durations[stop.location][0]
        if start <= stop.tw_late and back <= vehicle.shift_end:
            return None
    return Reason.TIME_WINDOW
