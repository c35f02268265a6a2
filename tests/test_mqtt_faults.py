"""Hostile input to the MQTT bridge, and Sparkplug B against a real Mosquitto: the bridge keeps
running, every bad message lands in the dead letters with a reason, good ones around them are
stored; Sparkplug payloads from an independent encoder decode to the same values; a sequence gap
asks for a rebirth; an NDEATH marks the node stale."""

from __future__ import annotations

import json
import random
import struct
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.mqtt_support import T0, Broker, publisher, telemetry
from tests.plc_support import wait_for
from tests.test_mqtt import database, make_bridge, stored
from wash_ops.db import utcnow
from wash_ops.network.models import DeadLetter, NetworkSource
from wash_ops.network.services import network_sources
from wash_ops.network.sparkplug_proto import sparkplug_b_pb2 as pb
from wash_ops.telemetry.models import CounterCursor, LineLive, LineReading
from wash_ops.telemetry.register_map import load_register_map

TOPIC = "wash-ops/GEN/L1/telemetry"
HOSTILE = 10_000
LIMIT = 2048


@pytest.fixture(scope="module")
def register_map():
    return load_register_map(environ={})


@pytest.fixture
def line_db(tmp_path, settings):
    engine, factory = database(f"sqlite:///{tmp_path / 'line.sqlite'}", settings)
    yield factory
    engine.dispose()


@pytest.fixture
def broker(tmp_path):
    running = Broker(tmp_path / "broker", persistence=False).start()
    yield running
    running.close()


@pytest.fixture
def strict_settings(settings):
    return settings.model_copy(
        update={"mqtt": settings.mqtt.model_copy(update={"max_payload_bytes": LIMIT})}
    )


def hostile_messages(count: int) -> list[tuple[str, bytes, str]]:
    """(topic, payload, expected reason) of many kinds, from a fixed seed."""
    rng = random.Random(6)
    at = T0.isoformat()
    kinds = [
        (TOPIC, lambda i: rng.randbytes(rng.randint(1, 300)), None),
        (TOPIC, lambda i: b"[" * 5000 + b"]" * 5000, None),
        (TOPIC, lambda i: b'{"time": "' + b"x" * (LIMIT + i % 50) + b'"}', "too_large"),
        (
            TOPIC,
            lambda i: json.dumps({"time": "y" * 1500, "seq": i, "metrics": {}}).encode(),
            "bad_schema",
        ),
        (
            TOPIC,
            lambda i: b'{"time": "%s", "seq": 1, "metrics": {"speed": NaN}}' % at.encode(),
            "bad_json",
        ),
        (
            TOPIC,
            lambda i: b'{"time": "%s", "seq": 1, "metrics": {"speed": Infinity}}' % at.encode(),
            "bad_json",
        ),
        (
            TOPIC,
            lambda i: json.dumps({"time": at, "seq": "1", "metrics": {"speed": 1}}).encode(),
            "bad_schema",
        ),
        (
            TOPIC,
            lambda i: json.dumps({"time": at, "seq": 1, "metrics": [1, 2]}).encode(),
            "bad_schema",
        ),
        (
            TOPIC,
            lambda i: json.dumps({"time": at, "seq": 1, "metrics": {"speed": "fast"}}).encode(),
            "bad_schema",
        ),
        (
            TOPIC,
            lambda i: json.dumps({"time": at, "seq": 1, "metrics": {"cups_washed": 1.5}}).encode(),
            "bad_schema",
        ),
        (
            TOPIC,
            lambda i: json.dumps({"time": at, "seq": 1, "metrics": {"speed": True}}).encode(),
            "bad_schema",
        ),
        (
            TOPIC,
            lambda i: json.dumps(
                {"time": "2026-12-07T09:00:00", "seq": 1, "metrics": {"speed": 1}}
            ).encode(),
            "bad_schema",
        ),
        (
            TOPIC,
            lambda i: json.dumps({"time": at, "seq": -1, "metrics": {"speed": 1}}).encode(),
            "bad_schema",
        ),
        (
            TOPIC,
            lambda i: json.dumps({"time": at, "seq": 1, "metrics": {"rocket": 1}}).encode(),
            "unknown_tag",
        ),
        (
            TOPIC,
            lambda i: json.dumps({"time": at, "seq": 1, "metrics": {"speed": 99999}}).encode(),
            "out_of_range",
        ),
        (
            TOPIC,
            lambda i: json.dumps(
                {"time": at, "seq": 1, "metrics": {"wash_temperature": 500.5}}
            ).encode(),
            "out_of_range",
        ),
        (
            TOPIC,
            lambda i: json.dumps(
                {"time": at, "seq": 1, "metrics": {"cups_washed": 2**40}}
            ).encode(),
            "out_of_range",
        ),
        (TOPIC, lambda i: b"\xff\xfe not utf-8 \x00", "bad_json"),
        (TOPIC, lambda i: b"9" * 2000, "bad_json"),
        ("wash-ops/GEN/L1/firmware", lambda i: b"{}", "unknown_topic"),
        ("wash-ops/XX/L9/telemetry", lambda i: telemetry(i), "unknown_source"),
        ("spBv1.0/wash-it/NDATA/GEN-L1", lambda i: b"\x0a\xff\xff", "bad_sparkplug"),
        ("spBv1.0/wash-it/NDATA/ROGUE", lambda i: b"", "unknown_source"),
        ("spBv1.0/wash-it/BOGUS/GEN-L1", lambda i: b"", "unknown_topic"),
    ]
    messages = []
    for i in range(count):
        topic, make, reason = kinds[i % len(kinds)]
        messages.append((topic, make(i), reason))
    return messages


def test_hostile_payloads_go_to_dead_letters_and_good_ones_around_them_are_stored(
    strict_settings, register_map, line_db, broker
):
    bridge = make_bridge(strict_settings, register_map, line_db, broker)
    sender = publisher(broker.port, persistent=False)
    messages = hostile_messages(HOSTILE)
    good = 0
    try:
        for index, (topic, payload, _reason) in enumerate(messages):
            if index % 100 == 0:
                sender.publish(TOPIC, telemetry(good), qos=1)
                good += 1
            sender.publish(topic, payload, qos=1)
        sender.publish(TOPIC, telemetry(good), qos=1).wait_for_publish(30)
        good += 1
        wait_for(
            lambda: bridge.stats.dead >= HOSTILE and bridge.stats.stored >= good,
            60,
            "every message handled",
        )
        assert bridge.is_alive()
    finally:
        sender.loop_stop()
        sender.disconnect()
        bridge.stop()
    with line_db() as session:
        assert session.scalar(select(func.count()).select_from(DeadLetter)) == HOSTILE
        rows = session.execute(select(DeadLetter.reason, func.count()).group_by(DeadLetter.reason))
        reasons = {reason: count for reason, count in rows}
        assert session.scalar(select(func.count()).where(DeadLetter.detail == "")) == 0
        biggest = session.scalar(select(func.max(func.length(DeadLetter.payload))))
        assert biggest <= strict_settings.mqtt.dead_letter_excerpt_bytes
    expected = {reason for _topic, _payload, reason in messages if reason}
    assert expected <= set(reasons)
    assert sum(reasons.values()) == HOSTILE
    assert stored(line_db) == (good, good, good - 1)


# --- Sparkplug B -------------------------------------------------------------------------
# An independent encoder: the protobuf wire format written out by hand, field by field, from
# the Sparkplug B schema (not through the generated module the bridge decodes with).


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, wire: int, data: bytes) -> bytes:
    return _varint(number << 3 | wire) + data


def _metric(
    name=None, alias=None, datatype=None, *, uint=None, long=None, double=None, boolean=None
):
    out = b""
    if name is not None:
        raw = name.encode()
        out += _field(1, 2, _varint(len(raw)) + raw)
    if alias is not None:
        out += _field(2, 0, _varint(alias))
    if datatype is not None:
        out += _field(4, 0, _varint(datatype))
    if uint is not None:
        out += _field(10, 0, _varint(uint & 0xFFFFFFFF))
    if long is not None:
        out += _field(11, 0, _varint(long & 0xFFFFFFFFFFFFFFFF))
    if double is not None:
        out += _field(13, 1, struct.pack("<d", double))
    if boolean is not None:
        out += _field(14, 0, _varint(int(boolean)))
    return out


def _payload(timestamp_ms: int, seq: int | None, metrics: list[bytes]) -> bytes:
    out = _field(1, 0, _varint(timestamp_ms))
    for metric in metrics:
        out += _field(2, 2, _varint(len(metric)) + metric)
    if seq is not None:
        out += _field(3, 0, _varint(seq))
    return out


NODE = "spBv1.0/wash-it/{}/GEN-L1"
UINT32, INT16, INT64, DOUBLE, BOOLEAN = 7, 2, 4, 10, 11


def nbirth(at_ms: int, bd_seq: int) -> bytes:
    return _payload(
        at_ms,
        0,
        [
            _metric("bdSeq", None, INT64, long=bd_seq),
            _metric("Node Control/Rebirth", None, BOOLEAN, boolean=False),
            _metric("Line/Speed", 1, UINT32, uint=3500),
            _metric("Wash/Temperature", 2, DOUBLE, double=61.25),
            _metric("Counters/Cups washed", 3, UINT32, uint=500),
            _metric("Line/State", 4, UINT32, uint=6),
            _metric("Vendor/Cabinet humidity", 5, DOUBLE, double=40.0),
        ],
    )


def ndata(at_ms: int, seq: int, speed: int, temperature: float, cups: int) -> bytes:
    return _payload(
        at_ms,
        seq,
        [
            _metric(None, 1, UINT32, uint=speed),
            _metric(None, 2, DOUBLE, double=temperature),
            _metric(None, 3, UINT32, uint=cups),
            _metric(None, 5, DOUBLE, double=41.0),
        ],
    )


def ndeath(bd_seq: int) -> bytes:
    return _payload(0, None, [_metric("bdSeq", None, INT64, long=bd_seq)])


class Commands:
    """A subscriber to the node's NCMD topic."""

    def __init__(self, port: int) -> None:
        self.received: list[bytes] = []
        self.event = threading.Event()
        self.client = publisher(port, "ncmd-watcher", persistent=False)
        self.client.on_message = self._on_message
        self.client.subscribe(NODE.format("NCMD"), qos=0)

    def _on_message(self, _client, _userdata, message) -> None:
        self.received.append(message.payload)
        self.event.set()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def _ms(seconds: int) -> int:
    return int((T0 + timedelta(seconds=seconds)).timestamp() * 1000)


def test_sparkplug_from_an_independent_encoder_is_stored_and_a_seq_gap_asks_for_rebirth(
    settings, register_map, line_db, broker
):
    bridge = make_bridge(settings, register_map, line_db, broker)
    commands = Commands(broker.port)
    sender = publisher(broker.port, "edge-node", persistent=False)
    try:
        wait_for(lambda: bridge.spb_client.is_connected(), 10, "the Sparkplug client")
        sender.publish(NODE.format("NBIRTH"), nbirth(_ms(0), bd_seq=3), qos=0)
        sender.publish(NODE.format("NDATA"), ndata(_ms(1), 1, 3600, 62.5, 510), qos=0)
        sender.publish(NODE.format("NDATA"), ndata(_ms(2), 2, 3610, 63.0, 530), qos=0)
        wait_for(lambda: bridge.stats.stored >= 3, 10, "birth and two data messages")
        assert commands.received == []
        # seq 3 is lost: seq 4 arrives. Stored, and a rebirth is asked for.
        sender.publish(NODE.format("NDATA"), ndata(_ms(4), 4, 3620, 63.5, 560), qos=0)
        assert commands.event.wait(10), "no rebirth request after a seq gap"
    finally:
        sender.loop_stop()
        sender.disconnect()
        commands.close()
        bridge.stop()
    request = pb.Payload.FromString(commands.received[0])
    assert [(m.name, m.boolean_value) for m in request.metrics] == [("Node Control/Rebirth", True)]
    with line_db() as session:
        speed, temperature = LineReading.gauge("speed"), LineReading.gauge("wash_temperature")
        speeds = session.execute(
            select(LineReading.at, speed).where(speed.is_not(None)).order_by(LineReading.at)
        ).all()
        temperatures = session.scalars(
            select(temperature).where(temperature.is_not(None)).order_by(LineReading.at)
        ).all()
        cursor = session.scalar(select(CounterCursor).where(CounterCursor.tag == "cups_washed"))
        live = session.scalar(select(LineLive))
    assert [value for _at, value in speeds] == [3500, 3600, 3610, 3620]
    assert [at for at, _value in speeds][1] == T0 + timedelta(seconds=1)
    assert temperatures == [61.25, 62.5, 63.0, 63.5]
    assert cursor.total == 60
    assert live.state == 6


def test_sparkplug_ndeath_with_matching_bdseq_marks_the_node_stale(
    settings, register_map, line_db, broker
):
    bridge = make_bridge(settings, register_map, line_db, broker)
    sender = publisher(broker.port, "edge-node", persistent=False)
    try:
        wait_for(lambda: bridge.spb_client.is_connected(), 10, "the Sparkplug client")
        sender.publish(NODE.format("NBIRTH"), nbirth(_ms(0), bd_seq=7), qos=0)
        sender.publish(NODE.format("NDATA"), ndata(_ms(1), 1, 3600, 62.5, 510), qos=0)
        wait_for(lambda: bridge.stats.stored >= 2, 10, "birth and data")
        # A death certificate of an older session (other bdSeq) changes nothing.
        sender.publish(NODE.format("NDEATH"), ndeath(6), qos=1)
        sender.publish(NODE.format("NDATA"), ndata(_ms(2), 2, 3600, 62.5, 520), qos=0)
        wait_for(lambda: bridge.stats.stored >= 3, 10, "data after the old death")
        with line_db() as session:
            node = session.scalar(select(NetworkSource).where(NetworkSource.kind == "sparkplug"))
            assert node.dead_since is None
        sender.publish(NODE.format("NDEATH"), ndeath(7), qos=1)

        def dead():
            with line_db() as session:
                return session.scalar(
                    select(NetworkSource.dead_since).where(NetworkSource.kind == "sparkplug")
                )

        wait_for(dead, 10, "the node marked dead")
    finally:
        sender.loop_stop()
        sender.disconnect()
        bridge.stop()
    with line_db() as session:
        views = network_sources(session, utcnow(), timedelta(hours=1))
    node_view = next(view for view in views if view.kind == "sparkplug")
    assert node_view.stale and node_view.dead and node_view.line_code == "L1"


def test_a_message_that_breaks_the_store_is_a_dead_letter_and_the_bridge_goes_on(
    settings, register_map, line_db, broker, monkeypatch
):
    """A fault in storing (here: injected for one message) costs that message only. The fault
    is injected into this process, so the bridge stores in a thread here (mqtt.store_process
    false); the store process runs the same ``BatchStorer``."""
    from wash_ops.network import services

    settings = settings.model_copy(
        update={"mqtt": settings.mqtt.model_copy(update={"store_process": False})}
    )

    real = services.ingest_many

    def failing(session, line, register_map, readings, *args, **kwargs):
        if any(reading.values.get("speed") == 4242 for reading in readings):
            raise ValueError("injected fault")
        return real(session, line, register_map, readings, *args, **kwargs)

    monkeypatch.setattr(services, "ingest_many", failing)
    bridge = make_bridge(settings, register_map, line_db, broker)
    sender = publisher(broker.port, persistent=False)
    try:
        for seq in range(300):
            payload = telemetry(seq, speed=4242) if seq == 150 else telemetry(seq)
            sender.publish(TOPIC, payload, qos=1)
        wait_for(lambda: bridge.stats.stored + bridge.stats.dead >= 300, 20, "all messages")
    finally:
        sender.loop_stop()
        sender.disconnect()
        bridge.stop()
    assert bridge.stats.dead_by_reason == {"store_failed": 1}
    with line_db() as session:
        letter = session.scalar(select(DeadLetter))
    assert letter.reason == "store_failed" and "injected fault" in letter.detail
    assert stored(line_db)[:2] == (299, 299)


def test_qos0_messages_that_find_the_queue_full_are_counted_in_a_dead_letter(
    settings, register_map, line_db, broker
):
    """The network thread never waits: a full queue drops QoS 0 messages, and says how many."""
    small = settings.model_copy(
        update={
            "mqtt": settings.mqtt.model_copy(
                update={"queue_size": 10, "receive_maximum": 5, "batch_size": 5}
            )
        }
    )
    bridge = make_bridge(small, register_map, line_db, broker)
    sender = publisher(broker.port, persistent=False)
    sent = 3000
    try:
        for seq in range(sent):
            sender.publish(TOPIC, telemetry(seq), qos=0)
        wait_for(lambda: bridge.stats.received >= sent, 30, "every message at the bridge")
        wait_for(lambda: bridge.queue.empty(), 30, "the queue drained")
    finally:
        sender.loop_stop()
        sender.disconnect()
        bridge.stop()
    dropped = bridge.stats.dropped
    assert dropped > 0
    assert stored(line_db)[0] + dropped == sent
    with line_db() as session:
        letters = session.scalars(select(DeadLetter).where(DeadLetter.reason == "overflow")).all()
    reported = sum(int(letter.detail.split()[0]) for letter in letters)
    assert reported == dropped
