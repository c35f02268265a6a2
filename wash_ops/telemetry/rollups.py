"""Minute, hour and day roll-ups, and the retention of raw data.

Each run recomputes whole buckets from their source, so it is idempotent, and it starts from
where the last run stopped (less a look-back for late data), so it catches up after downtime.
Days are the site's local calendar days (23 or 25 hours around DST changes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from wash_ops.telemetry.models import LineReading, Resolution, RollupCursor, TagRollup

LOOK_BACK = {
    Resolution.MINUTE: timedelta(minutes=5),
    Resolution.HOUR: timedelta(hours=1),
    Resolution.DAY: timedelta(days=1),
}
CHUNK = {
    Resolution.MINUTE: timedelta(hours=6),
    Resolution.HOUR: timedelta(days=7),
    Resolution.DAY: timedelta(days=92),
}
SOURCE = {Resolution.HOUR: Resolution.MINUTE, Resolution.DAY: Resolution.HOUR}


@dataclass
class Aggregate:
    count: int
    total: float
    minimum: float
    maximum: float
    last: float

    @classmethod
    def of(cls, value: float) -> Aggregate:
        return cls(1, value, value, value, value)

    def add(self, other: Aggregate) -> None:
        self.count += other.count
        self.total += other.total
        self.minimum = min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        self.last = other.last


def bucket_start(moment: datetime, resolution: Resolution, zone: ZoneInfo) -> datetime:
    moment = moment.astimezone(UTC)
    if resolution is Resolution.MINUTE:
        return moment.replace(second=0, microsecond=0)
    if resolution is Resolution.HOUR:
        return moment.replace(minute=0, second=0, microsecond=0)
    local = moment.astimezone(zone)
    return datetime(local.year, local.month, local.day, tzinfo=zone).astimezone(UTC)


def roll_up(session: Session, line_id: int, now: datetime, zone: ZoneInfo) -> dict[Resolution, int]:
    """Bring minute, then hour, then day roll-ups up to the last complete bucket before now."""
    return {resolution: _roll(session, line_id, resolution, now, zone) for resolution in Resolution}


def _roll(
    session: Session, line_id: int, resolution: Resolution, now: datetime, zone: ZoneInfo
) -> int:
    cursor = session.get(RollupCursor, (line_id, resolution))
    end = bucket_start(now, resolution, zone)
    start = _first_bucket(session, line_id, resolution, zone, cursor)
    if start is None or start >= end:
        return 0
    written = 0
    while start < end:
        stop = min(end, bucket_start(start + CHUNK[resolution], resolution, zone))
        if stop <= start:
            stop = end
        written += _rewrite(session, line_id, resolution, start, stop, zone)
        start = stop
    if cursor is None:
        session.add(RollupCursor(line_id=line_id, resolution=resolution, done_until=end))
    else:
        cursor.done_until = end
    session.flush()
    return written


def _first_bucket(
    session: Session,
    line_id: int,
    resolution: Resolution,
    zone: ZoneInfo,
    cursor: RollupCursor | None,
) -> datetime | None:
    if cursor is not None:
        return bucket_start(cursor.done_until - LOOK_BACK[resolution], resolution, zone)
    earliest = [
        moment for moment in _earliest_sources(session, line_id, resolution) if moment is not None
    ]
    return bucket_start(min(earliest), resolution, zone) if earliest else None


def _earliest_sources(
    session: Session, line_id: int, resolution: Resolution
) -> Iterable[datetime | None]:
    if resolution is Resolution.MINUTE:
        yield session.scalar(
            select(LineReading.at)
            .where(LineReading.line_id == line_id)
            .order_by(LineReading.at)
            .limit(1)
        )
    else:
        yield session.scalar(
            select(TagRollup.bucket)
            .where(TagRollup.line_id == line_id, TagRollup.resolution == SOURCE[resolution])
            .order_by(TagRollup.bucket)
            .limit(1)
        )


def _rewrite(
    session: Session,
    line_id: int,
    resolution: Resolution,
    start: datetime,
    stop: datetime,
    zone: ZoneInfo,
) -> int:
    buckets: dict[tuple[str, datetime], Aggregate] = {}
    for tag, moment, aggregate in _source_rows(session, line_id, resolution, start, stop):
        key = (tag, bucket_start(moment, resolution, zone))
        if key in buckets:
            buckets[key].add(aggregate)
        else:
            buckets[key] = aggregate
    session.execute(
        delete(TagRollup).where(
            TagRollup.line_id == line_id,
            TagRollup.resolution == resolution,
            TagRollup.bucket >= start,
            TagRollup.bucket < stop,
        )
    )
    if buckets:  # Core executemany: a day of minute buckets is thousands of rows
        session.execute(
            insert(TagRollup.__table__),
            [
                {
                    "line_id": line_id,
                    "tag": tag,
                    "resolution": resolution,
                    "bucket": bucket,
                    "count": a.count,
                    "total": a.total,
                    "minimum": a.minimum,
                    "maximum": a.maximum,
                    "last": a.last,
                }
                for (tag, bucket), a in buckets.items()
            ],
        )
    return len(buckets)


def _source_rows(
    session: Session, line_id: int, resolution: Resolution, start: datetime, stop: datetime
) -> Iterable[tuple[str, datetime, Aggregate]]:
    if resolution is Resolution.MINUTE:
        readings = session.execute(
            select(LineReading.at, LineReading.gauges, LineReading.counts)
            .where(LineReading.line_id == line_id, LineReading.at >= start, LineReading.at < stop)
            .order_by(LineReading.at, LineReading.id)
        )
        for at, gauges, counts in readings:
            for tag, value in gauges.items():
                yield tag, at, Aggregate.of(value)
            for tag, delta in counts.items():
                yield tag, at, Aggregate.of(float(delta))
        return
    rows = session.execute(
        select(
            TagRollup.tag,
            TagRollup.bucket,
            TagRollup.count,
            TagRollup.total,
            TagRollup.minimum,
            TagRollup.maximum,
            TagRollup.last,
        )
        .where(
            TagRollup.line_id == line_id,
            TagRollup.resolution == SOURCE[resolution],
            TagRollup.bucket >= start,
            TagRollup.bucket < stop,
        )
        .order_by(TagRollup.bucket)
    )
    for tag, bucket, count, total, minimum, maximum, last in rows:
        yield tag, bucket, Aggregate(count, total, minimum, maximum, last)


def prune_raw(session: Session, line_id: int, now: datetime, keep_days: int) -> int:
    """Delete raw readings older than ``keep_days`` that are already rolled up."""
    cutoff = now - timedelta(days=keep_days)
    rolled = session.get(RollupCursor, (line_id, Resolution.MINUTE))
    if rolled is None:
        return 0
    cutoff = min(cutoff, rolled.done_until - LOOK_BACK[Resolution.MINUTE])
    result = session.execute(
        delete(LineReading).where(LineReading.line_id == line_id, LineReading.at < cutoff)
    )
    return result.rowcount or 0
