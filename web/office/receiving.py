"""The office's receiving page: count an order's returns at the facility.

Its routes hang on the office blueprint (planners and admins only). It also gives templates
``order_cup_report(order)``, the report the order pages show once cups went out, and
``order_can_receive(order)`` for the link to this page."""

from __future__ import annotations

from decimal import Decimal

from flask import flash, redirect, render_template, request, url_for
from flask_babel import format_currency, gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField
from wtforms.validators import InputRequired, NumberRange, Optional

from wash_ops.catalogue.models import CupType
from wash_ops.errors import Conflict, InvalidInput
from wash_ops.inventory.journey import (
    MAX_FOREIGN_CRATES,
    CupReport,
    can_receive,
    cup_report,
    receive_customer_cups,
    receive_returns,
    receiving_counts,
)
from wash_ops.inventory.models import LocationKind
from wash_ops.inventory.reports import storage_places
from wash_ops.orders.models import Order
from wash_ops.orders.services import order_for
from web.context import actor, locale
from web.database import db_session
from web.errors import translate
from web.forms import show_problems
from web.labels import STATUS_LABELS
from web.office.views import bp


class ReceiveForm(FlaskForm):
    foreign_crates = IntegerField(
        _l("Crates that are not ours"),
        default=0,
        validators=[InputRequired(), NumberRange(0, MAX_FOREIGN_CRATES)],
        render_kw={"inputmode": "numeric", "min": 0},
    )
    location = SelectField(_l("Where the cups go"), validators=[InputRequired()])


def receive_form_class(cups: list[CupType], language: str) -> type[ReceiveForm]:
    """A receiving form with a returned and a broken count per cup type that went out."""
    fields = {}
    for cup in cups:
        name = cup.name(language)
        fields[f"returned_{cup.code}"] = IntegerField(
            gettext("%(cup_type)s: returned", cup_type=name),
            validators=[InputRequired(), NumberRange(min=0)],
            render_kw={"inputmode": "numeric", "min": 0},
        )
        fields[f"broken_{cup.code}"] = IntegerField(
            gettext("%(cup_type)s: broken", cup_type=name),
            default=0,
            validators=[Optional(), NumberRange(min=0)],
            render_kw={"inputmode": "numeric", "min": 0},
        )
    return type("ReceiveCupsForm", (ReceiveForm,), fields)


@bp.route("/orders/<int:order_id>/receive", methods=["GET", "POST"])
def receive(order_id: int):
    session = db_session()
    order = order_for(session, actor(), order_id)
    out = receiving_counts(session, order)
    cups = sorted(out, key=lambda cup: cup.volume_ml)
    form = receive_form_class(cups, locale())()
    places = storage_places(session)
    form.location.choices = [(place.code, f"{place.code} · {place.name}") for place in places]
    if request.method == "GET":
        intake = [place.code for place in places if place.kind is LocationKind.INTAKE]
        form.location.data = intake[0] if intake else None
    if not can_receive(order):
        return _page(order, form, cups, out, 409, _not_receivable(order))
    if not form.validate_on_submit():
        return _page(order, form, cups, out, 422 if request.method == "POST" else 200)
    try:
        receive_returns(
            session,
            order,
            actor(),
            returned={cup.code: form[f"returned_{cup.code}"].data for cup in cups},
            broken={cup.code: form[f"broken_{cup.code}"].data or 0 for cup in cups},
            foreign_crates=form.foreign_crates.data,
            location=form.location.data or "",
        )
    except InvalidInput as error:
        show_problems(form, error, _field_names(cups))
        return _page(order, form, cups, out, 422)
    except Conflict as error:
        return _page(order, form, cups, out, 409, translate(error.first))
    flash(
        gettext("The returns of order %(reference)s are received.", reference=order.reference),
        "success",
    )
    return redirect(url_for("office.order", order_id=order.id))


def _page(order, form, cups, out, status: int, problem: str | None = None):
    return (
        render_template(
            "office/receive.html", order=order, form=form, cups=cups, out=out, problem=problem
        ),
        status,
    )


def _not_receivable(order: Order) -> str:
    return gettext(
        "Order %(reference)s is %(status)s: only an order at the event or picked up can be "
        "received.",
        reference=order.reference,
        status=str(STATUS_LABELS[order.status][0]).lower(),
    )


def _field_names(cups: list[CupType]) -> dict[str, str]:
    names = {}
    for cup in cups:
        names[f"returned.{cup.code}"] = f"returned_{cup.code}"
        names[f"broken.{cup.code}"] = f"broken_{cup.code}"
    return names


@bp.app_template_global("order_cup_report")
def order_cup_report(order: Order) -> CupReport | None:
    """The order's cup report once any cups went out or came in; None before that."""
    report = cup_report(db_session(), order)
    return None if report.empty else report


@bp.app_template_global("order_can_receive")
def order_can_receive(order: Order) -> bool:
    return can_receive(order)


@bp.app_template_filter("euro")
def euro(cents: int) -> str:
    return format_currency(Decimal(cents) / 100, "EUR")


class OwnCupsForm(FlaskForm):
    location = SelectField(_l("Where the cups go"), validators=[InputRequired()])


def own_cups_form_class(cups: list[CupType], language: str) -> type[OwnCupsForm]:
    """One count per cup type of the order: the customer's cups that arrived."""
    fields = {
        f"received_{cup.code}": IntegerField(
            gettext("%(cup_type)s: received", cup_type=cup.name(language)),
            validators=[Optional(), NumberRange(min=0)],
            render_kw={"inputmode": "numeric", "min": 0},
        )
        for cup in cups
    }
    return type("OwnCupsCountForm", (OwnCupsForm,), fields)


@bp.route("/orders/<int:order_id>/receive-own", methods=["GET", "POST"])
def receive_own(order_id: int):
    """The customer's own cups arrive to be washed (services wash_own and store_own)."""
    session = db_session()
    order = order_for(session, actor(), order_id)
    cups = sorted((line.cup_type for line in order.lines), key=lambda cup: cup.volume_ml)
    form = own_cups_form_class(cups, locale())()
    places = storage_places(session)
    form.location.choices = [(place.code, f"{place.code} · {place.name}") for place in places]
    if request.method == "GET":
        intake = [place.code for place in places if place.kind is LocationKind.INTAKE]
        form.location.data = intake[0] if intake else None
    if not form.validate_on_submit():
        return _own_page(order, form, cups, 422 if request.method == "POST" else 200)
    counts = {cup.code: form[f"received_{cup.code}"].data for cup in cups}
    try:
        receive_customer_cups(
            session,
            order,
            actor(),
            {code: count for code, count in counts.items() if count},
            form.location.data or "",
        )
    except InvalidInput as error:
        show_problems(form, error, {f"counts.{cup.code}": f"received_{cup.code}" for cup in cups})
        return _own_page(order, form, cups, 422)
    except Conflict as error:
        return _own_page(order, form, cups, 409, translate(error.first))
    flash(
        gettext("The cups of order %(reference)s are received.", reference=order.reference),
        "success",
    )
    return redirect(url_for("office.order", order_id=order.id))


def _own_page(order, form, cups, status: int, problem: str | None = None):
    return (
        render_template(
            "office/receive_own.html", order=order, form=form, cups=cups, problem=problem
        ),
        status,
    )
