"""Sparkplug B: topics, births and deaths, aliases, sequence numbers, and rebirth requests.

``spBv1.0/<group>/<NBIRTH|NDATA|NDEATH|DBIRTH|DDATA|DDEATH|NCMD|DCMD>/<node>[/<device>]``.
A birth certificate names every metric and its alias; data messages may carry aliases only.
``seq`` runs 0..255 over all of a node's messages after its NBIRTH (which has seq 0); a gap, or
data from a node whose birth this host has not seen, is answered with an NCMD carrying
``Node Control/Rebirth = true``. An NDEATH whose ``bdSeq`` matches the NBIRTH's marks the
node's data stale. Metric names map onto register-map tags through ``mqtt.sparkplug_metrics``.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from google.protobuf.message import DecodeError

from wash_ops.config import Settings
from wash_ops.network.messages import DeadReason, Invalid, check_metrics
from wash_ops.network.sparkplug_proto import sparkplug_b_pb2 as pb
from wash_ops.telemetry.ingest import Quality, Reading
from wash_ops.telemetry.register_map import RegisterMap

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from wash_ops.network.services import BatchResult, Incoming, _Sources

SPARKPLUG_NAMESPACE = "spBv1.0"


def host_state_topic(host_id: str) -> str:
    """Where a Sparkplug host application says whether it is online (specification 3.0)."""
    return f"{SPARKPLUG_NAMESPACE}/STATE/{host_id}"


def host_state(online: bool, timestamp_ms: int) -> bytes:
    """The host's birth (online) or death certificate: JSON, the death with its birth's time."""
    return json.dumps({"online": online, "timestamp": timestamp_ms}).encode()


def parse_host_state(payload: bytes) -> tuple[bool, int] | None:
    """(online, timestamp) of a host's STATE message; None when it is not one."""
    try:
        state = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    if not isinstance(state, dict):
        return None
    online, timestamp = state.get("online"), state.get("timestamp")
    if type(online) is not bool or type(timestamp) is not int:
        return None
    return online, timestamp


KIND = "sparkplug"
REBIRTH_METRIC = "Node Control/Rebirth"
BD_SEQ_METRIC = "bdSeq"
MESSAGE_TYPES = {"NBIRTH", "NDATA", "NDEATH", "DBIRTH", "DDATA", "DDEATH", "NCMD", "DCMD"}


class DataType:
    """The Sparkplug B data types wash-ops reads and writes (the schema's DataType enum)."""

    INT8, INT16, INT32, INT64 = pb.Int8, pb.Int16, pb.Int32, pb.Int64
    UINT8, UINT16, UINT32, UINT64 = pb.UInt8, pb.UInt16, pb.UInt32, pb.UInt64
    FLOAT, DOUBLE, BOOLEAN, STRING, DATETIME = (
        pb.Float,
        pb.Double,
        pb.Boolean,
        pb.String,
        pb.DateTime,
    )


_SIGNED = {DataType.INT8, DataType.INT16, DataType.INT32, DataType.INT64}
_NUMBERS = {"int_value", "long_value", "float_value", "double_value", "boolean_value"}


@dataclass(frozen=True)
class Command:
    """A message the bridge publishes in answer (QoS 0, not retained, as the spec says)."""

    topic: str
    payload: bytes


@dataclass
class _Node:
    """What this host knows of an edge node's current session (kept in memory)."""

    seq: int | None = None
    aliases: dict[int, str] = field(default_factory=dict)
    device_aliases: dict[str, dict[int, str]] = field(default_factory=dict)
    rebirth_requested: bool = False


@dataclass(frozen=True)
class SparkplugTopic:
    group: str
    message_type: str
    node: str
    device: str

    @classmethod
    def parse(cls, topic: str) -> SparkplugTopic:
        parts = topic.split("/")
        if len(parts) == 3 and parts[1] == "STATE":
            return cls("", "STATE", "", "")
        if len(parts) not in (4, 5) or parts[2] not in MESSAGE_TYPES or not all(parts):
            raise Invalid(DeadReason.UNKNOWN_TOPIC, f"not a Sparkplug B topic: {topic[:200]}")
        return cls(parts[1], parts[2], parts[3], parts[4] if len(parts) == 5 else "")


def decode_payload(data: bytes) -> Any:
    try:
        return pb.Payload.FromString(data)
    except (DecodeError, RecursionError, ValueError) as error:
        raise Invalid(DeadReason.BAD_SPARKPLUG, f"payload does not decode: {error}") from None


def metric_value(metric: Any) -> float | int | None:
    """The metric's value as a number (None: null or not a number)."""
    if metric.is_null:
        return None
    which = metric.WhichOneof("value")
    if which not in _NUMBERS:
        return None  # null, text, bytes, a data set, a template or an extension
    value = getattr(metric, which)
    if which == "boolean_value":
        return int(value)
    if metric.datatype in _SIGNED and which in ("int_value", "long_value"):
        # Signed values travel as two's complement of the container: 32 bits in int_value
        # (Int8, Int16, Int32, sign-extended), 64 bits in long_value (Int64).
        bits = 32 if which == "int_value" else 64
        if value >= 1 << (bits - 1):
            value -= 1 << bits
    if which == "float_value":
        # A float32 on the wire: round-trip through struct to drop float64 noise.
        value = struct.unpack("<f", struct.pack("<f", value))[0]
    return value


class SparkplugDecoder:
    """Turns Sparkplug messages into readings; keeps the births it has seen."""

    def __init__(self, settings: Settings, register_map: RegisterMap) -> None:
        self.register_map = register_map
        self.group = settings.mqtt.sparkplug_group
        self.lines = {
            (entry.group, entry.node, entry.device): entry.line_code
            for entry in settings.mqtt.sparkplug_nodes
        }
        self.tags = {entry.metric: entry.tag for entry in settings.mqtt.sparkplug_metrics}
        self.nodes: dict[tuple[str, str], _Node] = {}

    def handle(
        self, session: Session, message: Incoming, sources: _Sources, result: BatchResult
    ) -> Iterator[tuple[str, Reading]]:
        topic = SparkplugTopic.parse(message.topic)
        if topic.message_type in ("STATE", "NCMD", "DCMD"):
            result.ignored += 1
            return
        line_code = self.lines.get((topic.group, topic.node, topic.device)) or self.lines.get(
            (topic.group, topic.node, "")
        )
        if line_code is None:
            raise Invalid(
                DeadReason.UNKNOWN_SOURCE,
                f"edge node {topic.group}/{topic.node} is not in mqtt.sparkplug_nodes",
            )
        payload = decode_payload(message.payload)
        node_key = (topic.group, topic.node)
        node = self.nodes.setdefault(node_key, _Node())
        source = sources.get(KIND, f"{topic.group}/{topic.node}")
        source.last_seen_at = message.received_at
        source.line_id = sources.line_id(line_code)
        kind = topic.message_type
        if kind == "NDEATH":
            self._death(payload, source, node, message.received_at)
            return
        if kind == "NBIRTH":
            self._birth(payload, source, node)
        elif kind == "DDEATH":
            self._sequence(topic, payload, node, result)
            device = sources.get(KIND, f"{topic.group}/{topic.node}/{topic.device}")
            device.dead_since = message.received_at
            device.last_seen_at = message.received_at
            return
        else:
            self._sequence(topic, payload, node, result)
        source.messages += 1
        device = None
        if topic.device:
            device = sources.get(KIND, f"{topic.group}/{topic.node}/{topic.device}")
            device.last_seen_at = message.received_at
            device.line_id = source.line_id
            device.messages += 1
            if kind == "DBIRTH":
                device.dead_since = None
                node.device_aliases[topic.device] = self._aliases(payload)
            aliases = node.device_aliases.get(topic.device, {})
        else:
            aliases = node.aliases
        metrics = self._metrics(topic, payload, aliases, node, result)
        if not metrics:
            return
        at = self._time(payload)
        stream = device if topic.device else source
        if stream.last_time is not None and at <= stream.last_time:
            # Sent again after a reconnect (QoS 0 has no acknowledgement): stored already.
            stream.duplicates += 1
            result.duplicates += 1
            return
        stream.last_time = at
        yield line_code, Reading(at, Quality.GOOD, metrics)

    def _birth(self, payload: Any, source: Any, node: _Node) -> None:
        if not payload.HasField("seq") or payload.seq != 0:
            raise Invalid(DeadReason.BAD_SPARKPLUG, "an NBIRTH must have seq 0")
        bd_seq = next((int(m.long_value) for m in payload.metrics if m.name == BD_SEQ_METRIC), None)
        if bd_seq is None:
            raise Invalid(DeadReason.BAD_SPARKPLUG, "an NBIRTH must carry its bdSeq metric")
        source.bd_seq = bd_seq
        source.dead_since = None
        source.last_seq = 0
        node.seq = 0
        node.aliases = self._aliases(payload)
        node.device_aliases = {}
        node.rebirth_requested = False

    def _death(self, payload: Any, source: Any, node: _Node, at: datetime) -> None:
        bd_seq = next((int(m.long_value) for m in payload.metrics if m.name == BD_SEQ_METRIC), None)
        if bd_seq is None:
            raise Invalid(DeadReason.BAD_SPARKPLUG, "an NDEATH must carry its bdSeq metric")
        if source.bd_seq is not None and bd_seq == source.bd_seq:
            source.dead_since = at
            node.seq = None

    def _sequence(self, topic: SparkplugTopic, payload: Any, node: _Node, result: Any) -> None:
        if not payload.HasField("seq") or payload.seq > 255:
            raise Invalid(DeadReason.BAD_SPARKPLUG, "seq must be 0..255")
        if node.seq is None:
            self._rebirth(topic, node, result)
            return
        expected = (node.seq + 1) % 256
        if payload.seq != expected:
            self._rebirth(topic, node, result)
        node.seq = payload.seq

    def _rebirth(self, topic: SparkplugTopic, node: _Node, result: Any) -> None:
        if node.rebirth_requested:
            return
        node.rebirth_requested = True
        result.commands.append(rebirth_command(topic.group, topic.node))

    def _aliases(self, payload: Any) -> dict[int, str]:
        return {int(m.alias): m.name for m in payload.metrics if m.name and m.HasField("alias")}

    def _metrics(
        self,
        topic: SparkplugTopic,
        payload: Any,
        aliases: dict[int, str],
        node: _Node,
        result: Any,
    ) -> dict[str, float | int]:
        values: dict[str, Any] = {}
        for metric in payload.metrics:
            name = metric.name
            if not name:
                if not metric.HasField("alias") or metric.alias not in aliases:
                    self._rebirth(topic, node, result)
                    raise Invalid(
                        DeadReason.UNKNOWN_METRIC,
                        f"alias {metric.alias} is not in the birth certificate",
                    )
                name = aliases[metric.alias]
            tag = self.tags.get(name)
            if tag is None:
                continue
            value = metric_value(metric)
            if value is None:
                continue
            values[tag] = value
        return check_metrics(values, self.register_map)

    @staticmethod
    def _time(payload: Any) -> datetime:
        if not payload.HasField("timestamp"):
            raise Invalid(DeadReason.BAD_SPARKPLUG, "the payload has no timestamp")
        try:
            return datetime.fromtimestamp(payload.timestamp / 1000, UTC)
        except (OverflowError, ValueError, OSError):
            raise Invalid(DeadReason.BAD_SPARKPLUG, "the timestamp is out of range") from None


def rebirth_command(group: str, node: str) -> Command:
    payload = pb.Payload(timestamp=_now_ms())
    metric = payload.metrics.add()
    metric.name = REBIRTH_METRIC
    metric.datatype = DataType.BOOLEAN
    metric.boolean_value = True
    return Command(f"{SPARKPLUG_NAMESPACE}/{group}/NCMD/{node}", payload.SerializeToString())


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)


# --- encoding, for the edge publisher -----------------------------------------------------


class SparkplugEncoder:
    """An edge node's messages: NBIRTH with names and aliases, then NDATA with aliases only."""

    def __init__(self, settings: Settings, register_map: RegisterMap, group: str, node: str):
        self.group = group
        self.node = node
        self.register_map = register_map
        by_tag = {entry.tag: entry.metric for entry in settings.mqtt.sparkplug_metrics}
        self.metrics = [
            (alias, by_tag[tag.name], tag)
            for alias, tag in enumerate(register_map.tags, start=1)
            if tag.name in by_tag
        ]
        self.seq = 0
        self.bd_seq = 0

    def topic(self, message_type: str) -> str:
        return f"{SPARKPLUG_NAMESPACE}/{self.group}/{message_type}/{self.node}"

    def death(self) -> bytes:
        """The NDEATH for the will of the next connection."""
        payload = pb.Payload(timestamp=_now_ms())
        _bd_seq(payload, self.bd_seq)
        return payload.SerializeToString()

    def birth(self, at: datetime, values: dict[str, float | int]) -> bytes:
        self.seq = 0
        payload = pb.Payload(timestamp=int(at.timestamp() * 1000), seq=0)
        _bd_seq(payload, self.bd_seq)
        rebirth = payload.metrics.add()
        rebirth.name = REBIRTH_METRIC
        rebirth.datatype = DataType.BOOLEAN
        rebirth.boolean_value = False
        for alias, name, tag in self.metrics:
            metric = payload.metrics.add()
            metric.name = name
            metric.alias = alias
            _set_value(metric, tag, values.get(tag.name))
        return payload.SerializeToString()

    def data(self, at: datetime, values: dict[str, float | int]) -> bytes:
        self.seq = (self.seq + 1) % 256
        payload = pb.Payload(timestamp=int(at.timestamp() * 1000), seq=self.seq)
        for alias, _name, tag in self.metrics:
            if tag.name in values:
                metric = payload.metrics.add()
                metric.alias = alias
                _set_value(metric, tag, values[tag.name])
        return payload.SerializeToString()

    def next_session(self) -> None:
        self.bd_seq = (self.bd_seq + 1) % 256


def _bd_seq(payload: Any, value: int) -> None:
    metric = payload.metrics.add()
    metric.name = BD_SEQ_METRIC
    metric.datatype = DataType.INT64
    metric.long_value = value


def _set_value(metric: Any, tag: Any, value: float | int | None) -> None:
    if tag.integral:
        metric.datatype = DataType.UINT32 if tag.type.value == "uint32" else DataType.UINT16
        if value is None:
            metric.is_null = True
        else:
            metric.int_value = int(value)
    else:
        metric.datatype = DataType.DOUBLE
        if value is None:
            metric.is_null = True
        else:
            metric.double_value = float(value)
