"""Role checks: each audience's blueprint admits its roles only, before any view runs."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Blueprint, abort, redirect, request, url_for
from flask_login import UserMixin, current_user

from wash_ops.accounts.models import Role, User


class LoginUser(UserMixin):
    """The signed-in user as Flask-Login sees it: a thin wrapper over the domain user."""

    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        return str(self.user.id)

    def __getattr__(self, name: str):
        return getattr(self.user, name)


def restrict_to(blueprint: Blueprint, roles: Iterable[Role]) -> None:
    allowed = frozenset(roles)

    @blueprint.before_request
    def _check_role() -> object:
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if current_user.role not in allowed:
            abort(403)
        return None


def home_endpoint(role: Role) -> str:
    return {
        Role.ORGANISER: "organiser.orders",
        Role.PLANNER: "office.queue",
        Role.ADMIN: "office.queue",
        Role.SUPERVISOR: "supervisor.home",
        Role.COURIER: "courier.home",
    }[role]


def domain_user() -> User:
    return current_user.user
