"""Capacity benchmark: book a season of orders, then time the capacity query an organiser waits for.

What it does, in one run:

1. builds a fresh database (Alembic migrations, configured line and cup types, one approved
   organisation, an organiser and a planner);
2. plans ``--orders`` orders over a 26-week season so that the line is busy but never overbooked,
   bulk-inserts all but the last ``--sample`` of them as confirmed orders (timed on its own), and
   books the last ``--sample`` through the real service path (create, submit, ``confirm_order``
   with its line lock and fit check), timed per order;
3. times, interleaved ``--repeat`` times, the capacity query a submitting organiser waits for
   (``fit_of``: an order that fits and one that does not, so the earliest-date search runs), the
   planner's 6-week ``booking_calendar``, and the reference: a plain SQLAlchemy Core SELECT of the
   rows the query reads (the booked orders due from today on; ``fit_of`` has the database sum
   them per wash window, the reference fetches every row).

It prints the figures, each query's ratio to the plain SELECT, and a PASS/FAIL line for the
requirement "the fit query's median stays under 50 ms at 5,000 booked orders". It is a
benchmark, not a test: it exits 0 whatever the figures, and non-zero only when it crashes.

    .venv/bin/python bench/capacity.py
    .venv/bin/python bench/capacity.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/wash_ops_bench

A PostgreSQL database must exist and be empty; the script refuses one that already has tables.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, insert, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from wash_ops.accounts.models import Organisation, OrganisationStatus, Role, User
from wash_ops.accounts.services import create_user
from wash_ops.catalogue.models import CupType, Line
from wash_ops.catalogue.services import sync_from_settings
from wash_ops.config import Settings, load_settings
from wash_ops.db import make_engine, make_session_factory, unit_of_work, utcnow
from wash_ops.migrate import upgrade
from wash_ops.orders.models import (
    Carrier,
    Event,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
    Service,
)
from wash_ops.orders.services import (
    EventInput,
    OrderInput,
    confirm_order,
    create_event,
    create_order,
    submit_order,
)
from wash_ops.planning.calendar import LineCalendar
from wash_ops.planning.capacity import Fit, WashJob, book
from wash_ops.planning.services import (
    BOOKED_STATUSES,
    booked_jobs,
    booked_windows,
    booking_calendar,
    calendar_for,
    fit_of,
)

LIMIT_MS = 50.0
SEASON_WEEKS = 26
FIRST_EVENT_IN_DAYS = 4
FILL_CEILING = 0.85  # the season plan leaves at least 15 % of every day free
FIT_CUPS = 8_000
NO_FIT_CUPS = 60_000
PLANNER_WEEKS = 6
PASSWORD = "benchmark password 1"
# (weight, smallest, largest): mostly small events, a few big festivals.
ORDER_SIZES = ((55, 150, 600), (33, 600, 1_800), (10, 1_800, 4_500), (2, 4_500, 12_000))
# ISO weekday an event starts on -> weight: festivals cluster on the weekend.
EVENT_WEEKDAYS = {1: 4, 2: 4, 3: 6, 4: 8, 5: 22, 6: 34, 7: 22}
PICKUP_DELAYS_H = (10, 14, 16, 20, 38)  # pickup window end, hours after the event ends
CUP_CODES = ("ECO25", "ECO33", "ECO50", "WINE15")

T = TypeVar("T")


# --- options ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    orders: int
    database_url: str | None
    repeat: int
    sample: int
    seed: int


def setup(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=5_000, help="booked orders (5000)")
    parser.add_argument(
        "--database-url",
        help="an empty database (default: a temporary SQLite file), e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/wash_ops_bench",
    )
    parser.add_argument("--repeat", type=int, default=30, help="timed repeats per query (30)")
    parser.add_argument(
        "--sample",
        type=int,
        default=300,
        help="orders booked through create/submit/confirm_order, the last ones (300)",
    )
    parser.add_argument("--seed", type=int, default=2027, help="random seed of the season plan")
    args = parser.parse_args(argv)
    if args.orders < 1 or args.repeat < 1 or not 0 <= args.sample <= args.orders:
        parser.error("need --orders >= 1, --repeat >= 1 and 0 <= --sample <= --orders")
    return Options(args.orders, args.database_url, args.repeat, args.sample, args.seed)


# --- timing -------------------------------------------------------------------------------


@dataclass
class Timing:
    label: str
    samples_ms: list[float] = field(default_factory=list)

    def add(self, started_ns: int) -> None:
        self.samples_ms.append((time.perf_counter_ns() - started_ns) / 1e6)

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        if len(self.samples_ms) < 2:
            return self.samples_ms[0]
        return statistics.quantiles(self.samples_ms, n=20, method="inclusive")[18]


def timed(timing: Timing, action: Callable[[], T]) -> T:
    started = time.perf_counter_ns()
    result = action()
    timing.add(started)
    return result


# --- the season plan ----------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedOrder:
    starts_at: datetime
    ends_at: datetime
    pickup_end: datetime
    cups: int
    cup_code: str

    @property
    def pickup_start(self) -> datetime:
        return max(self.ends_at, self.pickup_end - timedelta(hours=4))

    @property
    def delivery_start(self) -> datetime:
        return self.starts_at - timedelta(hours=28)

    @property
    def delivery_end(self) -> datetime:
        return self.starts_at - timedelta(hours=24)


class SeasonLedger:
    """Cups already planned per day, kept under the fill ceiling: a feasible schedule exists,
    so earliest-deadline-first booking of the same orders leaves nobody late."""

    def __init__(self, calendar: LineCalendar) -> None:
        self.calendar = calendar
        self.used: dict[date, int] = {}

    def room(self, day: date) -> int:
        ceiling = int(self.calendar.capacity_on(day) * FILL_CEILING)
        return max(ceiling - self.used.get(day, 0), 0)

    def place(self, release: date, due: date, cups: int) -> bool:
        days = list(self.calendar.days(release, due))
        if sum(self.room(day) for day in days) < cups:
            return False
        for day in days:
            take = min(self.room(day), cups)
            self.used[day] = self.used.get(day, 0) + take
            cups -= take
        return True

    def utilisation(self, first: date, last: date) -> float:
        capacity = sum(self.calendar.capacity_on(day) for day in self.calendar.days(first, last))
        return sum(self.used.values()) / capacity if capacity else 0.0


def plan_season(
    calendar: LineCalendar, today: date, count: int, rng: random.Random
) -> tuple[list[PlannedOrder], SeasonLedger]:
    ledger = SeasonLedger(calendar)
    planned: list[PlannedOrder] = []
    attempts = 0
    while len(planned) < count:
        attempts += 1
        if attempts > 50 * count:
            raise RuntimeError(f"the season has no room for {count} orders; lower --orders")
        order = _draw_order(calendar, today, rng)
        if ledger.place(*calendar.wash_window(order.pickup_end), order.cups):
            planned.append(order)
    planned.sort(key=lambda order: order.starts_at)
    return planned, ledger


def _draw_order(calendar: LineCalendar, today: date, rng: random.Random) -> PlannedOrder:
    weekday = rng.choices(list(EVENT_WEEKDAYS), weights=list(EVENT_WEEKDAYS.values()))[0]
    offset = rng.randrange(FIRST_EVENT_IN_DAYS, SEASON_WEEKS * 7)
    day = today + timedelta(days=offset)
    day += timedelta(days=(weekday - day.isoweekday()) % 7)
    starts_at = datetime(day.year, day.month, day.day, rng.randint(10, 19), tzinfo=calendar.zone)
    hours = rng.randint(4, 12) if rng.random() < 0.9 else 24 * rng.randint(1, 3)
    ends_at = starts_at + timedelta(hours=hours)
    pickup_end = ends_at + timedelta(hours=rng.choice(PICKUP_DELAYS_H))
    _, smallest, largest = rng.choices(ORDER_SIZES, weights=[s[0] for s in ORDER_SIZES])[0]
    cups = round(rng.randint(smallest, largest), -1)
    return PlannedOrder(starts_at, ends_at, pickup_end, cups, rng.choice(CUP_CODES))


# --- the database -------------------------------------------------------------------------


@dataclass(frozen=True)
class Actors:
    organisation_id: int
    organiser_id: int
    planner_id: int
    line_id: int
    cup_type_ids: dict[str, int]


@contextmanager
def database(url: str | None) -> Iterator[str]:
    """The given (empty) database, or a temporary SQLite file removed afterwards."""
    if url is not None:
        yield url
        return
    folder = Path(tempfile.mkdtemp(prefix="wash-ops-bench-"))
    try:
        yield f"sqlite:///{folder / 'capacity.sqlite'}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def prepare(url: str) -> None:
    """Refuse a database that has tables (this is not for real data), then migrate it."""
    probe = make_engine(url)
    try:
        if inspect(probe).get_table_names():
            raise SystemExit(f"{probe.url!r} already has tables: give an empty database")
    finally:
        probe.dispose()
    upgrade(url)


def create_actors(factory: sessionmaker[Session], settings: Settings) -> Actors:
    with unit_of_work(factory) as session:
        line = sync_from_settings(session, settings)
        organisation = Organisation(name="Bench Festivals vzw", status=OrganisationStatus.APPROVED)
        session.add(organisation)
        session.flush()
        organiser = _user(session, Role.ORGANISER, organisation)
        planner = _user(session, Role.PLANNER, None)
        cup_types = {cup.code: cup.id for cup in session.scalars(select(CupType))}
        return Actors(organisation.id, organiser.id, planner.id, line.id, cup_types)


def _user(session: Session, role: Role, organisation: Organisation | None) -> User:
    return create_user(
        session,
        email=f"{role.value}@bench.test",
        name=role.value.title(),
        password=PASSWORD,
        role=role,
        organisation=organisation,
    )


def bulk_insert(
    engine: Engine, calendar: LineCalendar, actors: Actors, orders: Sequence[PlannedOrder]
) -> None:
    """Confirmed orders as rows: events, orders, order lines and the confirming status change,
    four executemany INSERTs in one transaction (RETURNING gives the new ids in order)."""
    with engine.begin() as connection:
        event_ids = connection.scalars(
            insert(Event).returning(Event.id, sort_by_parameter_order=True),
            [_event_row(actors, order, number) for number, order in enumerate(orders)],
        ).all()
        order_ids = connection.scalars(
            insert(Order).returning(Order.id, sort_by_parameter_order=True),
            [_order_row(calendar, actors, o, e) for o, e in zip(orders, event_ids, strict=True)],
        ).all()
        connection.execute(
            insert(OrderLine),
            [
                {"order_id": i, "cup_type_id": actors.cup_type_ids[o.cup_code], "quantity": o.cups}
                for o, i in zip(orders, order_ids, strict=True)
            ],
        )
        connection.execute(
            insert(OrderStatusChange),
            [
                {
                    "order_id": i,
                    "from_status": OrderStatus.SUBMITTED,
                    "to_status": OrderStatus.CONFIRMED,
                    "user_id": actors.planner_id,
                }
                for i in order_ids
            ],
        )


def _event_row(actors: Actors, order: PlannedOrder, number: int) -> dict[str, object]:
    return {
        "organisation_id": actors.organisation_id,
        "name": f"Bench event {number + 1}",
        "postcode": "9000",
        "place": "Gent",
        "lat": 51.05,
        "lon": 3.72,
        "starts_at": order.starts_at,
        "ends_at": order.ends_at,
    }


def _order_row(
    calendar: LineCalendar, actors: Actors, order: PlannedOrder, event_id: int
) -> dict[str, object]:
    release, due = calendar.wash_window(order.pickup_end)
    return {
        "organisation_id": actors.organisation_id,
        "event_id": event_id,
        "line_id": actors.line_id,
        "status": OrderStatus.CONFIRMED,
        "service": Service.RENT_AND_WASH,
        "delivery_by": Carrier.COURIER,
        "pickup_by": Carrier.COURIER,
        "delivery_start": order.delivery_start,
        "delivery_end": order.delivery_end,
        "pickup_start": order.pickup_start,
        "pickup_end": order.pickup_end,
        "wash_cups": order.cups,
        "wash_release_on": release,
        "wash_due_on": due,
        "created_by_id": actors.organiser_id,
    }


def book_through_services(
    factory: sessionmaker[Session],
    settings: Settings,
    actors: Actors,
    orders: Sequence[PlannedOrder],
) -> tuple[Timing, Timing]:
    """Each order as the application books it: the organiser creates and submits it (one unit
    of work), the planner confirms it (another). Returns (create+submit, confirm) timings."""
    submitting, confirming = Timing("create + submit_order"), Timing("confirm_order")
    for number, planned in enumerate(orders):
        started = time.perf_counter_ns()
        order_id = _create_and_submit(factory, settings, actors, planned, number)
        submitting.add(started)
        started = time.perf_counter_ns()
        _confirm(factory, settings, actors, order_id)
        confirming.add(started)
    return submitting, confirming


def _create_and_submit(
    factory: sessionmaker[Session],
    settings: Settings,
    actors: Actors,
    planned: PlannedOrder,
    number: int,
) -> int:
    now = utcnow()
    with unit_of_work(factory) as session:
        organiser = session.get_one(User, actors.organiser_id)
        assert organiser.organisation is not None
        data = EventInput(
            name=f"Booked event {number + 1}",
            starts_at=planned.starts_at,
            ends_at=planned.ends_at,
            postcode="9000",
        )
        event = create_event(session, settings, organiser.organisation, data, now)
        order = create_order(session, settings, organiser, event, _order_input(planned), now)
        submit_order(session, settings, organiser, order, now)
        return order.id


def _order_input(planned: PlannedOrder) -> OrderInput:
    return OrderInput(
        service=Service.RENT_AND_WASH,
        delivery_by=Carrier.COURIER,
        pickup_by=Carrier.COURIER,
        delivery_start=planned.delivery_start,
        delivery_end=planned.delivery_end,
        pickup_start=planned.pickup_start,
        pickup_end=planned.pickup_end,
        quantities={planned.cup_code: planned.cups},
    )


def _confirm(
    factory: sessionmaker[Session], settings: Settings, actors: Actors, order_id: int
) -> None:
    with unit_of_work(factory) as session:
        planner = session.get_one(User, actors.planner_id)
        order = session.get_one(Order, order_id)
        confirm_order(session, settings, planner, order, utcnow())


# --- the queries --------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    label: str
    pickup_end: datetime
    cups: int


def probes(calendar: LineCalendar, today: date) -> list[Probe]:
    """A new order picked up on the Sunday evening in the middle of the season."""
    middle = today + timedelta(weeks=SEASON_WEEKS // 2)
    sunday = middle + timedelta(days=(7 - middle.isoweekday()) % 7)
    pickup_end = datetime(sunday.year, sunday.month, sunday.day, 18, tzinfo=calendar.zone)
    return [
        Probe(f"fit_of {FIT_CUPS:,} cups", pickup_end, FIT_CUPS),
        Probe(f"fit_of {NO_FIT_CUPS:,} cups", pickup_end, NO_FIT_CUPS),
    ]


def plain_select(session: Session, line_id: int, today: date) -> list[tuple[date, date, int]]:
    """The reference: the booked orders' rows that the fit query reads, as a plain Core SELECT
    (no grouping, no booking): what the database costs for the same days."""
    orders = Order.__table__
    query = select(orders.c.wash_release_on, orders.c.wash_due_on, orders.c.wash_cups).where(
        orders.c.line_id == line_id,
        orders.c.status.in_(BOOKED_STATUSES),
        orders.c.wash_due_on >= today,
    )
    return [tuple(row) for row in session.execute(query)]


@dataclass
class QueryFigures:
    reference: Timing
    probes: list[tuple[Timing, Fit]]
    planner: Timing
    reference_rows: int = 0
    windows: int = 0


def time_queries(
    factory: sessionmaker[Session],
    settings: Settings,
    line_id: int,
    now: datetime,
    repeat: int,
) -> QueryFigures:
    """Interleave the reference SELECT and the queries, a fresh session per round (a request);
    the session's connection and the line are fetched before the clock starts."""
    calendar = LineCalendar.from_settings(settings)
    today = calendar.local_date(now)
    checks = probes(calendar, today)
    figures = QueryFigures(
        Timing("plain SELECT (reference)"),
        [(Timing(probe.label), Fit(False, today, today, 0, 0, 0)) for probe in checks],
        Timing(f"booking_calendar {PLANNER_WEEKS} weeks"),
    )
    for _ in range(repeat):
        with factory() as session:
            line = session.get_one(Line, line_id)
            _time_round(figures, session, settings, line, checks, now)
    return figures


def _time_round(
    figures: QueryFigures,
    session: Session,
    settings: Settings,
    line: Line,
    checks: list[Probe],
    now: datetime,
) -> None:
    today = calendar_for(settings, line).local_date(now)
    rows = timed(figures.reference, partial(plain_select, session, line.id, today))
    figures.reference_rows = len(rows)
    for number, probe in enumerate(checks):
        query = partial(fit_of, session, settings, line, probe.pickup_end, probe.cups, now)
        timing = figures.probes[number][0]
        figures.probes[number] = (timing, timed(timing, query))
    timed(figures.planner, partial(booking_calendar, session, settings, line, now, PLANNER_WEEKS))
    figures.windows = len(booked_windows(session, line.id, today))


def time_booking_in_memory(
    factory: sessionmaker[Session], settings: Settings, line_id: int, now: datetime, repeat: int
) -> tuple[Timing, int]:
    """EDF booking of every confirmed order into the days, in memory (no database)."""
    with factory() as session:
        line = session.get_one(Line, line_id)
        calendar = calendar_for(settings, line)
        today = calendar.local_date(now)
        jobs: list[WashJob] = booked_jobs(session, line_id, today)
    timing = Timing("book() all orders, in memory")
    late = 0
    for _ in range(repeat):
        late = len(timed(timing, lambda: book(jobs, calendar, today)).late)
    return timing, late


# --- the run ------------------------------------------------------------------------------


@dataclass
class Report:
    database: str
    orders: int
    bulk_rows: int
    bulk_seconds: float
    utilisation: float
    submitting: Timing
    confirming: Timing
    booking: Timing
    late_orders: int
    queries: QueryFigures

    @property
    def passed(self) -> bool:
        return all(timing.median < LIMIT_MS for timing, _fit in self.queries.probes)


def run(options: Options) -> Report:
    settings = load_settings(environ={})
    with database(options.database_url) as url:
        prepare(url)
        engine = make_engine(url)
        try:
            return _run_on(engine, settings, options)
        finally:
            engine.dispose()


def _run_on(engine: Engine, settings: Settings, options: Options) -> Report:
    factory = make_session_factory(engine)
    actors = create_actors(factory, settings)
    calendar = LineCalendar.from_settings(settings)
    now = utcnow()
    today = calendar.local_date(now)
    planned, ledger = plan_season(calendar, today, options.orders, random.Random(options.seed))
    bulk, sampled = (
        planned[: options.orders - options.sample],
        planned[len(planned) - options.sample :],
    )
    started = time.perf_counter()
    bulk_insert(engine, calendar, actors, bulk)
    bulk_seconds = time.perf_counter() - started
    submitting, confirming = book_through_services(factory, settings, actors, sampled)
    booking, late = time_booking_in_memory(factory, settings, actors.line_id, now, options.repeat)
    queries = time_queries(factory, settings, actors.line_id, now, options.repeat)
    last = today + timedelta(weeks=SEASON_WEEKS, days=7)
    return Report(
        database=f"{engine.dialect.name} {_server_version(engine)}",
        orders=options.orders,
        bulk_rows=4 * len(bulk),
        bulk_seconds=bulk_seconds,
        utilisation=ledger.utilisation(today, last),
        submitting=submitting,
        confirming=confirming,
        booking=booking,
        late_orders=late,
        queries=queries,
    )


def _server_version(engine: Engine) -> str:
    with engine.connect() as connection:
        info = connection.dialect.server_version_info or ()
    return ".".join(str(part) for part in info)


# --- printing -----------------------------------------------------------------------------


def print_report(report: Report, options: Options) -> None:
    queries = report.queries
    reference = queries.reference.median
    print(f"wash-ops capacity benchmark - {report.database}, Python {platform.python_version()}")
    print(
        f"machine: {platform.machine()}, {_cpus()} CPUs, {platform.platform(terse=True)}, "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"season: {report.orders:,} confirmed orders over {SEASON_WEEKS} weeks, "
        f"{report.utilisation:.0%} of the line's capacity planned, seed {options.seed}"
    )
    bulk = report.orders - options.sample
    print(
        f"setup: bulk INSERT of {bulk:,} confirmed orders ({report.bulk_rows:,} rows: events, "
        f"orders, lines, status changes; 4 Core executemany INSERTs, 1 transaction) "
        f"in {report.bulk_seconds:.2f} s"
    )
    print(f"booking through the services, {options.sample} orders (ms per order):")
    for timing in (report.submitting, report.confirming):
        _line(timing)
    print(f"queries at {report.orders:,} booked orders, {options.repeat} repeats (ms):")
    _line(queries.reference, f"{queries.reference_rows:,} rows")
    for timing, fit in queries.probes:
        _line(timing, f"x{timing.median / reference:.2f} SELECT; {_describe(fit)}")
    _line(queries.planner, f"x{queries.planner.median / reference:.2f} SELECT")
    _line(report.booking, f"{report.late_orders} late")
    print(
        f"  (fit_of reads {queries.windows} rows: the booked cups summed per wash window "
        "by the database)"
    )
    medians = " and ".join(f"{timing.median:.1f} ms" for timing, _fit in queries.probes)
    print(
        f"{'PASS' if report.passed else 'FAIL'}: fit query median {medians} "
        f"({FIT_CUPS:,} / {NO_FIT_CUPS:,} cups), limit {LIMIT_MS:.0f} ms "
        f"at {report.orders:,} booked orders"
    )


def _line(timing: Timing, note: str = "") -> None:
    print(
        f"  {timing.label:<42} median {timing.median:8.2f}  p95 {timing.p95:8.2f}"
        + (f"  ({note})" if note else "")
    )


def _describe(fit: Fit) -> str:
    if fit.fits:
        return f"fits, {fit.free_in_window:,} free in {fit.release}..{fit.due}"
    earliest = fit.earliest_pickup.isoformat() if fit.earliest_pickup else "none"
    return (
        f"no fit, {fit.free_in_window:,} free in {fit.release}..{fit.due}; "
        f"earliest pickup that fits {earliest}"
    )


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def main(argv: Sequence[str] | None = None) -> int:
    options = setup(argv)
    print_report(run(options), options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
