"""Eco figures for the organiser's own systems: their reuse over all orders, and per order."""

from __future__ import annotations

from flask import g
from flask_smorest import abort
from marshmallow import Schema, fields

from wash_ops.accounts.models import Role
from wash_ops.washing.eco import order_eco, organiser_eco
from wash_ops.washing.services import order_batches
from web.api.guards import api_blueprint
from web.database import db_session

blp = api_blueprint("eco", __name__, "Cups reused, single-use cups avoided, water and energy")


class EcoOut(Schema):
    batches = fields.Integer(metadata={"description": "ended wash batches counted"})
    cups_washed = fields.Integer(metadata={"description": "cups the line counted as washed"})
    cups_reused = fields.Integer(metadata={"description": "washed cups back in clean stock"})
    single_use_cups_avoided = fields.Integer()
    water_l = fields.Float()
    energy_kwh = fields.Float()
    water_l_per_1000_cups = fields.Float(allow_none=True)
    energy_kwh_per_1000_cups = fields.Float(allow_none=True)


@blp.route("")
@blp.response(200, EcoOut)
def mine():
    """The token owner's organisation over all its orders (organisers only)."""
    user = g.api_user
    if user.role is not Role.ORGANISER or user.organisation_id is None:
        abort(403, message="Eco figures over all orders are for an organiser's own token.")
    return organiser_eco(db_session(), user.organisation_id).as_dict()


@blp.route("/orders/<int:order_id>")
@blp.response(200, EcoOut)
def of_order(order_id: int):
    """One order's figures; another organiser's order answers 404."""
    session = db_session()
    order, _batches = order_batches(session, g.api_user, order_id)
    return order_eco(session, order.id).as_dict()
