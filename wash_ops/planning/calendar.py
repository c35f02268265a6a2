"""The line's production days: which days wash, and how many cups each can take."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from wash_ops.config import Settings


@dataclass(frozen=True)
class LineCalendar:
    capacity_per_day: int
    working_days: frozenset[int]
    closed_dates: frozenset[date]
    shift_start_hour: float
    shift_end_hour: float
    zone: ZoneInfo
    turnaround_hours: int

    @classmethod
    def from_settings(cls, settings: Settings, capacity_per_day: int | None = None) -> LineCalendar:
        line = settings.line
        return cls(
            capacity_per_day=capacity_per_day or line.capacity_per_day,
            working_days=frozenset(line.working_days),
            closed_dates=frozenset(line.closed_dates),
            shift_start_hour=line.shift_start.hour + line.shift_start.minute / 60,
            shift_end_hour=line.shift_end.hour + line.shift_end.minute / 60,
            zone=settings.zone,
            turnaround_hours=settings.orders.turnaround_hours,
        )

    def is_open(self, day: date) -> bool:
        return day.isoweekday() in self.working_days and day not in self.closed_dates

    def capacity_on(self, day: date) -> int:
        return self.capacity_per_day if self.is_open(day) else 0

    def days(self, first: date, last: date) -> Iterator[date]:
        day = first
        while day <= last:
            yield day
            day += timedelta(days=1)

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def wash_window(self, pickup_end: datetime) -> tuple[date, date]:
        """First and last day on which an order's cups can be washed.

        Cups count for a day when they are in before its shift starts, and that day's shift ends
        before the turnaround promise runs out (pickup end + turnaround hours).
        """
        arrived = pickup_end.astimezone(self.zone)
        release = arrived.date()
        if _hours(arrived) > self.shift_start_hour:
            release += timedelta(days=1)
        deadline = (pickup_end + timedelta(hours=self.turnaround_hours)).astimezone(self.zone)
        due = deadline.date()
        if _hours(deadline) < self.shift_end_hour:
            due -= timedelta(days=1)
        return release, due


def _hours(moment: datetime) -> float:
    return moment.hour + moment.minute / 60 + moment.second / 3600
