"""Telemetry history benchmark: a year of roll-ups, then the status and series queries a screen
waits for, timed against a primary-key read.

What it does, in one run:

1. builds a fresh database (Alembic migrations, the configured line);
2. loads, timed on its own, what a year of one-second samples of the default register map
   would have left behind, for its counter and gauge tags (10 tags), the line running around
   the clock (the most rows a year can make):
   - minute, hour and day roll-ups (``tag_rollups``) for ``--days`` days up to now: 1,440
     minute rows per tag and day (525,600 per tag for a year), the hour and day rows being the
     aggregates of the minute rows. Hours are UTC hours, days the site's local days (23 or 25
     hours on DST changes), as ``roll_up`` makes them. Rows go in in time order, tags
     interleaved, as the roll-up job writes them, with SQLAlchemy Core ``executemany`` a day
     at a time, in one transaction;
   - ``--raw-hours`` (24) of raw one-second readings for the same tags (``line_readings``: a
     row a second with every gauge's value and every counter's increment), Core
     ``executemany`` too;
   - the line's ``LineLive`` row, its ``CounterCursor`` rows and ``RollupCursor`` rows, and
     ``--alarms-per-day`` alarms a day over the period (all returned and acknowledged but for
     two active and three unacknowledged ones);
   on PostgreSQL it then runs ``VACUUM ANALYZE``, the state autovacuum reaches after a bulk
   load (SQLite is left as the application leaves it: no ``ANALYZE``);
3. times, interleaved ``--repeat`` times, each round in a fresh session whose connection is
   taken and whose transaction is begun (``SELECT 1``) before the clock starts:
   - **the reference**: a primary-key read, ``session.get(TagRollup, pk)`` of one minute roll-up;
   - ``line_status`` (what the line screen polls);
   - ``tag_series`` with ``resolution="auto"`` over the last day (a gauge and a counter: 1,440
     minute points), week and month (hour points) and year (day points), and a raw hour
     (3,600 one-second samples);
   - a plain Core SELECT of the rows behind the day's gauge series, to show what
     ``tag_series`` adds on top of fetching them.

It prints the figures, each query's ratio to the primary-key read, and a PASS/FAIL line for the
requirement "the day's series comes back in under 100 ms" (median of both day series). It is a
benchmark, not a test: it exits 0 whatever the figures, and non-zero only when it crashes.

    .venv/bin/python bench/telemetry_history.py
    .venv/bin/python bench/telemetry_history.py --days 30 --repeat 10
    .venv/bin/python bench/telemetry_history.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/wash_ops_bench

A PostgreSQL database must exist and be empty; the script refuses one that already has tables.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, insert, inspect, select, text
from sqlalchemy.orm import Session, sessionmaker

from wash_ops.catalogue.services import sync_from_settings
from wash_ops.config import Settings, load_settings
from wash_ops.db import make_engine, make_session_factory, unit_of_work, utcnow
from wash_ops.migrate import upgrade
from wash_ops.telemetry.models import (
    Alarm,
    CounterCursor,
    LineLive,
    LineReading,
    Resolution,
    RollupCursor,
    TagRollup,
)
from wash_ops.telemetry.packml import PackMLState
from wash_ops.telemetry.queries import line_status, tag_series
from wash_ops.telemetry.register_map import RegisterMap, Tag, TagRole, load_register_map
from wash_ops.telemetry.rollups import bucket_start

LIMIT_MS = 100.0
GAUGE = "wash_temperature"
COUNTER = "cups_washed"
MINUTE = timedelta(minutes=1)
SECONDS_PER_MINUTE = 60
# Per tag: (level, daily swing, noise) of a gauge's value, or of a counter's raw units a minute.
PROFILES = {
    "stop_reason": (0.0, 0.0, 0.0),
    "speed": (3_150.0, 150.0, 40.0),
    "speed_setpoint": (3_220.0, 0.0, 0.0),
    "wash_temperature": (60.0, 1.5, 0.4),
    "rinse_temperature": (85.0, 1.0, 0.3),
    "detergent_level": (55.0, 30.0, 0.5),
    "cups_washed": (52.0, 4.0, 3.0),
    "cups_rejected": (0.6, 0.2, 0.8),
    "water": (13.0, 1.0, 1.0),
    "energy": (90.0, 10.0, 5.0),
}

T = TypeVar("T")


# --- options ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    days: int
    raw_hours: int
    alarms_per_day: int
    database_url: str | None
    repeat: int
    seed: int


def setup(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365, help="days of roll-ups (365)")
    parser.add_argument(
        "--raw-hours", type=int, default=24, help="hours of one-second raw data (24)"
    )
    parser.add_argument(
        "--alarms-per-day", type=int, default=20, help="alarm occurrences a day (20)"
    )
    parser.add_argument(
        "--database-url",
        help="an empty database (default: a temporary SQLite file), e.g. "
        "postgresql+psycopg://postgres@127.0.0.1:5432/wash_ops_bench",
    )
    parser.add_argument("--repeat", type=int, default=30, help="timed repeats per query (30)")
    parser.add_argument("--seed", type=int, default=2027, help="random seed of the values")
    args = parser.parse_args(argv)
    if args.days < 2 or args.repeat < 1 or not 1 <= args.raw_hours <= 24 * args.days:
        parser.error("need --days >= 2, --repeat >= 1 and 1 <= --raw-hours <= 24 x --days")
    if args.alarms_per_day < 0:
        parser.error("need --alarms-per-day >= 0")
    return Options(
        args.days,
        args.raw_hours,
        args.alarms_per_day,
        args.database_url,
        args.repeat,
        args.seed,
    )


# --- timing -------------------------------------------------------------------------------


@dataclass
class Timing:
    label: str
    samples_ms: list[float] = field(default_factory=list)
    rows: int = 0

    def add(self, started_ns: int) -> None:
        self.samples_ms.append((time.perf_counter_ns() - started_ns) / 1e6)

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p95(self) -> float:
        if len(self.samples_ms) < 2:
            return self.samples_ms[0]
        return statistics.quantiles(self.samples_ms, n=20, method="inclusive")[18]


def timed(timing: Timing, action: Callable[[], T]) -> T:
    started = time.perf_counter_ns()
    result = action()
    timing.add(started)
    return result


# --- the database -------------------------------------------------------------------------


@contextmanager
def database(url: str | None) -> Iterator[str]:
    """The given (empty) database, or a temporary SQLite file removed afterwards."""
    if url is not None:
        yield url
        return
    folder = Path(tempfile.mkdtemp(prefix="wash-ops-bench-"))
    try:
        yield f"sqlite:///{folder / 'telemetry.sqlite'}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def prepare(url: str) -> None:
    """Refuse a database that has tables (this is not for real data), then migrate it."""
    probe = make_engine(url)
    try:
        if inspect(probe).get_table_names():
            raise SystemExit(f"{probe.url!r} already has tables: give an empty database")
    finally:
        probe.dispose()
    upgrade(url)


# --- the history --------------------------------------------------------------------------


class Waves:
    """Cheap, repeatable values: a daily swing (precomputed per minute of the day) plus noise."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.daily = [math.sin(2 * math.pi * (m - 360) / 1440) for m in range(1440)]

    def gauge(self, name: str, minute_of_day: int) -> tuple[float, float, float, float]:
        """(mean, minimum, maximum, last) of a minute of one-second samples."""
        level, swing, noise = PROFILES[name]
        mean = level + swing * self.daily[minute_of_day] + noise * (self.rng.random() - 0.5)
        spread = noise * 1.5
        return mean, mean - spread, mean + spread, mean + spread * (self.rng.random() - 0.5)

    def counter(self, name: str, minute_of_day: int) -> int:
        """Raw units a counter added in one minute."""
        level, swing, noise = PROFILES[name]
        return max(0, round(level + swing * self.daily[minute_of_day] + noise * self.rng.random()))


@dataclass
class Bucket:
    count: int
    total: float
    minimum: float
    maximum: float
    last: float

    def add(self, count: int, total: float, minimum: float, maximum: float, last: float) -> None:
        self.count += count
        self.total += total
        self.minimum = min(self.minimum, minimum)
        self.maximum = max(self.maximum, maximum)
        self.last = last


@dataclass
class LoadFigures:
    rollup_rows: dict[Resolution, int] = field(default_factory=dict)
    rollup_seconds: float = 0.0
    raw_rows: int = 0
    raw_values: int = 0
    raw_seconds: float = 0.0
    other_rows: int = 0
    other_seconds: float = 0.0
    vacuum_seconds: float | None = None
    size_bytes: int | None = None

    @property
    def rollups(self) -> int:
        return sum(self.rollup_rows.values())


def series_tags(register_map: RegisterMap) -> list[Tag]:
    return [tag for tag in register_map.tags if tag.role in (TagRole.COUNTER, TagRole.GAUGE)]


def load_rollups(
    engine: Engine,
    line_id: int,
    tags: Sequence[Tag],
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    waves: Waves,
) -> dict[Resolution, int]:
    """Minute roll-ups for every minute in [start, end), with the hour and day roll-ups that
    ``roll_up`` would have made of them (complete buckets before ``end`` only), a day of
    minutes per executemany, all in one transaction."""
    table = TagRollup.__table__
    statement = insert(table)
    written = dict.fromkeys(Resolution, 0)
    hour_end = bucket_start(end, Resolution.HOUR, zone)
    day_end = bucket_start(end, Resolution.DAY, zone)
    open_buckets: dict[Resolution, tuple[datetime, dict[str, Bucket]]] = {}
    rows: list[dict[str, object]] = []
    minute = start
    with engine.begin() as connection:
        while minute < end:
            local = minute.astimezone(zone)
            minute_of_day = local.hour * 60 + local.minute
            values = _minute_values(tags, waves, minute_of_day)
            for name, (count, total, minimum, maximum, last) in values.items():
                rows.append(
                    _row(line_id, name, Resolution.MINUTE, minute, count, total, minimum, maximum)
                    | {"last": last}
                )
            written[Resolution.MINUTE] += len(values)
            for resolution, limit in ((Resolution.HOUR, hour_end), (Resolution.DAY, day_end)):
                bucket = bucket_start(minute, resolution, zone)
                current = open_buckets.get(resolution)
                if current is not None and current[0] != bucket:
                    rows.extend(_closed(line_id, resolution, *current))
                    written[resolution] += len(current[1])
                    del open_buckets[resolution]
                    current = None
                if current is None:
                    if bucket >= limit:  # the bucket of ``end`` is not complete: not rolled up
                        continue
                    current = (bucket, {})
                    open_buckets[resolution] = current
                for name, (count, total, minimum, maximum, last) in values.items():
                    if name in current[1]:
                        current[1][name].add(count, total, minimum, maximum, last)
                    else:
                        current[1][name] = Bucket(count, total, minimum, maximum, last)
            if minute_of_day == 1439 or len(rows) >= 20_000:
                connection.execute(statement, rows)
                rows = []
            minute += MINUTE
        for resolution, (bucket, aggregates) in open_buckets.items():
            limit = hour_end if resolution is Resolution.HOUR else day_end
            if bucket < limit:
                rows.extend(_closed(line_id, resolution, bucket, aggregates))
                written[resolution] += len(aggregates)
        if rows:
            connection.execute(statement, rows)
    return written


def _minute_values(
    tags: Sequence[Tag], waves: Waves, minute_of_day: int
) -> dict[str, tuple[int, float, float, float, float]]:
    """(count, total, minimum, maximum, last) of each tag's one-second data in one minute."""
    values = {}
    for tag in tags:
        if tag.role is TagRole.COUNTER:
            delta = waves.counter(tag.name, minute_of_day)
            count = min(delta, SECONDS_PER_MINUTE)  # increments: seconds in which it counted
            step = delta / count if count else 0.0
            values[tag.name] = (count, float(delta), float(math.floor(step)), math.ceil(step), step)
        else:
            mean, minimum, maximum, last = waves.gauge(tag.name, minute_of_day)
            values[tag.name] = (
                SECONDS_PER_MINUTE,
                mean * SECONDS_PER_MINUTE,
                minimum,
                maximum,
                last,
            )
    return values


def _row(
    line_id: int,
    tag: str,
    resolution: Resolution,
    bucket: datetime,
    count: int,
    total: float,
    minimum: float,
    maximum: float,
) -> dict[str, object]:
    return {
        "line_id": line_id,
        "tag": tag,
        "resolution": resolution,
        "bucket": bucket,
        "count": count,
        "total": total,
        "minimum": minimum,
        "maximum": maximum,
    }


def _closed(
    line_id: int, resolution: Resolution, bucket: datetime, aggregates: dict[str, Bucket]
) -> list[dict[str, object]]:
    return [
        _row(line_id, name, resolution, bucket, a.count, a.total, a.minimum, a.maximum)
        | {"last": a.last}
        for name, a in aggregates.items()
    ]


def load_raw(
    engine: Engine,
    line_id: int,
    tags: Sequence[Tag],
    start: datetime,
    end: datetime,
    waves: Waves,
) -> tuple[int, int]:
    """One reading a second in [start, end), time order: every gauge's value and every
    counter's increment. Returns (readings, values in them)."""
    gauges = [tag.name for tag in tags if tag.role is TagRole.GAUGE]
    counters = [tag.name for tag in tags if tag.role is TagRole.COUNTER]
    statement = insert(LineReading.__table__)
    readings: list[dict[str, object]] = []
    written = values = 0
    second = timedelta(seconds=1)
    at = start
    with engine.begin() as connection:
        while at < end:
            minute_of_day = (at.hour * 60 + at.minute) % 1440
            reading_gauges = {name: waves.gauge(name, minute_of_day)[0] for name in gauges}
            counts = {
                name: max(1, round(waves.counter(name, minute_of_day) / SECONDS_PER_MINUTE))
                for name in counters
            }
            readings.append(
                {"line_id": line_id, "at": at, "gauges": reading_gauges, "counts": counts}
            )
            values += len(reading_gauges) + len(counts)
            if len(readings) >= 5_000:
                connection.execute(statement, readings)
                written += len(readings)
                readings = []
            at += second
        if readings:
            connection.execute(statement, readings)
        written += len(readings)
    return written, values


def load_live(
    engine: Engine,
    factory: sessionmaker[Session],
    settings: Settings,
    register_map: RegisterMap,
    line_id: int,
    start: datetime,
    now: datetime,
    alarms_per_day: int,
    rng: random.Random,
) -> int:
    """The line's live row and counter cursors as a running worker leaves them, roll-up
    cursors, and a period of alarms: all handled but two active and three unacknowledged."""
    zone = settings.zone
    rows = 0
    with unit_of_work(factory) as session:
        values: dict[str, float] = {}
        for tag in register_map.tags:
            level = PROFILES.get(tag.name, (0.0, 0.0, 0.0))[0]
            values[tag.name] = level * tag.scale if tag.role is TagRole.COUNTER else level
        session.add(
            LineLive(
                line_id=line_id,
                last_attempt_at=now,
                last_good_at=now,
                last_failure="",
                heartbeat=12_345,
                heartbeat_changed_at=now,
                state=int(PackMLState.EXECUTE),
                state_since=now - timedelta(hours=3),
                values=values,
                good_readings=int((now - start).total_seconds()),
                failed_readings=3,
                rejected_values=0,
            )
        )
        today = now.astimezone(zone).date()
        for tag in register_map.with_role(TagRole.COUNTER):
            per_minute = PROFILES[tag.name][0]
            minutes = (now - start).total_seconds() / 60
            session.add(
                CounterCursor(
                    line_id=line_id,
                    tag=tag.name,
                    raw=int(per_minute * minutes) % tag.counter_modulus,
                    at=now,
                    total=int(per_minute * minutes),
                    day=today,
                    day_total=int(per_minute * 60 * now.astimezone(zone).hour),
                )
            )
        for resolution in Resolution:
            done = bucket_start(now, resolution, zone)
            session.add(RollupCursor(line_id=line_id, resolution=resolution, done_until=done))
        rows += 1 + len(register_map.with_role(TagRole.COUNTER)) + len(Resolution)
    alarms = _alarm_rows(register_map, line_id, start, now, alarms_per_day, rng)
    if alarms:
        with engine.begin() as connection:
            connection.execute(insert(Alarm), alarms)
    return rows + len(alarms)


def _alarm_rows(
    register_map: RegisterMap,
    line_id: int,
    start: datetime,
    now: datetime,
    per_day: int,
    rng: random.Random,
) -> list[dict[str, object]]:
    days = (now - start).days
    total = per_day * days
    rows = []
    for number in range(total):
        definition = rng.choice(register_map.alarms)
        raised = start + timedelta(seconds=rng.uniform(0, (now - start).total_seconds() - 3600))
        returned: datetime | None = raised + timedelta(seconds=rng.uniform(5, 900))
        acknowledged: datetime | None = raised + timedelta(seconds=rng.uniform(10, 1800))
        if number >= total - 5:  # the newest five still want attention
            raised = now - timedelta(minutes=10 * (total - number))
            returned = None if number >= total - 2 else raised + timedelta(minutes=2)
            acknowledged = raised + timedelta(minutes=1) if number == total - 1 else None
        rows.append(
            {
                "line_id": line_id,
                "code": definition.code,
                "bit": definition.bit,
                "severity": definition.severity.value,
                "raised_at": raised,
                "returned_at": returned,
                "acknowledged_at": acknowledged,
            }
        )
    return rows


def vacuum_analyze(engine: Engine) -> float | None:
    """PostgreSQL: VACUUM ANALYZE, as autovacuum would leave the tables; SQLite: nothing."""
    if engine.dialect.name != "postgresql":
        return None
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE")
    return time.perf_counter() - started


def database_size(engine: Engine, url: str) -> int | None:
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            return connection.scalar(text("SELECT pg_database_size(current_database())"))
    if engine.dialect.name == "sqlite" and engine.url.database:
        path = Path(engine.url.database)
        return path.stat().st_size if path.exists() else None
    return None


# --- the queries --------------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    label: str
    run: Callable[[Session], int]  # returns the rows (points, alarms) it got


def queries(
    register_map: RegisterMap,
    settings: Settings,
    line_id: int,
    now: datetime,
    reference_pk: tuple[int, str, Resolution, datetime],
) -> tuple[Query, list[Query]]:
    stale_after = timedelta(seconds=settings.telemetry.stale_after_s)
    zone = settings.zone

    def pk_read(session: Session) -> int:
        return int(session.get(TagRollup, reference_pk) is not None)

    def status(session: Session) -> int:
        found = line_status(session, line_id, register_map, now, stale_after, zone)
        if found.stale:
            raise RuntimeError(f"the line shows stale ({found.stale_reason}): check the data")
        return len(found.alarms)

    def series(tag: str, span: timedelta, resolution: str, session: Session) -> int:
        found = tag_series(session, line_id, register_map, tag, now - span, now, resolution)
        return len(found.points)

    def plain_day(session: Session) -> int:
        rollups = TagRollup.__table__
        query = select(
            rollups.c.bucket, rollups.c.count, rollups.c.total, rollups.c.minimum, rollups.c.maximum
        ).where(
            rollups.c.line_id == line_id,
            rollups.c.tag == GAUGE,
            rollups.c.resolution == Resolution.MINUTE,
            rollups.c.bucket >= now - timedelta(days=1),
            rollups.c.bucket < now,
        )
        return len(session.execute(query).all())

    day, week, month, year = (timedelta(days=n) for n in (1, 7, 30, 365))
    return Query("primary-key read (reference)", pk_read), [
        Query("line_status", status),
        Query(f"tag_series day, {GAUGE}", partial(series, GAUGE, day, "auto")),
        Query(f"tag_series day, {COUNTER}", partial(series, COUNTER, day, "auto")),
        Query(f"tag_series week, {GAUGE}", partial(series, GAUGE, week, "auto")),
        Query(f"tag_series 30 days, {GAUGE}", partial(series, GAUGE, month, "auto")),
        Query(f"tag_series year, {GAUGE}", partial(series, GAUGE, year, "auto")),
        Query(f"tag_series raw hour, {GAUGE}", partial(series, GAUGE, timedelta(hours=1), "raw")),
        Query("plain SELECT of the day's minute rows", plain_day),
    ]


@dataclass
class QueryFigures:
    reference: Timing
    timings: list[Timing]

    def by_label(self, label: str) -> Timing:
        return next(timing for timing in self.timings if timing.label == label)


def time_queries(
    factory: sessionmaker[Session], reference: Query, others: list[Query], repeat: int
) -> QueryFigures:
    """Interleave the reference and the queries, a fresh session per round (a request); the
    session's connection is taken and its transaction begun before the clock starts."""
    figures = QueryFigures(Timing(reference.label), [Timing(query.label) for query in others])
    for _ in range(repeat):
        with factory() as session:
            session.execute(select(1))  # checks out the connection and begins (PostgreSQL)
            figures.reference.rows = timed(figures.reference, partial(reference.run, session))
            for timing, query in zip(figures.timings, others, strict=True):
                timing.rows = timed(timing, partial(query.run, session))
    return figures


# --- the run ------------------------------------------------------------------------------


@dataclass
class Report:
    database: str
    tags: list[str]
    start: datetime
    now: datetime
    load: LoadFigures
    queries: QueryFigures

    @property
    def day_series(self) -> list[Timing]:
        return [t for t in self.queries.timings if t.label.startswith("tag_series day")]

    @property
    def passed(self) -> bool:
        return all(timing.median < LIMIT_MS for timing in self.day_series)


def run(options: Options) -> Report:
    settings = load_settings(environ={})
    register_map = load_register_map(environ={})
    with database(options.database_url) as url:
        prepare(url)
        engine = make_engine(url)
        try:
            return _run_on(engine, url, settings, register_map, options)
        finally:
            engine.dispose()


def _run_on(
    engine: Engine,
    url: str,
    settings: Settings,
    register_map: RegisterMap,
    options: Options,
) -> Report:
    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        line_id = sync_from_settings(session, settings).id
    zone = settings.zone
    now = utcnow().replace(second=0, microsecond=0)
    start = now - timedelta(days=options.days)
    tags = series_tags(register_map)
    waves = Waves(options.seed)
    load = LoadFigures()

    started = time.perf_counter()
    load.rollup_rows = load_rollups(engine, line_id, tags, start, now, zone, waves)
    load.rollup_seconds = time.perf_counter() - started

    started = time.perf_counter()
    load.raw_rows, load.raw_values = load_raw(
        engine, line_id, tags, now - timedelta(hours=options.raw_hours), now, waves
    )
    load.raw_seconds = time.perf_counter() - started

    started = time.perf_counter()
    rng = random.Random(options.seed)
    load.other_rows = load_live(
        engine, factory, settings, register_map, line_id, start, now, options.alarms_per_day, rng
    )
    load.other_seconds = time.perf_counter() - started
    load.vacuum_seconds = vacuum_analyze(engine)
    load.size_bytes = database_size(engine, url)

    middle = bucket_start(start + (now - start) / 2, Resolution.MINUTE, zone)
    reference_pk = (line_id, GAUGE, Resolution.MINUTE, middle)
    with factory() as session:
        rows = session.scalar(select(func.count()).select_from(TagRollup))
        if rows != load.rollups:
            raise RuntimeError(f"{rows} roll-up rows in the database, {load.rollups} loaded")
    reference, others = queries(register_map, settings, line_id, now, reference_pk)
    figures = time_queries(factory, reference, others, options.repeat)
    return Report(
        database=f"{engine.dialect.name} {_server_version(engine)}",
        tags=[tag.name for tag in tags],
        start=start,
        now=now,
        load=load,
        queries=figures,
    )


def _server_version(engine: Engine) -> str:
    with engine.connect() as connection:
        info = connection.dialect.server_version_info or ()
    return ".".join(str(part) for part in info)


# --- printing -----------------------------------------------------------------------------


def print_report(report: Report, options: Options) -> None:
    load, figures = report.load, report.queries
    print(
        f"wash-ops telemetry history benchmark - {report.database}, "
        f"Python {platform.python_version()}"
    )
    print(
        f"machine: {platform.machine()}, {_cpus()} CPUs, {platform.platform(terse=True)}, "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"history: {options.days} days of roll-ups ({report.start:%Y-%m-%d %H:%M} .. "
        f"{report.now:%Y-%m-%d %H:%M} UTC) for {len(report.tags)} tags "
        f"({', '.join(report.tags)}), the line running around the clock"
    )
    counts = ", ".join(
        f"{rows:,} {resolution.value}" for resolution, rows in load.rollup_rows.items()
    )
    print(
        f"load: {load.rollups:,} roll-up rows ({counts}) in {load.rollup_seconds:.1f} s "
        f"({load.rollups / load.rollup_seconds:,.0f} rows/s; Core executemany, 1 transaction)"
    )
    print(
        f"      {load.raw_rows:,} raw readings ({load.raw_values:,} values: {options.raw_hours} h "
        f"of one-second gauge values and counter increments) in {load.raw_seconds:.1f} s; "
        f"{load.other_rows:,} live, cursor and alarm rows in {load.other_seconds:.1f} s"
    )
    after = []
    if load.vacuum_seconds is not None:
        after.append(f"VACUUM ANALYZE {load.vacuum_seconds:.1f} s")
    if load.size_bytes is not None:
        after.append(f"database {load.size_bytes / 2**20:,.0f} MiB")
    if after:
        print(f"      {', '.join(after)}")
    reference = figures.reference.median
    print(f"queries, {options.repeat} interleaved repeats, a fresh session each (ms):")
    _line(figures.reference, f"{figures.reference.rows} row")
    for timing in figures.timings:
        unit = "alarms" if timing.label == "line_status" else "points"
        if timing.label.startswith("plain"):
            unit = "rows"
        _line(timing, f"x{timing.median / reference:.1f} pk read; {timing.rows:,} {unit}")
    medians = " and ".join(f"{timing.median:.1f} ms" for timing in report.day_series)
    print(
        f"{'PASS' if report.passed else 'FAIL'}: day series median {medians} "
        f"({GAUGE} / {COUNTER}), limit {LIMIT_MS:.0f} ms, on {options.days} days of roll-ups"
    )


def _line(timing: Timing, note: str = "") -> None:
    print(
        f"  {timing.label:<40} median {timing.median:8.2f}  p95 {timing.p95:8.2f}"
        + (f"  ({note})" if note else "")
    )


def _cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


def main(argv: Sequence[str] | None = None) -> int:
    options = setup(argv)
    print_report(run(options), options)
    return 0


if __name__ == "__main__":
    sys.exit(main())
