"""Inventory tables: locations, the append-only stock ledger and the balances derived from it.

Owner: ``owner_id`` NULL is the company's rental pool, otherwise the organisation that owns the
cups. Because NULL is never equal to NULL in a unique key, balances carry ``owner_key`` as well
(0 for the pool, the organisation id otherwise) and the unique key uses that.

A movement goes from a side (state + location) to a side. Cups that enter the system from
outside (new pool cups delivered by the supplier, a surplus found by a count, a customer's own
cups arriving) have no from side: both ``from_state`` and ``from_location_id`` are NULL. Cups
never leave the ledger: losses and breakage go to a virtual loss location in state ``lost`` or
``broken``.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wash_ops.accounts.models import Organisation, User
from wash_ops.catalogue.models import CupType
from wash_ops.db import Base, UTCDateTime, str_enum, utcnow
from wash_ops.orders.models import Event, Order

POOL = 0  # owner_key of the rental pool


class StockState(enum.StrEnum):
    CLEAN_AVAILABLE = "clean_available"
    RESERVED = "reserved"
    LOADED = "loaded"
    AT_EVENT = "at_event"
    DIRTY_IN_TRANSIT = "dirty_in_transit"
    RECEIVED_DIRTY = "received_dirty"
    ON_LINE = "on_line"
    QUARANTINED = "quarantined"
    LOST = "lost"
    BROKEN = "broken"
    CUSTOMER_STORED = "customer_stored"


class LocationKind(enum.StrEnum):
    ZONE = "zone"
    RACK = "rack"
    PALLET = "pallet"
    INTAKE = "intake"
    EVENT = "event"
    LOSS = "loss"


STORAGE_KINDS = frozenset(
    {LocationKind.ZONE, LocationKind.RACK, LocationKind.PALLET, LocationKind.INTAKE}
)


class Location(Base):
    """A place stock is booked to: a warehouse zone, rack or pallet place, the goods-in area,
    or a virtual place (one per event, one per loss reason). Capacity counts the location's
    own bookings, not those of its children."""

    __tablename__ = "stock_locations"
    __table_args__ = (
        CheckConstraint("capacity_crates IS NULL OR capacity_crates > 0", name="capacity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[LocationKind] = mapped_column(str_enum(LocationKind, "location_kind"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("stock_locations.id"))
    capacity_crates: Mapped[int | None]
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), unique=True)
    active: Mapped[bool] = mapped_column(default=True)

    parent: Mapped[Location | None] = relationship(remote_side=[id])
    event: Mapped[Event | None] = relationship()


class StockMovement(Base):
    """One line of the append-only ledger. Rows are inserted, never updated or deleted."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "(from_state IS NULL AND from_location_id IS NULL)"
            " OR (from_state IS NOT NULL AND from_location_id IS NOT NULL)",
            name="from_side_whole",
        ),
        Index("ix_stock_movements_order_cup_type", "order_id", "cup_type_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cup_type_id: Mapped[int] = mapped_column(ForeignKey("cup_types.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    quantity: Mapped[int]
    from_state: Mapped[StockState | None] = mapped_column(str_enum(StockState, "from_state"))
    from_location_id: Mapped[int | None] = mapped_column(ForeignKey("stock_locations.id"))
    to_state: Mapped[StockState] = mapped_column(str_enum(StockState, "to_state"))
    to_location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"))
    reason: Mapped[str] = mapped_column(String(200))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    cup_type: Mapped[CupType] = relationship()
    owner: Mapped[Organisation | None] = relationship()
    from_location: Mapped[Location | None] = relationship(foreign_keys=[from_location_id])
    to_location: Mapped[Location] = relationship(foreign_keys=[to_location_id])
    order: Mapped[Order | None] = relationship()
    user: Mapped[User | None] = relationship()


class StockBalance(Base):
    """Cups per cup type × owner × state × location, kept equal to the ledger's sum in the same
    transaction as each movement (``ledger.verify_ledger`` checks that)."""

    __tablename__ = "stock_balances"
    __table_args__ = (
        UniqueConstraint(
            "cup_type_id", "owner_key", "state", "location_id", name="uq_stock_balances_key"
        ),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        CheckConstraint(
            "(owner_id IS NULL AND owner_key = 0) OR owner_key = owner_id", name="owner_key"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cup_type_id: Mapped[int] = mapped_column(ForeignKey("cup_types.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    owner_key: Mapped[int]
    state: Mapped[StockState] = mapped_column(str_enum(StockState, "stock_state"))
    location_id: Mapped[int] = mapped_column(ForeignKey("stock_locations.id"), index=True)
    quantity: Mapped[int] = mapped_column(default=0)

    cup_type: Mapped[CupType] = relationship()
    location: Mapped[Location] = relationship()
