"""Order intake: events, orders, edits and the status flow, with every rule checked here."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from wash_ops.accounts.models import Organisation, Role, User
from wash_ops.catalogue.models import Line
from wash_ops.catalogue.services import cup_types_by_code, main_line
from wash_ops.config import Settings
from wash_ops.errors import N_, Conflict, Forbidden, NotFound, Problems
from wash_ops.geo.places import distance_km, find_place
from wash_ops.inventory.reservations import release_for_cancellation, reserve_for_order
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
from wash_ops.planning.capacity import Fit
from wash_ops.planning.services import fit_of, fit_of_order

MAX_EVENT_DAYS = 31
MAX_NOTES = 2000

ALLOWED_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.DRAFT: frozenset({OrderStatus.SUBMITTED, OrderStatus.CANCELLED}),
    OrderStatus.SUBMITTED: frozenset(
        {OrderStatus.CONFIRMED, OrderStatus.REJECTED, OrderStatus.CANCELLED}
    ),
    OrderStatus.CONFIRMED: frozenset({OrderStatus.DELIVERED, OrderStatus.CANCELLED}),
    OrderStatus.DELIVERED: frozenset({OrderStatus.AT_EVENT}),
    OrderStatus.AT_EVENT: frozenset({OrderStatus.PICKED_UP}),
    OrderStatus.PICKED_UP: frozenset({OrderStatus.RECEIVED}),
    OrderStatus.RECEIVED: frozenset({OrderStatus.WASHING}),
    OrderStatus.WASHING: frozenset({OrderStatus.WASHED}),
    OrderStatus.WASHED: frozenset({OrderStatus.CLOSED}),
}


@dataclass(frozen=True)
class EventInput:
    name: str
    starts_at: datetime
    ends_at: datetime
    address: str = ""
    postcode: str = ""
    place: str = ""
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class OrderInput:
    service: Service
    delivery_by: Carrier
    pickup_by: Carrier
    delivery_start: datetime
    delivery_end: datetime
    pickup_start: datetime
    pickup_end: datetime
    quantities: dict[str, int] = field(default_factory=dict)
    notes: str = ""


class CapacityShortfall(Conflict):
    """The wash does not fit in the line's days before its deadline."""

    def __init__(self, message: str, fit: Fit, **params: object) -> None:
        super().__init__(message, "pickup_end", **params)
        self.fit = fit


# --- events -----------------------------------------------------------------------------


def create_event(
    session: Session,
    settings: Settings,
    organisation: Organisation,
    data: EventInput,
    now: datetime,
) -> Event:
    event = Event(organisation=organisation)
    _apply_event(event, settings, data, now)
    session.add(event)
    session.flush()
    return event


def update_event(
    session: Session,
    settings: Settings,
    actor: User,
    event: Event,
    data: EventInput,
    now: datetime,
) -> Event:
    if any(
        not order.editable for order in event.orders if order.status is not OrderStatus.CANCELLED
    ):
        raise Conflict(N_("This event has a confirmed order; ask the office to change it."))
    _apply_event(event, settings, data, now)
    for order in event.orders:
        if order.editable:
            _check_windows(event, order_input_of(order), now, Problems(), strict_past=False)
    session.flush()
    return event


def _apply_event(event: Event, settings: Settings, data: EventInput, now: datetime) -> None:
    problems = Problems()
    name = data.name.strip()
    if not name:
        problems.add("name", N_("Enter the name of the event."))
    elif len(name) > 120:
        problems.add("name", N_("Keep the event name under %(count)s characters."), count=120)
    if data.starts_at <= now:
        problems.add("starts_at", N_("The event must start in the future."))
    if data.ends_at <= data.starts_at:
        problems.add("ends_at", N_("The event must end after it starts."))
    elif data.ends_at - data.starts_at > timedelta(days=MAX_EVENT_DAYS):
        problems.add("ends_at", N_("An event lasts at most %(days)s days."), days=MAX_EVENT_DAYS)
    located = _locate(settings, data, problems)
    problems.raise_if_any()
    assert located is not None
    event.name = name
    event.address = data.address.strip()[:200]
    event.starts_at, event.ends_at = data.starts_at, data.ends_at
    event.postcode, event.place, event.lat, event.lon = located


def _locate(
    settings: Settings, data: EventInput, problems: Problems
) -> tuple[str, str, float, float] | None:
    postcode, place_name = data.postcode.strip(), data.place.strip()
    if data.lat is not None and data.lon is not None:
        if not (-90 <= data.lat <= 90 and -180 <= data.lon <= 180):
            problems.add("lat", N_("These are not valid coordinates."))
            return None
        lat, lon = data.lat, data.lon
    elif postcode:
        place = find_place(postcode, place_name)
        if place is None:
            problems.add("postcode", N_("Postcode %(postcode)s does not exist."), postcode=postcode)
            return None
        lat, lon, place_name = place.lat, place.lon, place.name
    else:
        problems.add("postcode", N_("Enter the postcode of the event, or its coordinates."))
        return None
    away = distance_km(settings.site.lat, settings.site.lon, lat, lon)
    if away > settings.site.service_radius_km:
        problems.add(
            "postcode" if postcode and data.lat is None else "lat",
            N_(
                "This place is %(away)s km from %(site)s, outside our service area of "
                "%(radius)s km."
            ),
            away=round(away),
            site=settings.site.name,
            radius=round(settings.site.service_radius_km),
        )
        return None
    return postcode, place_name[:80], lat, lon


# --- orders -----------------------------------------------------------------------------


def create_order(
    session: Session,
    settings: Settings,
    actor: User,
    event: Event,
    data: OrderInput,
    now: datetime,
) -> Order:
    _require_organiser_of(actor, event.organisation_id)
    order = Order(
        organisation_id=event.organisation_id,
        line=main_line(session, settings),
        status=OrderStatus.DRAFT,
        created_by_id=actor.id,
    )
    _apply_order(session, settings, order, event, data, now)
    order.event = event
    session.add(order)
    order.history.append(OrderStatusChange(to_status=OrderStatus.DRAFT, user_id=actor.id))
    session.flush()
    return order


def update_order(
    session: Session,
    settings: Settings,
    actor: User,
    order: Order,
    data: OrderInput,
    now: datetime,
) -> Order:
    if not order.editable:
        raise Conflict(N_("A %(status)s order can no longer be changed."), status=order.status)
    _apply_order(session, settings, order, order.event, data, now)
    session.flush()
    return order


def _apply_order(
    session: Session,
    settings: Settings,
    order: Order,
    event: Event,
    data: OrderInput,
    now: datetime,
) -> None:
    problems = Problems()
    _check_quantities(settings, data.quantities, problems)
    _check_windows(event, data, now, problems)
    if len(data.notes) > MAX_NOTES:
        problems.add("notes", N_("Keep the notes under %(count)s characters."), count=MAX_NOTES)
    problems.raise_if_any()
    cup_types = cup_types_by_code(session, list(data.quantities))
    order.service = data.service
    order.delivery_by, order.pickup_by = data.delivery_by, data.pickup_by
    order.delivery_start, order.delivery_end = data.delivery_start, data.delivery_end
    order.pickup_start, order.pickup_end = data.pickup_start, data.pickup_end
    order.notes = data.notes.strip()
    existing = {line.cup_type.code: line for line in order.lines}
    for code, line in existing.items():
        if code not in data.quantities:
            order.lines.remove(line)
    for code, quantity in data.quantities.items():
        if code in existing:
            existing[code].quantity = quantity
        else:
            order.lines.append(OrderLine(cup_type=cup_types[code], quantity=quantity))
    order.wash_cups = sum(data.quantities.values())
    calendar = LineCalendar.from_settings(settings)
    order.wash_release_on, order.wash_due_on = calendar.wash_window(data.pickup_end)


def _check_quantities(settings: Settings, quantities: dict[str, int], problems: Problems) -> None:
    if not quantities:
        problems.add("lines", N_("Order at least one cup type."))
    limit = settings.orders.max_quantity_per_line
    for code, quantity in quantities.items():
        if isinstance(quantity, bool) or not isinstance(quantity, int):
            problems.add(f"lines.{code}", N_("Enter the number of cups as a whole number."))
        elif quantity < 1:
            problems.add(f"lines.{code}", N_("Order at least 1 cup, or leave the cup type out."))
        elif quantity > limit:
            problems.add(f"lines.{code}", N_("At most %(limit)s cups per cup type."), limit=limit)


def _check_windows(
    event: Event, data: OrderInput, now: datetime, problems: Problems, strict_past: bool = True
) -> None:
    if strict_past and data.delivery_start < now:
        problems.add("delivery_start", N_("The delivery window cannot start in the past."))
    if data.delivery_end <= data.delivery_start:
        problems.add("delivery_end", N_("The delivery window must end after it starts."))
    elif data.delivery_end > event.starts_at:
        problems.add("delivery_end", N_("Deliver before the event starts."))
    if data.pickup_end <= data.pickup_start:
        problems.add("pickup_end", N_("The pickup window must end after it starts."))
    if data.pickup_start < data.delivery_end:
        problems.add("pickup_start", N_("Pickup must come after delivery."))
    elif data.pickup_start < event.ends_at:
        problems.add("pickup_start", N_("Pick up after the event has ended."))
    problems.raise_if_any()


def order_input_of(order: Order) -> OrderInput:
    return OrderInput(
        service=order.service,
        delivery_by=order.delivery_by,
        pickup_by=order.pickup_by,
        delivery_start=order.delivery_start,
        delivery_end=order.delivery_end,
        pickup_start=order.pickup_start,
        pickup_end=order.pickup_end,
        quantities={line.cup_type.code: line.quantity for line in order.lines},
        notes=order.notes,
    )


def move_pickup_to_earliest_fit(
    session: Session, settings: Settings, actor: User, order: Order, now: datetime
) -> date | None:
    """Shift the pickup window, times of day kept, to the earliest date the wash fits."""
    _require_organiser_of(actor, order.organisation_id)
    fit = fit_of_order(session, settings, order, now)
    if fit.fits or fit.earliest_pickup is None:
        return None
    zone = settings.zone
    shift = timedelta(days=(fit.earliest_pickup - order.pickup_end.astimezone(zone).date()).days)
    data = order_input_of(order)
    moved = replace(
        data,
        pickup_start=same_local_time_later(data.pickup_start, shift, zone),
        pickup_end=same_local_time_later(data.pickup_end, shift, zone),
    )
    update_order(session, settings, actor, order, moved, now)
    return fit.earliest_pickup


def same_local_time_later(moment: datetime, days: timedelta, zone: ZoneInfo) -> datetime:
    """The same wall-clock time some days later, also across a DST change."""
    local = moment.astimezone(zone).replace(tzinfo=None) + days
    return local.replace(tzinfo=zone)


# --- status flow ------------------------------------------------------------------------


def submit_order(
    session: Session, settings: Settings, actor: User, order: Order, now: datetime
) -> Fit:
    """Submit a draft when its wash fits; otherwise refuse with the earliest pickup that fits."""
    _require_organiser_of(actor, order.organisation_id)
    _check_transition(order, OrderStatus.SUBMITTED)
    _check_windows(order.event, order_input_of(order), now, Problems())
    fit = fit_of_order(session, settings, order, now)
    if not fit.fits:
        raise _shortfall(fit)
    _move(order, OrderStatus.SUBMITTED, actor)
    session.flush()
    return fit


def confirm_order(
    session: Session, settings: Settings, actor: User, order: Order, now: datetime
) -> Fit:
    """Book the order's wash into the line's days and reserve its rental cups; refused as a
    whole when that would overbook the line or when clean pool cups are short."""
    _require_office(actor)
    _check_transition(order, OrderStatus.CONFIRMED)
    if not order.organisation.approved:
        raise Conflict(
            N_("%(organisation)s is not approved yet: approve the organisation first."),
            organisation=order.organisation.name,
        )
    _lock_line(session, order.line_id)
    fit = fit_of_order(session, settings, order, now)
    if not fit.fits:
        raise _shortfall(fit)
    if order.service is Service.RENT_AND_WASH:
        reserve_for_order(session, order, actor, now)
    _move(order, OrderStatus.CONFIRMED, actor)
    session.flush()
    return fit


def reject_order(session: Session, actor: User, order: Order, reason: str) -> None:
    _require_office(actor)
    _check_transition(order, OrderStatus.REJECTED)
    _move(order, OrderStatus.REJECTED, actor, _reason(reason))
    session.flush()


def cancel_order(session: Session, actor: User, order: Order, reason: str, now: datetime) -> None:
    if not actor.is_office:
        _require_organiser_of(actor, order.organisation_id)
        if order.status is OrderStatus.CONFIRMED and order.delivery_start <= now:
            raise Conflict(N_("Delivery has started: call the office to cancel this order."))
    _check_transition(order, OrderStatus.CANCELLED)
    reason = _reason(reason)
    if order.status is OrderStatus.CONFIRMED and order.service is Service.RENT_AND_WASH:
        release_for_cancellation(session, order, actor, now)
    _move(order, OrderStatus.CANCELLED, actor, reason)
    session.flush()


def _reason(reason: str) -> str:
    reason = reason.strip()
    if not reason:
        problems = Problems()
        problems.add("reason", N_("Give a reason."))
        problems.raise_if_any()
    if len(reason) > MAX_NOTES:
        problems = Problems()
        problems.add("reason", N_("Keep the reason under %(count)s characters."), count=MAX_NOTES)
        problems.raise_if_any()
    return reason


def _shortfall(fit: Fit) -> CapacityShortfall:
    if fit.earliest_pickup is not None:
        return CapacityShortfall(
            N_(
                "The wash does not fit: the line has room for %(free)s of %(cups)s cups before "
                "%(due)s. The earliest pickup date that fits is %(earliest)s."
            ),
            fit,
            free=fit.free_in_window,
            cups=fit.cups,
            due=fit.due,
            earliest=fit.earliest_pickup,
        )
    return CapacityShortfall(
        N_(
            "The wash does not fit: the line has room for %(free)s of %(cups)s cups before "
            "%(due)s, and no later pickup date fits either."
        ),
        fit,
        free=fit.free_in_window,
        cups=fit.cups,
        due=fit.due,
    )


def _check_transition(order: Order, target: OrderStatus) -> None:
    if target not in ALLOWED_TRANSITIONS.get(order.status, frozenset()):
        raise Conflict(
            N_("A %(current)s order cannot become %(target)s."),
            current=order.status,
            target=target,
        )


def _move(order: Order, target: OrderStatus, actor: User, reason: str = "") -> None:
    order.history.append(
        OrderStatusChange(
            from_status=order.status, to_status=target, user_id=actor.id, reason=reason
        )
    )
    order.status = target


def _lock_line(session: Session, line_id: int) -> None:
    """Serialise confirmations per line so two planners cannot book the same free cups."""
    session.execute(select(Line.id).where(Line.id == line_id).with_for_update())


def _require_office(actor: User) -> None:
    if not actor.is_office:
        raise Forbidden(N_("Only the office can do this."))


def _require_organiser_of(actor: User, organisation_id: int) -> None:
    if actor.is_office:
        return
    if actor.role is not Role.ORGANISER or actor.organisation_id != organisation_id:
        raise NotFound(N_("This order does not exist."))


# --- reading ----------------------------------------------------------------------------


def order_for(session: Session, actor: User, order_id: int) -> Order:
    """The order if the actor may see it; NotFound otherwise, so ids do not leak."""
    order = session.get(Order, order_id)
    if order is None or not _may_see(actor, order.organisation_id):
        raise NotFound(N_("This order does not exist."))
    return order


def event_for(session: Session, actor: User, event_id: int) -> Event:
    event = session.get(Event, event_id)
    if event is None or not _may_see(actor, event.organisation_id):
        raise NotFound(N_("This event does not exist."))
    return event


def _may_see(actor: User, organisation_id: int) -> bool:
    if actor.is_office:
        return True
    return actor.role is Role.ORGANISER and actor.organisation_id == organisation_id


def orders_for(
    session: Session,
    actor: User,
    status: OrderStatus | None = None,
    limit: int = 200,
    offset: int = 0,
) -> list[Order]:
    query = select(Order).options(
        selectinload(Order.event), selectinload(Order.lines).selectinload(OrderLine.cup_type)
    )
    if not actor.is_office:
        if actor.role is not Role.ORGANISER:
            return []
        query = query.where(Order.organisation_id == actor.organisation_id)
    if status is not None:
        query = query.where(Order.status == status)
    query = query.order_by(Order.delivery_start, Order.id).limit(limit).offset(offset)
    return list(session.scalars(query))


def events_for(session: Session, actor: User) -> list[Event]:
    query = select(Event).order_by(Event.starts_at)
    if not actor.is_office:
        if actor.role is not Role.ORGANISER:
            return []
        query = query.where(Event.organisation_id == actor.organisation_id)
    return list(session.scalars(query))


def submitted_queue(session: Session) -> list[Order]:
    return list(
        session.scalars(
            select(Order)
            .where(Order.status == OrderStatus.SUBMITTED)
            .options(selectinload(Order.event), selectinload(Order.organisation))
            .order_by(Order.delivery_start)
        )
    )


def quick_fit(
    session: Session, settings: Settings, pickup_end: datetime, cups: int, now: datetime
) -> Fit:
    """The capacity answer for an order being filled in, before it exists."""
    problems = Problems()
    if cups < 1 or cups > settings.orders.max_quantity_per_line * len(settings.cup_types):
        problems.add("cups", N_("Enter a number of cups between 1 and the order limit."))
    if pickup_end <= now:
        problems.add("pickup_end", N_("The pickup window cannot end in the past."))
    problems.raise_if_any()
    return fit_of(session, settings, main_line(session, settings), pickup_end, cups, now)


@dataclass(frozen=True)
class Leg:
    """A delivery or pickup our courier does for a confirmed order."""

    kind: str
    order: Order
    starts: datetime
    ends: datetime


def courier_legs_on(session: Session, settings: Settings, day: date) -> list[Leg]:
    zone = settings.zone
    start = datetime.combine(day, datetime.min.time(), zone)
    end = start + timedelta(days=1)
    query = (
        select(Order)
        .where(
            Order.status.in_((OrderStatus.CONFIRMED, OrderStatus.DELIVERED, OrderStatus.AT_EVENT)),
            Order.delivery_end >= start - timedelta(days=7),
            Order.delivery_start < end + timedelta(days=31),
        )
        .options(
            selectinload(Order.event), selectinload(Order.lines).selectinload(OrderLine.cup_type)
        )
    )
    legs = []
    for order in session.scalars(query):
        if order.delivery_by is Carrier.COURIER and start <= order.delivery_start < end:
            legs.append(Leg("delivery", order, order.delivery_start, order.delivery_end))
        if order.pickup_by is Carrier.COURIER and start <= order.pickup_start < end:
            legs.append(Leg("pickup", order, order.pickup_start, order.pickup_end))
    return sorted(legs, key=lambda leg: (leg.starts, leg.order.id))
