"""Settings: config/default.toml, then the file in WASH_OPS_CONFIG, then WASH_OPS_* variables.

Environment variables name a key as ``WASH_OPS_<SECTION>__<KEY>``, for example
``WASH_OPS_LINE__CAPACITY_PER_DAY``; ``WASH_OPS_SECRET_KEY`` and ``WASH_OPS_DATABASE_URL``
are short forms for the ``app`` section.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent.parent / "config" / "default.toml"
ENV_PREFIX = "WASH_OPS_"
SHORT_ENV_KEYS = {"SECRET_KEY": ("app", "secret_key"), "DATABASE_URL": ("app", "database_url")}
NOT_CONFIG_ENV_KEYS = {
    "CONFIG",
    "TEST_DATABASE_URL",
    "TEST_MQTT_URL",
    "REQUIRE_SERVICES",
    "NEW_PASSWORD",
    "REGISTER_MAP",
}


class ConfigError(Exception):
    """Configuration that cannot be used; the message names the key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppSettings(_Section):
    secret_key: str | None = None
    database_url: str = "sqlite:///instance/wash-ops.sqlite"
    default_locale: Literal["nl", "en"] = "nl"
    locales: tuple[Literal["nl", "en"], ...] = ("nl", "en")
    login_rate_limit: str = "10 per minute"
    ratelimit_storage_uri: str = "memory://"

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: str | None) -> str | None:
        if value is not None and len(value) < 16:
            raise ValueError("must be at least 16 characters")
        return value


class SiteSettings(_Section):
    code: str = Field(min_length=1, max_length=16)
    name: str = Field(min_length=1)
    address: str = ""
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    timezone: str
    service_radius_km: float = Field(gt=0, le=1000)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class ShiftSettings(_Section):
    code: str = Field(pattern=r"^[a-z0-9_-]{1,16}$")
    name_nl: str = Field(min_length=1, max_length=40)
    name_en: str = Field(min_length=1, max_length=40)
    start: time
    end: time


class LineSettings(_Section):
    code: str = Field(min_length=1, max_length=16)
    name: str = Field(min_length=1)
    capacity_per_day: int = Field(gt=0, le=10_000_000)
    working_days: tuple[int, ...] = (1, 2, 3, 4, 5)
    shift_start: time
    shift_end: time
    closed_dates: tuple[date, ...] = ()
    # The machine's nameplate speed: the ideal cycle time of OEE's performance factor.
    rated_cups_per_hour: int = Field(default=3600, gt=0, le=1_000_000)
    # Crews within the line's hours, for OEE and the shift report; none: one shift, the whole day.
    shifts: tuple[ShiftSettings, ...] = ()
    # The detergent level (%) under which the line screen shows it as low.
    detergent_low_pct: float = Field(default=15.0, ge=0, le=100)

    @field_validator("working_days")
    @classmethod
    def _iso_weekdays(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(day < 1 or day > 7 for day in value):
            raise ValueError("must list ISO weekdays from 1 (Monday) to 7 (Sunday)")
        return tuple(sorted(set(value)))

    @model_validator(mode="after")
    def _shift_order(self) -> LineSettings:
        if self.shift_end <= self.shift_start:
            raise ValueError("shift_end must be after shift_start")
        previous_end = self.shift_start
        for shift in sorted(self.shifts, key=lambda shift: shift.start):
            if shift.end <= shift.start:
                raise ValueError(f"shift {shift.code!r} must end after it starts")
            if shift.start < previous_end or shift.end > self.shift_end:
                raise ValueError(
                    f"shift {shift.code!r} must lie within shift_start..shift_end "
                    "and not overlap another shift"
                )
            previous_end = shift.end
        return self

    @property
    def crews(self) -> tuple[ShiftSettings, ...]:
        """The configured shifts in order, or one shift spanning the line's hours."""
        if self.shifts:
            return tuple(sorted(self.shifts, key=lambda shift: shift.start))
        return (
            ShiftSettings(
                code="day", name_nl="Dag", name_en="Day", start=self.shift_start, end=self.shift_end
            ),
        )


class OrderSettings(_Section):
    turnaround_hours: int = Field(gt=0, le=24 * 60)
    max_quantity_per_line: int = Field(gt=0, le=100_000_000)
    horizon_days: int = Field(gt=6, le=3 * 366)


class TelemetrySettings(_Section):
    stale_after_s: float = Field(default=10.0, gt=0, le=3600)
    raw_retention_days: int = Field(default=14, ge=1, le=3660)
    rollup_interval_s: int = Field(default=60, ge=5, le=3600)


class HygieneSettings(_Section):
    """Limits a wash batch is held to; a batch outside them goes to quarantine, not to clean stock."""

    wash_tag: str = "wash_temperature"
    rinse_tag: str = "rinse_temperature"
    wash_min_c: float = Field(default=55.0, ge=0, le=100)
    rinse_min_c: float = Field(default=82.0, ge=0, le=100)
    max_seconds_below: int = Field(default=60, ge=0, le=24 * 3600)


class MqttLineSettings(_Section):
    """A line of the network as its publisher names it in topics, and the local line it feeds."""

    site: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    line: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    line_code: str = Field(min_length=1, max_length=16)


class SparkplugMetricSettings(_Section):
    """A Sparkplug metric name and the register-map tag it feeds."""

    metric: str = Field(min_length=1, max_length=200)
    tag: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")


class SparkplugNodeSettings(_Section):
    """A Sparkplug edge node (optionally one device of it) and the local line it feeds."""

    group: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    node: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    device: str = Field(default="", pattern=r"^[A-Za-z0-9_-]{0,64}$")
    line_code: str = Field(min_length=1, max_length=16)


class MqttSettings(_Section):
    """The MQTT broker, the topics, and how topics map onto the lines of the network."""

    enabled: bool = False
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=1883, ge=1, le=65535)
    tls: bool = False
    ca_file: str = ""
    # User and password come from WASH_OPS_MQTT__USERNAME / WASH_OPS_MQTT__PASSWORD.
    username: str = ""
    password: str = ""
    client_id: str = Field(default="wash-ops-bridge", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    topic_root: str = Field(default="wash-ops", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    session_expiry_s: int = Field(default=86_400, ge=60, le=30 * 86_400)
    reconnect_min_s: float = Field(default=0.2, gt=0, le=60)
    reconnect_max_s: float = Field(default=30.0, gt=0, le=3600)
    max_payload_bytes: int = Field(default=65_536, ge=256, le=16 * 1024 * 1024)
    # Unacknowledged QoS 1 messages the broker may have in flight to the bridge.
    receive_maximum: int = Field(default=1000, ge=1, le=65_535)
    queue_size: int = Field(default=20_000, ge=10, le=10_000_000)
    batch_size: int = Field(default=2000, ge=1, le=100_000)
    # Store in a process of its own (beside paho's network thread rather than under its GIL);
    # false: in a thread of the bridge's process (the embedded demo).
    store_process: bool = True
    dead_letter_excerpt_bytes: int = Field(default=512, ge=16, le=65_536)
    # The bridge publishes each line's KPIs (retained) this often.
    kpi_interval_s: float = Field(default=10.0, ge=0.1, le=3600)
    lines: tuple[MqttLineSettings, ...] = ()
    sparkplug_group: str = Field(default="wash-it", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    # The bridge is a Sparkplug host application: its STATE goes on spBv1.0/STATE/<host id>.
    sparkplug_host_id: str = Field(default="wash-ops", pattern=r"^[A-Za-z0-9_-]{1,64}$")
    # Edge mode, Sparkplug: send only while this primary host's STATE says online ("": always).
    sparkplug_primary_host: str = Field(default="", pattern=r"^[A-Za-z0-9_-]{0,64}$")
    sparkplug_nodes: tuple[SparkplugNodeSettings, ...] = ()
    sparkplug_metrics: tuple[SparkplugMetricSettings, ...] = ()
    # Edge mode (`wash-ops worker --publish`): the format and the local store-and-forward buffer.
    publish_format: Literal["json", "sparkplug"] = "json"
    buffer_path: str = "instance/mqtt-buffer.sqlite"
    buffer_max_readings: int = Field(default=1_000_000, ge=100, le=100_000_000)
    publish_window: int = Field(default=500, ge=1, le=60_000)

    @model_validator(mode="after")
    def _consistent(self) -> MqttSettings:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be at least reconnect_min_s")
        if self.queue_size <= self.receive_maximum:
            raise ValueError(
                "queue_size must be larger than receive_maximum "
                "(the broker may send that many messages before the bridge acknowledges one)"
            )
        if bool(self.username) != bool(self.password):
            raise ValueError("username and password go together")
        pairs = [(entry.site, entry.line) for entry in self.lines]
        for pair in pairs:
            if pairs.count(pair) > 1:
                raise ValueError(f"lines: {pair[0]}/{pair[1]} is mapped twice")
        metrics = [entry.metric for entry in self.sparkplug_metrics]
        for metric in metrics:
            if metrics.count(metric) > 1:
                raise ValueError(f"sparkplug_metrics: {metric!r} is mapped twice")
        return self


class CupTypeSettings(_Section):
    code: str = Field(pattern=r"^[A-Z0-9_-]{2,16}$")
    name_nl: str = Field(min_length=1, max_length=80)
    name_en: str = Field(min_length=1, max_length=80)
    volume_ml: int = Field(gt=0, le=5000)
    cups_per_crate: int = Field(gt=0, le=10_000)
    wash_price_cents: int = Field(ge=0)
    rent_price_cents: int = Field(ge=0)
    loss_price_cents: int = Field(ge=0)


class RoutingSettings(_Section):
    """Courier route planning: service times, the travel matrix and the solver."""

    service_base_s: int = Field(default=300, ge=0, le=4 * 3600)
    service_per_crate_s: int = Field(default=20, ge=0, le=3600)
    detour_factor: float = Field(default=1.3, ge=1.0, le=3.0)
    time_limit_s: float = Field(default=5.0, gt=0, le=600)
    # A routing server's table API (OSRM), e.g. "http://osrm.internal:5000"; empty: offline only.
    osrm_url: str = ""
    osrm_timeout_s: float = Field(default=3.0, gt=0, le=60)
    # The worker plans tomorrow's routes at this local hour (minute 0); -1 switches it off.
    plan_hour: int = Field(default=17, ge=-1, le=23)


class VehicleSettings(_Section):
    code: str = Field(pattern=r"^[A-Z0-9_-]{2,16}$")
    name: str = Field(min_length=1, max_length=80)
    capacity_crates: int = Field(ge=0, le=10_000)
    speed_kmh: float = Field(gt=0, le=130)
    shift_start: time
    shift_end: time
    max_distance_km: float | None = Field(default=None, gt=0, le=2000)
    cost_per_km_cents: int = Field(default=0, ge=0, le=100_000)
    cost_per_hour_cents: int = Field(default=0, ge=0, le=1_000_000)
    # Trips back to the depot to reload within one shift (0: a single trip).
    max_reloads: int = Field(default=0, ge=0, le=20)
    courier_email: str = ""

    @model_validator(mode="after")
    def _shift_order(self) -> VehicleSettings:
        if self.shift_end <= self.shift_start:
            raise ValueError("shift_end must be after shift_start")
        return self


class Settings(_Section):
    app: AppSettings = AppSettings()
    site: SiteSettings
    line: LineSettings
    orders: OrderSettings
    telemetry: TelemetrySettings = TelemetrySettings()
    hygiene: HygieneSettings = HygieneSettings()
    mqtt: MqttSettings = MqttSettings()
    cup_types: tuple[CupTypeSettings, ...] = Field(min_length=1)
    routing: RoutingSettings = RoutingSettings()
    vehicles: tuple[VehicleSettings, ...] = ()

    @field_validator("vehicles")
    @classmethod
    def _unique_vehicles(cls, value: tuple[VehicleSettings, ...]) -> tuple[VehicleSettings, ...]:
        codes = [vehicle.code for vehicle in value]
        duplicates = sorted({code for code in codes if codes.count(code) > 1})
        if duplicates:
            raise ValueError(f"duplicate vehicle code(s): {', '.join(duplicates)}")
        return value

    @field_validator("cup_types")
    @classmethod
    def _unique_codes(cls, value: tuple[CupTypeSettings, ...]) -> tuple[CupTypeSettings, ...]:
        codes = [cup.code for cup in value]
        duplicates = sorted({code for code in codes if codes.count(code) > 1})
        if duplicates:
            raise ValueError(f"duplicate cup type code(s): {', '.join(duplicates)}")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)

    @property
    def mqtt_lines(self) -> tuple[MqttLineSettings, ...]:
        """The configured network lines; none configured: this site's own line."""
        if self.mqtt.lines:
            return self.mqtt.lines
        return (
            MqttLineSettings(site=self.site.code, line=self.line.code, line_code=self.line.code),
        )


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Read, merge and validate the configuration; raise ConfigError naming the bad key."""
    environ = os.environ if environ is None else environ
    data = _read_toml(DEFAULT_CONFIG_PATH)
    extra_path = environ.get(ENV_PREFIX + "CONFIG")
    if extra_path:
        _deep_merge(data, _read_toml(Path(extra_path)))
    _deep_merge(data, _environment_overrides(environ))
    if overrides:
        _deep_merge(data, dict(overrides))
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"configuration file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {path} is not valid TOML: {exc}") from None


def _environment_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX) :]
        if key in NOT_CONFIG_ENV_KEYS:
            continue
        if key in SHORT_ENV_KEYS:
            section, field = SHORT_ENV_KEYS[key]
        elif "__" in key:
            section, field = key.lower().split("__", 1)
        else:
            raise ConfigError(
                f"environment variable {name}: use {ENV_PREFIX}<SECTION>__<KEY>, "
                f"e.g. {ENV_PREFIX}LINE__CAPACITY_PER_DAY"
            )
        result.setdefault(section, {})[field] = _parse_env_value(raw)
    return result


def _parse_env_value(raw: str) -> Any:
    """Values are TOML where they parse as TOML (numbers, booleans, arrays), else plain strings."""
    try:
        return tomllib.loads(f"value = {raw}")["value"]
    except tomllib.TOMLDecodeError:
        return raw


def _deep_merge(base: dict[str, Any], extra: Mapping[str, Any]) -> None:
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _deep_merge(base[key], value)
        else:
            base[key] = value


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "(top level)"
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        problems.append(f"{key}: {message}")
    return "invalid configuration: " + "; ".join(problems)
