"""Booking wash jobs into the line's days, earliest deadline first.

Cups are divisible and each day is a bucket of capacity, so filling each day with the released
jobs whose deadline comes first finds a schedule whenever one exists. That makes "does this order
fit?" an exact question: it fits if booking it beside every confirmed order leaves nobody late.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from wash_ops.planning.calendar import LineCalendar


@dataclass(frozen=True)
class WashJob:
    order_id: int | None
    release: date
    due: date
    cups: int


@dataclass
class Booking:
    calendar: LineCalendar
    first_day: date
    booked: dict[date, int] = field(default_factory=dict)
    late: dict[int | None, int] = field(default_factory=dict)
    allocations: dict[int | None, dict[date, int]] | None = None

    @property
    def shortfall(self) -> int:
        return sum(self.late.values())

    def free_on(self, day: date) -> int:
        if day < self.first_day:
            return 0
        return self.calendar.capacity_on(day) - self.booked.get(day, 0)

    def free_between(self, first: date, last: date) -> int:
        return sum(
            self.free_on(day) for day in self.calendar.days(max(first, self.first_day), last)
        )


def book(
    jobs: list[WashJob],
    calendar: LineCalendar,
    first_day: date,
    keep_allocations: bool = False,
) -> Booking:
    """Fill the days from ``first_day`` on, earliest deadline first; report what is late."""
    result = Booking(calendar, first_day, allocations={} if keep_allocations else None)
    pending = sorted(
        (job for job in jobs if job.due >= first_day and job.cups > 0),
        key=lambda job: job.release,
    )
    if not pending:
        return result
    last_day = max(job.due for job in pending)
    remaining = [job.cups for job in pending]
    ready: list[tuple[date, int]] = []
    next_job = 0
    for day in calendar.days(first_day, last_day):
        while next_job < len(pending) and pending[next_job].release <= day:
            heapq.heappush(ready, (pending[next_job].due, next_job))
            next_job += 1
        free = calendar.capacity_on(day)
        while ready and ready[0][0] < day:
            _, index = heapq.heappop(ready)
            result.late[pending[index].order_id] = remaining[index]
        while free and ready:
            index = ready[0][1]
            take = min(free, remaining[index])
            remaining[index] -= take
            free -= take
            if result.allocations is not None:
                slots = result.allocations.setdefault(pending[index].order_id, {})
                slots[day] = take
            if not remaining[index]:
                heapq.heappop(ready)
        used = calendar.capacity_on(day) - free
        if used:
            result.booked[day] = used
    for _, index in ready:
        result.late[pending[index].order_id] = remaining[index]
    for index in range(next_job, len(pending)):
        result.late[pending[index].order_id] = remaining[index]
    return result


@dataclass(frozen=True)
class Fit:
    fits: bool
    release: date
    due: date
    cups: int
    free_in_window: int
    shortfall: int
    earliest_pickup: date | None = None


def check_fit(
    base_jobs: list[WashJob],
    calendar: LineCalendar,
    first_day: date,
    pickup_end: datetime,
    cups: int,
    search_days: int = 0,
) -> Fit:
    """Would ``cups`` picked up at ``pickup_end`` be washed in time beside ``base_jobs``?

    When they would not and ``search_days`` is given, also find the earliest later pickup date
    (same time of day) at which they would.
    """
    base = book(base_jobs, calendar, first_day)
    release, due = calendar.wash_window(pickup_end)
    fits, free = _fits(base, base_jobs, calendar, first_day, release, due, cups)
    earliest = None
    if not fits and search_days:
        earliest = _earliest_pickup(
            base, base_jobs, calendar, first_day, pickup_end, cups, search_days
        )
    return Fit(
        fits=fits,
        release=release,
        due=due,
        cups=cups,
        free_in_window=free,
        shortfall=0 if fits else max(cups - free, 0),
        earliest_pickup=earliest,
    )


def _fits(
    base: Booking,
    base_jobs: list[WashJob],
    calendar: LineCalendar,
    first_day: date,
    release: date,
    due: date,
    cups: int,
) -> tuple[bool, int]:
    start = max(release, first_day)
    if due < start:
        return False, 0
    free = base.free_between(start, due)
    if free >= cups:
        return True, free
    capacity = sum(calendar.capacity_on(day) for day in calendar.days(start, due))
    if capacity < cups:
        return False, free
    with_candidate = book([*base_jobs, WashJob(None, release, due, cups)], calendar, first_day)
    return with_candidate.shortfall <= base.shortfall and None not in with_candidate.late, free


def _earliest_pickup(
    base: Booking,
    base_jobs: list[WashJob],
    calendar: LineCalendar,
    first_day: date,
    pickup_end: datetime,
    cups: int,
    search_days: int,
) -> date | None:
    for shift in range(1, search_days + 1):
        moved = pickup_end + timedelta(days=shift)
        release, due = calendar.wash_window(moved)
        if _fits(base, base_jobs, calendar, first_day, release, due, cups)[0]:
            return calendar.local_date(moved)
    return None
