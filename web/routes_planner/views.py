"""The planner's route page: plan a date (in the background, with progress), the routes on a
map and as lists with times and loads, lock or move a stop, re-plan, publish, the fleet and
stops added by hand."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_time, gettext

from wash_ops.accounts.models import Role
from wash_ops.errors import N_, DomainError, InvalidInput
from wash_ops.routing.jobs import JOBS
from wash_ops.routing.models import RoutePlan
from wash_ops.routing.services import (
    VehicleEdit,
    add_manual_stop,
    assign_courier,
    calendar_for_token,
    couriers,
    fleet,
    lock_stop,
    manual_stops_on,
    move_stop,
    plan_for,
    publish_plan,
    update_vehicle,
)
from web.auth.access import restrict_to
from web.context import actor, now, settings
from web.database import SESSION_FACTORY_KEY, db_session
from web.errors import page_error, translate

bp = Blueprint("routes_planner", __name__)
restrict_to(bp, [Role.PLANNER, Role.ADMIN])
COLOURS = ("#1f6feb", "#c2410c", "#15803d", "#7c3aed", "#b91c1c", "#0e7490", "#a16207")


def _day(raw: str | None) -> date | None:
    today = now().astimezone(settings().zone).date()
    if not raw:
        return today + timedelta(days=1)
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        return None
    return day if abs((day - today).days) <= 366 else None


def _bad_day():
    return page_error(400, gettext("Bad date"), gettext("Choose a date as YYYY-MM-DD."))


@bp.route("/office/routes")
def page():
    day = _day(request.args.get("day"))
    if day is None:
        return _bad_day()
    return _render(day)


def _render(day: date, error: str | None = None, status: int = 200):
    session = db_session()
    plan = plan_for(session, day)
    job = JOBS.get(request.args.get("job", ""))
    return (
        render_template(
            "routes_planner/page.html",
            day=day,
            plan=plan,
            map_data=_map_data(plan),
            colours=COLOURS,
            vehicles=fleet(session),
            couriers=couriers(session),
            manual=manual_stops_on(session, day),
            job=job if job is not None and job.day == day else None,
            error=error,
            values=request.form,
        ),
        status,
    )


def _map_data(plan: RoutePlan | None) -> dict[str, object]:
    site = settings().site
    data: dict[str, object] = {"depot": [site.lat, site.lon], "name": site.name, "routes": []}
    if plan is None:
        data["unserved"] = []
        return data
    routes = []
    for index, route in enumerate(plan.routes):
        routes.append(
            {
                "name": route.vehicle.name,
                "colour": COLOURS[index % len(COLOURS)],
                "stops": [
                    {
                        "lat": stop.lat,
                        "lon": stop.lon,
                        "label": f"{stop.sequence}. {stop.label}",
                        "trip": stop.trip,
                    }
                    for stop in route.stops
                ],
            }
        )
    data["routes"] = routes
    data["unserved"] = [
        {"lat": s.lat, "lon": s.lon, "label": s.label} for s in plan.stops if s.route_id is None
    ]
    return data


@bp.route("/office/routes/plan", methods=["POST"])
def start_plan():
    day = _day(request.form.get("day"))
    if day is None:
        return _bad_day()
    factory = current_app.extensions[SESSION_FACTORY_KEY]
    # Tests share one connection across sessions: there the plan is made in the request.
    synchronous = bool(current_app.config.get("TESTING")) and not current_app.config.get(
        "ROUTES_IN_BACKGROUND"
    )
    job = JOBS.start(factory, settings(), day, actor().id, synchronous=synchronous)
    if job.state == "failed":
        return _render(day, gettext(job.message), 409)
    return redirect(url_for("routes_planner.page", day=day.isoformat(), job=job.id))


@bp.route("/office/routes/progress.json")
def progress():
    """The stops confirmed so far on a day, for the page's live update."""
    day = _day(request.args.get("day"))
    if day is None:
        return jsonify(
            error={"code": "invalid", "message": gettext("Choose a date as YYYY-MM-DD.")}
        ), 400
    plan = plan_for(db_session(), day)
    stops = [s for s in plan.stops if s.route_id is not None] if plan else []
    done = {str(s.id): format_time(s.done_at, "short") for s in stops if s.done_at is not None}
    return jsonify(done=done, total=len(stops))


@bp.route("/office/routes/jobs/<job_id>.json")
def job_status(job_id: str):
    job = JOBS.get(job_id)
    if job is None:
        return jsonify(error={"code": "not_found", "message": gettext("No such plan run.")}), 404
    return jsonify(
        state=job.state,
        progress=round(job.progress(), 2),
        message=gettext(job.message) if job.message else "",
        day=job.day.isoformat(),
    )


@bp.route("/office/routes/<int:plan_id>/publish", methods=["POST"])
def publish(plan_id: int):
    session = db_session()
    try:
        plan = publish_plan(session, actor(), plan_id, now())
    except DomainError as refused:
        session.rollback()
        found = session.get(RoutePlan, plan_id)
        day = found.day if found else _day(None)
        assert day is not None
        return _render(day, translate(refused.first), 404 if refused.code == "not_found" else 409)
    flash(gettext("The routes are published to the couriers."), "success")
    return redirect(url_for("routes_planner.page", day=plan.day.isoformat()))


@bp.route("/office/routes/stops/<int:stop_id>/lock", methods=["POST"])
def lock(stop_id: int):
    return _planner_action(
        lambda session: lock_stop(session, actor(), stop_id, request.form.get("locked") == "1")
    )


@bp.route("/office/routes/stops/<int:stop_id>/move", methods=["POST"])
def move(stop_id: int):
    raw = request.form.get("vehicle_id", "")

    def action(session):
        if not raw.isdigit():
            raise InvalidInput(N_("Choose a vehicle in service."), "vehicle_id")
        return move_stop(session, settings(), actor(), stop_id, int(raw), now())

    return _planner_action(action)


def _planner_action(action):
    """A change on the routes page (a stop, a vehicle, a route's courier): back to the page, or
    the page again with the refusal and nothing changed."""
    session = db_session()
    day = _day(request.form.get("day"))
    if day is None:
        return _bad_day()
    try:
        action(session)
    except DomainError as refused:
        session.rollback()
        status = {"not_found": 404, "conflict": 409}.get(refused.code, 422)
        return _render(day, translate(refused.first), status)
    return redirect(url_for("routes_planner.page", day=day.isoformat()))


@bp.route("/office/routes/routes/<int:route_id>/courier", methods=["POST"])
def route_courier(route_id: int):
    return _planner_action(
        lambda session: assign_courier(
            session, actor(), route_id, request.form.get("courier_id", "")
        )
    )


@bp.route("/office/routes/vehicles/<int:vehicle_id>", methods=["POST"])
def vehicle(vehicle_id: int):
    return _planner_action(
        lambda session: update_vehicle(
            session,
            actor(),
            vehicle_id,
            VehicleEdit(
                capacity_crates=request.form.get("capacity_crates", ""),
                courier_id=request.form.get("courier_id", ""),
                active=request.form.get("active") == "1",
                speed_kmh=request.form.get("speed_kmh"),
                shift_start=request.form.get("shift_start"),
                shift_end=request.form.get("shift_end"),
                max_distance_km=request.form.get("max_distance_km"),
                cost_per_km_cents=request.form.get("cost_per_km_cents"),
                cost_per_hour_cents=request.form.get("cost_per_hour_cents"),
            ),
        )
    )


@bp.route("/office/routes/manual", methods=["POST"])
def manual():
    day = _day(request.form.get("day"))
    if day is None:
        return _bad_day()
    session = db_session()
    form = request.form
    try:
        start = _local(day, form.get("window_start", ""))
        end = _local(day, form.get("window_end", ""))
        add_manual_stop(
            session,
            settings(),
            actor(),
            day=day,
            label=form.get("label", ""),
            address=form.get("address", ""),
            lat=_float(form.get("lat")),
            lon=_float(form.get("lon")),
            window_start=start,
            window_end=end,
            deliver_crates=form.get("deliver_crates", "0") or "0",
            collect_crates=form.get("collect_crates", "0") or "0",
            notes=form.get("notes", ""),
        )
    except DomainError as refused:
        session.rollback()
        return _render(day, translate(refused.first), 422)
    flash(gettext("Stop added; re-plan the day to route it."), "success")
    return redirect(url_for("routes_planner.page", day=day.isoformat()))


def _float(raw: str | None) -> float | None:
    try:
        value = float((raw or "").replace(",", "."))
    except ValueError:
        return None
    return value if value == value and abs(value) != float("inf") else None


def _local(day: date, raw: str) -> datetime:
    try:
        clock = datetime.strptime(raw.strip(), "%H:%M").time()
    except ValueError:
        raise InvalidInput(N_("Enter a time as HH:MM."), "window_start") from None
    return datetime.combine(day, clock, settings().zone)


# --- the organisers' calendar feed (no login: the token in the address is the key) ----------

calendar_bp = Blueprint("calendar", __name__)


@calendar_bp.route("/calendar/<token>.ics")
def feed(token: str):
    try:
        text = calendar_for_token(db_session(), token)
    except DomainError as refused:
        return page_error(404, gettext("Not found"), translate(refused.first))
    return Response(
        text,
        mimetype="text/calendar",
        headers={
            "Content-Disposition": "inline; filename=wash-ops.ics",
            "Cache-Control": "no-store",
        },
    )
