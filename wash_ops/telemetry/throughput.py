"""Cups per hour today against the target, and the last days against capacity, with the water
and energy used per 1,000 cups. Complete hours and days come from the roll-ups; the hour still
running comes from the raw increments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from wash_ops.config import Settings
from wash_ops.planning.calendar import LineCalendar
from wash_ops.telemetry.models import LineReading, Resolution, TagRollup
from wash_ops.telemetry.oee import production_day
from wash_ops.telemetry.readings import counted_sum
from wash_ops.telemetry.register_map import RegisterMap

HOUR = timedelta(hours=1)
WASHED = "cups_washed"
RESOURCES = ("water", "energy")


@dataclass(frozen=True)
class HourPoint:
    starts_at: datetime
    cups: int
    target: int


@dataclass(frozen=True)
class DayPoint:
    day: date
    cups: int
    capacity: int
    water: float | None
    energy: float | None
    due: int = 0

    def per_thousand(self, amount: float | None) -> float | None:
        if amount is None or not self.cups:
            return None
        return 1000 * amount / self.cups

    @property
    def water_per_thousand(self) -> float | None:
        return self.per_thousand(self.water)

    @property
    def energy_per_thousand(self) -> float | None:
        return self.per_thousand(self.energy)


def hours_today(
    session: Session,
    settings: Settings,
    register_map: RegisterMap,
    line_id: int,
    plan: int,
    now: datetime,
) -> list[HourPoint]:
    """Each hour of today's shift up to now; the target spreads the day's plan evenly."""
    local = now.astimezone(settings.zone)
    starts = datetime.combine(local.date(), settings.line.shift_start, settings.zone)
    ends = datetime.combine(local.date(), settings.line.shift_end, settings.zone)
    shift_hours = (ends - starts) / HOUR
    target = round(plan / shift_hours) if shift_hours else 0
    scale = register_map.tag(WASHED).scale
    rolled = _rollups(session, line_id, WASHED, Resolution.HOUR, starts, min(ends, now))
    points = []
    hour = starts
    while hour < min(ends, now):
        key = hour.astimezone(UTC)
        if key in rolled:
            cups = rolled[key]
        else:
            cups = _raw_sum(session, line_id, WASHED, hour, min(hour + HOUR, now))
        points.append(HourPoint(hour, round(cups * scale), target))
        hour += HOUR
    return points


def last_days(
    session: Session,
    settings: Settings,
    register_map: RegisterMap,
    line_id: int,
    calendar: LineCalendar,
    cups_today: int,
    now: datetime,
    days: int = 14,
    due: Mapping[date, int] | None = None,
) -> list[DayPoint]:
    """The last ``days`` local days up to today; today's cups come from the live counter.
    ``due`` is the plan per day (the cups promised washed by the end of it), when known."""
    today = now.astimezone(settings.zone).date()
    first = today - timedelta(days=days - 1)
    start, _ = production_day(first, settings.zone)
    _, end = production_day(today, settings.zone)
    series = {
        tag: _rollups(session, line_id, tag, Resolution.DAY, start, end)
        for tag in (WASHED, *RESOURCES)
        if _has_tag(register_map, tag)
    }
    points = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        key = production_day(day, settings.zone)[0]
        cups = series[WASHED].get(key)
        if day == today:
            cups = cups_today
        points.append(
            DayPoint(
                day=day,
                cups=round((cups or 0) * (1 if day == today else _scale(register_map, WASHED))),
                capacity=calendar.capacity_on(day),
                water=_scaled(series.get("water", {}).get(key), register_map, "water"),
                energy=_scaled(series.get("energy", {}).get(key), register_map, "energy"),
                due=(due or {}).get(day, 0),
            )
        )
    return points


def _rollups(
    session: Session,
    line_id: int,
    tag: str,
    resolution: Resolution,
    start: datetime,
    end: datetime,
) -> dict[datetime, float]:
    rows = session.execute(
        select(TagRollup.bucket, TagRollup.total).where(
            TagRollup.line_id == line_id,
            TagRollup.tag == tag,
            TagRollup.resolution == resolution,
            TagRollup.bucket >= start,
            TagRollup.bucket < end,
        )
    )
    return {bucket.astimezone(UTC): total for bucket, total in rows}


def _raw_sum(session: Session, line_id: int, tag: str, start: datetime, end: datetime) -> float:
    return float(counted_sum(session, line_id, tag, LineReading.at >= start, LineReading.at < end))


def _has_tag(register_map: RegisterMap, name: str) -> bool:
    return any(tag.name == name for tag in register_map.tags)


def _scale(register_map: RegisterMap, name: str) -> float:
    return register_map.tag(name).scale


def _scaled(total: float | None, register_map: RegisterMap, name: str) -> float | None:
    if total is None or not _has_tag(register_map, name):
        return None
    return total * _scale(register_map, name)
