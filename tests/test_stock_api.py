"""/api/v1/stock: balances, movements, availability, receiving an order's returns and the cup
report; roles and ownership; every refusal a JSON error that wrote nothing."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from wash_ops.accounts.models import ApiToken, Role
from wash_ops.accounts.services import TOKEN_PREFIX, issue_api_token
from wash_ops.db import utcnow
from wash_ops.inventory.journey import deliver_order, load_order, pick_up_order
from wash_ops.inventory.ledger import receive_into_stock, verify_ledger
from wash_ops.inventory.locations import create_location
from wash_ops.inventory.models import LocationKind, StockMovement, StockState
from wash_ops.inventory.reservations import reserve_for_order
from wash_ops.orders.models import OrderStatus

PATHS = [
    "/api/v1/stock/balances",
    "/api/v1/stock/movements",
    "/api/v1/stock/availability",
    "/api/v1/stock/orders/{order_id}/receive",
    "/api/v1/stock/orders/{order_id}/report",
]


@pytest.fixture
def warehouse(db):
    create_location(db, code="A", name="Hal A", kind=LocationKind.ZONE)
    create_location(db, code="IN", name="Goederen in", kind=LocationKind.INTAKE)
    receive_into_stock(db, cup_type="ECO33", quantity=3000, location="A", reason="new")
    receive_into_stock(db, cup_type="ECO50", quantity=600, location="A", reason="new")


@pytest.fixture
def planner(make_user):
    return make_user(Role.PLANNER)


@pytest.fixture
def organiser(make_user):
    return make_user(Role.ORGANISER)


@pytest.fixture
def as_user(client, db):
    """A caller with a bearer token of ``user``; couriers get one written directly, because
    the token service does not hand them out."""

    def make(user):
        if user.role is Role.COURIER:
            plain = TOKEN_PREFIX + "courier-test-token"
            digest = hashlib.sha256(plain.encode()).hexdigest()
            db.add(ApiToken(user=user, name="phone", prefix=plain[:10], digest=digest))
            db.flush()
        else:
            plain, _ = issue_api_token(db, user, "test")
        headers = {"Authorization": f"Bearer {plain}"}

        class Caller:
            def get(self, path, **kwargs):
                return client.get(f"/api/v1/stock{path}", headers=headers, **kwargs)

            def post(self, path, **kwargs):
                return client.post(f"/api/v1/stock{path}", headers=headers, **kwargs)

        return Caller()

    return make


@pytest.fixture
def office(as_user, planner):
    return as_user(planner)


def assert_error(response, status, code, field=None):
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == code
    assert error["message"]
    if field is not None:
        assert error["field"] == field
    return error


def movements(db) -> int:
    return db.scalar(select(func.count()).select_from(StockMovement))


@pytest.fixture
def picked_up(db, warehouse, planner, organiser, make_order):
    order = make_order(organiser, {"ECO33": 1000, "ECO50": 120})
    order.status = OrderStatus.CONFIRMED  # the line's calendar is the order tests' business
    db.flush()
    reserve_for_order(db, order, planner)
    load_order(db, order, planner)
    deliver_order(db, order, planner)
    pick_up_order(db, order, planner)
    return order


RECEIPT = {
    "returned": {"ECO33": 960, "ECO50": 120},
    "broken": {"ECO33": 15},
    "foreign_crates": 3,
    "location": "IN",
}


# --- the OpenAPI document and roles -------------------------------------------------------


def test_the_stock_endpoints_are_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in PATHS:
        assert path in spec["paths"], path
    receive = spec["paths"]["/api/v1/stock/orders/{order_id}/receive"]["post"]
    assert {"200", "404", "409", "422"} <= set(receive["responses"])
    assert "requestBody" in receive
    query = {p["name"] for p in spec["paths"]["/api/v1/stock/movements"]["get"]["parameters"]}
    assert {"cup_type", "state", "location", "order_id", "since", "until", "limit"} <= query


@pytest.mark.parametrize("role", [Role.ORGANISER, Role.COURIER])
def test_stock_is_not_for_organisers_or_couriers(as_user, make_user, warehouse, role):
    caller = as_user(make_user(role))
    for path in ("/balances", "/movements", "/availability?cup_type=ECO33"):
        assert_error(caller.get(path), 403, "forbidden")


def test_a_supervisor_reads_but_does_not_receive(db, as_user, make_user, picked_up):
    caller = as_user(make_user(Role.SUPERVISOR))
    assert caller.get("/balances").status_code == 200
    assert caller.get("/movements").status_code == 200
    assert caller.get(f"/orders/{picked_up.id}/report").status_code == 200
    before = movements(db)
    assert_error(caller.post(f"/orders/{picked_up.id}/receive", json=RECEIPT), 403, "forbidden")
    assert movements(db) == before


def test_without_a_token_there_is_no_stock(client):
    assert_error(client.get("/api/v1/stock/balances"), 401, "unauthorized")


# --- balances, movements, availability ----------------------------------------------------


def test_balances_filtered_by_owner_cup_type_state_and_place(
    db, office, warehouse, make_organisation
):
    customer = make_organisation("Stadsfeest vzw")
    receive_into_stock(
        db,
        cup_type="ECO33",
        quantity=250,
        location="A",
        state=StockState.CUSTOMER_STORED,
        owner_id=customer.id,
        reason="their own",
    )
    everything = office.get("/balances").get_json()
    assert len(everything) == 3
    pool = office.get("/balances?owner=pool&cup_type=ECO33").get_json()
    assert pool == [
        {
            "cup_type": "ECO33",
            "owner_id": None,
            "state": "clean_available",
            "location": "A",
            "quantity": 3000,
        }
    ]
    own = office.get(f"/balances?owner={customer.id}").get_json()
    assert [(b["owner_id"], b["state"], b["quantity"]) for b in own] == [
        (customer.id, "customer_stored", 250)
    ]
    assert office.get("/balances?state=customer_stored&location=A").get_json() == own
    assert office.get("/balances?location=IN").get_json() == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("cup_type=NOPE", "cup_type"),
        ("location=NOWHERE", "location"),
        ("owner=somebody", "owner"),
        ("state=clean", "state"),
        ("colour=green", "colour"),
    ],
)
def test_bad_balance_filters_answer_422(office, warehouse, query, field):
    assert_error(office.get(f"/balances?{query}"), 422, "invalid", field)


def test_movements_newest_first_filtered_and_paged(db, office, picked_up):
    page = office.get("/movements?limit=2").get_json()
    assert page["limit"] == 2 and page["offset"] == 0
    assert page["total"] == movements(db)
    first, second = page["items"]
    assert (first["at"], first["id"]) >= (second["at"], second["id"])
    assert first["to_state"] == "dirty_in_transit"
    assert first["order_reference"] == picked_up.reference
    rest = office.get("/movements?limit=500&offset=2").get_json()["items"]
    assert len(rest) == page["total"] - 2
    assert {m["id"] for m in rest}.isdisjoint({first["id"], second["id"]})

    mine = office.get(f"/movements?order_id={picked_up.id}&cup_type=ECO50").get_json()
    assert [m["to_state"] for m in mine["items"]] == [
        "dirty_in_transit",
        "at_event",
        "loaded",
        "reserved",
    ]
    # the place filter matches either side: into A (the new stock) and out of it (reserved)
    at_a = office.get("/movements?location=A&state=clean_available").get_json()["items"]
    assert {(m["from_location"], m["to_location"]) for m in at_a} == {(None, "A"), ("A", "A")}
    later = (utcnow() + timedelta(hours=1)).isoformat()
    assert office.get("/movements", query_string={"since": later}).get_json()["total"] == 0
    assert (
        office.get("/movements", query_string={"until": later}).get_json()["total"]
        == (page["total"])
    )


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": 501}, "limit"),
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
        ({"since": "2027-01-02T00:00:00+00:00", "until": "2027-01-01T00:00:00+00:00"}, "until"),
        ({"since": "2027-01-01T00:00:00"}, "since"),
        ({"cup_type": "NOPE"}, "cup_type"),
    ],
)
def test_bad_movement_queries_answer_422(office, warehouse, query, field):
    assert_error(office.get("/movements", query_string=query), 422, "invalid", field)


def test_availability_by_day(office, warehouse, settings):
    today = utcnow().astimezone(settings.zone).date()
    answer = office.get(f"/availability?cup_type=ECO50&first_day={today}&days=3").get_json()
    assert answer == {
        "cup_type": "ECO50",
        "days": [
            {"day": (today + timedelta(days=n)).isoformat(), "available": 600} for n in range(3)
        ],
    }
    assert len(office.get("/availability?cup_type=ECO33").get_json()["days"]) == 14
    assert_error(office.get("/availability?cup_type=NOPE"), 422, "invalid", "cup_type")
    assert_error(office.get("/availability?cup_type=ECO33&days=0"), 422, "invalid", "days")
    assert_error(office.get("/availability"), 422, "invalid", "cup_type")


# --- receiving ------------------------------------------------------------------------------


def test_receiving_books_the_returns_and_answers_the_cup_report(db, office, picked_up):
    response = office.post(f"/orders/{picked_up.id}/receive", json=RECEIPT)
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["reference"] == picked_up.reference
    assert report["foreign_crates"] == 3
    assert [
        (line["cup_type"], line["delivered"], line["returned"], line["broken"], line["lost"])
        for line in report["lines"]
    ] == [("ECO33", 1000, 960, 15, 25), ("ECO50", 120, 120, 0, 0)]
    assert report["loss_lines"] == [
        {
            "cup_type": "ECO33",
            "kind": "lost",
            "quantity": 25,
            "unit_cents": 120,
            "amount_cents": 3000,
        },
        {
            "cup_type": "ECO33",
            "kind": "broken",
            "quantity": 15,
            "unit_cents": 120,
            "amount_cents": 1800,
        },
    ]
    assert report["total_cents"] == 4800
    db.refresh(picked_up)
    assert picked_up.status is OrderStatus.RECEIVED
    assert verify_ledger(db) == []


@pytest.mark.parametrize(
    ("changes", "status", "field"),
    [
        ({"returned": {"ECO33": -1, "ECO50": 120}}, 422, "returned.ECO33"),
        ({"returned": {"ECO33": 9.5, "ECO50": 120}}, 422, "returned.ECO33"),
        ({"returned": {"ECO33": "960", "ECO50": 120}}, 422, "returned.ECO33"),
        ({"broken": {"ECO50": -2}}, 422, "broken.ECO50"),
        ({"foreign_crates": -1}, 422, "foreign_crates"),
        ({"foreign_crates": 1.5}, 422, "foreign_crates"),
        ({"returned": {"ECO33": 960, "ECO50": 120, "PINT": 4}}, 422, "returned.PINT"),
        ({"returned": {"ECO33": 990, "ECO50": 120}}, 422, "returned.ECO33"),
        ({"returned": {"ECO33": 960}}, 422, "returned.ECO50"),
        ({"location": "NOWHERE"}, 422, "location"),
        ({"colour": "green"}, 422, "colour"),
    ],
)
def test_bad_receipts_answer_4xx_and_write_nothing(db, office, picked_up, changes, status, field):
    before = movements(db)
    body = {**RECEIPT, **changes}
    assert_error(
        office.post(f"/orders/{picked_up.id}/receive", json=body), status, "invalid", field
    )
    assert movements(db) == before
    db.refresh(picked_up)
    assert picked_up.status is OrderStatus.PICKED_UP


def test_more_back_than_went_out_says_to_count_foreign_crates(office, picked_up):
    body = {**RECEIPT, "returned": {"ECO33": 990, "ECO50": 120}}
    error = assert_error(office.post(f"/orders/{picked_up.id}/receive", json=body), 422, "invalid")
    assert "foreign crates" in error["message"]


def test_receiving_needs_the_body(db, office, picked_up):
    before = movements(db)
    assert_error(office.post(f"/orders/{picked_up.id}/receive", json={}), 422, "invalid")
    response = office.post(f"/orders/{picked_up.id}/receive", data="x", content_type="text/plain")
    assert_error(response, 415, "invalid")
    assert movements(db) == before


def test_receiving_an_order_that_was_never_delivered_is_a_conflict(
    db, office, warehouse, organiser, make_order
):
    order = make_order(organiser, {"ECO33": 100})
    before = movements(db)
    body = {**RECEIPT, "returned": {"ECO33": 100}, "broken": {}}
    error = assert_error(office.post(f"/orders/{order.id}/receive", json=body), 409, "conflict")
    assert "never delivered" in error["message"]
    assert_error(office.post("/orders/999999/receive", json=body), 404, "not_found")
    assert movements(db) == before


@pytest.mark.parametrize("role", [Role.ORGANISER, Role.COURIER])
def test_only_the_office_receives(db, as_user, make_user, organiser, picked_up, role):
    caller = as_user(organiser if role is Role.ORGANISER else make_user(role))
    before = movements(db)
    assert_error(caller.post(f"/orders/{picked_up.id}/receive", json=RECEIPT), 403, "forbidden")
    assert movements(db) == before


# --- the cup report ---------------------------------------------------------------------------


def test_an_organiser_reads_the_report_of_their_own_orders_only(
    db, as_user, office, picked_up, organiser, make_user
):
    office.post(f"/orders/{picked_up.id}/receive", json=RECEIPT)
    mine = as_user(organiser).get(f"/orders/{picked_up.id}/report")
    assert mine.status_code == 200
    assert mine.get_json()["total_cents"] == 4800
    stranger = as_user(make_user(Role.ORGANISER))
    assert_error(stranger.get(f"/orders/{picked_up.id}/report"), 404, "not_found")
    assert_error(stranger.get("/orders/999999/report"), 404, "not_found")
