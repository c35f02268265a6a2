from __future__ import annotations

from flask import g

from wash_ops.errors import N_, InvalidInput
from wash_ops.orders.services import (
    OrderInput,
    cancel_order,
    create_order,
    event_for,
    order_for,
    orders_for,
    submit_order,
    update_order,
)
from web.api.guards import api_blueprint
from web.api.schemas import ErrorSchema, OrderIn, OrderListQuery, OrderOut, ReasonIn
from web.context import now, settings
from web.database import db_session

blp = api_blueprint("orders", __name__, "Wash orders")


def _order_input(data: dict) -> OrderInput:
    quantities: dict[str, int] = {}
    for line in data["lines"]:
        if line["cup_type"] in quantities:
            raise InvalidInput(
                N_("Cup type %(code)s is listed twice."),
                f"lines.{line['cup_type']}",
                code=line["cup_type"],
            )
        quantities[line["cup_type"]] = line["quantity"]
    fields = {key: value for key, value in data.items() if key not in ("lines", "event_id")}
    return OrderInput(quantities=quantities, **fields)


@blp.route("")
@blp.arguments(OrderListQuery, location="query")
@blp.response(200, OrderOut(many=True))
def list_orders(query):
    """Your organisation's orders, by delivery date."""
    return orders_for(db_session(), g.api_user, query["status"], query["limit"], query["offset"])


@blp.route("", methods=["POST"])
@blp.arguments(OrderIn)
@blp.response(201, OrderOut)
@blp.alt_response(422, schema=ErrorSchema, description="Invalid order")
def post_order(data):
    """Create a draft order for one of your events."""
    session = db_session()
    event = event_for(session, g.api_user, data["event_id"])
    return create_order(session, settings(), g.api_user, event, _order_input(data), now())


@blp.route("/<int:order_id>")
@blp.response(200, OrderOut)
@blp.alt_response(404, schema=ErrorSchema, description="No such order of yours")
def get_order(order_id: int):
    return order_for(db_session(), g.api_user, order_id)


@blp.route("/<int:order_id>", methods=["PUT"])
@blp.arguments(OrderIn)
@blp.response(200, OrderOut)
@blp.alt_response(409, schema=ErrorSchema, description="The order can no longer be changed")
def put_order(data, order_id: int):
    """Replace a draft or submitted order's details."""
    session = db_session()
    order = order_for(session, g.api_user, order_id)
    if data["event_id"] != order.event_id:
        raise InvalidInput(N_("An order stays with its event."), "event_id")
    return update_order(session, settings(), g.api_user, order, _order_input(data), now())


@blp.route("/<int:order_id>/submit", methods=["POST"])
@blp.response(200, OrderOut)
@blp.alt_response(
    409,
    schema=ErrorSchema,
    description="The wash does not fit; the message gives the earliest pickup date that does",
)
def post_submit(order_id: int):
    """Submit a draft: accepted only when its wash fits the line's capacity."""
    session = db_session()
    order = order_for(session, g.api_user, order_id)
    submit_order(session, settings(), g.api_user, order, now())
    return order


@blp.route("/<int:order_id>/cancel", methods=["POST"])
@blp.arguments(ReasonIn)
@blp.response(200, OrderOut)
def post_cancel(data, order_id: int):
    """Cancel an order, with the reason."""
    session = db_session()
    order = order_for(session, g.api_user, order_id)
    cancel_order(session, g.api_user, order, data["reason"], now())
    return order
