"""Request and response bodies of the JSON API (marshmallow; they also make the OpenAPI doc)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from wash_ops.orders.models import Carrier, OrderStatus, Service


class StrictSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE


class ErrorBody(ma.Schema):
    code = fields.String(
        metadata={"description": "machine-readable: invalid, not_found, conflict, unauthorized, …"}
    )
    message = fields.String(metadata={"description": "human-readable, in the request's language"})
    field = fields.String(
        allow_none=True, metadata={"description": "the field at fault, if one is"}
    )


class ErrorSchema(ma.Schema):
    error = fields.Nested(ErrorBody)


class CupTypeOut(ma.Schema):
    code = fields.String()
    name_nl = fields.String()
    name_en = fields.String()
    volume_ml = fields.Integer()
    cups_per_crate = fields.Integer()
    wash_price_cents = fields.Integer()
    rent_price_cents = fields.Integer()
    loss_price_cents = fields.Integer()


class EventIn(StrictSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    starts_at = fields.AwareDateTime(
        required=True, metadata={"example": "2027-06-12T14:00:00+02:00"}
    )
    ends_at = fields.AwareDateTime(required=True)
    address = fields.String(load_default="", validate=validate.Length(max=200))
    postcode = fields.String(load_default="", validate=validate.Length(max=8))
    place = fields.String(load_default="", validate=validate.Length(max=80))
    lat = fields.Float(load_default=None, allow_none=True, validate=validate.Range(-90, 90))
    lon = fields.Float(load_default=None, allow_none=True, validate=validate.Range(-180, 180))


class EventOut(ma.Schema):
    id = fields.Integer()
    name = fields.String()
    address = fields.String()
    postcode = fields.String()
    place = fields.String()
    lat = fields.Float()
    lon = fields.Float()
    starts_at = fields.AwareDateTime()
    ends_at = fields.AwareDateTime()


class OrderLineIn(StrictSchema):
    cup_type = fields.String(required=True, validate=validate.Length(min=1, max=16))
    quantity = fields.Integer(required=True, strict=True)


class OrderIn(StrictSchema):
    event_id = fields.Integer(required=True, strict=True)
    service = fields.Enum(Service, by_value=True, required=True)
    delivery_by = fields.Enum(Carrier, by_value=True, required=True)
    pickup_by = fields.Enum(Carrier, by_value=True, required=True)
    delivery_start = fields.AwareDateTime(required=True)
    delivery_end = fields.AwareDateTime(required=True)
    pickup_start = fields.AwareDateTime(required=True)
    pickup_end = fields.AwareDateTime(required=True)
    lines = fields.List(
        fields.Nested(OrderLineIn), required=True, validate=validate.Length(min=1, max=50)
    )
    notes = fields.String(load_default="", validate=validate.Length(max=2000))


class OrderLineOut(ma.Schema):
    cup_type = fields.Function(lambda line: line.cup_type.code)
    quantity = fields.Integer()
    crates = fields.Integer()


class StatusChangeOut(ma.Schema):
    from_status = fields.Enum(OrderStatus, by_value=True, allow_none=True)
    to_status = fields.Enum(OrderStatus, by_value=True)
    reason = fields.String()
    at = fields.AwareDateTime()


class OrderOut(ma.Schema):
    id = fields.Integer()
    reference = fields.String()
    status = fields.Enum(OrderStatus, by_value=True)
    event = fields.Nested(EventOut)
    service = fields.Enum(Service, by_value=True)
    delivery_by = fields.Enum(Carrier, by_value=True)
    pickup_by = fields.Enum(Carrier, by_value=True)
    delivery_start = fields.AwareDateTime()
    delivery_end = fields.AwareDateTime()
    pickup_start = fields.AwareDateTime()
    pickup_end = fields.AwareDateTime()
    notes = fields.String()
    lines = fields.List(fields.Nested(OrderLineOut))
    total_cups = fields.Integer()
    total_crates = fields.Integer()
    wash_due_on = fields.Date(allow_none=True)
    history = fields.List(fields.Nested(StatusChangeOut))


class OrderListQuery(StrictSchema):
    status = fields.Enum(OrderStatus, by_value=True, load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))
    offset = fields.Integer(load_default=0, validate=validate.Range(0, 1_000_000))


class ReasonIn(StrictSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class CapacityQuery(StrictSchema):
    pickup_end = fields.AwareDateTime(
        required=True, metadata={"description": "end of the pickup window"}
    )
    cups = fields.Integer(required=True, validate=validate.Range(min=1))


class CapacityOut(ma.Schema):
    fits = fields.Boolean()
    cups = fields.Integer()
    release = fields.Date(metadata={"description": "first day the line can wash these cups"})
    due = fields.Date(metadata={"description": "last day within the turnaround promise"})
    free_in_window = fields.Integer()
    shortfall = fields.Integer()
    earliest_pickup = fields.Date(
        allow_none=True,
        metadata={"description": "earliest pickup date that fits, when this one does not"},
    )


class CalendarQuery(StrictSchema):
    weeks = fields.Integer(load_default=4, validate=validate.Range(1, 26))


class DayOut(ma.Schema):
    day = fields.Date()
    capacity = fields.Integer()
    booked = fields.Integer()
    free = fields.Integer()
