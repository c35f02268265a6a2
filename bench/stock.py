"""Stock benchmark: a million-row stock ledger, then the stock overview and the availability query
timed against a primary-key read.

What it does, in one run:

1. plans, with a fixed seed, the orders of as many seasons as it takes to fill the ledger with
   ``--rows`` movements, plus the bookings already made for the 26 weeks after ``--now``
   (default: the next 1 July at noon, mid-season, when the most orders are out; the ledger is
   made up to that moment even when it lies ahead of the clock). Events cluster in summer and
   at weekends; 5 cup types; ``--organisations`` organisations, every fifth of them with cups
   of its own as well (services wash_own and store_own); rental orders of 150 to 12,000 cups
   in one or two cup types, made 1 to 20 weeks ahead and confirmed a few days later. The first
   event day is moved until the ledger holds ``--rows`` rows or up to 0.1 % more;
2. runs every order's cups through the ledger in time order, in memory, as the services would
   book them: confirming reserves clean pool cups where they stand on the pallet places (some
   reservations are released by the office and made again before loading, some orders are
   cancelled), loading, delivering to the event's place, picking up, receiving (some cups
   broken, some missing, a few left at the event), and the line's work, which books every crate
   on (received_dirty -> on_line) and off (on_line -> clean_available on a pallet place), and
   its rejects as broken. Customers' own cups come in dirty, are washed and go back to the
   event or into storage. Monthly counts, a yearly purchase of the cups lost, and the opening
   stock complete the ledger. Orders whose next step lies after now stay where they are:
   submitted, confirmed with their cups reserved (or not, while released), loaded, at the
   event, on the way back, received, on the line;
3. loads it, timed: the cup types, users, organisations and every warehouse place through the
   services, then with SQLAlchemy Core ``executemany`` the events, orders and order lines,
   the events' places, the movements (in time order, 20,000 rows a chunk, one transaction)
   and the balances they add up to (zero ones included, as the ledger leaves them); on
   PostgreSQL it then runs ``VACUUM ANALYZE`` (autovacuum's state after a bulk load); SQLite is
   left as the application leaves it;
4. checks ``verify_ledger(session) == []`` once, timed (it reads the whole ledger);
5. times, interleaved ``--repeat`` times, each round in a fresh session whose connection is
   taken and whose transaction is begun (``SELECT 1``) before the clock starts:
   - **the reference**: a primary-key read, ``session.get(StockMovement, id)``;
   - ``stock_overview(session)``, the office's stock overview;
   - ``availability(session, settings, "ECO33", today, 28, now)``, and the same for the cup
     type with the most orders out after ECO33;
   - ``find_movements`` of one order (a closed rental order with the median number of
     movements), the ledger page's drill-down;
   - for information, what the same pages run besides: ``count_movements`` of that order and
     ``stock_owners`` (the ledger page), ``virtual_places_with_stock`` (the overview page),
     and one organisation's ``stock_overview`` (the organiser's stock page).

It prints the figures, each query's ratio to the primary-key read, and a PASS/FAIL line for the
requirement "with 1,000,000 ledger rows the stock overview and the availability query each
stay under 100 ms" (medians of the overview and both availability queries). It is a benchmark,
not a test: it exits 0 whatever the figures, and non-zero only when it crashes.

    .venv/bin/python bench/stock.py
    .venv/bin/python bench/stock.py --rows 100000 --repeat 10
    .venv/bin/python bench/stock.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/wash_ops_bench_stock

A PostgreSQL database must exist and be empty; the script refuses one that already has tables.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import math
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from operator import itemgetter
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, insert, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from wash_ops.accounts.models import Organisation, OrganisationStatus, Role
from wash_ops.accounts.services import create_user
from wash_ops.catalogue.models import CupType
from wash_ops.catalogue.services import sync_from_settings
from wash_ops.config import Settings, load_settings
from wash_ops.db import make_engine, make_session_factory, unit_of_work, utcnow
from wash_ops.inventory.availability import availability
from wash_ops.inventory.ledger import verify_ledger
from wash_ops.inventory.locations import LossReason, create_location, loss_location
from wash_ops.inventory.models import (
    POOL,
    Location,
    LocationKind,
    StockBalance,
    StockMovement,
    StockState,
)
from wash_ops.inventory.queries import (
    MovementFilter,
    count_movements,
    find_movements,
    stock_overview,
    stock_owners,
    virtual_places_with_stock,
)
from wash_ops.inventory.reservations import OUT_STATES
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
from wash_ops.planning.calendar import LineCalendar

LIMIT_MS = 100.0
MAIN_CUP = "ECO33"
AVAILABILITY_DAYS = 28
FUTURE_WEEKS = 26
CHUNK = 20_000
PASSWORD = "benchmark password 1"

# --- the business, in numbers -------------------------------------------------------------

EVENTS_PER_DAY = 20.0  # at month weight 1, averaged over the week
MONTH_WEIGHTS = {
    1: 0.15,
    2: 0.2,
    3: 0.45,
    4: 0.75,
    5: 1.05,
    6: 1.35,
    7: 1.45,
    8: 1.45,
    9: 1.05,
    10: 0.6,
    11: 0.3,
    12: 0.4,
}
# ISO weekday an event starts on -> weight: festivals cluster on the weekend.
EVENT_WEEKDAYS = {1: 4, 2: 4, 3: 6, 4: 8, 5: 22, 6: 34, 7: 22}
WEEKDAY_MEAN = sum(EVENT_WEEKDAYS.values()) / 7
# (weight, smallest, largest) cups of a rental order: mostly small events, a few festivals.
ORDER_SIZES = ((55, 150, 600), (33, 600, 1_800), (10, 1_800, 4_500), (2, 4_500, 12_000))
PICKUP_DELAYS_H = (10, 14, 16, 20, 38)
# (weight, fewest, most) days an order is made before its event.
LEAD_DAYS = ((35, 7, 21), (45, 21, 60), (20, 60, 140))
CUP_MIX = {"ECO33": 45, "ECO25": 20, "ECO50": 15, "WINE15": 10, "COCK30": 10}
TWO_CUP_TYPES = 0.3  # share of rental orders with a second cup type
OWN_CUPS_EVERY = 5  # every fifth organisation also has cups of its own
OWN_CUPS_ORDERS = 0.45  # share of those organisations' orders that wash or store their cups
CANCELLED = 0.03
RELEASED = 0.05  # the office releases the reservation; cups are reserved again before loading
LINE_REJECTS = 0.004
CRATE_TO_PALLET = timedelta(minutes=3)
PALLET_CRATES = 60
PALLET_FILL = 0.7  # the opening stock fills a pallet place to 70 %
POOL_MARGIN = 1.3  # pool = peak of cups committed to orders x margin
RACKS_PER_ZONE = 8
PALLETS_PER_RACK = 6

T = TypeVar("T")
Place = str | int  # a location's code, or an order number for its event's place
Key = tuple[str, int | None, StockState, Place]  # cup code, owner (organisation index), state


# --- options ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    rows: int
    organisations: int
    database_url: str | None
    repeat: int
    seed: int
    now: date | None


def setup(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rows", type=int, default=1_000_000, help="ledger rows, at least (1000000)"
    )
    parser.add_argument("--organisations", type=int, default=50, help="organisations (50)")
    parser.add_argument(
        "--database-url",
        help="an empty database (default: a temporary SQLite file), e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/wash_ops_bench_stock",
    )
    parser.add_argument("--repeat", type=int, default=30, help="timed repeats per query (30)")
    parser.add_argument("--seed", type=int, default=2027, help="random seed of the history")
    parser.add_argument(
        "--now",
        type=date.fromisoformat,
        help="the day the ledger is seen on, at noon local time (default: the next 1 July, "
        "mid-season, when most orders are out)",
    )
    args = parser.parse_args(argv)
    if args.rows < 1_000 or args.repeat < 1 or args.organisations < OWN_CUPS_EVERY:
        parser.error(f"need --rows >= 1000, --repeat >= 1 and --organisations >= {OWN_CUPS_EVERY}")
    return Options(
        args.rows, args.organisations, args.database_url, args.repeat, args.seed, args.now
    )


# --- timing -------------------------------------------------------------------------------


@dataclass
class Timing:
    label: str
    samples_ms: list[float] = field(default_factory=list)
    note: str = ""

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


# --- the business -------------------------------------------------------------------------


@dataclass(frozen=True)
class Business:
    """What the plan and the simulation need to know: cup types, organisations, the line."""

    per_crate: dict[str, int]
    organisations: int
    own_cups: dict[int, tuple[str, int]]  # organisation index -> (cup code, cups it owns)
    calendar: LineCalendar
    cups_per_hour: float
    seed: int

    @property
    def zone(self) -> ZoneInfo:
        return self.calendar.zone

    @property
    def codes(self) -> list[str]:
        return list(self.per_crate)

    @classmethod
    def from_settings(cls, settings: Settings, organisations: int, seed: int) -> Business:
        per_crate = {
            cup.code: cup.cups_per_crate for cup in settings.cup_types if cup.code in CUP_MIX
        }
        if MAIN_CUP not in per_crate:
            raise SystemExit(f"the configured cup types have no {MAIN_CUP}")
        rng = random.Random(f"{seed}:owners")
        mix = [CUP_MIX[code] for code in per_crate]
        own_cups = {
            index: (rng.choices(list(per_crate), weights=mix)[0], rng.randint(15, 80) * 100)
            for index in range(0, organisations, OWN_CUPS_EVERY)
        }
        line = settings.line
        hours = (
            line.shift_end.hour + line.shift_end.minute / 60
            - line.shift_start.hour - line.shift_start.minute / 60
        )  # fmt: skip
        return cls(
            per_crate=per_crate,
            organisations=organisations,
            own_cups=own_cups,
            calendar=LineCalendar.from_settings(settings),
            cups_per_hour=line.capacity_per_day / hours,
            seed=seed,
        )

    def local(self, day: date, hours: float) -> datetime:
        """A local wall-clock time on ``day``, in UTC."""
        midnight = datetime(day.year, day.month, day.day, tzinfo=self.zone)
        return (midnight + timedelta(hours=hours)).astimezone(UTC)

    def wash_start(self, arrived: datetime, rng: random.Random) -> datetime:
        """Some time on the first working day of the wash window, after the cups are in."""
        day, _due = self.calendar.wash_window(arrived)
        while not self.calendar.is_open(day):
            day += timedelta(days=1)
        start = self.local(day, self.calendar.shift_start_hour + rng.uniform(0, 8))
        return max(start, arrived + timedelta(hours=1))


# --- the plan -----------------------------------------------------------------------------


@dataclass
class PlannedOrder:
    organisation: int
    service: Service
    starts_at: datetime
    ends_at: datetime
    pickup_start: datetime
    pickup_end: datetime
    lines: dict[str, int]
    created: datetime
    confirmed: datetime
    cancelled: datetime | None
    released: datetime | None
    load_at: datetime
    deliver_at: datetime
    pickup_at: datetime
    receive_at: datetime
    wash_start: datetime
    left_share: float  # of the delivered cups, left at the event
    broken_share: float  # of the picked-up cups, broken
    missing_share: float  # of the picked-up cups, missing on the count
    load_share: float  # of the reserved cups, loaded
    foreign_crates: int
    after_wash: timedelta  # until customer cups go back or into storage
    close_after: timedelta
    number: int = 0
    status: OrderStatus = OrderStatus.SUBMITTED
    updated: datetime | None = None

    @property
    def rental(self) -> bool:
        return self.service is Service.RENT_AND_WASH

    @property
    def delivery_start(self) -> datetime:
        return self.starts_at - timedelta(hours=28)

    @property
    def delivery_end(self) -> datetime:
        return self.starts_at - timedelta(hours=24)

    @property
    def reference(self) -> str:
        return f"order {self.number + 1}"

    @property
    def wash_cups(self) -> int:
        return sum(self.lines.values())


def plan_orders(business: Business, first: date, last: date, now: datetime) -> list[PlannedOrder]:
    """Orders with events from ``first`` to ``last`` that exist by ``now``, by creation.
    Each day's orders come from a random generator of their own, so a longer history only
    adds older orders."""
    planned: list[PlannedOrder] = []
    org_weights = [1 / (index + 1) ** 0.8 for index in range(business.organisations)]
    day = first
    while day <= last:
        rng = random.Random(f"{business.seed}:{day.isoformat()}")
        expected = (
            EVENTS_PER_DAY
            * MONTH_WEIGHTS[day.month]
            * EVENT_WEEKDAYS[day.isoweekday()]
            / WEEKDAY_MEAN
        )
        for _ in range(int(expected) + (rng.random() < expected % 1)):
            order = _draw_order(business, day, rng, org_weights)
            if order.created <= now:
                planned.append(order)
        day += timedelta(days=1)
    planned.sort(key=lambda order: order.created)
    for number, order in enumerate(planned):
        order.number = number
    return planned


def _draw_order(
    business: Business, day: date, rng: random.Random, org_weights: list[float]
) -> PlannedOrder:
    starts_at = business.local(day, rng.randint(10, 19))
    hours = rng.randint(4, 12) if rng.random() < 0.9 else 24 * rng.randint(1, 3)
    ends_at = starts_at + timedelta(hours=hours)
    pickup_end = ends_at + timedelta(hours=rng.choice(PICKUP_DELAYS_H))
    pickup_start = max(ends_at, pickup_end - timedelta(hours=4))
    organisation = rng.choices(range(business.organisations), weights=org_weights)[0]
    if organisation in business.own_cups and rng.random() < OWN_CUPS_ORDERS:
        service = Service.WASH_OWN if rng.random() < 0.6 else Service.STORE_OWN
        code, owned = business.own_cups[organisation]
        lines = {code: int(round(owned * rng.uniform(0.6, 1.0), -1))}
    else:
        service = Service.RENT_AND_WASH
        lines = _rental_lines(business, rng)
    _, fewest, most = rng.choices(LEAD_DAYS, weights=[lead[0] for lead in LEAD_DAYS])[0]
    created = starts_at - timedelta(days=rng.uniform(fewest, most))
    delivery_start = starts_at - timedelta(hours=28)
    confirmed = min(
        created + timedelta(hours=rng.uniform(2, 96)), delivery_start - timedelta(days=3)
    )
    cancelled = released = None
    roll = rng.random()
    if roll < CANCELLED:
        cancelled = confirmed + (delivery_start - timedelta(days=1) - confirmed) * rng.random()
    elif roll < CANCELLED + RELEASED and service is Service.RENT_AND_WASH:
        earliest, latest = confirmed + timedelta(days=1), delivery_start - timedelta(days=3)
        if latest > earliest:
            released = earliest + (latest - earliest) * rng.random()
    receive_at = pickup_end + timedelta(
        hours=rng.uniform(1, 8) if service is Service.RENT_AND_WASH else rng.uniform(2, 30)
    )
    return PlannedOrder(
        organisation=organisation,
        service=service,
        starts_at=starts_at,
        ends_at=ends_at,
        pickup_start=pickup_start,
        pickup_end=pickup_end,
        lines=lines,
        created=created,
        confirmed=confirmed,
        cancelled=cancelled,
        released=released,
        load_at=delivery_start - timedelta(hours=rng.uniform(1, 4)),
        deliver_at=delivery_start + timedelta(hours=rng.uniform(0.25, 3.5)),
        pickup_at=pickup_start + (pickup_end - pickup_start) * rng.random(),
        receive_at=receive_at,
        wash_start=business.wash_start(receive_at, rng),
        left_share=rng.uniform(0.005, 0.03) if rng.random() < 0.08 else 0.0,
        broken_share=rng.uniform(0, 0.006) if rng.random() < 0.5 else 0.0,
        missing_share=rng.uniform(0, 0.02) if rng.random() < 0.6 else 0.0,
        load_share=rng.uniform(0.85, 0.98) if rng.random() < 0.03 else 1.0,
        foreign_crates=rng.choice((0, 0, 0, 0, 0, 1, 2, 3)),
        after_wash=timedelta(hours=rng.uniform(2, 96)),
        close_after=timedelta(days=rng.uniform(3, 10)),
    )


def _rental_lines(business: Business, rng: random.Random) -> dict[str, int]:
    _, smallest, largest = rng.choices(ORDER_SIZES, weights=[size[0] for size in ORDER_SIZES])[0]
    cups = round(rng.randint(smallest, largest), -1)
    mix = [CUP_MIX[code] for code in business.codes]
    first = rng.choices(business.codes, weights=mix)[0]
    second = rng.choices(business.codes, weights=mix)[0]
    if rng.random() < TWO_CUP_TYPES and second != first:
        part = max(10, int(round(cups * rng.uniform(0.2, 0.45), -1)))
        if part < cups:
            return {first: cups - part, second: part}
    return {first: cups}


def pool_sizes(business: Business, planned: list[PlannedOrder]) -> dict[str, int]:
    """Pool cups per cup type: the most cups ever committed to rental orders at once (from
    confirmation until washed), with a margin."""
    changes: list[tuple[datetime, str, int]] = []
    for order in planned:
        if not order.rental:
            continue
        for code, cups in order.lines.items():
            washed = order.wash_start + timedelta(hours=cups / business.cups_per_hour + 1)
            back = order.cancelled if order.cancelled is not None else washed
            changes += [(order.confirmed, code, cups), (back, code, -cups)]
    changes.sort(key=itemgetter(0))
    now_out: Counter[str] = Counter()
    peak: Counter[str] = Counter()
    for _at, code, cups in changes:
        now_out[code] += cups
        peak[code] = max(peak[code], now_out[code])
    return {
        code: max(per_crate * PALLET_CRATES, math.ceil(peak[code] * POOL_MARGIN))
        for code, per_crate in business.per_crate.items()
    }


# --- the warehouse ------------------------------------------------------------------------


@dataclass(frozen=True)
class PlaceSpec:
    code: str
    name: str
    kind: LocationKind
    parent: str | None = None
    capacity_crates: int | None = None


GOODS_IN, DOCKS, LINE_PLACE = "GOODS-IN", ("DOCK-1", "DOCK-2"), "LINE-1"
LOSS_MISSING, LOSS_BREAKAGE, LOSS_COUNT = (f"LOSS-{reason.upper()}" for reason in LossReason)


@dataclass
class Warehouse:
    places: list[PlaceSpec]
    pallets: dict[str, list[str]]  # cup code -> its pool pallet places, in order
    customer_pallet: dict[int, str]  # organisation index -> its pallet place
    opening: dict[str, int]  # pallet place -> opening stock (cups)
    pool: dict[str, int]


def build_warehouse(business: Business, pool: dict[str, int]) -> Warehouse:
    """Pool pallet places per cup type (the opening stock fills them to 70 %) in zones of
    8 racks x 6 places, a customer zone with a place per organisation with cups of its own,
    goods-in, two docks and the line."""
    places: list[PlaceSpec] = []
    pallets: dict[str, list[str]] = {}
    opening: dict[str, int] = {}
    slots = _slots("P", places)
    for code, per_crate in business.per_crate.items():
        crates = -(-pool[code] // per_crate)
        count = max(1, math.ceil(crates / (PALLET_CRATES * PALLET_FILL)))
        pallets[code] = []
        for index in range(count):
            place = next(slots)
            places.append(
                PlaceSpec(
                    place,
                    f"Pallet {place} ({code})",
                    LocationKind.PALLET,
                    place.rsplit("-", 1)[0],
                    PALLET_CRATES,
                )
            )
            pallets[code].append(place)
            opening[place] = (crates // count + (index < crates % count)) * per_crate
    customer_slots = _slots("C", places)
    customer_pallet = {}
    for organisation in business.own_cups:
        place = next(customer_slots)
        places.append(
            PlaceSpec(
                place,
                f"Customer place {place}",
                LocationKind.PALLET,
                place.rsplit("-", 1)[0],
                PALLET_CRATES * 2,
            )
        )
        customer_pallet[organisation] = place
    places += [
        PlaceSpec(GOODS_IN, "Goods in", LocationKind.INTAKE),
        *(PlaceSpec(dock, f"Returns dock {dock[-1]}", LocationKind.INTAKE) for dock in DOCKS),
        PlaceSpec(LINE_PLACE, "Washing line 1", LocationKind.ZONE),
    ]
    return Warehouse(places, pallets, customer_pallet, opening, dict(pool))


def _slots(prefix: str, places: list[PlaceSpec]) -> Iterator[str]:
    """Pallet place codes P1-R01-1, P1-R01-2, ...; adds the zones and racks as they fill."""
    zone = 0
    while True:
        zone += 1
        zone_code = f"{prefix}{zone}"
        places.append(PlaceSpec(zone_code, f"Zone {zone_code}", LocationKind.ZONE))
        for rack in range(1, RACKS_PER_ZONE + 1):
            rack_code = f"{zone_code}-R{rack:02d}"
            places.append(PlaceSpec(rack_code, f"Rack {rack_code}", LocationKind.RACK, zone_code))
            for slot in range(1, PALLETS_PER_RACK + 1):
                yield f"{rack_code}-{slot}"


# --- the simulation -----------------------------------------------------------------------

Row = tuple[
    datetime,  # at
    str,  # cup code
    int | None,  # owner (organisation index)
    int,  # quantity
    StockState | None,
    Place | None,
    StockState,
    Place,
    str,  # reason
    int | None,  # order number
    str | None,  # user: "planner", "courier" or None (the line)
]


@dataclass
class Held:
    state: StockState
    place: Place
    quantity: int


Side = tuple[StockState, Place]
CLEAN, RESERVED, LOADED = StockState.CLEAN_AVAILABLE, StockState.RESERVED, StockState.LOADED
AT_EVENT, ON_LINE = StockState.AT_EVENT, StockState.ON_LINE
OFFICE, COURIER = "planner", "courier"  # the users who book; the line books as nobody


class Simulation:
    """The ledger as the services would book it, in time order, in memory: the movements,
    the balances they add up to, and where each order's cups are."""

    def __init__(
        self,
        business: Business,
        warehouse: Warehouse,
        planned: list[PlannedOrder],
        now: datetime,
    ) -> None:
        self.business = business
        self.warehouse = warehouse
        self.planned = planned
        self.now = now
        self.rows: list[Row] = []
        self.balances: dict[Key, int] = {}
        self.held: dict[tuple[int, str], list[Held]] = {}  # (order number, cup) -> its cups
        self.event_places: dict[int, datetime] = {}  # order number -> first use
        self.losses: Counter[str] = Counter()  # pool cups lost or broken since the purchase
        self.shortfalls = 0
        self._steps: list[tuple[datetime, int, Callable[..., None], tuple[object, ...]]] = []
        self._sequence = itertools.count()
        self._next_pallet: dict[str, int] = {}

    # --- bookkeeping

    def move(
        self,
        at: datetime,
        cup: str,
        quantity: int,
        source: Side | None,
        target: Side,
        reason: str,
        order: PlannedOrder | None = None,
        user: str | None = None,
        owner: int | None = None,
    ) -> None:
        """One movement from ``source`` (None: from outside) to ``target``; nothing if the
        quantity is 0."""
        if quantity <= 0:
            return
        from_state, from_place = source if source is not None else (None, None)
        if source is not None:
            key = (cup, owner, *source)
            left = self.balances.get(key, 0) - quantity
            if left < 0:
                raise RuntimeError(f"the simulation took {quantity} from {key}: {left} left")
            self.balances[key] = left
        key = (cup, owner, *target)
        self.balances[key] = self.balances.get(key, 0) + quantity
        number = order.number if order is not None else None
        to_state, to_place = target
        self.rows.append(
            (at, cup, owner, quantity, from_state, from_place, to_state, to_place, reason, number, user)
        )  # fmt: skip

    def clean(self, cup: str, place: Place, owner: int | None = None) -> int:
        return self.balances.get((cup, owner, CLEAN, place), 0)

    def cups_at(self, cup: str, place: str) -> int:
        """Pool cups of ``cup`` on a pool pallet place, all states that stay on it."""
        return sum(
            self.balances.get((cup, None, state, place), 0)
            for state in (CLEAN, StockState.RESERVED, StockState.LOADED)
        )

    def emptiest(self, cup: str) -> list[str]:
        return sorted(self.warehouse.pallets[cup], key=lambda place: self.cups_at(cup, place))

    def put_away_place(self, cup: str, cups: int = 0) -> str:
        """The next pool pallet place of ``cup`` in turn with room for ``cups`` more under 85 %
        of its crates (the emptiest one when none has)."""
        places = self.warehouse.pallets[cup]
        limit = PALLET_CRATES * 0.85 * self.business.per_crate[cup] - cups
        for _ in places:
            index = (self._next_pallet.get(cup, -1) + 1) % len(places)
            self._next_pallet[cup] = index
            if self.cups_at(cup, places[index]) <= limit:
                return places[index]
        return self.emptiest(cup)[0]

    def at(self, when: datetime, step: Callable[..., None], *args: object) -> None:
        """Run ``step(when, *args)`` in time order, unless it lies after now."""
        if when <= self.now:
            heapq.heappush(self._steps, (when, next(self._sequence), step, args))

    @staticmethod
    def status(order: PlannedOrder, status: OrderStatus, when: datetime) -> None:
        order.status, order.updated = status, when

    def total(self, order: PlannedOrder, cup: str) -> int:
        return sum(item.quantity for item in self.held.get((order.number, cup), []))

    # --- the run

    def run(self) -> Simulation:
        first = min((order.confirmed for order in self.planned), default=self.now)
        opening = first - timedelta(days=2)
        for cup, places in self.warehouse.pallets.items():
            for place in places:
                cups = self.warehouse.opening[place]
                self.move(opening, cup, cups, None, (CLEAN, place), "opening stock", user="planner")
        self._calendar_steps(opening)
        for order in self.planned:
            self.status(order, OrderStatus.SUBMITTED, order.created)
            self.at(order.confirmed, self._confirm, order)
        while self._steps:
            when, _sequence, step, args = heapq.heappop(self._steps)
            step(when, *args)
        self.rows.sort(key=itemgetter(0))
        return self

    def _calendar_steps(self, opening: datetime) -> None:
        month = date(opening.year, opening.month, 1)
        while True:
            month = (month + timedelta(days=32)).replace(day=1)
            count_at = self.business.local(month.replace(day=3), 7)
            if count_at > self.now:
                break
            self.at(count_at, self._count, month)
            if month.month == 2 and count_at - opening > timedelta(days=60):
                self.at(self.business.local(month.replace(day=15), 10), self._purchase)

    # --- rental orders

    def _confirm(self, when: datetime, order: PlannedOrder) -> None:
        self.status(order, OrderStatus.CONFIRMED, when)
        if order.rental:
            self._reserve(when, order)
        if order.cancelled is not None:
            self.at(order.cancelled, self._cancel, order)
        elif order.rental:
            if order.released is not None:
                self.at(order.released, self._release, order)
            self.at(order.load_at, self._load, order)
            self.at(order.deliver_at, self._deliver, order)
        else:
            self.at(order.delivery_start, self._return_stored, order)
            self.at(order.receive_at, self._receive_own, order)

    def _reserve(self, when: datetime, order: PlannedOrder) -> None:
        """Clean pool cups become reserved where they stand, place by place in order, all of
        a cup type or none of it (a shortfall is counted: confirm_order would refuse it)."""
        reason = f"reserved for {order.reference}"
        for cup, cups in order.lines.items():
            held = self.held.setdefault((order.number, cup), [])
            need = cups - sum(item.quantity for item in held)
            sources = []
            for place in [*self.warehouse.pallets[cup], GOODS_IN]:
                take = min(need, self.clean(cup, place))
                if take > 0:
                    sources.append((place, take))
                    need -= take
                if need == 0:
                    break
            if need > 0:
                self.shortfalls += 1
                continue
            for place, take in sources:
                self.move(when, cup, take, (CLEAN, place), (RESERVED, place), reason, order, OFFICE)
                held.append(Held(RESERVED, place, take))

    def _give_back(self, when: datetime, order: PlannedOrder) -> None:
        reason = f"reservation released for {order.reference}"
        for cup in order.lines:
            for item in self.held.pop((order.number, cup), []):
                source, target = (item.state, item.place), (CLEAN, item.place)
                self.move(when, cup, item.quantity, source, target, reason, order, OFFICE)

    def _cancel(self, when: datetime, order: PlannedOrder) -> None:
        self._give_back(when, order)
        self.status(order, OrderStatus.CANCELLED, when)

    def _release(self, when: datetime, order: PlannedOrder) -> None:
        """The office gives the cups back; they are reserved again two days before delivery."""
        self._give_back(when, order)
        self.at(order.delivery_start - timedelta(days=2), self._reserve, order)

    def _load(self, when: datetime, order: PlannedOrder) -> None:
        """Reserved -> loaded where the cups stand; what is not loaded goes back to clean."""
        reason = f"loaded for {order.reference}"
        for cup in order.lines:
            keep = round(self.total(order, cup) * order.load_share)
            loaded = []
            for item in self.held.get((order.number, cup), []):
                take = min(keep, item.quantity)
                source = (RESERVED, item.place)
                self.move(when, cup, take, source, (LOADED, item.place), reason, order, COURIER)
                rest = item.quantity - take
                self.move(when, cup, rest, source, (CLEAN, item.place), reason, order, COURIER)
                if take:
                    loaded.append(Held(LOADED, item.place, take))
                keep -= take
            self.held[(order.number, cup)] = loaded

    def _deliver(self, when: datetime, order: PlannedOrder) -> None:
        place = self._event_place(when, order)
        reason = f"delivered for {order.reference}"
        for cup in order.lines:
            total = self.total(order, cup)
            for item in self.held.get((order.number, cup), []):
                source, target = (LOADED, item.place), (AT_EVENT, place)
                self.move(when, cup, item.quantity, source, target, reason, order, COURIER)
            self.held[(order.number, cup)] = [Held(AT_EVENT, place, total)]
        self.status(order, OrderStatus.AT_EVENT, when)
        self.at(order.pickup_at, self._pick_up, order)

    def _event_place(self, when: datetime, order: PlannedOrder) -> int:
        self.event_places.setdefault(order.number, when)
        return order.number

    def _pick_up(self, when: datetime, order: PlannedOrder) -> None:
        """At the event -> dirty, in transit; a few cups stay behind at some events."""
        place = order.number
        reason = f"picked up for {order.reference}"
        for cup in order.lines:
            total = self.total(order, cup)
            left = round(total * order.left_share)
            source, target = (AT_EVENT, place), (StockState.DIRTY_IN_TRANSIT, place)
            self.move(when, cup, total - left, source, target, reason, order, COURIER)
            self.held[(order.number, cup)] = [Held(*target, total - left), Held(*source, left)]
        self.status(order, OrderStatus.PICKED_UP, when)
        self.at(order.receive_at, self._receive, order)

    def _receive(self, when: datetime, order: PlannedOrder) -> None:
        """Good cups to a dock, broken ones to LOSS-BREAKAGE and the rest to LOSS-MISSING,
        spread over the sides the cups come from as ``receive_returns`` does."""
        dock = DOCKS[order.number % 2]
        reason = f"received for {order.reference} with {order.foreign_crates} foreign crates"
        for cup in order.lines:
            sources = self.held.get((order.number, cup), [])
            picked = sources[0].quantity if sources else 0
            broken = round(picked * order.broken_share)
            good = picked - broken - round(picked * order.missing_share)
            left = [item.quantity for item in sources]
            wanted = [
                (good, (StockState.RECEIVED_DIRTY, dock)),
                (broken, (StockState.BROKEN, LOSS_BREAKAGE)),
                (sum(left) - good - broken, (StockState.LOST, LOSS_MISSING)),
            ]
            for quantity, target in wanted:
                for position, item in enumerate(sources):
                    take = min(quantity, left[position])
                    source = (item.state, item.place)
                    self.move(when, cup, take, source, target, reason, order, OFFICE)
                    left[position] -= take
                    quantity -= take
            self.losses[cup] += sum(item.quantity for item in sources) - good
            self.held[(order.number, cup)] = [Held(StockState.RECEIVED_DIRTY, dock, good)]
        self.status(order, OrderStatus.RECEIVED, when)
        self.at(order.wash_start, self._wash, order)

    # --- the line

    def _wash(self, when: datetime, order: PlannedOrder) -> None:
        """Every crate onto the line from ``wash_start`` on, one cup type after the other; the
        crates come off (and their cups are available) once the order's last crate is done."""
        owner = None if order.rental else order.organisation
        reason = f"on the line for {order.reference}"
        start = when
        plans = []
        for cup in order.lines:
            held = self.held.get((order.number, cup), [])
            received = sum(item.quantity for item in held)
            per_crate = self.business.per_crate[cup]
            interval = timedelta(hours=per_crate / self.business.cups_per_hour)
            crates = _crates(received, per_crate)
            for index, cups in enumerate(crates):
                at = start + index * interval
                if at > self.now:
                    break
                source = (held[0].state, held[0].place)
                self.move(at, cup, cups, source, (ON_LINE, LINE_PLACE), reason, order, None, owner)
            plans.append((cup, received, start, interval))
            start += len(crates) * interval
        self.status(order, OrderStatus.WASHING, when)
        self.at(min(start + CRATE_TO_PALLET, self.now), self._washed, order, plans)

    def _washed(
        self,
        when: datetime,
        order: PlannedOrder,
        plans: list[tuple[str, int, datetime, timedelta]],
    ) -> None:
        """Each crate off the line to a pallet place (pool cups: the next place in turn with
        room; customers' cups: their own place); the line's rejects to LOSS-BREAKAGE."""
        owner = None if order.rental else order.organisation
        reason = f"washed for {order.reference}"
        done = True
        for cup, received, start, interval in plans:
            per_crate = self.business.per_crate[cup]
            rejects = round(received * LINE_REJECTS)
            on_line = sum(
                cups
                for index, cups in enumerate(_crates(received, per_crate))
                if start + index * interval <= self.now
            )
            place = None
            off = 0
            for index, cups in enumerate(_crates(received - rejects, per_crate)):
                at = start + index * interval + CRATE_TO_PALLET
                if at > self.now or off + cups > on_line:
                    break
                if not order.rental:
                    place = self.warehouse.customer_pallet[order.organisation]
                elif place is None or self.cups_at(cup, place) + cups > PALLET_CRATES * per_crate:
                    place = self.put_away_place(cup, cups)
                target = (CLEAN, place)
                self.move(at, cup, cups, (ON_LINE, LINE_PLACE), target, reason, order, None, owner)
                off += cups
            if off < received - rejects:
                done = False
                continue
            target = (StockState.BROKEN, LOSS_BREAKAGE)
            rejected = f"rejected on the line for {order.reference}"
            self.move(
                when, cup, rejects, (ON_LINE, LINE_PLACE), target, rejected, order, None, owner
            )
            if order.rental:
                self.losses[cup] += rejects
            else:
                after = when + order.after_wash
                self.at(after, self._after_wash, order, cup, received - rejects)
            self.held.pop((order.number, cup), None)
        if done:
            self.status(order, OrderStatus.WASHED, when)
            self.at(when + order.close_after, self._close, order)

    def _close(self, when: datetime, order: PlannedOrder) -> None:
        self.status(order, OrderStatus.CLOSED, when)

    # --- customers' own cups

    def _receive_own(self, when: datetime, order: PlannedOrder) -> None:
        """The customer's dirty cups enter the ledger, owned by the organisation."""
        dock = DOCKS[1]
        reason = f"customer's cups for {order.reference}"
        owner = order.organisation
        for cup, cups in order.lines.items():
            target = (StockState.RECEIVED_DIRTY, dock)
            self.move(when, cup, cups, None, target, reason, order, OFFICE, owner)
            self.held[(order.number, cup)] = [Held(*target, cups)]
        self.status(order, OrderStatus.RECEIVED, when)
        self.at(order.wash_start, self._wash, order)

    def _return_stored(self, when: datetime, order: PlannedOrder) -> None:
        """Before a store_own customer's event, its stored cups go back out to the event."""
        if order.service is not Service.STORE_OWN:
            return
        owner = order.organisation
        source = (StockState.CUSTOMER_STORED, self.warehouse.customer_pallet[owner])
        reason = f"returned to organisation {owner + 1}"
        for cup, cups in order.lines.items():
            stored = min(cups, self.balances.get((cup, owner, *source), 0))
            if stored:
                target = (AT_EVENT, self._event_place(when, order))
                self.move(when, cup, stored, source, target, reason, order, OFFICE, owner)

    def _after_wash(self, when: datetime, order: PlannedOrder, cup: str, cups: int) -> None:
        """Washed customer cups go into storage (store_own) or back to the event (wash_own)."""
        owner = order.organisation
        place = self.warehouse.customer_pallet[owner]
        cups = min(cups, self.clean(cup, place, owner))
        if order.service is Service.STORE_OWN:
            target: Side = (StockState.CUSTOMER_STORED, place)
            reason = f"stored for organisation {owner + 1}"
        else:
            target = (AT_EVENT, self._event_place(when, order))
            reason = f"returned to organisation {owner + 1}"
        self.move(when, cup, cups, (CLEAN, place), target, reason, order, OFFICE, owner)

    # --- the warehouse's own work

    def _count(self, when: datetime, month: date) -> None:
        """A monthly count of six pool pallet places: some short, a few with a surplus."""
        rng = random.Random(f"{self.business.seed}:count:{month.isoformat()}")
        places = [(cup, place) for cup, items in self.warehouse.pallets.items() for place in items]
        reason = "count: monthly count"
        for cup, place in rng.sample(places, min(6, len(places))):
            roll = rng.random()
            if roll < 0.25 and self.clean(cup, place) > 30:
                short = rng.randint(1, 30)
                target = (StockState.LOST, LOSS_COUNT)
                self.move(when, cup, short, (CLEAN, place), target, reason, user=OFFICE)
                self.losses[cup] += short
            elif roll < 0.35:
                surplus = rng.randint(1, 20)
                self.move(when, cup, surplus, None, (CLEAN, place), reason, user=OFFICE)

    def _purchase(self, when: datetime) -> None:
        """New pool cups for those lost since the last purchase, put away the next day."""
        reason = "new cups from the supplier"
        for cup, per_crate in self.business.per_crate.items():
            cups = -(-self.losses[cup] // per_crate) * per_crate
            self.losses[cup] = 0
            self.move(when, cup, cups, None, (CLEAN, GOODS_IN), reason, user=OFFICE)
        self.at(when + timedelta(days=1), self._put_away)

    def _put_away(self, when: datetime) -> None:
        for cup, per_crate in self.business.per_crate.items():
            left = self.clean(cup, GOODS_IN)
            for place in self.emptiest(cup):
                room = int(PALLET_CRATES * 0.9) * per_crate - self.cups_at(cup, place)
                take = min(left, max(room, 0))
                source, target = (CLEAN, GOODS_IN), (CLEAN, place)
                self.move(when, cup, take, source, target, "put away", user=OFFICE)
                left -= take
                if left == 0:
                    break


def _crates(cups: int, per_crate: int) -> list[int]:
    return [per_crate] * (cups // per_crate) + ([cups % per_crate] if cups % per_crate else [])


@dataclass
class History:
    business: Business
    warehouse: Warehouse
    planned: list[PlannedOrder]
    simulation: Simulation
    first_day: date
    seconds: float
    passes: int


def next_first_of_july(business: Business) -> date:
    today = business.calendar.local_date(utcnow())
    this_year = date(today.year, 7, 1)
    return this_year if this_year >= today else date(today.year + 1, 7, 1)


def make_history(business: Business, target: int, now: datetime) -> History:
    """Plan and simulate, then move the first event day so that the ledger holds ``target``
    rows or a little more: later when the rows of the first days' orders are not needed,
    earlier (by the rows a day so far) when the ledger is short. Each day's orders are drawn
    from a generator of their own, so moving the first day only adds or drops old orders."""
    started = time.perf_counter()
    today = business.calendar.local_date(now)
    last = today + timedelta(weeks=FUTURE_WEEKS)
    days = max(1, round(target / 700))  # about 700 rows a day over a year: a first guess
    trimmed = False
    for passes in range(1, 9):
        first = today - timedelta(days=days)
        planned = plan_orders(business, first, last, now)
        warehouse = build_warehouse(business, pool_sizes(business, planned))
        simulation = Simulation(business, warehouse, planned, now).run()
        rows = len(simulation.rows)
        if rows < target:
            days += max(1, math.ceil((target - rows) / max(rows / days, 1) * 1.05))
            continue
        spare = 0 if trimmed else _spare_days(business, planned, simulation, target, first)
        if spare == 0 or spare >= days:
            elapsed = time.perf_counter() - started
            return History(business, warehouse, planned, simulation, first, elapsed, passes)
        days -= spare
        trimmed = True
    raise RuntimeError(f"could not reach {target:,} rows in 8 passes; got {rows:,}")


def _spare_days(
    business: Business,
    planned: list[PlannedOrder],
    simulation: Simulation,
    target: int,
    first: date,
) -> int:
    """The first event days whose orders' rows the ledger can do without (0.1 % to spare)."""
    per_order = Counter(row[9] for row in simulation.rows if row[9] is not None)
    per_day: Counter[date] = Counter()
    for order in planned:
        per_day[business.calendar.local_date(order.starts_at)] += per_order[order.number]
    rows = len(simulation.rows)
    spare, day = 0, first
    while rows - per_day[day] >= target * 1.001:
        rows -= per_day[day]
        spare += 1
        day += timedelta(days=1)
    return spare


# --- the database -------------------------------------------------------------------------


@contextmanager
def database(url: str | None) -> Iterator[str]:
    """The given (empty) database, or a temporary SQLite file removed afterwards."""
    if url is not None:
        yield url
        return
    folder = Path(tempfile.mkdtemp(prefix="wash-ops-bench-"))
    try:
        yield f"sqlite:///{folder / 'stock.sqlite'}"
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


@dataclass
class Ids:
    line: int
    cups: dict[str, int]
    users: dict[str, int]
    organisations: list[int]
    places: dict[str, int]
    orders: list[int] = field(default_factory=list)
    events: list[int] = field(default_factory=list)
    event_places: dict[int, int] = field(default_factory=dict)  # order number -> location id

    def place(self, place: Place) -> int:
        return self.places[place] if isinstance(place, str) else self.event_places[place]


@dataclass
class LoadFigures:
    seconds: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)

    def timed(self, label: str, action: Callable[[], int]) -> None:
        started = time.perf_counter()
        self.rows[label] = action()
        self.seconds[label] = time.perf_counter() - started

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


def create_base(
    factory: sessionmaker[Session], settings: Settings, history: History, now: datetime
) -> Ids:
    """The line and cup types, an office user and a courier, the organisations, and every
    warehouse and loss place, through the services (organisations as Core rows)."""
    with unit_of_work(factory) as session:
        line = sync_from_settings(session, settings)
        users = {
            name: create_user(
                session,
                email=f"{name}@bench.test",
                name=name.title(),
                password=PASSWORD,
                role=role,
                organisation=None,
            ).id
            for name, role in (("planner", Role.PLANNER), ("courier", Role.COURIER))
        }
        cups = {cup.code: cup.id for cup in session.scalars(select(CupType))}
        made: dict[str, Location] = {}
        for spec in history.warehouse.places:
            made[spec.code] = create_location(
                session,
                code=spec.code,
                name=spec.name,
                kind=spec.kind,
                parent=made[spec.parent] if spec.parent else None,
                capacity_crates=spec.capacity_crates,
            )
        for reason in LossReason:
            place = loss_location(session, reason)
            made[place.code] = place
        session.flush()
        places = {code: place.id for code, place in made.items()}
        organisations = list(
            session.scalars(
                insert(Organisation).returning(Organisation.id, sort_by_parameter_order=True),
                [
                    {
                        "name": f"Bench Organisation {index + 1:02d}",
                        "status": OrganisationStatus.APPROVED,
                        "created_at": now - timedelta(days=2_000),
                        "reviewed_at": now - timedelta(days=2_000),
                    }
                    for index in range(history.business.organisations)
                ],
            )
        )
        return Ids(line.id, cups, users, organisations, places)


def insert_orders(engine: Engine, history: History, ids: Ids) -> int:
    """Events, orders, order lines and each confirmed order's confirming status change, in
    one transaction (RETURNING gives the new ids in order)."""
    planned = history.planned
    calendar = history.business.calendar
    with engine.begin() as connection:
        ids.events = list(
            connection.scalars(
                insert(Event).returning(Event.id, sort_by_parameter_order=True),
                [_event_row(ids, order) for order in planned],
            )
        )
        ids.orders = list(
            connection.scalars(
                insert(Order).returning(Order.id, sort_by_parameter_order=True),
                [_order_row(calendar, ids, order) for order in planned],
            )
        )
        lines = [
            {"order_id": ids.orders[order.number], "cup_type_id": ids.cups[cup], "quantity": cups}
            for order in planned
            for cup, cups in order.lines.items()
        ]
        connection.execute(insert(OrderLine), lines)
        changes = [
            {
                "order_id": ids.orders[order.number],
                "from_status": OrderStatus.SUBMITTED,
                "to_status": OrderStatus.CONFIRMED,
                "user_id": ids.users["planner"],
                "at": order.confirmed,
            }
            for order in planned
            if order.status is not OrderStatus.SUBMITTED
        ]
        connection.execute(insert(OrderStatusChange), changes)
    return 2 * len(planned) + len(lines) + len(changes)


def _event_row(ids: Ids, order: PlannedOrder) -> dict[str, object]:
    return {
        "organisation_id": ids.organisations[order.organisation],
        "name": f"Bench event {order.number + 1}",
        "postcode": "9000",
        "place": "Gent",
        "lat": 51.05,
        "lon": 3.72,
        "starts_at": order.starts_at,
        "ends_at": order.ends_at,
        "created_at": order.created,
    }


def _order_row(calendar: LineCalendar, ids: Ids, order: PlannedOrder) -> dict[str, object]:
    release, due = calendar.wash_window(order.pickup_end)
    carrier = Carrier.COURIER if order.rental else Carrier.ORGANISER
    return {
        "organisation_id": ids.organisations[order.organisation],
        "event_id": ids.events[order.number],
        "line_id": ids.line,
        "status": order.status,
        "service": order.service,
        "delivery_by": carrier,
        "pickup_by": carrier,
        "delivery_start": order.delivery_start,
        "delivery_end": order.delivery_end,
        "pickup_start": order.pickup_start,
        "pickup_end": order.pickup_end,
        "wash_cups": order.wash_cups,
        "wash_release_on": release,
        "wash_due_on": due,
        "created_at": order.created,
        "updated_at": order.updated or order.created,
    }


def insert_event_places(engine: Engine, history: History, ids: Ids) -> int:
    """The events' virtual places, in the order they were first used (as ``event_location``
    makes them)."""
    numbers = sorted(history.simulation.event_places, key=history.simulation.event_places.get)
    if not numbers:
        return 0
    with engine.begin() as connection:
        made = connection.scalars(
            insert(Location).returning(Location.id, sort_by_parameter_order=True),
            [
                {
                    "code": f"EVENT-{ids.events[number]}",
                    "name": f"Bench event {number + 1}",
                    "kind": LocationKind.EVENT,
                    "event_id": ids.events[number],
                }
                for number in numbers
            ],
        ).all()
    ids.event_places = dict(zip(numbers, made, strict=True))
    return len(made)


def insert_movements(engine: Engine, history: History, ids: Ids) -> int:
    """The ledger in time order, ``CHUNK`` rows per executemany, one transaction."""
    rows = history.simulation.rows
    orders, organisations, users = ids.orders, ids.organisations, ids.users
    statement = insert(StockMovement)
    with engine.begin() as connection:
        for offset in range(0, len(rows), CHUNK):
            connection.execute(
                statement,
                [
                    {
                        "cup_type_id": ids.cups[cup],
                        "owner_id": None if owner is None else organisations[owner],
                        "quantity": quantity,
                        "from_state": from_state,
                        "from_location_id": None if from_place is None else ids.place(from_place),
                        "to_state": to_state,
                        "to_location_id": ids.place(to_place),
                        "reason": reason,
                        "order_id": None if number is None else orders[number],
                        "user_id": None if user is None else users[user],
                        "at": at,
                    }
                    for (
                        at,
                        cup,
                        owner,
                        quantity,
                        from_state,
                        from_place,
                        to_state,
                        to_place,
                        reason,
                        number,
                        user,
                    ) in rows[offset : offset + CHUNK]
                ],
            )
    return len(rows)


def insert_balances(engine: Engine, history: History, ids: Ids) -> int:
    """A balance row per key the ledger ever booked to (zero ones too), in first-use order."""
    balances = [
        {
            "cup_type_id": ids.cups[cup],
            "owner_id": None if owner is None else ids.organisations[owner],
            "owner_key": POOL if owner is None else ids.organisations[owner],
            "state": state,
            "location_id": ids.place(place),
            "quantity": quantity,
        }
        for (cup, owner, state, place), quantity in history.simulation.balances.items()
    ]
    with engine.begin() as connection:
        for offset in range(0, len(balances), CHUNK):
            connection.execute(insert(StockBalance), balances[offset : offset + CHUNK])
    return len(balances)


def vacuum_analyze(engine: Engine) -> int:
    """PostgreSQL: VACUUM ANALYZE, as autovacuum would leave the tables."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
    return 0


def database_size(engine: Engine) -> int | None:
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            return connection.scalar(text("SELECT pg_database_size(current_database())"))
    if engine.dialect.name == "sqlite" and engine.url.database:
        path = Path(engine.url.database)
        return path.stat().st_size if path.exists() else None
    return None


# --- the queries --------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    label: str
    run: Callable[[Session], str]  # returns a short note on what it found
    required: bool = False


@dataclass(frozen=True)
class Targets:
    reference_id: int
    busy_cup: str
    orders_out: dict[str, int]
    drill_order: int
    drill_rows: int
    organisation_id: int


def pick_targets(history: History, ids: Ids, engine: Engine) -> Targets:
    """The reference row, the cup type with the most orders out after MAIN_CUP, a typical
    closed rental order to drill into, and the organisation with the most cups of its own."""
    simulation = history.simulation
    orders_out: Counter[str] = Counter()
    for (number, cup), held in simulation.held.items():
        if history.planned[number].rental and any(
            item.state in OUT_STATES and item.quantity > 0 for item in held
        ):
            orders_out[cup] += 1
    others = [cup for cup in history.business.codes if cup != MAIN_CUP]
    busy = max(others, key=lambda cup: (orders_out[cup], cup))
    per_order = Counter(row[9] for row in simulation.rows if row[9] is not None)
    closed = sorted(
        (per_order[order.number], order.number)
        for order in history.planned
        if order.rental and order.status is OrderStatus.CLOSED
    )
    rows, number = closed[len(closed) // 2] if closed else (0, 0)
    owned: Counter[int] = Counter()
    for (_cup, owner, _state, _place), cups in simulation.balances.items():
        if owner is not None:
            owned[owner] += cups
    organisation = owned.most_common(1)[0][0] if owned else 0
    with engine.connect() as connection:
        low, high = connection.execute(
            select(func.min(StockMovement.id), func.max(StockMovement.id))
        ).one()
    return Targets(
        reference_id=(low + high) // 2,
        busy_cup=busy,
        orders_out={cup: orders_out[cup] for cup in (MAIN_CUP, busy)},
        drill_order=ids.orders[number],
        drill_rows=rows,
        organisation_id=ids.organisations[organisation],
    )


def queries(settings: Settings, targets: Targets, now: datetime) -> tuple[Query, list[Query]]:
    today = now.astimezone(settings.zone).date()
    drill = MovementFilter(order_id=targets.drill_order)

    def reference(session: Session) -> str:
        found = session.get(StockMovement, targets.reference_id)
        return "1 row" if found is not None else "not found"

    def overview(organisation_id: int | None, session: Session) -> str:
        stocks = stock_overview(session, organisation_id)
        owners = {owner.key for stock in stocks for owner in stock.owners}
        cells = sum(len(stock.cells) for stock in stocks)
        return f"{len(stocks)} cup types, {len(owners)} owners, {cells} cells"

    def available(cup: str, session: Session) -> str:
        days = availability(session, settings, cup, today, AVAILABILITY_DAYS, now)
        lowest = min(cups for _day, cups in days)
        return f"{targets.orders_out[cup]:,} orders out; lowest {lowest:,} cups"

    def movements(session: Session) -> str:
        found = find_movements(session, drill)
        return f"{len(found)} movements of order id {targets.drill_order}"

    def counted(session: Session) -> str:
        return f"{count_movements(session, drill)} movements"

    def owners(session: Session) -> str:
        return f"{len(stock_owners(session))} organisations"

    def virtual(session: Session) -> str:
        return f"{len(virtual_places_with_stock(session))} places"

    return Query("primary-key read (reference)", reference), [
        Query("stock_overview", partial(overview, None), required=True),
        Query(
            f"availability {MAIN_CUP}, {AVAILABILITY_DAYS} days",
            partial(available, MAIN_CUP),
            required=True,
        ),
        Query(
            f"availability {targets.busy_cup}, {AVAILABILITY_DAYS} days",
            partial(available, targets.busy_cup),
            required=True,
        ),
        Query("find_movements, one order", movements),
        Query("count_movements, one order", counted),
        Query("stock_overview, one organisation", partial(overview, targets.organisation_id)),
        Query("virtual_places_with_stock", virtual),
        Query("stock_owners", owners),
    ]


@dataclass
class QueryFigures:
    reference: Timing
    timings: list[Timing]
    queries: list[Query]

    @property
    def required(self) -> list[Timing]:
        return [t for t, q in zip(self.timings, self.queries, strict=True) if q.required]


def time_queries(
    factory: sessionmaker[Session], reference: Query, others: list[Query], repeat: int
) -> QueryFigures:
    """Interleave the reference and the queries, a fresh session per round (a request); the
    session's connection is taken and its transaction begun before the clock starts."""
    figures = QueryFigures(
        Timing(reference.label), [Timing(query.label) for query in others], others
    )
    for _ in range(repeat):
        with factory() as session:
            session.execute(select(1))  # checks out the connection and begins (PostgreSQL)
            figures.reference.note = timed(figures.reference, partial(reference.run, session))
            for timing, query in zip(figures.timings, others, strict=True):
                timing.note = timed(timing, partial(query.run, session))
    return figures


# --- the run ------------------------------------------------------------------------------


@dataclass
class Report:
    database: str
    history: History
    load: LoadFigures
    size_bytes: int | None
    verify_ms: float
    targets: Targets
    queries: QueryFigures
    balance_rows: int
    now: datetime

    @property
    def passed(self) -> bool:
        return all(timing.median < LIMIT_MS for timing in self.queries.required)


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
    business = Business.from_settings(settings, options.organisations, options.seed)
    now = business.local(options.now or next_first_of_july(business), 12)
    history = make_history(business, options.rows, now)
    load = LoadFigures()
    holder: dict[str, Ids] = {}

    def base() -> int:
        holder["ids"] = create_base(factory, settings, history, now)
        return len(holder["ids"].places) + len(holder["ids"].organisations) + 2

    load.timed("base", base)
    ids = holder["ids"]
    load.timed("orders", partial(insert_orders, engine, history, ids))
    load.timed("event places", partial(insert_event_places, engine, history, ids))
    load.timed("movements", partial(insert_movements, engine, history, ids))
    load.timed("balances", partial(insert_balances, engine, history, ids))
    if engine.dialect.name == "postgresql":
        load.timed("vacuum", partial(vacuum_analyze, engine))

    with factory() as session:
        rows = session.scalar(select(func.count()).select_from(StockMovement))
        if rows != len(history.simulation.rows):
            raise RuntimeError(f"{rows} movements in the database, {len(history.simulation.rows)}")
        started = time.perf_counter_ns()
        differences = verify_ledger(session)
        verify_ms = (time.perf_counter_ns() - started) / 1e6
    if differences:
        shown = "\n  ".join(differences[:10])
        raise RuntimeError(f"verify_ledger found {len(differences)} differences:\n  {shown}")

    targets = pick_targets(history, ids, engine)
    reference, others = queries(settings, targets, now)
    figures = time_queries(factory, reference, others, options.repeat)
    return Report(
        database=f"{engine.dialect.name} {_server_version(engine)}",
        history=history,
        load=load,
        size_bytes=database_size(engine),
        verify_ms=verify_ms,
        targets=targets,
        queries=figures,
        balance_rows=load.rows["balances"],
        now=now,
    )


def _server_version(engine: Engine) -> str:
    with engine.connect() as connection:
        info = connection.dialect.server_version_info or ()
    return ".".join(str(part) for part in info)


# --- printing -----------------------------------------------------------------------------


def print_report(report: Report, options: Options) -> None:
    history, load, figures = report.history, report.load, report.queries
    simulation = history.simulation
    reference = figures.reference.median
    print(f"wash-ops stock benchmark - {report.database}, Python {platform.python_version()}")
    print(
        f"machine: {platform.machine()}, {_cpus()} CPUs, {platform.platform(terse=True)}, "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    _print_history(history, report, options)
    size = f", database {report.size_bytes / 2**20:,.0f} MiB" if report.size_bytes else ""
    print(
        f"load: plan + simulate in memory {history.seconds:.1f} s ({history.passes} passes); "
        f"INSERT {load.seconds['base']:.1f} s base (places, organisations, users), "
        f"{load.seconds['orders']:.1f} s {load.rows['orders']:,} order rows, "
        f"{load.seconds['event places']:.1f} s {load.rows['event places']:,} event places, "
        f"{load.seconds['movements']:.1f} s {load.rows['movements']:,} movements "
        f"(Core executemany, {CHUNK:,} a chunk, 1 transaction), "
        f"{load.seconds['balances']:.1f} s {load.rows['balances']:,} balances"
        + (f", VACUUM ANALYZE {load.seconds['vacuum']:.1f} s" if "vacuum" in load.seconds else "")
        + f"; {history.seconds + load.total:.1f} s in all{size}"
    )
    print(
        f"verify_ledger: [] in {report.verify_ms:,.0f} ms "
        f"(reads the whole ledger; once, not a requirement)"
    )
    print(f"queries at {len(simulation.rows):,} movements, {options.repeat} repeats (ms):")
    _line(figures.reference, figures.reference.note)
    for timing in figures.timings:
        _line(timing, f"x{timing.median / reference:.1f} PK; {timing.note}")
    medians = ", ".join(
        f"{timing.label.split(',')[0]} {timing.median:.1f} ms (p95 {timing.p95:.1f})"
        for timing in figures.required
    )
    print(
        f"{'PASS' if report.passed else 'FAIL'}: medians {medians}; limit {LIMIT_MS:.0f} ms "
        f"at {len(simulation.rows):,} ledger rows"
    )


def _print_history(history: History, report: Report, options: Options) -> None:
    simulation = history.simulation
    planned = history.planned
    statuses = Counter(order.status for order in planned)
    rental = sum(order.rental for order in planned)
    first = simulation.rows[0][0].date() if simulation.rows else history.first_day
    confirmed = [o for o in planned if o.status is OrderStatus.CONFIRMED and o.rental]
    unreserved = sum(
        1
        for order in confirmed
        if sum(
            item.quantity
            for cup in order.lines
            for item in simulation.held.get((order.number, cup), [])
        )
        < order.wash_cups
    )
    places = len(history.warehouse.places) + len(LossReason)
    nonzero = sum(1 for cups in simulation.balances.values() if cups > 0)
    print(
        f"ledger: {len(simulation.rows):,} movements (asked {options.rows:,}) from {first} to "
        f"{report.now:%Y-%m-%d %H:%M} UTC, seed {options.seed}; events from "
        f"{history.first_day} to {FUTURE_WEEKS} weeks ahead"
    )
    print(
        f"orders: {len(planned):,} ({rental:,} rental, {len(planned) - rental:,} with the "
        f"customer's own cups); now "
        + ", ".join(f"{status} {count:,}" for status, count in sorted(statuses.items()))
        + f"; {len(confirmed):,} rental confirmed, {unreserved:,} of them not (fully) reserved"
        + (f"; {simulation.shortfalls} reservations short" if simulation.shortfalls else "")
    )
    print(
        f"warehouse: {places:,} places ({sum(map(len, history.warehouse.pallets.values()))} "
        f"pool pallet places, {len(history.warehouse.customer_pallet)} customer places) and "
        f"{len(simulation.event_places):,} event places; {history.business.organisations} "
        f"organisations ({len(history.business.own_cups)} with cups of their own); pool "
        + ", ".join(f"{cup} {cups:,}" for cup, cups in history.warehouse.pool.items())
        + f" cups; {report.balance_rows:,} balance rows, {nonzero:,} non-zero"
    )


def _line(timing: Timing, note: str = "") -> None:
    print(
        f"  {timing.label:<36} median {timing.median:8.2f}  p95 {timing.p95:8.2f}"
        + (f"  ({note})" if note else "")
    )


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def main(argv: Sequence[str] | None = None) -> int:
    options = setup(argv)
    print_report(run(options), options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
