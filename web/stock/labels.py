"""QR-code labels for pallet places and crates, laid out on A4 sheets of 3 × 8 labels."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice

import segno
from flask_babel import format_decimal, gettext, ngettext
from markupsafe import Markup

from wash_ops.inventory.models import Location
from wash_ops.orders.models import Order

COLUMNS, ROWS = 3, 8
PER_SHEET = COLUMNS * ROWS


@dataclass(frozen=True)
class Label:
    """What one label shows: the QR code of ``code``, the code in text, a name for people and
    a few short lines under it."""

    code: str
    title: str
    details: tuple[str, ...] = ()

    @property
    def qr(self) -> Markup:
        # Always a full QR code (segno.make may choose a Micro QR, which phones do not read),
        # with the standard quiet zone of four modules; CSS sets its printed size.
        svg = segno.make_qr(self.code, error="m").svg_inline(
            scale=1, border=4, omitsize=True, svgclass="qr"
        )
        return Markup(svg)  # segno's SVG: only a path of modules, no text of ours


def sheets(labels: Iterable[Label]) -> Iterator[list[Label]]:
    """The labels in groups of one A4 sheet."""
    iterator = iter(labels)
    while sheet := list(islice(iterator, PER_SHEET)):
        yield sheet


def place_label(place: Location) -> Label:
    """The place's name, and where it is: the names of the places it is in (leaving out a
    rack's name when the place's own name already starts with it: "Rek 1, plaats 3")."""
    around = " · ".join(p.name for p in _ancestors(place) if not place.name.startswith(p.name))
    details = tuple(line for line in (around, _capacity(place)) if line)
    return Label(code=place.code, title=place.name, details=details)


def _capacity(place: Location) -> str:
    if place.capacity_crates is None:
        return ""
    capacity = place.capacity_crates
    return ngettext(
        "room for %(count)s crate",
        "room for %(count)s crates",
        capacity,
        count=format_decimal(capacity),
    )


def _ancestors(place: Location) -> list[Location]:
    found, parent, seen = [], place.parent, {place.id}
    while parent is not None and parent.id not in seen:
        found.insert(0, parent)
        seen.add(parent.id)
        parent = parent.parent
    return found


def crate_code(order: Order, number: int, width: int = 2) -> str:
    return f"{order.reference}-C{number:0{width}d}"


def crate_labels(order: Order, locale: str) -> list[Label]:
    """One label per crate of each cup type, numbered through the order: WO-000123-C01 …"""
    total = order.total_crates
    width = max(2, len(str(total)))
    labels, number = [], 0
    for line in order.lines:
        for _ in range(line.crates):
            number += 1
            labels.append(
                Label(
                    code=crate_code(order, number, width),
                    title=order.event.name,
                    details=(
                        order.organisation.name,
                        line.cup_type.name(locale),
                        gettext(
                            "Crate %(number)s of %(total)s",
                            number=format_decimal(number),
                            total=format_decimal(total),
                        ),
                    ),
                )
            )
    return labels
