"""The washing plan: the dirty backlog and the expected returns booked into the line's days by
deadline, the orders that will be late, the days over capacity, and what the line really washed.

What is planned
---------------
* **Backlog**: cups of received orders (status received or washing) that the stock ledger still
  holds as ``received_dirty`` or ``on_line``, per order and cup type. They are here, so they are
  released today; they are due on the order's ``wash_due_on``.
* **Expected returns**: the ``wash_cups`` of confirmed, delivered, at-event and picked-up orders,
  per cup type, in their wash window (``wash_release_on`` .. ``wash_due_on``).

Both go through ``capacity.book`` (earliest deadline first, from today). A deadline already
past is booked as due today (it is the earliest of all), and every cup of it counts as late.
Cups that cannot be washed by their deadline then get, oldest deadline first, the earliest new
deadline at which they can be booked without making any other cups late, and everything is
booked again: so the plan says on which day they would be done and by how many days they are
late, and a late order never makes another one late.

A day is **over capacity** when cups due by the end of it cannot all be washed by then: the
demand with deadlines up to that day exceeds the capacity up to it (earliest deadline first
finds a schedule whenever one exists, so what it reports late cannot be avoided).

What "planned" means for past days
----------------------------------
The plan is recomputed from the current state every time; it is not stored. For a past day
the page therefore does not pretend to know the booking as it stood that morning. It shows
**due**: the wash cups of the orders whose wash deadline fell on that day (orders that were
confirmed, whatever their status now), that is what the line had promised to have washed by
the end of that day, against **washed**: the day's roll-up of the ``cups_washed`` counter
(today: the counter so far, beside today's booked cups).
"""

from __future__ import annotations

import enum
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from wash_ops.catalogue.models import CupType, Line
from wash_ops.config import Settings
from wash_ops.errors import N_, InvalidInput
from wash_ops.inventory.models import StockBalance, StockMovement, StockState
from wash_ops.orders.models import Order, OrderLine, OrderStatus
from wash_ops.planning.calendar import LineCalendar
from wash_ops.planning.capacity import WashJob, book, merge_windows
from wash_ops.planning.services import BOOKED_STATUSES, calendar_for
from wash_ops.telemetry.models import CounterCursor, Resolution, TagRollup
from wash_ops.telemetry.register_map import RegisterMap
from wash_ops.telemetry.rollups import bucket_start

MIN_DAYS, MAX_DAYS = 1, 56
HISTORY_DAYS = 7
LATE_SEARCH_DAYS = 366  # how far past the plan's last deadline late cups are followed
MAX_SEARCHED_LATE = 12  # late jobs given the earliest harmless day; the rest, leftover room
WASHED_TAG = "cups_washed"
DIRTY_STATES = (StockState.RECEIVED_DIRTY, StockState.ON_LINE)
BACKLOG_STATUSES = (OrderStatus.RECEIVED, OrderStatus.WASHING)
EXPECTED_STATUSES = (
    OrderStatus.CONFIRMED,
    OrderStatus.DELIVERED,
    OrderStatus.AT_EVENT,
    OrderStatus.PICKED_UP,
)
PROMISED_STATUSES = (*BOOKED_STATUSES, OrderStatus.WASHED, OrderStatus.CLOSED)
_DAY = timedelta(days=1)


class JobKind(enum.StrEnum):
    BACKLOG = "backlog"
    EXPECTED = "expected"


@dataclass(frozen=True)
class PlanJob:
    """Cups of one order and cup type to wash between ``release`` and ``due``."""

    order_id: int
    reference: str
    organisation: str
    cup_type: str | None
    kind: JobKind
    release: date
    due: date
    cups: int


@dataclass(frozen=True)
class Slot:
    """Cups of a job booked on a day; ``late`` when that day is after the job's deadline."""

    job: PlanJob
    cups: int
    late: bool


@dataclass(frozen=True)
class PlanDay:
    day: date
    capacity: int
    slots: tuple[Slot, ...]
    due: int  # cups whose deadline is this day (today: or earlier)
    short: int  # of those, cups that cannot be washed by the end of this day
    today: bool

    @property
    def open(self) -> bool:
        return self.capacity > 0

    @property
    def planned(self) -> int:
        return sum(slot.cups for slot in self.slots)

    @property
    def free(self) -> int:
        return max(self.capacity - self.planned, 0)

    @property
    def percent(self) -> int:
        return round(100 * self.planned / self.capacity) if self.capacity else 0

    @property
    def over_capacity(self) -> bool:
        return self.short > 0


@dataclass(frozen=True)
class LateOrder:
    """An order whose cups will not all be washed by its deadline."""

    order_id: int
    reference: str
    organisation: str
    due: date
    cups: int  # the order's cups in the plan
    late_cups: int  # of those, washed after the deadline (or not within the search)
    overdue: bool  # the deadline has passed already
    done_on: date | None  # the day its last cups would be washed, None: not found

    @property
    def days_late(self) -> int | None:
        return (self.done_on - self.due).days if self.done_on else None


@dataclass(frozen=True)
class PastDay:
    """What was due on a day against what the line washed (today: so far)."""

    day: date
    capacity: int
    due: int
    washed: int
    today: bool
    planned: int | None = None  # today only: the cups booked for today

    @property
    def open(self) -> bool:
        return self.capacity > 0

    @property
    def difference(self) -> int:
        return self.washed - self.due

    @property
    def percent(self) -> int:
        return round(100 * self.washed / self.capacity) if self.capacity else 0


@dataclass(frozen=True)
class WashingPlan:
    today: date
    capacity_per_day: int
    days: list[PlanDay]
    late: list[LateOrder]
    history: list[PastDay]
    jobs: list[PlanJob]
    unlinked_dirty: int  # dirty cups in stock that belong to no received order of this line

    @property
    def backlog_cups(self) -> int:
        return sum(job.cups for job in self.jobs if job.kind is JobKind.BACKLOG)

    @property
    def expected_cups(self) -> int:
        return sum(job.cups for job in self.jobs if job.kind is JobKind.EXPECTED)

    @property
    def over_capacity_days(self) -> list[PlanDay]:
        return [day for day in self.days if day.over_capacity]

    @property
    def last_day(self) -> date:
        return self.days[-1].day


def washing_plan(
    session: Session,
    settings: Settings,
    line: Line,
    now: datetime,
    days: int = 14,
    *,
    register_map: RegisterMap | None = None,
) -> WashingPlan:
    """The plan for ``days`` days from today (local), with the last week's history.

    ``register_map`` gives the scale of the ``cups_washed`` counter (1 without it). Raises
    InvalidInput when ``days`` is not a whole number from 1 to 56.
    """
    if isinstance(days, bool) or not isinstance(days, int) or not MIN_DAYS <= days <= MAX_DAYS:
        raise InvalidInput(
            N_("Plan from %(low)s to %(high)s days ahead."), "days", low=MIN_DAYS, high=MAX_DAYS
        )
    calendar = calendar_for(settings, line)
    today = calendar.local_date(now)
    backlog, unlinked = _backlog_jobs(session, line, calendar, today)
    jobs = sorted(
        backlog + _expected_jobs(session, line, calendar),
        key=lambda job: (job.due, job.release, job.order_id, job.cup_type or ""),
    )
    scheduled = _schedule(jobs, calendar, today)
    plan_days = [
        _plan_day(day, jobs, scheduled, calendar, today)
        for day in calendar.days(today, today + timedelta(days=days - 1))
    ]
    planned_today = plan_days[0].planned
    return WashingPlan(
        today=today,
        capacity_per_day=line.capacity_per_day,
        days=plan_days,
        late=_late_orders(jobs, scheduled, today),
        history=_history(session, line, calendar, today, register_map, planned_today),
        jobs=jobs,
        unlinked_dirty=unlinked,
    )


# --- the jobs -----------------------------------------------------------------------------


def _backlog_jobs(
    session: Session, line: Line, calendar: LineCalendar, today: date
) -> tuple[list[PlanJob], int]:
    """Dirty cups per received order and cup type, from the ledger (like journey's ``_held``,
    for every owner), and the dirty cups in stock that belong to none of these orders."""
    orders = {
        order.id: order
        for order in session.scalars(
            select(Order)
            .options(joinedload(Order.organisation))
            .where(Order.line_id == line.id, Order.status.in_(BACKLOG_STATUSES))
        )
    }
    held: dict[tuple[int, str], int] = defaultdict(int)
    if orders:
        sides = (
            (StockMovement.to_state, 1),
            (StockMovement.from_state, -1),
        )
        for state, sign in sides:
            rows = session.execute(
                select(StockMovement.order_id, CupType.code, func.sum(StockMovement.quantity))
                .join(CupType, CupType.id == StockMovement.cup_type_id)
                .where(StockMovement.order_id.in_(list(orders)), state.in_(DIRTY_STATES))
                .group_by(StockMovement.order_id, CupType.code)
            )
            for order_id, code, quantity in rows:
                held[(order_id, code)] += sign * int(quantity)
    jobs = []
    for (order_id, code), cups in sorted(held.items()):
        if cups <= 0:
            continue
        order = orders[order_id]
        due = order.wash_due_on or calendar.wash_window(order.pickup_end)[1]
        jobs.append(_job(order, code, JobKind.BACKLOG, today, due, cups))
    in_stock = session.scalar(
        select(func.coalesce(func.sum(StockBalance.quantity), 0)).where(
            StockBalance.state.in_(DIRTY_STATES)
        )
    )
    linked = sum(job.cups for job in jobs)
    return jobs, max(int(in_stock or 0) - linked, 0)


def _expected_jobs(session: Session, line: Line, calendar: LineCalendar) -> list[PlanJob]:
    """The wash cups of orders whose cups are still out (or not yet delivered), per cup type."""
    orders = session.scalars(
        select(Order)
        .options(
            joinedload(Order.organisation),
            selectinload(Order.lines).joinedload(OrderLine.cup_type),
        )
        .where(
            Order.line_id == line.id,
            Order.status.in_(EXPECTED_STATUSES),
            Order.wash_cups > 0,
        )
    )
    jobs = []
    for order in orders:
        if order.wash_release_on is None or order.wash_due_on is None:
            release, due = calendar.wash_window(order.pickup_end)
        else:
            release, due = order.wash_release_on, order.wash_due_on
        if sum(item.quantity for item in order.lines) == order.wash_cups:
            parts = [(item.cup_type.code, item.quantity) for item in order.lines]
        else:  # the booked figure wins; it is what the capacity check promised
            parts = [(None, order.wash_cups)]
        jobs.extend(_job(order, code, JobKind.EXPECTED, release, due, cups) for code, cups in parts)
    return jobs


def _job(
    order: Order, code: str | None, kind: JobKind, release: date, due: date, cups: int
) -> PlanJob:
    return PlanJob(
        order_id=order.id,
        reference=order.reference,
        organisation=order.organisation.name,
        cup_type=code,
        kind=kind,
        release=release,
        due=due,
        cups=cups,
    )


# --- booking ------------------------------------------------------------------------------


@dataclass
class _Scheduled:
    """Per job (by its index): cups per day by the deadline and after it, the cups that could
    not be washed by the deadline (``short``), and those not placed at all."""

    on_time: dict[int, dict[date, int]]
    after: dict[int, dict[date, int]]
    short: dict[int, int]
    unplaced: dict[int, int]

    def done_on(self, key: int) -> date | None:
        if self.unplaced.get(key):
            return None
        days = [*self.on_time.get(key, {}), *self.after.get(key, {})]
        return max(days) if days else None


def _schedule(jobs: list[PlanJob], calendar: LineCalendar, today: date) -> _Scheduled:
    """Book by deadline; then give each late remainder (oldest deadline first) the earliest
    new deadline at which booking it makes nobody else late, and book everything again.

    Past ``MAX_SEARCHED_LATE`` late jobs (a line booked far beyond its capacity), the rest go
    into the capacity the final booking leaves free: a later day, never an earlier one.
    """
    count = len(jobs)
    work = [
        WashJob(key, job.release, max(job.due, today), job.cups) for key, job in enumerate(jobs)
    ]
    short = dict(book(work, calendar, today).late)
    kept = [
        WashJob(job.order_id, job.release, job.due, job.cups - short.get(key, 0))
        for key, job in enumerate(work)
    ]
    limit = max((job.due for job in work), default=today) + timedelta(days=LATE_SEARCH_DAYS)
    late_keys = sorted(short, key=lambda key: (work[key].due, key))
    deferred: list[WashJob] = []
    unplaced: dict[int, int] = {}
    for key in late_keys[:MAX_SEARCHED_LATE]:
        release = max(work[key].due + _DAY, work[key].release)
        base = merge_windows(kept + deferred)
        due = _earliest_due(base, calendar, today, release, short[key], limit)
        if due is None:
            unplaced[key] = short[key]
        else:
            deferred.append(WashJob(count + key, release, due, short[key]))
    final = book(kept + deferred, calendar, today, keep_allocations=True)
    allocations = final.allocations or {}
    after = {key - count: dict(days) for key, days in allocations.items() if key >= count}
    room = _Room(calendar, today, limit, final.booked)
    for key in late_keys[MAX_SEARCHED_LATE:]:
        release = max(work[key].due + _DAY, work[key].release)
        taken, left = room.take(release, short[key])
        if taken:
            after[key] = taken
        if left:
            unplaced[key] = left
    return _Scheduled(
        on_time={key: dict(days) for key, days in allocations.items() if key < count},
        after=after,
        short=short,
        unplaced=unplaced,
    )


class _Room:
    """The capacity left free per day from ``first`` to ``last``; ``take`` fills the first free
    days from a given day on, skipping full days in near-constant time (a disjoint-set
    pointer to the next day with room)."""

    def __init__(self, calendar: LineCalendar, first: date, last: date, booked: dict) -> None:
        self.first = first
        size = (last - first).days + 1
        self.free = [
            calendar.capacity_on(first + timedelta(days=offset))
            - booked.get(first + timedelta(days=offset), 0)
            for offset in range(size)
        ]
        self.next = list(range(size + 1))

    def _find(self, offset: int) -> int:
        root = offset
        while self.next[root] != root:
            root = self.next[root]
        while self.next[offset] != root:
            self.next[offset], offset = root, self.next[offset]
        return root

    def take(self, start: date, cups: int) -> tuple[dict[date, int], int]:
        taken: dict[date, int] = {}
        offset = self._find(max((start - self.first).days, 0))
        while cups and offset < len(self.free):
            if self.free[offset] <= 0:
                self.next[offset] = offset + 1
                offset = self._find(offset + 1)
                continue
            amount = min(cups, self.free[offset])
            self.free[offset] -= amount
            cups -= amount
            taken[self.first + timedelta(days=offset)] = amount
        return taken, cups


def _earliest_due(
    base: list[WashJob],
    calendar: LineCalendar,
    today: date,
    release: date,
    cups: int,
    limit: date,
) -> date | None:
    """The earliest deadline from ``release`` up to ``limit`` at which ``cups`` more can be
    booked with nobody late (a later deadline only leaves more room: a binary search). ``base``
    is merged per wash window: the same days are late or not, in far fewer jobs."""

    def fits(offset: int) -> bool:
        trial = WashJob(-1, release, release + timedelta(days=offset), cups)
        return not book([*base, trial], calendar, today).late

    low, high = 0, (limit - release).days
    if high < 0 or not fits(high):
        return None
    while low < high:
        middle = (low + high) // 2
        if fits(middle):
            high = middle
        else:
            low = middle + 1
    return release + timedelta(days=low)


def _plan_day(
    day: date,
    jobs: list[PlanJob],
    scheduled: _Scheduled,
    calendar: LineCalendar,
    today: date,
) -> PlanDay:
    slots = []
    for source, late_source in ((scheduled.on_time, False), (scheduled.after, True)):
        for key, per_day in source.items():
            if day in per_day:
                late = late_source or jobs[key].due < day
                slots.append(Slot(jobs[key], per_day[day], late))
    slots.sort(key=lambda slot: (slot.job.due, slot.job.order_id, slot.job.cup_type or ""))
    due_here = [key for key, job in enumerate(jobs) if max(job.due, today) == day]
    return PlanDay(
        day=day,
        capacity=calendar.capacity_on(day),
        slots=tuple(slots),
        due=sum(jobs[key].cups for key in due_here),
        short=sum(scheduled.short.get(key, 0) for key in due_here),
        today=day == today,
    )


def _late_orders(jobs: list[PlanJob], scheduled: _Scheduled, today: date) -> list[LateOrder]:
    by_order: dict[int, list[int]] = defaultdict(list)
    for key, job in enumerate(jobs):
        by_order[job.order_id].append(key)
    late = []
    for keys in by_order.values():
        late_cups = 0
        for key in keys:
            if jobs[key].due < today:
                late_cups += jobs[key].cups
            else:
                late_cups += scheduled.short.get(key, 0)
        if not late_cups:
            continue
        finished = [scheduled.done_on(key) for key in keys]
        first = jobs[keys[0]]
        late.append(
            LateOrder(
                order_id=first.order_id,
                reference=first.reference,
                organisation=first.organisation,
                due=min(jobs[key].due for key in keys),
                cups=sum(jobs[key].cups for key in keys),
                late_cups=late_cups,
                overdue=any(jobs[key].due < today for key in keys),
                done_on=None if None in finished else max(day for day in finished if day),
            )
        )
    return sorted(late, key=lambda order: (order.due, order.order_id))


# --- what the line washed -----------------------------------------------------------------


def _history(
    session: Session,
    line: Line,
    calendar: LineCalendar,
    today: date,
    register_map: RegisterMap | None,
    planned_today: int,
) -> list[PastDay]:
    first = today - timedelta(days=HISTORY_DAYS)
    scale = _counter_scale(register_map)
    due = cups_due_by_day(session, line.id, first, today)
    washed: dict[date, int] = {}
    start = _local_midnight(first, calendar)
    end = _local_midnight(today, calendar)
    for bucket, total in session.execute(
        select(TagRollup.bucket, TagRollup.total).where(
            TagRollup.line_id == line.id,
            TagRollup.tag == WASHED_TAG,
            TagRollup.resolution == Resolution.DAY,
            TagRollup.bucket >= start,
            TagRollup.bucket < end,
        )
    ):
        washed[calendar.local_date(bucket)] = round(total * scale)
    cursor = session.get(CounterCursor, (line.id, WASHED_TAG))
    if cursor is not None and cursor.day == today:
        washed[today] = round(cursor.day_total * scale)
    return [
        PastDay(
            day=day,
            capacity=calendar.capacity_on(day),
            due=due.get(day, 0),
            washed=washed.get(day, 0),
            today=day == today,
            planned=planned_today if day == today else None,
        )
        for day in calendar.days(first, today)
    ]


def cups_due_by_day(session: Session, line_id: int, first: date, last: date) -> dict[date, int]:
    """The plan of past days: the wash cups of promised orders whose deadline fell on each day."""
    return {
        day: int(cups)
        for day, cups in session.execute(
            select(Order.wash_due_on, func.sum(Order.wash_cups))
            .where(
                Order.line_id == line_id,
                Order.status.in_(PROMISED_STATUSES),
                Order.wash_due_on >= first,
                Order.wash_due_on <= last,
            )
            .group_by(Order.wash_due_on)
        )
    }


def _local_midnight(day: date, calendar: LineCalendar) -> datetime:
    return bucket_start(
        datetime(day.year, day.month, day.day, 12, tzinfo=calendar.zone),
        Resolution.DAY,
        calendar.zone,
    )


def _counter_scale(register_map: RegisterMap | None) -> float:
    if register_map is None:
        return 1.0
    try:
        return register_map.tag(WASHED_TAG).scale
    except StopIteration:
        return 1.0
