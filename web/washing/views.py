"""Wash batches on the supervisor's tablet: the dirty backlog, start a batch, the batch on the
line with its counts and hygiene, end it (after a confirmation), recent batches, and the PDFs.

The batch report and the order's hygiene certificate are open to the organiser of that order
as well; anyone else's order answers 404."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_decimal, gettext
from flask_login import current_user

from wash_ops.accounts.models import Role
from wash_ops.catalogue.services import main_line
from wash_ops.errors import DomainError, InvalidInput, NotFound
from wash_ops.orders.models import Order
from wash_ops.washing.eco import EcoFigures, order_eco, organiser_eco
from wash_ops.washing.models import WashBatch
from wash_ops.washing.services import (
    LINE_ROLES,
    batch_for,
    dirty_backlog,
    end_batch,
    order_batches,
    recent_batches,
    running_batch,
    start_batch,
)
from web.context import actor, locale, now, register_map, settings
from web.database import db_session
from web.errors import translate
from web.washing.forms import EndForm, StartForm
from web.washing.reports import batch_report_pdf, certificate_pdf

bp = Blueprint("washing", __name__)

# The PDFs are the organiser's too (their own orders only); every other view is the line's.
ORGANISER_VIEWS = frozenset({"washing.report", "washing.certificate"})


@bp.before_request
def _check_role() -> object:
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    allowed = LINE_ROLES | {Role.ORGANISER} if request.endpoint in ORGANISER_VIEWS else LINE_ROLES
    if current_user.role not in allowed:
        abort(403)
    return None


@bp.route("/")
def batches():
    return _render_batches(StartForm())


def _render_batches(form: StartForm, status: int = 200, error: str | None = None):
    session = db_session()
    line = main_line(session, settings())
    return (
        render_template(
            "washing/batches.html",
            line=line,
            running=running_batch(session, line.id, now()),
            backlog=dirty_backlog(session, settings(), line, now()),
            recent=recent_batches(session, line.id, limit=12),
            form=form,
            error=error,
        ),
        status,
    )


@bp.route("/start", methods=["POST"])
def start():
    form = StartForm()
    if not form.validate_on_submit() or not (form.order_id.data or "").isdigit():
        return _render_batches(form, 422, gettext("Choose an order from the list."))
    session = db_session()
    line = main_line(session, settings())
    try:
        batch = start_batch(
            session,
            settings(),
            actor(),
            line_id=line.id,
            order_id=int(form.order_id.data),
            cup_type=form.cup_type.data or "",
            now=now(),
            quantity=form.quantity.data,
        )
    except (InvalidInput, NotFound) as error:
        session.rollback()
        return _render_batches(form, 422, translate(error.first))
    except DomainError as error:
        session.rollback()
        return _render_batches(form, 409, translate(error.first))
    flash(
        gettext(
            "Batch %(batch)s started: %(cups)s cups of %(reference)s.",
            batch=batch.number,
            cups=format_decimal(batch.cups_loaded),
            reference=batch.order.reference,
        ),
        "success",
    )
    return redirect(url_for("washing.batches"))


@bp.route("/running.json")
def running_json():
    """The batch on the line for the page's live update (and for the line screen)."""
    session = db_session()
    line = main_line(session, settings())
    found = running_batch(session, line.id, now())
    return jsonify(running=None if found is None else found.as_dict())


@bp.route("/<int:batch_id>/end", methods=["GET", "POST"])
def end(batch_id: int):
    session = db_session()
    line = main_line(session, settings())
    batch = batch_for(session, actor(), batch_id)
    form = EndForm()
    error = None
    if form.validate_on_submit():
        try:
            ended = end_batch(
                session,
                settings(),
                register_map(),
                actor(),
                line_id=line.id,
                batch_id=batch.id,
                now=now(),
            )
        except DomainError as refused:
            session.rollback()
            error = translate(refused.first)
        else:
            flash(_ended_message(ended), "success" if ended.hygiene_passed else "warning")
            return redirect(url_for("washing.batch", batch_id=ended.id))
    if not batch.running and error is None:
        return redirect(url_for("washing.batch", batch_id=batch.id))
    running = running_batch(session, line.id, now()) if batch.running else None
    status = 200 if request.method == "GET" else (409 if error else 422)
    return render_template(
        "washing/end.html", batch=batch, running=running, form=form, error=error
    ), status


def _ended_message(batch: WashBatch) -> str:
    if batch.hygiene_passed:
        return gettext(
            "Batch %(batch)s ended: %(good)s cups to clean stock, %(broken)s rejected.",
            batch=batch.number,
            good=format_decimal(batch.cups_good),
            broken=format_decimal(batch.cups_broken),
        )
    return gettext(
        "Batch %(batch)s ended outside the hygiene limits: %(good)s cups go to quarantine.",
        batch=batch.number,
        good=format_decimal(batch.cups_good),
    )


@bp.route("/<int:batch_id>")
def batch(batch_id: int):
    found = batch_for(db_session(), actor(), batch_id)
    return render_template("washing/batch.html", batch=found)


@bp.route("/<int:batch_id>/report.pdf")
def report(batch_id: int):
    found = batch_for(db_session(), actor(), batch_id)
    if found.running:
        abort(404)
    return _pdf(batch_report_pdf(found, locale()), f"batch-{found.number}.pdf")


@bp.route("/orders/<int:order_id>/certificate.pdf")
def certificate(order_id: int):
    session = db_session()
    order, found = order_batches(session, actor(), order_id)
    ended = [b for b in found if not b.running]
    return _pdf(
        certificate_pdf(order, ended, order_eco(session, order.id), locale()),
        f"hygiene-{order.reference}.pdf",
    )


def _pdf(data: bytes, filename: str) -> Response:
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


@bp.app_template_global("order_washing")
def order_washing(order: Order) -> dict[str, object] | None:
    """The order page's washing section: its batches and eco figures, once a batch ran."""
    session = db_session()
    try:
        _order, found = order_batches(session, actor(), order.id)
    except NotFound:
        return None
    if not found:
        return None
    return {"batches": found, "eco": order_eco(session, order.id)}


@bp.app_template_global("organisation_eco")
def organisation_eco() -> EcoFigures | None:
    """The signed-in organiser's eco figures over all their orders, once a batch ended."""
    user = actor()
    if user.role is not Role.ORGANISER or user.organisation_id is None:
        return None
    figures = organiser_eco(db_session(), user.organisation_id)
    return None if figures.empty else figures
