from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext
from flask_login import current_user, login_required, login_user, logout_user

from wash_ops.accounts.services import Registration, authenticate, register_organiser
from wash_ops.errors import InvalidInput
from web.auth.access import LoginUser, home_endpoint
from web.auth.forms import LoginForm, RegisterForm
from web.database import db_session
from web.extensions import LANGUAGE_SESSION_KEY, limiter
from web.forms import show_problems

bp = Blueprint("auth", __name__)


def _login_limit() -> str:
    return current_app.config["WASH_OPS_SETTINGS"].app.login_rate_limit


@bp.route("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for(home_endpoint(current_user.role)))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(
    _login_limit, methods=["POST"], deduct_when=lambda response: response.status_code != 302
)
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(db_session(), form.email.data or "", form.password.data or "")
        if user is not None:
            login_user(LoginUser(user))
            return redirect(_safe_next() or url_for(home_endpoint(user.role)))
        form.form_errors.append(gettext("E-mail address or password is wrong."))
        return render_template("auth/login.html", form=form), 401
    status = 422 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    flash(gettext("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/register", methods=["GET", "POST"])
def register():
    form = RegisterForm()
    if form.validate_on_submit():
        data = Registration(
            organisation_name=form.organisation_name.data or "",
            name=form.name.data or "",
            email=form.email.data or "",
            password=form.password.data or "",
            phone=form.phone.data or "",
            vat_number=form.vat_number.data or "",
        )
        try:
            user = register_organiser(db_session(), data)
        except InvalidInput as error:
            show_problems(form, error)
        else:
            login_user(LoginUser(user))
            flash(
                gettext(
                    "Welcome! You can prepare orders now; we confirm them once the office has "
                    "approved your organisation."
                ),
                "success",
            )
            return redirect(url_for("organiser.orders"))
    status = 422 if request.method == "POST" else 200
    return render_template("auth/register.html", form=form), status


THEME_COOKIE = "theme"
THEMES = ("light", "dark")


@bp.route("/healthz")
def healthz():
    """Liveness for a load balancer: answers without the database or a login."""
    return jsonify(status="ok")


@bp.route("/language/<code>")
def language(code: str):
    settings = current_app.config["WASH_OPS_SETTINGS"]
    if code in settings.app.locales:
        session[LANGUAGE_SESSION_KEY] = code
    return redirect(_safe_next() or url_for("auth.index"))


@bp.route("/theme/<mode>")
def theme(mode: str):
    """Day or night colours, remembered in the browser (the tablet at the line keeps its own)."""
    response = redirect(_safe_next() or url_for("auth.index"))
    if mode in THEMES:
        response.set_cookie(THEME_COOKIE, mode, max_age=400 * 24 * 3600, samesite="Lax")
    return response


def _safe_next() -> str | None:
    """Only a local path: an open redirect to another site would help phishers."""
    target = request.args.get("next", "")
    parts = urlsplit(target)
    if (
        target.startswith("/")
        and not target.startswith("//")
        and not parts.netloc
        and not parts.scheme
    ):
        return target
    return None
