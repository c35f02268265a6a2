from __future__ import annotations

from flask import g

from wash_ops.orders.services import EventInput, create_event, event_for, events_for
from web.api.guards import api_blueprint
from web.api.schemas import ErrorSchema, EventIn, EventOut
from web.context import now, settings
from web.database import db_session

blp = api_blueprint("events", __name__, "Your events")


@blp.route("")
@blp.response(200, EventOut(many=True))
def list_events():
    """Your organisation's events."""
    return events_for(db_session(), g.api_user)


@blp.route("", methods=["POST"])
@blp.arguments(EventIn)
@blp.response(201, EventOut)
@blp.alt_response(422, schema=ErrorSchema, description="Invalid event")
def post_event(data):
    """Create an event: place it by Belgian postcode or by coordinates."""
    user = g.api_user
    return create_event(db_session(), settings(), user.organisation, EventInput(**data), now())


@blp.route("/<int:event_id>")
@blp.response(200, EventOut)
@blp.alt_response(404, schema=ErrorSchema, description="No such event of yours")
def get_event(event_id: int):
    return event_for(db_session(), g.api_user, event_id)
