"""The organiser's pages through HTTP: placing an order and every bad input on the way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import csrf_token_from, local, login
from wash_ops.accounts.models import Role
from wash_ops.orders.models import Event, Order, OrderStatus

FMT = "%Y-%m-%dT%H:%M"


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


def form_data(settings, **changes) -> dict[str, str]:
    starts = local(settings, 14, 14)
    data = {
        "event_name": "Jazz in het Park",
        "address": "Citadelpark",
        "postcode": "9000",
        "place": "",
        "lat": "",
        "lon": "",
        "event_starts_at": starts.strftime(FMT),
        "event_ends_at": (starts + timedelta(hours=10)).strftime(FMT),
        "service": "rent_and_wash",
        "delivery_by": "courier",
        "pickup_by": "courier",
        "delivery_start": (starts - timedelta(hours=28)).strftime(FMT),
        "delivery_end": (starts - timedelta(hours=24)).strftime(FMT),
        "pickup_start": (starts + timedelta(hours=22)).strftime(FMT),
        "pickup_end": (starts + timedelta(hours=26)).strftime(FMT),
        "notes": "",
        "qty_ECO33": "4000",
    }
    data.update(changes)
    return data


@pytest.fixture
def organiser(make_user):
    return make_user(Role.ORGANISER)


@pytest.fixture
def signed_in(client, organiser):
    assert login(client, organiser).status_code == 302
    return client


def test_pages_require_login(client):
    response = client.get("/organiser/orders")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_wrong_password_is_refused(client, organiser):
    response = login(client, organiser, "not the password")
    assert response.status_code == 401
    assert client.get("/organiser/orders").status_code == 302


def test_place_an_order_and_find_it(signed_in, db, settings):
    response = signed_in.post("/organiser/orders/new", data=form_data(settings, qty_ECO50="130"))
    assert response.status_code == 302
    order = db.scalars(select(Order).order_by(Order.id.desc())).first()
    assert response.headers["Location"].endswith(f"/organiser/orders/{order.id}")
    page = signed_in.get(f"/organiser/orders/{order.id}").get_data(as_text=True)
    assert order.reference in page
    assert "130" in page and ">3<" in page  # 130 cups of 60 per crate: 3 crates
    assert "fit" in page
    submitted = signed_in.post(f"/organiser/orders/{order.id}/submit")
    assert submitted.status_code == 302
    db.refresh(order)
    assert order.status is OrderStatus.SUBMITTED
    listing = signed_in.get("/organiser/orders").get_data(as_text=True)
    assert order.reference in listing


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"qty_ECO33": "0"}, "Order at least 1 cup"),
        ({"qty_ECO33": "-3"}, "Order at least 1 cup"),
        ({"qty_ECO33": "veel"}, "integer"),
        ({"qty_ECO33": "1000001"}, "At most"),
        ({"qty_ECO33": ""}, "Order at least one cup type"),
        ({"postcode": "9999"}, "does not exist"),
        ({"postcode": "", "lat": "50.85", "lon": "5.69"}, "outside our service area"),
        ({"event_ends_at": "2020-01-01T10:00"}, "must end after it starts"),
        ({"delivery_start": "2020-01-01T10:00"}, "cannot start in the past"),
        ({"event_name": ""}, "This field is required"),
    ],
)
def test_bad_input_gets_a_form_error_and_writes_nothing(signed_in, db, settings, changes, message):
    signed_in.get("/language/en")
    before = (count(db, Order), count(db, Event))
    response = signed_in.post("/organiser/orders/new", data=form_data(settings, **changes))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert (count(db, Order), count(db, Event)) == before


def test_pickup_before_delivery_is_refused(signed_in, db, settings):
    signed_in.get("/language/en")
    data = form_data(settings)
    data["pickup_start"], data["pickup_end"] = data["delivery_start"], data["delivery_end"]
    response = signed_in.post("/organiser/orders/new", data=data)
    assert response.status_code == 422
    assert "Pickup must come after delivery" in response.get_data(as_text=True)


def test_event_name_is_escaped(signed_in, db, settings):
    name = "<script>alert('x')</script>"
    response = signed_in.post("/organiser/orders/new", data=form_data(settings, event_name=name))
    page = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert "&lt;script&gt;alert(" in page
    assert name not in page


def test_someone_elses_order_answers_404(signed_in, db, make_user, make_order):
    other = make_order(make_user(Role.ORGANISER))
    assert signed_in.get(f"/organiser/orders/{other.id}").status_code == 404
    assert signed_in.get(f"/organiser/orders/{other.id}/edit").status_code == 404
    assert signed_in.post(f"/organiser/orders/{other.id}/submit").status_code == 404
    assert (
        signed_in.post(
            f"/organiser/orders/{other.id}/cancel", data={"cancel-reason": "x"}
        ).status_code
        == 404
    )
    db.refresh(other)
    assert other.status is OrderStatus.DRAFT


def test_organiser_cannot_open_office_pages(signed_in):
    assert signed_in.get("/office/").status_code == 403
    assert signed_in.get("/office/calendar").status_code == 403


def test_edit_then_cancel_with_reason(signed_in, db, settings, organiser, make_order):
    order = make_order(organiser)
    form = signed_in.get(f"/organiser/orders/{order.id}/edit").get_data(as_text=True)
    assert 'value="4000"' in form
    changed = form_data(settings, qty_ECO33="", qty_ECO25="500")
    assert signed_in.post(f"/organiser/orders/{order.id}/edit", data=changed).status_code == 302
    db.expire_all()
    assert {line.cup_type.code: line.quantity for line in order.lines} == {"ECO25": 500}
    assert (
        signed_in.post(
            f"/organiser/orders/{order.id}/cancel", data={"cancel-reason": ""}
        ).status_code
        == 422
    )
    db.refresh(order)
    assert order.status is OrderStatus.DRAFT
    assert (
        signed_in.post(
            f"/organiser/orders/{order.id}/cancel", data={"cancel-reason": "Rain"}
        ).status_code
        == 302
    )
    db.refresh(order)
    assert order.status is OrderStatus.CANCELLED
    page = signed_in.get(f"/organiser/orders/{order.id}").get_data(as_text=True)
    assert "Rain" in page


def test_live_capacity_answer(signed_in, settings):
    pickup = local(settings, 20, 18).strftime(FMT)
    body = signed_in.get(f"/organiser/capacity?cups=5000&pickup_end={pickup}").get_json()
    assert body["fits"] is True
    too_many = signed_in.get(f"/organiser/capacity?cups=900000&pickup_end={pickup}").get_json()
    assert too_many["fits"] is False
    assert signed_in.get("/organiser/capacity?cups=abc&pickup_end=x").status_code == 422


def test_form_without_csrf_token_is_refused(app_factory, organiser, db, settings):
    client = app_factory(WTF_CSRF_ENABLED=True).test_client()
    page = client.get("/login").get_data(as_text=True)
    token = csrf_token_from(page)
    assert (
        client.post("/login", data={"email": organiser.email, "password": "x"}).status_code == 400
    )
    response = client.post(
        "/login",
        data={"email": organiser.email, "password": "correct horse battery", "csrf_token": token},
    )
    assert response.status_code == 302
    before = count(db, Order)
    refused = client.post("/organiser/orders/new", data=form_data(settings))
    assert refused.status_code == 400
    assert "security token" in refused.get_data(as_text=True) or "beveiliging" in refused.get_data(
        as_text=True
    )
    assert count(db, Order) == before


def test_registration_creates_a_pending_organisation(client, db):
    client.get("/language/en")
    response = client.post(
        "/register",
        data={
            "organisation_name": "Buurtfeest Ledeberg",
            "name": "Lien",
            "email": "Lien@Example.test",
            "password": "a long enough password",
            "phone": "",
            "vat_number": "",
        },
    )
    assert response.status_code == 302
    page = client.get("/organiser/orders").get_data(as_text=True)
    assert "has not approved Buurtfeest Ledeberg yet" in page
    duplicate = client.post(
        "/register",
        data={
            "organisation_name": "Again",
            "name": "Lien",
            "email": "lien@example.test",
            "password": "a long enough password",
        },
    )
    assert duplicate.status_code == 422
    assert "exists already" in duplicate.get_data(as_text=True)


def test_short_password_is_refused(client):
    client.get("/language/en")
    response = client.post(
        "/register",
        data={
            "organisation_name": "X",
            "name": "Y",
            "email": "y@example.test",
            "password": "short",
        },
    )
    assert response.status_code == 422
    assert "at least 10 characters" in response.get_data(as_text=True)


def test_open_redirect_after_login_is_ignored(client, organiser):
    response = client.post(
        "/login?next=//evil.example/",
        data={"email": organiser.email, "password": "correct horse battery"},
    )
    assert response.headers["Location"] == "/organiser/orders"


def test_order_page_says_whether_the_pool_has_the_cups(
    signed_in, db, organiser, make_order, pool_stock
):
    signed_in.get("/language/en")
    fits = make_order(organiser, {"ECO33": 4000})
    assert "Enough clean pool cups" in signed_in.get(f"/organiser/orders/{fits.id}").get_data(
        as_text=True
    )
    too_many = make_order(organiser, {"WINE15": 1_000_000})
    page = signed_in.get(f"/organiser/orders/{too_many.id}").get_data(as_text=True)
    assert "Not enough clean pool cups" in page and "1,000,000 asked" in page
