"""Every API blueprint authenticates with a bearer token and takes JSON bodies only."""

from __future__ import annotations

from flask import g, request
from flask_smorest import Blueprint, abort

from wash_ops.accounts.services import user_for_token
from web.database import db_session


def api_blueprint(name: str, import_name: str, description: str) -> Blueprint:
    blueprint = Blueprint(name, import_name, description=description)
    blueprint.before_request(authenticate_request)
    blueprint.before_request(require_json_body)
    return blueprint


def authenticate_request() -> None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        abort(401, message="Send an API token: Authorization: Bearer <token>.")
    user = user_for_token(db_session(), token.strip())
    if user is None:
        abort(401, message="This API token is not valid or has been revoked.")
    g.api_user = user


def require_json_body() -> None:
    has_body = bool(request.content_length) or "Transfer-Encoding" in request.headers
    if request.method in ("POST", "PUT", "PATCH") and has_body:
        if not request.is_json:
            abort(415, message="Send the request body as JSON (Content-Type: application/json).")
        if request.get_json(silent=True) is None:
            abort(400, message="The request body is not valid JSON.")
