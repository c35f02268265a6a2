"""Small accessors views share: the settings, the clock and the signed-in domain user."""

from __future__ import annotations

from datetime import datetime

from flask import abort, current_app, request
from flask_babel import get_locale

from wash_ops.accounts.models import User
from wash_ops.config import Settings
from wash_ops.db import utcnow
from wash_ops.orders.models import OrderStatus
from wash_ops.telemetry.register_map import RegisterMap
from web.auth.access import domain_user


def settings() -> Settings:
    return current_app.config["WASH_OPS_SETTINGS"]


def register_map() -> RegisterMap:
    return current_app.config["WASH_OPS_REGISTER_MAP"]


def now() -> datetime:
    return utcnow()


def actor() -> User:
    return domain_user()


def locale() -> str:
    return str(get_locale() or settings().app.default_locale)


def status_filter() -> OrderStatus | None:
    """The ``?status=`` of an order list; an unknown status is a bad request."""
    value = request.args.get("status") or None
    if value is None:
        return None
    try:
        return OrderStatus(value)
    except ValueError:
        abort(400)
