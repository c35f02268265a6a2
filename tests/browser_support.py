"""Helpers for the browser tests: a live server on its own demo database, Debian's Chromium
through Playwright, axe-core injected into each page, and screenshots to look at."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.serving import BaseWSGIServer, make_server

from tests.conftest import ROOT, event_input, order_input, unavailable
from wash_ops.accounts.models import User
from wash_ops.config import Settings, load_settings
from wash_ops.db import make_engine, unit_of_work, utcnow
from wash_ops.demo import DEMO_PASSWORD, seed_demo
from wash_ops.migrate import upgrade
from wash_ops.orders.services import confirm_order, create_event, create_order, submit_order
from web import create_app

AXE_PATH = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
BLOCKING_IMPACTS = ("serious", "critical")
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}


def demo_email(role: str) -> str:
    return f"{role}@wash-ops.test"


class LiveServer:
    """The app served by werkzeug in a background thread, on a fresh SQLite demo database."""

    def __init__(self, database_path: Path) -> None:
        self.url = f"sqlite:///{database_path}"
        self.settings = load_settings(environ={}, overrides={"app": {"database_url": self.url}})
        upgrade(self.url)
        self.engine = make_engine(self.url)
        factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        with unit_of_work(factory) as session:
            seed_demo(session, self.settings, utcnow())
            _add_trip_for_today(session, self.settings)
        # The app gets a factory over our engine, so the test can dispose of it at the end.
        app = create_app({"SETTINGS": self.settings, "TESTING": True, "SESSION_FACTORY": factory})
        # Port 0: the system picks a free port. Request threads are joined on close.
        self.server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
        self.server.daemon_threads = False  # type: ignore[attr-defined]
        self.base_url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="wash-ops-live-server", daemon=True
        )

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive(), "the live server thread did not stop"
        handlers = [t.name for t in threading.enumerate() if "process_request" in t.name]
        assert not handlers, f"request threads outlived the server: {handlers}"
        self.engine.dispose()


def _add_trip_for_today(session: Session, settings: Settings) -> None:
    """The demo's events start days ahead; one confirmed order placed earlier gives the courier
    a delivery today (event tomorrow at 14:00), so the trips page shows a real trip."""
    earlier = utcnow() - timedelta(days=10)
    organiser = session.scalar(select(User).where(User.email == demo_email("organiser")))
    planner = session.scalar(select(User).where(User.email == demo_email("planner")))
    assert organiser is not None and planner is not None
    data = event_input(settings, days=1, name="Markt op de Kouter")
    event = create_event(session, settings, organiser.organisation, data, earlier)
    order = create_order(
        session, settings, organiser, event, order_input(event, {"ECO33": 2400}), earlier
    )
    submit_order(session, settings, organiser, order, earlier)
    confirm_order(session, settings, planner, order, earlier)


def require_browser() -> str:
    """Chromium's path, once Chromium, Playwright and axe-core are all there; skips (or fails
    when WASH_OPS_REQUIRE_SERVICES=1) otherwise."""
    executable = shutil.which("chromium")
    if executable is None:
        unavailable("Chromium is not installed (apt-get install chromium)")
    if not AXE_PATH.exists():
        unavailable(f"axe-core is missing at {AXE_PATH} (run `make browser-deps`)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as error:
        unavailable(f"Playwright is not installed: {error}")
    return executable


@contextmanager
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright (never Playwright's own download)."""
    executable = require_browser()
    from playwright.sync_api import sync_playwright

    manager = sync_playwright()
    playwright = manager.start()
    try:
        try:
            browser = playwright.chromium.launch(
                executable_path=executable, headless=True, args=CHROMIUM_ARGS
            )
        except Exception as error:  # noqa: BLE001 - any launch failure means "unavailable"
            unavailable(f"Chromium does not start through Playwright: {error}")
        try:
            yield browser
        finally:
            browser.close()
    finally:
        manager.__exit__(None, None, None)


def log_in(page: Any, base_url: str, role: str) -> None:
    """Log in through the real form (CSRF token and all) and land on the role's home page."""
    page.goto(f"{base_url}/login")
    page.fill("input[name=email]", demo_email(role))
    page.fill("input[name=password]", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "/login" not in page.url, f"{role} could not log in: still on {page.url}"


def screenshot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations of impact serious or critical on the current page."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_PATH))
    result = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    return [v for v in result["violations"] if v.get("impact") in BLOCKING_IMPACTS]


def describe(name: str, url: str, violations: list[dict[str, Any]]) -> str:
    lines = [f"{name} ({url}): {len(violations)} serious/critical axe violation(s)"]
    for violation in violations:
        lines.append(
            f"  [{violation['impact']}] {violation['id']}: {violation['help']} "
            f"({violation['helpUrl']})"
        )
        for node in violation["nodes"][:5]:
            lines.append(f"      at {', '.join(map(str, node['target']))}: {node['html'][:160]}")
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            if summary:
                lines.append(f"         {summary[:300]}")
        if len(violation["nodes"]) > 5:
            lines.append(f"      … and {len(violation['nodes']) - 5} more")
    return "\n".join(lines)


def horizontal_overflow(page: Any) -> int:
    """How many CSS pixels the page is wider than the viewport (0 when it fits)."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def scrolling_tables(page: Any) -> list[str]:
    """Tables wider than their scroll box: fine on a phone, a problem on a desktop screen."""
    return page.evaluate(
        """() => [...document.querySelectorAll('.table-wrap')]
            .filter(wrap => wrap.scrollWidth > wrap.clientWidth + 1)
            .map(wrap => `${wrap.querySelector('thead')?.innerText.replace(/\\s+/g, ' ')}`
                + ` (${wrap.scrollWidth}px in ${wrap.clientWidth}px)`)"""
    )
