"""A believable past for a line: the line model run over a span of days, stored as if the
worker had polled it all along.

`backfill` runs `LineModel` from ``start`` to ``end`` and writes what `ingest` and `roll_up`
would have left behind had a worker read the simulated PLC every ``step_s`` seconds:

- readings (`LineReading`: gauge values and counter increments) every ``step_s``;
- state periods (`StatePeriod`) with their stop reasons, exact to the model's step
  (``model_step_s``, 5 s by default: a day of the line model takes about 0.2 s at 5 s against
  about 0.9 s at the simulator's 1 s); the last period is left open, as a worker leaves it;
- alarms raised and returned as the model's alarm word says, each acknowledged by the first
  supervisor (or, without one, nobody named) a few minutes after it was raised, unless that
  moment is after ``end``;
- the counter cursors, the live row and the roll-ups as at ``end``.

Rows go in with SQLAlchemy Core ``executemany``, one transaction per local day of the site.

**Continuing live.** A cursor holds the raw register value of the model's counter at the last
sample. A live simulator that continues the same model (`BackfillResult.model`, as
``wash-ops demo`` does) then reads on from there: the first live reading is a normal step and
counts what the line did since, nothing twice and nothing lost. A simulator started afresh has
its own counters, from 0: its first reading is below the cursor, which `ingest` takes for a PLC
restart and counts in full, which is again what the line did since its start (as long as the
backfilled counters are above the new ones, which a day of history makes sure of).
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from plc.line_model import ALARM_BITS, LineModel, LineProfile
from plc.sim_registers import raw_value
from wash_ops.accounts.models import Role, User
from wash_ops.config import Settings
from wash_ops.db import unit_of_work
from wash_ops.telemetry.models import (
    Alarm,
    AlarmEvent,
    AlarmJournalEntry,
    CounterCursor,
    LineLive,
    LineReading,
    Resolution,
    RollupCursor,
    StatePeriod,
    TagRollup,
)
from wash_ops.telemetry.packml import PackMLState
from wash_ops.telemetry.register_map import RegisterMap, Tag, TagRole
from wash_ops.telemetry.rollups import Aggregate, bucket_start

ACK_DELAY_S = (90.0, 480.0)  # someone acknowledges an alarm 1.5 to 8 minutes after it came
ACKNOWLEDGERS = (Role.SUPERVISOR, Role.PLANNER, Role.ADMIN)


@dataclass
class BackfillResult:
    """What a backfill wrote. ``model`` stands at ``end``: a live simulator may continue it."""

    model: LineModel
    days: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    counter_totals: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass
class _Period:
    state: int
    reason: int | None
    started_at: datetime


def default_profile(settings: Settings, *, also_on: date | None = None) -> LineProfile:
    """The site's line: its zone, shift, capacity, working days and closed dates (and
    ``also_on``, so that a demo started on a day off has a line that runs today)."""
    return LineProfile.from_settings(
        settings,
        working_days=frozenset(settings.line.working_days),
        closed_dates=frozenset(settings.line.closed_dates),
        extra_dates=frozenset({also_on} if also_on else ()),
    )


def backfill(
    session_factory: sessionmaker[Session],
    settings: Settings,
    register_map: RegisterMap,
    line_id: int,
    start: datetime,
    end: datetime,
    *,
    seed: int = 7,
    step_s: int = 60,
    model_step_s: int = 5,
    profile: LineProfile | None = None,
) -> BackfillResult:
    """Write the line's telemetry for [start, end) (aware datetimes) as a worker polling the
    line model every ``step_s`` seconds would have; see the module's docstring.

    The line must have no telemetry yet (no state periods, no counter cursors): history is
    written before live data, never into it. Raises ValueError (and writes nothing) otherwise.
    """
    started = time.perf_counter()
    _check(start, end, step_s, model_step_s)
    start = start.astimezone(UTC).replace(microsecond=0)
    end = end.astimezone(UTC)
    with unit_of_work(session_factory) as session:
        if session.scalar(
            select(StatePeriod.id).where(StatePeriod.line_id == line_id).limit(1)
        ) or session.scalar(
            select(CounterCursor.tag).where(CounterCursor.line_id == line_id).limit(1)
        ):
            raise ValueError(f"line {line_id} has telemetry already: backfill only an empty line")
        acknowledger = _acknowledger(session)
    profile = profile or default_profile(settings)
    model = LineModel(profile, seed=seed, start=start, step_s=model_step_s)
    writer = _Writer(
        register_map, line_id, model, step_s, end, acknowledger, random.Random(f"ack:{seed}")
    )
    result = BackfillResult(model=model)
    zone = settings.zone
    day_start = start
    while day_start < end:
        local = day_start.astimezone(zone)
        midnight = datetime(local.year, local.month, local.day, tzinfo=zone)
        # a local day later, in wall-clock time: 23 or 25 hours on the DST changes
        next_midnight = (midnight + timedelta(days=1)).astimezone(UTC)
        day_end = min(end, next_midnight)
        with unit_of_work(session_factory) as session:
            writer.run_until(day_end)
            writer.flush(session, day_end, final=day_end >= end)
        result.days += 1
        day_start = day_end
    model.changes.clear()  # the history is stored; a simulator continuing it logs what is new
    result.rows = dict(writer.rows)
    result.counter_totals = dict(writer.total)
    result.seconds = time.perf_counter() - started
    return result


def _check(start: datetime, end: datetime, step_s: int, model_step_s: int) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be aware datetimes")
    if start >= end:
        raise ValueError("start must be before end")
    if model_step_s < 1 or step_s < model_step_s or step_s % model_step_s:
        raise ValueError("step_s must be a whole multiple of model_step_s (at least 1 s)")


def _acknowledger(session: Session) -> int | None:
    for role in ACKNOWLEDGERS:
        user_id = session.scalar(select(User.id).where(User.role == role).order_by(User.id))
        if user_id is not None:
            return user_id
    return None


class _Writer:
    """Runs the model and keeps the rows of the current day until they are flushed."""

    def __init__(
        self,
        register_map: RegisterMap,
        line_id: int,
        model: LineModel,
        step_s: int,
        end: datetime,
        acknowledger: int | None,
        rng: random.Random,
    ) -> None:
        self.register_map = register_map
        self.line_id = line_id
        self.model = model
        self.every = round(step_s / model.step_s)  # model steps between two samples
        self.end = end
        self.acknowledger = acknowledger
        self.rng = rng
        known = set(model.values())
        self.counters = [
            tag
            for tag in register_map.with_role(TagRole.COUNTER)
            if tag.name in known and not tag.table.is_bits
        ]
        self.gauges = [
            tag
            for tag in register_map.with_role(TagRole.GAUGE)
            if tag.name in known and not tag.table.is_bits
        ]
        self.with_reasons = register_map.stop_reason_tag is not None
        self.alarm_bits = {
            ALARM_BITS[alarm.code]: alarm
            for alarm in register_map.alarms
            if alarm.code in ALARM_BITS
        }
        values = model.values()
        self.raw = {tag.name: self._raw(tag, values) for tag in self.counters}
        self.total = dict.fromkeys(self.raw, 0)
        self.at = model.now.astimezone(UTC)
        self.day_total = dict.fromkeys(self.raw, 0)
        self.day: date | None = None
        self.ticks = 0
        self.period = self._period_now(self.at)
        self.state_since = self.at
        self.word = 0
        self.open_alarms: dict[int, int] = {}  # model bit -> alarm id
        self.zone = model.profile.zone
        self._days: dict[datetime, datetime] = {}
        self.buckets: dict[Resolution, dict[tuple[str, datetime], Aggregate]] = {
            resolution: {} for resolution in Resolution
        }
        self.readings: list[dict[str, Any]] = []
        self.periods: list[dict[str, Any]] = []
        self.alarm_events: list[tuple[str, int, datetime]] = []  # (raise|return, bit, at)
        self.rows: dict[str, int] = dict.fromkeys(
            ("line_readings", "state_periods", "alarms", "tag_rollups"), 0
        )
        self.last_values: dict[str, float] = {}
        self._sample(self.at, values, count=False)
        self._watch(self.at)

    # --- running the model ------------------------------------------------------------------

    def run_until(self, until: datetime) -> None:
        """Step the model up to ``until``: state and alarms at each model step, samples every
        ``step_s`` from the start."""
        model, step, every = self.model, self.model.step_s, self.every
        t = model.now.timestamp()
        limit = until.timestamp()
        period = self.period
        while t + step <= limit:
            model.advance(step)
            t += step
            self.ticks += 1
            reason = model.stop_reason if self.with_reasons else None
            if (
                model.state != period.state
                or reason != period.reason
                or model.alarm_word != self.word
            ):
                self._watch(datetime.fromtimestamp(t, UTC))
                period = self.period
            if self.ticks % every == 0:
                self._sample(datetime.fromtimestamp(t, UTC), model.values(), count=True)

    def _watch(self, at: datetime) -> None:
        model = self.model
        state = int(PackMLState.of(int(model.state)))
        reason = int(model.stop_reason) if self.with_reasons else None
        if (state, reason) != (self.period.state, self.period.reason):
            self.periods.append(self._period_row(self.period, at))
            if state != self.period.state:
                self.state_since = at
            self.period = _Period(state, reason, at)
        word = model.alarm_word
        if word != self.word:
            changed = word ^ self.word
            for bit in self.alarm_bits:
                if changed >> bit & 1:
                    self.alarm_events.append(("raise" if word >> bit & 1 else "return", bit, at))
            self.word = word

    def _period_now(self, at: datetime) -> _Period:
        model = self.model
        reason = int(model.stop_reason) if self.with_reasons else None
        return _Period(int(PackMLState.of(int(model.state))), reason, at)

    def _period_row(self, period: _Period, ended_at: datetime | None) -> dict[str, Any]:
        return {
            "line_id": self.line_id,
            "state": period.state,
            "stop_reason": period.reason,
            "started_at": period.started_at,
            "ended_at": ended_at,
        }

    def _raw(self, tag: Tag, values: Mapping[str, float | int]) -> int:
        return int(raw_value(tag, values[tag.name]))

    def _sample(self, at: datetime, values: Mapping[str, float | int], *, count: bool) -> None:
        gauges: dict[str, float] = {}
        counts: dict[str, int] = {}
        for tag in self.gauges:
            raw = raw_value(tag, values[tag.name])
            value = raw * tag.scale + tag.offset
            if not tag.in_range(value):
                continue  # what ingest would reject
            gauges[tag.name] = value
            self._aggregate(tag.name, at, value)
            self.last_values[tag.name] = value
        day = at.astimezone(self.model.profile.zone).date()
        if day != self.day:
            self.day, self.day_total = day, dict.fromkeys(self.raw, 0)
        for tag in self.counters:
            raw = self._raw(tag, values)
            delta = raw - self.raw[tag.name]
            self.raw[tag.name] = raw
            self.last_values[tag.name] = raw * tag.scale + tag.offset
            if count and delta > 0:
                self.day_total[tag.name] += delta
                self.total[tag.name] += delta
                counts[tag.name] = delta
                self._aggregate(tag.name, at, float(delta))
        if gauges or counts:
            self.readings.append(
                {"line_id": self.line_id, "at": at, "gauges": gauges, "counts": counts}
            )
        if self.with_reasons:
            self.last_values[self.register_map.stop_reason_tag] = int(values["stop_reason"])
        self.at = at

    def _bucket(self, moment: datetime, resolution: Resolution) -> datetime:
        """bucket_start, remembered: a day's hours share one local midnight."""
        if resolution is Resolution.HOUR:
            return moment.replace(minute=0, second=0, microsecond=0)
        day = self._days.get(moment)
        if day is None:
            day = self._days[moment] = bucket_start(moment, resolution, self.zone)
        return day

    def _aggregate(self, tag: str, at: datetime, value: float) -> None:
        minutes = self.buckets[Resolution.MINUTE]
        key = (tag, at.replace(second=0, microsecond=0))  # at is UTC: bucket_start's minute
        if key in minutes:
            minutes[key].add(Aggregate.of(value))
        else:
            minutes[key] = Aggregate.of(value)

    # --- storing ----------------------------------------------------------------------------

    def flush(self, session: Session, until: datetime, *, final: bool) -> None:
        if self.readings:
            session.execute(insert(LineReading.__table__), self.readings)
        periods = self.periods + ([self._period_row(self.period, None)] if final else [])
        if periods:
            session.execute(insert(StatePeriod.__table__), periods)
        self.rows["line_readings"] += len(self.readings)
        self.rows["state_periods"] += len(periods)
        self.readings, self.periods = [], []
        self._store_alarms(session)
        self._store_rollups(session, until, final=final)
        if final:
            self._store_cursors(session)

    def _store_rollups(self, session: Session, until: datetime, *, final: bool) -> None:
        """The roll-ups `roll_up` makes of these rows, up to the last complete bucket before
        ``until``: minutes from the readings, hours from the minutes, days from the hours, in
        time order as it adds them (so that even the floating-point totals are the same)."""
        rows: list[dict[str, Any]] = []
        for resolution, coarser in (
            (Resolution.MINUTE, Resolution.HOUR),
            (Resolution.HOUR, Resolution.DAY),
            (Resolution.DAY, None),
        ):
            limit = bucket_start(until, resolution, self.zone)
            open_buckets = self.buckets[resolution]
            done = [key for key in open_buckets if key[1] < limit]
            for key in done:
                aggregate = open_buckets.pop(key)
                rows.append(_rollup_row(self.line_id, resolution, key, aggregate))
                if coarser is None:
                    continue
                target = self.buckets[coarser]
                up = (key[0], self._bucket(key[1], coarser))
                if up in target:
                    target[up].add(aggregate)
                else:
                    target[up] = Aggregate(
                        aggregate.count,
                        aggregate.total,
                        aggregate.minimum,
                        aggregate.maximum,
                        aggregate.last,
                    )
            if final:
                session.add(
                    RollupCursor(line_id=self.line_id, resolution=resolution, done_until=limit)
                )
        if rows:
            session.execute(insert(TagRollup.__table__), rows)
        self.rows["tag_rollups"] += len(rows)

    def _store_alarms(self, session: Session) -> None:
        for kind, bit, at in self.alarm_events:
            definition = self.alarm_bits[bit]
            if kind == "raise":
                acknowledged_at = at + timedelta(seconds=self.rng.uniform(*ACK_DELAY_S))
                if acknowledged_at > self.end:
                    acknowledged_at = None
                alarm = Alarm(
                    line_id=self.line_id,
                    code=definition.code,
                    bit=definition.bit,
                    severity=definition.severity.value,
                    raised_at=at,
                    acknowledged_at=acknowledged_at,
                    acknowledged_by_id=self.acknowledger if acknowledged_at else None,
                )
                session.add(alarm)
                session.flush()
                alarm_id = self.open_alarms[bit] = alarm.id
                self.rows["alarms"] += 1
                journal = [(at, AlarmEvent.RAISED, None)]
                if acknowledged_at is not None:
                    journal.append((acknowledged_at, AlarmEvent.ACKNOWLEDGED, self.acknowledger))
            else:
                alarm_id = self.open_alarms.pop(bit, None)
                if alarm_id is None:
                    continue
                session.execute(update(Alarm).where(Alarm.id == alarm_id).values(returned_at=at))
                journal = [(at, AlarmEvent.RETURNED, None)]
            session.add_all(
                AlarmJournalEntry(alarm_id=alarm_id, at=moment, event=event, user_id=user)
                for moment, event, user in journal
            )
        self.alarm_events = []

    def _store_cursors(self, session: Session) -> None:
        """Cursors, and the live row, as a worker that read the last sample leaves them."""
        for tag in self.counters:
            session.add(
                CounterCursor(
                    line_id=self.line_id,
                    tag=tag.name,
                    raw=self.raw[tag.name] % tag.counter_modulus,
                    at=self.at,
                    candidate=None,
                    total=self.total[tag.name],
                    day=self.day,
                    day_total=self.day_total[tag.name],
                )
            )
        live = session.get(LineLive, self.line_id) or LineLive(
            line_id=self.line_id, good_readings=0, failed_readings=0, rejected_values=0
        )
        live.state = self.period.state
        live.state_since = self.state_since
        live.values = dict(self.last_values)
        session.add(live)
        session.flush()


def _rollup_row(
    line_id: int, resolution: Resolution, key: tuple[str, datetime], aggregate: Aggregate
) -> dict[str, Any]:
    return {
        "line_id": line_id,
        "tag": key[0],
        "resolution": resolution,
        "bucket": key[1],
        "count": aggregate.count,
        "total": aggregate.total,
        "minimum": aggregate.minimum,
        "maximum": aggregate.maximum,
        "last": aggregate.last,
    }
