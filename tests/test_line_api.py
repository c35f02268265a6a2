"""/api/v1/line: the line's status and series for staff tokens."""

from __future__ import annotations

from datetime import timedelta

import pytest

from wash_ops.accounts.models import Role
from wash_ops.accounts.services import issue_api_token
from wash_ops.catalogue.services import main_line
from wash_ops.db import utcnow
from wash_ops.telemetry.ingest import Quality, Reading, ingest
from wash_ops.telemetry.register_map import load_register_map
from wash_ops.telemetry.rollups import roll_up


@pytest.fixture
def staff_headers(db, make_user):
    plain, _ = issue_api_token(db, make_user(Role.SUPERVISOR), "hall display")
    return {"Authorization": f"Bearer {plain}"}


@pytest.fixture
def fed(db, settings):
    register_map = load_register_map(environ={})
    line = main_line(db, settings)
    start = utcnow() - timedelta(minutes=30)
    for second in range(0, 30 * 60, 5):
        values = {
            "state": 6,
            "heartbeat": second,
            "alarm_word": 0b100 if second > 1700 else 0,
            "speed": 3400,
            "rinse_temperature": 84.0,
            "cups_washed": 10_000 + second,
            "cups_rejected": second // 100,
        }
        reading = Reading(at=start + timedelta(seconds=second), quality=Quality.GOOD, values=values)
        ingest(db, line, register_map, reading, settings.zone, timedelta(seconds=10))
    roll_up(db, line.id, utcnow(), settings.zone)
    return start


def test_status(client, staff_headers, fed):
    body = client.get("/api/v1/line/status", headers=staff_headers).get_json()
    assert body["capacity_per_day"] == 50000
    status = body["status"]
    assert status["state_name"] == "execute" and status["stale"] is False
    assert status["counters_today"]["cups_washed"] >= 1795 - 5
    assert status["values"]["rinse_temperature"] == 84.0
    assert [alarm["code"] for alarm in status["alarms"]] == ["jam"]


def test_series_and_bad_queries(client, staff_headers, fed):
    query = {
        "tag": "cups_washed",
        "start": fed.isoformat(),
        "end": (fed + timedelta(minutes=30)).isoformat(),
    }
    body = client.get(
        "/api/v1/line/series", headers=staff_headers, query_string={**query, "resolution": "raw"}
    ).get_json()
    assert body["resolution"] == "raw" and body["unit"] == "cups"
    assert sum(point["value"] for point in body["points"]) == 30 * 60 - 5
    minute = client.get(
        "/api/v1/line/series", headers=staff_headers, query_string={**query, "resolution": "minute"}
    ).get_json()
    assert minute["resolution"] == "minute" and len(minute["points"]) >= 29
    bad = client.get(
        "/api/v1/line/series", headers=staff_headers, query_string={**query, "tag": "nope"}
    )
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "tag"
    backwards = {**query, "end": query["start"], "start": query["end"]}
    assert (
        client.get("/api/v1/line/series", headers=staff_headers, query_string=backwards).status_code
        == 422
    )


def test_organiser_tokens_get_403(client, db, make_user):
    plain, _ = issue_api_token(db, make_user(Role.ORGANISER), "ticketing")
    response = client.get("/api/v1/line/status", headers={"Authorization": f"Bearer {plain}"})
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"


def test_acknowledge_through_the_api(client, staff_headers, fed):
    status = client.get("/api/v1/line/status", headers=staff_headers).get_json()["status"]
    alarm_id = status["alarms"][0]["id"]
    acked = client.post(f"/api/v1/line/alarms/{alarm_id}/acknowledge", headers=staff_headers)
    assert acked.status_code == 200 and acked.get_json()["isa_state"] == "active_acknowledged"
    again = client.post(f"/api/v1/line/alarms/{alarm_id}/acknowledge", headers=staff_headers)
    assert again.status_code == 409


def test_line_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/api/v1/line/status", "/api/v1/line/series"} <= set(paths)
