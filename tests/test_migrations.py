"""Schema changes go through Alembic: from empty to head, back, and in step with the models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from tests.conftest import fresh_postgres_database
from wash_ops.db import UTCDateTime, make_engine
from wash_ops.migrate import current_heads, downgrade, upgrade
from wash_ops.models import Base


def test_database_of_this_run_is_at_head(engine):
    with engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_heads() == current_heads()


def test_models_and_migrations_agree(engine):
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrade_from_empty_and_back(backend, tmp_path):
    if backend == "sqlite":
        _round_trip(f"sqlite:///{tmp_path / 'empty.sqlite'}")
        return
    with fresh_postgres_database("migrations") as url:
        _round_trip(url)


def _round_trip(url: str) -> None:
    engine = make_engine(url)
    try:
        assert inspect(engine).get_table_names() == []
        upgrade(url)
        tables = set(inspect(engine).get_table_names())
        assert {"orders", "order_lines", "events", "users", "organisations", "cup_types"} <= tables
        downgrade(url, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(url)
        assert set(inspect(engine).get_table_names()) == tables
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_line_readings_keep_the_samples_and_increments_both_ways(backend, tmp_path):
    """0010 merges gauge samples and counter increments of one line and moment into one
    reading; its downgrade splits them back into the rows they were."""
    if backend == "sqlite":
        _samples_and_increments_round_trip(f"sqlite:///{tmp_path / 'readings.sqlite'}")
        return
    with fresh_postgres_database("migrations") as url:
        _samples_and_increments_round_trip(url)


_sites = sa.table(
    "sites",
    sa.column("id", sa.Integer),
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("address", sa.String),
    sa.column("lat", sa.Double),
    sa.column("lon", sa.Double),
    sa.column("timezone", sa.String),
)
_lines = sa.table(
    "lines",
    sa.column("id", sa.Integer),
    sa.column("site_id", sa.Integer),
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("capacity_per_day", sa.Integer),
)
_samples = sa.table(
    "tag_samples",
    sa.column("line_id", sa.Integer),
    sa.column("tag", sa.String),
    sa.column("at", UTCDateTime),
    sa.column("value", sa.Float),
)
_increments = sa.table(
    "counter_increments",
    sa.column("line_id", sa.Integer),
    sa.column("tag", sa.String),
    sa.column("at", UTCDateTime),
    sa.column("delta", sa.BigInteger),
)
_readings = sa.table(
    "line_readings",
    sa.column("id", sa.Integer),
    sa.column("line_id", sa.Integer),
    sa.column("at", UTCDateTime),
    sa.column("gauges", sa.JSON),
    sa.column("counts", sa.JSON),
)


def _samples_and_increments_round_trip(url: str) -> None:
    t0 = datetime(2026, 11, 17, 8, 0, tzinfo=UTC)
    t1, t2 = t0 + timedelta(seconds=1), t0 + timedelta(seconds=2)
    samples = [
        {"line_id": 1, "tag": "speed", "at": t0, "value": 3500.0},
        {"line_id": 1, "tag": "wash_temperature", "at": t0, "value": 60.5},
        {"line_id": 1, "tag": "speed", "at": t1, "value": 3510.0},
        {"line_id": 2, "tag": "speed", "at": t0, "value": 2900.0},
    ]
    increments = [
        {"line_id": 1, "tag": "cups_washed", "at": t0, "delta": 7},
        {"line_id": 1, "tag": "cups_rejected", "at": t2, "delta": 1},
    ]
    engine = make_engine(url)
    try:
        upgrade(url, "0009_routing")
        with engine.begin() as connection:
            connection.execute(
                sa.insert(_sites),
                [
                    {
                        "id": 1,
                        "code": "GEN",
                        "name": "Gent",
                        "address": "",
                        "lat": 51.05,
                        "lon": 3.72,
                        "timezone": "Europe/Brussels",
                    }
                ],
            )
            connection.execute(
                sa.insert(_lines),
                [
                    {
                        "id": n,
                        "site_id": 1,
                        "code": f"L{n}",
                        "name": f"Lijn {n}",
                        "capacity_per_day": 50_000,
                    }
                    for n in (1, 2)
                ],
            )
            connection.execute(sa.insert(_samples), samples)
            connection.execute(sa.insert(_increments), increments)

        upgrade(url)
        assert not {"tag_samples", "counter_increments"} & set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            readings = connection.execute(
                sa.select(
                    _readings.c.line_id, _readings.c.at, _readings.c.gauges, _readings.c.counts
                ).order_by(_readings.c.line_id, _readings.c.at)
            ).all()
        assert [tuple(reading) for reading in readings] == [
            (1, t0, {"speed": 3500.0, "wash_temperature": 60.5}, {"cups_washed": 7}),
            (1, t1, {"speed": 3510.0}, {}),
            (1, t2, {}, {"cups_rejected": 1}),
            (2, t0, {"speed": 2900.0}, {}),
        ]

        downgrade(url, "0009_routing")
        assert "line_readings" not in inspect(engine).get_table_names()
        with engine.connect() as connection:
            back_samples = connection.execute(sa.select(_samples)).mappings().all()
            back_increments = connection.execute(sa.select(_increments)).mappings().all()

        def ordered(rows):
            return sorted(
                (dict(row) for row in rows), key=lambda row: (row["line_id"], row["at"], row["tag"])
            )

        assert ordered(back_samples) == ordered(samples)
        assert ordered(back_increments) == ordered(increments)
    finally:
        engine.dispose()
