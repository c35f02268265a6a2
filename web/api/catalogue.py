from __future__ import annotations

from wash_ops.catalogue.services import active_cup_types
from web.api.guards import api_blueprint
from web.api.schemas import CupTypeOut
from web.database import db_session

blp = api_blueprint("cup-types", __name__, "The cup catalogue")


@blp.route("")
@blp.response(200, CupTypeOut(many=True))
def list_cup_types():
    """Cup types that can be ordered, with crate sizes and prices in euro cents."""
    return active_cup_types(db_session())
