"""The wash batch pages and PDFs: the supervisor starts and ends a batch through the forms, the
organiser reads the batch report and hygiene certificate of their own orders only, the eco
figures on the organiser's pages and in the API, and refusals that change nothing."""

from __future__ import annotations

import re
import zlib

import pytest
from sqlalchemy import func, select

from tests.conftest import login
from tests.washing_support import (
    Line1,
    fresh_live_records,  # noqa: F401 - autouse
    walk_to_received,
)
from wash_ops.accounts.models import Role
from wash_ops.accounts.services import issue_api_token
from wash_ops.catalogue.services import main_line
from wash_ops.db import utcnow
from wash_ops.inventory.ledger import receive_into_stock, verify_ledger
from wash_ops.inventory.locations import create_location
from wash_ops.inventory.models import LocationKind, StockBalance, StockMovement, StockState
from wash_ops.orders.models import OrderStatus
from wash_ops.washing.models import BatchStatus, WashBatch


@pytest.fixture
def received(db, make_user, make_order):
    create_location(db, code="A", name="Hal A", kind=LocationKind.ZONE)
    create_location(db, code="IN", name="Ontvangst", kind=LocationKind.INTAKE)
    receive_into_stock(db, cup_type="ECO33", quantity=10_000, location="A", reason="new")
    planner = make_user(Role.PLANNER)
    organiser = make_user(Role.ORGANISER)
    order = make_order(organiser, {"ECO33": 2000})
    walk_to_received(db, order, planner)
    order.organiser = organiser  # the test's handle on who placed it
    return order


def signed_in(client, user):
    assert login(client, user).status_code == 302
    return client


def pdf_text(data: bytes) -> str:
    """The text of a PDF's content streams, inflated where fpdf2 compressed them."""
    assert data.startswith(b"%PDF-")
    parts = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            parts.append(zlib.decompress(stream).decode("latin-1"))
        except zlib.error:
            parts.append(stream.decode("latin-1"))
    return "\n".join(parts)


def state_of_db(db) -> tuple:
    return (
        db.scalar(select(func.count()).select_from(StockMovement)),
        db.scalar(select(func.count()).select_from(WashBatch)),
        tuple(
            sorted(
                (b.cup_type_id, b.state, b.location_id, b.quantity)
                for b in db.scalars(select(StockBalance).execution_options(populate_existing=True))
            )
        ),
    )


def test_the_supervisor_starts_and_ends_a_batch_through_the_pages(
    client, db, settings, received, make_user
):
    supervisor = make_user(Role.SUPERVISOR)
    signed_in(client, supervisor)
    page = client.get("/line/batches/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert received.reference in html and "2.000" in html  # Dutch first: 2.000 cups
    assert 'href="/line/batches/"' in html  # in the supervisor's navigation

    started = client.post(
        "/line/batches/start", data={"order_id": received.id, "cup_type": "ECO33"}
    )
    assert started.status_code == 302
    batch = db.scalar(select(WashBatch))
    assert batch is not None and batch.status is BatchStatus.RUNNING
    db.refresh(received)
    assert received.status is OrderStatus.WASHING

    plc = Line1(db, main_line(db, settings), settings)
    plc.read(batch.started_at, wash=60.0, rinse=85.0)
    plc.read(utcnow(), wash=61.0, rinse=86.0, cups_washed=1990, cups_rejected=10, water=300)
    live = client.get("/line/batches/running.json").get_json()["running"]
    assert (live["number"], live["cups_washed"], live["cups_left"]) == (batch.number, 1990, 0)
    assert live["hygiene_ok"] is True and live["rinse"]["latest_c"] == 86.0

    html = client.get("/line/batches/").get_data(as_text=True)
    assert batch.number in html and "Hygiëne in orde" in html
    confirm = client.get(f"/line/batches/{batch.id}/end")
    assert confirm.status_code == 200 and "Ja, stop de batch" in confirm.get_data(as_text=True)
    assert db.get(WashBatch, batch.id).status is BatchStatus.RUNNING  # asking changed nothing

    ended = client.post(f"/line/batches/{batch.id}/end")
    assert ended.status_code == 302 and ended.location.endswith(f"/line/batches/{batch.id}")
    db.refresh(batch)
    assert batch.status is BatchStatus.ENDED and batch.hygiene_passed is True
    assert (batch.cups_good, batch.cups_broken) == (1990, 10)
    db.refresh(received)
    assert received.status is OrderStatus.WASHED
    assert verify_ledger(db) == []
    detail = client.get(f"/line/batches/{batch.id}").get_data(as_text=True)
    assert "Hygiëne geslaagd" in detail and "1.990" in detail

    report = client.get(f"/line/batches/{batch.id}/report.pdf")
    assert report.status_code == 200 and report.mimetype == "application/pdf"
    text = pdf_text(report.data)
    assert batch.number in text and received.reference in text and "GESLAAGD" in text

    # Ending again through the page is refused with the reason, nothing changes.
    before = state_of_db(db)
    again = client.post(f"/line/batches/{batch.id}/end")
    assert again.status_code == 409
    assert "is al gestopt" in again.get_data(as_text=True)
    assert state_of_db(db) == before


def test_starting_what_is_not_in_the_backlog_or_on_a_busy_line_is_refused(
    client, db, received, make_user
):
    signed_in(client, make_user(Role.SUPERVISOR))
    before = state_of_db(db)
    for data, status in [
        ({"order_id": received.id, "cup_type": "ECO50"}, 409),
        ({"order_id": 999_999, "cup_type": "ECO33"}, 422),
        ({"order_id": "x", "cup_type": "ECO33"}, 422),
        ({"order_id": received.id, "cup_type": "ECO33", "quantity": 2001}, 422),
    ]:
        refused = client.post("/line/batches/start", data=data)
        assert refused.status_code == status, data
        assert 'role="alert"' in refused.get_data(as_text=True)
        assert state_of_db(db) == before
    assert (
        client.post(
            "/line/batches/start",
            data={"order_id": received.id, "cup_type": "ECO33", "quantity": 5},
        ).status_code
        == 302
    )
    before = state_of_db(db)
    busy = client.post("/line/batches/start", data={"order_id": received.id, "cup_type": "ECO33"})
    assert busy.status_code == 409 and "nog op de lijn" in busy.get_data(as_text=True)
    assert state_of_db(db) == before


def test_who_may_open_the_batch_pages_and_pdfs(client, db, settings, received, make_user):
    signed_in(client, make_user(Role.SUPERVISOR))
    client.post("/line/batches/start", data={"order_id": received.id, "cup_type": "ECO33"})
    batch = db.scalar(select(WashBatch))
    client.post(f"/line/batches/{batch.id}/end")
    client.post("/logout")

    assert client.get("/line/batches/").status_code == 302  # log in first
    signed_in(client, received.organiser)
    assert client.get("/line/batches/").status_code == 403
    assert client.post("/line/batches/start", data={}).status_code == 403
    assert client.get(f"/line/batches/{batch.id}/end").status_code == 403
    assert client.get(f"/line/batches/{batch.id}/report.pdf").status_code == 200
    certificate = client.get(f"/line/batches/orders/{received.id}/certificate.pdf")
    assert certificate.status_code == 200
    text = pdf_text(certificate.data)
    assert received.reference in text and batch.number in text
    # The order page shows the washing and eco figures; the order list the organiser's summary.
    order_page = client.get(f"/organiser/orders/{received.id}").get_data(as_text=True)
    assert "Hergebruikte bekers" in order_page and "certificate.pdf" in order_page
    assert "Hergebruikte bekers" in client.get("/organiser/orders").get_data(as_text=True)
    client.post("/logout")

    stranger = make_user(Role.ORGANISER)
    signed_in(client, stranger)
    assert client.get(f"/line/batches/{batch.id}/report.pdf").status_code == 404
    assert client.get(f"/line/batches/orders/{received.id}/certificate.pdf").status_code == 404
    assert "Hergebruikte bekers" not in client.get("/organiser/orders").get_data(as_text=True)
    client.post("/logout")

    signed_in(client, make_user(Role.COURIER))
    assert client.get(f"/line/batches/{batch.id}/report.pdf").status_code == 403
    client.post("/logout")
    signed_in(client, make_user(Role.PLANNER))
    assert client.get("/line/batches/").status_code == 200
    assert client.get(f"/line/batches/orders/{received.id}/certificate.pdf").status_code == 200


def test_the_eco_figures_in_the_api_are_the_organisers_own(client, db, received, make_user):
    signed_in(client, make_user(Role.SUPERVISOR))
    client.post("/line/batches/start", data={"order_id": received.id, "cup_type": "ECO33"})
    batch = db.scalar(select(WashBatch))
    batch_started = batch.started_at
    Line1(db, batch.line, _settings(client)).read(batch_started, wash=60.0, rinse=85.0)
    Line1(db, batch.line, _settings(client)).read(utcnow(), wash=60.0, rinse=85.0, cups_washed=2000)
    client.post(f"/line/batches/{batch.id}/end")
    token = issue_api_token(db, received.organiser, "eco")
    headers = {"Authorization": f"Bearer {_secret(token)}"}
    mine = client.get("/api/v1/eco", headers=headers)
    assert mine.status_code == 200
    assert mine.get_json()["cups_reused"] == 2000
    assert mine.get_json()["single_use_cups_avoided"] == 2000
    order = client.get(f"/api/v1/eco/orders/{received.id}", headers=headers)
    assert order.status_code == 200 and order.get_json()["batches"] == 1
    other = issue_api_token(db, make_user(Role.ORGANISER), "eco")
    hidden = client.get(
        f"/api/v1/eco/orders/{received.id}", headers={"Authorization": f"Bearer {_secret(other)}"}
    )
    assert hidden.status_code == 404 and hidden.get_json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/eco").status_code == 401


def _settings(client):
    return client.application.config["WASH_OPS_SETTINGS"]


def _secret(issued) -> str:
    return issued[0]


def test_the_stock_overview_shows_the_washed_cups(client, db, received, make_user):
    signed_in(client, make_user(Role.SUPERVISOR))
    client.post("/line/batches/start", data={"order_id": received.id, "cup_type": "ECO33"})
    held = {
        (b.state, b.location.code): b.quantity
        for b in db.scalars(select(StockBalance).where(StockBalance.quantity > 0))
    }
    assert held[(StockState.ON_LINE, "LINE-L1")] == 2000
