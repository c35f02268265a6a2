"""Overall equipment effectiveness, summed then divided.

OEE = availability × performance × quality, where
- availability = run time / planned production time (planned stops such as breaks excluded),
- performance = ideal cycle time × total count / run time,
- quality = good count / total count.
Periods are combined by adding their times and counts and dividing once: averaging the
percentages of a short and a long shift would weigh them the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ZERO = timedelta(0)


@dataclass(frozen=True)
class OeeInputs:
    planned: timedelta
    run: timedelta
    total: int
    good: int
    ideal_cycle: timedelta

    def __post_init__(self) -> None:
        if min(self.planned, self.run) < ZERO or self.total < 0 or self.good < 0:
            raise ValueError("times and counts cannot be negative")
        if self.good > self.total:
            raise ValueError("more good cups than cups in total")
        if self.ideal_cycle <= ZERO:
            raise ValueError("the ideal cycle time must be positive")

    @property
    def availability(self) -> float | None:
        return self.run / self.planned if self.planned > ZERO else None

    @property
    def performance(self) -> float | None:
        return (self.ideal_cycle * self.total) / self.run if self.run > ZERO else None

    @property
    def quality(self) -> float | None:
        return self.good / self.total if self.total else None

    @property
    def oee(self) -> float | None:
        """Equal to ideal cycle × good / planned time; None without planned time."""
        return (self.ideal_cycle * self.good) / self.planned if self.planned > ZERO else None


def combine(periods: Iterable[OeeInputs]) -> OeeInputs:
    """Shifts into a day, days into a week: times and counts added, never percentages."""
    periods = list(periods)
    if not periods:
        raise ValueError("nothing to combine")
    cycles = {period.ideal_cycle for period in periods}
    if len(cycles) > 1:
        raise ValueError("periods with different ideal cycle times cannot be combined")
    return OeeInputs(
        planned=sum((p.planned for p in periods), ZERO),
        run=sum((p.run for p in periods), ZERO),
        total=sum(p.total for p in periods),
        good=sum(p.good for p in periods),
        ideal_cycle=cycles.pop(),
    )


def ideal_cycle_from_rate(cups_per_hour: int) -> timedelta:
    if cups_per_hour <= 0:
        raise ValueError("the rated speed must be positive")
    return timedelta(hours=1) / cups_per_hour


def production_day(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """A production day is the local calendar day: 23 or 25 hours long on DST changes."""
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return start.astimezone(UTC), end.astimezone(UTC)
