"""Flask extensions, created unbound here and attached to the app in ``create_app``."""

from __future__ import annotations

from flask import current_app, request, session
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
babel = Babel()
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)

LANGUAGE_SESSION_KEY = "lang"


def select_locale() -> str:
    settings = current_app.config["WASH_OPS_SETTINGS"]
    choice = session.get(LANGUAGE_SESSION_KEY)
    if choice in settings.app.locales:
        return choice
    if (
        current_user
        and current_user.is_authenticated
        and current_user.locale in settings.app.locales
    ):
        return current_user.locale
    if request.path.startswith("/api/"):
        return request.accept_languages.best_match(settings.app.locales) or "en"
    return settings.app.default_locale
