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
