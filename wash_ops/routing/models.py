"""Vehicles, route plans, routes and stops (with the courier's confirmations)."""

from __future__ import annotations

import enum
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wash_ops.accounts.models import User
from wash_ops.db import Base, UTCDateTime, str_enum, utcnow
from wash_ops.orders.models import Order


class PlanStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class StopKind(enum.StrEnum):
    DELIVERY = "delivery"
    PICKUP = "pickup"
    MANUAL = "manual"


class Vehicle(Base):
    """A vehicle of the fleet: from the configuration, then editable by the planner."""

    __tablename__ = "vehicles"
    __table_args__ = (
        CheckConstraint("capacity_crates >= 0", name="capacity_not_negative"),
        CheckConstraint("speed_kmh > 0", name="speed_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(80))
    capacity_crates: Mapped[int]
    speed_kmh: Mapped[float]
    shift_start: Mapped[time]
    shift_end: Mapped[time]
    max_distance_km: Mapped[float | None]
    cost_per_km_cents: Mapped[int] = mapped_column(default=0)
    cost_per_hour_cents: Mapped[int] = mapped_column(default=0)
    max_reloads: Mapped[int] = mapped_column(default=0)
    courier_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    active: Mapped[bool] = mapped_column(default=True)
    # Set once the planner changed the vehicle: the configuration no longer overwrites it.
    edited: Mapped[bool] = mapped_column(default=False)

    courier: Mapped[User | None] = relationship()


class ManualStop(Base):
    """A stop added by hand for a date: a customer drop, a repair."""

    __tablename__ = "manual_stops"
    __table_args__ = (CheckConstraint("window_end > window_start", name="manual_window"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(index=True)
    label: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float]
    lon: Mapped[float]
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    deliver_crates: Mapped[int] = mapped_column(default=0)
    collect_crates: Mapped[int] = mapped_column(default=0)
    notes: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class RoutePlan(Base):
    __tablename__ = "route_plans"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(index=True)
    status: Mapped[PlanStatus] = mapped_column(
        str_enum(PlanStatus, "route_plan_status"), default=PlanStatus.DRAFT
    )
    # False as long as any stop is left out: such a plan is never shown as complete.
    complete: Mapped[bool] = mapped_column(default=False)
    distance_m: Mapped[int] = mapped_column(default=0)
    duration_s: Mapped[int] = mapped_column(default=0)
    solve_seconds: Mapped[float] = mapped_column(default=0.0)
    matrix_source: Mapped[str] = mapped_column(String(16), default="haversine")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    routes: Mapped[list[Route]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="Route.id"
    )
    stops: Mapped[list[RouteStop]] = relationship(
        back_populates="plan", cascade="all, delete-orphan", order_by="RouteStop.id"
    )

    @property
    def unserved(self) -> list[RouteStop]:
        return [stop for stop in self.stops if stop.route_id is None]


class Route(Base):
    __tablename__ = "routes"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("route_plans.id", ondelete="CASCADE"))
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"))
    courier_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # The planner chose this route's courier for the day; re-plans keep it (otherwise a route
    # takes its vehicle's courier).
    courier_chosen: Mapped[bool] = mapped_column(default=False)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    distance_m: Mapped[int] = mapped_column(default=0)
    trips: Mapped[int] = mapped_column(default=1)

    plan: Mapped[RoutePlan] = relationship(back_populates="routes")
    vehicle: Mapped[Vehicle] = relationship()
    courier: Mapped[User | None] = relationship()
    stops: Mapped[list[RouteStop]] = relationship(
        back_populates="route", order_by="RouteStop.sequence", overlaps="stops"
    )


class RouteStop(Base):
    __tablename__ = "route_stops"
    __table_args__ = (
        CheckConstraint("window_end > window_start", name="stop_window"),
        CheckConstraint("crates >= 0", name="crates_not_negative"),
        UniqueConstraint("plan_id", "key", name="uq_route_stops_plan_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("route_plans.id", ondelete="CASCADE"))
    route_id: Mapped[int | None] = mapped_column(ForeignKey("routes.id"), index=True)
    # What the stop stands for across re-plans: "delivery:<order>:<part>", "manual:<id>".
    key: Mapped[str] = mapped_column(String(40))
    kind: Mapped[StopKind] = mapped_column(str_enum(StopKind, "route_stop_kind"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    manual_stop_id: Mapped[int | None] = mapped_column(ForeignKey("manual_stops.id"))
    label: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float]
    lon: Mapped[float]
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    crates: Mapped[int]
    # [{"code": "ECO33", "cups": 800, "crates": 10}, ...] for this stop (a part of an order).
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    service_s: Mapped[int] = mapped_column(default=0)
    sequence: Mapped[int] = mapped_column(default=0)
    trip: Mapped[int] = mapped_column(default=0)
    arrives_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    departs_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    load_after: Mapped[int] = mapped_column(default=0)
    locked: Mapped[bool] = mapped_column(default=False)
    unserved_reason: Mapped[str] = mapped_column(String(32), default="")
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_crates: Mapped[int | None]
    problem: Mapped[str] = mapped_column(Text, default="")
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    plan: Mapped[RoutePlan] = relationship(back_populates="stops")
    route: Mapped[Route | None] = relationship(back_populates="stops", overlaps="stops")
    order: Mapped[Order | None] = relationship()


class CalendarFeed(Base):
    """An organisation's secret iCalendar address for its planned deliveries and pickups."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"), unique=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
