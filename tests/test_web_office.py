"""The office's pages: the queue, confirming and rejecting, organisations, the calendar."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import login
from wash_ops.accounts.models import Organisation, OrganisationStatus, Role
from wash_ops.db import utcnow
from wash_ops.orders.models import OrderStatus
from wash_ops.orders.services import submit_order


@pytest.fixture
def planner(make_user):
    return make_user(Role.PLANNER)


@pytest.fixture
def office(client, planner):
    assert login(client, planner).status_code == 302
    client.get("/language/en")
    return client


@pytest.fixture
def submitted(db, settings, make_user, make_order, pool_stock):
    organiser = make_user(Role.ORGANISER)
    order = make_order(organiser, {"ECO50": 6000})
    submit_order(db, settings, organiser, order, utcnow())
    return order


def test_queue_lists_submitted_orders_with_their_fit(office, submitted):
    page = office.get("/office/").get_data(as_text=True)
    assert submitted.reference in page
    assert "fits, by" in page


def test_confirm_from_the_queue(office, db, submitted):
    response = office.post(f"/office/orders/{submitted.id}/confirm", data={"back": "queue"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/office/")
    db.refresh(submitted)
    assert submitted.status is OrderStatus.CONFIRMED
    calendar = office.get("/office/calendar?weeks=6").get_data(as_text=True)
    assert submitted.reference in calendar


def test_reject_needs_a_reason(office, db, submitted):
    assert (
        office.post(f"/office/orders/{submitted.id}/reject", data={"reject-reason": ""}).status_code
        == 422
    )
    db.refresh(submitted)
    assert submitted.status is OrderStatus.SUBMITTED
    response = office.post(
        f"/office/orders/{submitted.id}/reject", data={"reject-reason": "No stock"}
    )
    assert response.status_code == 302
    db.refresh(submitted)
    assert submitted.status is OrderStatus.REJECTED
    assert "No stock" in office.get(f"/office/orders/{submitted.id}").get_data(as_text=True)


def test_confirming_twice_is_a_clear_conflict(office, db, submitted):
    office.post(f"/office/orders/{submitted.id}/confirm")
    again = office.post(f"/office/orders/{submitted.id}/confirm")
    assert again.status_code == 409
    assert "cannot become confirmed" in again.get_data(as_text=True)


def test_unapproved_organisation_is_approved_before_confirmation(
    pool_stock, office, db, settings, make_organisation, make_user, make_order
):
    organisation = make_organisation("Nieuw Festival", approved=False)
    organiser = make_user(Role.ORGANISER, organisation=organisation)
    order = make_order(organiser)
    submit_order(db, settings, organiser, order, utcnow())
    refused = office.post(f"/office/orders/{order.id}/confirm")
    assert refused.status_code == 409
    assert "not approved" in refused.get_data(as_text=True)
    page = office.get("/office/organisations").get_data(as_text=True)
    assert "Nieuw Festival" in page
    assert office.post(f"/office/organisations/{organisation.id}/approve").status_code == 302
    db.refresh(organisation)
    assert organisation.status is OrganisationStatus.APPROVED
    assert office.post(f"/office/orders/{order.id}/confirm").status_code == 302
    assert office.post(f"/office/organisations/{organisation.id}/approve").status_code == 409


def test_calendar_shows_capacity_and_closed_days(office, settings):
    page = office.get("/office/calendar?weeks=2").get_data(as_text=True)
    assert "50,000" in page
    assert "Line closed" in page  # a weekend falls in any two weeks
    assert office.get("/office/calendar?weeks=abc").status_code == 400
    assert office.get("/office/calendar?weeks=99").status_code == 400


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.COURIER])
def test_other_roles_have_their_own_pages_only(client, make_user, role):
    user = make_user(role)
    login(client, user)
    assert client.get("/office/").status_code == 403
    assert client.get("/organiser/orders").status_code == 403
    home = {Role.SUPERVISOR: "/line/", Role.COURIER: "/courier/"}[role]
    assert client.get(home).status_code == 200
    assert client.get("/").headers["Location"].endswith(home)


def test_status_filter_rejects_unknown_values(office):
    assert office.get("/office/orders?status=confirmed").status_code == 200
    assert office.get("/office/orders?status=bogus").status_code == 400


def test_review_of_missing_organisation_is_404(office, db):
    missing = (db.scalar(select(Organisation.id).order_by(Organisation.id.desc())) or 0) + 1000
    assert office.post(f"/office/organisations/{missing}/approve").status_code == 404
