"""An order's cup journey: load, deliver, pick up, receive at the facility, and the cup report.

Rental (pool) cups, booked with the order in the ledger:

    reserved (warehouse place) ──load──▶ loaded (same place) ──deliver──▶ at_event (EVENT-n)
      ──pick up──▶ dirty_in_transit (EVENT-n) ──receive──▶ received_dirty (a warehouse place)
                                                           broken (LOSS-BREAKAGE)
                                                           lost (LOSS-MISSING)

Loading or delivering fewer cups than the order holds gives the rest back to the clean pool where
they stand; picking up fewer leaves the rest at the event, and receiving books whatever did not
come back as lost. Crates that are not ours are counted on the receipt (they carry no cups of
ours) and recorded in the movements' reason.

Customer-owned cups (services wash_own and store_own) enter the ledger when received, owned by
the organisation, and later go into storage for the customer or back to them (to the event's
place). Washing (received_dirty → on_line → clean_available) is the line's work, not booked here.

Every service takes the session first, checks the actor's role, locks the order, changes the
status through ``ALLOWED_TRANSITIONS`` with a history row per step, flushes and never commits.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wash_ops.accounts.models import OFFICE_ROLES, Role, User
from wash_ops.catalogue.models import CupType
from wash_ops.db import utcnow
from wash_ops.errors import N_, Conflict, Forbidden, InvalidInput, Problems
from wash_ops.inventory.ledger import MovementLine, book_movements
from wash_ops.inventory.locations import (
    LossReason,
    event_location,
    is_whole,
    location_by_code,
    loss_location,
)
from wash_ops.inventory.models import (
    STORAGE_KINDS,
    Location,
    StockBalance,
    StockMovement,
    StockState,
)
from wash_ops.inventory.reservations import cups_out
from wash_ops.orders.models import Order, OrderStatus, OrderStatusChange, Service
from wash_ops.orders.services import ALLOWED_TRANSITIONS

FIELD_ROLES = OFFICE_ROLES | {Role.COURIER}
CLOSABLE = frozenset({OrderStatus.RECEIVED, OrderStatus.WASHING, OrderStatus.WASHED})
CUSTOMER_SERVICES = frozenset({Service.WASH_OWN, Service.STORE_OWN})
RECEIVABLE = frozenset({OrderStatus.AT_EVENT, OrderStatus.PICKED_UP})
BEFORE_DELIVERY = frozenset(
    {
        OrderStatus.DRAFT,
        OrderStatus.SUBMITTED,
        OrderStatus.CONFIRMED,
        OrderStatus.REJECTED,
        OrderStatus.CANCELLED,
    }
)
MAX_FOREIGN_CRATES = 10_000
FOREIGN = re.compile(r"with (\d+) foreign crates")

Counts = dict[str, int]


# --- status -----------------------------------------------------------------------------


def advance_status(
    order: Order,
    target: OrderStatus,
    actor: User,
    reason: str = "",
    at: datetime | None = None,
) -> None:
    """One step of the order's status flow, with its history row; Conflict if not allowed."""
    if target not in ALLOWED_TRANSITIONS.get(order.status, frozenset()):
        raise Conflict(
            N_("A %(current)s order cannot become %(target)s."),
            current=order.status,
            target=target,
        )
    order.history.append(
        OrderStatusChange(
            from_status=order.status,
            to_status=target,
            user_id=actor.id,
            reason=reason,
            at=at or utcnow(),
        )
    )
    order.status = target


# --- rental cups: load, deliver, pick up --------------------------------------------------


def load_order(
    session: Session,
    order: Order,
    user: User,
    counts: Counts | None = None,
    at: datetime | None = None,
) -> list[StockMovement]:
    """Reserved → loaded where the cups stand. A cup type left out of ``counts`` loads its whole
    reservation; loading fewer gives the rest back to the clean pool."""
    _start(session, order, user, FIELD_ROLES, {OrderStatus.CONFIRMED})
    if _held(session, order, StockState.LOADED):
        raise Conflict(N_("This order is already loaded."))
    return _advance_held(
        session,
        order,
        user,
        counts,
        at,
        held_state=StockState.RESERVED,
        to_state=StockState.LOADED,
        to_location=None,
        verb="loaded",
        nothing=N_("No cups are reserved for this order: reserve them before loading."),
    )


def deliver_order(
    session: Session,
    order: Order,
    user: User,
    counts: Counts | None = None,
    at: datetime | None = None,
) -> list[StockMovement]:
    """Loaded → at the event's place; the order becomes delivered, then at_event. Cups loaded
    but not delivered go back to the clean pool where they were loaded."""
    _start(session, order, user, FIELD_ROLES, {OrderStatus.CONFIRMED})
    movements = _advance_held(
        session,
        order,
        user,
        counts,
        at,
        held_state=StockState.LOADED,
        to_state=StockState.AT_EVENT,
        to_location=lambda: event_location(session, order.event),
        verb="delivered",
        nothing=N_("No cups are loaded for this order: load them before delivering."),
    )
    advance_status(order, OrderStatus.DELIVERED, user, at=at)
    advance_status(order, OrderStatus.AT_EVENT, user, at=at)
    session.flush()
    return movements


def pick_up_order(
    session: Session,
    order: Order,
    user: User,
    counts: Counts | None = None,
    at: datetime | None = None,
) -> list[StockMovement]:
    """At the event → dirty, in transit; the order becomes picked_up. Cups not picked up stay
    at the event (and are booked as lost when the rest is received)."""
    _start(session, order, user, FIELD_ROLES, {OrderStatus.AT_EVENT})
    place = event_location(session, order.event)
    held = _totals(_held(session, order, StockState.AT_EVENT))
    picked = _counts(session, counts, held, "counts", default_all=True)
    lines = [
        _line(cup, quantity, StockState.AT_EVENT, place, StockState.DIRTY_IN_TRANSIT, place)
        for cup, quantity in picked.items()
        if quantity > 0
    ]
    movements = _book(session, order, user, lines, f"picked up for {order.reference}", at)
    advance_status(order, OrderStatus.PICKED_UP, user, at=at)
    session.flush()
    return movements


# --- receiving at the facility ----------------------------------------------------------


def receive_returns(
    session: Session,
    order: Order,
    user: User,
    *,
    returned: Counts,
    broken: Counts,
    foreign_crates: int,
    location: Location | str,
    at: datetime | None = None,
) -> list[StockMovement]:
    """Count what came back: good cups go to ``location`` as received_dirty, broken ones to
    LOSS-BREAKAGE, and the rest of what went out to LOSS-MISSING (billed to the organiser).
    ``returned`` names every cup type that went out; ``broken`` may leave some out (0)."""
    _start(session, order, user, OFFICE_ROLES, None)
    if order.status in BEFORE_DELIVERY:
        raise Conflict(N_("This order was never delivered: there are no cups to receive."))
    if order.status not in RECEIVABLE:
        raise Conflict(N_("The cups of this order have already been received."))
    out = _held(session, order, StockState.DIRTY_IN_TRANSIT, StockState.AT_EVENT)
    good, bad, place = _receipt(session, out, returned, broken, foreign_crates, location)
    breakage = loss_location(session, LossReason.BREAKAGE)
    missing = loss_location(session, LossReason.MISSING)
    lines = []
    for cup, sources in _by_cup(out).items():
        wanted = [
            (good.get(cup, 0), StockState.RECEIVED_DIRTY, place),
            (bad.get(cup, 0), StockState.BROKEN, breakage),
            (0, StockState.LOST, missing),
        ]
        lines.extend(_allocate(sources, wanted))
    reason = f"received for {order.reference} with {foreign_crates} foreign crates"
    movements = _book(session, order, user, lines, reason, at)
    if order.status is OrderStatus.AT_EVENT:
        advance_status(order, OrderStatus.PICKED_UP, user, at=at)
    advance_status(order, OrderStatus.RECEIVED, user, at=at)
    session.flush()
    return movements


def _receipt(session, out, returned, broken, foreign_crates, location):
    """Check a receipt as a whole: ``(returned, broken, place)``, or InvalidInput with every
    problem. Returned plus broken may not exceed what went out, per cup type."""
    problems = Problems()
    held = _totals(out)
    by_code = {cup.code: cup for cup in held}
    good = _checked(session, returned, by_code, "returned", problems)
    bad = _checked(session, broken, by_code, "broken", problems)
    for code, cup in sorted(by_code.items()):
        if not isinstance(returned, dict):
            break
        if code not in returned:
            problems.add(
                f"returned.{code}",
                N_("Count the returned %(cup_type)s cups (0 if none came back)."),
                cup_type=code,
            )
        elif not problems.has(f"returned.{code}") and not problems.has(f"broken.{code}"):
            counted = good.get(cup, 0) + bad.get(cup, 0)
            if counted > held[cup]:
                problems.add(
                    f"returned.{code}",
                    N_(
                        "%(delivered)s %(cup_type)s cups went out with this order, but "
                        "%(counted)s are counted back. Count crates that are not ours as foreign "
                        "crates, not as returned cups."
                    ),
                    delivered=held[cup],
                    cup_type=code,
                    counted=counted,
                )
    if not is_whole(foreign_crates) or not 0 <= foreign_crates <= MAX_FOREIGN_CRATES:
        problems.add(
            "foreign_crates",
            N_("Foreign crates are a whole number from 0 to %(count)s."),
            count=MAX_FOREIGN_CRATES,
        )
    place = _storage_place(session, location, problems)
    problems.raise_if_any()
    return good, bad, place


def _checked(session, counts, by_code, field, problems) -> dict[CupType, int]:
    if not isinstance(counts, dict):
        problems.add(field, N_("Give the counts per cup type."))
        return {}
    result = {}
    known = _cup_types(session, list(counts))
    for code, quantity in counts.items():
        name = f"{field}.{code}"
        if code not in known:
            problems.add(name, N_("Unknown cup type: %(code)s."), code=code)
        elif code not in by_code:
            problems.add(name, N_("No %(cup_type)s cups went out with this order."), cup_type=code)
        elif not is_whole(quantity) or quantity < 0:
            problems.add(name, N_("A count is a whole number of cups, zero or more."))
        else:
            result[by_code[code]] = quantity
    return result


def _allocate(sources: list[_Held], wanted) -> list[MovementLine]:
    """Spread the wanted (quantity, to state, to place) over the sides the cups come from, in
    order; the last wanted entry takes whatever is left."""
    left = [source.quantity for source in sources]
    lines = []
    for index, (quantity, to_state, to_location) in enumerate(wanted):
        if index == len(wanted) - 1:
            quantity = sum(left)
        for position, source in enumerate(sources):
            take = min(quantity, left[position])
            if take > 0:
                lines.append(
                    _line(source.cup, take, source.state, source.place, to_state, to_location)
                )
                left[position] -= take
                quantity -= take
    return lines


# --- customer-owned cups ----------------------------------------------------------------


def receive_customer_cups(
    session: Session,
    order: Order,
    user: User,
    counts: Counts,
    location: Location | str,
    at: datetime | None = None,
) -> list[StockMovement]:
    """A customer's own cups arrive dirty: they enter the ledger owned by the organisation, as
    received_dirty at ``location``. The order goes on to received (a later batch of the same
    order is booked without a new status)."""
    statuses = {OrderStatus.CONFIRMED, *RECEIVABLE, OrderStatus.DELIVERED, OrderStatus.RECEIVED}
    _start(session, order, user, OFFICE_ROLES, statuses, customer=True)
    problems = Problems()
    received = _checked_positive(session, counts, "counts", problems)
    place = _storage_place(session, location, problems)
    problems.raise_if_any()
    lines = [
        MovementLine(
            cup_type=cup,
            quantity=quantity,
            to_state=StockState.RECEIVED_DIRTY,
            to_location=place,
            owner_id=order.organisation_id,
        )
        for cup, quantity in received.items()
    ]
    movements = _book(session, order, user, lines, f"customer's cups for {order.reference}", at)
    while order.status is not OrderStatus.RECEIVED:
        advance_status(order, _next_status(order.status), user, at=at)
    session.flush()
    return movements


def store_for_customer(
    session: Session,
    order: Order,
    user: User,
    counts: Counts,
    location: Location | str,
    at: datetime | None = None,
) -> list[StockMovement]:
    """Clean customer cups → customer_stored at ``location`` (service store_own)."""
    _start(session, order, user, OFFICE_ROLES, None, customer=True)
    if order.service is not Service.STORE_OWN:
        raise Conflict(N_("Only a wash-and-store order keeps the customer's cups in storage."))
    problems = Problems()
    wanted = _checked_positive(session, counts, "counts", problems)
    place = _storage_place(session, location, problems)
    problems.raise_if_any()
    lines = [
        _line(
            cup, take, StockState.CLEAN_AVAILABLE, source, StockState.CUSTOMER_STORED, place, owner
        )
        for cup, take, source, owner in _owner_stock(session, order, wanted)
    ]
    return _book(session, order, user, lines, f"stored for {order.organisation.name}", at)


def return_to_customer(
    session: Session,
    order: Order,
    user: User,
    counts: Counts,
    at: datetime | None = None,
    from_state: StockState = StockState.CLEAN_AVAILABLE,
) -> list[StockMovement]:
    """Customer cups (clean, or from storage) go back out to the customer, to the place of the
    order's event. The ledger keeps them there: cups never leave it."""
    _start(session, order, user, OFFICE_ROLES, None, customer=True)
    if from_state not in (StockState.CLEAN_AVAILABLE, StockState.CUSTOMER_STORED):
        raise InvalidInput(N_("Only clean or stored cups go back to the customer."), "from_state")
    problems = Problems()
    wanted = _checked_positive(session, counts, "counts", problems)
    problems.raise_if_any()
    taken = _owner_stock(session, order, wanted, from_state)
    place = event_location(session, order.event)
    lines = [
        _line(cup, take, from_state, source, StockState.AT_EVENT, place, owner)
        for cup, take, source, owner in taken
    ]
    return _book(session, order, user, lines, f"returned to {order.organisation.name}", at)


def _owner_stock(session, order, wanted, from_state=StockState.CLEAN_AVAILABLE):
    """Where to take the owner's cups from: ``(cup, quantity, place, owner id)`` from warehouse
    places in place order; Conflict, naming every cup type short, when there are too few."""
    problems = Problems()
    taken = []
    for cup, quantity in wanted.items():
        rows = session.execute(
            select(StockBalance.location_id, StockBalance.quantity)
            .join(Location, Location.id == StockBalance.location_id)
            .where(
                StockBalance.cup_type_id == cup.id,
                StockBalance.owner_key == order.organisation_id,
                StockBalance.state == from_state,
                StockBalance.quantity > 0,
                Location.kind.in_(STORAGE_KINDS),
            )
            .order_by(StockBalance.location_id)
        ).all()
        have = sum(row.quantity for row in rows)
        if have < quantity:
            problems.add(
                f"counts.{cup.code}",
                N_("%(organisation)s has %(available)s %(cup_type)s cups %(state)s here."),
                organisation=order.organisation.name,
                available=have,
                cup_type=cup.code,
                state=from_state,
            )
            continue
        for row in rows:
            take = min(quantity, row.quantity)
            if take > 0:
                source = session.get_one(Location, row.location_id)
                taken.append((cup, take, source, order.organisation_id))
                quantity -= take
    if problems.items:
        first = problems.items[0]
        error = Conflict(first.message, first.field, **first.params)
        error.problems = problems.items
        raise error
    return taken


# --- the cup report ---------------------------------------------------------------------


@dataclass(frozen=True)
class CupReportLine:
    cup_type: CupType
    delivered: int
    returned: int
    broken: int
    lost: int
    charged: bool

    @property
    def unit_cents(self) -> int:
        return self.cup_type.loss_price_cents

    @property
    def lost_cents(self) -> int:
        return self.lost * self.unit_cents if self.charged else 0

    @property
    def broken_cents(self) -> int:
        return self.broken * self.unit_cents if self.charged else 0


@dataclass(frozen=True)
class LossLine:
    """One line for the invoice: cups of a type lost or broken, at the catalogue's loss price."""

    cup_type: CupType
    kind: str  # "lost" or "broken"
    quantity: int
    unit_cents: int

    @property
    def amount_cents(self) -> int:
        return self.quantity * self.unit_cents


@dataclass(frozen=True)
class CupReport:
    order_id: int
    reference: str
    owned_by_customer: bool
    lines: list[CupReportLine]
    foreign_crates: int

    @property
    def loss_lines(self) -> list[LossLine]:
        result = []
        for line in self.lines:
            if not line.charged:
                continue
            for kind, quantity in (("lost", line.lost), ("broken", line.broken)):
                if quantity > 0:
                    result.append(LossLine(line.cup_type, kind, quantity, line.unit_cents))
        return result

    @property
    def total_cents(self) -> int:
        return sum(line.amount_cents for line in self.loss_lines)

    @property
    def empty(self) -> bool:
        return not any(
            line.delivered or line.returned or line.broken or line.lost for line in self.lines
        )


def cup_report(session: Session, order: Order) -> CupReport:
    """Per cup type: delivered, returned, broken and lost, from the order's movements in the
    ledger; loss lines are charged for pool (rental) cups only. For customer-owned cups
    ``delivered`` counts what went back out to the customer and ``returned`` what came in."""
    owned = order.service in CUSTOMER_SERVICES
    owner = (
        StockMovement.owner_id == order.organisation_id
        if owned
        else StockMovement.owner_id.is_(None)
    )
    rows = session.execute(
        select(
            StockMovement.cup_type_id,
            StockMovement.from_state,
            StockMovement.to_state,
            func.sum(StockMovement.quantity),
        )
        .where(StockMovement.order_id == order.id, owner)
        .group_by(StockMovement.cup_type_id, StockMovement.from_state, StockMovement.to_state)
    ).all()
    sums: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for cup_type_id, from_state, to_state, quantity in rows:
        kind = _report_kind(from_state, to_state, owned)
        if kind:
            sums[cup_type_id][kind] += int(quantity)
    cups = {cup.id: cup for cup in session.scalars(select(CupType).where(CupType.id.in_(sums)))}
    lines = [
        CupReportLine(
            cup_type=cups[cup_type_id],
            delivered=kinds["delivered"],
            returned=kinds["returned"],
            broken=kinds["broken"],
            lost=kinds["lost"],
            charged=not owned,
        )
        for cup_type_id, kinds in sorted(sums.items(), key=lambda item: cups[item[0]].volume_ml)
    ]
    return CupReport(order.id, order.reference, owned, lines, _foreign_crates(session, order))


def _report_kind(from_state, to_state, owned: bool) -> str | None:
    if to_state is StockState.AT_EVENT and (
        from_state is StockState.LOADED
        or (owned and from_state in (StockState.CLEAN_AVAILABLE, StockState.CUSTOMER_STORED))
    ):
        return "delivered"
    if to_state is StockState.RECEIVED_DIRTY and (owned or from_state is not None):
        return "returned"
    if to_state is StockState.BROKEN:
        return "broken"
    if to_state is StockState.LOST:
        return "lost"
    return None


def _foreign_crates(session: Session, order: Order) -> int:
    reasons = session.scalars(
        select(StockMovement.reason)
        .where(StockMovement.order_id == order.id, StockMovement.reason.like("received for %"))
        .distinct()
    )
    return sum(int(match.group(1)) for reason in reasons if (match := FOREIGN.search(reason)))


def receiving_counts(session: Session, order: Order) -> dict[CupType, int]:
    """Pool cups per cup type the order still has out (at the event or on the way back)."""
    return _totals(_held(session, order, StockState.DIRTY_IN_TRANSIT, StockState.AT_EVENT))


def close_order(session: Session, order: Order, user: User, at: datetime | None = None) -> None:
    """Close a received rental order once every cup it took is back in the clean pool or
    written off; the status walks through washing and washed to closed."""
    _start(session, order, user, OFFICE_ROLES, CLOSABLE)
    if cups_out(session, order):
        raise Conflict(N_("This order still has cups on their way or waiting to be washed."))
    steps = (OrderStatus.WASHING, OrderStatus.WASHED, OrderStatus.CLOSED)
    for target in steps:
        # Walk on from where the order is: a washed order goes straight to closed.
        if order.status not in steps or steps.index(order.status) < steps.index(target):
            advance_status(order, target, user, at=at)
    session.flush()


def can_receive(order: Order) -> bool:
    return order.service is Service.RENT_AND_WASH and order.status in RECEIVABLE


# --- helpers ----------------------------------------------------------------------------


def _start(session, order, user, roles, statuses, *, customer=False) -> None:
    """Role, service and status checks, under a lock on the order row."""
    if user.role not in roles:
        if roles == OFFICE_ROLES:
            raise Forbidden(N_("Only the office can do this."))
        raise Forbidden(N_("Only the office or a courier can do this."))
    if customer and order.service not in CUSTOMER_SERVICES:
        raise Conflict(N_("This order rents pool cups; it has no cups of the customer's own."))
    if not customer and order.service is not Service.RENT_AND_WASH:
        raise Conflict(N_("This order has no pool cups: its cups belong to the customer."))
    session.execute(select(Order.id).where(Order.id == order.id).with_for_update())
    session.refresh(order, ["status"])
    if statuses is not None and order.status not in statuses:
        raise Conflict(N_("A %(status)s order cannot do this."), status=order.status)


def _advance_held(
    session, order, user, counts, at, *, held_state, to_state, to_location, verb, nothing
):
    """Move the order's cups in ``held_state`` on to ``to_state`` (at the place ``to_location()``
    gives, made only once the counts are checked, or where they stand); what is not moved goes
    back to the clean pool where it stands."""
    held = _held(session, order, held_state)
    if not held:
        raise Conflict(nothing)
    moving = _counts(session, counts, _totals(held), "counts", default_all=True)
    if sum(moving.values()) == 0:
        raise InvalidInput(N_("Count at least one cup."), "counts")
    target = to_location() if to_location is not None else None
    lines = []
    for cup, sources in _by_cup(held).items():
        keep = moving.get(cup, 0)
        for source in sources:
            take = min(keep, source.quantity)
            rest = source.quantity - take
            if take:
                place = target or source.place
                lines.append(_line(cup, take, source.state, source.place, to_state, place))
            if rest:
                clean = StockState.CLEAN_AVAILABLE
                lines.append(_line(cup, rest, source.state, source.place, clean, source.place))
            keep -= take
    return _book(session, order, user, lines, f"{verb} for {order.reference}", at)


def _counts(session, counts, held: dict[CupType, int], field, *, default_all) -> dict[CupType, int]:
    """Counts per cup type against what the order holds; a cup type left out means all of it."""
    problems = Problems()
    counts = {} if counts is None else counts
    by_code = {cup.code: cup for cup in held}
    result = dict(held) if default_all else {}
    checked = _checked(session, counts, by_code, field, problems)
    for cup, quantity in checked.items():
        if quantity > held[cup]:
            problems.add(
                f"{field}.{cup.code}",
                N_("The order holds %(available)s %(cup_type)s cups; %(requested)s is more."),
                available=held[cup],
                cup_type=cup.code,
                requested=quantity,
            )
        result[cup] = quantity
    problems.raise_if_any()
    return result


def _checked_positive(session, counts, field, problems) -> dict[CupType, int]:
    if not isinstance(counts, dict) or not counts:
        problems.add(field, N_("Count at least one cup type."))
        return {}
    known = _cup_types(session, list(counts))
    result = {}
    for code, quantity in counts.items():
        if code not in known:
            problems.add(f"{field}.{code}", N_("Unknown cup type: %(code)s."), code=code)
        elif not is_whole(quantity) or quantity < 0:
            problems.add(f"{field}.{code}", N_("A count is a whole number of cups, zero or more."))
        elif quantity > 0:
            result[known[code]] = quantity
    if not problems.items and not result:
        problems.add(field, N_("Count at least one cup."))
    return result


def _cup_types(session: Session, codes: list[str]) -> dict[str, CupType]:
    codes = [code for code in codes if isinstance(code, str)]
    return {
        cup.code: cup for cup in session.scalars(select(CupType).where(CupType.code.in_(codes)))
    }


def _storage_place(session, location, problems: Problems | None = None) -> Location | None:
    """A warehouse place in use; problems are collected, or raised when none is given."""
    own = problems is None
    problems = problems or Problems()
    place = None
    if isinstance(location, Location):
        place = location
    elif isinstance(location, str) and location.strip():
        try:
            place = location_by_code(session, location)
        except InvalidInput:
            problems.add("location", N_("Unknown location: %(code)s."), code=location)
    else:
        problems.add("location", N_("Choose where the cups go."))
    if place is not None and (place.kind not in STORAGE_KINDS or not place.active):
        problems.add(
            "location",
            N_("Received cups go to a warehouse place in use, not to %(location)s."),
            location=place.code,
        )
        place = None
    if own:
        problems.raise_if_any()
    return place


@dataclass(frozen=True)
class _Held:
    cup: CupType
    state: StockState
    place: Location
    quantity: int


def _held(session: Session, order: Order, *states: StockState) -> list[_Held]:
    """Pool cups the order holds in ``states``, per cup type, state and place, from the ledger;
    sorted by cup type, then in the order of ``states``, then by place."""
    totals: dict[tuple[int, StockState, int], int] = defaultdict(int)
    sides = (
        (StockMovement.to_state, StockMovement.to_location_id, 1),
        (StockMovement.from_state, StockMovement.from_location_id, -1),
    )
    for state, location, sign in sides:
        rows = session.execute(
            select(StockMovement.cup_type_id, state, location, func.sum(StockMovement.quantity))
            .where(
                StockMovement.order_id == order.id,
                StockMovement.owner_id.is_(None),
                state.in_(states),
            )
            .group_by(StockMovement.cup_type_id, state, location)
        )
        for cup_type_id, held_state, location_id, quantity in rows:
            totals[(cup_type_id, StockState(held_state), location_id)] += sign * int(quantity)
    held = [
        _Held(
            session.get_one(CupType, cup_type_id),
            state,
            session.get_one(Location, location_id),
            quantity,
        )
        for (cup_type_id, state, location_id), quantity in totals.items()
        if quantity > 0
    ]
    return sorted(held, key=lambda h: (h.cup.code, states.index(h.state), h.place.id))


def _by_cup(held: list[_Held]) -> dict[CupType, list[_Held]]:
    grouped: dict[CupType, list[_Held]] = defaultdict(list)
    for item in held:
        grouped[item.cup].append(item)
    return dict(grouped)


def _totals(held: list[_Held]) -> dict[CupType, int]:
    return {cup: sum(item.quantity for item in items) for cup, items in _by_cup(held).items()}


def _line(cup, quantity, from_state, from_location, to_state, to_location, owner_id=None):
    return MovementLine(
        cup_type=cup,
        quantity=quantity,
        from_state=from_state,
        from_location=from_location,
        to_state=to_state,
        to_location=to_location,
        owner_id=owner_id,
    )


def _book(session, order, user, lines, reason, at) -> list[StockMovement]:
    if not lines:
        return []
    return book_movements(session, lines, reason=reason, user=user, order=order, at=at)


def _next_status(status: OrderStatus) -> OrderStatus:
    flow = [
        OrderStatus.CONFIRMED,
        OrderStatus.DELIVERED,
        OrderStatus.AT_EVENT,
        OrderStatus.PICKED_UP,
        OrderStatus.RECEIVED,
    ]
    return flow[flow.index(status) + 1]


def held_cups(session: Session, order: Order, state: StockState) -> dict[str, int]:
    """Pool cups the order holds in ``state``, per cup type code (for the courier's stops)."""
    return {cup.code: quantity for cup, quantity in _totals(_held(session, order, state)).items()}
