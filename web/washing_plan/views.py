"""The washing plan, for the planner's desktop and, larger, for the supervisor's tablet.

Two blueprints because the audiences differ: the office page admits planners and admins, the
tablet page the supervisors as well. Both render the same template from the same plan.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import current_user

from wash_ops.accounts.models import OFFICE_ROLES, Role
from wash_ops.catalogue.services import active_cup_types, main_line
from wash_ops.planning.washing_plan import MAX_DAYS, washing_plan
from web.auth.access import restrict_to
from web.context import locale, now, register_map, settings
from web.database import db_session

office_bp = Blueprint("washing_plan", __name__)
restrict_to(office_bp, [Role.PLANNER, Role.ADMIN])
line_bp = Blueprint("line_plan", __name__)
restrict_to(line_bp, [Role.SUPERVISOR, Role.PLANNER, Role.ADMIN])

DAY_CHOICES = (7, 14, 21, 28)


@office_bp.route("/office/washing-plan")
def office():
    return _render(tablet=False)


@line_bp.route("/line/plan")
def tablet():
    return _render(tablet=True)


def _render(tablet: bool) -> str:
    raw = request.args.get("days", "14")
    days: int | str = int(raw) if raw.isdigit() else raw  # the plan refuses what is not 1..56
    session = db_session()
    line = main_line(session, settings())
    plan = washing_plan(session, settings(), line, now(), days, register_map=register_map())
    cup_names = {cup.code: cup.name(locale()) for cup in active_cup_types(session)}
    return render_template(
        "washing_plan/plan.html",
        plan=plan,
        line=line,
        tablet=tablet,
        days=days,
        day_choices=sorted({*DAY_CHOICES, days}),
        max_days=MAX_DAYS,
        cup_names=cup_names,
        links=current_user.role in OFFICE_ROLES,
        endpoint=request.endpoint,
    )
