"""Plain JSON telemetry messages: the schema, and the checks that send a message to the dead
letters with a reason instead of into the database.

The payload of ``<root>/<site>/<line>/telemetry``::

    {"time": "2026-12-06T04:05:00.250Z", "seq": 1234, "metrics": {"speed": 3580, ...}}

``time`` is ISO 8601 with a UTC offset; ``seq`` a whole number from 0 that the publisher raises
by one a message (a restarted publisher may start again, with a later time); ``metrics`` holds
engineering values by register-map tag name; counters are the raw unsigned PLC counters.
Decoding uses orjson (strict JSON: NaN and Infinity are refused, as is nesting deeper than
1024 or a number beyond 64 bits) and plain type checks: it runs for every message.
"""

from __future__ import annotations

import enum
import json
import math
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from wash_ops.telemetry.register_map import RegisterMap

MAX_SEQ = 2**63 - 1
MAX_METRICS = 256


class DeadReason(enum.StrEnum):
    TOO_LARGE = "too_large"
    BAD_JSON = "bad_json"
    BAD_SCHEMA = "bad_schema"
    UNKNOWN_TAG = "unknown_tag"
    OUT_OF_RANGE = "out_of_range"
    UNKNOWN_TOPIC = "unknown_topic"
    UNKNOWN_SOURCE = "unknown_source"
    BAD_SPARKPLUG = "bad_sparkplug"
    UNKNOWN_METRIC = "unknown_metric"
    OVERFLOW = "overflow"
    STORE_FAILED = "store_failed"


class Invalid(Exception):
    """A message that cannot be used: the reason and a short detail for the office."""

    def __init__(self, reason: DeadReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail[:300]


class TelemetryMessage(NamedTuple):
    at: datetime
    seq: int
    metrics: dict[str, float | int]


def decode_json(payload: bytes, register_map: RegisterMap) -> TelemetryMessage:
    """The message, or ``Invalid`` naming what is wrong with it."""
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError as error:
        raise Invalid(DeadReason.BAD_JSON, f"not JSON: {error}") from None
    if not isinstance(data, dict):
        raise Invalid(DeadReason.BAD_SCHEMA, "the message must be a JSON object")
    unknown_keys = set(data) - {"time", "seq", "metrics"}
    if unknown_keys:
        raise Invalid(DeadReason.BAD_SCHEMA, f"unknown keys: {', '.join(sorted(unknown_keys))}")
    at = _time(data.get("time"))
    seq = data.get("seq")
    if type(seq) is not int or not 0 <= seq <= MAX_SEQ:
        raise Invalid(DeadReason.BAD_SCHEMA, "seq must be a whole number from 0")
    metrics = data.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise Invalid(DeadReason.BAD_SCHEMA, "metrics must be an object of tag: value")
    if len(metrics) > MAX_METRICS:
        raise Invalid(DeadReason.BAD_SCHEMA, f"more than {MAX_METRICS} metrics")
    return TelemetryMessage(at=at, seq=seq, metrics=check_metrics(metrics, register_map))


def check_metrics(metrics: dict[str, Any], register_map: RegisterMap) -> dict[str, float | int]:
    """``metrics`` itself once each value is a number of the right kind for its tag, inside the
    tag's physical range (a finite range: NaN and infinity fall outside it)."""
    limits = register_map.value_limits
    for name, value in metrics.items():
        limit = limits.get(name)
        if limit is None:
            raise Invalid(DeadReason.UNKNOWN_TAG, f"unknown tag {str(name)[:60]!r}")
        integral, low, high = limit
        kind = type(value)
        if kind is not int and (integral or kind is not float):
            wanted = "a whole number" if integral else "a number"
            raise Invalid(DeadReason.BAD_SCHEMA, f"{name}: must be {wanted}, not {kind.__name__}")
        if not low <= value <= high:
            if kind is float and not math.isfinite(value):
                raise Invalid(DeadReason.OUT_OF_RANGE, f"{name}: {value} is not a finite number")
            raise Invalid(DeadReason.OUT_OF_RANGE, f"{name}: {value} outside {low:g}..{high:g}")
    return metrics


def _time(value: object) -> datetime:
    if not isinstance(value, str) or len(value) > 40:
        raise Invalid(DeadReason.BAD_SCHEMA, "time must be an ISO 8601 string")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise Invalid(DeadReason.BAD_SCHEMA, f"time {value!r} is not ISO 8601") from None
    if at.tzinfo is None:
        raise Invalid(DeadReason.BAD_SCHEMA, "time must carry a UTC offset (Z or +01:00)")
    return at


def encode_json(at: datetime, seq: int, metrics: dict[str, float | int]) -> bytes:
    """A message in the schema above (the edge publisher and the simulator use it)."""
    return json.dumps(
        {"time": at.isoformat(), "seq": seq, "metrics": metrics}, separators=(",", ":")
    ).encode()
