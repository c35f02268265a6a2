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
    cup_type = fields.String(attribute="cup_type.code")
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


class AlarmOut(ma.Schema):
    id = fields.Integer()
    code = fields.String()
    severity = fields.String()
    isa_state = fields.String(
        metadata={
            "description": "active_unacknowledged, active_acknowledged, returned_unacknowledged or normal"
        }
    )
    raised_at = fields.AwareDateTime()
    returned_at = fields.AwareDateTime(allow_none=True)
    acknowledged_at = fields.AwareDateTime(allow_none=True)


class StatusBody(ma.Schema):
    state = fields.Function(
        lambda status: int(status.state), metadata={"description": "PackML state number"}
    )
    state_name = fields.Function(lambda status: status.state.name.lower())
    state_since = fields.AwareDateTime(allow_none=True)
    stale = fields.Boolean()
    stale_reason = fields.String()
    last_reading_at = fields.AwareDateTime(allow_none=True)
    values = fields.Dict(
        keys=fields.String(),
        values=fields.Float(),
        metadata={"description": "latest value per tag"},
    )
    counters_today = fields.Dict(keys=fields.String(), values=fields.Float())
    alarms = fields.List(fields.Nested(AlarmOut))


class LineStatusOut(ma.Schema):
    line = fields.String()
    capacity_per_day = fields.Integer()
    status = fields.Nested(StatusBody)


class SeriesQuery(StrictSchema):
    tag = fields.String(required=True)
    start = fields.AwareDateTime(required=True)
    end = fields.AwareDateTime(required=True)
    resolution = fields.String(
        load_default="auto", validate=validate.OneOf(["auto", "raw", "minute", "hour", "day"])
    )


class PointOut(ma.Schema):
    at = fields.AwareDateTime()
    value = fields.Float()
    minimum = fields.Float()
    maximum = fields.Float()


class SeriesOut(ma.Schema):
    tag = fields.String()
    unit = fields.String()
    resolution = fields.String()
    points = fields.List(fields.Nested(PointOut))
