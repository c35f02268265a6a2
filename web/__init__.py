"""The wash-ops web application: pages per audience and the JSON API."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from flask import Flask

from wash_ops.accounts.services import get_user
from wash_ops.config import ConfigError, Settings, load_settings
from wash_ops.db import make_engine, make_session_factory
from wash_ops.telemetry.register_map import RegisterMap, load_register_map


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. ``test_config`` may carry ``SETTINGS`` (a Settings), ``REGISTER_MAP``,
    ``SESSION_FACTORY`` (a sessionmaker bound to a test connection), ``TESTING`` and ``DEMO``,
    plus Flask keys."""
    test_config = dict(test_config or {})
    settings: Settings = test_config.pop("SETTINGS", None) or load_settings()
    session_factory = test_config.pop("SESSION_FACTORY", None)
    register_map: RegisterMap = test_config.pop("REGISTER_MAP", None) or load_register_map()

    app = Flask(__name__, instance_relative_config=False)
    app.config.update(
        WASH_OPS_SETTINGS=settings,
        WASH_OPS_REGISTER_MAP=register_map,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        MAX_CONTENT_LENGTH=1024 * 1024,
        BABEL_DEFAULT_LOCALE=settings.app.default_locale,
        BABEL_DEFAULT_TIMEZONE=settings.site.timezone,
        RATELIMIT_STORAGE_URI=settings.app.ratelimit_storage_uri,
        WTF_CSRF_TIME_LIMIT=None,
        API_TITLE="wash-ops API",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
    )
    app.config.update(test_config)
    app.config["SECRET_KEY"] = _secret_key(settings, app.config)

    if session_factory is None:
        engine = make_engine(settings.app.database_url, pool_pre_ping=True)
        session_factory = make_session_factory(engine)

    _init_extensions(app, session_factory)
    _register_blueprints(app)
    return app


def _secret_key(settings: Settings, config: dict[str, Any]) -> str:
    if settings.app.secret_key:
        return settings.app.secret_key
    if config.get("TESTING") or config.get("DEMO"):
        return secrets.token_urlsafe(32)
    raise ConfigError(
        "app.secret_key is not set: set WASH_OPS_SECRET_KEY to a long random string "
        "(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    )


def _init_extensions(app: Flask, session_factory: Any) -> None:
    from web import database, errors, templating
    from web.auth.access import LoginUser
    from web.extensions import babel, csrf, limiter, login_manager, select_locale

    database.init_app(app, session_factory)
    errors.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None

    @login_manager.user_loader
    def _load_user(user_id: str) -> LoginUser | None:
        if not user_id.isdigit():
            return None
        user = get_user(database.db_session(), int(user_id))
        return LoginUser(user) if user is not None else None

    templating.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from web.api import init_api
    from web.auth.views import bp as auth_bp
    from web.courier.views import bp as courier_bp
    from web.network.views import bp as network_bp
    from web.office import receiving  # noqa: F401 - adds its routes to the office blueprint
    from web.office.views import bp as office_bp
    from web.organiser.views import bp as organiser_bp
    from web.routes_planner.views import bp as routes_planner_bp
    from web.routes_planner.views import calendar_bp
    from web.stock.views import bp as stock_bp
    from web.supervisor.views import bp as supervisor_bp
    from web.washing.views import bp as washing_bp
    from web.washing_plan.views import line_bp as line_plan_bp
    from web.washing_plan.views import office_bp as washing_plan_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(organiser_bp, url_prefix="/organiser")
    app.register_blueprint(office_bp, url_prefix="/office")
    app.register_blueprint(stock_bp, url_prefix="/stock")
    app.register_blueprint(supervisor_bp, url_prefix="/line")
    app.register_blueprint(washing_bp, url_prefix="/line/batches")
    app.register_blueprint(courier_bp, url_prefix="/courier")
    app.register_blueprint(network_bp, url_prefix="/network")
    app.register_blueprint(washing_plan_bp)  # /office/washing-plan
    app.register_blueprint(line_plan_bp)  # /line/plan
    app.register_blueprint(routes_planner_bp)  # /office/routes
    app.register_blueprint(calendar_bp)  # /calendar/<token>.ics
    init_api(app)
