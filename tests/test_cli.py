"""The wash-ops command, driven through main(argv) as a user would run it."""

from __future__ import annotations

import json
import sqlite3

from wash_ops_cli import main


def test_check_config_prints_settings_without_secrets(capsys, monkeypatch):
    monkeypatch.setenv("WASH_OPS_SECRET_KEY", "a-very-secret-key-value")
    assert main(["check-config"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["line"]["capacity_per_day"] == 50000
    assert shown["app"]["secret_key"] == "(set)"


def test_bad_configuration_stops_with_the_key_named(capsys, monkeypatch):
    monkeypatch.setenv("WASH_OPS_LINE__CAPACITY_PER_DAY", "zero")
    assert main(["check-config"]) == 2
    assert "line.capacity_per_day" in capsys.readouterr().err


def test_db_upgrade_then_create_user(tmp_path, capsys, monkeypatch):
    url = f"sqlite:///{tmp_path / 'prod.sqlite'}"
    monkeypatch.setenv("WASH_OPS_DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 0
    monkeypatch.setenv("WASH_OPS_NEW_PASSWORD", "a sturdy password")
    assert (
        main(["create-user", "--email", "p@example.test", "--name", "P", "--role", "planner"]) == 0
    )
    assert (
        main(["create-user", "--email", "p@example.test", "--name", "P", "--role", "planner"]) == 2
    )
    with sqlite3.connect(tmp_path / "prod.sqlite") as connection:
        assert connection.execute("select count(*) from cup_types where active").fetchone() == (5,)
        assert connection.execute("select role from users").fetchall() == [("planner",)]


def test_demo_prepares_a_seeded_database_and_prints_logins(tmp_path, capsys):
    database = tmp_path / "demo.sqlite"
    assert main(["demo", "--no-serve", "--database", str(database)]) == 0
    out = capsys.readouterr().out
    for role in ("organiser", "planner", "supervisor", "courier", "admin"):
        assert role in out
    with sqlite3.connect(database) as connection:
        statuses = dict(connection.execute("select status, count(*) from orders group by status"))
        organisations = connection.execute("select count(*) from organisations").fetchone()[0]
    assert organisations == 3
    assert sum(statuses.values()) >= 18
    assert {"draft", "submitted", "confirmed", "cancelled", "rejected"} <= set(statuses)
    assert "line history: the last 14 days up to now backfilled" in out
    with sqlite3.connect(database) as connection:
        day_rollups = connection.execute(
            "select count(distinct bucket), sum(case when tag = 'cups_washed' then total end)"
            " from tag_rollups where resolution = 'day'"
        ).fetchone()
        cursor = connection.execute(
            "select total from counter_cursors where tag = 'cups_washed'"
        ).fetchone()
        open_periods = connection.execute(
            "select count(*) from state_periods where ended_at is null"
        ).fetchone()[0]
        alarms = connection.execute("select count(*) from alarms").fetchone()[0]
    assert day_rollups[0] == 14  # the 14 days before today (today is not complete)
    assert cursor[0] >= day_rollups[1] > 9 * 40_000  # 10 working days, at least
    assert open_periods == 1 and alarms > 14
    assert (
        main(["demo", "--no-serve", "--history-days", "1", "--database", str(database)]) == 0
    )  # made anew each start
    with sqlite3.connect(database) as connection:
        days = connection.execute(
            "select count(*) from tag_rollups where tag = 'energy' and resolution = 'day'"
        ).fetchone()[0]
    assert days == 1


def test_printed_demo_logins_work(tmp_path, capsys):
    import re

    from wash_ops.config import load_settings
    from web import create_app

    database = tmp_path / "demo.sqlite"
    assert main(["demo", "--no-serve", "--history-days", "0", "--database", str(database)]) == 0
    logins = re.findall(r"^\s+(\w+)\s+(\S+@\S+)\s+password: (\S+)$", capsys.readouterr().out, re.M)
    assert {role for role, _, _ in logins} == {
        "organiser",
        "planner",
        "supervisor",
        "courier",
        "admin",
    }
    settings = load_settings(
        environ={}, overrides={"app": {"database_url": f"sqlite:///{database}"}}
    )
    app = create_app({"SETTINGS": settings, "DEMO": True, "WTF_CSRF_ENABLED": False})
    for _role, email, password in logins:
        client = app.test_client()
        response = client.post("/login", data={"email": email, "password": password})
        assert response.status_code == 302, email
        assert client.get(response.headers["Location"]).status_code == 200
