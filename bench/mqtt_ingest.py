"""MQTT ingest end to end: messages per second stored (publish -> Mosquitto -> bridge ->
database) against a bare paho subscriber that only counts, on the same broker in the same run.

Each message carries the simulator's full tag set (13 tags). A publisher in its own process
sends the stream as fast as the broker takes it; the receiving side is timed from its first
message to its last one received (bare) or stored and committed (bridge). The CPU time of the
receiving side over the same window is printed per message too (this process, plus the bridge's
store process: publisher and broker are other processes): on a shared machine it moves less
than the rates do. Every run checks that nothing was lost: the bridge's source counted every
sequence number once, and every message is a reading in the database with all its gauges.

The bridge runs as configured by default (``mqtt.store_process = true``: storing in a process of
its own); ``--store thread process`` also runs it storing in a thread of its process, as the
embedded demo does, for comparison (the goal is judged on the default).

    .venv/bin/python bench/mqtt_ingest.py                      # SQLite, and PostgreSQL if reachable
    .venv/bin/python bench/mqtt_ingest.py --messages 50000 --postgres postgresql://postgres@127.0.0.1:5432/postgres
    .venv/bin/python bench/mqtt_ingest.py --store thread process

Goal (issue 6): the bridge sustains at least half the bare subscriber's message rate, and at
least 20,000 metrics per second into SQLite and into PostgreSQL. The bare rate moves by a third
from run to run on a shared machine, so the script runs ``--repeat`` rounds (each a bare run
followed by the bridge runs) and judges the median ratio.
"""

from __future__ import annotations

import argparse
import getpass
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from paho.mqtt.packettypes import PacketTypes  # noqa: E402
from paho.mqtt.properties import Properties  # noqa: E402
from sqlalchemy import func, make_url, select, text  # noqa: E402

from plc.mqtt_bridge import MqttBridge  # noqa: E402
from wash_ops.catalogue.services import sync_from_settings  # noqa: E402
from wash_ops.config import load_settings  # noqa: E402
from wash_ops.db import make_engine, make_session_factory, unit_of_work  # noqa: E402
from wash_ops.migrate import upgrade  # noqa: E402
from wash_ops.network.messages import encode_json  # noqa: E402
from wash_ops.network.models import NetworkSource  # noqa: E402
from wash_ops.telemetry.models import LineReading  # noqa: E402
from wash_ops.telemetry.register_map import TagRole, load_register_map  # noqa: E402

TOPIC = "wash-ops/GEN/L1/telemetry"
T0 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)
RECEIVE_MAXIMUM = 1000


def full_tag_set(seq: int) -> dict[str, float | int]:
    return {
        "state": 6,
        "stop_reason": 0,
        "alarm_word": 0,
        "heartbeat": seq % 65536,
        "speed": 3600,
        "speed_setpoint": 3600,
        "wash_temperature": 60.0 + (seq % 10) / 10,
        "rinse_temperature": 85.0,
        "detergent_level": 80.0,
        "cups_washed": 1000 + seq,
        "cups_rejected": 10 + seq // 100,
        "water": 5000 + seq,
        "energy": 7000 + seq,
    }


def client(client_id: str, *, clean: bool = True) -> mqtt.Client:
    return mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )


# --- the publisher process ---------------------------------------------------------------------


def publish(port: int, count: int, qos: int) -> None:
    messages = [
        encode_json(T0 + timedelta(milliseconds=100 * seq), seq, full_tag_set(seq))
        for seq in range(count)
    ]
    sender = client(f"bench-publisher-{uuid.uuid4().hex[:6]}")
    sender.max_inflight_messages_set(1000)
    sender.max_queued_messages_set(0)
    sender.connect("127.0.0.1", port, 60)
    sender.loop_start()
    last = None
    for payload in messages:
        last = sender.publish(TOPIC, payload, qos=qos)
    last.wait_for_publish(300)
    if qos:
        deadline = time.monotonic() + 300
        while sender._out_messages and time.monotonic() < deadline:  # noqa: SLF001
            time.sleep(0.01)
    sender.disconnect()
    sender.loop_stop()


def start_publisher(port: int, count: int, qos: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, __file__, "--publish", str(port), str(count), str(qos)], cwd=ROOT
    )


# --- the broker --------------------------------------------------------------------------------


class Broker:
    def __init__(self, folder: Path) -> None:
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = folder / "mosquitto.conf"
        config.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\n"
            "persistence false\nmax_queued_messages 1000000\nmax_inflight_messages 1000\n"
            "log_dest none\n"
        )
        self.process = subprocess.Popen([binary, "-c", str(config)])
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.1):
                    return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mosquitto did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


# --- the two receivers --------------------------------------------------------------------------


def bare(port: int, count: int, qos: int) -> tuple[float, float]:
    """Messages per second a subscriber that only counts receives, and its CPU µs a message."""
    received = 0
    first = last = cpu_first = cpu_last = 0.0
    done = threading.Event()

    def on_message(_client, _userdata, _message) -> None:
        nonlocal received, first, last, cpu_first, cpu_last
        if received == 0:
            first, cpu_first = time.perf_counter(), time.process_time()
        received += 1
        if received == count:
            last, cpu_last = time.perf_counter(), time.process_time()
            done.set()

    subscriber = client(f"bench-bare-{uuid.uuid4().hex[:6]}")
    subscriber.on_message = on_message
    properties = Properties(PacketTypes.CONNECT)
    properties.ReceiveMaximum = RECEIVE_MAXIMUM
    subscriber.connect("127.0.0.1", port, 60, properties=properties)
    subscriber.subscribe(TOPIC, qos=qos)
    subscriber.loop_start()
    time.sleep(0.3)
    sender = start_publisher(port, count, qos)
    if not done.wait(600):
        raise RuntimeError(f"bare subscriber got {received} of {count}")
    sender.wait(60)
    subscriber.disconnect()
    subscriber.loop_stop()
    return count / (last - first), (cpu_last - cpu_first) / count * 1e6


def fresh_database(kind: str, postgres: str | None, folder: Path):
    settings = load_settings(environ={})
    if kind == "sqlite":
        url = f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:6]}.sqlite'}"
        drop = None
    else:
        server = make_url(postgres).set(drivername="postgresql+psycopg")
        name = f"wash_ops_bench_mqtt_{uuid.uuid4().hex[:8]}"
        admin = make_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = server.set(database=name).render_as_string(hide_password=False)

        def drop() -> None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        sync_from_settings(session, settings)
    return settings, engine, factory, drop


def bridged(
    port: int, count: int, qos: int, kind: str, postgres: str | None, folder: Path, store: str
):
    """Messages per second the bridge stores and commits; checks that none was lost."""
    settings, engine, factory, drop = fresh_database(kind, postgres, folder)
    settings = settings.model_copy(
        update={
            "mqtt": settings.mqtt.model_copy(
                update={
                    "queue_size": count + 10_000,
                    "receive_maximum": RECEIVE_MAXIMUM,
                    "store_process": store == "process",
                }
            )
        }
    )
    register_map = load_register_map(environ={})
    bridge = MqttBridge(
        settings, register_map, factory, client_id=f"bench-bridge-{uuid.uuid4().hex[:6]}", port=port
    )
    first = last = cpu_first = store_cpu_first = 0.0
    original = bridge._on_message  # noqa: SLF001

    def timed(client_, userdata, message) -> None:
        nonlocal first, cpu_first, store_cpu_first
        # From the first telemetry message, as for the bare subscriber: the bridge's own
        # status (it subscribes to the whole topic root) arrives before the publisher starts.
        if not first and message.topic == TOPIC:
            first, cpu_first = time.perf_counter(), time.process_time()
            store_cpu_first = bridge.stats.store_cpu_s
        original(client_, userdata, message)

    bridge.json_client.on_message = timed
    bridge.start()
    if not bridge.connected.wait(10):
        raise RuntimeError("the bridge did not connect")
    time.sleep(0.3)
    sender = start_publisher(port, count, qos)
    deadline = time.monotonic() + 900
    while bridge.stats.stored + bridge.stats.dead + bridge.stats.dropped < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the bridge stored {bridge.stats.stored} of {count}")
        time.sleep(0.002)
    last, cpu = time.perf_counter(), time.process_time() - cpu_first
    sender.wait(60)
    bridge.stop()
    if store == "process":
        cpu += bridge.stats.store_cpu_s - store_cpu_first
    gauges = [tag.name for tag in register_map.with_role(TagRole.GAUGE)]
    with factory() as session:
        messages = session.scalar(select(func.sum(NetworkSource.messages))) or 0
        complete = session.scalar(
            select(func.count()).where(*(LineReading.gauge(tag).is_not(None) for tag in gauges))
        )
    engine.dispose()
    if drop:
        drop()
    lost = count - messages
    if complete != count:
        lost = max(lost, 1)
    return count / (last - first), cpu / count * 1e6, lost, bridge.stats


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "WASH_OPS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument(
        "--store",
        nargs="+",
        choices=("process", "thread"),
        default=["process"],
        help="where the bridge stores: its own process (the default configuration) or a thread",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="rounds of (bare, then each bridge); the goal is judged on the median ratio",
    )
    parser.add_argument("--publish", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.publish:
        publish(*args.publish)
        return 0
    metrics_per_message = len(full_tag_set(0))
    backends = ["sqlite"] + ([] if args.no_postgres else ["postgresql"])
    print(f"MQTT ingest: {args.messages:,} messages of {metrics_per_message} metrics per run")
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}")
    # (qos, store, backend) -> per round: (ratio, messages/s, lost)
    results: dict[tuple[int, str, str], list[tuple[float, float, int]]] = {}
    with tempfile.TemporaryDirectory() as folder_name:
        folder = Path(folder_name)
        broker = Broker(folder)
        try:
            for round_ in range(1, args.repeat + 1):
                for qos in (0, 1):
                    reference, reference_cpu = bare(broker.port, args.messages, qos)
                    print(
                        f"\nround {round_}, QoS {qos}: bare paho subscriber {reference:,.0f}"
                        f" messages/s  ({reference_cpu:.0f} µs CPU a message)"
                    )
                    for store in args.store:
                        for kind in backends:
                            rate, cpu, lost, stats = bridged(
                                broker.port, args.messages, qos, kind, args.postgres, folder, store
                            )
                            ratio = rate / reference
                            results.setdefault((qos, store, kind), []).append((ratio, rate, lost))
                            print(
                                f"  bridge, store in a {store:<7} -> {kind:<10}"
                                f" {rate:>7,.0f} messages/s"
                                f"  {rate * metrics_per_message:>8,.0f} metrics/s"
                                f"  ratio {ratio:.2f}  lost {lost}  batches {stats.batches}"
                                f"  {cpu:.0f} µs CPU a message"
                                f" (CPU ratio {reference_cpu / cpu:.2f})"
                            )
        finally:
            broker.stop()
    return 0 if summary(results, metrics_per_message) else 1


def summary(
    results: dict[tuple[int, str, str], list[tuple[float, float, int]]], metrics_per_message: int
) -> bool:
    """The median ratio and rate of each configuration over the rounds; the goal is judged on
    the default configuration (store in a process)."""
    print("\nmedian over the rounds (min–max):")
    met = True
    for (qos, store, kind), rounds in results.items():
        ratios = [ratio for ratio, _, _ in rounds]
        metrics = statistics.median(rate for _, rate, _ in rounds) * metrics_per_message
        lost = sum(lost for _, _, lost in rounds)
        ratio = statistics.median(ratios)
        ok = lost == 0 and ratio >= 0.5 and metrics >= 20_000
        if store == "process":
            met &= ok
            verdict = "goal met" if ok else "GOAL MISSED"
        else:
            verdict = "(comparison)"
        print(
            f"  QoS {qos}, store in a {store:<7} -> {kind:<10} ratio {ratio:.2f}"
            f" ({min(ratios):.2f}–{max(ratios):.2f})  {metrics:>8,.0f} metrics/s"
            f"  lost {lost}  {verdict}"
        )
    return met


if __name__ == "__main__":
    raise SystemExit(main())
