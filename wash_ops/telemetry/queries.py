"""What the screens and the API ask of the telemetry: the line's status and a tag's series."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from wash_ops.errors import N_, InvalidInput
from wash_ops.telemetry.alarms import alarms_needing_attention
from wash_ops.telemetry.models import (
    Alarm,
    CounterCursor,
    LineLive,
    LineReading,
    Resolution,
    StatePeriod,
    TagRollup,
)
from wash_ops.telemetry.packml import PackMLState
from wash_ops.telemetry.register_map import RegisterMap, TagRole

MAX_POINTS = 1500
RESOLUTION_SECONDS = {None: 1, Resolution.MINUTE: 60, Resolution.HOUR: 3600, Resolution.DAY: 86400}
MAX_SPAN = timedelta(days=3 * 366)


@dataclass(frozen=True)
class LineStatus:
    state: PackMLState
    state_since: datetime | None
    stale: bool
    stale_reason: str
    last_reading_at: datetime | None
    values: dict[str, float]
    counters_today: dict[str, float]
    alarms: list[Alarm]


def line_status(
    session: Session,
    line_id: int,
    register_map: RegisterMap,
    now: datetime,
    stale_after: timedelta,
    zone: ZoneInfo,
) -> LineStatus:
    live = session.get(LineLive, line_id)
    today = {tag.name: 0.0 for tag in register_map.with_role(TagRole.COUNTER)}
    local_today = now.astimezone(zone).date()
    for cursor in session.scalars(select(CounterCursor).where(CounterCursor.line_id == line_id)):
        if cursor.tag in today and cursor.day == local_today:
            tag = register_map.tag(cursor.tag)
            today[cursor.tag] = cursor.day_total * tag.scale
    stale, reason = _staleness(live, now, stale_after)
    return LineStatus(
        state=PackMLState.UNDEFINED if stale or live is None else PackMLState.of(live.state or 0),
        state_since=live.state_since if live else None,
        stale=stale,
        stale_reason=reason,
        last_reading_at=live.last_good_at if live else None,
        values=dict(live.values or {}) if live else {},
        counters_today=today,
        alarms=alarms_needing_attention(session, line_id),
    )


def _staleness(live: LineLive | None, now: datetime, stale_after: timedelta) -> tuple[bool, str]:
    if live is None or live.last_good_at is None:
        return True, "no_data"
    if now - live.last_good_at > stale_after:
        return True, "no_readings"
    if live.heartbeat_changed_at is None or now - live.heartbeat_changed_at > stale_after:
        return True, "heartbeat_stopped"
    return False, ""


@dataclass(frozen=True)
class Point:
    at: datetime
    value: float
    minimum: float
    maximum: float


@dataclass(frozen=True)
class Series:
    tag: str
    unit: str
    resolution: str
    points: list[Point]


def choose_resolution(
    start: datetime, end: datetime, max_points: int = MAX_POINTS
) -> Resolution | None:
    """The finest resolution that gives at most ``max_points`` points (None: raw samples)."""
    span = (end - start).total_seconds()
    for resolution, seconds in RESOLUTION_SECONDS.items():
        if span / seconds <= max_points:
            return resolution
    return Resolution.DAY


def tag_series(
    session: Session,
    line_id: int,
    register_map: RegisterMap,
    tag_name: str,
    start: datetime,
    end: datetime,
    resolution: Resolution | str | None = "auto",
) -> Series:
    try:
        tag = register_map.tag(tag_name)
    except StopIteration:
        raise InvalidInput(N_("Unknown tag: %(tag)s."), "tag", tag=tag_name) from None
    if tag.role not in (TagRole.COUNTER, TagRole.GAUGE):
        raise InvalidInput(
            N_("Tag %(tag)s has no series; ask the status instead."), "tag", tag=tag_name
        )
    if end <= start:
        raise InvalidInput(N_("The end must come after the start."), "end")
    if end - start > MAX_SPAN:
        raise InvalidInput(N_("Ask for at most three years at a time."), "start")
    if resolution == "auto":
        chosen = choose_resolution(start, end)
    elif resolution == "raw" or resolution is None:
        chosen = None
    else:
        chosen = Resolution(resolution)
    if chosen is None and (end - start).total_seconds() > MAX_POINTS * 10:
        raise InvalidInput(
            N_("Raw samples come for a few hours at most; ask a roll-up."), "resolution"
        )
    scale = tag.scale if tag.role is TagRole.COUNTER else 1.0
    if chosen is None:
        points = _raw_points(session, line_id, tag.name, tag.role, start, end, scale)
    else:
        points = _rollup_points(session, line_id, tag.name, tag.role, chosen, start, end, scale)
    return Series(
        tag=tag.name, unit=tag.unit, resolution=chosen.value if chosen else "raw", points=points
    )


def _raw_points(
    session: Session,
    line_id: int,
    tag: str,
    role: TagRole,
    start: datetime,
    end: datetime,
    scale: float,
) -> list[Point]:
    column = LineReading.counted(tag) if role is TagRole.COUNTER else LineReading.gauge(tag)
    rows = session.execute(
        select(LineReading.at, column)
        .where(
            LineReading.line_id == line_id,
            column.is_not(None),
            LineReading.at >= start,
            LineReading.at < end,
        )
        .order_by(LineReading.at, LineReading.id)
    )
    return [Point(at, value * scale, value * scale, value * scale) for at, value in rows]


def _rollup_points(
    session: Session,
    line_id: int,
    tag: str,
    role: TagRole,
    resolution: Resolution,
    start: datetime,
    end: datetime,
    scale: float,
) -> list[Point]:
    rows = session.execute(
        select(
            TagRollup.bucket, TagRollup.count, TagRollup.total, TagRollup.minimum, TagRollup.maximum
        )
        .where(
            TagRollup.line_id == line_id,
            TagRollup.tag == tag,
            TagRollup.resolution == resolution,
            TagRollup.bucket >= start,
            TagRollup.bucket < end,
        )
        .order_by(TagRollup.bucket)
    )
    points = []
    for bucket, count, total, minimum, maximum in rows:
        if role is TagRole.COUNTER:
            points.append(Point(bucket, total * scale, minimum * scale, maximum * scale))
        else:
            points.append(Point(bucket, total / count, minimum, maximum))
    return points


def time_in_states(
    session: Session, line_id: int, start: datetime, end: datetime
) -> dict[PackMLState, timedelta]:
    """How long the line spent in each PackML state between start and end (an open period
    counts up to ``end``; undefined is time without fresh data)."""
    if end <= start:
        raise InvalidInput(N_("The end must come after the start."), "end")
    periods = session.execute(
        select(StatePeriod.state, StatePeriod.started_at, StatePeriod.ended_at).where(
            StatePeriod.line_id == line_id,
            StatePeriod.started_at < end,
            or_(StatePeriod.ended_at.is_(None), StatePeriod.ended_at > start),
        )
    )
    spent: dict[PackMLState, timedelta] = {}
    for state, started_at, ended_at in periods:
        overlap = min(ended_at or end, end) - max(started_at, start)
        if overlap > timedelta(0):
            key = PackMLState.of(state)
            spent[key] = spent.get(key, timedelta(0)) + overlap
    return spent
