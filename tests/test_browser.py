"""In a real browser (headless Chromium through Playwright) against a live server on a demo
database: the organiser's order flow, and every main page of every role checked by axe-core.

Screenshots land in tests/artifacts/ (git-ignored) to be looked at."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser_support import (
    DESKTOP,
    PHONE,
    LiveServer,
    axe_violations,
    chromium,
    describe,
    horizontal_overflow,
    log_in,
    require_browser,
    screenshot,
    scrolling_tables,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", params=["sqlite"])
def live_server(request, tmp_path_factory) -> Iterator[LiveServer]:
    require_browser()  # skip before seeding a database nobody will look at
    path = tmp_path_factory.mktemp(f"browser-{request.param}") / "wash-ops-browser.sqlite"
    with LiveServer(path) as server:
        yield server


@pytest.fixture(scope="module")
def browser(live_server) -> Iterator[Any]:
    # Depends on the live server, so the browser closes (and drops its connections) first.
    with chromium() as browser:
        yield browser


@pytest.fixture
def new_page(browser) -> Iterator[Any]:
    contexts = []

    def make(viewport: dict[str, int] = DESKTOP) -> Any:
        context = browser.new_context(viewport=viewport, locale="nl-BE")
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


class Audit:
    """Saves a screenshot of each page visited and collects axe's serious/critical findings
    (plus, on a desktop screen, tables that do not fit and would scroll sideways)."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.pages: list[str] = []

    def check(self, page: Any, name: str) -> None:
        page.wait_for_load_state("load")
        assert page.locator("main h1").first.is_visible(), f"{name}: no visible main heading"
        screenshot(page, name)
        self.pages.append(name)
        if page.viewport_size["width"] >= DESKTOP["width"]:
            for table in scrolling_tables(page):
                self.problems.append(f"{name} ({page.url}): a table scrolls sideways: {table}")
        violations = axe_violations(page)
        if violations:
            self.problems.append(describe(name, page.url, violations))

    def assert_clean(self) -> None:
        assert not self.problems, "accessibility or layout problems:\n" + "\n\n".join(self.problems)


def test_axe_is_really_checking(live_server, new_page):
    """A page with a known fault: the check must see it, or a clean result means nothing."""
    page = new_page()
    page.goto(live_server.base_url + "/login")
    page.evaluate(
        "() => document.querySelector('main').insertAdjacentHTML('beforeend',"
        ' \'<img src="/static/missing.png"><p style="color:#ccc">faint</p>\')'
    )
    found = {violation["id"] for violation in axe_violations(page)}
    assert {"image-alt", "color-contrast"} <= found, found


def test_organiser_places_an_order_and_finds_it(live_server, new_page):
    base, audit = live_server.base_url, Audit()
    page = new_page()
    log_in(page, base, "organiser")
    audit.check(page, "flow-orders-before")

    page.click("nav[aria-label] a[href$='/organiser/orders/new']")
    page.wait_for_url(re.compile(r"/organiser/orders/new$"))
    # The form suggests event, delivery and pickup times two weeks out; keep them.
    for name in ("event_starts_at", "event_ends_at", "pickup_start", "pickup_end"):
        assert page.input_value(f"input[name={name}]"), f"{name} is not pre-filled"
    # Saving without a name shows the errors, on the form, with the times kept.
    with page.expect_navigation():
        page.click("#order-form button[type=submit]")
    assert page.locator("#form-errors[role=alert]").is_visible()
    assert page.get_attribute("input[name=event_name]", "aria-invalid") == "true"
    assert page.input_value("input[name=pickup_end]"), "the times were lost"
    audit.check(page, "flow-order-form-errors")

    page.fill("input[name=event_name]", "Browsertest Festival")
    page.fill("input[name=postcode]", "9000")
    first_quantity = page.locator("input[data-per-crate]").first
    first_quantity.fill("4000")
    # The live answer of the form: crates per cup type and whether the wash fits.
    live = page.locator("#capacity-live")
    live.wait_for(state="visible")
    assert live.inner_text().strip(), "the live capacity answer is empty"
    crates = page.locator(f"[data-crates-for='{first_quantity.get_attribute('id')}']")
    assert crates.inner_text().strip().isdigit()
    audit.check(page, "flow-order-form")

    with page.expect_navigation():
        page.click("#order-form button[type=submit]")
    assert re.search(r"/organiser/orders/\d+$", page.url), f"not on an order page: {page.url}"
    heading = page.locator("main h1")
    reference = re.search(r"WO-\d+", heading.inner_text()).group(0)
    assert heading.locator(".badge.status-draft").is_visible()
    fit = page.locator(".notice.fit")
    assert fit.is_visible(), "the order page does not say whether the wash fits"
    assert "notice-success" in fit.get_attribute("class"), (
        f"4,000 cups should fit: {fit.inner_text()}"
    )
    audit.check(page, "order-page")

    with page.expect_navigation():
        page.click("form[action$='/submit'] button[type=submit]")
    assert heading.locator(".badge.status-submitted").is_visible(), "the status did not change"
    assert page.locator(".notice-success[role=status]").first.is_visible()
    audit.check(page, "flow-order-submitted")

    page.click("nav[aria-label] a[href$='/organiser/orders']")
    page.wait_for_url(re.compile(r"/organiser/orders$"))
    row = page.locator("tbody tr", has=page.get_by_role("link", name=reference, exact=True))
    assert row.count() == 1, f"{reference} is not in the orders list"
    assert row.locator(".badge.status-submitted").is_visible()
    assert "Browsertest Festival" in row.inner_text()
    audit.check(page, "flow-orders-after")
    audit.assert_clean()


def _first_order_link(page: Any) -> str:
    return page.locator("main tbody a[href*='/orders/']").first.get_attribute("href")


PAGES = {
    "organiser": ["/organiser/orders", "/organiser/orders/new", "order", "/organiser/api-access"],
    "planner": ["/office/", "/office/orders", "order", "/office/calendar", "/office/organisations"],
    "supervisor": ["/line/"],
    "courier": ["/courier/"],
    "public": ["/login", "/register", "/api/v1/docs"],
}


def _page_name(role: str, path: str) -> str:
    slug = path.strip("/").replace("/", "-").replace("organiser-", "").replace("office-", "")
    return f"{role}-{slug or 'home'}"


@pytest.mark.parametrize("role", list(PAGES))
def test_main_pages_are_accessible(live_server, new_page, role):
    base, audit = live_server.base_url, Audit()
    page = new_page()
    if role != "public":
        log_in(page, base, role)
    listing = None
    for path in PAGES[role]:
        if path == "order":
            assert listing is not None
            page.goto(base + listing)
            path = _first_order_link(page)
            name = f"{role}-order-detail"
        else:
            listing = path if path.endswith("orders") else listing
            name = _page_name(role, path)
        response = page.goto(base + path)
        assert response is not None and response.ok, f"{path}: HTTP {response and response.status}"
        audit.check(page, name)
    audit.assert_clean()


@pytest.mark.parametrize(
    ("role", "path", "viewport", "name"),
    [
        ("courier", "/courier/", PHONE, "courier-phone-360"),
        ("supervisor", "/line/", DESKTOP, "supervisor-1280x800"),
        ("organiser", "/organiser/orders/new", PHONE, "organiser-new-order-phone-360"),
    ],
)
def test_pages_fit_their_screen(live_server, new_page, role, path, viewport, name):
    page = new_page(viewport)
    log_in(page, live_server.base_url, role)
    page.goto(live_server.base_url + path)
    audit = Audit()
    audit.check(page, name)
    if role == "courier":
        assert page.locator("main article.card").count() >= 1, "the courier sees no trip"
    assert horizontal_overflow(page) <= 0, (
        f"{name}: the page is {horizontal_overflow(page)}px wider than the screen"
    )
    audit.assert_clean()


def test_office_receiving_pages(live_server, new_page):
    """The pages where the office books cups coming in: a customer's own cups and a rental
    order's returns."""
    from sqlalchemy import select

    from wash_ops.db import make_session_factory
    from wash_ops.orders.models import Order, OrderStatus, Service

    with make_session_factory(live_server.engine)() as session:
        own = session.scalar(
            select(Order.id).where(
                Order.service.in_((Service.WASH_OWN, Service.STORE_OWN)),
                Order.status == OrderStatus.CONFIRMED,
            )
        )
        rental = session.scalar(
            select(Order.id).where(
                Order.service == Service.RENT_AND_WASH, Order.status == OrderStatus.CONFIRMED
            )
        )
    assert own is not None and rental is not None, "the demo has confirmed orders of both kinds"
    base, audit, page = live_server.base_url, Audit(), new_page()
    log_in(page, base, "planner")
    for path, name in (
        (f"/office/orders/{own}", "planner-order-own-cups"),
        (f"/office/orders/{own}/receive-own", "planner-receive-own-cups"),
    ):
        response = page.goto(base + path)
        assert response is not None and response.ok, path
        audit.check(page, name)
    page.fill("input[name^='received_']", "500")
    page.click("main button[type=submit]")
    assert page.locator(".notice-success").is_visible()
    audit.check(page, "planner-order-own-cups-received")
    response = page.goto(f"{base}/office/orders/{rental}/receive")
    assert response is not None and response.status == 409  # confirmed, not yet delivered
    audit.check(page, "planner-receive-not-yet")
    audit.assert_clean()
