"""Stock: balances, the ledger, availability by date, and receiving an order's returns.

Staff only: planners and admins read and write, line supervisors read. An organiser may read
the cup report of their own orders (404 for anyone else's)."""

from __future__ import annotations

import marshmallow as ma
from flask import g, request
from flask_smorest import Api, abort

from wash_ops.accounts.models import OFFICE_ROLES, Role
from wash_ops.errors import N_, NotFound
from wash_ops.inventory.availability import availability
from wash_ops.inventory.journey import cup_report, receive_returns
from wash_ops.inventory.reports import stock_balances, stock_movements
from wash_ops.orders.models import Order
from wash_ops.orders.services import order_for
from web.api.guards import api_blueprint
from web.api.schemas import ErrorSchema
from web.api.stock_schemas import (
    AvailabilityOut,
    AvailabilityQuery,
    BalanceOut,
    BalanceQuery,
    CupReportOut,
    MovementPageOut,
    MovementQuery,
    ReceiveIn,
)
from web.context import now, settings
from web.database import db_session
from web.extensions import csrf

# Not "stock": that is the name of the office's stock pages; the URL is /api/v1/stock all the same.
blp = api_blueprint("stock-api", __name__, "Stock: balances, movements, availability, receiving")
URL_PREFIX = "/api/v1/stock"
READERS = OFFICE_ROLES | {Role.SUPERVISOR}
REPORT_READERS = READERS | {Role.ORGANISER}


def register(api: Api) -> None:
    csrf.exempt(blp)
    api.register_blueprint(blp, url_prefix=URL_PREFIX)


@blp.before_request
def _staff_only() -> None:
    role = g.api_user.role
    if request.endpoint == f"{blp.name}.order_report" and role in REPORT_READERS:
        return
    if request.method == "GET" and role in READERS:
        return
    if role not in OFFICE_ROLES:
        abort(403, message="Stock is for the office; line supervisors may read it.")


@blp.route("/balances")
@blp.arguments(BalanceQuery, location="query", unknown=ma.RAISE)
@blp.response(200, BalanceOut(many=True))
@blp.alt_response(422, schema=ErrorSchema, description="Unknown cup type or location")
def balances(query):
    """Cups per cup type, owner, state and place (non-zero only)."""
    return stock_balances(db_session(), **query)


@blp.route("/movements")
@blp.arguments(MovementQuery, location="query", unknown=ma.RAISE)
@blp.response(200, MovementPageOut)
@blp.alt_response(422, schema=ErrorSchema, description="Unknown filter value or bad period")
def movements(query):
    """The stock ledger, newest first, filtered and paged (at most 500 a page)."""
    return stock_movements(db_session(), **query)


@blp.route("/availability")
@blp.arguments(AvailabilityQuery, location="query", unknown=ma.RAISE)
@blp.response(200, AvailabilityOut)
@blp.alt_response(422, schema=ErrorSchema, description="Unknown cup type or bad period")
def available(query):
    """Clean pool cups of one cup type that can be promised, per day."""
    first_day = query["first_day"] or now().astimezone(settings().zone).date()
    days = availability(
        db_session(), settings(), query["cup_type"], first_day, query["days"], now()
    )
    return {
        "cup_type": query["cup_type"],
        "days": [{"day": day, "available": count} for day, count in days],
    }


@blp.route("/orders/<int:order_id>/receive", methods=["POST"])
@blp.arguments(ReceiveIn)
@blp.response(200, CupReportOut)
@blp.alt_response(404, schema=ErrorSchema, description="No such order")
@blp.alt_response(409, schema=ErrorSchema, description="Not delivered, or already received")
@blp.alt_response(422, schema=ErrorSchema, description="Bad counts, cup type or place")
def receive(data, order_id: int):
    """Count an order's returns at the facility: good and broken cups per cup type, crates
    that are not ours, and the place they go to. What went out and did not come back is booked
    as lost. Answers the order's cup report."""
    session = db_session()
    order = order_for(session, g.api_user, order_id)
    receive_returns(session, order, g.api_user, **data)
    return cup_report(session, order)


@blp.route("/orders/<int:order_id>/report")
@blp.response(200, CupReportOut)
@blp.alt_response(404, schema=ErrorSchema, description="No such order of yours")
def order_report(order_id: int):
    """Delivered, returned, broken and lost cups per cup type, with the loss lines for the
    invoice (pool cups only). Organisers see their own orders."""
    session = db_session()
    if g.api_user.role is Role.SUPERVISOR:
        order = session.get(Order, order_id)
        if order is None:
            raise NotFound(N_("This order does not exist."))
    else:
        order = order_for(session, g.api_user, order_id)
    return cup_report(session, order)
