"""Small accessors views share: the settings, the clock and the signed-in domain user."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from flask_babel import get_locale

from wash_ops.accounts.models import User
from wash_ops.config import Settings
from wash_ops.db import utcnow
from web.auth.access import domain_user


def settings() -> Settings:
    return current_app.config["WASH_OPS_SETTINGS"]


def now() -> datetime:
    return utcnow()


def actor() -> User:
    return domain_user()


def locale() -> str:
    return str(get_locale() or settings().app.default_locale)
