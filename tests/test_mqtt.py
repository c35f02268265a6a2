"""The MQTT bridge against a real Mosquitto: a stream of QoS 1 messages survives a broker
restart and a bridge restart, each message stored exactly once; duplicates are recognised."""

from __future__ import annotations

import os
import signal

import pytest
from sqlalchemy import func, select

from plc.mqtt_bridge import MqttBridge
from tests.conftest import fresh_postgres_database
from tests.mqtt_support import Broker, publisher, telemetry
from tests.plc_support import wait_for
from wash_ops.catalogue.services import sync_from_settings
from wash_ops.db import make_engine, make_session_factory, unit_of_work
from wash_ops.migrate import upgrade
from wash_ops.network.models import NetworkSource
from wash_ops.telemetry.models import CounterCursor, LineReading
from wash_ops.telemetry.register_map import load_register_map

TOPIC = "wash-ops/GEN/L1/telemetry"
STREAM = 10_000


@pytest.fixture(scope="module")
def register_map():
    return load_register_map(environ={})


@pytest.fixture
def broker(tmp_path):
    running = Broker(tmp_path / "broker").start()
    yield running
    running.close()


def database(url, settings):
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        sync_from_settings(session, settings)
    return engine, factory


@pytest.fixture
def line_db(tmp_path, settings):
    """A committed SQLite database the bridge's writer thread shares with the test."""
    engine, factory = database(f"sqlite:///{tmp_path / 'line.sqlite'}", settings)
    yield factory
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request, tmp_path, settings):
    if request.param == "sqlite":
        engine, factory = database(f"sqlite:///{tmp_path / 'line.sqlite'}", settings)
        yield factory
        engine.dispose()
        return
    with fresh_postgres_database("mqtt") as url:
        engine, factory = database(url, settings)
        yield factory
        engine.dispose()


def make_bridge(settings, register_map, factory, broker, client_id="bridge-under-test"):
    bridge = MqttBridge(settings, register_map, factory, client_id=client_id, port=broker.port)
    bridge.start()
    assert bridge.connected.wait(10), "the bridge did not connect"
    return bridge


def stored(factory) -> tuple[int, int, int]:
    """Messages the source took, speed samples stored, cups counted."""
    with factory() as session:
        messages = session.scalar(select(func.sum(NetworkSource.messages))) or 0
        samples = session.scalar(
            select(func.count())
            .select_from(LineReading)
            .where(LineReading.gauge("speed").is_not(None))
        )
        cursor = session.scalar(select(CounterCursor).where(CounterCursor.tag == "cups_washed"))
        return messages, samples, cursor.total if cursor else 0


def distinct_sample_times(factory) -> int:
    with factory() as session:
        return session.scalar(
            select(func.count(func.distinct(LineReading.at))).where(
                LineReading.gauge("speed").is_not(None)
            )
        )


def test_broker_restart_mid_stream_stores_every_message_once(
    settings, register_map, any_db, broker
):
    bridge = make_bridge(settings, register_map, any_db, broker)
    sender = publisher(broker.port)
    try:
        for seq in range(STREAM * 6 // 10):
            sender.publish(TOPIC, telemetry(seq), qos=1)
        wait_for(lambda: bridge.stats.stored >= STREAM // 5, 30, "a fifth of the stream")
        broker.restart()
        # The rest of the stream: paho keeps it until the broker is back.
        for seq in range(STREAM * 6 // 10, STREAM):
            sender.publish(TOPIC, telemetry(seq), qos=1)
        wait_for(lambda: stored(any_db)[0] >= STREAM, 45, "the whole stream after the restart")
        # A publisher's retry of a message already stored: recognised, stored once.
        sender.publish(TOPIC, telemetry(1234), qos=1).wait_for_publish(5)
        wait_for(lambda: bridge.stats.duplicates >= 1, 10, "the retry")
    finally:
        sender.loop_stop()
        sender.disconnect()
        bridge.stop()
    assert stored(any_db) == (STREAM, STREAM, STREAM - 1)
    assert distinct_sample_times(any_db) == STREAM
    assert bridge.stats.dead == 0


def test_bridge_killed_mid_stream_loses_and_doubles_nothing(
    settings, register_map, line_db, broker
):
    first = make_bridge(settings, register_map, line_db, broker)
    sender = publisher(broker.port)
    try:
        for seq in range(STREAM * 6 // 10):
            sender.publish(TOPIC, telemetry(seq), qos=1)
        wait_for(lambda: first.stats.stored >= STREAM // 5, 30, "a fifth of the stream")
        first.kill()  # with messages in its queue, stored or not, none acknowledged after this
        # The rest of the stream while no bridge is there: the broker keeps it in the session.
        for seq in range(STREAM * 6 // 10, STREAM):
            sender.publish(TOPIC, telemetry(seq), qos=1)
        sender.publish(TOPIC, telemetry(STREAM - 1), qos=1).wait_for_publish(30)
        assert stored(line_db)[0] <= STREAM * 6 // 10
        second = make_bridge(settings, register_map, line_db, broker)
        wait_for(lambda: stored(line_db)[0] >= STREAM, 45, "the rest from the kept session")
        second.stop()
    finally:
        sender.loop_stop()
        sender.disconnect()
    assert stored(line_db) == (STREAM, STREAM, STREAM - 1)
    assert distinct_sample_times(line_db) == STREAM


def test_a_store_process_that_dies_mid_stream_is_started_again_and_nothing_is_lost_or_doubled(
    settings, register_map, any_db, broker
):
    """The store runs in a process of its own (mqtt.store_process, the default): killed while
    batches are on their way, it is started again, and the batches it had not answered are
    stored by the new one; what the dead one had committed is recognised, not doubled."""
    assert settings.mqtt.store_process
    bridge = make_bridge(settings, register_map, any_db, broker)
    sender = publisher(broker.port)
    try:
        for seq in range(STREAM // 2):
            sender.publish(TOPIC, telemetry(seq), qos=1)
        wait_for(lambda: bridge.stats.stored >= STREAM // 10, 30, "a tenth of the stream")
        os.kill(bridge.store_pid(), signal.SIGKILL)
        for seq in range(STREAM // 2, STREAM):
            sender.publish(TOPIC, telemetry(seq), qos=1)
        wait_for(lambda: stored(any_db)[0] >= STREAM, 60, "the whole stream after the restart")
    finally:
        sender.loop_stop()
        sender.disconnect()
        bridge.stop()
    assert bridge.stats.store_restarts >= 1
    assert stored(any_db) == (STREAM, STREAM, STREAM - 1)
    assert distinct_sample_times(any_db) == STREAM
    assert bridge.stats.dead == 0


def test_the_bridge_says_online_and_its_last_will_says_offline(
    settings, register_map, line_db, broker
):
    import threading

    statuses: list[bytes] = []
    changed = threading.Event()
    watcher = publisher(broker.port, "status-watcher", persistent=False)
    watcher.on_message = lambda _c, _u, message: (statuses.append(message.payload), changed.set())
    watcher.subscribe("wash-ops/bridge/+/status", qos=1)
    try:
        bridge = make_bridge(settings, register_map, line_db, broker)
        wait_for(lambda: statuses[-1:] == [b"online"], 10, "online")
        bridge.kill()  # no clean disconnect: the broker publishes the will
        wait_for(lambda: statuses[-1:] == [b"offline"], 30, "the last will")
    finally:
        watcher.loop_stop()
        watcher.disconnect()


def test_the_bridge_is_a_sparkplug_host_with_birth_and_death_certificates(
    settings, register_map, line_db, broker
):
    """Sparkplug 3.0 host application STATE: online with a time after connecting, retained;
    the death (the will after a crash, or said on a clean stop) carries the birth's time."""
    import json

    topic = f"spBv1.0/STATE/{settings.mqtt.sparkplug_host_id}"
    states: list[dict] = []
    watcher = publisher(broker.port, "state-watcher", persistent=False)
    watcher.on_message = lambda _c, _u, message: states.append(json.loads(message.payload))
    watcher.subscribe(topic, qos=1)
    try:
        bridge = make_bridge(settings, register_map, line_db, broker)
        wait_for(lambda: states and states[-1]["online"], 10, "the host's birth")
        born = states[-1]["timestamp"]
        bridge.kill()
        wait_for(lambda: not states[-1]["online"], 30, "the host's death by its will")
        assert states[-1] == {"online": False, "timestamp": born}
        again = make_bridge(settings, register_map, line_db, broker, client_id="bridge-again")
        wait_for(lambda: states[-1]["online"], 10, "a new birth")
        reborn = states[-1]["timestamp"]
        assert reborn >= born
        again.stop()
        wait_for(lambda: not states[-1]["online"], 10, "the death said on stopping")
        assert states[-1] == {"online": False, "timestamp": reborn}
    finally:
        watcher.loop_stop()
        watcher.disconnect()
