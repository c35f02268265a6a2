"""Template filters and globals: local times, numbers, labels, and the navigation per role."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import Flask, current_app, request
from flask_babel import (
    format_date,
    format_datetime,
    format_decimal,
    format_percent,
    format_time,
    get_locale,
)
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from wash_ops.accounts.models import Role
from web.labels import (
    ALARM_LABELS,
    CARRIER_LABELS,
    ORGANISATION_STATUS_LABELS,
    ROLE_LABELS,
    SERVICE_LABELS,
    SEVERITY_LABELS,
    STATE_LABELS,
    STATE_LOOKS,
    STATUS_LABELS,
    STOP_REASON_LABELS,
)

NAVIGATION = {
    Role.ORGANISER: [
        ("organiser.orders", _l("My orders")),
        ("organiser.new_order", _l("New order")),
        ("inventory.mine", _l("My stored cups")),
        ("organiser.tokens", _l("API access")),
    ],
    Role.PLANNER: [
        ("office.queue", _l("Orders to confirm")),
        ("office.all_orders", _l("All orders")),
        ("office.calendar", _l("Capacity calendar")),
        ("washing_plan.office", _l("Washing plan")),
        ("routes_planner.page", _l("Routes")),
        ("supervisor.home", _l("The line now")),
        ("office.organisations", _l("Organisations")),
        ("inventory.overview", _l("Stock")),
        ("washing.batches", _l("Wash batches")),
        ("network.overview", _l("Network")),
    ],
    Role.SUPERVISOR: [
        ("supervisor.home", _l("The line now")),
        ("washing.batches", _l("Wash batches")),
        ("line_plan.tablet", _l("Washing plan")),
        ("supervisor.oee", _l("OEE and shifts")),
        ("supervisor.throughput", _l("Throughput")),
    ],
    Role.COURIER: [("courier.home", _l("My trips"))],
}
NAVIGATION[Role.ADMIN] = NAVIGATION[Role.PLANNER]


def _when(value: datetime | None, style: str = "short") -> str:
    return "" if value is None else format_datetime(value, style)


def _day(value: date | None, style: str = "full") -> str:
    return "" if value is None else format_date(value, style)


def _number(value: int | float | None) -> str:
    return "" if value is None else format_decimal(value)


def _clock(value: datetime | None) -> str:
    """The local time of day only, for what happened today (the date is on the screen)."""
    return "" if value is None else format_time(value, "short")


def _duration(value: timedelta | None) -> str:
    """Hours and minutes, as the shop floor says them: 7:05."""
    if value is None:
        return ""
    minutes = round(value.total_seconds() / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def _percent(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else format_percent(value, f"#,##0.{'0' * digits}%")


def _local_input(value: datetime | None) -> str:
    """A UTC datetime as the value of a datetime-local input, in the site's time zone."""
    if value is None:
        return ""
    zone = current_app.config["WASH_OPS_SETTINGS"].zone
    return value.astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def _context() -> dict[str, object]:
    items = []
    if current_user.is_authenticated:
        items = NAVIGATION.get(current_user.role, [])
    return {
        "navigation": items,
        "current_locale": str(get_locale() or "nl"),
        "settings": current_app.config["WASH_OPS_SETTINGS"],
        "current_path": request.full_path.rstrip("?"),
        "theme": "dark" if request.cookies.get("theme") == "dark" else "light",
    }


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        when=_when,
        day=_day,
        number=_number,
        local_input=_local_input,
        duration=_duration,
        clock=_clock,
        percent=_percent,
    )
    app.jinja_env.globals.update(
        STATUS_LABELS=STATUS_LABELS,
        SERVICE_LABELS=SERVICE_LABELS,
        CARRIER_LABELS=CARRIER_LABELS,
        ROLE_LABELS=ROLE_LABELS,
        ORGANISATION_STATUS_LABELS=ORGANISATION_STATUS_LABELS,
        STATE_LABELS=STATE_LABELS,
        STATE_LOOKS=STATE_LOOKS,
        ALARM_LABELS=ALARM_LABELS,
        SEVERITY_LABELS=SEVERITY_LABELS,
        STOP_REASON_LABELS=STOP_REASON_LABELS,
    )
    app.context_processor(_context)
