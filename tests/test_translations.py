"""Dutch first, English selectable, and a Dutch catalogue that covers every message."""

from __future__ import annotations

import subprocess
import sys

from babel.messages.pofile import read_po

from tests.conftest import ROOT, login
from wash_ops.accounts.models import Role

CATALOGUE = ROOT / "web" / "translations" / "nl" / "LC_MESSAGES" / "messages.po"


def _ids(path) -> set[str]:
    with open(path, "rb") as handle:
        return {message.id for message in read_po(handle) if message.id}


def test_dutch_catalogue_translates_every_message_in_the_code(tmp_path):
    template = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            str(ROOT / "babel.cfg"),
            "-k",
            "_l",
            "-k",
            "N_",
            "-o",
            str(template),
            str(ROOT),
        ],
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    missing = _ids(template) - _ids(CATALOGUE)
    assert missing == set(), "run `make messages` and translate these"
    with open(CATALOGUE, "rb") as handle:
        catalog = read_po(handle)
    untranslated = [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]
    assert untranslated == []


def test_pages_are_dutch_by_default_and_english_on_request(client, make_user):
    assert "Aanmelden" in client.get("/login").get_data(as_text=True)
    client.get("/language/en")
    assert "Log in" in client.get("/login").get_data(as_text=True)
    client.get("/language/xx")
    assert "Log in" in client.get("/login").get_data(as_text=True)


def test_service_errors_are_translated(client, make_user, make_order):
    organiser = make_user(Role.ORGANISER)
    login(client, organiser)
    other = make_order(make_user(Role.ORGANISER))
    page = client.get(f"/organiser/orders/{other.id}").get_data(as_text=True)
    assert "Deze bestelling bestaat niet." in page
