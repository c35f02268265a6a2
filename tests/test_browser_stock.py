"""The stock pages in a real browser (headless Chromium through Playwright) against a live server
on its own demo database with a warehouse and stock booked through the inventory services.

Screenshots land in tests/artifacts/stock-*.png (and the printed label sheet as a PDF)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.browser_support import (
    ARTIFACTS,
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
    scrolling_tables,
)
from wash_ops.accounts.models import Organisation, User
from wash_ops.db import unit_of_work, utcnow
from wash_ops.inventory.counts import count_location
from wash_ops.inventory.ledger import move_stock, put_away, receive_into_stock
from wash_ops.inventory.locations import create_location
from wash_ops.inventory.models import LocationKind
from wash_ops.inventory.models import StockState as S
from wash_ops.orders.models import Event, Order, OrderStatus

pytestmark = pytest.mark.browser


def _stock_the_warehouse(session: Session) -> int:
    """On top of the demo's hall A (pool stock, reservations of the confirmed orders, a
    customer's own cups): hall B with a rack of pallet places and a goods-in area, pool cups put
    away, another customer's cups stored, a load of dirty cups received, some quarantined, and
    a count that found fewer cups. Returns the id of the order that is delivered today."""
    planner = session.scalar(select(User).where(User.email == demo_email("planner")))
    assert planner is not None
    owners = {o.name: o.id for o in session.scalars(select(Organisation))}
    hall = create_location(session, code="B", name="Hal B", kind=LocationKind.ZONE)
    rack = create_location(session, code="B-01", name="Rek B1", kind=LocationKind.RACK, parent=hall)
    for number in range(1, 4):
        create_location(
            session,
            code=f"B-01-{number}",
            name=f"Palletplaats {number}",
            kind=LocationKind.PALLET,
            parent=rack,
            capacity_crates=40,
        )
    create_location(session, code="IN", name="Ontvangst", kind=LocationKind.INTAKE)
    start = utcnow() - timedelta(days=6)

    def receive(cup_type, quantity, place, state=S.CLEAN_AVAILABLE, owner=None, hours=0):
        owner_id = owners[owner] if owner else None
        receive_into_stock(
            session,
            cup_type=cup_type,
            quantity=quantity,
            location="IN",
            state=state,
            owner_id=owner_id,
            reason="delivered by the supplier" if owner is None else "customer's own cups",
            user=planner,
            at=start + timedelta(hours=hours),
        )
        if place != "IN":
            put_away(
                session,
                cup_type=cup_type,
                quantity=quantity,
                from_location="IN",
                to_location=place,
                state=state,
                owner_id=owner_id,
                user=planner,
                at=start + timedelta(hours=hours + 1),
            )

    receive("ECO33", 2400, "B-01-1", hours=0)
    receive("WINE15", 800, "B-01-2", S.CUSTOMER_STORED, "Festivalclub Aalst", hours=26)
    receive("ECO33", 2400, "IN", S.RECEIVED_DIRTY, hours=72)
    move_stock(
        session,
        cup_type="ECO33",
        quantity=120,
        from_state=S.RECEIVED_DIRTY,
        from_location="IN",
        to_state=S.QUARANTINED,
        to_location="IN",
        reason="stained: wash again",
        user=planner,
        at=start + timedelta(hours=74),
    )
    count_location(
        session, "B-01-1", {"ECO33": 2380}, reason="monthly count", user=planner, at=utcnow()
    )
    order = session.scalar(
        select(Order).join(Event).where(Event.name == "Markt op de Kouter").order_by(Order.id)
    )
    assert order is not None and order.status is OrderStatus.CONFIRMED
    return order.id


class StockedServer(LiveServer):
    order_id: int


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> Iterator[StockedServer]:
    require_browser()  # skip before seeding a database nobody will look at
    path = tmp_path_factory.mktemp("browser-stock") / "wash-ops-stock.sqlite"
    server = StockedServer(path)
    with unit_of_work(sessionmaker(bind=server.engine, expire_on_commit=False)) as session:
        server.order_id = _stock_the_warehouse(session)
    with server:
        yield server


@pytest.fixture(scope="module")
def browser(live_server) -> Iterator[Any]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def planner_page(browser, live_server) -> Iterator[Any]:
    context = browser.new_context(viewport=DESKTOP, locale="en-GB")
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, live_server.base_url, "planner")
    page.goto(live_server.base_url + "/language/en")
    yield page
    context.close()


def goto(page: Any, url: str) -> None:
    response = page.goto(url)
    assert response is not None and response.ok, f"{url}: HTTP {response and response.status}"


class Audit:
    """A screenshot of each page, axe's serious/critical findings, and no sideways scrolling."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def check(self, page: Any, name: str) -> None:
        page.wait_for_load_state("load")
        assert page.locator("main h1").first.is_visible(), f"{name}: no visible main heading"
        screenshot(page, name)
        for table in scrolling_tables(page):
            self.problems.append(f"{name} ({page.url}): a table scrolls sideways: {table}")
        if horizontal_overflow(page) > 0:
            self.problems.append(f"{name}: the page is wider than the screen")
        violations = axe_violations(page)
        if violations:
            self.problems.append(describe(name, page.url, violations))

    def assert_clean(self) -> None:
        assert not self.problems, "accessibility or layout problems:\n" + "\n\n".join(self.problems)


def test_planner_walks_through_the_stock(live_server, planner_page):
    base, page, audit = live_server.base_url, planner_page, Audit()
    page.click("nav[aria-label] a[href$='/stock/']")
    page.wait_for_url(re.compile(r"/stock/$"))
    eco33 = page.locator("section.stock-card", has=page.locator("h2#cup-ECO33"))
    assert eco33.locator("thead").inner_text().count("Gentse Feesten vzw") == 1
    states = eco33.locator("tbody th").all_inner_texts()
    for state in ("Clean, available", "Reserved for an order", "Quarantined", "Lost"):
        assert any(state in text for text in states), f"no {state} row: {states}"
    audit.check(page, "stock-overview")

    # A scanner types the code of a pallet place and presses Enter.
    page.fill("#lookup-code", "b-01-1")
    with page.expect_navigation():
        page.press("#lookup-code", "Enter")
    assert page.url.endswith("/stock/locations/B-01-1")
    assert "30 of 40" in page.locator("dl.facts").inner_text()  # 2,380 cups, 80 a crate
    audit.check(page, "stock-location")

    page.click("nav.crumbs a[href$='/stock/locations/B']")
    page.wait_for_url(re.compile(r"/stock/locations/B$"))
    goto(page, base + "/stock/locations")
    audit.check(page, "stock-locations")

    # Drill down from a cell of the overview to its movements.
    goto(page, base + "/stock/")
    eco33 = page.locator("section.stock-card", has=page.locator("h2#cup-ECO33"))
    with page.expect_navigation():
        eco33.locator("tbody a[href*='state=quarantined']").first.click()
    assert "1 movement" in page.locator(".result-count").inner_text()
    assert "stained: wash again" in page.locator("table.movements").inner_text()
    goto(page, base + "/stock/movements")
    audit.check(page, "stock-movements")

    with page.expect_download() as download:
        page.click("a[href*='/stock/movements.csv']")
    text = download.value.path().read_text()
    assert text.startswith("at,cup_type,owner,quantity,")
    assert len(text.strip().splitlines()) > 10

    goto(page, base + "/stock/availability?cup_type=ECO33&days=28")
    assert page.locator("table.calendar td .avail").count() == 28
    audit.check(page, "stock-availability")

    # Move cups through the form: too many first (a form error, nothing moved), then right.
    goto(page, base + "/stock/locations/B-01-1")
    with page.expect_navigation():
        page.click("main a:has-text('Move cups from here')")
    assert page.input_value("#from_location") == "B-01-1"
    assert page.input_value("#cup_type") == "ECO33"  # the only cups on that place
    page.fill("#quantity", "5000")
    page.fill("#to_location", "b-01-3")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "Only 2,380 ECO33 cups" in page.locator("#quantity-error").inner_text()
    audit.check(page, "stock-move-error")
    page.fill("#quantity", "80")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.url.endswith("/stock/locations/B-01-3")
    assert "80 cups moved from B-01-1 to B-01-3." in page.locator(".notice-success").inner_text()

    # Count a place: the difference is booked and said.
    goto(page, base + "/stock/locations/B-01-1/count")
    audit.check(page, "stock-count")
    page.fill("#qty_ECO33", "2290")
    page.fill("#reason", "spot check")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.url.endswith("/stock/locations/B-01-1")
    warning = page.locator(".notice-warning").inner_text()
    assert "ECO33: 2,290 counted, 10 fewer than booked" in warning
    audit.check(page, "stock-location-after-count")
    audit.assert_clean()


def test_label_sheet_prints_on_a4(live_server, planner_page):
    base, page, audit = live_server.base_url, planner_page, Audit()
    goto(page, base + "/stock/labels")
    labels = page.locator(".label-sheet .label")
    assert labels.count() == 27  # the demo's 24 pallet places and our 3
    assert labels.locator("svg").count() == 27
    assert labels.first.locator(".label-code").inner_text() == "A-01-01"
    assert page.locator(".label-sheet").count() == 2
    audit.check(page, "stock-labels")

    goto(page, f"{base}/stock/labels/order/{live_server.order_id}")
    sheets = page.locator(".label-sheet").count()
    assert sheets == 2, "2,400 cups are 30 crates: a full sheet of 24 and 6 on a second"
    audit.check(page, "stock-labels-order")

    # What the printer gets: only the sheets, one A4 page each.
    page.emulate_media(media="print")
    screenshot(page, "stock-labels-print")
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    (ARTIFACTS / "stock-labels-order.pdf").write_bytes(pdf)
    pages = re.findall(rb"/Type\s*/Page[^s]", pdf)
    assert len(pages) == sheets, f"{len(pages)} printed pages for {sheets} sheets"
    boxes = {tuple(round(float(v)) for v in box.split()) for box in _media_boxes(pdf)}
    assert boxes == {(0, 0, 595, 842)}, f"not A4: {boxes}"
    audit.assert_clean()


def _media_boxes(pdf: bytes) -> list[bytes]:
    return re.findall(rb"/MediaBox\s*\[\s*([\d.\s]+?)\s*\]", pdf)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_an_organiser_sees_their_own_cups(live_server, browser, viewport):
    context = browser.new_context(viewport=viewport, locale="en-GB")
    try:
        page = context.new_page()
        log_in(page, live_server.base_url, "organiser")
        page.goto(live_server.base_url + "/language/en")
        page.goto(live_server.base_url + "/stock/mine")
        text = page.locator("main").inner_text()
        assert "2,400" in text and "Stored for you in our warehouse" in text
        assert "Wine glass" not in text  # Festivalclub Aalst's cups
        audit = Audit()
        audit.check(page, "stock-mine" if viewport is DESKTOP else "stock-mine-phone-360")
        audit.assert_clean()
        assert page.goto(live_server.base_url + "/stock/").status == 403
    finally:
        context.close()
