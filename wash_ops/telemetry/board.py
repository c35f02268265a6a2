"""What the supervisor's line screen shows: cups today against the day, rates, alarms, gauges.

Everything here is computed from stored telemetry for a given ``now``, so the screen's live
update and a test ask the same question and get the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from wash_ops.config import Settings
from wash_ops.telemetry.models import Alarm, LineReading
from wash_ops.telemetry.packml import PackMLState
from wash_ops.telemetry.queries import LineStatus
from wash_ops.telemetry.readings import counted_sum
from wash_ops.telemetry.register_map import RegisterMap, Severity

RATE_WINDOW = timedelta(minutes=5)
PROJECTION_WINDOW = timedelta(hours=1)
FLOOD_WINDOW = timedelta(minutes=10)
FLOOD_COUNT = 10
HOUR = timedelta(hours=1)
WASHED = "cups_washed"
REJECTED = "cups_rejected"


@dataclass(frozen=True)
class Gauge:
    """A measured value against a limit; ``ok`` is None when there is no value or no limit."""

    tag: str
    value: float | None
    limit: float | None
    unit: str

    @property
    def ok(self) -> bool | None:
        if self.value is None or self.limit is None:
            return None
        return self.value >= self.limit


@dataclass(frozen=True)
class AlarmGroup:
    """Alarms of one code during a flood: one row with a count instead of a wall of rows."""

    code: str
    severity: str
    count: int
    active: int
    newest_at: datetime
    unacknowledged_ids: tuple[int, ...]


@dataclass(frozen=True)
class ShiftClock:
    starts_at: datetime
    ends_at: datetime
    open_today: bool

    def remaining(self, now: datetime) -> timedelta:
        if now >= self.ends_at:
            return timedelta(0)
        return self.ends_at - max(now, self.starts_at)


@dataclass(frozen=True)
class LineBoard:
    at: datetime
    status: LineStatus
    capacity: int
    plan: int
    cups_today: int
    rejected_today: int
    rate_now: int
    rate_last_hour: int
    shift: ShiftClock
    alarms: list[Alarm]
    flood: bool
    alarm_groups: list[AlarmGroup]
    wash: Gauge
    rinse: Gauge
    detergent: Gauge

    @property
    def state(self) -> PackMLState:
        return self.status.state

    @property
    def percent_of_capacity(self) -> int:
        return round(100 * self.cups_today / self.capacity) if self.capacity else 0

    @property
    def rate_needed(self) -> int | None:
        """Cups per hour from now to the shift's end to reach the day's plan; None after it."""
        left = self.shift.remaining(self.at)
        if left <= timedelta(0):
            return None
        return max(round((self.plan - self.cups_today) / (left / HOUR)), 0)

    @property
    def projection(self) -> int:
        """Cups by the end of the shift at the rate of the last hour (breaks included)."""
        left = self.shift.remaining(self.at)
        return self.cups_today + round(self.rate_last_hour * (left / HOUR))

    @property
    def on_track(self) -> bool | None:
        if self.rate_needed is None:
            return None
        return self.projection >= self.plan


def line_board(
    session: Session,
    settings: Settings,
    register_map: RegisterMap,
    line_id: int,
    status: LineStatus,
    capacity: int,
    plan: int,
    now: datetime,
) -> LineBoard:
    """The line screen's figures; ``status`` is queries.line_status at ``now``, ``capacity`` the
    day's capacity (0 on a closed day) and ``plan`` the cups booked for washing today."""
    washed_scale = register_map.tag(WASHED).scale
    return LineBoard(
        at=now,
        status=status,
        capacity=capacity,
        plan=plan,
        cups_today=round(status.counters_today.get(WASHED, 0)),
        rejected_today=round(status.counters_today.get(REJECTED, 0)),
        rate_now=_rate(session, line_id, now, RATE_WINDOW, washed_scale),
        rate_last_hour=_rate(session, line_id, now, PROJECTION_WINDOW, washed_scale),
        shift=shift_clock(settings, now, capacity > 0),
        alarms=status.alarms,
        flood=is_flood(status.alarms, now),
        alarm_groups=group_alarms(status.alarms),
        wash=_gauge(status, register_map, settings.hygiene.wash_tag, settings.hygiene.wash_min_c),
        rinse=_gauge(
            status, register_map, settings.hygiene.rinse_tag, settings.hygiene.rinse_min_c
        ),
        detergent=_gauge(status, register_map, "detergent_level", settings.line.detergent_low_pct),
    )


def shift_clock(settings: Settings, now: datetime, open_today: bool) -> ShiftClock:
    local = now.astimezone(settings.zone)
    starts = datetime.combine(local.date(), settings.line.shift_start, settings.zone)
    ends = datetime.combine(local.date(), settings.line.shift_end, settings.zone)
    return ShiftClock(starts_at=starts, ends_at=ends, open_today=open_today)


def is_flood(alarms: list[Alarm], now: datetime) -> bool:
    """More than FLOOD_COUNT alarms raised in the last FLOOD_WINDOW."""
    recent = sum(1 for alarm in alarms if now - alarm.raised_at <= FLOOD_WINDOW)
    return recent > FLOOD_COUNT


def group_alarms(alarms: list[Alarm]) -> list[AlarmGroup]:
    """Alarms per code, most severe then newest first (the order of the list they come in)."""
    groups: dict[str, list[Alarm]] = {}
    for alarm in alarms:
        groups.setdefault(alarm.code, []).append(alarm)
    result = [
        AlarmGroup(
            code=code,
            severity=members[0].severity,
            count=len(members),
            active=sum(1 for alarm in members if alarm.active),
            newest_at=max(alarm.raised_at for alarm in members),
            unacknowledged_ids=tuple(alarm.id for alarm in members if not alarm.acknowledged),
        )
        for code, members in groups.items()
    ]
    return sorted(
        result, key=lambda group: (Severity(group.severity).rank, -group.newest_at.timestamp())
    )


def _rate(session: Session, line_id: int, now: datetime, window: timedelta, scale: float) -> int:
    added = counted_sum(
        session, line_id, WASHED, LineReading.at > now - window, LineReading.at <= now
    )
    return round(added * scale * (HOUR / window))


def _gauge(
    status: LineStatus, register_map: RegisterMap, tag_name: str, limit: float | None
) -> Gauge:
    try:
        unit = register_map.tag(tag_name).unit
    except StopIteration:
        return Gauge(tag_name, None, limit, "")
    value = None if status.stale else status.values.get(tag_name)
    return Gauge(tag_name, value, limit, unit)
