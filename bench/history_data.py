"""A year of line history for benchmarks: roll-ups of every counter and gauge, and state periods.

`write_year_of_rollups` writes what a year of a worker polling the line every second would have
left in ``tag_rollups`` and ``state_periods``, in a few seconds instead of the hours that
running the line model (`plc.history.backfill`) over a year would take. It follows the line
model's day script (`plc.line_model.plan_day`: the shift, the break, the jam, the micro-stops,
the rinse dip, working days and the configured closed dates) and computes each bucket from the
seconds the script spends in each mode, rather than stepping the model second by second:

- minute roll-ups for the last ``minute_days`` days (14 by default; a year of them is 5.2
  million rows for 10 tags, about 2.5 minutes on SQLite: pass ``minute_days=365`` for that),
  hour roll-ups for every hour of ``days`` days and day roll-ups for every local day; the hours
  of the minute days are the sums of their minutes, as `roll_up` makes them, and only complete
  buckets before ``end`` are written (today has minutes and hours, no day yet);
- counters in raw register units (the energy counter in hundredths of a kWh), ``count`` the
  seconds with an increment; gauges as sums of one-second samples (``count`` = seconds);
- state periods with their stop reasons (the last one open), the counter cursors (totals, and
  today's), the roll-up cursors and the live row, so that `line_status` and a worker continue
  from there.

Rows go in with SQLAlchemy Core ``executemany``, one transaction a month.

    .venv/bin/python bench/history_data.py                  # a temporary SQLite file
    .venv/bin/python bench/history_data.py --minute-days 365
    .venv/bin/python bench/history_data.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/wash_ops_bench
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from plc.history import default_profile
from plc.line_model import MODE_REASONS, DayPlan, LineProfile, Mode, plan_day
from wash_ops.catalogue.services import main_line, sync_from_settings
from wash_ops.config import Settings, load_settings
from wash_ops.db import make_engine, make_session_factory, unit_of_work, utcnow
from wash_ops.migrate import upgrade
from wash_ops.telemetry.models import (
    CounterCursor,
    LineLive,
    Resolution,
    RollupCursor,
    StatePeriod,
    TagRollup,
)
from wash_ops.telemetry.packml import PackMLState
from wash_ops.telemetry.register_map import RegisterMap, TagRole, load_register_map
from wash_ops.telemetry.rollups import bucket_start

MODE_STATES = {
    Mode.OFF: PackMLState.STOPPED,
    Mode.READY: PackMLState.IDLE,
    Mode.PRODUCE: PackMLState.EXECUTE,
    Mode.STARVED: PackMLState.SUSPENDED,
    Mode.JAM: PackMLState.HELD,
    Mode.BREAK: PackMLState.STOPPED,
}
STOPPED_MODES = (Mode.OFF, Mode.BREAK)  # the machine on standby load
MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)


@dataclass
class HistoryFigures:
    rows: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def write_year_of_rollups(
    session_factory: sessionmaker[Session],
    settings: Settings,
    register_map: RegisterMap,
    line_id: int,
    end: datetime,
    *,
    days: int = 365,
    minute_days: int = 14,
    seed: int = 7,
) -> HistoryFigures:
    """Roll-ups and state periods for the ``days`` local days before ``end``'s day and that
    day up to ``end``; see the module's docstring. The line must have no telemetry yet."""
    if end.tzinfo is None or days < 1 or not 0 <= minute_days <= days + 1:
        raise ValueError("end must be aware; need days >= 1 and 0 <= minute_days <= days + 1")
    started = time.perf_counter()
    zone = settings.zone
    end = end.astimezone(UTC)
    today = end.astimezone(zone).date()
    with unit_of_work(session_factory) as session:
        if session.scalar(select(StatePeriod.id).where(StatePeriod.line_id == line_id).limit(1)):
            raise ValueError(f"line {line_id} has telemetry already")
    history = _History(settings, register_map, line_id, end, seed)
    figures = HistoryFigures(rows=dict.fromkeys(("tag_rollups", "state_periods"), 0))
    first = today - timedelta(days=days)
    minutes_from = today - timedelta(days=minute_days - 1)
    day = first
    while day <= today:
        month_end = min(today + timedelta(days=1), _next_month(day))
        rows: list[dict[str, Any]] = []
        periods: list[dict[str, Any]] = []
        while day < month_end:
            rows.extend(history.day(day, minutes=day >= minutes_from))
            periods.extend(history.periods(day))
            day += timedelta(days=1)
        with unit_of_work(session_factory) as session:
            if rows:
                session.execute(insert(TagRollup.__table__), rows)
            if periods:
                session.execute(insert(StatePeriod.__table__), periods)
        figures.rows["tag_rollups"] += len(rows)
        figures.rows["state_periods"] += len(periods)
    with unit_of_work(session_factory) as session:
        session.execute(insert(StatePeriod.__table__), [history.open_period()])
        figures.rows["state_periods"] += 1
        history.store_cursors(session)
    figures.seconds = time.perf_counter() - started
    return figures


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


class _History:
    """The line's script turned into buckets; counters carry their fractions from bucket to
    bucket so that their totals are whole and exact."""

    def __init__(
        self, settings: Settings, register_map: RegisterMap, line_id: int, end: datetime, seed: int
    ) -> None:
        self.profile: LineProfile = default_profile(settings)
        self.closed = set(settings.line.closed_dates)
        self.zone = settings.zone
        self.line_id = line_id
        self.end = end
        self.seed = seed
        self.rng = random.Random(seed)
        self.counters = [tag.name for tag in register_map.with_role(TagRole.COUNTER)]
        self.gauges = [tag.name for tag in register_map.with_role(TagRole.GAUGE)]
        self.carry = dict.fromkeys(("cups_washed", "cups_rejected", "water", "energy"), 0.0)
        self.totals = dict.fromkeys(self.counters, 0)
        self.today_totals = dict.fromkeys(self.counters, 0)
        self.today = end.astimezone(self.zone).date()
        self.detergent = self.profile.detergent_start
        self.period: tuple[int, int, datetime] | None = None  # state, reason, since
        self.last: dict[str, float] = {}

    # --- the script ---------------------------------------------------------------------------

    def plan(self, day: date) -> DayPlan:
        plan = plan_day(day, self.profile, self.seed)
        if day in self.closed and plan.working:
            plan = DayPlan(
                day, False, plan.prepare_at, plan.shift, (), None, (), None, plan.refill_delay_s
            )
        return plan

    def _windows(self, plan: DayPlan) -> list[tuple[float, float, Mode]]:
        """The day's non-producing stretches by mode (they never overlap in the script)."""
        day_start = datetime(plan.day.year, plan.day.month, plan.day.day, tzinfo=self.zone)
        t0 = day_start.timestamp()
        t1 = (day_start + timedelta(days=1)).astimezone(UTC).timestamp()
        if not plan.working:
            return [(t0, t1, Mode.OFF)]
        windows = [
            (t0, plan.prepare_at, Mode.OFF),
            (plan.prepare_at, plan.shift.t0, Mode.READY),
            (plan.shift.t1, t1, Mode.OFF),
        ]
        windows += [(w.t0, w.t1, Mode.BREAK) for w in plan.breaks]
        if plan.jam is not None:
            windows.append((plan.jam.t0, plan.jam.t1, Mode.JAM))
        windows += [(w.t0, w.t1, Mode.STARVED) for w in plan.micro_stops]
        return sorted(windows)

    def periods(self, day: date) -> list[dict[str, Any]]:
        """State periods of the day: a period for each change of mode, the last one kept open."""
        plan = self.plan(day)
        windows = self._windows(plan)
        marks: list[tuple[float, Mode]] = []
        cursor = windows[0][0]
        for start, stop, mode in windows:
            if start > cursor:
                marks.append((cursor, Mode.PRODUCE))
            marks.append((start, mode))
            cursor = stop
        rows = []
        for at, mode in marks:
            moment = datetime.fromtimestamp(at, UTC)
            if moment >= self.end:
                break
            state, reason = int(MODE_STATES[mode]), int(MODE_REASONS[mode])
            if self.period is not None and self.period[:2] == (state, reason):
                continue
            if self.period is not None:
                rows.append(self._period_row(*self.period, ended_at=moment))
            self.period = (state, reason, moment)
        return rows

    def _period_row(
        self, state: int, reason: int, since: datetime, *, ended_at: datetime | None
    ) -> dict[str, Any]:
        return {
            "line_id": self.line_id,
            "state": state,
            "stop_reason": reason,
            "started_at": since,
            "ended_at": ended_at,
        }

    def open_period(self) -> dict[str, Any]:
        assert self.period is not None
        return self._period_row(*self.period, ended_at=None)

    # --- buckets ------------------------------------------------------------------------------

    def day(self, day: date, *, minutes: bool) -> list[dict[str, Any]]:
        """The day's roll-up rows: minutes (when asked), hours, and the day when complete."""
        plan = self.plan(day)
        windows = self._windows(plan)
        midnight = datetime(day.year, day.month, day.day, tzinfo=self.zone).astimezone(UTC)
        next_midnight = (
            datetime(day.year, day.month, day.day, tzinfo=self.zone) + timedelta(days=1)
        ).astimezone(UTC)
        rows: list[dict[str, Any]] = []
        day_buckets: dict[str, list[float]] = {}
        hour = midnight
        while hour < next_midnight and hour + HOUR <= self.end:
            if minutes:
                hour_buckets: dict[str, list[float]] = {}
                minute = hour
                while minute < hour + HOUR and minute + MINUTE <= self.end:
                    values = self._span(plan, windows, minute, 60)
                    rows.extend(self._rows(Resolution.MINUTE, minute, values))
                    _fold(hour_buckets, values)
                    minute += MINUTE
            else:
                hour_buckets = self._span(plan, windows, hour, 3600)
            rows.extend(self._rows(Resolution.HOUR, hour, hour_buckets))
            _fold(day_buckets, hour_buckets)
            hour += HOUR
        if hour < next_midnight and minutes:  # today: the minutes of the hour under way
            minute = hour
            while minute + MINUTE <= self.end:
                values = self._span(plan, windows, minute, 60)
                rows.extend(self._rows(Resolution.MINUTE, minute, values))
                minute += MINUTE
        elif hour < next_midnight:
            self._span(plan, windows, hour, int((self.end - hour).total_seconds()))
        if next_midnight <= self.end:
            rows.extend(self._rows(Resolution.DAY, midnight, day_buckets))
        return rows

    def _span(
        self, plan: DayPlan, windows: list[tuple[float, float, Mode]], start: datetime, length: int
    ) -> dict[str, list[float]]:
        """(count, total, minimum, maximum, last) of each tag over [start, start + length)."""
        a = start.timestamp()
        b = a + length
        spent = dict.fromkeys(Mode, 0.0)
        last_mode = Mode.PRODUCE
        for w0, w1, mode in windows:
            overlap = min(b, w1) - max(a, w0)
            if overlap > 0:
                spent[mode] += overlap
            if w0 <= b - 1 < w1:
                last_mode = mode
        spent[Mode.PRODUCE] = length - sum(spent.values())
        profile, rng = self.profile, self.rng
        efficiency = profile.efficiency + rng.gauss(0.0, 0.01)
        speed = profile.speed_setpoint * efficiency
        producing = spent[Mode.PRODUCE]
        cups = self._whole("cups_washed", producing * speed / 3600)
        rejected = self._whole("cups_rejected", cups * profile.reject_rate * rng.uniform(0.5, 1.5))
        water = self._whole("water", cups * profile.water_per_cup_l)
        standby = sum(spent[mode] for mode in STOPPED_MODES)
        kwh = (
            cups * profile.energy_per_cup_kwh
            + (standby * profile.standby_load_kw + (length - standby) * profile.idle_load_kw) / 3600
        )
        energy = self._whole("energy", kwh * 100)
        deltas = {"cups_washed": cups, "cups_rejected": rejected, "water": water, "energy": energy}
        values: dict[str, list[float]] = {}
        for name in self.counters:
            delta = deltas.get(name, 0)
            self.totals[name] += delta
            if start.astimezone(self.zone).date() == self.today:
                self.today_totals[name] += delta
            if delta:
                count = min(delta, length)
                step = delta / count
                values[name] = [
                    count,
                    float(delta),
                    float(int(step)),
                    float(-(-delta // count)),
                    step,
                ]
        # gauges: one-second samples
        before = self.detergent
        self.detergent -= cups * profile.detergent_per_cup
        if self.detergent < profile.detergent_low:
            self.detergent = 100.0  # refilled
        dip = plan.rinse_dip
        dipped = 0.0 if dip is None else max(0.0, min(b, dip.t1) - max(a, dip.t0))
        rinse_mean = (
            profile.rinse_setpoint
            - (profile.rinse_setpoint - profile.rinse_dip_to) * (dipped / length) * 0.7
        )
        reason_seconds = sum(int(MODE_REASONS[mode]) * s for mode, s in spent.items())
        present = [int(MODE_REASONS[mode]) for mode, s in spent.items() if s > 0]
        running = producing / length
        gauge = {
            "stop_reason": (
                reason_seconds / length,
                min(present),
                max(present),
                MODE_REASONS[last_mode],
            ),
            "speed": (
                speed * running,
                0.0 if running < 1 else speed - 40,
                speed + 40 if running > 0 else 0.0,
                speed if last_mode is Mode.PRODUCE else 0.0,
            ),
            "speed_setpoint": (profile.speed_setpoint,) * 4,
            "wash_temperature": (
                profile.wash_setpoint - running + rng.gauss(0, 0.05),
                profile.wash_setpoint - 1.4,
                profile.wash_setpoint + 0.4,
                profile.wash_setpoint - running,
            ),
            "rinse_temperature": (
                rinse_mean + rng.gauss(0, 0.03),
                profile.rinse_dip_to + 0.2 if dipped else profile.rinse_setpoint - 0.3,
                profile.rinse_setpoint + 0.3,
                rinse_mean,
            ),
            "detergent_level": (
                (before + self.detergent) / 2 if self.detergent <= before else self.detergent,
                min(before, self.detergent),
                max(before, self.detergent),
                self.detergent,
            ),
        }
        for name in self.gauges:
            mean, minimum, maximum, last = gauge.get(name, (0.0, 0.0, 0.0, 0.0))
            values[name] = [length, mean * length, float(minimum), float(maximum), float(last)]
            self.last[name] = float(last)
        return values

    def _whole(self, name: str, amount: float) -> int:
        self.carry[name] += max(0.0, amount)
        whole = int(self.carry[name])
        self.carry[name] -= whole
        return whole

    def _rows(
        self, resolution: Resolution, bucket: datetime, values: dict[str, list[float]]
    ) -> list[dict[str, Any]]:
        return [
            {
                "line_id": self.line_id,
                "tag": name,
                "resolution": resolution,
                "bucket": bucket,
                "count": int(count),
                "total": total,
                "minimum": minimum,
                "maximum": maximum,
                "last": last,
            }
            for name, (count, total, minimum, maximum, last) in values.items()
        ]

    # --- where a worker goes on ---------------------------------------------------------------

    def store_cursors(self, session: Session) -> None:
        for name in self.counters:
            session.add(
                CounterCursor(
                    line_id=self.line_id,
                    tag=name,
                    raw=self.totals[name] % 2**32,
                    at=self.end,
                    candidate=None,
                    total=self.totals[name],
                    day=self.today,
                    day_total=self.today_totals[name],
                )
            )
        for resolution in Resolution:
            session.add(
                RollupCursor(
                    line_id=self.line_id,
                    resolution=resolution,
                    done_until=bucket_start(self.end, resolution, self.zone),
                )
            )
        assert self.period is not None
        live = session.get(LineLive, self.line_id) or LineLive(
            line_id=self.line_id, good_readings=0, failed_readings=0, rejected_values=0
        )
        live.state, live.state_since = self.period[0], self.period[2]
        live.values = dict(self.last)
        session.add(live)


def _fold(into: dict[str, list[float]], values: dict[str, list[float]]) -> None:
    """Add a bucket's aggregates to a coarser one, as `roll_up` adds them (in time order)."""
    for name, (count, total, minimum, maximum, last) in values.items():
        held = into.get(name)
        if held is None:
            into[name] = [count, total, minimum, maximum, last]
        else:
            held[0] += count
            held[1] += total
            held[2] = min(held[2], minimum)
            held[3] = max(held[3], maximum)
            held[4] = last


# --- trying it out -------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url",
        help="an empty database (default: a temporary SQLite file, removed afterwards)",
    )
    parser.add_argument("--days", type=int, default=365, help="days of history (365)")
    parser.add_argument(
        "--minute-days", type=int, default=14, help="last days with minute roll-ups (14)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--backfill-days",
        type=int,
        default=0,
        help="instead: time plc.history.backfill over this many days up to now (the demo: 14), "
        "against the line model alone over the same span",
    )
    args = parser.parse_args(argv)
    folder = None
    url = args.database_url
    if url is None:
        folder = Path(tempfile.mkdtemp(prefix="wash-ops-history-"))
        url = f"sqlite:///{folder / 'history.sqlite'}"
    try:
        engine = make_engine(url)
        if inspect(engine).get_table_names():
            print(f"{engine.url!r} already has tables: give an empty database", file=sys.stderr)
            return 2
        upgrade(url)
        settings = load_settings(overrides={"app": {"database_url": url}})
        factory = make_session_factory(engine)
        with unit_of_work(factory) as session:
            sync_from_settings(session, settings)
            line_id = main_line(session, settings).id
        if args.backfill_days > 0:
            _time_backfill(factory, settings, line_id, args.backfill_days, args.seed)
            engine.dispose()
            return 0
        figures = write_year_of_rollups(
            factory,
            settings,
            load_register_map(),
            line_id,
            utcnow(),
            days=args.days,
            minute_days=args.minute_days,
            seed=args.seed,
        )
        rows = ", ".join(f"{count:,} {table}" for table, count in figures.rows.items())
        print(
            f"{args.days} days of history ({args.minute_days} with minute roll-ups) on "
            f"{engine.dialect.name}: {rows} in {figures.seconds:.1f} s"
        )
        engine.dispose()
    finally:
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


def _time_backfill(
    factory: sessionmaker[Session], settings: Settings, line_id: int, days: int, seed: int
) -> None:
    from plc.history import backfill
    from plc.line_model import LineModel

    end = utcnow()
    today = end.astimezone(settings.zone).date()
    start = datetime.combine(today - timedelta(days=days), datetime.min.time(), settings.zone)
    profile = default_profile(settings)
    model_started = time.perf_counter()
    model = LineModel(profile, seed=seed, start=start, step_s=5)
    model.advance((end - start).total_seconds())
    model_s = time.perf_counter() - model_started
    result = backfill(factory, settings, load_register_map(), line_id, start, end, seed=seed)
    rows = ", ".join(f"{count:,} {table}" for table, count in result.rows.items())
    print(f"backfill of {days} days and today ({result.days} transactions): {rows}")
    print(
        f"backfill {result.seconds:.1f} s; the line model alone over the span {model_s:.1f} s "
        f"(x{result.seconds / model_s:.1f})"
    )


if __name__ == "__main__":
    sys.exit(main())
