from __future__ import annotations

from wash_ops.catalogue.services import main_line
from wash_ops.orders.services import quick_fit
from wash_ops.planning.services import booking_calendar
from web.api.guards import api_blueprint
from web.api.schemas import CalendarQuery, CapacityOut, CapacityQuery, DayOut
from web.context import now, settings
from web.database import db_session

blp = api_blueprint("capacity", __name__, "The washing line's capacity")


@blp.route("/check")
@blp.arguments(CapacityQuery, location="query")
@blp.response(200, CapacityOut)
def check(query):
    """Would this many cups, picked up at pickup_end, be washed within the turnaround promise?"""
    return quick_fit(db_session(), settings(), query["pickup_end"], query["cups"], now())


@blp.route("/days")
@blp.arguments(CalendarQuery, location="query")
@blp.response(200, DayOut(many=True))
def days(query):
    """Booked cups against capacity per day, from today."""
    session = db_session()
    view = booking_calendar(
        session, settings(), main_line(session, settings()), now(), query["weeks"]
    )
    return view.days
