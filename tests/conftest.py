"""Fixtures: a fresh database per run (SQLite always, PostgreSQL when
WASH_OPS_TEST_DATABASE_URL is set), a savepoint per test, the app, and factories."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, make_url, text
from sqlalchemy.orm import Session, sessionmaker

from wash_ops.accounts.models import Organisation, OrganisationStatus, Role, User
from wash_ops.accounts.services import create_user
from wash_ops.catalogue.services import active_cup_types, sync_from_settings
from wash_ops.config import Settings, load_settings
from wash_ops.db import make_engine, unit_of_work, utcnow
from wash_ops.inventory.ledger import receive_into_stock
from wash_ops.inventory.locations import create_location
from wash_ops.inventory.models import Location, LocationKind
from wash_ops.migrate import upgrade
from wash_ops.orders.models import Carrier, Event, Order, Service
from wash_ops.orders.services import EventInput, OrderInput, create_event, create_order
from web import create_app

REQUIRE_SERVICES = os.environ.get("WASH_OPS_REQUIRE_SERVICES") == "1"
PASSWORD = "correct horse battery"
STOCK_PER_CUP_TYPE = 500_000


def unavailable(reason: str) -> None:
    """Skip when a service is missing, unless CI requires every service: then fail."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{reason} (WASH_OPS_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
def cheap_argon2() -> Iterator[None]:
    """Real argon2id, with argon2-cffi's profile for tests: production cost is ~0.1 s a hash."""
    from argon2 import PasswordHasher, profiles

    from wash_ops.accounts import passwords

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))
        passwords._dummy_hash.cache_clear()
        yield
    passwords._dummy_hash.cache_clear()


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings(environ={})


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request, tmp_path_factory, settings) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'wash-ops-test.sqlite'}"
        _prepare(url, settings)
        yield url
        return
    with fresh_postgres_database("run") as url:
        _prepare(url, settings)
        yield url


class fresh_postgres_database:  # noqa: N801 - used as a context manager like a function
    """A new, empty PostgreSQL database on the server named by WASH_OPS_TEST_DATABASE_URL."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __enter__(self) -> str:
        base = os.environ.get("WASH_OPS_TEST_DATABASE_URL")
        if not base:
            unavailable("PostgreSQL: WASH_OPS_TEST_DATABASE_URL is not set")
        server = make_url(base).set(drivername="postgresql+psycopg")
        self.name = f"wash_ops_test_{self.label}_{uuid.uuid4().hex[:10]}"
        self.admin = make_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        try:
            with self.admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{self.name}"'))
        except Exception as error:  # noqa: BLE001 - any connection failure means "unavailable"
            self.admin.dispose()
            unavailable(f"PostgreSQL at {server.host}:{server.port} is not reachable: {error}")
        return server.set(database=self.name).render_as_string(hide_password=False)

    def __exit__(self, *_exc: object) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        self.admin.dispose()


def _prepare(url: str, settings: Settings) -> None:
    upgrade(url)
    engine = make_engine(url)
    with unit_of_work(sessionmaker(bind=engine)) as session:
        sync_from_settings(session, settings)
    engine.dispose()


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    connection = engine.connect()
    outer = connection.begin()
    yield connection
    outer.rollback()
    connection.close()


@pytest.fixture
def session_factory(connection: Connection) -> sessionmaker[Session]:
    return sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )


@pytest.fixture
def db(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    session = session_factory()
    yield session
    session.close()


@pytest.fixture
def app_factory(settings, session_factory) -> Callable[..., object]:
    def make(**config: object):
        base = {
            "TESTING": True,
            "SETTINGS": settings,
            "SESSION_FACTORY": session_factory,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
        base.update(config)
        return create_app(base)

    return make


@pytest.fixture
def app(app_factory):
    return app_factory()


@pytest.fixture
def client(app):
    return app.test_client()


# --- factories ----------------------------------------------------------------------------


@pytest.fixture
def make_organisation(db: Session) -> Callable[..., Organisation]:
    def make(name: str = "Festival vzw", approved: bool = True) -> Organisation:
        organisation = Organisation(
            name=name,
            status=OrganisationStatus.APPROVED if approved else OrganisationStatus.PENDING,
        )
        db.add(organisation)
        db.flush()
        return organisation

    return make


@pytest.fixture
def make_user(db: Session, make_organisation) -> Callable[..., User]:
    def make(
        role: Role = Role.ORGANISER,
        organisation: Organisation | None = None,
        email: str | None = None,
    ) -> User:
        if role is Role.ORGANISER and organisation is None:
            organisation = make_organisation()
        email = email or f"{role.value}-{uuid.uuid4().hex[:8]}@example.test"
        return create_user(
            db,
            email=email,
            name=role.value.title(),
            password=PASSWORD,
            role=role,
            organisation=organisation,
        )

    return make


@pytest.fixture
def pool_stock(db: Session) -> Location:
    """Plenty of clean pool cups of every type, so rental orders can be confirmed."""
    place = create_location(db, code="TEST-STOCK", name="Test stock", kind=LocationKind.ZONE)
    for cup_type in active_cup_types(db):
        receive_into_stock(
            db,
            cup_type=cup_type,
            quantity=STOCK_PER_CUP_TYPE,
            location=place,
            reason="stock for tests",
        )
    return place


def local(settings: Settings, days: int, hour: int) -> datetime:
    """A moment ``days`` from today at ``hour`` o'clock in the site's time zone."""
    today = utcnow().astimezone(settings.zone).date()
    day = today + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, tzinfo=settings.zone)


def event_input(settings: Settings, days: int = 14, name: str = "Jazz in het Park") -> EventInput:
    starts = local(settings, days, 14)
    return EventInput(
        name=name, starts_at=starts, ends_at=starts + timedelta(hours=10), postcode="9000"
    )


def order_input(event: Event, quantities: dict[str, int] | None = None, **changes) -> OrderInput:
    data = {
        "service": Service.RENT_AND_WASH,
        "delivery_by": Carrier.COURIER,
        "pickup_by": Carrier.COURIER,
        "delivery_start": event.starts_at - timedelta(hours=28),
        "delivery_end": event.starts_at - timedelta(hours=24),
        "pickup_start": event.ends_at + timedelta(hours=12),
        "pickup_end": event.ends_at + timedelta(hours=16),
        "quantities": quantities if quantities is not None else {"ECO33": 4000},
        "notes": "",
    }
    data.update(changes)
    return OrderInput(**data)


@pytest.fixture
def make_event(db: Session, settings: Settings) -> Callable[..., Event]:
    def make(organisation: Organisation, days: int = 14, name: str = "Jazz in het Park") -> Event:
        return create_event(db, settings, organisation, event_input(settings, days, name), utcnow())

    return make


@pytest.fixture
def make_order(db: Session, settings: Settings, make_event) -> Callable[..., Order]:
    def make(
        organiser: User, quantities: dict[str, int] | None = None, days: int = 14, **changes
    ) -> Order:
        event = make_event(organiser.organisation, days=days)
        return create_order(
            db, settings, organiser, event, order_input(event, quantities, **changes), utcnow()
        )

    return make


def login(client, user: User, password: str = PASSWORD):
    return client.post("/login", data={"email": user.email, "password": password})


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html
    )
    assert match, "no CSRF token in the page"
    return match.group(1)


ROOT = Path(__file__).resolve().parent.parent
