"""The washing plan in a real browser at 1280×800 on the demo: the supervisor's tablet page and
the planner's office page, axe-checked, with screenshots in tests/artifacts/washing-plan-*.png.

On top of the demo (its dirty backlog, one order past its deadline) the server's own database
gets a week of day roll-ups of the washing counter, today's count so far, and one large order
that no two days can hold, so that the plan shows a day over capacity as well."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tests.browser_support import (
    DESKTOP,
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
from tests.conftest import event_input, order_input
from wash_ops.accounts.models import User
from wash_ops.catalogue.services import main_line
from wash_ops.config import Settings
from wash_ops.db import unit_of_work, utcnow
from wash_ops.orders.models import OrderStatus
from wash_ops.orders.services import create_event, create_order
from wash_ops.telemetry.models import CounterCursor, Resolution, TagRollup
from wash_ops.telemetry.rollups import bucket_start

pytestmark = pytest.mark.browser
WASHED_PER_DAY = [41_200, 0, 0, 38_900, 47_500, 44_100, 12_300]  # oldest first


def _add_history_and_an_overload(session: Session, settings: Settings) -> int:
    """Returns the id of the order that cannot be washed in time."""
    line = main_line(session, settings)
    zone = settings.zone
    today = utcnow().astimezone(zone).date()
    for back, washed in zip(range(7, 0, -1), WASHED_PER_DAY, strict=True):
        day = today - timedelta(days=back)
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=zone)
        session.add(
            TagRollup(
                line_id=line.id,
                tag="cups_washed",
                resolution=Resolution.DAY,
                bucket=bucket_start(noon, Resolution.DAY, zone),
                count=24,
                total=washed,
                minimum=0,
                maximum=washed,
                last=0,
            )
        )
    session.add(
        CounterCursor(
            line_id=line.id,
            tag="cups_washed",
            raw=9_999,
            at=utcnow(),
            total=9_999,
            day=today,
            day_total=9_870,
        )
    )
    organiser = session.scalar(select(User).where(User.email == demo_email("organiser")))
    assert organiser is not None
    event = create_event(
        session,
        settings,
        organiser.organisation,
        event_input(settings, days=20, name="Stadsfeest Gent"),
        utcnow(),
    )
    order = create_order(
        session,
        settings,
        organiser,
        event,
        order_input(event, {"ECO33": 70_000, "ECO25": 40_000}),
        utcnow(),
    )
    # Booked as if confirmed before the line's other work came in: due in three days.
    order.status = OrderStatus.CONFIRMED
    order.wash_release_on, order.wash_due_on = today + timedelta(days=2), today + timedelta(days=3)
    session.flush()
    return order.id


class PlanServer(LiveServer):
    overload_id: int


@pytest.fixture(scope="module")
def live_server(tmp_path_factory) -> Iterator[PlanServer]:
    require_browser()  # skip before seeding a database nobody will look at
    server = PlanServer(tmp_path_factory.mktemp("browser-plan") / "wash-ops-plan.sqlite")
    with unit_of_work(sessionmaker(bind=server.engine, expire_on_commit=False)) as session:
        server.overload_id = _add_history_and_an_overload(session, server.settings)
    with server:
        yield server


@pytest.fixture(scope="module")
def browser(live_server) -> Iterator[Any]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def page_as(browser, live_server) -> Iterator[Any]:
    contexts = []

    def make(role: str, locale: str = "nl-BE") -> Any:
        context = browser.new_context(viewport=DESKTOP, locale=locale)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        log_in(page, live_server.base_url, role)
        return page

    yield make
    for context in contexts:
        context.close()


def _audit(page: Any, name: str) -> None:
    page.wait_for_load_state("load")
    screenshot(page, name)
    violations = axe_violations(page)
    assert not violations, describe(name, page.url, violations)
    assert horizontal_overflow(page) == 0, f"{name}: the page scrolls sideways"


def test_the_supervisor_reads_the_plan_on_the_tablet(page_as, live_server):
    page = page_as("supervisor")
    page.get_by_role("link", name="Wasplanning").click()
    page.wait_for_url("**/line/plan")
    assert page.locator("main h1").inner_text().strip().endswith("Wasplanning")
    # The demo's dirty backlog is planned on the first day the line washes (today, unless the
    # tests run on a weekend or a holiday); its older order is past its deadline.
    first_open = page.locator("table.plan-days tbody tr:not(.closed)").first
    assert "hier" in first_open.inner_text()
    late = page.locator("section.late-orders")
    assert late.is_visible()
    assert "Vrijdagmarkt" not in late.inner_text()  # the organisation is named, not the event
    assert "Gentse Feesten vzw" in late.inner_text() and "De deadline was" in late.inner_text()
    # The overload: a red row with an icon and words, not colour alone.
    over = page.locator("table.plan-days tbody tr.over")
    assert over.count() >= 1
    assert "Boven de capaciteit" in over.first.inner_text()
    # No office links on the tablet for a supervisor.
    assert page.locator("main a[href^='/office/']").count() == 0
    # Touch targets: the period control and the top bar's links are at least 48 px high.
    for locator in (page.locator("#days"), page.locator(".plan-period button")):
        assert locator.bounding_box()["height"] >= 48
    for link in page.locator(".topbar nav a").all():
        assert link.bounding_box()["height"] >= 48
    # The week behind: washed per day from the roll-ups, today's count so far.
    history = page.locator("table.plan-history tbody tr")
    assert history.count() == 8
    assert "9.870" in history.last.inner_text()
    _audit(page, "washing-plan-tablet")


def test_the_planner_sees_the_plan_with_links_to_the_orders(page_as, live_server):
    page = page_as("planner", locale="en-GB")
    page.goto(live_server.base_url + "/language/en")
    page.get_by_role("link", name="Washing plan").click()
    page.wait_for_url("**/office/washing-plan")
    late = page.locator("section.late-orders")
    assert late.locator(f"a[href='/office/orders/{live_server.overload_id}']").count() == 1
    assert "of 110,000 cups late." in late.inner_text()
    page.select_option("#days", "28")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**/office/washing-plan?days=28")
    assert page.locator("table.plan-days tbody tr").count() == 28
    _audit(page, "washing-plan-office")
    with page.expect_navigation():
        late.locator(f"a[href='/office/orders/{live_server.overload_id}']").click()
    assert f"/office/orders/{live_server.overload_id}" in page.url
