"""The wash batch pages in a real browser at the tablet's 1280×800, against a live server on the
demo database (which has a dirty backlog and two ended batches): the supervisor starts a batch
from the backlog, sees the PLC's counts arrive without reloading, ends it after the
confirmation, and the stock moved. The organiser's order page with its eco figures as well.

Screenshots land in tests/artifacts/washing-*.png."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from tests.browser_support import (
    DESKTOP,
    LiveServer,
    axe_violations,
    chromium,
    describe,
    horizontal_overflow,
    log_in,
    require_browser,
    screenshot,
)
from tests.washing_support import Line1
from wash_ops.catalogue.services import main_line
from wash_ops.db import unit_of_work, utcnow
from wash_ops.inventory.ledger import balances, verify_ledger
from wash_ops.inventory.models import StockState
from wash_ops.orders.models import Order, OrderStatus
from wash_ops.washing.models import BatchStatus, WashBatch

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    require_browser()
    with LiveServer(tmp_path_factory.mktemp("washing") / "demo.sqlite") as server:
        yield server


@pytest.fixture(scope="module")
def browser(live_server) -> Iterator[Any]:
    with chromium() as browser:
        yield browser


def new_page(browser, role: str, base_url: str, locale: str = "nl-BE") -> Any:
    context = browser.new_context(viewport=DESKTOP, locale=locale)
    context.set_default_timeout(10_000)
    page = context.new_page()
    log_in(page, base_url, role)
    return page


def check(page: Any, name: str) -> None:
    screenshot(page, name)
    violations = axe_violations(page)
    assert not violations, describe(name, page.url, violations)
    assert horizontal_overflow(page) == 0, f"{name} scrolls sideways at 1280 px"


def touch_targets_too_small(page: Any) -> list[str]:
    """Buttons in the main area smaller than 48 px high (wet gloves)."""
    return page.evaluate(
        """() => [...document.querySelectorAll('main .button, main button')]
            .filter(b => b.offsetParent !== null && b.getBoundingClientRect().height < 48)
            .map(b => b.textContent.trim())"""
    )


def test_supervisor_starts_a_batch_from_the_backlog_and_ends_it(live_server, browser):
    base = live_server.base_url
    factory = sessionmaker(bind=live_server.engine, expire_on_commit=False)
    page = new_page(browser, "supervisor", base)
    page.click("header nav a[href='/line/batches/']")
    page.wait_for_url(f"{base}/line/batches/")
    rows = page.locator("table.wb-backlog tbody tr")
    assert rows.count() == 5
    first = rows.nth(0)
    assert "Te laat" in first.inner_text()  # late: word, icon and colour
    reference = re.search(r"WO-\d{6}", first.inner_text()).group(0)
    assert page.locator("table.wb-recent tbody tr").count() == 2
    assert touch_targets_too_small(page) == []
    check(page, "washing-backlog")

    with page.expect_navigation():
        first.locator("button[type=submit]").click()
    assert "gestart" in page.locator(".notice-success").inner_text()
    running = page.locator("#running")
    assert reference in running.inner_text()
    assert page.locator("table.wb-backlog button[disabled]").count() == 4
    with unit_of_work(factory) as session:
        batch = session.scalar(select(WashBatch).where(WashBatch.status == BatchStatus.RUNNING))
        assert batch is not None and batch.order.reference == reference
        batch_id, loaded, started = batch.id, batch.cups_loaded, batch.started_at
        settings = live_server.settings
        plc = Line1(session, main_line(session, settings), settings)
        plc.read(started, wash=60.5, rinse=84.0)
        plc.read(utcnow(), wash=60.5, rinse=84.0, cups_washed=loaded - 20, cups_rejected=20)
    # The counts arrive by themselves (the page polls every 2 s), no reload.
    washed = page.locator('[data-live="washed"]')
    expected = f"{loaded - 20:,}".replace(",", ".")
    page.wait_for_function(
        "([el, text]) => el.textContent.trim() === text", arg=[washed.element_handle(), expected]
    )
    assert page.locator('[data-live="left"]').inner_text() == "0"
    assert "Hygiëne in orde" in running.inner_text()
    check(page, "washing-running")

    page.click(f"a[href='/line/batches/{batch_id}/end']")
    page.wait_for_url(f"{base}/line/batches/{batch_id}/end")
    assert "Ja, stop de batch" in page.content()
    assert touch_targets_too_small(page) == []
    check(page, "washing-end-confirm")
    with page.expect_navigation():
        page.click("text=Ja, stop de batch")
    assert page.url == f"{base}/line/batches/{batch_id}"
    assert "Hygiëne geslaagd" in page.inner_text("h1")
    check(page, "washing-batch")

    with unit_of_work(factory) as session:
        batch = session.get_one(WashBatch, batch_id)
        assert batch.status is BatchStatus.ENDED and batch.hygiene_passed is True
        assert (batch.cups_good, batch.cups_broken, batch.cups_unwashed) == (loaded - 20, 20, 0)
        clean_at_line = sum(
            b.quantity
            for b in balances(session, state=StockState.CLEAN_AVAILABLE, location="LINE-L1")
        )
        assert clean_at_line == (loaded - 20) + 3966  # this batch and the demo's passed one
        assert verify_ledger(session) == []
        order = session.scalar(select(Order).where(Order.id == batch.order_id))
        assert order.status in (OrderStatus.WASHING, OrderStatus.WASHED)
    # The stock overview shows the cups at the line's outfeed.
    page.goto(f"{base}/stock/locations/LINE-L1")
    assert f"{loaded - 20 + 3966:,}".replace(",", ".") in page.inner_text("main")
    # The PDF report opens from the batch page.
    response = page.request.get(f"{base}/line/batches/{batch_id}/report.pdf")
    assert response.ok and response.body().startswith(b"%PDF-")
    page.context.close()


def test_organiser_sees_washing_and_eco_figures_on_the_order_page(live_server, browser):
    base = live_server.base_url
    factory = sessionmaker(bind=live_server.engine, expire_on_commit=False)
    with unit_of_work(factory) as session:
        batch = session.scalar(
            select(WashBatch).where(WashBatch.hygiene_passed.is_(True)).order_by(WashBatch.id)
        )
        order_id = batch.order_id
    page = new_page(browser, "organiser", base)
    page.goto(f"{base}/organiser/orders")
    assert "Uw hergebruik tot nu toe" in page.inner_text("main")
    check(page, "washing-organiser-orders")
    page.goto(f"{base}/organiser/orders/{order_id}")
    section = page.locator("section[aria-labelledby=washing-heading]")
    assert "Hergebruikte bekers" in section.inner_text()
    assert "Hygiëne geslaagd" in section.inner_text()
    check(page, "washing-organiser-order")
    response = page.request.get(f"{base}/line/batches/orders/{order_id}/certificate.pdf")
    assert response.ok and response.body().startswith(b"%PDF-")
    page.context.close()


def test_the_english_tablet_reads_the_same(live_server, browser):
    """English is one tap away; the page has no serious axe findings there either."""
    page = new_page(browser, "planner", live_server.base_url, locale="en-GB")
    page.goto(f"{live_server.base_url}/line/batches/")
    page.click("a[lang=en]")
    page.wait_for_load_state()
    assert "Dirty cups waiting" in page.inner_text("main")
    assert page.locator("table.wb-backlog tbody tr").count() >= 4
    check(page, "washing-backlog-en")
    page.context.close()
