"""Schema changes go through Alembic: from empty to head, back, and in step with the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from tests.conftest import fresh_postgres_database
from wash_ops.db import make_engine
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
