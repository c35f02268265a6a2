from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import format_date, format_decimal, gettext

from wash_ops.accounts.models import Role
from wash_ops.accounts.services import api_tokens_of, issue_api_token, revoke_api_token
from wash_ops.catalogue.services import active_cup_types
from wash_ops.errors import DomainError, InvalidInput
from wash_ops.inventory.promises import pool_check
from wash_ops.orders.models import OrderStatus
from wash_ops.orders.services import (
    CapacityShortfall,
    cancel_order,
    create_event,
    create_order,
    move_pickup_to_earliest_fit,
    order_for,
    orders_for,
    quick_fit,
    submit_order,
    update_event,
    update_order,
)
from wash_ops.planning.services import fit_of_order
from wash_ops.routing.services import calendar_token, planned_visits
from web.auth.access import restrict_to
from web.context import actor, locale, now, settings, status_filter
from web.database import db_session
from web.errors import translate
from web.forms import show_problems
from web.organiser.forms import (
    EmptyForm,
    ReasonForm,
    TokenForm,
    event_input_from,
    order_form_class,
    order_input_from,
    problem_field_names,
    quantity_field_name,
)

bp = Blueprint("organiser", __name__)
restrict_to(bp, [Role.ORGANISER])


@bp.route("/orders")
def orders():
    status = status_filter()
    found = orders_for(db_session(), actor(), status)
    organisation_id = actor().organisation_id
    assert organisation_id is not None
    return render_template(
        "organiser/orders.html",
        calendar_url=url_for(
            "calendar.feed",
            token=calendar_token(db_session(), organisation_id),
            _external=True,
        ),
        orders=found,
        status=status.value if status else None,
        statuses=list(OrderStatus),
    )


@bp.route("/orders/new", methods=["GET", "POST"])
def new_order():
    cup_types = active_cup_types(db_session())
    form = order_form_class(cup_types, locale())()
    if request.method == "GET":
        _suggest_times(form)
    if form.validate_on_submit():
        session, zone, user = db_session(), settings().zone, actor()
        try:
            event = create_event(
                session, settings(), user.organisation, event_input_from(form, zone), now()
            )
            order = create_order(
                session, settings(), user, event, order_input_from(form, zone, cup_types), now()
            )
        except InvalidInput as error:
            show_problems(form, error, problem_field_names(cup_types))
        else:
            flash(
                gettext(
                    "Order %(reference)s is saved as a draft. Check the capacity below and submit it.",
                    reference=order.reference,
                ),
                "success",
            )
            return redirect(url_for("organiser.order", order_id=order.id))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "organiser/order_form.html", form=form, cup_types=cup_types, order=None
    ), status


@bp.route("/orders/<int:order_id>")
def order(order_id: int):
    found = order_for(db_session(), actor(), order_id)
    return _render_order(found)


def _render_order(found, status: int = 200, shortfall: str | None = None):
    fit = None
    if found.status in (OrderStatus.DRAFT, OrderStatus.SUBMITTED) and found.wash_cups:
        fit = fit_of_order(db_session(), settings(), found, now())
    checks = pool_check(db_session(), settings(), found, now())
    return (
        render_template(
            "organiser/order_detail.html",
            order=found,
            fit=fit,
            pool_checks=checks,
            shortfall=shortfall,
            action_form=EmptyForm(),
            cancel_form=ReasonForm(prefix="cancel"),
            planned={
                visit.kind.value: visit
                for visit in planned_visits(db_session(), found.organisation_id, found.id)
            },
        ),
        status,
    )


@bp.route("/orders/<int:order_id>/edit", methods=["GET", "POST"])
def edit_order(order_id: int):
    session = db_session()
    found = order_for(session, actor(), order_id)
    if not found.editable:
        flash(gettext("A confirmed order can no longer be changed; contact the office."), "warning")
        return redirect(url_for("organiser.order", order_id=found.id))
    cup_types = active_cup_types(session)
    form = order_form_class(cup_types, locale())()
    if request.method == "GET":
        _fill_form(form, found, cup_types)
    if form.validate_on_submit():
        zone = settings().zone
        try:
            update_event(
                session, settings(), actor(), found.event, event_input_from(form, zone), now()
            )
            update_order(
                session, settings(), actor(), found, order_input_from(form, zone, cup_types), now()
            )
        except InvalidInput as error:
            show_problems(form, error, problem_field_names(cup_types))
        else:
            flash(gettext("Your changes are saved."), "success")
            return redirect(url_for("organiser.order", order_id=found.id))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "organiser/order_form.html", form=form, cup_types=cup_types, order=found
    ), status


@bp.route("/orders/<int:order_id>/submit", methods=["POST"])
def submit(order_id: int):
    session = db_session()
    found = order_for(session, actor(), order_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        fit = submit_order(session, settings(), actor(), found, now())
    except CapacityShortfall as error:
        return _render_order(found, 409, translate(error.first))
    flash(
        gettext(
            "Order %(reference)s is submitted. The wash fits: ready by %(due)s.",
            reference=found.reference,
            due=format_date(fit.due, "long"),
        ),
        "success",
    )
    return redirect(url_for("organiser.order", order_id=found.id))


@bp.route("/orders/<int:order_id>/move-pickup", methods=["POST"])
def move_pickup(order_id: int):
    session = db_session()
    found = order_for(session, actor(), order_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    day = move_pickup_to_earliest_fit(session, settings(), actor(), found, now())
    if day is not None:
        flash(
            gettext("The pickup window moved to %(day)s.", day=format_date(day, "long")), "success"
        )
    return redirect(url_for("organiser.order", order_id=found.id))


@bp.route("/orders/<int:order_id>/cancel", methods=["POST"])
def cancel(order_id: int):
    session = db_session()
    found = order_for(session, actor(), order_id)
    form = ReasonForm(prefix="cancel")
    if not form.validate_on_submit():
        flash(gettext("Give a reason to cancel."), "error")
        return _render_order(found, 422)
    try:
        cancel_order(session, actor(), found, form.reason.data or "", now())
    except DomainError as error:
        flash(translate(error.first), "error")
        return _render_order(found, 409)
    flash(gettext("Order %(reference)s is cancelled.", reference=found.reference), "success")
    return redirect(url_for("organiser.order", order_id=found.id))


@bp.route("/capacity")
def capacity():
    """The live answer the order form shows while the organiser types."""
    try:
        cups = int(request.args.get("cups", ""))
        pickup_end = datetime.strptime(request.args.get("pickup_end", ""), "%Y-%m-%dT%H:%M")
    except ValueError:
        return jsonify(
            error={
                "code": "invalid",
                "message": gettext("Enter the cups and the end of the pickup window."),
                "field": None,
            }
        ), 422
    try:
        fit = quick_fit(
            db_session(), settings(), pickup_end.replace(tzinfo=settings().zone), cups, now()
        )
    except InvalidInput as error:
        return jsonify(
            error={"code": "invalid", "message": translate(error.first), "field": error.first.field}
        ), 422
    return jsonify(
        fits=fit.fits,
        due=fit.due.isoformat(),
        free=fit.free_in_window,
        earliest_pickup=fit.earliest_pickup.isoformat() if fit.earliest_pickup else None,
        message=_fit_message(fit),
    )


def _fit_message(fit) -> str:
    if fit.fits:
        return gettext(
            "The wash fits: your %(cups)s cups are washed by %(due)s.",
            cups=format_decimal(fit.cups),
            due=format_date(fit.due, "long"),
        )
    if fit.earliest_pickup:
        return gettext(
            "The wash does not fit. Earliest pickup date that fits: %(day)s.",
            day=format_date(fit.earliest_pickup, "long"),
        )
    return gettext("No later pickup date fits either; please contact the office.")


@bp.route("/api-access", methods=["GET", "POST"])
def tokens():
    session, user = db_session(), actor()
    form, created = TokenForm(), None
    if form.validate_on_submit():
        try:
            created, _token = issue_api_token(session, user, form.name.data or "")
        except InvalidInput as error:
            show_problems(form, error)
    status = 422 if request.method == "POST" and created is None else 200
    return render_template(
        "organiser/tokens.html",
        form=form,
        created=created,
        tokens=api_tokens_of(session, user),
        revoke_form=EmptyForm(),
    ), status


@bp.route("/api-access/<int:token_id>/revoke", methods=["POST"])
def revoke_token(token_id: int):
    if not EmptyForm().validate_on_submit():
        abort(400)
    revoke_api_token(db_session(), actor(), token_id)
    flash(gettext("The token is revoked."), "success")
    return redirect(url_for("organiser.tokens"))


def _suggest_times(form) -> None:
    """Pre-fill a plausible event two weeks out, so the form shows the expected shape."""
    zone = settings().zone
    start = (now().astimezone(zone) + timedelta(days=14)).replace(
        hour=14, minute=0, second=0, microsecond=0, tzinfo=None
    )
    form.event_starts_at.data = start
    form.event_ends_at.data = start + timedelta(hours=10)
    form.delivery_start.data = start - timedelta(days=1, hours=5)
    form.delivery_end.data = start - timedelta(days=1, hours=1)
    form.pickup_start.data = start + timedelta(days=1, hours=-5)
    form.pickup_end.data = start + timedelta(days=1, hours=-1)


def _fill_form(form, found, cup_types) -> None:
    zone = settings().zone

    def local(value):
        return value.astimezone(zone).replace(tzinfo=None)

    event = found.event
    form.event_name.data, form.address.data = event.name, event.address
    form.postcode.data, form.place.data = event.postcode, event.place
    if not event.postcode:
        form.lat.data, form.lon.data = event.lat, event.lon
    form.event_starts_at.data, form.event_ends_at.data = (
        local(event.starts_at),
        local(event.ends_at),
    )
    form.service.data = found.service.value
    form.delivery_by.data, form.pickup_by.data = found.delivery_by.value, found.pickup_by.value
    form.delivery_start.data, form.delivery_end.data = (
        local(found.delivery_start),
        local(found.delivery_end),
    )
    form.pickup_start.data, form.pickup_end.data = (
        local(found.pickup_start),
        local(found.pickup_end),
    )
    form.notes.data = found.notes
    quantities = {line.cup_type.code: line.quantity for line in found.lines}
    for cup in cup_types:
        form[quantity_field_name(cup)].data = quantities.get(cup.code)
