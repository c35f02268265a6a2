from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import date, timedelta

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale, gettext

from wash_ops.accounts.models import Role
from wash_ops.catalogue.models import Line
from wash_ops.catalogue.services import main_line
from wash_ops.errors import DomainError
from wash_ops.planning.services import booking_calendar, calendar_for
from wash_ops.planning.washing_plan import cups_due_by_day
from wash_ops.telemetry.alarms import acknowledge_alarm, acknowledge_alarms
from wash_ops.telemetry.board import LineBoard, line_board
from wash_ops.telemetry.queries import line_status
from wash_ops.telemetry.shift_report import day_report
from wash_ops.telemetry.throughput import hours_today, last_days
from wash_ops.washing.services import batches_between, running_batch
from web.auth.access import restrict_to
from web.context import actor, now, register_map, settings
from web.database import db_session
from web.errors import STATUS_BY_CODE, translate

bp = Blueprint("supervisor", __name__)
LIVE_CACHE_S = 0.5
restrict_to(bp, [Role.SUPERVISOR, Role.PLANNER, Role.ADMIN])

THROUGHPUT_DAYS = 14  # the throughput page's days against capacity and plan
LIVE_SECTIONS = {
    "line-state": "supervisor/_state.html",
    "line-figures": "supervisor/_figures.html",
    "line-alarms": "supervisor/_alarms.html",
    "line-gauges": "supervisor/_gauges.html",
    "line-batch": "supervisor/_batch.html",
}


class _MicroCache:
    """Answers kept for a fraction of a second, per process. Tablets ask at the same moment:
    the first computes while the others wait for its answer instead of computing it again."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._compute = threading.Lock()
        self._entries: dict[str, tuple[float, dict]] = {}

    def _fresh(self, key: str) -> dict | None:
        entry = self._entries.get(key)
        if entry is None or time.monotonic() - entry[0] > self.seconds:
            return None
        return entry[1]

    def get_or_compute(self, key: str, compute: Callable[[], dict]) -> dict:
        payload = self._fresh(key)
        if payload is not None:
            return payload
        with self._compute:
            payload = self._fresh(key)
            if payload is None:
                payload = compute()
                self._entries[key] = (time.monotonic(), payload)
            return payload

    def clear(self) -> None:
        with self._compute:
            self._entries.clear()


def _live_cache() -> _MicroCache:
    """One cache per app (tests make many apps over different databases)."""
    return current_app.extensions.setdefault("line_live_cache", _MicroCache(LIVE_CACHE_S))


def _board() -> tuple[Line, LineBoard]:
    session = db_session()
    line = main_line(session, settings())
    at = now()
    today = booking_calendar(session, settings(), line, at, weeks=1).days[0]
    stale_after = timedelta(seconds=settings().telemetry.stale_after_s)
    status = line_status(session, line.id, register_map(), at, stale_after, settings().zone)
    board = line_board(
        session, settings(), register_map(), line.id, status, today.capacity, today.booked, at
    )
    return line, board


@bp.route("/")
def home():
    line, board = _board()
    batch = running_batch(db_session(), line.id, board.at)
    return render_template(
        "supervisor/line.html", line=line, board=board, batch=batch, sections=LIVE_SECTIONS
    )


@bp.route("/live")
def live():
    """The changing parts of the line screen, rendered as on the page, for its short polling.

    Every tablet asks each second and the answer is the same for all of them (the sections carry
    no session data: the acknowledge forms send the page's CSRF token in a header), so one
    rendering serves every tablet for LIVE_CACHE_S; an acknowledgement drops it.
    """
    payload = _live_cache().get_or_compute(str(get_locale()), _live_payload)
    response = jsonify(payload)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/alarms/<int:alarm_id>/acknowledge", methods=["POST"])
def acknowledge(alarm_id: int):
    return _acknowledged(lambda: acknowledge_alarm(db_session(), alarm_id, actor(), now()))


@bp.route("/alarms/acknowledge", methods=["POST"])
def acknowledge_group():
    raw = request.form.getlist("alarm_id")
    ids = [int(value) for value in raw if value.isdigit()]
    if len(ids) != len(raw):
        ids = []
    return _acknowledged(lambda: acknowledge_alarms(db_session(), ids, actor(), now()))


def _live_payload() -> dict:
    line, board = _board()
    batch = running_batch(db_session(), line.id, board.at)
    sections = {
        name: render_template(template, line=line, board=board, batch=batch, live=True)
        for name, template in LIVE_SECTIONS.items()
    }
    return {"at": board.at.isoformat(), "stale": board.status.stale, "sections": sections}


def _acknowledged(action):
    """Acknowledge, then back to the screen; a script on the screen gets JSON instead."""
    wants_json = request.accept_mimetypes.best == "application/json"
    _live_cache().clear()
    try:
        action()
    except DomainError as error:
        db_session().rollback()
        message = translate(error.first)
        if wants_json:
            status = STATUS_BY_CODE.get(error.code, 400)
            return jsonify(error={"code": error.code, "message": message}), status
        flash(message, "error")
        return redirect(url_for("supervisor.home"))
    if wants_json:
        return jsonify(ok=True)
    flash(gettext("Alarm acknowledged."), "success")
    return redirect(url_for("supervisor.home"))


@bp.route("/oee")
def oee():
    """OEE per shift and for the day, with the downtime Pareto: also the printable shift report."""
    session = db_session()
    line = main_line(session, settings())
    at = now()
    today = at.astimezone(settings().zone).date()
    day = _day_argument(today)
    report = day_report(session, settings(), register_map(), line.id, day, at)
    batches = {
        result.shift.code: batches_between(session, line.id, result.starts_at, result.ends_at)
        for result in report.shifts
    }
    return render_template(
        "supervisor/oee.html",
        line=line,
        report=report,
        batches=batches,
        today=today,
        previous_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1) if day < today else None,
        rated=settings().line.rated_cups_per_hour,
    )


@bp.route("/throughput")
def throughput():
    line, board = _board()
    session = db_session()
    hours = hours_today(session, settings(), register_map(), line.id, board.plan, board.at)
    today = board.at.astimezone(settings().zone).date()
    first = today - timedelta(days=THROUGHPUT_DAYS - 1)
    days = last_days(
        session,
        settings(),
        register_map(),
        line.id,
        calendar_for(settings(), line),
        board.cups_today,
        board.at,
        days=THROUGHPUT_DAYS,
        due=cups_due_by_day(session, line.id, first, today),
    )
    return render_template(
        "supervisor/throughput.html", line=line, board=board, hours=hours, days=days
    )


def _day_argument(today: date) -> date:
    """The ?day= of the OEE page; a bad or future date says so and shows today instead."""
    raw = request.args.get("day")
    if not raw:
        return today
    try:
        wanted = date.fromisoformat(raw)
    except ValueError:
        flash(gettext("That is not a date: showing today."), "error")
        return today
    if wanted > today:
        flash(gettext("That day has not come yet: showing today."), "error")
        return today
    return wanted
