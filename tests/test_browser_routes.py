"""Courier routes in a real browser: the courier confirms a stop on a 360×740 phone, and the
planner's route page with its map at 1280×800; axe-checked, screenshots in
tests/artifacts/routes-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from tests.browser_support import (
    DESKTOP,
    PHONE,
    LiveServer,
    axe_violations,
    chromium,
    demo_email,
    describe,
    horizontal_overflow,
    log_in,
    require_browser,
    screenshot,
)
from wash_ops.accounts.models import User
from wash_ops.db import unit_of_work, utcnow
from wash_ops.orders.models import Carrier, Order, OrderStatus, Service
from wash_ops.orders.services import (
    EventInput,
    OrderInput,
    confirm_order,
    create_event,
    create_order,
    submit_order,
)
from wash_ops.routing.services import fleet, plan_day, publish_plan, sync_vehicles

pytestmark = pytest.mark.browser
EVENT = "Browsertest Kouter"


class RoutesServer(LiveServer):
    order_id: int
    day: str


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> Iterator[RoutesServer]:
    require_browser()
    server = RoutesServer(tmp_path_factory.mktemp("browser-routes") / "wash-ops-routes.sqlite")
    settings = server.settings
    with unit_of_work(sessionmaker(bind=server.engine, expire_on_commit=False)) as session:
        organiser = session.scalar(select(User).where(User.email == demo_email("organiser")))
        planner = session.scalar(select(User).where(User.email == demo_email("planner")))
        courier = session.scalar(select(User).where(User.email == demo_email("courier")))
        assert organiser and planner and courier and organiser.organisation
        tomorrow = utcnow().astimezone(settings.zone).date() + timedelta(days=1)
        start = datetime.combine(tomorrow, datetime.min.time(), settings.zone).replace(hour=14)
        earlier = utcnow() - timedelta(days=3)
        event = create_event(
            session,
            settings,
            organiser.organisation,
            EventInput(EVENT, start, start + timedelta(hours=6), "Kouter 1", "9000"),
            earlier,
        )
        data = OrderInput(
            service=Service.RENT_AND_WASH,
            delivery_by=Carrier.COURIER,
            pickup_by=Carrier.COURIER,
            delivery_start=start.replace(hour=9),
            delivery_end=start.replace(hour=12),
            pickup_start=start + timedelta(hours=20),
            pickup_end=start + timedelta(hours=24),
            quantities={"ECO33": 480, "ECO50": 120},
        )
        order = create_order(session, settings, organiser, event, data, earlier)
        submit_order(session, settings, organiser, order, earlier)
        confirm_order(session, settings, planner, order, earlier)
        sync_vehicles(session, settings)
        for vehicle in fleet(session):
            vehicle.courier = courier  # whichever vehicle takes the stop, our courier drives it
        session.flush()
        plan = plan_day(session, settings, tomorrow, utcnow(), planner, time_limit_s=1.0)
        assert plan.complete, [(s.label, s.unserved_reason) for s in plan.unserved]
        publish_plan(session, planner, plan.id, utcnow())
        server.order_id, server.day = order.id, tomorrow.isoformat()
    with server:
        yield server


@pytest.fixture(scope="module")
def browser(live_server) -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def _page(browser, live_server, role: str, viewport: dict[str, int]) -> Any:
    context = browser.new_context(viewport=viewport, locale="nl-BE")
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, live_server.base_url, role)
    return page


def _clean(page: Any, name: str) -> None:
    page.wait_for_load_state("load")
    screenshot(page, name)
    violations = axe_violations(page)
    assert violations == [], describe(name, page.url, violations)


def test_courier_confirms_a_stop_on_a_phone(browser, live_server):
    page = _page(browser, live_server, "courier", PHONE)
    page.goto(live_server.base_url + "/courier/")
    card = page.locator("article.stop-card", has_text=EVENT)
    assert card.count() == 1, "the courier does not see the planned stop"
    assert card.locator("a[href^='geo:']").is_visible()
    _clean(page, "routes-courier-360")
    assert horizontal_overflow(page) <= 0
    with page.expect_navigation():
        card.locator("a", has_text="Stop bevestigen").click()
    _clean(page, "routes-courier-stop-360")
    assert horizontal_overflow(page) <= 0
    page.fill("#crates-ECO33", "5")
    page.fill("#crates-ECO50", "2")
    page.fill("#problem", "Eén bak ECO33 bleef in het depot")
    with page.expect_navigation():
        page.click("form.confirm-form button[type=submit]")
    done = page.locator("article.stop-card.done", has_text=EVENT)
    assert done.count() == 1 and "7" in done.inner_text()
    _clean(page, "routes-courier-confirmed-360")
    with unit_of_work(sessionmaker(bind=live_server.engine, expire_on_commit=False)) as session:
        order = session.get(Order, live_server.order_id)
        assert order is not None and order.status is OrderStatus.AT_EVENT
    page.context.close()


def test_planner_sees_the_routes_on_a_map(browser, live_server):
    page = _page(browser, live_server, "planner", DESKTOP)
    page.goto(f"{live_server.base_url}/office/routes?day={live_server.day}")
    page.wait_for_selector("#route-map.leaflet-container path.leaflet-interactive")
    assert page.locator("#route-map path.leaflet-interactive").count() >= 1
    assert EVENT in page.locator(".route-list").inner_text()
    # Tiles load, or fail offline and the note says so; the drawn routes stay either way.
    page.wait_for_function(
        "() => document.querySelector('#route-map img.leaflet-tile-loaded')"
        " || !document.getElementById('map-note').hidden",
        timeout=15_000,
    )
    _clean(page, "routes-planner-map")
    page.context.close()


def test_a_replan_in_the_background_shows_progress(browser, live_server):
    live_server.server.app.config["ROUTES_IN_BACKGROUND"] = True  # as in production
    try:
        page = _page(browser, live_server, "planner", DESKTOP)
        page.goto(f"{live_server.base_url}/office/routes?day={live_server.day}")
        # A stop added by hand, so that the re-plan has something to solve.
        page.fill("#m-label", "Herstelling tapinstallatie")
        page.fill("#m-lat", "51.0500")
        page.fill("#m-lon", "3.7300")
        page.fill("#m-start", "10:00")
        page.fill("#m-end", "12:00")
        page.fill("#m-deliver", "1")
        with page.expect_navigation():
            page.click("form.manual-form button[type=submit]")
        assert "Stop toegevoegd" in page.locator("main").inner_text()
        with page.expect_navigation():
            page.click("button:has-text('Opnieuw plannen')")
        assert "job=" in page.url
        progress = page.locator("#plan-progress progress")
        assert progress.count() == 1, "no progress bar while the plan runs"
        # The page polls the run and reloads itself without the run when it is done.
        page.wait_for_url(lambda url: "job=" not in url, timeout=30_000)
        assert "elke stop is gepland" in page.locator("main").inner_text()
        assert "Herstelling tapinstallatie" in page.locator(".route-list").inner_text()
        _clean(page, "routes-planner-replanned")
        page.context.close()
    finally:
        live_server.server.app.config["ROUTES_IN_BACKGROUND"] = False


def test_organiser_sees_the_planned_window_and_the_feed(browser, live_server):
    page = _page(browser, live_server, "organiser", PHONE)
    page.goto(f"{live_server.base_url}/organiser/orders")
    feed = page.locator(".calendar-feed a")
    assert feed.count() == 1 and feed.inner_text().endswith(".ics")
    # The orders table is wider than the phone: it scrolls sideways in a region the keyboard
    # can reach, with a name (axe: scrollable-region-focusable).
    scrolling = page.locator(".table-wrap[tabindex='0'][role='region']")
    assert scrolling.count() >= 1, "no table scrolls on a 360 px phone: the check tests nothing"
    assert scrolling.first.get_attribute("aria-label")
    _clean(page, "routes-organiser-orders-360")
    assert horizontal_overflow(page) <= 0
    page.context.close()
    page = _page(browser, live_server, "organiser", PHONE)
    page.goto(f"{live_server.base_url}/organiser/orders/{live_server.order_id}")
    assert page.locator(".planned").count() >= 1, "the planned delivery window is not shown"
    _clean(page, "routes-organiser-order-360")
    page.context.close()
    page = _page(browser, live_server, "organiser", DESKTOP)
    page.goto(f"{live_server.base_url}/organiser/orders/{live_server.order_id}")
    _clean(page, "routes-organiser-order")
    page.context.close()
