"""Error answers: JSON ``{"error": {"code", "message", "field"}}`` under /api, a page elsewhere.

No traceback ever reaches a user; unexpected errors are logged and answered with a plain 500.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask_babel import format_date, format_decimal, gettext
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from wash_ops.errors import DomainError, Problem
from wash_ops.inventory.models import LocationKind, StockState
from wash_ops.orders.models import OrderStatus
from web.labels import STATUS_LABELS
from web.stock.states import LOCATION_KIND_LABELS, STOCK_STATE_LABELS

STATUS_BY_CODE = {"invalid": 422, "not_found": 404, "forbidden": 403, "conflict": 409}
API_PREFIX = "/api/"


def translate(problem: Problem) -> str:
    """The problem in the request's language, with dates, numbers and statuses localised."""
    return gettext(
        problem.message, **{key: _localise(value) for key, value in problem.params.items()}
    )


def _localise(value: Any) -> Any:
    if isinstance(value, OrderStatus):
        return str(STATUS_LABELS[value][0]).lower()
    if isinstance(value, StockState):
        return str(STOCK_STATE_LABELS[value][0]).lower()
    if isinstance(value, LocationKind):
        return str(LOCATION_KIND_LABELS[value]).lower()
    if isinstance(value, date):
        return format_date(value, "long")
    if isinstance(value, int) and not isinstance(value, bool):
        return format_decimal(value)
    return value


def wants_json() -> bool:
    return request.path.startswith(API_PREFIX)


def json_error(
    status: int, code: str, message: str, field: str | None = None, **extra: Any
) -> tuple[Response, int]:
    body: dict[str, Any] = {"code": code, "message": message, "field": field}
    body.update(extra)
    return jsonify(error=body), status


def page_error(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("error.html", status=status, title=title, message=message), status


def conflict_response() -> Response:
    message = gettext("Someone changed the same data at the same time. Please try again.")
    if wants_json():
        response, status = json_error(409, "conflict", message)
    else:
        body, status = page_error(409, gettext("Conflict"), message)
        response = current_app.make_response(body)
    response.status_code = status
    return response


def handle_domain_error(error: DomainError) -> Any:
    status = STATUS_BY_CODE.get(error.code, 400)
    message = translate(error.first)
    if wants_json():
        details = [
            {"field": problem.field, "message": translate(problem)} for problem in error.problems
        ]
        extra: dict[str, Any] = {"details": details}
        fit = getattr(error, "fit", None)
        if fit is not None:
            extra["earliest_pickup"] = (
                fit.earliest_pickup.isoformat() if fit.earliest_pickup else None
            )
        return json_error(status, error.code, message, error.first.field, **extra)
    return page_error(status, _title_for(status), message)


def handle_http_error(error: HTTPException) -> Any:
    status = error.code or 500
    if wants_json():
        return _json_http_error(error, status)
    return page_error(status, _title_for(status), _message_for(status))


def _json_http_error(error: HTTPException, status: int) -> Any:
    data = getattr(error, "data", None) or {}
    messages = data.get("messages") or data.get("errors")
    if messages:
        field, message = _first_validation_message(messages)
        response = json_error(status, "invalid", message, field, details=messages)
    else:
        code = {
            404: "not_found",
            401: "unauthorized",
            403: "forbidden",
            405: "method_not_allowed",
            409: "conflict",
            429: "rate_limited",
        }.get(status, "invalid" if status < 500 else "server_error")
        response = json_error(status, code, data.get("message") or _message_for(status))
    headers = data.get("headers") or {}
    if status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="wash-ops"')
    return response[0], response[1], headers


def _first_validation_message(messages: Any, path: tuple[str, ...] = ()) -> tuple[str, str]:
    """webargs nests errors by location then field: {"json": {"lines": {"0": {"quantity": [...]}}}}."""
    if isinstance(messages, list):
        text = messages[0] if messages and isinstance(messages[0], str) else str(messages)
        return ".".join(path[1:]) if len(path) > 1 else (path[0] if path else ""), text
    if isinstance(messages, dict) and messages:
        key = next(iter(messages))
        return _first_validation_message(messages[key], (*path, str(key)))
    return "", str(messages)


def handle_csrf_error(error: CSRFError) -> Any:
    if wants_json():
        return json_error(400, "csrf", gettext("The form's security token is missing or expired."))
    return page_error(
        400,
        gettext("The form expired"),
        gettext(
            "The form's security token is missing or expired. Go back, reload the page and try again."
        ),
    )


def handle_unexpected(error: Exception) -> Any:
    current_app.logger.exception("unexpected error", exc_info=error)
    if wants_json():
        return json_error(500, "server_error", _message_for(500))
    return page_error(500, _title_for(500), _message_for(500))


def _title_for(status: int) -> str:
    return {
        400: gettext("Bad request"),
        401: gettext("Please log in"),
        403: gettext("Not allowed"),
        404: gettext("Not found"),
        405: gettext("Not allowed"),
        409: gettext("Not possible now"),
        422: gettext("Please check your input"),
        429: gettext("Too many attempts"),
    }.get(status, gettext("Something went wrong"))


def _message_for(status: int) -> str:
    return {
        400: gettext("The request could not be understood."),
        401: gettext("Log in or send a valid API token."),
        403: gettext("Your role does not give access to this page."),
        404: gettext("This page or item does not exist."),
        405: gettext("This address does not accept this kind of request."),
        413: gettext("The request is too large."),
        415: gettext("Send the request body as JSON."),
        429: gettext("Too many attempts. Wait a minute and try again."),
    }.get(
        status,
        gettext("Something went wrong on our side. It has been logged; please try again later."),
    )


def init_app(app: Flask) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
