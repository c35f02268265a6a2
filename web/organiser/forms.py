from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    DecimalField,
    IntegerField,
    RadioField,
    SelectChoice,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from wash_ops.catalogue.models import CupType
from wash_ops.orders.models import Carrier, Service
from wash_ops.orders.services import EventInput, OrderInput
from web.labels import CARRIER_LABELS, SERVICE_LABELS

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"

# Where each field named by the services shows its error on the order form.
FIELD_NAMES = {
    "name": "event_name",
    "starts_at": "event_starts_at",
    "ends_at": "event_ends_at",
    "postcode": "postcode",
    "lat": "lat",
    "lines": "",
}


class OrderForm(FlaskForm):
    event_name = StringField(_l("Event name"), validators=[DataRequired(), Length(max=120)])
    address = StringField(_l("Address (street and number)"), validators=[Length(max=200)])
    postcode = StringField(_l("Postcode"), validators=[Optional(), Length(min=4, max=4)])
    place = StringField(_l("Place (optional)"), validators=[Length(max=80)])
    lat = DecimalField(
        _l("Latitude (optional)"), places=None, validators=[Optional(), NumberRange(-90, 90)]
    )
    lon = DecimalField(
        _l("Longitude (optional)"), places=None, validators=[Optional(), NumberRange(-180, 180)]
    )
    event_starts_at = DateTimeLocalField(
        _l("Event starts"), format=DATETIME_FORMAT, validators=[DataRequired()]
    )
    event_ends_at = DateTimeLocalField(
        _l("Event ends"), format=DATETIME_FORMAT, validators=[DataRequired()]
    )
    service = RadioField(
        _l("Service"),
        choices=[SelectChoice(service.value, label) for service, label in SERVICE_LABELS.items()],
        default=Service.RENT_AND_WASH.value,
        validators=[DataRequired()],
    )
    delivery_by = RadioField(
        _l("Who brings the clean cups?"),
        choices=[SelectChoice(carrier.value, label) for carrier, label in CARRIER_LABELS.items()],
        default=Carrier.COURIER.value,
        validators=[DataRequired()],
    )
    pickup_by = RadioField(
        _l("Who takes the used cups back?"),
        choices=[SelectChoice(carrier.value, label) for carrier, label in CARRIER_LABELS.items()],
        default=Carrier.COURIER.value,
        validators=[DataRequired()],
    )
    delivery_start = DateTimeLocalField(
        _l("Delivery from"), format=DATETIME_FORMAT, validators=[DataRequired()]
    )
    delivery_end = DateTimeLocalField(
        _l("Delivery until"), format=DATETIME_FORMAT, validators=[DataRequired()]
    )
    pickup_start = DateTimeLocalField(
        _l("Pickup from"), format=DATETIME_FORMAT, validators=[DataRequired()]
    )
    pickup_end = DateTimeLocalField(
        _l("Pickup until"), format=DATETIME_FORMAT, validators=[DataRequired()]
    )
    notes = TextAreaField(
        _l("Notes for us (access, contact on site, …)"), validators=[Length(max=2000)]
    )


def quantity_field_name(cup_type: CupType) -> str:
    return f"qty_{cup_type.code}"


def order_form_class(cup_types: list[CupType], locale: str) -> type[OrderForm]:
    """An order form with one quantity field per cup type in the catalogue."""
    fields = {
        quantity_field_name(cup): IntegerField(
            cup.name(locale),
            validators=[Optional()],
            render_kw={"inputmode": "numeric", "min": 0, "data-per-crate": cup.cups_per_crate},
        )
        for cup in cup_types
    }
    return type("CatalogueOrderForm", (OrderForm,), fields)


def _aware(value: datetime | None, zone: ZoneInfo) -> datetime:
    assert value is not None
    return value.replace(tzinfo=zone)


def event_input_from(form: OrderForm, zone: ZoneInfo) -> EventInput:
    return EventInput(
        name=form.event_name.data or "",
        starts_at=_aware(form.event_starts_at.data, zone),
        ends_at=_aware(form.event_ends_at.data, zone),
        address=form.address.data or "",
        postcode=form.postcode.data or "",
        place=form.place.data or "",
        lat=float(form.lat.data) if form.lat.data is not None else None,
        lon=float(form.lon.data) if form.lon.data is not None else None,
    )


def order_input_from(form: OrderForm, zone: ZoneInfo, cup_types: list[CupType]) -> OrderInput:
    quantities = {}
    for cup in cup_types:
        value = form[quantity_field_name(cup)].data
        if value is not None:
            quantities[cup.code] = value
    return OrderInput(
        service=Service(form.service.data),
        delivery_by=Carrier(form.delivery_by.data),
        pickup_by=Carrier(form.pickup_by.data),
        delivery_start=_aware(form.delivery_start.data, zone),
        delivery_end=_aware(form.delivery_end.data, zone),
        pickup_start=_aware(form.pickup_start.data, zone),
        pickup_end=_aware(form.pickup_end.data, zone),
        quantities=quantities,
        notes=form.notes.data or "",
    )


def problem_field_names(cup_types: list[CupType]) -> dict[str, str]:
    names = dict(FIELD_NAMES)
    names.update({f"lines.{cup.code}": quantity_field_name(cup) for cup in cup_types})
    return names


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=2000)])


class TokenForm(FlaskForm):
    name = StringField(
        _l("Name of the system that will use it"), validators=[DataRequired(), Length(max=80)]
    )


class EmptyForm(FlaskForm):
    """A form with only its CSRF token, for buttons that change something."""
