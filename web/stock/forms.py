"""Forms of the stock pages, and the parsing of the movement list's filters."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from wash_ops.catalogue.models import CupType
from wash_ops.inventory.models import POOL, LocationKind, StockState
from wash_ops.inventory.queries import STATE_ORDER, MovementFilter
from web.stock.states import LOCATION_KIND_LABELS, STOCK_STATE_LABELS

# An order by its reference, with or without the crate suffix of a label: WO-000123, WO-000123-C07.
ORDER_CODE = re.compile(r"^(?:WO-?)?0*(\d{1,9})(?:-C(\d{1,4}))?$", re.IGNORECASE)
WAREHOUSE_KINDS = [LocationKind.ZONE, LocationKind.RACK, LocationKind.PALLET, LocationKind.INTAKE]
CODE_ATTRS = {"autocapitalize": "characters", "autocomplete": "off", "spellcheck": "false"}


def _owner_choices(organisations: list) -> list[SelectChoice]:
    return [
        SelectChoice("", gettext("Rental pool")),
        *(SelectChoice(str(o.id), o.name) for o in organisations),
    ]


def owner_id_of(value: str | None) -> int | None:
    return int(value) if value else None


def _state_choices() -> list[SelectChoice]:
    return [SelectChoice(state.value, STOCK_STATE_LABELS[state][0]) for state in STATE_ORDER]


class LocationForm(FlaskForm):
    code = StringField(
        _l("Code"),
        validators=[DataRequired(), Length(max=32)],
        render_kw={**CODE_ATTRS, "placeholder": "A-01-1"},
    )
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice(kind.value, LOCATION_KIND_LABELS[kind]) for kind in WAREHOUSE_KINDS],
        default=LocationKind.PALLET.value,
    )
    parent = SelectField(_l("Inside"), choices=[], default="")
    capacity_crates = IntegerField(
        _l("Capacity in crates (empty: no limit)"),
        validators=[Optional(), NumberRange(min=1)],
        render_kw={"inputmode": "numeric", "min": 1},
    )

    def set_parents(self, places: list) -> None:
        self.parent.choices = [
            SelectChoice("", gettext("Nothing (a place of its own)")),
            *(SelectChoice(p.code, f"{p.code} · {p.name}") for p in places),
        ]


class MoveForm(FlaskForm):
    cup_type = SelectField(_l("Cup type"), choices=[])
    quantity = IntegerField(
        _l("Number of cups"),
        validators=[InputRequired(), NumberRange(min=1)],
        render_kw={"inputmode": "numeric", "min": 1},
    )
    from_location = StringField(
        _l("From place (code)"),
        validators=[DataRequired(), Length(max=32)],
        render_kw={**CODE_ATTRS, "list": "place-codes"},
    )
    to_location = StringField(
        _l("To place (code)"),
        validators=[DataRequired(), Length(max=32)],
        render_kw={**CODE_ATTRS, "list": "place-codes"},
    )
    state = SelectField(_l("State of the cups"), choices=[])
    owner = SelectField(_l("Owner"), choices=[])
    reason = StringField(
        _l("Reason (optional)"),
        validators=[Length(max=200)],
        render_kw={"placeholder": _l("put away")},
    )

    def set_choices(self, cup_types: list[CupType], organisations: list, locale: str) -> None:
        self.cup_type.choices = [
            (cup.code, f"{cup.name(locale)} ({cup.code})") for cup in cup_types
        ]
        self.state.choices = _state_choices()
        self.owner.choices = _owner_choices(organisations)


def quantity_field_name(cup_type: CupType) -> str:
    return f"qty_{cup_type.code}"


class CountForm(FlaskForm):
    state = SelectField(_l("State counted"), choices=[])
    owner = SelectField(_l("Owner counted"), choices=[])
    reason = StringField(
        _l("Reason"),
        validators=[DataRequired(), Length(max=180)],
        render_kw={"placeholder": _l("monthly count")},
    )

    def set_choices(self, organisations: list) -> None:
        self.state.choices = _state_choices()
        self.owner.choices = _owner_choices(organisations)

    def counted(self, cup_types: list[CupType]) -> dict[str, int]:
        """The cup types that were counted (a blank field is not counted)."""
        found = {}
        for cup in cup_types:
            value = self[quantity_field_name(cup)].data
            if value is not None:
                found[cup.code] = value
        return found


def count_form_class(cup_types: list[CupType], locale: str) -> type[CountForm]:
    """A count form with one field per cup type in the catalogue."""
    fields = {
        quantity_field_name(cup): IntegerField(
            cup.name(locale),
            validators=[Optional(), NumberRange(min=0)],
            render_kw={"inputmode": "numeric", "min": 0},
        )
        for cup in cup_types
    }
    return type("CatalogueCountForm", (CountForm,), fields)


# --- the filters of the movement list ---------------------------------------------------


class BadFilter(ValueError):
    """A filter value that cannot be understood; the message says which and why."""


@dataclass(frozen=True)
class Filters:
    """The filter as asked (to fill the form again) and as the query takes it."""

    asked: dict[str, str]
    wanted: MovementFilter
    page: int


FILTER_KEYS = ("cup_type", "state", "location", "owner", "order", "from", "to")


def parse_filters(
    args: Mapping[str, str], zone: ZoneInfo, cup_types: set[str], locations: set[str] | None
) -> Filters:
    """Read the filters of ``/stock/movements``; ``BadFilter`` names the first bad value.
    ``locations`` is None to skip the check that a location code exists."""
    asked = {key: (args.get(key) or "").strip() for key in FILTER_KEYS}
    cup_type = asked["cup_type"].upper() or None
    if cup_type is not None and cup_type not in cup_types:
        raise BadFilter(gettext("Unknown cup type: %(code)s.", code=asked["cup_type"]))
    state = None
    if asked["state"]:
        try:
            state = StockState(asked["state"])
        except ValueError:
            raise BadFilter(gettext("Unknown state: %(state)s.", state=asked["state"])) from None
    location = asked["location"].upper() or None
    if location is not None and locations is not None and location not in locations:
        raise BadFilter(gettext("Unknown location: %(code)s.", code=asked["location"]))
    owner_key = None
    if asked["owner"]:
        if asked["owner"] == "pool":
            owner_key = POOL
        elif asked["owner"].isdigit() and int(asked["owner"]) > 0:
            owner_key = int(asked["owner"])
        else:
            raise BadFilter(gettext("Unknown owner: %(owner)s.", owner=asked["owner"]))
    order_id = None
    if asked["order"]:
        match = ORDER_CODE.match(asked["order"])
        if match is None:
            raise BadFilter(
                gettext(
                    "%(value)s is not an order reference (like WO-000123).", value=asked["order"]
                )
            )
        order_id = int(match.group(1))
    since = _day(asked["from"], "from")
    until = _day(asked["to"], "to")
    if since is not None and until is not None and since > until:
        raise BadFilter(gettext("The from date is after the to date."))
    page_text = (args.get("page") or "1").strip()
    if not page_text.isdigit() or not 1 <= int(page_text) <= 100_000:
        raise BadFilter(gettext("%(value)s is not a page number.", value=page_text))
    wanted = MovementFilter(
        cup_type=cup_type,
        state=state,
        location=location,
        owner_key=owner_key,
        order_id=order_id,
        since=_start_of(since, zone),
        until=_start_of(until + timedelta(days=1), zone) if until is not None else None,
    )
    return Filters(asked=asked, wanted=wanted, page=int(page_text))


def _day(value: str, which: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        message = (
            gettext("The from date %(value)s is not a date like 2025-06-30.", value=value)
            if which == "from"
            else gettext("The to date %(value)s is not a date like 2025-06-30.", value=value)
        )
        raise BadFilter(message) from None


def _start_of(day: date | None, zone: ZoneInfo) -> datetime | None:
    return None if day is None else datetime.combine(day, time.min, zone)
