from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import select

from wash_ops.accounts.models import Organisation, OrganisationStatus, Role
from wash_ops.accounts.services import review_organisation
from wash_ops.catalogue.services import main_line
from wash_ops.errors import DomainError
from wash_ops.inventory.promises import pool_check
from wash_ops.orders.models import OrderStatus
from wash_ops.orders.services import (
    cancel_order,
    confirm_order,
    order_for,
    orders_for,
    reject_order,
    submitted_queue,
)
from wash_ops.planning.services import booking_calendar, fit_of_order
from wash_ops.routing.services import planned_visits
from web.auth.access import restrict_to
from web.context import actor, now, settings, status_filter
from web.database import db_session
from web.errors import translate
from web.organiser.forms import EmptyForm, ReasonForm

bp = Blueprint("office", __name__)
restrict_to(bp, [Role.PLANNER, Role.ADMIN])

MAX_WEEKS = 26


@bp.route("/")
def queue():
    session = db_session()
    orders = submitted_queue(session)
    fits = {
        order.id: fit_of_order(session, settings(), order, now(), search=False) for order in orders
    }
    return render_template(
        "office/queue.html",
        orders=orders,
        fits=fits,
        action_form=EmptyForm(),
        reason_form=ReasonForm(prefix="reject"),
    )


@bp.route("/orders")
def all_orders():
    status = status_filter()
    found = orders_for(db_session(), actor(), status, limit=500)
    return render_template(
        "office/orders.html",
        orders=found,
        status=status.value if status else None,
        statuses=list(OrderStatus),
    )


@bp.route("/orders/<int:order_id>")
def order(order_id: int):
    return _render_order(order_for(db_session(), actor(), order_id))


def _render_order(found, status: int = 200, problem: str | None = None):
    fit = None
    if found.status in (OrderStatus.DRAFT, OrderStatus.SUBMITTED) and found.wash_cups:
        fit = fit_of_order(db_session(), settings(), found, now())
    checks = pool_check(db_session(), settings(), found, now())
    return (
        render_template(
            "office/order_detail.html",
            order=found,
            fit=fit,
            pool_checks=checks,
            shortfall=problem,
            action_form=EmptyForm(),
            cancel_form=ReasonForm(prefix="cancel"),
            reason_form=ReasonForm(prefix="reject"),
            planned={
                visit.kind.value: visit
                for visit in planned_visits(db_session(), found.organisation_id, found.id)
            },
        ),
        status,
    )


@bp.route("/orders/<int:order_id>/confirm", methods=["POST"])
def confirm(order_id: int):
    session = db_session()
    found = order_for(session, actor(), order_id)
    if not EmptyForm().validate_on_submit():
        abort(400)
    try:
        confirm_order(session, settings(), actor(), found, now())
    except DomainError as error:
        return _render_order(found, 409, translate(error.first))
    flash(
        gettext(
            "Order %(reference)s is confirmed and its wash is booked.", reference=found.reference
        ),
        "success",
    )
    return redirect(
        request.form.get("back") == "queue"
        and url_for("office.queue")
        or url_for("office.order", order_id=found.id)
    )


@bp.route("/orders/<int:order_id>/reject", methods=["POST"])
def reject(order_id: int):
    session = db_session()
    found = order_for(session, actor(), order_id)
    form = ReasonForm(prefix="reject")
    if not form.validate_on_submit():
        return _render_order(found, 422, gettext("Give a reason to reject the order."))
    try:
        reject_order(session, actor(), found, form.reason.data or "")
    except DomainError as error:
        return _render_order(found, 409, translate(error.first))
    flash(gettext("Order %(reference)s is rejected.", reference=found.reference), "success")
    return redirect(url_for("office.order", order_id=found.id))


@bp.route("/orders/<int:order_id>/cancel", methods=["POST"])
def cancel(order_id: int):
    session = db_session()
    found = order_for(session, actor(), order_id)
    form = ReasonForm(prefix="cancel")
    if not form.validate_on_submit():
        return _render_order(found, 422, gettext("Give a reason to cancel."))
    try:
        cancel_order(session, actor(), found, form.reason.data or "", now())
    except DomainError as error:
        return _render_order(found, 409, translate(error.first))
    flash(gettext("Order %(reference)s is cancelled.", reference=found.reference), "success")
    return redirect(url_for("office.order", order_id=found.id))


@bp.route("/organisations")
def organisations():
    found = list(
        db_session().scalars(select(Organisation).order_by(Organisation.status, Organisation.name))
    )
    return render_template(
        "office/organisations.html",
        organisations=found,
        action_form=EmptyForm(),
        pending=OrganisationStatus.PENDING,
    )


@bp.route("/organisations/<int:organisation_id>/<any(approve, reject):decision>", methods=["POST"])
def review(organisation_id: int, decision: str):
    if not EmptyForm().validate_on_submit():
        abort(400)
    organisation = review_organisation(
        db_session(), organisation_id, actor(), approve=decision == "approve"
    )
    message = (
        gettext("%(name)s is approved.", name=organisation.name)
        if organisation.approved
        else gettext("%(name)s is not approved.", name=organisation.name)
    )
    flash(message, "success")
    return redirect(url_for("office.organisations"))


@bp.route("/calendar")
def calendar():
    weeks = request.args.get("weeks", "6")
    if not weeks.isdigit() or not 1 <= int(weeks) <= MAX_WEEKS:
        abort(400)
    session = db_session()
    line = main_line(session, settings())
    view = booking_calendar(session, settings(), line, now(), int(weeks))
    return render_template("office/calendar.html", view=view, line=line, weeks=int(weeks))
