"""The JSON API: token authentication, validation, errors and the OpenAPI document."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import local
from wash_ops.accounts.models import Role
from wash_ops.accounts.services import issue_api_token, revoke_api_token
from wash_ops.orders.models import Event, Order


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


@pytest.fixture
def organiser(make_user):
    return make_user(Role.ORGANISER)


@pytest.fixture
def token(db, organiser) -> str:
    plain, _ = issue_api_token(db, organiser, "ticketing system")
    return plain


@pytest.fixture
def api(client, token):
    class Api:
        def __getattr__(self, method):
            def call(path, **kwargs):
                headers = kwargs.pop("headers", {})
                headers.setdefault("Authorization", f"Bearer {token}")
                return getattr(client, method)(f"/api/v1{path}", headers=headers, **kwargs)

            return call

    return Api()


def event_body(settings, **changes):
    starts = local(settings, 14, 14)
    body = {
        "name": "Stadsfeest",
        "postcode": "9000",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=10)).isoformat(),
    }
    body.update(changes)
    return body


def order_body(event, **changes):
    starts, ends = event["starts_at"], event["ends_at"]
    from datetime import datetime

    start, end = datetime.fromisoformat(starts), datetime.fromisoformat(ends)
    body = {
        "event_id": event["id"],
        "service": "rent_and_wash",
        "delivery_by": "courier",
        "pickup_by": "organiser",
        "delivery_start": (start - timedelta(hours=28)).isoformat(),
        "delivery_end": (start - timedelta(hours=24)).isoformat(),
        "pickup_start": (end + timedelta(hours=12)).isoformat(),
        "pickup_end": (end + timedelta(hours=16)).isoformat(),
        "lines": [{"cup_type": "ECO33", "quantity": 4000}],
    }
    body.update(changes)
    return body


@pytest.fixture
def event(api, settings):
    response = api.post("/events", json=event_body(settings))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def assert_error(response, status, code, field=None):
    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == code
    assert error["message"]
    if field is not None:
        assert error["field"] == field
    return error


def test_requests_without_or_with_a_wrong_token_are_refused(client, db, organiser, token):
    assert_error(client.get("/api/v1/orders"), 401, "unauthorized")
    assert_error(
        client.get("/api/v1/orders", headers={"Authorization": "Bearer wo_nope"}),
        401,
        "unauthorized",
    )
    assert_error(
        client.get("/api/v1/orders", headers={"Authorization": f"Basic {token}"}),
        401,
        "unauthorized",
    )
    assert (
        client.get("/api/v1/orders", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )


def test_revoked_token_stops_working(client, db, organiser, token):
    revoke_api_token(db, organiser, organiser_token_id(db, organiser))
    assert_error(
        client.get("/api/v1/orders", headers={"Authorization": f"Bearer {token}"}),
        401,
        "unauthorized",
    )


def organiser_token_id(db, organiser):
    from wash_ops.accounts.models import ApiToken

    return db.scalar(select(ApiToken.id).where(ApiToken.user_id == organiser.id))


def test_cup_types_list_the_catalogue(api):
    codes = {cup["code"]: cup for cup in api.get("/cup-types").get_json()}
    assert set(codes) == {"ECO25", "ECO33", "ECO50", "WINE15", "COCK30"}
    assert codes["ECO33"]["cups_per_crate"] == 80


def test_create_submit_and_follow_an_order(api, event, db):
    created = api.post("/orders", json=order_body(event))
    assert created.status_code == 201, created.get_json()
    order = created.get_json()
    assert order["status"] == "draft"
    assert order["lines"] == [{"cup_type": "ECO33", "quantity": 4000, "crates": 50}]
    submitted = api.post(f"/orders/{order['id']}/submit")
    assert submitted.status_code == 200
    assert submitted.get_json()["status"] == "submitted"
    listed = api.get("/orders?status=submitted").get_json()
    assert [o["id"] for o in listed] == [order["id"]]
    cancelled = api.post(f"/orders/{order['id']}/cancel", json={"reason": "sold out"})
    assert cancelled.get_json()["history"][-1]["reason"] == "sold out"


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([{"cup_type": "ECO33", "quantity": 0}], "lines.ECO33"),
        ([{"cup_type": "ECO33", "quantity": -1}], "lines.ECO33"),
        ([{"cup_type": "ECO33", "quantity": 2_000_000}], "lines.ECO33"),
        ([{"cup_type": "ECO33", "quantity": "many"}], "lines.0.quantity"),
        ([{"cup_type": "ECO33", "quantity": 12.5}], "lines.0.quantity"),
        ([{"cup_type": "PINT", "quantity": 100}], "lines.PINT"),
        (
            [{"cup_type": "ECO33", "quantity": 1}, {"cup_type": "ECO33", "quantity": 2}],
            "lines.ECO33",
        ),
        ([], "lines"),
    ],
)
def test_bad_order_lines_answer_422_and_write_nothing(api, event, db, lines, field):
    before = count(db, Order)
    assert_error(api.post("/orders", json=order_body(event, lines=lines)), 422, "invalid", field)
    assert count(db, Order) == before


def test_bad_windows_answer_422(api, event, db):
    body = order_body(event)
    body["pickup_start"], body["pickup_end"] = body["delivery_start"], body["delivery_end"]
    assert_error(api.post("/orders", json=body), 422, "invalid", "pickup_start")
    naive = order_body(event, delivery_start="2027-01-01T10:00:00")
    assert_error(api.post("/orders", json=naive), 422, "invalid", "delivery_start")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"postcode": "9999"}, "postcode"),
        ({"postcode": "", "lat": 50.85, "lon": 5.69}, "lat"),
        ({"ends_at": "2020-01-01T00:00:00+00:00"}, "ends_at"),
        ({"name": ""}, "name"),
        ({"colour": "green"}, "colour"),
    ],
)
def test_bad_events_answer_422(api, settings, db, changes, field):
    before = count(db, Event)
    assert_error(api.post("/events", json=event_body(settings, **changes)), 422, "invalid", field)
    assert count(db, Event) == before


def test_body_that_is_not_json_or_misses_fields(api, settings, db):
    before = count(db, Event)
    assert_error(
        api.post("/events", data="name=x", content_type="application/x-www-form-urlencoded"),
        415,
        "invalid",
    )
    assert_error(
        api.post("/events", data="{not json", content_type="application/json"), 400, "invalid"
    )
    missing = api.post("/events", json={"name": "Only a name"})
    error = assert_error(missing, 422, "invalid")
    assert error["field"] in {"starts_at", "ends_at"}
    assert count(db, Event) == before


def test_someone_elses_order_and_event_are_404(api, make_user, make_order):
    other = make_order(make_user(Role.ORGANISER))
    assert_error(api.get(f"/orders/{other.id}"), 404, "not_found")
    assert_error(api.post(f"/orders/{other.id}/submit"), 404, "not_found")
    assert_error(api.get(f"/events/{other.event_id}"), 404, "not_found")
    assert_error(api.get("/orders/999999"), 404, "not_found")


def test_capacity_query(api, settings):
    pickup = local(settings, 20, 18).isoformat()
    answer = api.get(
        "/capacity/check", query_string={"pickup_end": pickup, "cups": 5000}
    ).get_json()
    assert answer["fits"] is True and answer["earliest_pickup"] is None
    huge = api.get(
        "/capacity/check", query_string={"pickup_end": pickup, "cups": 400000}
    ).get_json()
    assert huge["fits"] is False
    assert_error(
        api.get("/capacity/check", query_string={"pickup_end": pickup, "cups": "x"}),
        422,
        "invalid",
        "cups",
    )
    days = api.get("/capacity/days", query_string={"weeks": 2}).get_json()
    assert len(days) == 14 and {"day", "capacity", "booked", "free"} <= set(days[0])


def test_submit_that_does_not_fit_answers_409_with_the_earliest_date(api, event, settings):
    too_big = order_body(event, lines=[{"cup_type": "ECO33", "quantity": 1_000_000}])
    order = api.post("/orders", json=too_big).get_json()
    error = assert_error(api.post(f"/orders/{order['id']}/submit"), 409, "conflict", "pickup_end")
    assert "does not fit" in error["message"]
    assert "earliest_pickup" in error


def test_openapi_document_and_docs_page(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    assert {
        "/api/v1/orders",
        "/api/v1/events",
        "/api/v1/cup-types",
        "/api/v1/capacity/check",
    } <= set(spec["paths"])
    assert "bearerAuth" in spec["components"]["securitySchemes"]
    assert "OrderIn" in spec["components"]["schemas"]
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and "/api/v1/orders" in docs.get_data(as_text=True)


def test_unknown_api_path_is_json_404(client):
    assert_error(client.get("/api/v1/nothing-here"), 404, "not_found")
