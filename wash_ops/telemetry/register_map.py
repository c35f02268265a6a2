"""The register map: which PLC register holds which tag, and what the tag means.

It is configuration, not code: a real PLC is connected by writing its map. Loading checks it and
names the tag at fault.
"""

from __future__ import annotations

import enum
import os
import tomllib
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from wash_ops.config import ConfigError
from wash_ops.telemetry.counters import DEFAULT_MAX_STEP_FRACTION

DEFAULT_REGISTER_MAP = Path(__file__).resolve().parents[2] / "config" / "registers.toml"
MAX_REGISTERS_PER_READ = 125
MAX_BITS_PER_READ = 2000
REQUIRED_TAGS = {
    "state": "state",
    "heartbeat": "heartbeat",
    "alarm_word": "alarm_word",
    "cups_washed": "counter",
    "cups_rejected": "counter",
}


class Table(enum.StrEnum):
    HOLDING = "holding"
    INPUT = "input"
    COIL = "coil"
    DISCRETE = "discrete"

    @property
    def is_bits(self) -> bool:
        return self in (Table.COIL, Table.DISCRETE)


class DataType(enum.StrEnum):
    BOOL = "bool"
    UINT16 = "uint16"
    INT16 = "int16"
    UINT32 = "uint32"
    INT32 = "int32"
    FLOAT32 = "float32"

    @property
    def registers(self) -> int:
        return 2 if self in (DataType.UINT32, DataType.INT32, DataType.FLOAT32) else 1


_TYPE_RANGES = {
    DataType.BOOL: (0, 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.FLOAT32: (-3.4e38, 3.4e38),
}


class TagRole(enum.StrEnum):
    STATE = "state"
    COUNTER = "counter"
    GAUGE = "gauge"
    ALARM_WORD = "alarm_word"
    HEARTBEAT = "heartbeat"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Tag(_Strict):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    unit: str = ""
    table: Table
    address: int = Field(ge=0, le=65535)
    type: DataType
    word_order: Literal["big", "little"] = "big"
    scale: float = 1.0
    offset: float = 0.0
    role: TagRole
    min: float | None = None
    max: float | None = None
    # At most 2**31 - 1: one step is stored as an SQL integer (LineReading.counted).
    max_step: int | None = Field(default=None, gt=0, lt=2**31)

    @model_validator(mode="after")
    def _consistent(self) -> Tag:
        if self.table.is_bits and self.type is not DataType.BOOL:
            raise ValueError(f"a {self.table.value} holds single bits: its type must be bool")
        if not self.table.is_bits and self.type is DataType.BOOL:
            raise ValueError("a bool lives in a coil or discrete input, not a register")
        if self.role is TagRole.COUNTER and self.type not in (DataType.UINT16, DataType.UINT32):
            raise ValueError("a counter must be uint16 or uint32 (it counts up and rolls over)")
        if self.role in (
            TagRole.STATE,
            TagRole.ALARM_WORD,
            TagRole.HEARTBEAT,
        ) and self.type not in (
            DataType.UINT16,
            DataType.UINT32,
        ):
            raise ValueError(f"a {self.role.value} must be uint16 or uint32")
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError("min must be below max")
        if self.scale == 0:
            raise ValueError("scale cannot be 0")
        return self

    @property
    def width(self) -> int:
        """Registers (or bits) the tag occupies."""
        return 1 if self.table.is_bits else self.type.registers

    @property
    def end(self) -> int:
        return self.address + self.width

    @cached_property
    def counter_modulus(self) -> int:
        return 2**32 if self.type is DataType.UINT32 else 2**16

    @cached_property
    def counter_limit(self) -> int:
        """The largest step between two reads that is believed (``counters.next_step``)."""
        return self.max_step or self.counter_modulus // DEFAULT_MAX_STEP_FRACTION

    def in_range(self, value: float) -> bool:
        return (self.min is None or value >= self.min) and (self.max is None or value <= self.max)

    @cached_property
    def physical_range(self) -> tuple[float, float]:
        """The range a value sent over MQTT must lie in: ``min``/``max`` where the map gives
        them, else what the register type can hold (raw for counters, scaled for the rest)."""
        raw_low, raw_high = _TYPE_RANGES[self.type]
        if self.role is not TagRole.GAUGE:
            return float(raw_low), float(raw_high)
        ends = sorted((raw_low * self.scale + self.offset, raw_high * self.scale + self.offset))
        low = ends[0] if self.min is None else self.min
        high = ends[1] if self.max is None else self.max
        return low, high

    @property
    def integral(self) -> bool:
        """Counters, states, alarm words and heartbeats are whole numbers."""
        return self.role is not TagRole.GAUGE


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return list(Severity).index(self)


class AlarmBit(_Strict):
    bit: int = Field(ge=0, le=31)
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    severity: Severity


class Device(_Strict):
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)
    device_id: int = Field(ge=0, le=255)
    timeout_s: float = Field(gt=0, le=60)
    poll_interval_s: float = Field(ge=0.05, le=3600)
    max_gap: int = Field(ge=0, le=124)


class StopReason(_Strict):
    """A value of the PLC's stop-reason tag: what stopped the line, and whether it was planned."""

    value: int = Field(ge=0, le=65535)
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")
    planned: bool = False


class RegisterMap(_Strict):
    device: Device
    tags: tuple[Tag, ...] = Field(min_length=1)
    alarms: tuple[AlarmBit, ...] = ()
    stop_reason_tag: str | None = None
    stop_reasons: tuple[StopReason, ...] = ()

    @field_validator("tags")
    @classmethod
    def _unique_and_apart(cls, tags: tuple[Tag, ...]) -> tuple[Tag, ...]:
        names = [tag.name for tag in tags]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"tag {name!r} is defined twice")
        by_table = sorted(tags, key=lambda tag: (tag.table.value, tag.address))
        for before, after in zip(by_table, by_table[1:], strict=False):
            if before.table is after.table and after.address < before.end:
                raise ValueError(
                    f"tag {after.name!r} overlaps tag {before.name!r} in the {after.table.value} "
                    f"table (addresses {before.address}-{before.end - 1} and {after.address})"
                )
        return tags

    @model_validator(mode="after")
    def _required_tags(self) -> RegisterMap:
        by_name = {tag.name: tag for tag in self.tags}
        for name, role in REQUIRED_TAGS.items():
            if name not in by_name:
                raise ValueError(f"tag {name!r} (role {role}) is missing")
            if by_name[name].role.value != role:
                raise ValueError(
                    f"tag {name!r} must have role {role}, not {by_name[name].role.value}"
                )
        bits = [alarm.bit for alarm in self.alarms]
        for bit in bits:
            if bits.count(bit) > 1:
                raise ValueError(f"alarm bit {bit} is defined twice")
        if self.stop_reason_tag is not None and self.stop_reason_tag not in by_name:
            raise ValueError(f"stop_reason_tag {self.stop_reason_tag!r} is not a tag")
        values = [reason.value for reason in self.stop_reasons]
        for value in values:
            if values.count(value) > 1:
                raise ValueError(f"stop reason {value} is defined twice")
        return self

    def stop_reason(self, value: int) -> StopReason | None:
        return next((reason for reason in self.stop_reasons if reason.value == value), None)

    @cached_property
    def tags_by_name(self) -> dict[str, Tag]:
        return {tag.name: tag for tag in self.tags}

    @cached_property
    def value_limits(self) -> dict[str, tuple[bool, float, float]]:
        """By tag name: whether its values are whole numbers, and its physical range (checked
        for every value that arrives over MQTT)."""
        return {tag.name: (tag.integral, *tag.physical_range) for tag in self.tags}

    def tag(self, name: str) -> Tag:
        """The tag of that name; StopIteration when there is none."""
        try:
            return self.tags_by_name[name]
        except KeyError:
            raise StopIteration(name) from None

    def with_role(self, role: TagRole) -> list[Tag]:
        return [tag for tag in self.tags if tag.role is role]

    def alarm_for_bit(self, bit: int) -> AlarmBit | None:
        return next((alarm for alarm in self.alarms if alarm.bit == bit), None)


def load_register_map(
    path: Path | None = None, environ: Mapping[str, str] | None = None
) -> RegisterMap:
    """The map from ``path``, WASH_OPS_REGISTER_MAP or the default; ConfigError names the tag."""
    environ = os.environ if environ is None else environ
    path = path or Path(environ.get("WASH_OPS_REGISTER_MAP") or DEFAULT_REGISTER_MAP)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"register map not found: {path}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"register map {path} is not valid TOML: {error}") from None
    return parse_register_map(data, str(path))


def parse_register_map(data: Mapping[str, object], source: str = "register map") -> RegisterMap:
    try:
        return RegisterMap.model_validate(data)
    except ValidationError as error:
        raise ConfigError(
            f"{source}: " + "; ".join(_describe(data, e) for e in error.errors())
        ) from None


def _describe(data: Mapping[str, object], error: Mapping[str, object]) -> str:
    location = list(error["loc"])  # type: ignore[arg-type]
    where = ".".join(str(part) for part in location) or "(top level)"
    if (
        len(location) >= 2
        and location[0] in ("tags", "alarms", "stop_reasons")
        and isinstance(location[1], int)
    ):
        entries = data.get(location[0])
        if isinstance(entries, list) and location[1] < len(entries):
            entry = entries[location[1]]
            label = entry.get("name") or entry.get("code") if isinstance(entry, dict) else None
            if label:
                rest = ".".join(str(part) for part in location[2:])
                where = f"{location[0][:-1]} {label!r}" + (f" {rest}" if rest else "")
    message = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
    return f"{where}: {message}"
