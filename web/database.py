"""One database session per request, committed once at the request boundary.

A response under 400 commits; anything else (a form error, a refused transition, an exception)
rolls back, so a refused request changes nothing.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from web.errors import conflict_response

SESSION_FACTORY_KEY = "wash_ops.session_factory"


def init_app(app: Flask, factory: sessionmaker[Session]) -> None:
    app.extensions[SESSION_FACTORY_KEY] = factory
    app.after_request(_finish)
    app.teardown_request(_close)


def db_session() -> Session:
    if "db_session" not in g:
        g.db_session = current_app.extensions[SESSION_FACTORY_KEY]()
    return g.db_session


def _finish(response: Response) -> Response:
    session: Session | None = g.get("db_session")
    if session is None:
        return response
    if response.status_code >= 400:
        session.rollback()
        return response
    try:
        session.commit()
    except (IntegrityError, OperationalError):
        session.rollback()
        current_app.logger.exception("commit failed")
        return conflict_response()
    return response


def _close(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()
