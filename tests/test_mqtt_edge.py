"""Edge mode against a real Mosquitto: the central broker goes away, the edge worker keeps its
readings on disk (across its own restart too), and every reading arrives once and in order when
the broker is back. KPIs go out retained. The Sparkplug encoder's output decodes centrally."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from plc.edge import EdgePublisher, ReadingBuffer
from tests.mqtt_support import T0, Broker, publisher
from tests.plc_support import wait_for
from tests.test_mqtt import database, make_bridge, stored
from wash_ops.db import utcnow
from wash_ops.network.models import NetworkSource
from wash_ops.network.services import Incoming, NetworkIngest
from wash_ops.network.sparkplug import SparkplugEncoder, rebirth_command
from wash_ops.telemetry.ingest import Quality, Reading
from wash_ops.telemetry.models import LineReading
from wash_ops.telemetry.register_map import load_register_map


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
    running = Broker(tmp_path / "broker").start()
    yield running
    running.close()


def reading(i: int) -> Reading:
    return Reading(
        T0 + timedelta(seconds=i),
        Quality.GOOD,
        {"speed": i % 12000, "wash_temperature": 61.0, "cups_washed": 1000 + i},
    )


def samples_in_order(factory) -> bool:
    with factory() as session:
        times = session.scalars(
            select(LineReading.at)
            .where(LineReading.gauge("speed").is_not(None))
            .order_by(LineReading.id)
        ).all()
    return times == sorted(times) and len(set(times)) == len(times)


def test_edge_keeps_readings_while_the_broker_is_down_and_sends_each_once_in_order(
    settings, register_map, line_db, broker, tmp_path
):
    buffer_path = tmp_path / "edge" / "buffer.sqlite"
    bridge = make_bridge(settings, register_map, line_db, broker)
    edge = EdgePublisher(settings, buffer_path=buffer_path, port=broker.port)
    edge.start()
    try:
        wait_for(edge.client.is_connected, 10, "the edge worker to connect")
        for i in range(300):
            edge.put(reading(i))
        wait_for(lambda: stored(line_db)[0] >= 300, 20, "the first readings")
        broker.stop()
        for i in range(300, 1000):
            edge.put(reading(i))
        edge.put(Reading.failed(T0, "timeout"))  # a failed read is not published
        wait_for(lambda: edge.pending() >= 700, 10, "the readings on disk")
        # The edge worker itself restarts while the broker is away: its buffer stays.
        edge.stop(drain_s=0)
        edge = EdgePublisher(settings, buffer_path=buffer_path, port=broker.port)
        assert edge.pending() >= 700
        edge.start()
        for i in range(1000, 1200):
            edge.put(reading(i))
        broker.start()
        wait_for(lambda: stored(line_db)[0] >= 1200, 30, "every reading after the broker's return")
        wait_for(lambda: edge.pending() == 0, 10, "the buffer emptied")
    finally:
        edge.stop()
        bridge.stop()
    assert stored(line_db) == (1200, 1200, 1199)
    assert samples_in_order(line_db)


def test_the_buffer_is_bounded_and_drops_the_oldest(tmp_path):
    buffer = ReadingBuffer(tmp_path / "small.sqlite", limit=10)
    buffer.append([reading(i) for i in range(15)])
    rows = buffer.after(0, 100)
    assert buffer.count() == 10 and buffer.dropped == 5
    assert [metrics["cups_washed"] for _id, _at, metrics in rows] == list(range(1005, 1015))
    buffer.close()


def test_kpis_are_published_retained(settings, register_map, line_db, broker):
    bridge = make_bridge(settings, register_map, line_db, broker)
    sender = publisher(broker.port, "line-feed", persistent=False)
    now = utcnow()
    try:
        for i in range(3):
            at = (now - timedelta(seconds=3 - i)).isoformat()
            metrics = {"state": 6, "heartbeat": i, "cups_washed": 100 + 50 * i}
            body = {"time": at, "seq": i, "metrics": metrics}
            sender.publish("wash-ops/GEN/L1/telemetry", json.dumps(body), qos=1)
        wait_for(lambda: bridge.stats.stored >= 3, 10, "the readings")
        assert bridge.publish_kpis() == 1
    finally:
        sender.loop_stop()
        sender.disconnect()
        bridge.stop()
    # A system that subscribes later still gets the figures: they are retained.
    got = threading.Event()
    received = []
    watcher = publisher(broker.port, "hall-display", persistent=False)
    watcher.on_message = lambda _c, _u, message: (received.append(message), got.set())
    watcher.subscribe("wash-ops/GEN/L1/kpi", qos=1)
    try:
        assert got.wait(10), "no retained KPI message"
    finally:
        watcher.loop_stop()
        watcher.disconnect()
    assert received[0].retain
    kpi = json.loads(received[0].payload)
    assert kpi["cups_today"] == 100 and kpi["state"] == "execute" and kpi["stale"] is False
    assert kpi["rate_per_hour"] == 100 * 12 and kpi["site"] == "GEN" and kpi["line"] == "L1"


def test_the_edge_sparkplug_encoder_decodes_centrally_to_the_same_values(
    db, settings, register_map
):
    encoder = SparkplugEncoder(settings, register_map, "wash-it", "GEN-L1")
    values = {"speed": 3500, "wash_temperature": 61.5, "cups_washed": 400, "state": 6}
    later = {"speed": 3550, "wash_temperature": 62.0, "cups_washed": 460, "state": 6}
    node = "spBv1.0/wash-it/{}/GEN-L1"
    now = utcnow()
    messages = [
        Incoming(node.format("NBIRTH"), encoder.birth(T0, values), now),
        Incoming(node.format("NDATA"), encoder.data(T0 + timedelta(seconds=1), later), now),
    ]
    result = NetworkIngest(settings, register_map).store(db, messages)
    assert (result.stored, result.dead, result.commands) == (2, {}, [])
    speed = LineReading.gauge("speed")
    speeds = db.scalars(select(speed).where(speed.is_not(None)).order_by(LineReading.at))
    assert list(speeds) == [3500, 3550]
    temperatures = db.scalar(select(func.max(LineReading.gauge("wash_temperature"))))
    assert temperatures == 62.0


def test_edge_publishes_sparkplug_with_births_rebirths_and_a_death(
    settings, register_map, line_db, broker, tmp_path
):
    spb = settings.model_copy(
        update={"mqtt": settings.mqtt.model_copy(update={"publish_format": "sparkplug"})}
    )
    buffer_path = tmp_path / "edge-spb" / "buffer.sqlite"
    bridge = make_bridge(settings, register_map, line_db, broker)

    def node():
        with line_db() as session:
            return session.scalar(
                select(NetworkSource).where(NetworkSource.key == "sparkplug:wash-it/GEN-L1")
            )

    edge = EdgePublisher(spb, buffer_path=buffer_path, port=broker.port, register_map=register_map)
    edge.start()
    try:
        wait_for(edge.client.is_connected, 10, "the edge node to connect")
        wait_for(bridge.spb_client.is_connected, 10, "the bridge's Sparkplug client")
        for i in range(100):
            edge.put(reading(i))
        wait_for(lambda: stored(line_db)[0] >= 100, 20, "the first readings")
        # The host asks for a rebirth: the next reading comes as an NBIRTH (seq 0, no gap).
        command = rebirth_command("wash-it", "GEN-L1")
        bridge.spb_client.publish(command.topic, command.payload, qos=0)
        wait_for(lambda: edge._rebirth.is_set(), 10, "the rebirth request at the edge")
        for i in range(100, 150):
            edge.put(reading(i))
        wait_for(lambda: stored(line_db)[0] >= 150, 20, "the readings after the rebirth")
        assert node().dead_since is None
        edge.stop()
        wait_for(lambda: node().dead_since is not None, 10, "the NDEATH of the stopped node")
        edge = EdgePublisher(
            spb, buffer_path=buffer_path, port=broker.port, register_map=register_map
        )
        edge.start()
        for i in range(150, 200):
            edge.put(reading(i))
        wait_for(lambda: stored(line_db)[0] >= 200, 20, "the readings of the new session")
    finally:
        edge.stop()
        bridge.stop()
    assert bridge.stats.dead == 0 and bridge.stats.duplicates == 0
    assert stored(line_db) == (200, 200, 199)
    assert samples_in_order(line_db)


def test_a_sparkplug_edge_node_waits_for_its_primary_host_and_births_again_when_it_returns(
    settings, register_map, line_db, broker, tmp_path
):
    """With ``sparkplug_primary_host`` the edge node sends only while the host's STATE says
    online: readings taken while the central bridge is away stay in its buffer, and when the
    bridge is back (a new birth certificate) they follow a new NBIRTH. Nothing is lost."""
    spb = settings.model_copy(
        update={
            "mqtt": settings.mqtt.model_copy(
                update={
                    "publish_format": "sparkplug",
                    "sparkplug_primary_host": settings.mqtt.sparkplug_host_id,
                }
            )
        }
    )
    edge = EdgePublisher(
        spb,
        buffer_path=tmp_path / "edge-host" / "buffer.sqlite",
        port=broker.port,
        register_map=register_map,
    )
    edge.start()
    bridge = None
    try:
        wait_for(edge.client.is_connected, 10, "the edge node to connect")
        for i in range(40):
            edge.put(reading(i))
        wait_for(lambda: edge.pending() == 40, 10, "the readings in the buffer")
        threading.Event().wait(0.5)
        assert edge.sent == 0 and edge.pending() == 40  # no host: nothing goes out
        bridge = make_bridge(settings, register_map, line_db, broker)
        wait_for(lambda: stored(line_db)[0] >= 40, 20, "the held readings once the host is up")
        bridge.stop()  # its death certificate: the edge holds back again
        wait_for(lambda: not edge._host_online.is_set(), 10, "the host's death at the edge")
        for i in range(40, 70):
            edge.put(reading(i))
        wait_for(lambda: edge.pending() == 30, 10, "the new readings held")
        bridge = make_bridge(settings, register_map, line_db, broker, client_id="bridge-back")
        wait_for(lambda: stored(line_db)[0] >= 70, 20, "the rest after the host's return")
    finally:
        edge.stop()
        if bridge is not None:
            bridge.stop()
    assert stored(line_db) == (70, 70, 69)
    assert samples_in_order(line_db)
    assert bridge.stats.dead == 0
