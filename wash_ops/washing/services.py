"""The line's washing work: the dirty backlog, starting and ending a batch, the batch on the line.

Stock follows the batch through the ledger, booked with the batch's order:

    received_dirty (warehouse place) ──start──▶ on_line (LINE-<code>, the line's own place)
    on_line ──end──▶ clean_available (LINE-<code>)    the good cups, when hygiene passed
                     quarantined (LINE-<code>)        the good cups, when hygiene failed
                     broken (LOSS-BREAKAGE)           the PLC's rejects
                     received_dirty (LINE-<code>)     whatever the PLC did not count

Clean cups wait at the line's outfeed (a goods-in place) until they are put away. The order goes
to washing when its first batch starts, and to washed when nothing of it is dirty or on the line.

Every service takes the session and the clock (``now``), checks the actor's role, locks the line
row (so two supervisors starting at once are served one after the other), checks everything
before writing, writes inside a savepoint, flushes and never commits.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from wash_ops.accounts.models import Role, User
from wash_ops.catalogue.models import CupType, Line
from wash_ops.config import Settings
from wash_ops.errors import N_, Conflict, Forbidden, InvalidInput, NotFound
from wash_ops.inventory.journey import advance_status
from wash_ops.inventory.ledger import MovementLine, book_movements
from wash_ops.inventory.locations import LossReason, is_whole, loss_location
from wash_ops.inventory.models import (
    POOL,
    STORAGE_KINDS,
    Location,
    LocationKind,
    StockBalance,
    StockMovement,
    StockState,
)
from wash_ops.orders.models import Order, OrderLine, OrderStatus, Service
from wash_ops.telemetry.models import LineReading
from wash_ops.telemetry.register_map import RegisterMap
from wash_ops.washing.models import BatchStatus, WashBatch
from wash_ops.washing.readings import (
    LiveRecords,
    TemperatureRecord,
    counter_total,
    temperature_record,
)

LINE_ROLES = frozenset({Role.SUPERVISOR, Role.PLANNER, Role.ADMIN})
# The PLC counters a batch reads (tag names of the register map).
WASHED_TAG, REJECTED_TAG, WATER_TAG, ENERGY_TAG = "cups_washed", "cups_rejected", "water", "energy"
STARTABLE = frozenset({OrderStatus.RECEIVED, OrderStatus.WASHING})
DUE_SOON = timedelta(hours=24)
CUSTOMER_SERVICES = frozenset({Service.WASH_OWN, Service.STORE_OWN})
# The running batches' records so far, for the line screen (see readings.LiveRecords).
LIVE = LiveRecords()


# --- the dirty backlog ------------------------------------------------------------------


@dataclass(frozen=True)
class BacklogItem:
    """Dirty cups of one order and cup type waiting for the line, with their deadline: the
    turnaround promise, or sooner when an upcoming order needs those cups."""

    order_id: int
    reference: str
    organisation: str
    event: str
    cup_type: CupType
    owner_id: int | None
    cups: int
    promised_by: datetime
    needed_by: datetime | None
    needed_for: str | None
    now: datetime

    @property
    def deadline(self) -> datetime:
        if self.needed_by is not None and self.needed_by < self.promised_by:
            return self.needed_by
        return self.promised_by

    @property
    def late(self) -> bool:
        return self.deadline < self.now

    @property
    def due_soon(self) -> bool:
        return not self.late and self.deadline < self.now + DUE_SOON

    @property
    def crates(self) -> int:
        return self.cup_type.crates_for(self.cups)


def dirty_backlog(
    session: Session, settings: Settings, line: Line, now: datetime
) -> list[BacklogItem]:
    """Received orders' dirty cups per order and cup type, the most urgent first."""
    # Only received and washing orders hold dirty cups; their ids as a list let the databases
    # use the ledger's (order, cup type) index instead of scanning every movement.
    order_ids = list(
        session.scalars(
            select(Order.id).where(Order.line_id == line.id, Order.status.in_(STARTABLE))
        )
    )
    held = _order_holdings(session, StockState.RECEIVED_DIRTY, order_ids=order_ids)
    if not held:
        return []
    orders = {
        order.id: order
        for order in session.scalars(
            select(Order)
            .where(Order.id.in_({key[0] for key in held}))
            .options(joinedload(Order.event), joinedload(Order.organisation))
        )
    }
    cups = {cup.id: cup for cup in session.scalars(select(CupType))}
    turnaround = timedelta(hours=settings.orders.turnaround_hours)
    needs = _upcoming_needs(session, {(cup_id, owner) for _o, cup_id, owner in held}, now)
    items = []
    for (order_id, cup_type_id, owner_id), quantity in held.items():
        order = orders[order_id]
        need = needs.get((cup_type_id, owner_id))
        items.append(
            BacklogItem(
                order_id=order.id,
                reference=order.reference,
                organisation=order.organisation.name,
                event=order.event.name,
                cup_type=cups[cup_type_id],
                owner_id=owner_id,
                cups=quantity,
                promised_by=order.pickup_end + turnaround,
                needed_by=need[0] if need else None,
                needed_for=need[1] if need else None,
                now=now,
            )
        )
    return sorted(items, key=lambda item: (item.deadline, item.order_id, item.cup_type.volume_ml))


def _order_holdings(
    session: Session,
    *states: StockState,
    order_ids: list[int],
) -> dict[tuple[int, int, int | None], int]:
    """Cups per (order id, cup type id, owner id) the orders hold in ``states``, from the
    movements booked with them."""
    totals: dict[tuple[int, int, int | None], int] = defaultdict(int)
    for side_state, sign in ((StockMovement.to_state, 1), (StockMovement.from_state, -1)):
        query = (
            select(
                StockMovement.order_id,
                StockMovement.cup_type_id,
                StockMovement.owner_id,
                func.sum(StockMovement.quantity),
            )
            .where(side_state.in_(states))
            .group_by(StockMovement.order_id, StockMovement.cup_type_id, StockMovement.owner_id)
        )
        query = query.where(StockMovement.order_id.in_(order_ids))
        for held_order, cup_type_id, owner_id, quantity in session.execute(query):
            totals[(held_order, cup_type_id, owner_id)] += sign * int(quantity)
    return {key: quantity for key, quantity in totals.items() if quantity > 0}


def _upcoming_needs(
    session: Session, keys: set[tuple[int, int | None]], now: datetime
) -> dict[tuple[int, int | None], tuple[datetime, str]]:
    """Per (cup type id, owner id): when the next order needs these cups back, and which.

    Pool cups are needed by the first submitted rental order (not yet holding a reservation)
    that the clean pool cannot serve; a customer's own cups by that customer's next order."""
    upcoming = session.execute(
        select(Order, OrderLine.cup_type_id, OrderLine.quantity)
        .join(OrderLine, OrderLine.order_id == Order.id)
        .where(
            Order.status.in_([OrderStatus.SUBMITTED, OrderStatus.CONFIRMED]),
            Order.delivery_start >= now,
            OrderLine.cup_type_id.in_({cup_type_id for cup_type_id, _owner in keys}),
        )
        .order_by(Order.delivery_start, Order.id)
    ).all()
    clean = _clean_pool(session)
    needs: dict[tuple[int, int | None], tuple[datetime, str]] = {}
    for order, cup_type_id, quantity in upcoming:
        if order.service in CUSTOMER_SERVICES:
            key = (cup_type_id, order.organisation_id)
        elif order.status is OrderStatus.SUBMITTED and quantity > clean.get(cup_type_id, 0):
            key = (cup_type_id, None)
        else:
            continue
        if key in keys and key not in needs:
            needs[key] = (order.delivery_start, order.reference)
    return needs


def _clean_pool(session: Session) -> dict[int, int]:
    return dict(
        session.execute(
            select(StockBalance.cup_type_id, func.sum(StockBalance.quantity))
            .join(Location, Location.id == StockBalance.location_id)
            .where(
                StockBalance.owner_key == POOL,
                StockBalance.state == StockState.CLEAN_AVAILABLE,
                Location.kind.in_(STORAGE_KINDS),
            )
            .group_by(StockBalance.cup_type_id)
        ).all()
    )


# --- starting a batch -------------------------------------------------------------------


def start_batch(
    session: Session,
    settings: Settings,
    user: User,
    *,
    line_id: int,
    order_id: int,
    cup_type: str,
    now: datetime,
    quantity: int | None = None,
) -> WashBatch:
    """Put an order's dirty cups of one type on the line (all of them unless ``quantity``
    says fewer). Refused, with nothing written, when a batch runs on the line already, when
    the cups are not in the backlog, or for anyone but the line's people and the office."""
    _check_role(user)
    line = _lock_line(session, line_id)
    running = _running(session, line.id)
    if running is not None:
        raise Conflict(
            N_("Batch %(batch)s is still running on this line: end it before starting another."),
            "batch",
            batch=running.number,
        )
    order = session.scalar(select(Order).where(Order.id == order_id).with_for_update())
    if order is None:
        raise NotFound(N_("This order does not exist."), "order")
    session.refresh(order, ["status"])
    cup = session.scalar(select(CupType).where(CupType.code == cup_type))
    if cup is None:
        raise InvalidInput(N_("Unknown cup type: %(code)s."), "cup_type", code=cup_type)
    if order.line_id != line.id:
        raise Conflict(
            N_("Order %(reference)s is washed on another line."), "order", reference=order.reference
        )
    owner_id = order.organisation_id if order.service in CUSTOMER_SERVICES else None
    waiting = _order_holdings(session, StockState.RECEIVED_DIRTY, order_ids=[order.id]).get(
        (order.id, cup.id, owner_id), 0
    )
    if waiting == 0 or order.status not in STARTABLE:
        raise Conflict(
            N_("No dirty %(cup_type)s cups of order %(reference)s are waiting to be washed."),
            "cup_type",
            cup_type=cup.code,
            reference=order.reference,
        )
    if quantity is None:
        quantity = waiting
    if not is_whole(quantity) or not 0 < quantity <= waiting:
        raise InvalidInput(
            N_("A batch holds from 1 to %(count)s cups: the dirty cups this order has waiting."),
            "quantity",
            count=waiting,
        )
    with session.begin_nested():
        place = line_place(session, line)
        book_movements(
            session,
            _take_dirty(session, cup, owner_id, quantity, place),
            reason=f"on line {line.code} for {order.reference}",
            user=user,
            order=order,
            at=now,
            check_capacity=False,
        )
        batch = WashBatch(
            line_id=line.id,
            order_id=order.id,
            cup_type_id=cup.id,
            owner_id=owner_id,
            status=BatchStatus.RUNNING,
            cups_loaded=quantity,
            started_at=now,
            started_by_id=user.id,
            wash_tag=settings.hygiene.wash_tag,
            rinse_tag=settings.hygiene.rinse_tag,
            wash_limit_c=settings.hygiene.wash_min_c,
            rinse_limit_c=settings.hygiene.rinse_min_c,
            max_seconds_below=settings.hygiene.max_seconds_below,
            max_gap_s=settings.telemetry.stale_after_s,
        )
        session.add(batch)
        if order.status is OrderStatus.RECEIVED:
            advance_status(order, OrderStatus.WASHING, user, at=now)
        _flush(session)
    return batch


def _take_dirty(
    session: Session, cup: CupType, owner_id: int | None, quantity: int, place: Location
) -> list[MovementLine]:
    """Lines taking ``quantity`` dirty cups from the warehouse places that hold them (fullest
    first) onto the line. Too few on the shelves is the ledger's InsufficientStock."""
    rows = session.execute(
        select(StockBalance.location_id, StockBalance.quantity)
        .join(Location, Location.id == StockBalance.location_id)
        .where(
            StockBalance.cup_type_id == cup.id,
            StockBalance.owner_key == (POOL if owner_id is None else owner_id),
            StockBalance.state == StockState.RECEIVED_DIRTY,
            StockBalance.quantity > 0,
            Location.kind.in_(STORAGE_KINDS),
        )
        .order_by(StockBalance.quantity.desc(), StockBalance.location_id)
    ).all()
    lines = []
    left = quantity
    for location_id, held in rows:
        take = min(left, held)
        if take <= 0:
            break
        lines.append(
            _line(
                cup,
                take,
                StockState.RECEIVED_DIRTY,
                session.get_one(Location, location_id),
                StockState.ON_LINE,
                place,
                owner_id,
            )
        )
        left -= take
    if left > 0:
        # Fewer dirty cups on the shelves than the order's movements say: let the ledger refuse
        # the whole booking with its usual message.
        source = lines[-1].from_location if lines else place
        lines.append(
            _line(cup, left, StockState.RECEIVED_DIRTY, source, StockState.ON_LINE, place, owner_id)
        )
    return lines


def line_place(session: Session, line: Line) -> Location:
    """The line's own place in the warehouse (code LINE-<line code>): cups on the line, and the
    outfeed where washed cups wait to be put away. Made on first use."""
    code = f"LINE-{line.code}"
    location = session.scalar(select(Location).where(Location.code == code))
    if location is None:
        location = Location(code=code, name=line.name, kind=LocationKind.INTAKE)
        session.add(location)
        session.flush()
    return location


# --- ending a batch ---------------------------------------------------------------------


def end_batch(
    session: Session,
    settings: Settings,
    register_map: RegisterMap,
    user: User,
    *,
    line_id: int,
    batch_id: int,
    now: datetime,
) -> WashBatch:
    """End the batch running on ``line_id``: freeze its counts and hygiene record, book the
    washed cups to clean stock (or to quarantine when hygiene failed), the rejects to breakage
    and the rest back to the backlog; the order becomes washed when nothing of it is left dirty."""
    _check_role(user)
    line = _lock_line(session, line_id)
    batch = session.scalar(select(WashBatch).where(WashBatch.id == batch_id).with_for_update())
    if batch is None:
        raise NotFound(N_("This batch does not exist."), "batch")
    session.refresh(batch)
    if batch.line_id != line.id:
        raise Conflict(N_("Batch %(batch)s runs on another line."), "batch", batch=batch.number)
    if batch.status is not BatchStatus.RUNNING:
        raise Conflict(N_("Batch %(batch)s has already ended."), "batch", batch=batch.number)
    if now < batch.started_at:
        raise InvalidInput(N_("A batch cannot end before it started."), "ended_at")
    order = session.scalar(select(Order).where(Order.id == batch.order_id).with_for_update())
    assert order is not None
    session.refresh(order, ["status"])

    washed = counter_total(session, line.id, WASHED_TAG, batch.started_at, now)
    rejected = counter_total(session, line.id, REJECTED_TAG, batch.started_at, now)
    wash, rinse = _hygiene(session, batch, now)
    passed = wash.passes(batch.max_seconds_below) and rinse.passes(batch.max_seconds_below)
    good = min(washed, batch.cups_loaded)
    broken = min(rejected, batch.cups_loaded - good)
    unwashed = batch.cups_loaded - good - broken

    with session.begin_nested():
        place = line_place(session, line)
        cup, owner = batch.cup_type, batch.owner_id
        wanted = [
            (good, StockState.CLEAN_AVAILABLE if passed else StockState.QUARANTINED, place),
            (broken, StockState.BROKEN, loss_location(session, LossReason.BREAKAGE)),
            (unwashed, StockState.RECEIVED_DIRTY, place),
        ]
        lines = [
            _line(cup, quantity, StockState.ON_LINE, place, state, to, owner)
            for quantity, state, to in wanted
            if quantity > 0
        ]
        book_movements(
            session,
            lines,
            reason=f"batch {batch.number} ended on line {line.code}",
            user=user,
            order=order,
            at=now,
            check_capacity=False,
        )
        batch.status = BatchStatus.ENDED
        batch.ended_at, batch.ended_by_id = now, user.id
        batch.cups_washed, batch.cups_rejected = washed, rejected
        batch.cups_good, batch.cups_broken, batch.cups_unwashed = good, broken, unwashed
        batch.water_l = _scaled(register_map, WATER_TAG, line.id, session, batch.started_at, now)
        batch.energy_kwh = _scaled(
            register_map, ENERGY_TAG, line.id, session, batch.started_at, now
        )
        batch.wash_lowest_c, batch.wash_highest_c = wash.lowest_c, wash.highest_c
        batch.rinse_lowest_c, batch.rinse_highest_c = rinse.lowest_c, rinse.highest_c
        batch.wash_seconds_below = wash.seconds_below
        batch.rinse_seconds_below = rinse.seconds_below
        batch.hygiene_passed = passed
        left = _order_holdings(
            session, StockState.RECEIVED_DIRTY, StockState.ON_LINE, order_ids=[order.id]
        )
        if not left and order.status is OrderStatus.WASHING:
            advance_status(order, OrderStatus.WASHED, user, at=now)
        _flush(session)
    return batch


def _hygiene(
    session: Session, batch: WashBatch, end: datetime
) -> tuple[TemperatureRecord, TemperatureRecord]:
    gap = timedelta(seconds=batch.max_gap_s)
    return (
        temperature_record(
            session, batch.line_id, batch.wash_tag, batch.started_at, end, batch.wash_limit_c, gap
        ),
        temperature_record(
            session, batch.line_id, batch.rinse_tag, batch.started_at, end, batch.rinse_limit_c, gap
        ),
    )


def _scaled(register_map, tag, line_id, session, start, end) -> float | None:
    try:
        scale = register_map.tag(tag).scale
    except StopIteration:
        return None
    return round(counter_total(session, line_id, tag, start, end) * scale, 3)


# --- the batch on the line --------------------------------------------------------------


@dataclass(frozen=True)
class HygieneNow:
    """One temperature of a running batch: the latest reading and the record so far."""

    limit_c: float
    latest_c: float | None
    lowest_c: float | None
    highest_c: float | None
    seconds_below: float
    max_seconds_below: int

    @property
    def below_now(self) -> bool:
        return self.latest_c is None or self.latest_c < self.limit_c

    @property
    def failing(self) -> bool:
        return self.seconds_below > self.max_seconds_below


@dataclass(frozen=True)
class RunningBatch:
    """What the line screen shows of the batch on the line."""

    batch_id: int
    number: str
    order_id: int
    order_reference: str
    organisation: str
    event: str
    cup_type_code: str
    cup_type_name_nl: str
    cup_type_name_en: str
    cups_loaded: int
    started_at: datetime
    started_by: str
    cups_washed: int
    cups_rejected: int
    wash: HygieneNow
    rinse: HygieneNow

    @property
    def hygiene_ok(self) -> bool:
        """False as soon as either temperature has been below its limit too long (the batch
        would go to quarantine if it ended now)."""
        return not (self.wash.failing or self.rinse.failing)

    @property
    def cups_left(self) -> int:
        return max(0, self.cups_loaded - self.cups_washed - self.cups_rejected)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, for the live updates of the line screen and the batch page."""

        def temperature(state: HygieneNow) -> dict[str, object]:
            return {
                "latest_c": state.latest_c,
                "limit_c": state.limit_c,
                "lowest_c": state.lowest_c,
                "highest_c": state.highest_c,
                "seconds_below": state.seconds_below,
                "max_seconds_below": state.max_seconds_below,
                "below_now": state.below_now,
                "failing": state.failing,
            }

        return {
            "batch_id": self.batch_id,
            "number": self.number,
            "order_id": self.order_id,
            "order": self.order_reference,
            "organisation": self.organisation,
            "event": self.event,
            "cup_type": self.cup_type_code,
            "started_at": self.started_at.isoformat(),
            "started_by": self.started_by,
            "cups_loaded": self.cups_loaded,
            "cups_washed": self.cups_washed,
            "cups_rejected": self.cups_rejected,
            "cups_left": self.cups_left,
            "hygiene_ok": self.hygiene_ok,
            "wash": temperature(self.wash),
            "rinse": temperature(self.rinse),
        }


def running_batch(
    session: Session, line_id: int, now: datetime | None = None
) -> RunningBatch | None:
    """The batch on the line with its counts and hygiene so far (up to ``now``; without it, up
    to the latest reading), or None when the line runs no batch."""
    batch = session.scalar(
        select(WashBatch)
        .where(WashBatch.line_id == line_id, WashBatch.status == BatchStatus.RUNNING)
        .options(
            joinedload(WashBatch.order).joinedload(Order.event),
            joinedload(WashBatch.order).joinedload(Order.organisation),
            joinedload(WashBatch.cup_type),
            joinedload(WashBatch.started_by),
        )
    )
    if batch is None:
        return None
    end = now or _latest_reading(session, batch)
    gap = timedelta(seconds=batch.max_gap_s)
    wash, rinse = (
        LIVE.temperature(session, batch.id, line_id, tag, batch.started_at, end, limit, gap)
        for tag, limit in (
            (batch.wash_tag, batch.wash_limit_c),
            (batch.rinse_tag, batch.rinse_limit_c),
        )
    )

    def state(record: TemperatureRecord) -> HygieneNow:
        return HygieneNow(
            limit_c=record.limit_c,
            latest_c=record.latest_c,
            lowest_c=record.lowest_c,
            highest_c=record.highest_c,
            seconds_below=record.seconds_below,
            max_seconds_below=batch.max_seconds_below,
        )

    return RunningBatch(
        batch_id=batch.id,
        number=batch.number,
        order_id=batch.order_id,
        order_reference=batch.order.reference,
        organisation=batch.order.organisation.name,
        event=batch.order.event.name,
        cup_type_code=batch.cup_type.code,
        cup_type_name_nl=batch.cup_type.name_nl,
        cup_type_name_en=batch.cup_type.name_en,
        cups_loaded=batch.cups_loaded,
        started_at=batch.started_at,
        started_by=batch.started_by.name,
        cups_washed=LIVE.count(session, batch.id, line_id, WASHED_TAG, batch.started_at, end),
        cups_rejected=LIVE.count(session, batch.id, line_id, REJECTED_TAG, batch.started_at, end),
        wash=state(wash),
        rinse=state(rinse),
    )


def _latest_reading(session: Session, batch: WashBatch) -> datetime:
    latest = session.scalar(
        select(func.max(LineReading.at)).where(
            LineReading.line_id == batch.line_id,
            or_(
                LineReading.gauge(batch.wash_tag).is_not(None),
                LineReading.gauge(batch.rinse_tag).is_not(None),
            ),
            LineReading.at >= batch.started_at,
        )
    )
    return latest or batch.started_at


# --- reading batches --------------------------------------------------------------------


def recent_batches(session: Session, line_id: int, limit: int = 20) -> list[WashBatch]:
    return list(
        session.scalars(
            select(WashBatch)
            .where(WashBatch.line_id == line_id)
            .options(
                joinedload(WashBatch.order).joinedload(Order.event),
                joinedload(WashBatch.cup_type),
            )
            .order_by(WashBatch.started_at.desc(), WashBatch.id.desc())
            .limit(limit)
        )
    )


def batches_between(
    session: Session, line_id: int, start: datetime, end: datetime
) -> list[WashBatch]:
    """Batches on the line at any moment of [start, end): a shift report's batches."""
    return list(
        session.scalars(
            select(WashBatch)
            .where(
                WashBatch.line_id == line_id,
                WashBatch.started_at < end,
                or_(WashBatch.ended_at.is_(None), WashBatch.ended_at > start),
            )
            .options(joinedload(WashBatch.order), joinedload(WashBatch.cup_type))
            .order_by(WashBatch.started_at, WashBatch.id)
        )
    )


def batch_for(session: Session, user: User, batch_id: int) -> WashBatch:
    """A batch the user may see: the line's people and the office any, an organiser those of
    their own orders; NotFound otherwise, so ids do not leak."""
    batch = session.get(WashBatch, batch_id)
    if batch is None or not _may_see(user, batch.order):
        raise NotFound(N_("This batch does not exist."))
    return batch


def order_batches(session: Session, user: User, order_id: int) -> tuple[Order, list[WashBatch]]:
    """An order the user may see, and its batches in the order they ran."""
    order = session.get(Order, order_id)
    if order is None or not _may_see(user, order):
        raise NotFound(N_("This order does not exist."))
    batches = list(
        session.scalars(
            select(WashBatch)
            .where(WashBatch.order_id == order.id)
            .options(joinedload(WashBatch.cup_type))
            .order_by(WashBatch.started_at, WashBatch.id)
        )
    )
    return order, batches


def _may_see(user: User, order: Order) -> bool:
    if user.role in LINE_ROLES:
        return True
    return user.role is Role.ORGANISER and user.organisation_id == order.organisation_id


# --- helpers ----------------------------------------------------------------------------


def _check_role(user: User) -> None:
    if user.role not in LINE_ROLES:
        raise Forbidden(N_("Only the line supervisor or the office can start or end a batch."))


def _lock_line(session: Session, line_id: int) -> Line:
    line = session.scalar(select(Line).where(Line.id == line_id).with_for_update())
    if line is None:
        raise NotFound(N_("This line does not exist."), "line")
    return line


def _running(session: Session, line_id: int) -> WashBatch | None:
    return session.scalar(
        select(WashBatch).where(
            WashBatch.line_id == line_id, WashBatch.status == BatchStatus.RUNNING
        )
    )


def _flush(session: Session) -> None:
    try:
        session.flush()
    except IntegrityError as error:  # the partial unique index: another batch got in first
        raise Conflict(N_("Another batch was started on this line at the same moment.")) from error


def _line(cup, quantity, from_state, from_location, to_state, to_location, owner_id):
    return MovementLine(
        cup_type=cup,
        quantity=quantity,
        from_state=from_state,
        from_location=from_location,
        to_state=to_state,
        to_location=to_location,
        owner_id=owner_id,
    )
