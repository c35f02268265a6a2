"""Words and icons for stock states and kinds of place, through the translation catalogue."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from wash_ops.inventory.models import LocationKind, StockState

STOCK_STATE_LABELS = {
    StockState.CLEAN_AVAILABLE: (_l("Clean, available"), "✦"),
    StockState.CUSTOMER_STORED: (_l("Stored for the customer"), "▣"),
    StockState.RESERVED: (_l("Reserved for an order"), "✎"),
    StockState.LOADED: (_l("Loaded for delivery"), "⬇"),
    StockState.AT_EVENT: (_l("At the event"), "★"),
    StockState.DIRTY_IN_TRANSIT: (_l("Dirty, on the way back"), "⬆"),
    StockState.RECEIVED_DIRTY: (_l("Dirty, waiting to be washed"), "◌"),
    StockState.ON_LINE: (_l("On the washing line"), "≋"),
    StockState.QUARANTINED: (_l("Quarantined"), "⚠"),
    StockState.LOST: (_l("Lost"), "✖"),
    StockState.BROKEN: (_l("Broken"), "✖"),
}

LOCATION_KIND_LABELS = {
    LocationKind.ZONE: _l("Zone"),
    LocationKind.RACK: _l("Rack"),
    LocationKind.PALLET: _l("Pallet place"),
    LocationKind.INTAKE: _l("Goods-in"),
    LocationKind.EVENT: _l("Event (virtual)"),
    LocationKind.LOSS: _l("Losses (virtual)"),
}

# How an organiser reads the states of their own cups.
OWNER_STATE_LABELS = {
    **STOCK_STATE_LABELS,
    StockState.CLEAN_AVAILABLE: (_l("Clean, in our warehouse"), "✦"),
    StockState.CUSTOMER_STORED: (_l("Stored for you in our warehouse"), "▣"),
    StockState.RESERVED: (_l("Set aside for your order"), "✎"),
    StockState.RECEIVED_DIRTY: (_l("Back with us, waiting to be washed"), "◌"),
}
