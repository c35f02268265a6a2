"""One tag out of the stored readings (``LineReading``): what a counter added over a stretch
of time, and a gauge's values."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from wash_ops.telemetry.models import LineReading


def counted_sum(session: Session, line_id: int, tag: str, *window: ColumnElement[bool]) -> int:
    """What the counter added at the readings that meet ``window`` (conditions on
    ``LineReading.at``)."""
    total = session.scalar(
        select(func.coalesce(func.sum(LineReading.counted(tag)), 0)).where(
            LineReading.line_id == line_id, *window
        )
    )
    return int(total or 0)


def gauge_values(
    session: Session, line_id: int, tag: str, *window: ColumnElement[bool]
) -> list[tuple[datetime, float]]:
    """The gauge's (time, value) at the readings that meet ``window`` and hold it, in time
    order."""
    value = LineReading.gauge(tag)
    rows = session.execute(
        select(LineReading.at, value)
        .where(LineReading.line_id == line_id, value.is_not(None), *window)
        .order_by(LineReading.at, LineReading.id)
    )
    return [(at, float(found)) for at, found in rows]
