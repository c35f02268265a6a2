from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, render_template

from wash_ops.accounts.models import Role
from wash_ops.orders.services import courier_legs_on
from web.auth.access import restrict_to
from web.context import now, settings
from web.database import db_session

bp = Blueprint("courier", __name__)
restrict_to(bp, [Role.COURIER, Role.PLANNER, Role.ADMIN])


@bp.route("/")
def home():
    today = now().astimezone(settings().zone).date()
    days = [
        (day, courier_legs_on(db_session(), settings(), day))
        for day in (today, today + timedelta(days=1))
    ]
    return render_template("courier/home.html", days=days)
