"""Capacity questions asked of the database: does an order fit, and what is booked per day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wash_ops.catalogue.models import Line
from wash_ops.config import Settings
from wash_ops.orders.models import Order, OrderStatus
from wash_ops.planning.calendar import LineCalendar
from wash_ops.planning.capacity import Booking, Fit, WashJob, book, check_fit

BOOKED_STATUSES = (
    OrderStatus.CONFIRMED,
    OrderStatus.DELIVERED,
    OrderStatus.AT_EVENT,
    OrderStatus.PICKED_UP,
    OrderStatus.RECEIVED,
    OrderStatus.WASHING,
)


def calendar_for(settings: Settings, line: Line) -> LineCalendar:
    return LineCalendar.from_settings(settings, capacity_per_day=line.capacity_per_day)


def booked_jobs(
    session: Session, line_id: int, first_day: date, exclude_order_id: int | None = None
) -> list[WashJob]:
    """The wash jobs of every confirmed, not yet washed order still due on or after first_day."""
    query = select(Order.id, Order.wash_release_on, Order.wash_due_on, Order.wash_cups).where(
        Order.line_id == line_id,
        Order.status.in_(BOOKED_STATUSES),
        Order.wash_due_on >= first_day,
    )
    if exclude_order_id is not None:
        query = query.where(Order.id != exclude_order_id)
    return [WashJob(*row) for row in session.execute(query)]


def booked_windows(
    session: Session, line_id: int, first_day: date, exclude_order_id: int | None = None
) -> list[WashJob]:
    """The same booked cups as ``booked_jobs``, summed per wash window by the database.

    All the fit question needs (see ``merge_windows``): a season's thousands of orders come
    back as a few hundred rows.
    """
    query = (
        select(Order.wash_release_on, Order.wash_due_on, func.sum(Order.wash_cups))
        .where(
            Order.line_id == line_id,
            Order.status.in_(BOOKED_STATUSES),
            Order.wash_due_on >= first_day,
            Order.wash_cups > 0,
        )
        .group_by(Order.wash_release_on, Order.wash_due_on)
    )
    if exclude_order_id is not None:
        query = query.where(Order.id != exclude_order_id)
    return [
        WashJob(number, release, due, int(cups))
        for number, (release, due, cups) in enumerate(session.execute(query))
    ]


def fit_of(
    session: Session,
    settings: Settings,
    line: Line,
    pickup_end: datetime,
    cups: int,
    now: datetime,
    exclude_order_id: int | None = None,
    search: bool = True,
) -> Fit:
    calendar = calendar_for(settings, line)
    today = calendar.local_date(now)
    jobs = booked_windows(session, line.id, today, exclude_order_id)
    search_days = settings.orders.horizon_days if search else 0
    return check_fit(jobs, calendar, today, pickup_end, cups, search_days)


def fit_of_order(
    session: Session, settings: Settings, order: Order, now: datetime, search: bool = True
) -> Fit:
    return fit_of(
        session, settings, order.line, order.pickup_end, order.wash_cups, now, order.id, search
    )


@dataclass(frozen=True)
class DayLoad:
    day: date
    capacity: int
    booked: int
    orders: tuple[tuple[int, int], ...]

    @property
    def open(self) -> bool:
        return self.capacity > 0

    @property
    def free(self) -> int:
        return self.capacity - self.booked

    @property
    def percent(self) -> int:
        return round(100 * self.booked / self.capacity) if self.capacity else 0


@dataclass(frozen=True)
class CalendarView:
    days: list[DayLoad]
    late: dict[int | None, int]


def booking_calendar(
    session: Session, settings: Settings, line: Line, now: datetime, weeks: int
) -> CalendarView:
    """Booked cups against capacity per day, from today over the coming weeks."""
    calendar = calendar_for(settings, line)
    today = calendar.local_date(now)
    booking: Booking = book(
        booked_jobs(session, line.id, today), calendar, today, keep_allocations=True
    )
    per_day: dict[date, list[tuple[int, int]]] = {}
    for order_id, slots in (booking.allocations or {}).items():
        for day, cups in slots.items():
            per_day.setdefault(day, []).append((order_id or 0, cups))
    last = today + timedelta(days=7 * weeks - 1)
    days = [
        DayLoad(
            day=day,
            capacity=calendar.capacity_on(day),
            booked=booking.booked.get(day, 0),
            orders=tuple(sorted(per_day.get(day, []))),
        )
        for day in calendar.days(today, last)
    ]
    return CalendarView(days=days, late=booking.late)
