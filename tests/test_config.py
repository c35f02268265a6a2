from __future__ import annotations

import pytest

from wash_ops.config import ConfigError, load_settings
from web import create_app


def test_defaults_describe_the_gentbrugge_line():
    settings = load_settings(environ={})
    assert settings.site.name == "Gentbrugge"
    assert settings.site.timezone == "Europe/Brussels"
    assert settings.line.capacity_per_day == 50_000
    assert len(settings.cup_types) == 5
    assert settings.orders.turnaround_hours > 0


def test_environment_overrides_a_nested_key():
    settings = load_settings(environ={"WASH_OPS_LINE__CAPACITY_PER_DAY": "40000"})
    assert settings.line.capacity_per_day == 40_000


def test_short_environment_names_for_secret_and_database():
    settings = load_settings(
        environ={"WASH_OPS_SECRET_KEY": "s" * 32, "WASH_OPS_DATABASE_URL": "sqlite:///x.db"}
    )
    assert settings.app.secret_key == "s" * 32
    assert settings.app.database_url == "sqlite:///x.db"


def test_config_file_overrides_defaults(tmp_path):
    extra = tmp_path / "site.toml"
    extra.write_text("[line]\ncapacity_per_day = 30000\nworking_days = [1, 2, 3, 4, 5, 6]\n")
    settings = load_settings(environ={"WASH_OPS_CONFIG": str(extra)})
    assert settings.line.capacity_per_day == 30_000
    assert settings.line.working_days == (1, 2, 3, 4, 5, 6)
    assert settings.line.shift_start.hour == 6


@pytest.mark.parametrize(
    ("environ", "key"),
    [
        ({"WASH_OPS_LINE__CAPACITY_PER_DAY": "-5"}, "line.capacity_per_day"),
        ({"WASH_OPS_LINE__CAPACITY_PER_DAY": "lots"}, "line.capacity_per_day"),
        ({"WASH_OPS_SITE__TIMEZONE": "Europe/Gentbrugge"}, "site.timezone"),
        ({"WASH_OPS_LINE__WORKING_DAYS": "[0, 8]"}, "line.working_days"),
        ({"WASH_OPS_LINE__SHIFT_END": "05:00"}, "line"),
        ({"WASH_OPS_LINE__SPEED": "3"}, "line.speed"),
        ({"WASH_OPS_SECRET_KEY": "short"}, "app.secret_key"),
        ({"WASH_OPS_ORDERS__TURNAROUND_HOURS": "0"}, "orders.turnaround_hours"),
        ({"WASH_OPS_CAPACITY": "1"}, "WASH_OPS_CAPACITY"),
    ],
)
def test_bad_values_stop_with_the_key_named(environ, key):
    with pytest.raises(ConfigError) as caught:
        load_settings(environ=environ)
    assert key in str(caught.value)


def test_duplicate_cup_codes_are_refused(tmp_path):
    extra = tmp_path / "cups.toml"
    cup = (
        '[[cup_types]]\ncode = "ECO33"\nname_nl = "a"\nname_en = "a"\nvolume_ml = 330\n'
        "cups_per_crate = 80\nwash_price_cents = 1\nrent_price_cents = 1\nloss_price_cents = 1\n"
    )
    extra.write_text(cup + cup)
    with pytest.raises(ConfigError, match="duplicate cup type code"):
        load_settings(environ={"WASH_OPS_CONFIG": str(extra)})


def test_unreadable_config_file_is_named(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("[line\ncapacity = ")
    with pytest.raises(ConfigError, match="broken.toml"):
        load_settings(environ={"WASH_OPS_CONFIG": str(broken)})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(environ={"WASH_OPS_CONFIG": str(tmp_path / "missing.toml")})


def test_app_refuses_to_start_without_a_secret_key_outside_tests_and_demo():
    settings = load_settings(environ={"WASH_OPS_DATABASE_URL": "sqlite://"})
    with pytest.raises(ConfigError, match="WASH_OPS_SECRET_KEY"):
        create_app({"SETTINGS": settings})
    assert create_app({"SETTINGS": settings, "DEMO": True}).secret_key


def test_configured_secret_key_is_used():
    settings = load_settings(
        environ={"WASH_OPS_SECRET_KEY": "k" * 40, "WASH_OPS_DATABASE_URL": "sqlite://"}
    )
    assert create_app({"SETTINGS": settings}).secret_key == "k" * 40
