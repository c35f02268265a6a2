"""Words and icons for domain values, through the translation catalogue."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from wash_ops.accounts.models import OrganisationStatus, Role
from wash_ops.orders.models import Carrier, OrderStatus, Service
from wash_ops.telemetry.packml import PackMLState

STATUS_LABELS = {
    OrderStatus.DRAFT: (_l("Draft"), "✎"),
    OrderStatus.SUBMITTED: (_l("Submitted"), "➤"),
    OrderStatus.CONFIRMED: (_l("Confirmed"), "✔"),
    OrderStatus.DELIVERED: (_l("Delivered"), "⬇"),
    OrderStatus.AT_EVENT: (_l("At the event"), "★"),
    OrderStatus.PICKED_UP: (_l("Picked up"), "⬆"),
    OrderStatus.RECEIVED: (_l("Received"), "▣"),
    OrderStatus.WASHING: (_l("Washing"), "≋"),
    OrderStatus.WASHED: (_l("Washed"), "✦"),
    OrderStatus.CLOSED: (_l("Closed"), "■"),
    OrderStatus.REJECTED: (_l("Rejected"), "✖"),
    OrderStatus.CANCELLED: (_l("Cancelled"), "⊘"),
}

SERVICE_LABELS = {
    Service.RENT_AND_WASH: _l("Rent pool cups and wash"),
    Service.WASH_OWN: _l("Wash our own cups"),
    Service.STORE_OWN: _l("Wash and store our own cups"),
}

CARRIER_LABELS = {
    Carrier.COURIER: _l("wash-ops courier"),
    Carrier.ORGANISER: _l("we do it ourselves"),
}

ROLE_LABELS = {
    Role.ORGANISER: _l("Organiser"),
    Role.SUPERVISOR: _l("Line supervisor"),
    Role.COURIER: _l("Courier"),
    Role.PLANNER: _l("Planner"),
    Role.ADMIN: _l("Administrator"),
}

ORGANISATION_STATUS_LABELS = {
    OrganisationStatus.PENDING: _l("Waiting for approval"),
    OrganisationStatus.APPROVED: _l("Approved"),
    OrganisationStatus.REJECTED: _l("Not approved"),
}

STATE_LABELS = {
    PackMLState.UNDEFINED: _l("Unknown"),
    PackMLState.CLEARING: _l("Clearing"),
    PackMLState.STOPPED: _l("Stopped"),
    PackMLState.STARTING: _l("Starting"),
    PackMLState.IDLE: _l("Idle"),
    PackMLState.SUSPENDED: _l("Suspended (waiting)"),
    PackMLState.EXECUTE: _l("Running"),
    PackMLState.STOPPING: _l("Stopping"),
    PackMLState.ABORTING: _l("Aborting"),
    PackMLState.ABORTED: _l("Aborted"),
    PackMLState.HOLDING: _l("Holding"),
    PackMLState.HELD: _l("Held"),
    PackMLState.UNHOLDING: _l("Unholding"),
    PackMLState.SUSPENDING: _l("Suspending"),
    PackMLState.UNSUSPENDING: _l("Unsuspending"),
    PackMLState.RESETTING: _l("Resetting"),
    PackMLState.COMPLETING: _l("Completing"),
    PackMLState.COMPLETE: _l("Complete"),
}

# How the line screen shows a state: a tone (colour class) and an icon beside the words.
STATE_LOOKS = {
    PackMLState.EXECUTE: ("ok", "▶"),
    PackMLState.STARTING: ("info", "↗"),
    PackMLState.UNHOLDING: ("info", "↗"),
    PackMLState.UNSUSPENDING: ("info", "↗"),
    PackMLState.RESETTING: ("info", "↺"),
    PackMLState.CLEARING: ("info", "↺"),
    PackMLState.IDLE: ("idle", "‖"),
    PackMLState.SUSPENDED: ("warn", "‖"),
    PackMLState.SUSPENDING: ("warn", "‖"),
    PackMLState.COMPLETING: ("idle", "■"),
    PackMLState.COMPLETE: ("idle", "■"),
    PackMLState.STOPPING: ("idle", "■"),
    PackMLState.STOPPED: ("idle", "■"),
    PackMLState.HOLDING: ("bad", "⚠"),
    PackMLState.HELD: ("bad", "⚠"),
    PackMLState.ABORTING: ("bad", "✖"),
    PackMLState.ABORTED: ("bad", "✖"),
    PackMLState.UNDEFINED: ("stale", "⚠"),
}

ALARM_LABELS = {
    "emergency_stop": _l("Emergency stop pressed"),
    "door_open": _l("A door of the machine is open"),
    "jam": _l("Cups jammed in the machine"),
    "low_detergent": _l("Detergent low: refill the tank"),
    "rinse_temperature_low": _l("Final rinse too cold"),
    "water_pressure_low": _l("Water pressure low"),
    "motor_overload": _l("Motor overloaded"),
    "dryer_fault": _l("Dryer fault"),
}

SEVERITY_LABELS = {
    "critical": (_l("Critical"), "✖"),
    "high": (_l("High"), "⚠"),
    "medium": (_l("Medium"), "◆"),
    "low": (_l("Low"), "ℹ"),
}

STOP_REASON_LABELS = {
    "not_scheduled": _l("Outside shift hours"),
    "micro_stop": _l("Short stop: no cups at the infeed"),
    "jam": _l("Jam"),
    "break": _l("Break"),
    "cleaning": _l("Cleaning"),
    "unreported": _l("No reason reported"),
}
