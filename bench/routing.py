"""Routing benchmark: the project's routing service (wash_ops.routing.solver on PyVRP 0.14)
against OR-Tools (path cheapest arc + guided local search) at the same time limit in the same
run, on the Solomon VRPTW 100-customer instances (gap to the best-known distance), and a
generated day for the site: 60 stops across East Flanders, two cargo bikes and a van.

Solomon convention (bench/data/solomon/README.md): distance and travel time between two nodes
are floor(10 * euclidean) / 10; the objective is total distance; vehicles are unlimited (both
solvers get a fleet of 25, more than any best-known solution uses). Everything is scaled by 10
to integers. OR-Tools visits are droppable at a high penalty so that it returns a solution; a
solution with a dropped visit counts as failed, not as a gap.

The generated day is feasible by construction: each stop is made on a witness route of one of
the three vehicles (load within capacity on every trip, within range and shift), and its time
window is placed around the witness's arrival. So every stop can be served, and a plan that
leaves one out is a failure of the solver, reported as such.

    .venv/bin/python bench/routing.py                       # the six named instances, 2 s and 10 s
    .venv/bin/python bench/routing.py --instances all --limits 2 10
    .venv/bin/python bench/routing.py --skip-solomon        # only the generated day
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wash_ops.routing.matrix import offline_matrix, seconds_at  # noqa: E402
from wash_ops.routing.services import HOUR_WEIGHT, KM_WEIGHT  # noqa: E402
from wash_ops.routing.solver import Problem, SolverStop, SolverVehicle, solve  # noqa: E402

DATA = Path(__file__).resolve().parent / "data" / "solomon"
NAMED = ["C101", "C201", "R101", "R201", "RC101", "RC201"]
FLEET = 25


@dataclass
class Instance:
    name: str
    capacity: int
    service: int  # scaled by 10
    coords: list[tuple[float, float]]
    demand: list[int]
    windows: list[tuple[int, int]]  # scaled by 10

    @property
    def distance(self) -> list[list[int]]:
        return [
            [math.floor(10 * math.dist(a, b)) if i != j else 0 for j, b in enumerate(self.coords)]
            for i, a in enumerate(self.coords)
        ]


def read_instance(path: Path) -> Instance:
    header: dict[str, str] = {}
    sections: dict[str, list[list[str]]] = {}
    current = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line == "EOF":
            continue
        if line.endswith("SECTION"):
            current = line
            sections[current] = []
        elif ":" in line and current is None:
            key, value = line.split(":", 1)
            header[key.strip()] = value.strip()
        elif current is not None:
            sections[current].append(line.split())
    assert header["EDGE_WEIGHT_TYPE"] == "FLOOR_2D" and header["SCALE"] == "10"
    coords = [(float(r[1]), float(r[2])) for r in sections["NODE_COORD_SECTION"]]
    demand = [int(r[1]) for r in sections["DEMAND_SECTION"]]
    windows = [(int(r[1]) * 10, int(r[2]) * 10) for r in sections["TIME_WINDOW_SECTION"]]
    return Instance(
        header["NAME"],
        int(header["CAPACITY"]),
        int(header["SERVICE_TIME"]) * 10,
        coords,
        demand,
        windows,
    )


def best_known() -> dict[str, float]:
    with (DATA / "bks.csv").open() as handle:
        return {row["instance"]: float(row["distance"]) for row in csv.DictReader(handle)}


# --- the project's routing service ------------------------------------------------------


def solve_ours(instance: Instance, limit: float) -> tuple[float | None, float]:
    distance = instance.distance
    stops = [
        SolverStop(
            key=str(i),
            location=i,
            delivery=instance.demand[i],
            service_s=instance.service,
            tw_early=instance.windows[i][0],
            tw_late=instance.windows[i][1],
        )
        for i in range(1, len(instance.coords))
    ]
    vehicle = SolverVehicle(
        "V",
        capacity=instance.capacity,
        shift_start=instance.windows[0][0],
        shift_end=instance.windows[0][1],
        durations=0,
        distance_cost=1,
        duration_cost=0,
        count=FLEET,
    )
    problem = Problem(distance, [distance], stops, [vehicle], prize_collecting=False)
    started = time.perf_counter()
    solution = solve(problem, limit)
    seconds = time.perf_counter() - started
    if not solution.complete:
        return None, seconds
    return solution.distance / 10, seconds


# --- OR-Tools ---------------------------------------------------------------------------


def solve_ortools(instance: Instance, limit: float) -> tuple[float | None, float]:
    from ortools.constraint_solver import pywrapcp, routing_enums_pb2

    distance = instance.distance
    size = len(distance)
    manager = pywrapcp.RoutingIndexManager(size, FLEET, 0)
    routing = pywrapcp.RoutingModel(manager)

    def dist(i: int, j: int) -> int:
        return distance[manager.IndexToNode(i)][manager.IndexToNode(j)]

    def travel(i: int, j: int) -> int:
        a, b = manager.IndexToNode(i), manager.IndexToNode(j)
        return distance[a][b] + (instance.service if a else 0)

    def demand(i: int) -> int:
        return instance.demand[manager.IndexToNode(i)]

    arc = routing.RegisterTransitCallback(dist)
    routing.SetArcCostEvaluatorOfAllVehicles(arc)
    time_cb = routing.RegisterTransitCallback(travel)
    horizon = instance.windows[0][1]
    routing.AddDimension(time_cb, horizon, horizon, False, "time")
    time_dim = routing.GetDimensionOrDie("time")
    for node in range(1, size):
        early, late = instance.windows[node]
        time_dim.CumulVar(manager.NodeToIndex(node)).SetRange(early, late)
        routing.AddDisjunction([manager.NodeToIndex(node)], 10_000_000)
    for vehicle in range(FLEET):
        time_dim.CumulVar(routing.Start(vehicle)).SetRange(0, horizon)
        time_dim.CumulVar(routing.End(vehicle)).SetRange(0, horizon)
    demand_cb = routing.RegisterUnaryTransitCallback(demand)
    routing.AddDimensionWithVehicleCapacity(demand_cb, 0, [instance.capacity] * FLEET, True, "load")
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(int(limit * 1000))
    started = time.perf_counter()
    solution = routing.SolveWithParameters(params)
    seconds = time.perf_counter() - started
    if solution is None:
        return None, seconds
    total, visited = 0, 0
    for vehicle in range(FLEET):
        index = routing.Start(vehicle)
        while not routing.IsEnd(index):
            following = solution.Value(routing.NextVar(index))
            total += dist(index, following)
            index = following
            if not routing.IsEnd(index):
                visited += 1
    if visited < size - 1:
        return None, seconds
    return total / 10, seconds


def run_solomon(names: list[str], limits: list[float]) -> None:
    bks = best_known()
    print(f"Solomon VRPTW, {len(names)} instances, fleet {FLEET}, gap to best-known distance")
    print(
        f"{'instance':8} {'limit':>5} {'bks':>8} {'ours':>8} {'gap':>7} {'OR-Tools':>9} {'gap':>7}"
    )
    summary: dict[float, dict[str, list[float]]] = {}
    failures: dict[float, dict[str, int]] = {}
    for limit in limits:
        gaps: dict[str, list[float]] = {"ours": [], "ortools": []}
        failed = {"ours": 0, "ortools": 0}
        for name in names:
            instance = read_instance(DATA / f"{name}.vrptw")
            best = bks[name]
            ours, _ = solve_ours(instance, limit)
            theirs, _ = solve_ortools(instance, limit)
            cells = []
            for key, found in (("ours", ours), ("ortools", theirs)):
                if found is None:
                    failed[key] += 1
                    cells.append(f"{'failed':>8} {'':>7}")
                else:
                    gap = (found - best) / best
                    gaps[key].append(gap)
                    cells.append(f"{found:8.1f} {gap:7.2%}")
            print(f"{name:8} {limit:5.0f} {best:8.1f} {cells[0]} {cells[1]:>17}", flush=True)
        summary[limit], failures[limit] = gaps, failed
    print()
    for limit in limits:
        gaps, failed = summary[limit], failures[limit]
        parts = []
        for key, label in (("ours", "routing service"), ("ortools", "OR-Tools GLS")):
            average = statistics.mean(gaps[key]) if gaps[key] else float("nan")
            parts.append(f"{label} {average:.2%} ({failed[key]} failed)")
        print(f"average gap at {limit:.0f} s: " + "; ".join(parts))


# --- a generated day for the site -------------------------------------------------------

SITE = (51.0447236, 3.7588813)


@dataclass
class DayVehicle:
    code: str
    capacity: int
    speed_kmh: float
    shift: tuple[int, int]
    max_km: float | None
    reach_km: float  # where its witness stops may lie
    trips: int
    per_trip: tuple[int, int]
    crates: tuple[int, int]


DAY_FLEET = [
    DayVehicle("BIKE1", 8, 15.0, (7 * 3600, 17 * 3600), 60.0, 4.5, 5, (2, 3), (1, 3)),
    DayVehicle("BIKE2", 8, 15.0, (7 * 3600, 17 * 3600), 60.0, 4.5, 5, (2, 3), (1, 3)),
    DayVehicle("VAN1", 120, 50.0, (6 * 3600, 18 * 3600), None, 40.0, 4, (9, 10), (3, 14)),
]
SERVICE_BASE_S, SERVICE_PER_CRATE_S, DETOUR = 300, 20, 1.3


def _places() -> list[tuple[float, float]]:
    path = Path(__file__).resolve().parent.parent / "wash_ops" / "data" / "be-postcodes.csv"
    with path.open() as handle:
        return [
            (float(row["lat"]), float(row["lon"]))
            for row in csv.DictReader(handle)
            if 9000 <= int(row["postcode"]) <= 9999
        ]


def generate_day(seed: int = 2026, size: int = 60):
    """Stops on witness routes: (points, stops) with a feasible plan known to exist."""
    rng = random.Random(seed)
    places = _places()
    points = [SITE]
    stops: list[SolverStop] = []
    witness_km = 0.0
    targets = {"BIKE1": 12, "BIKE2": 12, "VAN1": size - 24}
    for vehicle in DAY_FLEET:
        near = [p for p in places if _km(SITE, p) <= vehicle.reach_km]
        clock, km, made, trip, attempts = vehicle.shift[0], 0.0, 0, 0, 0
        while made < targets[vehicle.code] and trip < vehicle.trips and attempts < 200:
            attempts += 1
            count = min(rng.randint(*vehicle.per_trip), targets[vehicle.code] - made)
            # A trip serves one area: the bikes the city, the van a town and its neighbours.
            area = rng.choice(near)
            local = [
                p
                for p in near
                if _km(area, p) <= (vehicle.reach_km if vehicle.capacity < 20 else 9.0)
            ]
            chosen = []
            for _ in range(count):
                base = rng.choice(local)
                jitter = 0.004 if vehicle.capacity < 20 else 0.01
                chosen.append(
                    (base[0] + rng.uniform(-jitter, jitter), base[1] + rng.uniform(-jitter, jitter))
                )
            chosen = _nearest_order(chosen)
            # loads: deliveries first on the trip, never over capacity at any point
            kinds = [rng.random() < 0.55 for _ in chosen]  # True = delivery
            amounts = [rng.randint(*vehicle.crates) for _ in chosen]
            while sum(a for a, d in zip(amounts, kinds, strict=True) if d) > vehicle.capacity:
                amounts = [max(1, a - 1) for a in amounts]
            load = sum(a for a, d in zip(amounts, kinds, strict=True) if d)
            ok = True
            for amount, delivery in zip(amounts, kinds, strict=True):
                load += -amount if delivery else amount
                if load > vehicle.capacity:
                    ok = False
            if not ok:
                continue
            route = [SITE, *chosen, SITE]
            leg_km = [_km(a, b) * DETOUR for a, b in zip(route, route[1:], strict=False)]
            if vehicle.max_km is not None and km + sum(leg_km) > vehicle.max_km - 0.5:
                continue
            t = clock
            arrivals = []
            for index in range(len(chosen)):
                t += round(leg_km[index] * 3600 / vehicle.speed_kmh)
                arrivals.append(t)
                t += SERVICE_BASE_S + SERVICE_PER_CRATE_S * amounts[index]
            t += round(leg_km[-1] * 3600 / vehicle.speed_kmh)
            if t > vehicle.shift[1] - 300:  # a margin for rounding to whole metres
                continue
            for point, arrival, amount, delivery in zip(
                chosen, arrivals, amounts, kinds, strict=True
            ):
                points.append(point)
                early = max(0, arrival - rng.randint(0, 90) * 60)
                late = arrival + rng.randint(30, 150) * 60
                stops.append(
                    SolverStop(
                        key=f"{vehicle.code}-{len(stops)}",
                        location=len(points) - 1,
                        delivery=amount if delivery else 0,
                        pickup=0 if delivery else amount,
                        service_s=SERVICE_BASE_S + SERVICE_PER_CRATE_S * amount,
                        tw_early=early,
                        tw_late=late,
                    )
                )
            clock, km, made, trip = t, km + sum(leg_km), made + count, trip + 1
        witness_km += km
    return points, stops, witness_km


def _nearest_order(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The witness visits a trip's stops nearest-first from the site."""
    ordered, here, rest = [], SITE, list(points)
    while rest:
        here = min(rest, key=lambda p: _km(here, p))
        rest.remove(here)
        ordered.append(here)
    return ordered


def _km(a: tuple[float, float], b: tuple[float, float]) -> float:
    from wash_ops.routing.matrix import haversine_m

    return haversine_m(a, b) / 1000


def run_day(limit: float, seed: int) -> None:
    points, stops, witness_km = generate_day(seed)
    matrix = offline_matrix(points, DETOUR).distance_m
    durations = [[[seconds_at(d, v.speed_kmh) for d in row] for row in matrix] for v in DAY_FLEET]
    vehicles = [
        SolverVehicle(
            v.code,
            capacity=v.capacity,
            shift_start=v.shift[0],
            shift_end=v.shift[1],
            durations=i,
            max_distance=round(v.max_km * 1000) if v.max_km else None,
            distance_cost=KM_WEIGHT * (5 if v.capacity < 20 else 35),
            duration_cost=round(HOUR_WEIGHT * (2200 if v.capacity < 20 else 2800)),
            max_reloads=v.trips,
        )
        for i, v in enumerate(DAY_FLEET)
    ]
    started = time.perf_counter()
    solution = solve(Problem(matrix, durations, stops, vehicles), limit)
    seconds = time.perf_counter() - started
    served = sum(len(route.visits) for route in solution.routes)
    print(
        f"generated East-Flanders day (seed {seed}): {len(stops)} stops "
        f"({sum(1 for s in stops if s.delivery)} deliveries, "
        f"{sum(1 for s in stops if s.pickup)} pickups), 2 cargo bikes + a van, limit {limit:.0f} s"
    )
    print(
        f"  served {served}/{len(stops)} in {seconds:.2f} s, {solution.distance / 1000:.1f} km "
        f"(the witness plan the day was built on: {witness_km:.1f} km)"
    )
    for route in solution.routes:
        print(
            f"  {DAY_FLEET[route.vehicle].code}: {len(route.visits)} stops, "
            f"{route.trips} trips, {route.distance / 1000:.1f} km"
        )
    for index, reason in sorted(solution.unserved.items()):
        print(f"  left out: {stops[index].key}: {reason.value}")
    print("  complete" if solution.complete else "  NOT COMPLETE")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instances", default=",".join(NAMED), help="names, or 'all'")
    parser.add_argument("--limits", type=float, nargs="+", default=[2.0, 10.0])
    parser.add_argument("--day-limit", type=float, default=4.0)
    parser.add_argument("--day-seeds", type=int, nargs="+", default=[2026, 7, 1, 2, 3])
    parser.add_argument("--skip-solomon", action="store_true")
    args = parser.parse_args()
    if not args.skip_solomon:
        names = (
            sorted(p.stem for p in DATA.glob("*.vrptw"))
            if args.instances == "all"
            else args.instances.split(",")
        )
        run_solomon(names, args.limits)
        print()
    for seed in args.day_seeds:
        run_day(args.day_limit, seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
