"""The office's network pages: publishers with their freshness, dead letters with reasons."""

from __future__ import annotations

import re

import pytest

from tests.conftest import login
from tests.network_support import seed_network
from wash_ops.accounts.models import Role


@pytest.fixture
def office(client, make_user):
    assert login(client, make_user(Role.PLANNER)).status_code == 302
    client.get("/language/en")
    return client


def test_seeding_stores_good_messages_once_and_keeps_the_bad_ones(db, settings):
    result = seed_network(db, settings)
    assert (result.stored, result.duplicates, result.dead_total) == (3, 1, 5)
    assert result.dead == {
        "bad_json": 1,
        "unknown_tag": 1,
        "out_of_range": 1,
        "unknown_source": 1,
        "bad_sparkplug": 1,
    }


def test_the_network_page_lists_the_sources_and_dead_letter_counts(office, db, settings):
    seed_network(db, settings)
    page = office.get("/network/").get_data(as_text=True)
    assert "GEN/L1" in page and "Live" in page  # heard just now
    assert "Not valid JSON" in page and "Unknown tag" in page
    assert 'href="/network/dead-letters?reason=out_of_range"' in page


def test_dead_letters_are_listed_and_filtered_by_reason(office, db, settings):
    seed_network(db, settings)
    page = office.get("/network/dead-letters").get_data(as_text=True)
    assert page.count("<tr>") == 1 + 5
    assert "{not json" in page and "\\xff\\x00\\x01binary" in page
    only = office.get("/network/dead-letters?reason=unknown_tag").get_data(as_text=True)
    assert only.count("<tr>") == 2 and "rocket" in only


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("reason=nonsense", "Unknown reason: nonsense."),
        ("before=abc", "must be the number of a dead letter"),
        ("before=-1", "must be the number of a dead letter"),
    ],
)
def test_bad_filters_are_a_clear_400(office, db, settings, query, message):
    seed_network(db, settings)
    response = office.get(f"/network/dead-letters?{query}")
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.ORGANISER, Role.COURIER, Role.SUPERVISOR])
def test_only_the_office_sees_the_network(client, make_user, role):
    assert login(client, make_user(role)).status_code == 302
    for path in ("/network/", "/network/dead-letters"):
        assert client.get(path).status_code == 403


def test_the_network_pages_ask_to_log_in(client):
    response = client.get("/network/dead-letters")
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]


def test_old_dead_letters_are_pruned_and_the_network_lines_are_known(db, settings):
    from datetime import timedelta

    from sqlalchemy import func, select

    from wash_ops.db import utcnow
    from wash_ops.network.models import DeadLetter
    from wash_ops.network.services import network_line_ids, prune_dead_letters

    seed_network(db, settings)
    assert prune_dead_letters(db, utcnow() - timedelta(days=1)) == 0
    assert prune_dead_letters(db, utcnow() + timedelta(seconds=1)) == 5
    assert db.scalar(select(func.count()).select_from(DeadLetter)) == 0
    assert len(network_line_ids(db, settings)) == 1


def test_dead_letters_come_a_hundred_a_page(office, db, settings):
    from wash_ops.db import utcnow
    from wash_ops.network.services import Incoming, NetworkIngest
    from wash_ops.telemetry.register_map import load_register_map

    now = utcnow()
    bad = [Incoming("wash-ops/GEN/L1/telemetry", b"no %d" % i, now) for i in range(105)]
    NetworkIngest(settings, load_register_map(environ={})).store(db, bad)
    first = office.get("/network/dead-letters").get_data(as_text=True)
    assert first.count("<tr>") == 1 + 100 and "no 104" in first and "no 4<" not in first
    older = re.search(r'href="(/network/dead-letters\?before=\d+)"', first).group(1)
    second = office.get(older).get_data(as_text=True)
    assert second.count("<tr>") == 1 + 5 and "no 4<" in second and "no 0<" in second
