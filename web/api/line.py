from __future__ import annotations

from datetime import timedelta

from flask import g
from flask_smorest import abort

from wash_ops.accounts.models import Role
from wash_ops.catalogue.services import main_line
from wash_ops.telemetry.alarms import acknowledge_alarm
from wash_ops.telemetry.queries import line_status, tag_series
from web.api.guards import api_blueprint
from web.api.schemas import AlarmOut, ErrorSchema, LineStatusOut, SeriesOut, SeriesQuery
from web.context import now, register_map, settings
from web.database import db_session

blp = api_blueprint("line", __name__, "The washing line's live status and history")
LINE_ROLES = frozenset({Role.SUPERVISOR, Role.PLANNER, Role.ADMIN})


@blp.before_request
def _staff_only() -> None:
    if g.api_user.role not in LINE_ROLES:
        abort(403, message="The line's data is for the line supervisors and the office.")


@blp.route("/status")
@blp.response(200, LineStatusOut)
def status():
    """State, speed, counters today, temperatures, alarms needing attention, and staleness."""
    session = db_session()
    line = main_line(session, settings())
    stale_after = timedelta(seconds=settings().telemetry.stale_after_s)
    found = line_status(session, line.id, register_map(), now(), stale_after, settings().zone)
    return {"line": line.code, "capacity_per_day": line.capacity_per_day, "status": found}


@blp.route("/series")
@blp.arguments(SeriesQuery, location="query")
@blp.response(200, SeriesOut)
@blp.alt_response(422, schema=ErrorSchema, description="Unknown tag or a bad period")
def series(query):
    """One tag between two times, raw or rolled up: the finest resolution within 1,500 points."""
    session = db_session()
    line = main_line(session, settings())
    return tag_series(
        session,
        line.id,
        register_map(),
        query["tag"],
        query["start"],
        query["end"],
        query["resolution"],
    )


@blp.route("/alarms/<int:alarm_id>/acknowledge", methods=["POST"])
@blp.response(200, AlarmOut)
def acknowledge(alarm_id: int):
    """Acknowledge an alarm, in the token owner's name."""
    return acknowledge_alarm(db_session(), alarm_id, g.api_user, now())
