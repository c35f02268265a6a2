"""The one way readings enter the domain, whether they came from Modbus or MQTT."""

from __future__ import annotations

import enum
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session

from wash_ops.catalogue.models import Line
from wash_ops.db import bulk_insert, driver_time
from wash_ops.telemetry.counters import CounterStep, Step, next_step
from wash_ops.telemetry.models import (
    Alarm,
    AlarmEvent,
    AlarmJournalEntry,
    CounterCursor,
    LineLive,
    LineReading,
    StatePeriod,
)
from wash_ops.telemetry.packml import PackMLState
from wash_ops.telemetry.register_map import RegisterMap, Tag, TagRole

log = logging.getLogger(__name__)


class Quality(enum.StrEnum):
    GOOD = "good"
    BAD = "bad"


@dataclass(frozen=True)
class Reading:
    """One read of the whole map. ``values`` holds engineering values by tag name; counters
    arrive as raw unsigned integers so that their deltas stay exact. A BAD reading carries no
    values at all: a failed or partial read is never stored."""

    at: datetime
    quality: Quality
    values: Mapping[str, float | int] = field(default_factory=dict)
    error: str = ""

    @classmethod
    def failed(cls, at: datetime, error: str) -> Reading:
        return cls(at=at, quality=Quality.BAD, error=error)


@dataclass
class IngestReport:
    stored: int = 0
    counted: dict[str, int] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)
    counter_events: dict[str, Step] = field(default_factory=dict)


def ingest(
    session: Session,
    line: Line,
    register_map: RegisterMap,
    reading: Reading,
    zone: ZoneInfo,
    stale_after: timedelta,
) -> IngestReport:
    """Store one reading: its values, counter increments, state changes, alarms, liveness."""
    report = _ingest_one(session, line.id, register_map, reading, zone, stale_after, None)
    session.flush()
    return report


def ingest_many(
    session: Session,
    line: Line,
    register_map: RegisterMap,
    readings: Sequence[Reading],
    zone: ZoneInfo,
    stale_after: timedelta,
    *,
    checked: bool = False,
) -> list[IngestReport]:
    """Store readings in order, as ``ingest`` would one by one, in the session's transaction.

    The readings go in with one bulk insert instead of an ORM object each, and the alarm word
    is compared with the previous reading's before the open alarms are looked up: a batch of
    thousands of readings costs a few statements. ``checked``: the caller has made sure every
    value is of a known tag and inside its range."""
    connection = session.connection()
    rows = _Rows(sqlite=connection.dialect.name == "sqlite", zone=zone, checked=checked)
    _load_cursors(session, line.id, register_map, rows)
    reports = [
        _ingest_one(session, line.id, register_map, reading, zone, stale_after, rows)
        for reading in readings
    ]
    for live in rows.live.values():
        # During the batch live.values held raw values; shown values are worked out once.
        raw = {name: live.values[name] for name in rows.updated}
        live.values = {**live.values, **_display_values(register_map, raw)}
    for plain in [*rows.live.values(), *rows.cursors.values()]:
        if plain is not None:
            plain.write_back()
    session.flush()
    bulk_insert(connection, LineReading.__tablename__, _READING_COLUMNS, rows.readings)
    return reports


_READING_COLUMNS = ("line_id", "at", "gauges", "counts")


def _json_text(values: dict[str, Any]) -> str:
    """JSON text for a driver-level insert (values are finite: they passed the range checks)."""
    return orjson.dumps(values).decode()


@dataclass
class _Rows:
    """Rows gathered for a bulk insert (``ingest_many``), in the database's own terms."""

    sqlite: bool
    zone: ZoneInfo
    checked: bool = False
    updated: set[str] = field(default_factory=set)
    readings: list[tuple[object, ...]] = field(default_factory=list)
    _last_at: datetime | None = None
    _last_db: object = None
    _day: date | None = None
    _day_at: datetime | None = None

    def db_time(self, at: datetime) -> object:
        """``at`` as the database stores it, worked out once for all rows of a reading."""
        if at is not self._last_at:
            self._last_at = at
            self._last_db = driver_time(at, self.sqlite)
        return self._last_db

    def day_of(self, at: datetime) -> date:
        """The local day of ``at``, worked out once for all counters of a reading."""
        if at is not self._day_at:
            self._day_at, self._day = at, at.astimezone(self.zone).date()
        return self._day  # type: ignore[return-value]

    # Plain copies of the batch's counter cursors and line state, written back once at the end:
    # an ORM attribute costs several times a plain one to set, and the session's identity map
    # holds clean objects only weakly (a cursor that dropped out would cost a SELECT).
    cursors: dict[tuple[int, str], Any] = field(default_factory=dict)
    live: dict[int, Any] = field(default_factory=dict)


def _load_cursors(session: Session, line_id: int, register_map: RegisterMap, rows: _Rows) -> None:
    """The line's counter cursors in one query (None: the counter has none yet)."""
    loaded = session.scalars(select(CounterCursor).where(CounterCursor.line_id == line_id))
    found = {cursor.tag: cursor for cursor in loaded}
    for tag in register_map.with_role(TagRole.COUNTER):
        cursor = found.get(tag.name)
        rows.cursors[(line_id, tag.name)] = (
            None if cursor is None else _Plain(cursor, _CURSOR_FIELDS)
        )


_LIVE_FIELDS = (
    "last_attempt_at",
    "last_good_at",
    "last_failure_at",
    "last_failure",
    "heartbeat",
    "heartbeat_changed_at",
    "state",
    "state_since",
    "values",
    "good_readings",
    "failed_readings",
    "rejected_values",
)
_CURSOR_FIELDS = ("raw", "candidate", "at", "total", "day", "day_total")


class _Plain:
    """A plain copy of some fields of an ORM object; ``write_back`` sets the changed ones."""

    def __init__(self, row: object, fields: tuple[str, ...]) -> None:
        self._row = row
        self._fields = fields
        self._before = {name: getattr(row, name) for name in fields}
        self.__dict__.update(self._before)

    def write_back(self) -> None:
        for name in self._fields:
            value = self.__dict__[name]
            if value is not self._before[name] and value != self._before[name]:
                setattr(self._row, name, value)


# The roles and counter steps as plain names: compared for every value of every reading.
_GAUGE, _COUNTER, _STATE = TagRole.GAUGE, TagRole.COUNTER, TagRole.STATE
_ALARM_WORD, _HEARTBEAT = TagRole.ALARM_WORD, TagRole.HEARTBEAT
_NORMAL, _BASELINE, _IMPLAUSIBLE = Step.NORMAL, Step.BASELINE, Step.IMPLAUSIBLE


def _ingest_one(
    session: Session,
    line_id: int,
    register_map: RegisterMap,
    reading: Reading,
    zone: ZoneInfo,
    stale_after: timedelta,
    rows: _Rows | None,
) -> IngestReport:
    live: Any
    if rows is None:
        live = _live(session, line_id)
    else:
        live = rows.live.get(line_id)
        if live is None:
            live = rows.live[line_id] = _Plain(_live(session, line_id), _LIVE_FIELDS)
    if live.last_attempt_at is None or reading.at >= live.last_attempt_at:
        live.last_attempt_at = reading.at
    report = IngestReport()
    if reading.quality is Quality.BAD:
        _record_failure(session, live, line_id, reading, stale_after)
        return report
    if rows is not None and rows.checked:
        values = reading.values
    else:
        values = _accepted_values(register_map, reading, report)
    live.good_readings += 1
    live.rejected_values += len(report.rejected)
    if live.last_good_at is not None and reading.at < live.last_good_at:
        _late(session, line_id, register_map, reading.at, values, report, rows)
        return report
    at = reading.at
    live.last_good_at = at
    previous = live.values or {}
    gauges: dict[str, float] = {}
    counts: dict[str, int] = {}
    for tag in register_map.tags:
        name = tag.name
        if name not in values:
            continue
        value = values[name]
        role = tag.role
        if role is _GAUGE:
            gauges[name] = float(value)
        elif role is _COUNTER:
            delta = _count(session, line_id, tag, int(value), at, zone, report, rows)
            if delta:
                counts[name] = delta
        elif role is _STATE:
            reason, previous_reason = _reasons(register_map, previous, values)
            _track_state(session, live, line_id, int(value), at, reason, previous_reason)
        elif role is _ALARM_WORD:
            if rows is None or previous.get(name) != value:
                _track_alarms(session, line_id, register_map, int(value), at)
        elif role is _HEARTBEAT:
            _track_heartbeat(live, int(value), at)
    _keep(session, line_id, at, gauges, counts, rows)
    report.stored += len(gauges) + len(counts)
    if rows is None:
        live.values = {**previous, **_display_values(register_map, values)}
    else:
        live.values = {**previous, **values}
        rows.updated.update(values)
    return report


def _keep(
    session: Session,
    line_id: int,
    at: datetime,
    gauges: dict[str, float],
    counts: dict[str, int],
    rows: _Rows | None,
) -> None:
    """The reading's gauge values and counter increments, as one row."""
    if not gauges and not counts:
        return
    if rows is None:
        session.add(LineReading(line_id=line_id, at=at, gauges=gauges, counts=counts))
    else:
        rows.readings.append((line_id, rows.db_time(at), _json_text(gauges), _json_text(counts)))


def _late(
    session: Session,
    line_id: int,
    register_map: RegisterMap,
    at: datetime,
    values: Mapping[str, float | int],
    report: IngestReport,
    rows: _Rows | None,
) -> None:
    """A reading older than the newest one stored (MQTT may deliver out of order after a broker
    restart): its gauge values go into the history; counters, states, alarms and the heartbeat
    are not moved back (a counter's later reading already carries what this one added)."""
    gauges = {
        name: float(value)
        for name, value in values.items()
        if register_map.tag(name).role is TagRole.GAUGE
    }
    _keep(session, line_id, at, gauges, {}, rows)
    report.stored += len(gauges)


def _live(session: Session, line_id: int) -> LineLive:
    live = session.get(LineLive, line_id)
    if live is None:
        live = LineLive(
            line_id=line_id, values={}, good_readings=0, failed_readings=0, rejected_values=0
        )
        session.add(live)
    return live


def _record_failure(
    session: Session, live: LineLive, line_id: int, reading: Reading, stale_after: timedelta
) -> None:
    live.failed_readings += 1
    live.last_failure_at = reading.at
    live.last_failure = reading.error[:300]
    lost_since = live.last_good_at
    if lost_since is not None and reading.at - lost_since > stale_after:
        _track_state(session, live, line_id, PackMLState.UNDEFINED, lost_since)
    session.flush()


def _accepted_values(
    register_map: RegisterMap, reading: Reading, report: IngestReport
) -> dict[str, float | int]:
    """Values inside their tag's physical range; others are logged with the tag and dropped."""
    accepted: dict[str, float | int] = {}
    for name, value in reading.values.items():
        try:
            tag = register_map.tag(name)
        except StopIteration:
            report.rejected.append(name)
            log.warning("reading has unknown tag %r; ignored", name)
            continue
        if tag.role is not TagRole.COUNTER and not tag.in_range(float(value)):
            report.rejected.append(name)
            log.warning(
                "tag %s: value %r outside %s..%s; not stored", name, value, tag.min, tag.max
            )
            continue
        accepted[name] = value
    return accepted


def _count(
    session: Session,
    line_id: int,
    tag: Tag,
    raw: int,
    at: datetime,
    zone: ZoneInfo,
    report: IngestReport,
    rows: _Rows | None = None,
) -> int:
    """Move the counter's cursor on; returns what it added (0: nothing to store)."""
    key = (line_id, tag.name)
    # A batch has every counter's cursor loaded up front (``_load_cursors``).
    cursor: Any = session.get(CounterCursor, key) if rows is None else rows.cursors[key]
    if cursor is None:
        previous = candidate = None
    else:
        previous, candidate = cursor.raw, cursor.candidate
    if (
        previous is not None
        and previous <= raw < tag.counter_modulus
        and raw - previous <= tag.counter_limit
    ):
        step = CounterStep(raw - previous, raw, None, _NORMAL)  # next_step's usual answer, sooner
    else:
        step = next_step(previous, candidate, raw, tag.counter_modulus, tag.max_step)
    kind = step.kind
    report.counter_events[tag.name] = kind
    if kind is _IMPLAUSIBLE:
        log.warning(
            "tag %s: raw value %s not believable after %s; not counted", tag.name, raw, previous
        )
        report.rejected.append(tag.name)
        if cursor is None:
            return 0
    elif kind is not _NORMAL and kind is not _BASELINE:
        log.info("tag %s: %s from %s to %s (+%s)", tag.name, kind.value, previous, raw, step.delta)
    day = at.astimezone(zone).date() if rows is None else rows.day_of(at)
    if cursor is None:
        cursor = CounterCursor(
            line_id=line_id, tag=tag.name, raw=step.raw, at=at, total=0, day=day, day_total=0
        )
        session.add(cursor)
        if rows is not None:
            cursor = rows.cursors[key] = _Plain(cursor, _CURSOR_FIELDS)
    if cursor.day != day:
        cursor.day, cursor.day_total = day, 0
    cursor.raw, cursor.candidate, cursor.at = step.raw, step.candidate, at
    if step.delta:
        cursor.total += step.delta
        cursor.day_total += step.delta
        report.counted[tag.name] = step.delta
    return step.delta


def _track_state(
    session: Session,
    live: LineLive,
    line_id: int,
    state: int,
    at: datetime,
    stop_reason: int | None = None,
    previous_reason: int | None = None,
) -> None:
    """A new period when the state or the stop reason changes; live.state_since is the state's."""
    state = _PACKML_VALUES.get(state, PackMLState.UNDEFINED)
    if live.state == state and previous_reason == stop_reason:
        return
    open_period = session.scalar(
        select(StatePeriod).where(StatePeriod.line_id == line_id, StatePeriod.ended_at.is_(None))
    )
    if open_period is not None:
        open_period.ended_at = max(at, open_period.started_at)
    session.add(StatePeriod(line_id=line_id, state=state, stop_reason=stop_reason, started_at=at))
    if live.state != state:
        live.state, live.state_since = state, at


# A PLC's state value as a PackML state number (anything else is undefined), for every reading.
_PACKML_VALUES = {int(state): int(state) for state in PackMLState}


def _reasons(
    register_map: RegisterMap,
    previous: Mapping[str, float | int],
    values: Mapping[str, float | int],
) -> tuple[int | None, int | None]:
    """The stop reason now and at the previous reading (None when the map has no such tag)."""
    name = register_map.stop_reason_tag
    if name is None:
        return None, None
    now, before = values.get(name), previous.get(name)
    return (None if now is None else int(now)), (None if before is None else int(before))


def _track_alarms(
    session: Session, line_id: int, register_map: RegisterMap, word: int, at: datetime
) -> None:
    active = {
        alarm.bit: alarm
        for alarm in session.scalars(
            select(Alarm).where(Alarm.line_id == line_id, Alarm.returned_at.is_(None))
        )
    }
    for definition in register_map.alarms:
        on = bool(word >> definition.bit & 1)
        if on and definition.bit not in active:
            alarm = Alarm(
                line_id=line_id,
                code=definition.code,
                bit=definition.bit,
                severity=definition.severity.value,
                raised_at=at,
            )
            session.add(alarm)
            session.flush()
            session.add(AlarmJournalEntry(alarm_id=alarm.id, at=at, event=AlarmEvent.RAISED))
        elif not on and definition.bit in active:
            alarm = active[definition.bit]
            alarm.returned_at = at
            session.add(AlarmJournalEntry(alarm_id=alarm.id, at=at, event=AlarmEvent.RETURNED))


def _track_heartbeat(live: LineLive, beat: int, at: datetime) -> None:
    if live.heartbeat != beat:
        live.heartbeat, live.heartbeat_changed_at = beat, at


def _display_values(
    register_map: RegisterMap, values: Mapping[str, float | int]
) -> dict[str, float]:
    """Latest engineering values for the status; counters scaled by their tag."""
    shown = {}
    for name, value in values.items():
        tag = register_map.tag(name)
        shown[name] = value * tag.scale + tag.offset if tag.role is TagRole.COUNTER else value
    return shown
