from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, render_template

from wash_ops.accounts.models import Role
from wash_ops.catalogue.services import main_line
from wash_ops.planning.services import booking_calendar
from wash_ops.telemetry.queries import line_status
from web.auth.access import restrict_to
from web.context import now, register_map, settings
from web.database import db_session

bp = Blueprint("supervisor", __name__)
restrict_to(bp, [Role.SUPERVISOR, Role.PLANNER, Role.ADMIN])


@bp.route("/")
def home():
    session = db_session()
    line = main_line(session, settings())
    view = booking_calendar(session, settings(), line, now(), weeks=2)
    stale_after = timedelta(seconds=settings().telemetry.stale_after_s)
    status = line_status(session, line.id, register_map(), now(), stale_after, settings().zone)
    return render_template(
        "supervisor/home.html",
        line=line,
        status=status,
        today=view.days[0],
        upcoming=[d for d in view.days[1:] if d.open][:5],
    )
