"""What the line measured and counted during a stretch of time: the temperature record of a
tag against its limit, and the sum of a counter's increments.

A temperature reading holds until the next one, but never longer than ``max_gap`` (the point
where the line's data counts as stale). Time that no reading covers counts as time below the
limit: a batch cannot show it was hot enough when nobody measured. The reading just before the
batch started covers its first moments. The sums run in the database (a window over the batch's
samples) so that a batch of a whole shift costs one query per tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Float, case, cast, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from wash_ops.db import UTCDateTime
from wash_ops.telemetry.models import CounterIncrement, TagSample


@dataclass(frozen=True)
class TemperatureRecord:
    """A tag over a stretch of time against its limit (°C, seconds)."""

    limit_c: float
    lowest_c: float | None
    highest_c: float | None
    seconds_below: float
    latest_c: float | None
    latest_at: datetime | None

    @property
    def measured(self) -> bool:
        return self.lowest_c is not None

    def passes(self, max_seconds_below: float) -> bool:
        return self.measured and self.seconds_below <= max_seconds_below


def temperature_record(
    session: Session,
    line_id: int,
    tag: str,
    start: datetime,
    end: datetime,
    limit_c: float,
    max_gap: timedelta,
) -> TemperatureRecord:
    """The lowest and highest reading of ``tag`` on the line from ``start`` to ``end``, and the
    seconds spent below ``limit_c`` (uncovered time included)."""
    gap = max_gap.total_seconds()
    window = (
        select(
            TagSample.at.label("at"),
            TagSample.value.label("value"),
            func.lead(TagSample.at).over(order_by=TagSample.at).label("next_at"),
        )
        .where(
            TagSample.line_id == line_id,
            TagSample.tag == tag,
            TagSample.at > start,
            TagSample.at <= end,
        )
        .subquery()
    )
    held = _seconds_between(
        session, window.c.at, func.coalesce(window.c.next_at, literal(end, UTCDateTime))
    )
    capped = case((held > gap, gap), else_=held)
    row = session.execute(
        select(
            func.count(),
            func.min(window.c.value),
            func.max(window.c.value),
            func.min(window.c.at),
            func.sum(case((window.c.value < limit_c, capped), else_=0.0)),
            func.sum(case((held > gap, held - gap), else_=0.0)),
        )
    ).one()
    count, lowest, highest, first_at, below, uncovered = row
    below, uncovered = float(below or 0.0), float(uncovered or 0.0)
    carried = _reading_at(session, line_id, tag, start)
    head_end = first_at if count else end
    head = (head_end - start).total_seconds()
    covered = 0.0
    if carried is not None:
        covered = max(0.0, min(head, (carried.at + max_gap - start).total_seconds()))
        if covered > 0:
            lowest = carried.value if lowest is None else min(lowest, carried.value)
            highest = carried.value if highest is None else max(highest, carried.value)
            if carried.value < limit_c:
                below += covered
    uncovered += head - covered
    latest = _reading_at(session, line_id, tag, end)
    return TemperatureRecord(
        limit_c=limit_c,
        lowest_c=None if lowest is None else float(lowest),
        highest_c=None if highest is None else float(highest),
        # Milliseconds: the databases' date arithmetic is exact to well within that.
        seconds_below=round(below + uncovered, 3),
        latest_c=None if latest is None else latest.value,
        latest_at=None if latest is None else latest.at,
    )


def counter_total(
    session: Session, line_id: int, tag: str, start: datetime, end: datetime | None
) -> int:
    """What a counter added after ``start`` up to and including ``end`` (no end: up to now)."""
    query = select(func.coalesce(func.sum(CounterIncrement.delta), 0)).where(
        CounterIncrement.line_id == line_id,
        CounterIncrement.tag == tag,
        CounterIncrement.at > start,
    )
    if end is not None:
        query = query.where(CounterIncrement.at <= end)
    return int(session.scalar(query) or 0)


@dataclass(frozen=True)
class _Reading:
    at: datetime
    value: float


def _reading_at(session: Session, line_id: int, tag: str, moment: datetime) -> _Reading | None:
    """The last reading at or before ``moment``."""
    row = session.execute(
        select(TagSample.at, TagSample.value)
        .where(TagSample.line_id == line_id, TagSample.tag == tag, TagSample.at <= moment)
        .order_by(TagSample.at.desc())
        .limit(1)
    ).first()
    return None if row is None else _Reading(row.at, float(row.value))


def _seconds_between(session: Session, early, late) -> ColumnElement[float]:
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", late - early), Float)
    return (func.julianday(late) - func.julianday(early)) * 86400.0
