"""Every table, imported in one place for Alembic and for create-from-metadata checks."""

from wash_ops.accounts.models import ApiToken, Organisation, OrganisationStatus, Role, User
from wash_ops.catalogue.models import CupType, Line, Site
from wash_ops.db import Base
from wash_ops.inventory.models import Location, StockBalance, StockMovement, StockState
from wash_ops.network.models import DeadLetter, NetworkSource, ReceivedMessage
from wash_ops.orders.models import (
    Carrier,
    Event,
    Order,
    OrderLine,
    OrderStatus,
    OrderStatusChange,
    Service,
)
from wash_ops.routing.models import (
    CalendarFeed,
    ManualStop,
    Route,
    RoutePlan,
    RouteStop,
    Vehicle,
)
from wash_ops.telemetry.models import (
    Alarm,
    AlarmJournalEntry,
    CounterCursor,
    LineLive,
    LineReading,
    RollupCursor,
    StatePeriod,
    TagRollup,
)
from wash_ops.washing.models import WashBatch

__all__ = [
    "Alarm",
    "AlarmJournalEntry",
    "CounterCursor",
    "LineLive",
    "LineReading",
    "RollupCursor",
    "StatePeriod",
    "TagRollup",
    "ApiToken",
    "Base",
    "Carrier",
    "CupType",
    "DeadLetter",
    "NetworkSource",
    "ReceivedMessage",
    "Event",
    "Line",
    "Location",
    "StockBalance",
    "StockMovement",
    "StockState",
    "Order",
    "OrderLine",
    "OrderStatus",
    "OrderStatusChange",
    "Organisation",
    "OrganisationStatus",
    "Role",
    "Service",
    "Site",
    "User",
    "WashBatch",
    "CalendarFeed",
    "ManualStop",
    "Route",
    "RoutePlan",
    "RouteStop",
    "Vehicle",
]
