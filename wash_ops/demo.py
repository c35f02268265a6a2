"""Demo data: the site, the cup catalogue, three organisations with events across East Flanders,
about twenty orders in different states and a user per role."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from wash_ops.accounts.models import Organisation, OrganisationStatus, Role, User
from wash_ops.accounts.services import Registration, create_user, register_organiser
from wash_ops.catalogue.services import active_cup_types, main_line, sync_from_settings
from wash_ops.config import Settings
from wash_ops.errors import Conflict, DomainError
from wash_ops.inventory.journey import deliver_order, load_order, pick_up_order, receive_returns
from wash_ops.inventory.ledger import receive_into_stock
from wash_ops.inventory.locations import create_location, location_by_code
from wash_ops.inventory.models import Location, LocationKind, StockState
from wash_ops.orders.models import Carrier, Service
from wash_ops.orders.services import (
    EventInput,
    OrderInput,
    cancel_order,
    confirm_order,
    courier_legs_on,
    create_event,
    create_order,
    move_pickup_to_earliest_fit,
    reject_order,
    submit_order,
)
from wash_ops.routing.models import RoutePlan
from wash_ops.routing.services import plan_day, publish_plan, sync_vehicles
from wash_ops.telemetry.models import LineReading
from wash_ops.telemetry.register_map import load_register_map
from wash_ops.washing.services import end_batch, start_batch

DEMO_PASSWORD = "wash-ops-demo"


@dataclass(frozen=True)
class DemoLogin:
    role: Role
    email: str
    password: str


STAFF = [
    (Role.ADMIN, "admin@wash-ops.test", "Ans Admin"),
    (Role.PLANNER, "planner@wash-ops.test", "Pieter Planner"),
    (Role.SUPERVISOR, "supervisor@wash-ops.test", "Sara Supervisor"),
    (Role.COURIER, "courier@wash-ops.test", "Karim Courier"),
]

ORGANISATIONS = [
    (
        "Gentse Feesten vzw",
        "organiser@wash-ops.test",
        "Olivia Organiser",
        OrganisationStatus.APPROVED,
        [
            ("Gentse Feesten Sint-Baafsplein", "9000"),
            ("Jazz in het Park", "9050"),
            ("Kerstmarkt Gent", "9000"),
        ],
    ),
    (
        "Festivalclub Aalst",
        "aalst@wash-ops.test",
        "Bram Festival",
        OrganisationStatus.APPROVED,
        [
            ("Carnaval Aalst", "9300"),
            ("Zomerbar Dendermonde", "9200"),
            ("Stadsfeest Lokeren", "9160"),
        ],
    ),
    (
        "Sportclub Eeklo",
        "eeklo@wash-ops.test",
        "Elif Sport",
        OrganisationStatus.PENDING,
        [("Meetjeslandse Veldloop", "9900"), ("Zottegem Wielerdag", "9620")],
    ),
]

# Clean pool cups in the warehouse at the start of the demo, per cup type code.
POOL_STOCK = {"ECO25": 40_000, "ECO33": 80_000, "ECO50": 30_000, "WINE15": 6_000, "COCK30": 10_000}
RACKS, PALLETS_PER_RACK, PALLET_CRATES = 4, 6, 100
CUSTOMER_STORED = ("ECO33", 2_400)

# (status to reach, cups per cup type code) for each demo order, cycling over the events.
ORDER_PLAN = [
    ("confirmed", {"ECO33": 12000, "ECO50": 4000}),
    ("confirmed", {"ECO25": 8000}),
    ("submitted", {"ECO33": 6000, "WINE15": 1500}),
    ("draft", {"COCK30": 2100}),
    ("confirmed", {"ECO33": 20000}),
    ("cancelled", {"ECO25": 3000}),
    ("submitted", {"ECO50": 9000}),
    ("confirmed", {"ECO33": 15000, "ECO25": 5000}),
    ("rejected", {"WINE15": 600}),
    ("draft", {"ECO33": 2400}),
    ("confirmed", {"ECO50": 7000, "COCK30": 1400}),
    ("submitted", {"ECO25": 4000}),
    ("confirmed", {"ECO33": 9000}),
    ("draft", {"WINE15": 800}),
    ("submitted", {"ECO33": 30000}),
    ("confirmed", {"ECO25": 11000}),
    ("cancelled", {"ECO50": 2000}),
    ("submitted", {"ECO33": 5000}),
    ("confirmed", {"COCK30": 3500}),
    ("draft", {"ECO25": 1000, "ECO33": 1000}),
]


def seed_demo(
    session: Session, settings: Settings, now: datetime, seed: int = 7
) -> list[DemoLogin]:
    """Fill an empty database with a believable few weeks of work; returns one login per role."""
    if session.scalar(select(User.id).limit(1)) is not None:
        raise Conflict("the database has users already; demo data goes into an empty database")
    rng = random.Random(seed)
    sync_from_settings(session, settings)
    staff = {
        role: create_user(session, email=email, name=name, password=DEMO_PASSWORD, role=role)
        for role, email, name in STAFF
    }
    planner = staff[Role.PLANNER]
    pallets = _demo_warehouse(session)
    _demo_pool_stock(session, pallets, planner)
    events = []
    for org_name, email, name, status, event_specs in ORGANISATIONS:
        organiser = register_organiser(session, Registration(org_name, name, email, DEMO_PASSWORD))
        organisation = organiser.organisation
        assert organisation is not None
        organisation.status = status
        if not events:
            _demo_customer_cups(session, organisation, planner)
        for index, (event_name, postcode) in enumerate(event_specs):
            events.append(
                (
                    organiser,
                    _demo_event(
                        session, settings, organiser, event_name, postcode, now, index, rng
                    ),
                )
            )
    for index, (target, quantities) in enumerate(ORDER_PLAN):
        organiser, event = events[index % len(events)]
        order = create_order(
            session, settings, organiser, event, _demo_order(event, quantities, index), now
        )
        _advance(session, settings, order, target, organiser, planner, now)
    session.flush()
    _demo_washing(session, settings, now, staff, [organiser for organiser, _event in events])
    logins = [DemoLogin(role, email, DEMO_PASSWORD) for role, email, _name in STAFF]
    logins.insert(0, DemoLogin(Role.ORGANISER, ORGANISATIONS[0][1], DEMO_PASSWORD))
    return logins


def _demo_warehouse(session: Session) -> list[Location]:
    hall = create_location(session, code="HAL-A", name="Hal A", kind=LocationKind.ZONE)
    pallets = []
    for rack_number in range(1, RACKS + 1):
        rack = create_location(
            session,
            code=f"A-{rack_number:02d}",
            name=f"Rek {rack_number}",
            kind=LocationKind.RACK,
            parent=hall,
        )
        for place in range(1, PALLETS_PER_RACK + 1):
            pallets.append(
                create_location(
                    session,
                    code=f"A-{rack_number:02d}-{place:02d}",
                    name=f"Rek {rack_number}, plaats {place}",
                    kind=LocationKind.PALLET,
                    parent=rack,
                    capacity_crates=PALLET_CRATES,
                )
            )
    return pallets


def _demo_pool_stock(session: Session, pallets: list[Location], user: User) -> None:
    """Fill pallet places one cup type at a time, each place up to its crate capacity."""
    free = iter(pallets)
    cup_types = {cup.code: cup for cup in active_cup_types(session)}
    for code, cups in POOL_STOCK.items():
        cup_type = cup_types[code]
        per_pallet = PALLET_CRATES * cup_type.cups_per_crate
        while cups > 0:
            quantity = min(cups, per_pallet)
            receive_into_stock(
                session,
                cup_type=cup_type,
                quantity=quantity,
                location=next(free),
                reason="opening stock",
                user=user,
            )
            cups -= quantity


def _demo_customer_cups(session: Session, organisation: Organisation, user: User) -> None:
    code, cups = CUSTOMER_STORED
    place = location_by_code(session, f"A-{RACKS:02d}-{PALLETS_PER_RACK:02d}")
    receive_into_stock(
        session,
        cup_type=code,
        quantity=cups,
        location=place,
        state=StockState.CUSTOMER_STORED,
        owner_id=organisation.id,
        reason="stored for the customer",
        user=user,
    )


def _demo_event(session, settings, organiser, name, postcode, now, index, rng):
    local_now = now.astimezone(settings.zone)
    day = local_now.date() + timedelta(days=5 + index * 9 + rng.randint(0, 6))
    starts = datetime.combine(day, datetime.min.time(), settings.zone).replace(
        hour=rng.choice([12, 14, 18])
    )
    data = EventInput(
        name=name,
        starts_at=starts,
        ends_at=starts + timedelta(hours=rng.choice([6, 10, 30])),
        address="Demo",
        postcode=postcode,
    )
    return create_event(session, settings, organiser.organisation, data, now)


def _demo_order(event, quantities, index) -> OrderInput:
    services = [Service.RENT_AND_WASH, Service.RENT_AND_WASH, Service.WASH_OWN, Service.STORE_OWN]
    return OrderInput(
        service=services[index % len(services)],
        delivery_by=Carrier.COURIER if index % 3 else Carrier.ORGANISER,
        pickup_by=Carrier.COURIER if index % 4 else Carrier.ORGANISER,
        delivery_start=event.starts_at - timedelta(hours=28),
        delivery_end=event.starts_at - timedelta(hours=24),
        pickup_start=event.ends_at + timedelta(hours=12),
        pickup_end=event.ends_at + timedelta(hours=16),
        quantities=dict(quantities),
        notes="",
    )


def _advance(session, settings, order, target, organiser, planner, now) -> None:
    if target == "draft":
        return
    if target == "cancelled" and order.id % 2:
        cancel_order(session, organiser, order, "Event moved to next year", now)
        return
    # As an organiser does when told the wash does not fit (a holiday, a full week): take the
    # earliest pickup date that fits, so the demo seeds on any day of the year.
    move_pickup_to_earliest_fit(session, settings, organiser, order, now)
    submit_order(session, settings, organiser, order, now)
    if target == "submitted":
        return
    if target == "rejected":
        reject_order(session, planner, order, "We cannot supply wine glasses on that date")
        return
    if target == "cancelled":
        cancel_order(session, planner, order, "Organiser called: too few tickets sold", now)
        return
    if not order.organisation.approved:
        return
    confirm_order(session, settings, planner, order, now)


# --- washing: received orders in the backlog and two ended batches ------------------------

# (organiser index, event name, cups per cup type, days ago the event ended, batches to run:
# (cups, minutes ago it started, rinse temperature during it)). Events end in the past, so the
# orders went through the whole journey and their cups wait dirty at goods-in.
WASHED_EVENTS = [
    (0, "Gentse Feesten Kouter", {"ECO33": 6000}, 3, [(4000, 26 * 60, 84.5)]),
    (3, "Lokerse Feesten", {"ECO25": 3000}, 4, [(1500, 22 * 60, 80.5)]),
    (0, "Boomtown Gent", {"ECO50": 2400, "ECO33": 1200}, 2, []),
    (3, "Dendermonde Ros Beiaard", {"ECO33": 3600}, 6, []),
]
DEMO_RATE_PER_MINUTE = 60  # the simulator's line washes about 3,600 cups an hour


def _demo_washing(session, settings, now, staff, organisers) -> None:
    planner, supervisor = staff[Role.PLANNER], staff[Role.SUPERVISOR]
    line = main_line(session, settings)
    create_location(session, code="GOEDEREN-IN", name="Ontvangst", kind=LocationKind.INTAKE)
    register_map = load_register_map()
    for index, name, quantities, ended_days_ago, batches in WASHED_EVENTS:
        order = _demo_past_order(
            session, settings, organisers[index], planner, name, quantities, now, ended_days_ago
        )
        load_order(session, order, planner, at=order.delivery_start)
        deliver_order(session, order, planner, at=order.delivery_end)
        pick_up_order(session, order, planner, at=order.pickup_start)
        returned = {code: quantity - quantity // 50 for code, quantity in quantities.items()}
        receive_returns(
            session,
            order,
            planner,
            returned=returned,
            broken={code: quantity // 100 for code, quantity in quantities.items()},
            foreign_crates=1,
            location="GOEDEREN-IN",
            at=order.pickup_end,
        )
        code = next(iter(quantities))
        for cups, minutes_ago, rinse in batches:
            started = now - timedelta(minutes=minutes_ago)
            batch = start_batch(
                session,
                settings,
                supervisor,
                line_id=line.id,
                order_id=order.id,
                cup_type=code,
                now=started,
                quantity=cups,
            )
            ended = _demo_line_run(session, line.id, started, cups, rinse)
            end_batch(
                session,
                settings,
                register_map,
                supervisor,
                line_id=line.id,
                batch_id=batch.id,
                now=ended,
            )


def _demo_past_order(session, settings, organiser, planner, name, quantities, now, days_ago):
    """A confirmed order for an event that ended about ``days_ago`` days ago; a day earlier at a
    time until the wash fits the line's working days (the weekday of the run varies)."""
    for extra in range(7):
        ends = now - timedelta(days=days_ago + extra)
        starts = ends - timedelta(hours=10)
        earlier = starts - timedelta(days=10)
        try:
            with session.begin_nested():
                data = EventInput(
                    name=name, starts_at=starts, ends_at=ends, address="Demo", postcode="9000"
                )
                event = create_event(session, settings, organiser.organisation, data, earlier)
                order = create_order(
                    session, settings, organiser, event, _demo_order(event, quantities, 0), earlier
                )
                submit_order(session, settings, organiser, order, earlier)
                confirm_order(session, settings, planner, order, earlier)
                return order
        except Conflict:
            continue
    raise RuntimeError(f"no past date fits the demo order for {name}")


def _demo_line_run(session, line_id: int, started: datetime, cups: int, rinse: float) -> datetime:
    """Readings of a batch run as the poller would have stored them: temperatures every 5 s,
    counters each minute (about 1 % rejects, 0.25 l water and 0.012 kWh a cup)."""
    rng = random.Random(cups)
    minutes = -(-cups // DEMO_RATE_PER_MINUTE)
    readings: dict[datetime, LineReading] = {}

    def reading(at: datetime) -> LineReading:
        if at not in readings:
            readings[at] = LineReading(line_id=line_id, at=at, gauges={}, counts={})
        return readings[at]

    left = cups
    for minute in range(minutes):
        for second in range(0, 60, 5):
            at = started + timedelta(minutes=minute, seconds=second)
            reading(at).gauges.update(
                wash_temperature=round(60 + rng.uniform(-0.8, 0.8), 1),
                rinse_temperature=round(rinse + rng.uniform(-0.4, 0.4), 1),
            )
        through = min(left, DEMO_RATE_PER_MINUTE)
        left -= through
        rejected = 1 if minute % 2 == 0 and through > 1 else 0
        at = started + timedelta(minutes=minute + 1)
        for tag, delta in (
            ("cups_washed", through - rejected),
            ("cups_rejected", rejected),
            ("water", round(through * 0.25)),
            ("energy", round(through * 1.2)),  # 0.01 kWh per raw unit
        ):
            if delta:
                reading(at).counts[tag] = delta
    session.add_all(readings.values())
    session.flush()
    return started + timedelta(minutes=minutes, seconds=1)


def plan_demo_routes(
    session: Session, settings: Settings, now: datetime, days: int = 10, time_limit_s: float = 0.5
) -> list[RoutePlan]:
    """The fleet from the configuration (the demo courier on every vehicle without one), one
    more confirmed order delivered by our courier today, and the routes of the coming days that
    have courier work, planned and published."""
    courier = session.scalar(select(User).where(User.role == Role.COURIER))
    for vehicle in sync_vehicles(session, settings):
        if vehicle.courier is None:
            vehicle.courier = courier  # the demo has one courier: they drive what is free
    organiser = session.scalar(select(User).where(User.email == ORGANISATIONS[0][1]))
    planner = session.scalar(select(User).where(User.role == Role.PLANNER))
    assert organiser is not None and organiser.organisation is not None and planner is not None
    local_now = now.astimezone(settings.zone)
    delivery_start = local_now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    event_start = datetime.combine(
        local_now.date() + timedelta(days=1), datetime.min.time(), settings.zone
    ).replace(hour=14)
    earlier = now - timedelta(days=10)
    savepoint = session.begin_nested()
    try:
        event = create_event(
            session,
            settings,
            organiser.organisation,
            EventInput(
                name="Markt op de Kouter",
                starts_at=event_start,
                ends_at=event_start + timedelta(hours=8),
                address="Kouter",
                postcode="9000",
            ),
            earlier,
        )
        data = OrderInput(
            service=Service.RENT_AND_WASH,
            delivery_by=Carrier.COURIER,
            pickup_by=Carrier.COURIER,
            delivery_start=delivery_start,
            delivery_end=min(delivery_start + timedelta(hours=4), event_start),
            pickup_start=event_start + timedelta(hours=20),
            pickup_end=event_start + timedelta(hours=24),
            quantities={"ECO33": 480},
        )
        order = create_order(session, settings, organiser, event, data, earlier)
        _advance(session, settings, order, "confirmed", organiser, planner, earlier)
    except DomainError:
        savepoint.rollback()  # late in the evening no delivery window is left today
    else:
        savepoint.commit()
    plans = []
    today = local_now.date()
    for offset in range(days):
        day = today + timedelta(days=offset)
        if not courier_legs_on(session, settings, day):
            continue
        plan = plan_day(session, settings, day, now, time_limit_s=time_limit_s)
        if plan.routes:
            publish_plan(session, planner, plan.id, now)
        plans.append(plan)
    return plans
