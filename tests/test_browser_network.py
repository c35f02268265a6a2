"""The office's network pages in a real browser at 1280×800 on the demo, axe-checked, with
screenshots in tests/artifacts/network-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
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
from tests.network_support import seed_network
from wash_ops.db import unit_of_work

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> Iterator[LiveServer]:
    require_browser()
    server = LiveServer(tmp_path_factory.mktemp("browser-network") / "wash-ops-network.sqlite")
    with unit_of_work(sessionmaker(bind=server.engine, expire_on_commit=False)) as session:
        seed_network(session, server.settings)
    with server:
        yield server


@pytest.fixture(scope="module")
def page(live_server) -> Iterator[Any]:
    with chromium() as browser:
        context = browser.new_context(viewport=DESKTOP, locale="nl-BE")
        context.set_default_timeout(10_000)
        page = context.new_page()
        log_in(page, live_server.base_url, "planner")
        yield page
        context.close()


def _audit(page: Any, name: str) -> None:
    page.wait_for_load_state("load")
    screenshot(page, name)
    violations = axe_violations(page)
    assert not violations, describe(name, page.url, violations)
    assert horizontal_overflow(page) == 0, f"{name}: the page scrolls sideways"


def test_the_planner_finds_the_network_and_its_dead_letters(page, live_server):
    page.get_by_role("link", name="Netwerk").click()
    page.wait_for_url("**/network/")
    assert "GEN/L1" in page.locator("main table").inner_text()
    assert "Actueel" in page.locator("main table").inner_text()
    _audit(page, "network-overview")
    page.get_by_role("link", name="Alle dode berichten").click()
    page.wait_for_url("**/network/dead-letters")
    assert page.locator("main table tbody tr").count() == 5
    page.select_option("#f-reason", "unknown_tag")
    page.get_by_role("button", name="Toon").click()
    page.wait_for_url("**/network/dead-letters?reason=unknown_tag")
    assert page.locator("main table tbody tr").count() == 1
    assert "rocket" in page.locator("main table").inner_text()
    page.goto(live_server.base_url + "/network/dead-letters")
    _audit(page, "network-dead-letters")
