"""/network: every publisher of the network with its line and freshness; /network/dead-letters:
the messages kept with the reason they were not used."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, render_template, request
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from wash_ops.accounts.models import Role
from wash_ops.network.messages import DeadReason
from wash_ops.network.services import dead_letter_counts, network_sources, recent_dead_letters
from web.auth.access import restrict_to
from web.context import now, settings
from web.database import db_session

bp = Blueprint("network", __name__)
restrict_to(bp, [Role.PLANNER, Role.ADMIN])

PAGE_SIZE = 100
REASON_LABELS = {
    DeadReason.TOO_LARGE: _l("Payload over the size limit"),
    DeadReason.BAD_JSON: _l("Not valid JSON"),
    DeadReason.BAD_SCHEMA: _l("Wrong fields or types"),
    DeadReason.UNKNOWN_TAG: _l("Unknown tag"),
    DeadReason.OUT_OF_RANGE: _l("Value outside its physical range"),
    DeadReason.UNKNOWN_TOPIC: _l("Unknown topic"),
    DeadReason.UNKNOWN_SOURCE: _l("Unknown site, line or edge node"),
    DeadReason.BAD_SPARKPLUG: _l("Sparkplug payload does not decode"),
    DeadReason.UNKNOWN_METRIC: _l("Sparkplug alias not in the birth certificate"),
    DeadReason.OVERFLOW: _l("Dropped: the bridge's queue was full"),
    DeadReason.STORE_FAILED: _l("Could not be stored (see the detail)"),
}
KIND_LABELS = {"json": _l("JSON"), "sparkplug": _l("Sparkplug B")}


@bp.route("/")
def overview():
    session = db_session()
    stale_after = timedelta(seconds=settings().telemetry.stale_after_s)
    return render_template(
        "network/overview.html",
        sources=network_sources(session, now(), stale_after),
        counts=dead_letter_counts(session),
        REASON_LABELS=REASON_LABELS,
        KIND_LABELS=KIND_LABELS,
    )


@bp.route("/dead-letters")
def dead_letters():
    session = db_session()
    reason = request.args.get("reason", "")
    before = request.args.get("before", "")
    problem = None
    if reason and reason not in {r.value for r in DeadReason}:
        problem = gettext("Unknown reason: %(reason)s.", reason=reason[:40])
    elif before and not (before.isdigit() and len(before) < 19):
        problem = gettext("“before” must be the number of a dead letter.")
    letters = []
    if problem is None:
        letters = recent_dead_letters(
            session, reason or None, PAGE_SIZE + 1, int(before) if before else None
        )
    more = len(letters) > PAGE_SIZE
    letters = letters[:PAGE_SIZE]
    return render_template(
        "network/dead_letters.html",
        letters=letters,
        counts=dead_letter_counts(session),
        reason=reason,
        problem=problem,
        next_before=letters[-1].id if more and letters else None,
        REASON_LABELS=REASON_LABELS,
        excerpt=_excerpt,
    ), (400 if problem else 200)


def _excerpt(payload: bytes, limit: int = 160) -> str:
    """The start of a payload as text; bytes that are not printable shown as \\xNN."""
    text = payload[:limit].decode("utf-8", errors="backslashreplace")
    shown = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)
    return shown + ("…" if len(payload) > limit else "")
