"""Booking wash jobs into the line's days, earliest deadline first.

Cups are divisible and each day is a bucket of capacity, so filling each day with the released
jobs whose deadline comes first finds a schedule whenever one exists. That makes "does this order
fit?" an exact question: it fits if booking it beside every confirmed order leaves nobody late.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
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
    base = _Replay(merge_windows(base_jobs), calendar, first_day)
    release, due = calendar.wash_window(pickup_end)
    fits, free = _fits(base, release, due, cups)
    earliest = None
    if not fits and search_days:
        earliest = _earliest_pickup(base, pickup_end, cups, search_days)
    return Fit(
        fits=fits,
        release=release,
        due=due,
        cups=cups,
        free_in_window=free,
        shortfall=0 if fits else max(cups - free, 0),
        earliest_pickup=earliest,
    )


def merge_windows(jobs: list[WashJob]) -> list[WashJob]:
    """One job per wash window (release, due), its cups the sum of the jobs sharing it.

    Earliest deadline first serves jobs with the same due date in release order, so jobs that
    share both dates only ever share one queue place: merged, every day's load, the total
    shortfall and a new job's place in the queue stay as they were, and a season of thousands
    of orders re-books as a few hundred windows. The merged jobs are numbered from 0, never
    ``None`` (the id of the job being fitted).
    """
    cups: dict[tuple[date, date], int] = {}
    for job in jobs:
        if job.cups > 0:
            key = (job.release, job.due)
            cups[key] = cups.get(key, 0) + job.cups
    return [
        WashJob(number, release, due, total)
        for number, ((release, due), total) in enumerate(cups.items())
    ]


def _fits(base: _Replay, release: date, due: date, cups: int) -> tuple[bool, int]:
    calendar, first_day = base.calendar, base.first_day
    start = max(release, first_day)
    if due < start:
        return False, 0
    free = base.booking.free_between(start, due)
    if free >= cups:
        return True, free
    capacity = sum(calendar.capacity_on(day) for day in calendar.days(start, due))
    if capacity < cups:
        return False, free
    return base.fits_beside(release, due, cups), free


def _earliest_pickup(
    base: _Replay, pickup_end: datetime, cups: int, search_days: int
) -> date | None:
    for shift in range(1, search_days + 1):
        moved = pickup_end + timedelta(days=shift)
        release, due = base.calendar.wash_window(moved)
        if _fits(base, release, due, cups)[0]:
            return base.calendar.local_date(moved)
    return None


# --- re-booking with one more job, from where it changes anything -------------------------

_CANDIDATE = -1  # the queue key of the job being fitted; base jobs are keyed by position
_DAY = timedelta(days=1)


@dataclass
class _Queue:
    """Earliest-deadline-first state as a day begins: what is left of each released,
    unfinished job (by key), how many jobs were released, and how many cups went late."""

    left: dict[int, int]
    released: int
    late: int
    heap: list[tuple[date, float, int]] = field(default_factory=list)
    candidate_late: bool = False

    def copy(self) -> _Queue:
        return _Queue(dict(self.left), self.released, self.late)


class _Replay:
    """``book`` of the base jobs, with the state at the start of every day remembered.

    ``fits_beside`` books one more job exactly as ``book`` would with it in the list, but only
    over the days where that changes anything: before the job's release the schedule is the
    base one, and from the first day on which the state is back to the base one, so is the
    rest. Same answers as re-booking everything, at a fraction of the work.
    """

    def __init__(self, jobs: list[WashJob], calendar: LineCalendar, first_day: date) -> None:
        self.calendar = calendar
        self.first_day = first_day
        self.pending = sorted(
            (job for job in jobs if job.due >= first_day and job.cups > 0),
            key=lambda job: job.release,
        )
        self.releases = [job.release for job in self.pending]
        self.last_day = max((job.due for job in self.pending), default=first_day - _DAY)
        self.capacities: list[int] = []
        self.starts: list[_Queue] = []
        self.booking = Booking(calendar, first_day)
        self.shortfall = self._book_base()

    def _book_base(self) -> int:
        queue = _Queue({}, 0, 0)
        if not self.pending:
            return 0
        for index in range(self._day_count(self.last_day)):
            self.starts.append(queue.copy())
            used = self._book_day(queue, index)
            if used:
                self.booking.booked[self._day(index)] = used
        self.starts.append(queue.copy())
        return self._close(queue)

    def fits_beside(self, release: date, due: date, cups: int) -> bool:
        """``book`` with ``WashJob(None, release, due, cups)`` added: is nobody more late and
        the new job on time? (``release <= due`` and ``due >= first_day``.)"""
        admit = max((release - self.first_day).days, 0)
        start = min(admit, len(self.starts) - 1) if self.starts else admit
        queue = self.starts[start].copy() if self.starts else _Queue({}, 0, 0)
        self._heapify(queue)
        position = bisect_right(self.releases, release) - 0.5
        for index in range(start, self._day_count(max(self.last_day, due))):
            if index == admit:
                queue.left[_CANDIDATE] = cups
                heapq.heappush(queue.heap, (due, position, _CANDIDATE))
            elif index > admit and _CANDIDATE not in queue.left:
                settled = self._settled(queue, index)
                if settled is not None:
                    return settled <= self.shortfall
            self._book_day(queue, index)
            if queue.candidate_late or queue.late > self.shortfall:
                return False
        return self._close(queue) <= self.shortfall and not queue.candidate_late

    def _settled(self, queue: _Queue, index: int) -> int | None:
        """The final shortfall when the state is back to the base one at this day's start."""
        if index >= len(self.starts):
            return None
        base = self.starts[index]
        if queue.released != base.released or queue.left != base.left:
            return None
        return queue.late + self.shortfall - base.late

    def _book_day(self, queue: _Queue, index: int) -> int:
        day = self._day(index)
        while queue.released < len(self.pending) and self.releases[queue.released] <= day:
            job = self.pending[queue.released]
            queue.left[queue.released] = job.cups
            heapq.heappush(queue.heap, (job.due, queue.released, queue.released))
            queue.released += 1
        while queue.heap and queue.heap[0][0] < day:
            key = heapq.heappop(queue.heap)[2]
            queue.late += queue.left.pop(key)
            queue.candidate_late |= key == _CANDIDATE
        capacity = free = self._capacity(index)
        while free and queue.heap:
            key = queue.heap[0][2]
            take = min(free, queue.left[key])
            queue.left[key] -= take
            free -= take
            if not queue.left[key]:
                heapq.heappop(queue.heap)
                del queue.left[key]
        return capacity - free

    def _close(self, queue: _Queue) -> int:
        """Cups late once the days run out: what is left, released or not."""
        if _CANDIDATE in queue.left:
            queue.candidate_late = True
        unreleased = sum(job.cups for job in self.pending[queue.released :])
        return queue.late + sum(queue.left.values()) + unreleased

    def _heapify(self, queue: _Queue) -> None:
        queue.heap = [(self.pending[key].due, key, key) for key in queue.left]
        heapq.heapify(queue.heap)

    def _day_count(self, day: date) -> int:
        return (day - self.first_day).days + 1

    def _day(self, index: int) -> date:
        return self.first_day + timedelta(days=index)

    def _capacity(self, index: int) -> int:
        while len(self.capacities) <= index:
            self.capacities.append(self.calendar.capacity_on(self._day(len(self.capacities))))
        return self.capacities[index]
