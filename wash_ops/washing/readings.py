"""What the line measured and counted during a stretch of time: the temperature record of a
tag against its limit, and the sum of a counter's increments.

A temperature reading holds until the next one, but never longer than ``max_gap`` (the point
where the line's data counts as stale). Time that no reading covers counts as time below the
limit: a batch cannot show it was hot enough when nobody measured. The reading just before the
batch started covers its first moments.

The record is a fold over the readings in time order (``_Fold``). Ending a batch folds every
reading of the batch. The line screen asks for the record of the running batch every couple of
seconds; for it, ``LiveRecords`` keeps the fold of each running batch up to a settled moment
(``SETTLE`` before the last request: readings that old have arrived) and folds only the readings
after it, so a batch of a whole shift costs the same as one of a minute. The cache holds facts
about the past only; the record written when the batch ends never uses it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from wash_ops.telemetry.models import LineReading
from wash_ops.telemetry.readings import counted_sum, gauge_values

SETTLE = timedelta(seconds=30)


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


@dataclass(frozen=True)
class _Reading:
    at: datetime
    value: float


@dataclass(frozen=True)
class _Fold:
    """The record from the batch's start up to ``until``; ``last`` is the reading holding then."""

    limit_c: float
    gap: timedelta
    until: datetime
    last: _Reading | None = None
    lowest: float | None = None
    highest: float | None = None
    below: float = 0.0
    uncovered: float = 0.0

    @classmethod
    def begin(
        cls, start: datetime, carried: _Reading | None, limit_c: float, gap: timedelta
    ) -> _Fold:
        fold = cls(limit_c=limit_c, gap=gap, until=start, last=carried)
        if carried is not None and carried.at + gap > start:
            fold = fold._seen(carried.value)
        return fold

    def advance(self, readings: list[_Reading], to: datetime) -> _Fold:
        """Fold in readings after ``until`` up to ``to`` (in time order), then hold to ``to``.
        Written with plain locals: a batch of a shift folds some 30,000 readings a tag."""
        until, last, lowest, highest = self.until, self.last, self.lowest, self.highest
        below, uncovered = self.below, self.uncovered
        gap, limit = self.gap.total_seconds(), self.limit_c
        for reading in [*readings, None]:
            at = to if reading is None else reading.at
            if at <= until or at > to:
                continue
            span = (at - until).total_seconds()
            covered = 0.0
            if last is not None:
                covered = min(span, max(0.0, (last.at - until).total_seconds() + gap))
                if last.value < limit:
                    below += covered
            uncovered += span - covered
            until = at
            if reading is not None:
                last = reading
                lowest = reading.value if lowest is None else min(lowest, reading.value)
                highest = reading.value if highest is None else max(highest, reading.value)
        return replace(
            self,
            until=until,
            last=last,
            lowest=lowest,
            highest=highest,
            below=below,
            uncovered=uncovered,
        )

    def record(self) -> TemperatureRecord:
        return TemperatureRecord(
            limit_c=self.limit_c,
            lowest_c=self.lowest,
            highest_c=self.highest,
            # Milliseconds: sums of microsecond timestamps, without float noise.
            seconds_below=round(self.below + self.uncovered, 3),
            latest_c=None if self.last is None else self.last.value,
            latest_at=None if self.last is None else self.last.at,
        )

    def _seen(self, value: float) -> _Fold:
        return replace(
            self,
            lowest=value if self.lowest is None else min(self.lowest, value),
            highest=value if self.highest is None else max(self.highest, value),
        )


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
    carried = _reading_at(session, line_id, tag, start)
    fold = _Fold.begin(start, carried, limit_c, max_gap)
    return fold.advance(_readings(session, line_id, tag, start, end), end).record()


def counter_total(
    session: Session, line_id: int, tag: str, start: datetime, end: datetime | None
) -> int:
    """What a counter added after ``start`` up to and including ``end`` (no end: up to now)."""
    window = [LineReading.at > start]
    if end is not None:
        window.append(LineReading.at <= end)
    return counted_sum(session, line_id, tag, *window)


class LiveRecords:
    """Folds of running batches up to a settled moment, per (batch id, tag), for the line
    screen's frequent requests. Thread-safe; keeps the most recent ``size`` entries."""

    def __init__(self, size: int = 32) -> None:
        self._lock = threading.Lock()
        self._folds: OrderedDict[tuple[int, datetime, str], _Fold] = OrderedDict()
        self._counts: OrderedDict[tuple[int, datetime, str], tuple[datetime, int]] = OrderedDict()
        self._size = size

    def temperature(
        self,
        session: Session,
        batch_id: int,
        line_id: int,
        tag: str,
        start: datetime,
        end: datetime,
        limit_c: float,
        max_gap: timedelta,
    ) -> TemperatureRecord:
        key = (batch_id, start, tag)
        with self._lock:
            fold = self._folds.get(key)
        # A request for an earlier moment than the cache reached folds from the start and
        # leaves the cache alone.
        usable = fold is not None and fold.until <= end
        if not usable or fold.limit_c != limit_c or fold.gap != max_gap:
            carried = _reading_at(session, line_id, tag, start)
            fold = _Fold.begin(start, carried, limit_c, max_gap)
        readings = _readings(session, line_id, tag, fold.until, end)
        settled = max(fold.until, end - SETTLE)
        kept = fold.advance(readings, settled)
        with self._lock:
            cached = self._folds.get(key)
            if cached is None or cached.until <= kept.until:
                self._remember(self._folds, key, kept)
        return kept.advance(readings, end).record()

    def count(
        self,
        session: Session,
        batch_id: int,
        line_id: int,
        tag: str,
        start: datetime,
        end: datetime,
    ) -> int:
        key = (batch_id, start, tag)
        with self._lock:
            until, total = self._counts.get(key, (start, 0))
        if until > end:
            until, total = start, 0
        settled = max(until, end - SETTLE)
        total += counter_total(session, line_id, tag, until, settled)
        with self._lock:
            cached = self._counts.get(key)
            if cached is None or cached[0] <= settled:
                self._remember(self._counts, key, (settled, total))
        return total + counter_total(session, line_id, tag, settled, end)

    def clear(self) -> None:
        with self._lock:
            self._folds.clear()
            self._counts.clear()

    def _remember(self, store: OrderedDict, key, value) -> None:
        store[key] = value
        store.move_to_end(key)
        while len(store) > self._size:
            store.popitem(last=False)


def _readings(
    session: Session, line_id: int, tag: str, after: datetime, end: datetime
) -> list[_Reading]:
    values = gauge_values(session, line_id, tag, LineReading.at > after, LineReading.at <= end)
    return [_Reading(at, value) for at, value in values]


def _reading_at(session: Session, line_id: int, tag: str, moment: datetime) -> _Reading | None:
    """The last reading at or before ``moment``."""
    value = LineReading.gauge(tag)
    row = session.execute(
        select(LineReading.at, value)
        .where(LineReading.line_id == line_id, value.is_not(None), LineReading.at <= moment)
        .order_by(LineReading.at.desc(), LineReading.id.desc())
        .limit(1)
    ).first()
    return None if row is None else _Reading(row[0], float(row[1]))
