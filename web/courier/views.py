"""The courier's phone view: today's route stop by stop, navigation links, and the confirmation
of the crates delivered or collected at a stop (which moves the cups in the stock ledger).

A courier sees only their own routes of a published plan; the office sees every route."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import quote

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext

from wash_ops.accounts.models import Role
from wash_ops.catalogue.services import active_cup_types
from wash_ops.errors import DomainError
from wash_ops.orders.models import Order
from wash_ops.orders.services import courier_legs_on
from wash_ops.routing.models import PlanStatus, Route, RouteStop
from wash_ops.routing.services import (
    confirm_stop,
    plan_for,
    routes_of_courier,
    stop_of_courier,
)
from web.auth.access import restrict_to
from web.context import actor, locale, now, settings
from web.database import db_session
from web.errors import translate

bp = Blueprint("courier", __name__)
restrict_to(bp, [Role.COURIER, Role.PLANNER, Role.ADMIN])


def _today() -> date:
    return now().astimezone(settings().zone).date()


def _routes(day: date) -> list[Route]:
    user = actor()
    if user.is_office:
        plan = plan_for(db_session(), day)
        if plan is None or plan.status is not PlanStatus.PUBLISHED:
            return []
        return list(plan.routes)
    return routes_of_courier(db_session(), user, day)


@bp.route("/")
def home():
    today = _today()
    days = []
    for day in (today, today + timedelta(days=1)):
        routes = _routes(day)
        legs = [] if routes else courier_legs_on(db_session(), settings(), day)
        days.append((day, routes, legs))
    return render_template(
        "courier/home.html", days=days, maps_link=maps_link, cup_names=_cup_names()
    )


def _cup_names() -> dict[str, str]:
    return {cup.code: cup.name(locale()) for cup in active_cup_types(db_session())}


@bp.route("/stops/<int:stop_id>", methods=["GET", "POST"])
def stop(stop_id: int):
    session = db_session()
    found = stop_of_courier(session, actor(), stop_id)
    error, status = None, 200
    if request.method == "POST":
        crates = {
            line["code"]: request.form.get(f"crates-{line['code']}", "").strip()
            for line in found.lines
        }
        try:
            confirm_stop(session, actor(), stop_id, crates, request.form.get("problem", ""), now())
        except DomainError as refused:
            session.rollback()
            error = translate(refused.first)
            status = 409 if refused.code == "conflict" else 422
            found = stop_of_courier(session, actor(), stop_id)
        else:
            flash(gettext("Stop confirmed: %(label)s.", label=found.label), "success")
            return redirect(url_for("courier.home") + f"#stop-{found.id}")
    order = session.get(Order, found.order_id) if found.order_id else None
    return (
        render_template(
            "courier/stop.html",
            stop=found,
            order=order,
            error=error,
            values=request.form,
            maps_link=maps_link,
            cup_names=_cup_names(),
        ),
        status,
    )


def maps_link(stop: RouteStop) -> str:
    return f"https://www.openstreetmap.org/directions?to={stop.lat:.6f}%2C{stop.lon:.6f}#map=15/{quote(f'{stop.lat:.5f}')}/{quote(f'{stop.lon:.5f}')}"
