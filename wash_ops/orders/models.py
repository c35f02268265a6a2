from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wash_ops.accounts.models import Organisation, User
from wash_ops.catalogue.models import CupType, Line
from wash_ops.db import Base, UTCDateTime, str_enum, utcnow


class OrderStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    CONFIRMED = "confirmed"
    DELIVERED = "delivered"
    AT_EVENT = "at_event"
    PICKED_UP = "picked_up"
    RECEIVED = "received"
    WASHING = "washing"
    WASHED = "washed"
    CLOSED = "closed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Service(enum.StrEnum):
    RENT_AND_WASH = "rent_and_wash"
    WASH_OWN = "wash_own"
    STORE_OWN = "store_own"


class Carrier(enum.StrEnum):
    """Who does a leg: our courier or the organiser."""

    COURIER = "courier"
    ORGANISER = "organiser"


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(200), default="")
    postcode: Mapped[str] = mapped_column(String(8), default="")
    place: Mapped[str] = mapped_column(String(80), default="")
    lat: Mapped[float]
    lon: Mapped[float]
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    organisation: Mapped[Organisation] = relationship()
    orders: Mapped[list[Order]] = relationship(back_populates="event")


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("delivery_end > delivery_start", name="delivery_window"),
        CheckConstraint("pickup_end > pickup_start", name="pickup_window"),
        CheckConstraint("pickup_start >= delivery_end", name="pickup_after_delivery"),
        CheckConstraint("wash_cups >= 0", name="wash_cups_not_negative"),
        Index("ix_orders_status_due", "status", "wash_due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"), index=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    status: Mapped[OrderStatus] = mapped_column(
        str_enum(OrderStatus, "order_status"), default=OrderStatus.DRAFT
    )
    service: Mapped[Service] = mapped_column(str_enum(Service, "order_service"))
    delivery_by: Mapped[Carrier] = mapped_column(str_enum(Carrier, "delivery_carrier"))
    pickup_by: Mapped[Carrier] = mapped_column(str_enum(Carrier, "pickup_carrier"))
    delivery_start: Mapped[datetime] = mapped_column(UTCDateTime)
    delivery_end: Mapped[datetime] = mapped_column(UTCDateTime)
    pickup_start: Mapped[datetime] = mapped_column(UTCDateTime)
    pickup_end: Mapped[datetime] = mapped_column(UTCDateTime)
    notes: Mapped[str] = mapped_column(Text, default="")
    wash_cups: Mapped[int] = mapped_column(default=0)
    wash_release_on: Mapped[date | None]
    wash_due_on: Mapped[date | None]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    organisation: Mapped[Organisation] = relationship()
    event: Mapped[Event] = relationship(back_populates="orders")
    line: Mapped[Line] = relationship()
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.id"
    )
    history: Mapped[list[OrderStatusChange]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderStatusChange.id"
    )

    @property
    def reference(self) -> str:
        return f"WO-{self.id:06d}"

    @property
    def total_cups(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def total_crates(self) -> int:
        return sum(line.crates for line in self.lines)

    @property
    def editable(self) -> bool:
        return self.status in (OrderStatus.DRAFT, OrderStatus.SUBMITTED)

    def last_reason(self, status: OrderStatus) -> str:
        for change in reversed(self.history):
            if change.to_status is status:
                return change.reason
        return ""


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        UniqueConstraint("order_id", "cup_type_id", name="uq_order_lines_order_cup_type"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    cup_type_id: Mapped[int] = mapped_column(ForeignKey("cup_types.id"))
    quantity: Mapped[int]

    order: Mapped[Order] = relationship(back_populates="lines")
    cup_type: Mapped[CupType] = relationship()

    @property
    def crates(self) -> int:
        return self.cup_type.crates_for(self.quantity)


class OrderStatusChange(Base):
    __tablename__ = "order_status_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    from_status: Mapped[OrderStatus | None] = mapped_column(str_enum(OrderStatus, "from_status"))
    to_status: Mapped[OrderStatus] = mapped_column(str_enum(OrderStatus, "to_status"))
    reason: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="history")
    user: Mapped[User | None] = relationship()
