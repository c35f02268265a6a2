from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import date, timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date, format_decimal, gettext
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from wash_ops.accounts.models import OFFICE_ROLES, Organisation, Role
from wash_ops.catalogue.models import CupType
from wash_ops.catalogue.services import active_cup_types
from wash_ops.errors import Conflict, DomainError, InvalidInput
from wash_ops.inventory.availability import MAX_DAYS, clean_pool_now
from wash_ops.inventory.availability import availability as available_by_day
from wash_ops.inventory.counts import count_location
from wash_ops.inventory.ledger import put_away
from wash_ops.inventory.locations import create_location
from wash_ops.inventory.models import (
    STORAGE_KINDS,
    Location,
    LocationKind,
    StockMovement,
    StockState,
)
from wash_ops.inventory.queries import (
    MovementFilter,
    count_movements,
    find_movements,
    place_detail,
    stock_overview,
    stock_owners,
    storage_places,
    virtual_places_with_stock,
)
from wash_ops.orders.models import Order
from wash_ops.orders.services import order_for
from web.context import actor, locale, now, settings
from web.database import db_session
from web.forms import show_problems
from web.stock.forms import (
    ORDER_CODE,
    BadFilter,
    LocationForm,
    MoveForm,
    count_form_class,
    owner_id_of,
    parse_filters,
    quantity_field_name,
)
from web.stock.labels import COLUMNS, ROWS, crate_labels, place_label, sheets
from web.stock.states import LOCATION_KIND_LABELS, OWNER_STATE_LABELS, STOCK_STATE_LABELS

bp = Blueprint("inventory", __name__)

PER_PAGE = 50
READERS = OFFICE_ROLES | {Role.SUPERVISOR}
# Who may open what: the organiser's own page, pages a line supervisor may read, and the rest
# (every form and every page not listed) for the office only.
ORGANISER_VIEWS = frozenset({"inventory.mine"})
READ_VIEWS = frozenset(
    {
        "inventory.overview",
        "inventory.locations",
        "inventory.location",
        "inventory.movements",
        "inventory.movements_csv",
        "inventory.availability",
        "inventory.lookup",
    }
)


@bp.before_request
def _check_role() -> object:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    if request.endpoint in ORGANISER_VIEWS:
        allowed = {Role.ORGANISER}
    elif request.endpoint in READ_VIEWS and request.method in ("GET", "HEAD"):
        allowed = READERS
    else:
        allowed = OFFICE_ROLES
    if current_user.role not in allowed:
        abort(403)
    return None


@bp.context_processor
def _words() -> dict[str, object]:
    return {
        "STOCK_STATE_LABELS": STOCK_STATE_LABELS,
        "LOCATION_KIND_LABELS": LOCATION_KIND_LABELS,
        "can_edit": current_user.is_authenticated and current_user.role in OFFICE_ROLES,
    }


# --- overview, places -------------------------------------------------------------------


@bp.route("/")
def overview():
    session = db_session()
    return render_template(
        "stock/overview.html",
        stocks=stock_overview(session),
        virtual=virtual_places_with_stock(session),
    )


@bp.route("/locations", methods=["GET", "POST"])
def locations():
    session = db_session()
    places = storage_places(session)
    form = LocationForm()
    form.set_parents(
        [row.location for row in places if row.location.kind is not LocationKind.PALLET]
    )
    if form.validate_on_submit():
        try:
            created = create_location(
                session,
                code=form.code.data or "",
                name=form.name.data or "",
                kind=LocationKind(form.kind.data),
                parent=_place(form.parent.data) if form.parent.data else None,
                capacity_crates=form.capacity_crates.data,
            )
        except InvalidInput as error:
            show_problems(form, error)
        else:
            flash(gettext("Place %(code)s is added.", code=created.code), "success")
            return redirect(url_for("inventory.location", code=created.code))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "stock/locations.html",
        places=places,
        virtual=virtual_places_with_stock(session),
        form=form,
    ), status


@bp.route("/locations/<code>")
def location(code: str):
    session = db_session()
    place = _place(code)
    return render_template(
        "stock/location.html",
        detail=place_detail(session, place),
        recent=find_movements(session, MovementFilter(location=place.code), limit=10),
    )


def _place(code: str) -> Location:
    place = db_session().scalar(select(Location).where(Location.code == code.strip().upper()))
    if place is None:
        abort(404)
    return place


# --- moving and counting ----------------------------------------------------------------

MOVE_FIELDS = {
    "lines.0.cup_type": "cup_type",
    "lines.0.quantity": "quantity",
    "lines.0.from_location": "from_location",
    "lines.0.to_location": "to_location",
    "lines.0.owner": "owner",
    "lines.0": "",
}


@bp.route("/moves/new", methods=["GET", "POST"])
def move():
    session = db_session()
    form = MoveForm()
    form.set_choices(active_cup_types(session), _organisations(), locale())
    if request.method == "GET":
        _prefill(form, request.args)
    if form.validate_on_submit():
        try:
            moved = put_away(
                session,
                cup_type=form.cup_type.data or "",
                quantity=form.quantity.data or 0,
                from_location=form.from_location.data or "",
                to_location=form.to_location.data or "",
                state=StockState(form.state.data),
                owner_id=owner_id_of(form.owner.data),
                user=actor(),
                at=now(),
                reason=(form.reason.data or "").strip() or "put away",
            )
        except DomainError as error:
            show_problems(form, error, MOVE_FIELDS)
            status = 409 if isinstance(error, Conflict) else 422
        else:
            flash(
                gettext(
                    "%(quantity)s cups moved from %(source)s to %(target)s.",
                    quantity=format_decimal(moved.quantity),
                    source=moved.from_location.code if moved.from_location else "",
                    target=moved.to_location.code,
                ),
                "success",
            )
            return redirect(url_for("inventory.location", code=moved.to_location.code))
        return _render_move(form, status)
    return _render_move(form, 422 if request.method == "POST" else 200)


def _render_move(form: MoveForm, status: int):
    places = storage_places(db_session())
    return render_template("stock/move.html", form=form, places=places), status


# Links into the move form: /stock/moves/new?from=A-01-1&cup_type=ECO33 …
PREFILL = {
    "cup_type": "cup_type",
    "from": "from_location",
    "to": "to_location",
    "state": "state",
    "owner": "owner",
}


def _prefill(form: FlaskForm, args: Mapping[str, str]) -> None:
    for arg, name in PREFILL.items():
        if args.get(arg):
            form[name].data = args[arg]


def _organisations() -> list[Organisation]:
    return list(db_session().scalars(select(Organisation).order_by(Organisation.name)))


@bp.route("/locations/<code>/count", methods=["GET", "POST"])
def count(code: str):
    session = db_session()
    place = _place(code)
    if place.kind not in STORAGE_KINDS:
        abort(404)
    cup_types = active_cup_types(session)
    form = count_form_class(cup_types, locale())()
    form.set_choices(_organisations())
    if request.method == "GET":
        form.state.data = StockState.CLEAN_AVAILABLE.value
    status = 422 if request.method == "POST" else 200
    if form.validate_on_submit():
        counted = form.counted(cup_types)
        try:
            booked = count_location(
                session,
                place,
                counted,
                reason=form.reason.data or "",
                user=actor(),
                state=StockState(form.state.data),
                owner_id=owner_id_of(form.owner.data),
                at=now(),
            )
        except InvalidInput as error:
            names = {f"counted.{cup.code}": quantity_field_name(cup) for cup in cup_types}
            show_problems(form, error, {**names, "counted": ""})
        else:
            _flash_differences(booked, counted, place)
            return redirect(url_for("inventory.location", code=place.code))
    return render_template(
        "stock/count.html",
        form=form,
        cup_types=cup_types,
        quantity_field_name=quantity_field_name,
        detail=place_detail(session, place),
    ), status


def _flash_differences(booked: list[StockMovement], counted: dict[str, int], place: Location):
    if not booked:
        flash(
            gettext(
                "The count agrees with the stock at %(code)s: nothing booked.", code=place.code
            ),
            "success",
        )
        return
    for movement in booked:
        code = movement.cup_type.code
        if movement.from_location_id is None:
            message = gettext(
                "%(cup_type)s: %(counted)s counted, %(quantity)s more than booked; "
                "the difference is added to the stock.",
                cup_type=code,
                counted=format_decimal(counted[code]),
                quantity=format_decimal(movement.quantity),
            )
        else:
            message = gettext(
                "%(cup_type)s: %(counted)s counted, %(quantity)s fewer than booked; "
                "the difference is booked as lost.",
                cup_type=code,
                counted=format_decimal(counted[code]),
                quantity=format_decimal(movement.quantity),
            )
        flash(message, "warning")
    untouched = sorted(set(counted) - {m.cup_type.code for m in booked})
    if untouched:
        flash(
            gettext("The count agrees for %(cup_types)s.", cup_types=", ".join(untouched)),
            "success",
        )


# --- the ledger -------------------------------------------------------------------------


@bp.route("/movements")
def movements():
    if request.args.get("format") == "csv":
        return movements_csv()
    session = db_session()
    cup_types = active_cup_types(session)
    try:
        filters = _filters()
    except BadFilter as error:
        return render_template(
            "stock/movements.html",
            problem=str(error),
            asked={key: request.args.get(key, "") for key in request.args},
            rows=[],
            total=0,
            page=1,
            pages=1,
            cup_types=cup_types,
            owners=stock_owners(session),
            csv_args={},
        ), 400
    total = count_movements(session, filters.wanted)
    pages = max(1, -(-total // PER_PAGE))
    rows = find_movements(
        session, filters.wanted, offset=(filters.page - 1) * PER_PAGE, limit=PER_PAGE
    )
    return render_template(
        "stock/movements.html",
        problem=None,
        asked=filters.asked,
        rows=rows,
        total=total,
        page=filters.page,
        pages=pages,
        cup_types=cup_types,
        owners=stock_owners(session),
        csv_args={key: value for key, value in filters.asked.items() if value},
    )


CSV_HEADER = [
    "at",
    "cup_type",
    "owner",
    "quantity",
    "from_state",
    "from_location",
    "to_state",
    "to_location",
    "reason",
    "order",
    "user",
]


@bp.route("/movements.csv")
def movements_csv():
    try:
        filters = _filters()
    except BadFilter as error:
        return Response(str(error) + "\n", status=400, mimetype="text/plain")
    zone = settings().zone
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for m in find_movements(db_session(), filters.wanted, limit=None):
        writer.writerow(
            [
                m.at.astimezone(zone).isoformat(timespec="seconds"),
                m.cup_type.code,
                _cell(m.owner.name) if m.owner else "pool",
                m.quantity,
                m.from_state.value if m.from_state else "",
                m.from_location.code if m.from_location else "",
                m.to_state.value,
                m.to_location.code,
                _cell(m.reason),
                m.order.reference if m.order else "",
                _cell(m.user.name) if m.user else "",
            ]
        )
    filename = f"stock-movements-{now().astimezone(zone):%Y%m%d-%H%M}.csv"
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _cell(text: str) -> str:
    """Free text cannot start a formula when the file is opened in a spreadsheet."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _filters():
    session = db_session()
    codes = set(session.scalars(select(CupType.code)))
    places = set(session.scalars(select(Location.code)))
    return parse_filters(request.args, settings().zone, codes, places)


# --- availability -----------------------------------------------------------------------


@bp.route("/availability")
def availability():
    session = db_session()
    cup_types = active_cup_types(session)
    if not cup_types:
        abort(404)
    code = (request.args.get("cup_type") or cup_types[0].code).strip().upper()
    cup = next((c for c in cup_types if c.code == code), None)
    days_text = (request.args.get("days") or "28").strip()
    problem = None
    if cup is None:
        problem = gettext("Unknown cup type: %(code)s.", code=code)
    elif not days_text.isdigit() or not 1 <= int(days_text) <= MAX_DAYS:
        problem = gettext("Ask for 1 to %(count)s days.", count=MAX_DAYS)
    if problem is not None:
        return render_template(
            "stock/availability.html",
            problem=problem,
            cup_types=cup_types,
            cup=cup,
            days=days_text,
            weeks=[],
        ), 400
    assert cup is not None
    today = now().astimezone(settings().zone).date()
    found = available_by_day(session, settings(), cup, today, int(days_text), now())
    return render_template(
        "stock/availability.html",
        problem=None,
        cup_types=cup_types,
        cup=cup,
        days=int(days_text),
        weeks=_weeks(found),
        weekday_names=[
            format_date(today + timedelta(days=offset - today.weekday()), "EEEE")
            for offset in range(7)
        ],
        clean_now=clean_pool_now(session, cup.id),
        lowest=min(quantity for _, quantity in found),
        today=today,
    )


def _weeks(found: list[tuple[date, int]]) -> list[list[tuple[date, int] | None]]:
    """The days in calendar weeks, Monday first; days outside the period are None."""
    if not found:
        return []
    by_day = dict(found)
    first = found[0][0] - timedelta(days=found[0][0].weekday())
    weeks = []
    while first <= found[-1][0]:
        week = [first + timedelta(days=offset) for offset in range(7)]
        weeks.append([(day, by_day[day]) if day in by_day else None for day in week])
        first += timedelta(days=7)
    return weeks


# --- labels and lookup ------------------------------------------------------------------


@bp.route("/labels")
def labels():
    session = db_session()
    asked = [
        code.strip().upper()
        for value in request.args.getlist("locations")
        for code in value.split(",")
        if code.strip()
    ]
    if asked:
        found = {
            place.code: place
            for place in session.scalars(select(Location).where(Location.code.in_(asked)))
        }
        unknown = [code for code in asked if code not in found]
        if unknown:
            return render_template(
                "error.html",
                status=404,
                title=gettext("Not found"),
                message=gettext("Unknown location: %(code)s.", code=", ".join(unknown)),
            ), 404
        places = [found[code] for code in dict.fromkeys(asked)]
        title = gettext("Labels for places")
    else:
        places = [row.location for row in storage_places(session, kinds={LocationKind.PALLET})]
        title = gettext("Labels for all pallet places")
    return _render_labels(title, [place_label(place) for place in places])


@bp.route("/labels/order/<int:order_id>")
def order_labels(order_id: int):
    order = order_for(db_session(), actor(), order_id)
    title = gettext("Crate labels for %(reference)s", reference=order.reference)
    return _render_labels(title, crate_labels(order, locale()), order=order)


def _render_labels(title: str, found: list, order: Order | None = None):
    return render_template(
        "stock/labels.html",
        title=title,
        sheets=list(sheets(found)),
        count=len(found),
        columns=COLUMNS,
        rows=ROWS,
        order=order,
    )


@bp.route("/lookup")
def lookup():
    code = (request.args.get("code") or "").strip().upper()
    if not code:
        return _lookup_failed(gettext("Enter or scan a code."), code, 400)
    session = db_session()
    place = session.scalar(select(Location).where(Location.code == code))
    if place is not None:
        return redirect(url_for("inventory.location", code=place.code))
    match = ORDER_CODE.match(code)
    if match is not None and code.startswith("WO"):
        order = session.get(Order, int(match.group(1)))
        if order is not None:
            if current_user.role in OFFICE_ROLES:
                return redirect(url_for("office.order", order_id=order.id))
            return redirect(url_for("inventory.movements", order=order.reference))
    return _lookup_failed(
        gettext("No place, order or crate has the code %(code)s.", code=code), code, 404
    )


def _lookup_failed(message: str, code: str, status: int):
    return render_template("stock/lookup.html", problem=message, code=code), status


# --- the organiser's own cups -----------------------------------------------------------


@bp.route("/mine")
def mine():
    organisation_id = actor().organisation_id
    if organisation_id is None:
        abort(403)
    return render_template(
        "stock/mine.html",
        stocks=stock_overview(db_session(), organisation_id=organisation_id),
        labels=OWNER_STATE_LABELS,
    )


# --- helpers ----------------------------------------------------------------------------
