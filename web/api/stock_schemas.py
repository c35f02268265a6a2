"""Request and response bodies of the stock API (balances, movements, availability, receiving
an order's returns and its cup report)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from wash_ops.inventory.models import StockState
from wash_ops.inventory.reports import MAX_PAGE
from web.api.schemas import StrictSchema

CODE = validate.Length(min=1, max=32)
# Counts are checked by the service, so that a bad one is reported as "returned.ECO33" with the
# service's message (a whole number of cups, zero or more), like every other count problem.
COUNT = {"type": "integer", "minimum": 0}
COUNTS = {
    "description": "cups per cup type code, whole numbers from 0",
    "example": {"ECO33": 3650, "ECO50": 590},
}


class BalanceQuery(StrictSchema):
    cup_type = fields.String(load_default=None, validate=CODE)
    state = fields.Enum(StockState, by_value=True, load_default=None)
    location = fields.String(load_default=None, validate=CODE)
    owner = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^(pool|[1-9][0-9]{0,9})$", error='Use "pool" or an id.'),
        metadata={"description": '"pool" for the rental pool, or an organisation id'},
    )


class BalanceOut(ma.Schema):
    cup_type = fields.String()
    owner_id = fields.Integer(
        allow_none=True, metadata={"description": "null: the rental pool; else the organisation"}
    )
    state = fields.Enum(StockState, by_value=True)
    location = fields.String()
    quantity = fields.Integer()


class MovementQuery(StrictSchema):
    cup_type = fields.String(load_default=None, validate=CODE)
    state = fields.Enum(
        StockState,
        by_value=True,
        load_default=None,
        metadata={"description": "matches either side of a movement"},
    )
    location = fields.String(
        load_default=None, validate=CODE, metadata={"description": "either side of a movement"}
    )
    order_id = fields.Integer(load_default=None, validate=validate.Range(min=1))
    since = fields.AwareDateTime(load_default=None, metadata={"description": "inclusive"})
    until = fields.AwareDateTime(load_default=None, metadata={"description": "exclusive"})
    limit = fields.Integer(load_default=100, validate=validate.Range(1, MAX_PAGE))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 10_000_000))


class MovementOut(ma.Schema):
    id = fields.Integer()
    cup_type = fields.String(attribute="cup_type.code")
    owner_id = fields.Integer(allow_none=True)
    quantity = fields.Integer()
    from_state = fields.Enum(
        StockState,
        by_value=True,
        allow_none=True,
        metadata={"description": "null when the cups came from outside"},
    )
    from_location = fields.Function(
        lambda movement: movement.from_location.code if movement.from_location else None,
        allow_none=True,
    )
    to_state = fields.Enum(StockState, by_value=True)
    to_location = fields.String(attribute="to_location.code")
    reason = fields.String()
    order_id = fields.Integer(allow_none=True)
    order_reference = fields.Function(
        lambda movement: movement.order.reference if movement.order else None, allow_none=True
    )
    user_id = fields.Integer(allow_none=True)
    at = fields.AwareDateTime()


class MovementPageOut(ma.Schema):
    total = fields.Integer(metadata={"description": "movements matching the filters"})
    limit = fields.Integer()
    offset = fields.Integer()
    items = fields.List(fields.Nested(MovementOut), metadata={"description": "newest first"})


class AvailabilityQuery(StrictSchema):
    cup_type = fields.String(required=True, validate=CODE)
    first_day = fields.Date(
        load_default=None, metadata={"description": "default: today (Europe/Brussels)"}
    )
    days = fields.Integer(load_default=14, validate=validate.Range(1, 366))


class AvailableDayOut(ma.Schema):
    day = fields.Date()
    available = fields.Integer(metadata={"description": "clean pool cups that can be promised"})


class AvailabilityOut(ma.Schema):
    cup_type = fields.String()
    days = fields.List(fields.Nested(AvailableDayOut))


class ReceiveIn(StrictSchema):
    returned = fields.Dict(
        keys=fields.String(validate=CODE),
        values=fields.Raw(metadata=COUNT),
        required=True,
        metadata={
            **COUNTS,
            "description": "good cups back, per cup type; every cup type that went out",
        },
    )
    broken = fields.Dict(
        keys=fields.String(validate=CODE),
        values=fields.Raw(metadata=COUNT),
        load_default=dict,
        metadata={
            **COUNTS,
            "description": "cups that arrived broken; left out means 0",
            "example": {"ECO33": 50},
        },
    )
    foreign_crates = fields.Integer(
        strict=True,
        load_default=0,
        metadata={"description": "crates that came back but are not ours"},
    )
    location = fields.String(
        required=True,
        validate=CODE,
        metadata={"description": "code of the warehouse place the cups go to", "example": "IN"},
    )


class ReportLineOut(ma.Schema):
    cup_type = fields.String(attribute="cup_type.code")
    delivered = fields.Integer()
    returned = fields.Integer()
    broken = fields.Integer()
    lost = fields.Integer()
    loss_price_cents = fields.Integer(attribute="unit_cents")
    charged = fields.Boolean(metadata={"description": "false for the customer's own cups"})


class LossLineOut(ma.Schema):
    cup_type = fields.String(attribute="cup_type.code")
    kind = fields.String(metadata={"description": "lost or broken"})
    quantity = fields.Integer()
    unit_cents = fields.Integer()
    amount_cents = fields.Integer()


class CupReportOut(ma.Schema):
    order_id = fields.Integer()
    reference = fields.String()
    owned_by_customer = fields.Boolean()
    foreign_crates = fields.Integer()
    lines = fields.List(fields.Nested(ReportLineOut))
    loss_lines = fields.List(
        fields.Nested(LossLineOut),
        metadata={"description": "for the invoice, at the cup catalogue's loss prices"},
    )
    total_cents = fields.Integer(metadata={"description": "euro cents"})
