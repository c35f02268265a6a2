"""The supervisor's line screen in headless Chromium at 1280 × 800, against the demo with the line
simulator and the worker running: the figure rises by itself, an alarm comes and is
acknowledged, the network drops and comes back; day and night colours, OEE and throughput pages.

Screenshots land in tests/artifacts/line-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, time
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from plc.simulator import start_simulator
from plc.worker import Worker
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
from tests.plc_support import fast_map, wait_for
from wash_ops.telemetry.models import Alarm
from wash_ops.telemetry.register_map import load_register_map

pytestmark = pytest.mark.browser
JAM = 0b100


@pytest.fixture(scope="module")
def line_demo(tmp_path_factory) -> Iterator[tuple[LiveServer, Any]]:
    require_browser()
    with LiveServer(tmp_path_factory.mktemp("line") / "demo.sqlite") as server:
        settings = server.settings
        register_map = load_register_map(environ={})
        ten_o_clock = datetime.combine(datetime.now(settings.zone).date(), time(10, 0))
        with start_simulator(
            register_map, "127.0.0.1", 0, time_factor=1, start=ten_o_clock
        ) as simulator:
            worker = Worker(
                settings,
                fast_map(register_map, simulator.port),
                sessionmaker(bind=server.engine, expire_on_commit=False),
                host=simulator.host,
                port=simulator.port,
                schedule=False,
            )
            worker.start()
            try:
                yield server, simulator
            finally:
                worker.stop()


@pytest.fixture(scope="module")
def tablet(line_demo) -> Iterator[Any]:
    server, _ = line_demo
    with chromium() as browser:
        context = browser.new_context(viewport=DESKTOP, locale="nl-BE")
        page = context.new_page()
        log_in(page, server.base_url, "supervisor")
        yield page
        context.close()


def figure(page: Any) -> int:
    text = page.inner_text("[data-figure=cups-today]")
    return int(text.replace(".", "").replace(",", "").replace("\u202f", "").strip())


def assert_clean(page: Any, name: str) -> None:
    violations = axe_violations(page)
    assert not violations, describe(name, page.url, violations)
    assert horizontal_overflow(page) <= 0, f"{name} is wider than the tablet"
    screenshot(page, name)


def test_the_figure_rises_without_a_reload(line_demo, tablet):
    server, _ = line_demo
    tablet.goto(f"{server.base_url}/line/")
    tablet.evaluate("() => { window.__sameDocument = true; }")
    wait_for(
        lambda: tablet.get_attribute(".line-screen", "data-updated"),
        timeout=10,
        what="the first live update",
    )
    first = figure(tablet)
    wait_for(lambda: figure(tablet) > first, timeout=15, what="the figure to rise")
    assert tablet.evaluate("() => window.__sameDocument === true"), "the page was reloaded"
    assert "Draait" in tablet.inner_text("#line-state")  # PackML Execute, in Dutch
    size = tablet.eval_on_selector(".huge", "node => parseFloat(getComputedStyle(node).fontSize)")
    assert size >= 64
    assert_clean(tablet, "line-day")


def test_an_alarm_appears_and_is_acknowledged(line_demo, tablet):
    server, simulator = line_demo
    tablet.goto(f"{server.base_url}/line/")
    simulator.simulator.garbage("alarm_word", JAM)
    try:
        button = tablet.wait_for_selector("#line-alarms button.ack", timeout=10_000)
        assert "vastgelopen" in tablet.inner_text("#line-alarms").lower()
        height = button.bounding_box()["height"]
        assert height >= 48, f"the acknowledge button is {height}px high"
        screenshot(tablet, "line-alarm")
        button.click()
        tablet.wait_for_selector("#line-alarms .acked", timeout=10_000)
    finally:
        simulator.simulator.garbage("alarm_word", None)
    factory = sessionmaker(bind=server.engine)
    with factory() as session:
        jam = session.scalar(select(Alarm).where(Alarm.code == "jam"))
        assert jam is not None and jam.acknowledged_at is not None


def test_the_screen_survives_a_network_drop(line_demo, tablet):
    server, _ = line_demo
    tablet.goto(f"{server.base_url}/line/")
    wait_for(lambda: tablet.get_attribute(".line-screen", "data-updated"), timeout=10)
    tablet.context.set_offline(True)
    try:
        tablet.wait_for_selector("#connection:not([hidden])", timeout=10_000)
        assert "Geen verbinding" in tablet.inner_text("#connection")
        screenshot(tablet, "line-offline")
    finally:
        tablet.context.set_offline(False)
    tablet.wait_for_selector("#connection[hidden]", state="attached", timeout=15_000)
    before = tablet.get_attribute(".line-screen", "data-updated")
    wait_for(
        lambda: tablet.get_attribute(".line-screen", "data-updated") != before,
        timeout=10,
        what="updates after the network came back",
    )


def test_night_colours(line_demo, tablet):
    server, _ = line_demo
    tablet.goto(f"{server.base_url}/theme/dark?next=/line/")
    assert tablet.get_attribute("html", "data-theme") == "dark"
    wait_for(lambda: tablet.get_attribute(".line-screen", "data-updated"), timeout=10)
    assert_clean(tablet, "line-night")
    tablet.goto(f"{server.base_url}/theme/light?next=/line/")
    assert tablet.get_attribute("html", "data-theme") == "light"


def test_oee_and_throughput_pages(line_demo, tablet):
    server, _ = line_demo
    tablet.goto(f"{server.base_url}/line/oee")
    assert "OEE" in tablet.inner_text("h1")
    assert_clean(tablet, "line-oee")
    tablet.goto(f"{server.base_url}/line/throughput")
    tablet.wait_for_function(
        "() => window.Chart && Chart.instances && Object.keys(Chart.instances).length === 3"
    )
    assert_clean(tablet, "line-throughput")


def test_the_batch_on_the_line_shows_on_the_screen(line_demo, tablet):
    from wash_ops.accounts.models import Role, User
    from wash_ops.catalogue.services import main_line
    from wash_ops.db import unit_of_work, utcnow
    from wash_ops.washing.services import dirty_backlog, start_batch

    server, _ = line_demo
    tablet.goto(f"{server.base_url}/line/")
    assert "Geen batch op de lijn" in tablet.inner_text("#line-batch")
    factory = sessionmaker(bind=server.engine, expire_on_commit=False)
    with unit_of_work(factory) as session:
        line = main_line(session, server.settings)
        first = dirty_backlog(session, server.settings, line, utcnow())[0]
        supervisor = session.scalar(select(User).where(User.role == Role.SUPERVISOR))
        batch = start_batch(
            session,
            server.settings,
            supervisor,
            line_id=line.id,
            order_id=first.order_id,
            cup_type=first.cup_type.code,
            now=utcnow(),
        )
        number = batch.number
    tablet.wait_for_function(
        "number => document.querySelector('#line-batch').innerText.includes(number)",
        arg=number,
        timeout=10_000,
    )
    screenshot(tablet, "line-batch")
