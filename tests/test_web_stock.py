"""The stock pages: overview and drill-down, places, moves and counts, the ledger with filters
and CSV, availability, labels and lookup, and who may see what. Refusals write nothing."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import login
from wash_ops.accounts.models import Role
from wash_ops.db import utcnow
from wash_ops.inventory.ledger import balances, move_stock, put_away, receive_into_stock
from wash_ops.inventory.locations import LossReason, create_location, loss_location
from wash_ops.inventory.models import Location, LocationKind, StockBalance, StockMovement
from wash_ops.inventory.models import StockState as S

OFFICE_PAGES = [
    "/stock/",
    "/stock/locations",
    "/stock/locations/A-01-2",
    "/stock/locations/A-01-2/count",
    "/stock/moves/new",
    "/stock/movements",
    "/stock/movements.csv",
    "/stock/availability",
    "/stock/labels",
    "/stock/lookup?code=A-01-2",
]


def written(db) -> tuple[int, int, int, int]:
    """Movements, balance rows, cups in balances and places: what a refusal leaves alone."""
    return (
        db.scalar(select(func.count()).select_from(StockMovement)),
        db.scalar(select(func.count()).select_from(StockBalance)),
        db.scalar(select(func.coalesce(func.sum(StockBalance.quantity), 0))),
        db.scalar(select(func.count()).select_from(Location)),
    )


def held(db, cup_type: str, state: S, location: str) -> int:
    return sum(b.quantity for b in balances(db, cup_type=cup_type, state=state, location=location))


@pytest.fixture
def planner(make_user):
    return make_user(Role.PLANNER)


def _signed_in(client, user):
    assert login(client, user).status_code == 302
    client.get("/language/en")
    return client


@pytest.fixture
def office(client, planner):
    return _signed_in(client, planner)


@pytest.fixture
def customer(make_organisation, make_user):
    organisation = make_organisation("Gentse Feesten vzw")
    return make_user(Role.ORGANISER, organisation=organisation)


@pytest.fixture
def warehouse(db, planner, customer):
    """Hall A with a rack of two pallet places, a goods-in area, and stock in it: 800 clean pool
    ECO33 (10 crates) on A-01-2 of which 160 came through goods-in, and 300 ECO25 of the
    customer stored on A-01-1 (3 of its 10 crates)."""
    zone = create_location(db, code="A", name="Hal A", kind=LocationKind.ZONE)
    rack = create_location(db, code="A-01", name="Rek 1", kind=LocationKind.RACK, parent=zone)
    create_location(
        db,
        code="A-01-1",
        name="Plaats 1",
        kind=LocationKind.PALLET,
        parent=rack,
        capacity_crates=10,
    )
    create_location(
        db,
        code="A-01-2",
        name="Plaats 2",
        kind=LocationKind.PALLET,
        parent=rack,
        capacity_crates=200,
    )
    create_location(db, code="IN", name="Goods-in", kind=LocationKind.INTAKE)
    earlier = utcnow() - timedelta(days=3)
    receive_into_stock(
        db, cup_type="ECO33", quantity=640, location="A-01-2", reason="new cups", at=earlier
    )
    receive_into_stock(
        db, cup_type="ECO33", quantity=160, location="IN", reason="new cups", user=planner
    )
    put_away(db, cup_type="ECO33", quantity=160, from_location="IN", to_location="A-01-2")
    receive_into_stock(
        db,
        cup_type="ECO25",
        quantity=300,
        location="A-01-1",
        state=S.CUSTOMER_STORED,
        owner_id=customer.organisation_id,
        reason="=HYPERLINK(evil)",
    )
    return zone


# --- who may see what -------------------------------------------------------------------


@pytest.mark.parametrize("path", OFFICE_PAGES)
def test_each_page_renders_for_the_planner(office, warehouse, path):
    response = office.get(path)
    assert response.status_code in (200, 302), response.get_data(as_text=True)[:500]


@pytest.mark.parametrize("path", [*OFFICE_PAGES, "/stock/labels/order/1"])
def test_an_organiser_gets_403_on_office_stock_pages(client, warehouse, customer, path):
    _signed_in(client, customer)
    assert client.get(path).status_code == 403


def test_an_organiser_cannot_post_to_the_stock_forms(client, db, warehouse, customer):
    _signed_in(client, customer)
    before = written(db)
    for path in ("/stock/locations", "/stock/moves/new", "/stock/locations/A-01-1/count"):
        assert client.post(path, data={"code": "X"}).status_code == 403
    assert written(db) == before


def test_the_stock_pages_ask_to_log_in(client):
    response = client.get("/stock/movements?cup_type=ECO33")
    assert response.status_code == 302
    assert "/login?next=" in response.headers["Location"]


def test_a_supervisor_reads_but_does_not_change_stock(client, db, warehouse, make_user):
    _signed_in(client, make_user(Role.SUPERVISOR))
    for path in ("/stock/", "/stock/movements", "/stock/locations/A-01-2", "/stock/availability"):
        assert client.get(path).status_code == 200, path
    page = client.get("/stock/locations/A-01-2").get_data(as_text=True)
    assert "/stock/moves/new" not in page and "/count" not in page
    before = written(db)
    for path in ("/stock/moves/new", "/stock/locations/A-01-2/count", "/stock/labels"):
        assert client.get(path).status_code == 403, path
    assert client.post("/stock/locations", data={"code": "B", "name": "B"}).status_code == 403
    assert written(db) == before


def test_the_organiser_sees_only_their_own_cups(client, db, warehouse, customer, make_user):
    other = make_user(Role.ORGANISER)
    receive_into_stock(
        db,
        cup_type="WINE15",
        quantity=500,
        location="A-01-2",
        state=S.CUSTOMER_STORED,
        owner_id=other.organisation_id,
        reason="stored",
    )
    _signed_in(client, customer)
    page = client.get("/stock/mine").get_data(as_text=True)
    assert "Stored for you in our warehouse" in page and "300" in page
    assert "Eco cup 25 cl" in page
    assert "Wine glass" not in page and "Eco cup 33 cl" not in page  # others' and pool cups
    _signed_in(client, other)
    page = client.get("/stock/mine").get_data(as_text=True)
    assert "500" in page and "Eco cup 25 cl" not in page


def test_office_staff_get_403_on_the_organiser_page(office):
    assert office.get("/stock/mine").status_code == 403


# --- overview and drill-down ------------------------------------------------------------


def test_overview_shows_cups_per_state_and_owner_with_drill_down(office, warehouse, customer):
    page = office.get("/stock/").get_data(as_text=True)
    assert "Eco cup 33 cl" in page and "Eco cup 25 cl" in page
    assert "Rental pool" in page and "Gentse Feesten vzw" in page
    assert ">800<" in page and "10 crates" in page
    assert ">300<" in page and "3 crates" in page
    assert "/stock/movements?cup_type=ECO33&amp;state=clean_available&amp;owner=pool" in page
    owner = customer.organisation_id
    assert f"/stock/movements?cup_type=ECO25&amp;state=customer_stored&amp;owner={owner}" in page
    # The scanner's lookup form is there.
    assert 'action="/stock/lookup"' in page and 'name="code"' in page


def test_location_page_shows_stock_children_and_capacity(office, warehouse):
    rack = office.get("/stock/locations/a-01").get_data(as_text=True)
    assert "A-01-1" in rack and "A-01-2" in rack and "Places inside" in rack
    place = office.get("/stock/locations/A-01-2").get_data(as_text=True)
    assert "10 of 200" in place  # crates used of capacity
    assert "5% full" in place
    assert "800" in place and "Clean, available" in place
    assert "Rek 1" in place  # the place it is in
    assert office.get("/stock/locations/NOPE").status_code == 404


def test_places_list_is_a_tree_with_crates(office, warehouse):
    page = office.get("/stock/locations").get_data(as_text=True)
    order = [page.index(f">{code}<") for code in ("A", "A-01", "A-01-1", "A-01-2", "IN")]
    assert order == sorted(order)
    assert "3 / 10" in page and "10 / 200" in page


# --- the ledger: filters, paging, CSV ---------------------------------------------------


def _listed(response) -> int:
    match = re.search(r"([\d,]+) movements?<", response.get_data(as_text=True))
    assert match, "no movement count on the page"
    return int(match.group(1).replace(",", ""))


def test_movement_filters(office, warehouse, customer):
    assert _listed(office.get("/stock/movements")) == 4
    assert _listed(office.get("/stock/movements?cup_type=eco33")) == 3
    assert _listed(office.get("/stock/movements?state=customer_stored")) == 1
    assert _listed(office.get("/stock/movements?location=IN")) == 2
    assert _listed(office.get("/stock/movements?owner=pool")) == 3
    assert _listed(office.get(f"/stock/movements?owner={customer.organisation_id}")) == 1
    today = utcnow().date()
    since = (today - timedelta(days=1)).isoformat()
    assert _listed(office.get(f"/stock/movements?from={since}")) == 3
    until = (today - timedelta(days=2)).isoformat()
    assert _listed(office.get(f"/stock/movements?to={until}")) == 1
    assert _listed(office.get("/stock/movements?cup_type=ECO33&location=A-01-1")) == 0


def test_movements_of_an_order(office, db, warehouse, customer, make_order):
    order = make_order(customer, {"ECO33": 160})
    move_stock(
        db,
        cup_type="ECO33",
        quantity=160,
        from_state=S.CLEAN_AVAILABLE,
        from_location="A-01-2",
        to_state=S.RESERVED,
        to_location="A-01-2",
        reason="reserved",
        order=order,
    )
    for asked in (order.reference, str(order.id), f"{order.reference}-C01".lower()):
        response = office.get(f"/stock/movements?order={asked}")
        assert _listed(response) == 1, asked
        assert order.reference in response.get_data(as_text=True)


def test_movements_are_paged_newest_first(office, db, warehouse):
    start = utcnow() - timedelta(hours=2)
    for minute in range(55):
        move_stock(
            db,
            cup_type="ECO33",
            quantity=1,
            from_state=S.CLEAN_AVAILABLE,
            from_location="A-01-2",
            to_state=S.QUARANTINED,
            to_location="A-01-2",
            reason=f"check {minute:02d}",
            at=start + timedelta(minutes=minute),
        )
    first = office.get("/stock/movements?state=quarantined").get_data(as_text=True)
    assert "55 movements" in first and "page 1 of 2" in first
    assert first.count("check ") == 50 and first.index("check 54") < first.index("check 53")
    assert "page=2" in first and "state=quarantined" in first
    second = office.get("/stock/movements?state=quarantined&page=2").get_data(as_text=True)
    assert second.count("check ") == 5 and "check 00" in second and "check 54" not in second


def test_csv_export_has_a_header_and_the_filtered_rows(office, warehouse, customer):
    response = office.get("/stock/movements.csv?cup_type=ECO25")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == [
        "at",
        "cup_type",
        "owner",
        "quantity",
        "from_state",
        "from_location",
        "to_state",
        "to_location",
        "reason",
        "order",
        "user",
    ]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["cup_type"] == "ECO25" and row["quantity"] == "300"
    assert row["owner"] == "Gentse Feesten vzw" and row["to_state"] == "customer_stored"
    assert row["from_location"] == "" and row["to_location"] == "A-01-1"
    assert row["reason"] == "'=HYPERLINK(evil)"  # never a formula in a spreadsheet
    assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$", row["at"])
    same = office.get("/stock/movements?cup_type=ECO25&format=csv")
    assert same.mimetype == "text/csv" and same.get_data() == response.get_data()
    everything = list(csv.reader(io.StringIO(office.get("/stock/movements.csv").text)))
    assert len(everything) == 5
    assert "Planner" in {r[10] for r in everything[1:]}


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("cup_type=XX", "Unknown cup type: XX."),
        ("state=washed", "Unknown state: washed."),
        ("location=NOPE", "Unknown location: NOPE."),
        ("owner=someone", "Unknown owner: someone."),
        ("order=abc", "abc is not an order reference"),
        ("from=2025-13-01", "The from date 2025-13-01 is not a date"),
        ("to=yesterday", "The to date yesterday is not a date"),
        ("from=2025-06-02&to=2025-06-01", "The from date is after the to date."),
        ("page=0", "0 is not a page number."),
        ("page=x", "x is not a page number."),
    ],
)
def test_bad_filters_are_a_clear_400(office, warehouse, query, message):
    response = office.get(f"/stock/movements?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    csv_response = office.get(f"/stock/movements.csv?{query}")
    assert csv_response.status_code == 400 and message in csv_response.get_data(as_text=True)


# --- places, moves and counts -----------------------------------------------------------


def test_create_a_place(office, db, warehouse):
    response = office.post(
        "/stock/locations",
        data={"code": "a-01-3", "name": "Plaats 3", "kind": "pallet", "parent": "A-01"},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/stock/locations/A-01-3")
    place = db.scalar(select(Location).where(Location.code == "A-01-3"))
    assert place is not None and place.parent.code == "A-01" and place.capacity_crates is None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"code": "A-01-1", "name": "Dubbel", "kind": "pallet"}, "Location A-01-1 already exists."),
        ({"code": "A 1!", "name": "Slecht", "kind": "pallet"}, "A location code is 1 to 32"),
        ({"code": "R2", "name": "Rek", "kind": "rack", "parent": "A-01"}, "cannot be placed in"),
        ({"code": "P9", "name": "", "kind": "pallet"}, "This field is required."),
        ({"code": "P9", "name": "P", "kind": "pallet", "capacity_crates": "0"}, "at least 1"),
        ({"code": "P9", "name": "P", "kind": "event"}, "Not a valid choice"),
        ({"code": "P9", "name": "P", "kind": "pallet", "parent": "A-01-1"}, "Not a valid choice"),
    ],
)
def test_place_form_errors_write_nothing(office, db, warehouse, data, message):
    before = written(db)
    response = office.post("/stock/locations", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in page and 'id="form-errors"' in page
    assert written(db) == before


def test_put_away_moves_cups_between_places(office, db, warehouse):
    response = office.post(
        "/stock/moves/new",
        data={
            "cup_type": "ECO33",
            "quantity": "240",
            "from_location": "a-01-2",
            "to_location": "A-01-1",
            "state": "clean_available",
            "owner": "",
            "reason": "",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    assert held(db, "ECO33", S.CLEAN_AVAILABLE, "A-01-1") == 240
    assert held(db, "ECO33", S.CLEAN_AVAILABLE, "A-01-2") == 560
    last = db.scalar(select(StockMovement).order_by(StockMovement.id.desc()))
    assert last.reason == "put away" and last.user is not None


def test_the_move_form_is_prefilled_from_a_place(office, warehouse):
    page = office.get("/stock/moves/new?from=A-01-2&cup_type=ECO33").get_data(as_text=True)
    assert 'value="A-01-2"' in page
    assert re.search(r'<option selected value="ECO33">|<option value="ECO33" selected', page)


MOVE = {
    "cup_type": "ECO33",
    "quantity": "80",
    "from_location": "A-01-2",
    "to_location": "A-01-1",
    "state": "clean_available",
    "owner": "",
}


@pytest.mark.parametrize(
    ("changes", "status", "message"),
    [
        ({"quantity": "5000"}, 409, "Only 800 ECO33 cups are clean, available at A-01-2"),
        ({"quantity": "640"}, 409, "A-01-1 holds 10 crates; after this move it would hold 11."),
        ({"to_location": "NOPE"}, 422, "Unknown location: NOPE."),
        ({"to_location": "LOSS-COUNT"}, 422, "only be put away in a warehouse place"),
        ({"to_location": "A-01-2"}, 422, "must change the state or the place"),
        ({"quantity": ""}, 422, "This field is required."),
        ({"quantity": "-3"}, 422, "at least 1"),
        ({"cup_type": "NOPE"}, 422, "Not a valid choice"),
    ],
)
def test_move_errors_are_form_errors_and_write_nothing(
    office, db, warehouse, changes, status, message
):
    loss_location(db, LossReason.COUNT)
    before = written(db)
    response = office.post("/stock/moves/new", data={**MOVE, **changes})
    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert 'id="form-errors"' in response.get_data(as_text=True)
    assert written(db) == before


def test_a_count_books_the_differences(office, db, warehouse, planner):
    response = office.post(
        "/stock/locations/A-01-2/count",
        data={
            "state": "clean_available",
            "owner": "",
            "qty_ECO33": "750",
            "qty_ECO50": "60",
            "qty_ECO25": "0",
            "reason": "monthly count",
        },
        follow_redirects=True,
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "ECO33: 750 counted, 50 fewer than booked" in page
    assert "ECO50: 60 counted, 60 more than booked" in page
    assert "The count agrees for ECO25." in page
    assert held(db, "ECO33", S.CLEAN_AVAILABLE, "A-01-2") == 750
    assert held(db, "ECO33", S.LOST, "LOSS-COUNT") == 50
    assert held(db, "ECO50", S.CLEAN_AVAILABLE, "A-01-2") == 60
    booked = db.scalars(select(StockMovement).where(StockMovement.reason.like("count:%"))).all()
    assert {m.user_id for m in booked} == {planner.id}


def test_a_count_that_agrees_books_nothing(office, db, warehouse, customer):
    before = written(db)
    response = office.post(
        "/stock/locations/A-01-1/count",
        data={
            "state": "customer_stored",
            "owner": str(customer.organisation_id),
            "qty_ECO25": "300",
            "reason": "check",
        },
        follow_redirects=True,
    )
    assert "The count agrees with the stock at A-01-1: nothing booked." in response.text
    assert written(db) == before


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"qty_ECO33": "700", "reason": ""}, "This field is required."),
        ({"qty_ECO33": "-1", "reason": "x"}, "at least 0"),
        ({"qty_ECO33": "many", "reason": "x"}, "Not a valid integer value."),
        ({"reason": "nothing filled in"}, "Count at least one cup type."),
        ({"qty_ECO33": "1", "reason": "x", "state": "shiny"}, "Not a valid choice"),
    ],
)
def test_count_errors_write_nothing(office, db, warehouse, data, message):
    before = written(db)
    response = office.post(
        "/stock/locations/A-01-2/count", data={"state": "clean_available", "owner": "", **data}
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert written(db) == before


def test_virtual_places_cannot_be_counted(office, db, warehouse):
    loss_location(db, LossReason.BREAKAGE)
    assert office.get("/stock/locations/LOSS-BREAKAGE/count").status_code == 404


# --- availability -----------------------------------------------------------------------


def test_availability_calendar(office, warehouse):
    page = office.get("/stock/availability?cup_type=ECO33&days=28").get_data(as_text=True)
    assert "Clean pool cups available" in page
    assert page.count('class="avail"') == 28
    assert ">800<" in page  # nothing promised: every day has the whole clean pool
    assert "Monday" in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("cup_type=NOPE", "Unknown cup type: NOPE."),
        ("days=0", "Ask for 1 to 366 days."),
        ("days=999", "Ask for 1 to 366 days."),
        ("days=two", "Ask for 1 to 366 days."),
    ],
)
def test_bad_availability_questions_are_400(office, warehouse, query, message):
    response = office.get(f"/stock/availability?{query}")
    assert response.status_code == 400 and message in response.get_data(as_text=True)


# --- labels and lookup ------------------------------------------------------------------


def _labels(response) -> list[str]:
    page = response.get_data(as_text=True)
    return re.findall(r'<span class="label-code">([^<]+)</span>', page)


def test_pallet_place_labels_have_a_qr_code_each(office, warehouse):
    response = office.get("/stock/labels")
    page = response.get_data(as_text=True)
    assert _labels(response) == ["A-01-1", "A-01-2"]
    assert page.count('<svg viewBox="') == 2 and page.count('class="label"') == 2
    assert '<span class="label-title">Plaats 1</span>' in page
    assert '<span class="label-detail">Hal A · Rek 1</span>' in page
    assert '<span class="label-detail">room for 10 crates</span>' in page
    chosen = office.get("/stock/labels?locations=a,A-01-2")
    assert _labels(chosen) == ["A", "A-01-2"]
    missing = office.get("/stock/labels?locations=A,NOPE")
    assert missing.status_code == 404 and "NOPE" in missing.get_data(as_text=True)


def test_crate_labels_of_an_order(office, customer, make_order):
    order = make_order(customer, {"ECO33": 4000, "ECO50": 130})  # 50 + 3 crates
    response = office.get(f"/stock/labels/order/{order.id}")
    codes = _labels(response)
    assert len(codes) == 53 and response.get_data(as_text=True).count("<svg") == 53
    assert codes[0] == f"{order.reference}-C01" and codes[-1] == f"{order.reference}-C53"
    page = response.get_data(as_text=True)
    assert "Crate 1 of 53" in page and "Crate 53 of 53" in page and "3 A4 sheets" in page
    assert page.count("Eco cup 33 cl") == 50 and page.count("Eco cup 50 cl") == 3
    assert office.get("/stock/labels/order/999999").status_code == 404


def test_lookup_finds_a_place_an_order_or_a_crate(office, warehouse, customer, make_order):
    place = office.get("/stock/lookup", query_string={"code": " a-01-1 "})
    assert place.status_code == 302 and place.headers["Location"].endswith(
        "/stock/locations/A-01-1"
    )
    order = make_order(customer)
    for code in (order.reference, f"{order.reference}-C07", f"wo-{order.id}"):
        found = office.get(f"/stock/lookup?code={code}")
        assert found.status_code == 302, code
        assert found.headers["Location"].endswith(f"/office/orders/{order.id}")
    unknown = office.get("/stock/lookup?code=ZZ-99")
    assert unknown.status_code == 404
    assert "No place, order or crate has the code ZZ-99." in unknown.get_data(as_text=True)
    assert office.get("/stock/lookup?code=WO-999999-C01").status_code == 404
    assert office.get("/stock/lookup?code=").status_code == 400


def test_a_supervisor_scanning_a_crate_sees_its_movements(client, customer, make_user, make_order):
    order = make_order(customer)
    _signed_in(client, make_user(Role.SUPERVISOR))
    found = client.get(f"/stock/lookup?code={order.reference}-C01")
    assert found.status_code == 302
    assert found.headers["Location"].endswith(f"/stock/movements?order={order.reference}")
