"""The JSON API under /api/v1, for organisers' own systems, authenticated with bearer tokens."""

from __future__ import annotations

from flask import Flask, render_template
from flask_smorest import Api

from web.api.schemas import ErrorSchema
from web.extensions import csrf


class WashOpsApi(Api):
    """flask-smorest without its own error handlers: web.errors answers for the whole app."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        return None


def init_api(app: Flask) -> None:
    from web.api import capacity, catalogue, eco, events, line, orders, stock

    api = WashOpsApi(
        app,
        spec_kwargs={
            "info": {"description": "Place and follow wash orders for reusable event cups."},
            "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
            "security": [{"bearerAuth": []}],
        },
    )
    for module in (catalogue, events, orders, capacity, line, eco):
        blueprint = module.blp
        csrf.exempt(blueprint)
        api.register_blueprint(blueprint, url_prefix=f"/api/v1/{blueprint.name}")
    stock.register(api)

    @app.route("/api/v1/docs")
    def api_docs():
        return render_template("api/docs.html", spec=api.spec.to_dict())
