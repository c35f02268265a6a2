"""Database plumbing: the declarative base, a UTC timestamp type, engines and sessions."""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, Enum, MetaData, create_engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, hands back aware UTC, and refuses naive input (whose zone is a guess)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store timezone-aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def make_engine(url: str, **kwargs: object) -> Engine:
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: object) -> None:
    """Let SQLAlchemy, not pysqlite, decide when transactions begin, so that savepoints and
    rollbacks behave as on PostgreSQL (the recipe from SQLAlchemy's SQLite notes)."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """BEGIN IMMEDIATE: a transaction takes the write lock when it starts, waiting up to the busy
    timeout for it. A deferred BEGIN that reads first and writes later fails at once with
    "database is locked" while the worker writes readings, since SQLite cannot let it wait."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def unit_of_work(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def str_enum(cls: type[enum.Enum], name: str) -> Enum:
    """An enum stored as its string value with a CHECK constraint (portable across databases)."""
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=24,
        values_callable=lambda members: [member.value for member in members],
    )


def driver_time(at: datetime, sqlite: bool) -> object:
    """``at`` as UTCDateTime stores it, for a driver-level insert: naive UTC (on SQLite the
    text SQLAlchemy writes)."""
    if at.tzinfo is None:
        raise ValueError("naive datetime given; store timezone-aware datetimes")
    naive = (at if at.tzinfo is UTC else at.astimezone(UTC)).replace(tzinfo=None)
    return naive.isoformat(" ", "microseconds") if sqlite else naive


def bulk_insert(
    connection: Connection, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]
) -> None:
    """Rows already in the database's terms (see ``driver_time``) straight to the driver: COPY
    on PostgreSQL, executemany elsewhere; no per-row work in SQLAlchemy. ``table`` and
    ``columns`` are the caller's constants, never input."""
    if not rows:
        return
    names = ", ".join(columns)
    if connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        with (
            driver.cursor() as cursor,
            cursor.copy(  # type: ignore[union-attr]
                f"COPY {table} ({names}) FROM STDIN"
            ) as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    marks = ", ".join([marker] * len(columns))
    connection.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608 - constant names
