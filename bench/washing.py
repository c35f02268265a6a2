"""Wash batch benchmark: what the line screen pays to show the batch on the line.

``running_batch`` is called by the supervisor's screen every couple of seconds. Its cost grows
with the batch: the hygiene record so far is a window over every temperature reading since the
start, the counts a sum over every counter increment. This script builds a fresh database with
a day of readings at 1 Hz before the batch (so the tables are not trivially small), starts a
batch, adds readings for ``--hours`` hours of it (wash and rinse temperatures and the washed and
rejected counters every second), and then times, interleaved ``--repeat`` times:

- ``running_batch`` one minute into the batch and at the end of the ``--hours``;
- ``dirty_backlog`` (the batch page's list);
- once, the hygiene record of the whole batch as ``end_batch`` computes it (no cache);
- the reference: a plain SELECT of one row by primary key through the same session.

It prints median and p95 per query and the ratio to the reference. It is a benchmark, not a
test: it exits 0 whatever the figures.

    .venv/bin/python bench/washing.py
    .venv/bin/python bench/washing.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/wash_ops_bench_washing

A PostgreSQL database must exist and be empty.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, inspect, select
from sqlalchemy.orm import Session

from wash_ops.accounts.models import Organisation, OrganisationStatus, Role
from wash_ops.accounts.services import create_user
from wash_ops.catalogue.models import Line
from wash_ops.catalogue.services import main_line, sync_from_settings
from wash_ops.config import load_settings
from wash_ops.db import make_engine, make_session_factory, unit_of_work
from wash_ops.inventory.journey import (
    deliver_order,
    load_order,
    pick_up_order,
    receive_returns,
)
from wash_ops.inventory.ledger import receive_into_stock
from wash_ops.inventory.locations import create_location
from wash_ops.inventory.models import LocationKind
from wash_ops.inventory.reservations import reserve_for_order
from wash_ops.migrate import upgrade
from wash_ops.orders.models import Carrier, OrderStatus, Service
from wash_ops.orders.services import EventInput, OrderInput, create_event, create_order
from wash_ops.telemetry.models import LineReading
from wash_ops.washing.readings import temperature_record
from wash_ops.washing.services import dirty_backlog, running_batch, start_batch

T0 = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{Path(folder) / 'bench.sqlite'}"
        engine = make_engine(url)
        if inspect(engine).get_table_names():
            print("the database is not empty; give an empty one", file=sys.stderr)
            return 2
        upgrade(url)
        factory = make_session_factory(engine)
        settings = load_settings(environ={})
        started = time.perf_counter()
        line_id = _prepare(factory, settings, args.hours)
        print(f"set-up: {time.perf_counter() - started:.1f} s on {engine.dialect.name}")
        with factory() as session:
            end = T0 + timedelta(hours=args.hours)
            line = session.get_one(Line, line_id)
            queries: dict[str, Callable[[], object]] = {
                "reference: one row by key": lambda: session.execute(
                    select(Line.id).where(Line.id == line_id)
                ).one(),
                "running_batch, 1 minute in": lambda: running_batch(
                    session, line_id, T0 + timedelta(minutes=1)
                ),
                f"running_batch, {args.hours} h in": lambda: running_batch(session, line_id, end),
                "dirty_backlog": lambda: dirty_backlog(session, settings, line, end),
            }
            begin = time.perf_counter()
            for tag in ("wash_temperature", "rinse_temperature"):
                temperature_record(session, line_id, tag, T0, end, 82.0, timedelta(seconds=10))
            full = (time.perf_counter() - begin) * 1000
            timings = {name: [] for name in queries}
            for _ in range(args.repeat):
                for name, query in queries.items():
                    begin = time.perf_counter()
                    query()
                    timings[name].append((time.perf_counter() - begin) * 1000)
        engine.dispose()
    print(f"the hygiene record of the whole batch, as ending it computes it (once): {full:.0f} ms")
    reference = statistics.median(timings["reference: one row by key"])
    print(f"{'query':34} {'median ms':>10} {'p95 ms':>8} {'× reference':>12}")
    for name, values in timings.items():
        values.sort()
        median = statistics.median(values)
        p95 = values[int(0.95 * (len(values) - 1))]
        print(f"{name:34} {median:10.2f} {p95:8.2f} {median / reference:12.1f}")
    return 0


def _prepare(factory, settings, hours: float) -> int:
    with unit_of_work(factory) as session:
        sync_from_settings(session, settings)
        line = main_line(session, settings)
        order, planner = _received_order(session, settings)
        _readings(session, line.id, T0 - timedelta(days=1), T0)
        start_batch(
            session,
            settings,
            planner,
            line_id=line.id,
            order_id=order.id,
            cup_type="ECO33",
            now=T0,
        )
        _readings(session, line.id, T0, T0 + timedelta(hours=hours))
        return line.id


def _received_order(session: Session, settings):
    organisation = Organisation(name="Bench vzw", status=OrganisationStatus.APPROVED)
    session.add(organisation)
    organiser = create_user(
        session,
        email="o@bench.test",
        name="O",
        password="x" * 12,
        role=Role.ORGANISER,
        organisation=organisation,
    )
    planner = create_user(
        session, email="p@bench.test", name="P", password="x" * 12, role=Role.PLANNER
    )
    create_location(session, code="A", name="Hal A", kind=LocationKind.ZONE)
    receive_into_stock(session, cup_type="ECO33", quantity=50_000, location="A", reason="new")
    earlier = T0 - timedelta(days=20)
    event = create_event(
        session,
        settings,
        organisation,
        EventInput(
            name="Bench",
            starts_at=T0 - timedelta(days=3),
            ends_at=T0 - timedelta(days=2),
            postcode="9000",
        ),
        earlier,
    )
    order = create_order(
        session,
        settings,
        organiser,
        event,
        OrderInput(
            service=Service.RENT_AND_WASH,
            delivery_by=Carrier.COURIER,
            pickup_by=Carrier.COURIER,
            delivery_start=event.starts_at - timedelta(hours=28),
            delivery_end=event.starts_at - timedelta(hours=24),
            pickup_start=event.ends_at + timedelta(hours=2),
            pickup_end=event.ends_at + timedelta(hours=6),
            quantities={"ECO33": 30_000},
            notes="",
        ),
        earlier,
    )
    order.status = OrderStatus.CONFIRMED
    session.flush()
    reserve_for_order(session, order, planner)
    load_order(session, order, planner)
    deliver_order(session, order, planner)
    pick_up_order(session, order, planner)
    receive_returns(
        session,
        order,
        planner,
        returned={"ECO33": 30_000},
        broken={},
        foreign_crates=0,
        location="A",
    )
    return order, planner


def _readings(session: Session, line_id: int, start: datetime, end: datetime) -> None:
    """A reading a second: both temperatures, and the washed and rejected counters (the
    rejected one adds nothing, so only the washed one's increment is stored, as ingest does)."""
    seconds = int((end - start).total_seconds())
    batch = 20_000
    for first in range(0, seconds, batch):
        moments = [start + timedelta(seconds=s) for s in range(first, min(seconds, first + batch))]
        session.execute(
            insert(LineReading.__table__),
            [
                {
                    "line_id": line_id,
                    "at": at,
                    "gauges": {"wash_temperature": 60.2, "rinse_temperature": 84.1},
                    "counts": {"cups_washed": 1},
                }
                for at in moments
            ],
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an empty database (default: a temporary SQLite)")
    parser.add_argument("--hours", type=float, default=8.0, help="length of the batch so far")
    parser.add_argument("--repeat", type=int, default=40)
    return parser


if __name__ == "__main__":
    sys.exit(main())
