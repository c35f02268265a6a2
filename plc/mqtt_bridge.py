"""The MQTT bridge: telemetry from the network's publishers into the same ingest as the Modbus
poller (``wash_ops.network.services``).

Two paho clients, because the two protocols want different sessions:

* plain JSON (``<root>/<site>/<line>/telemetry``): QoS 1, a fixed client id and a persistent
  session (``clean_start=False`` with a session expiry), so the broker keeps what arrives while
  the bridge is away. Messages are acknowledged only after the transaction that stored them has
  committed (``manual_ack``): a bridge killed mid-batch gets them again, and the duplicates are
  recognised by sequence number and stored once.
* Sparkplug B (``spBv1.0/<group>/#``): a clean session, as the specification requires.

The network threads only put messages in a bounded queue and never wait: QoS 1 is throttled by
the broker (at most ``receive_maximum`` unacknowledged messages, fewer than the queue holds);
QoS 0 messages that find the queue full are counted and reported as one dead letter. A writer
thread takes batches from the queue, stores each in one transaction, then acknowledges it.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from plc.background import STOP, next_batch
from wash_ops.config import Settings
from wash_ops.db import unit_of_work, utcnow
from wash_ops.network.kpi import kpi_messages
from wash_ops.network.messages import DeadReason
from wash_ops.network.services import BatchResult, Incoming, NetworkIngest
from wash_ops.network.sparkplug import SPARKPLUG_NAMESPACE
from wash_ops.telemetry.register_map import RegisterMap

log = logging.getLogger(__name__)

BATCH_WAIT_S = 0.05


@dataclass(frozen=True)
class _Queued:
    message: Incoming
    client: mqtt.Client
    mid: int
    qos: int
    generation: int


@dataclass
class BridgeStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    dead: int = 0
    dropped: int = 0
    batches: int = 0
    failed_batches: int = 0
    connects: int = 0
    dead_by_reason: dict[str, int] = field(default_factory=dict)


def mqtt_client(
    settings: Settings,
    client_id: str,
    *,
    persistent: bool,
    manual_ack: bool = False,
) -> mqtt.Client:
    """A paho 2 client for the configured broker: MQTT 5, TLS and login as configured."""
    config = settings.mqtt
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
        manual_ack=manual_ack,
    )
    if config.tls:
        client.tls_set(ca_certs=config.ca_file or None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    if config.username:
        client.username_pw_set(config.username, config.password)
    client.reconnect_delay_set(config.reconnect_min_s, config.reconnect_max_s)  # type: ignore[arg-type]
    return client


def connect_properties(settings: Settings, persistent: bool) -> Properties:
    properties = Properties(PacketTypes.CONNECT)
    if persistent:
        properties.SessionExpiryInterval = settings.mqtt.session_expiry_s
    properties.ReceiveMaximum = settings.mqtt.receive_maximum
    return properties


class MqttBridge:
    def __init__(
        self,
        settings: Settings,
        register_map: RegisterMap,
        session_factory: sessionmaker[Session],
        *,
        client_id: str | None = None,
        host: str | None = None,
        port: int | None = None,
    ) -> None:
        config = settings.mqtt
        self.settings = settings
        self.session_factory = session_factory
        self.host = host or config.host
        self.port = port or config.port
        self.client_id = client_id or config.client_id
        self.register_map = register_map
        self.ingest = NetworkIngest(settings, register_map)
        self.queue: queue.Queue[object] = queue.Queue(maxsize=config.queue_size)
        self.stats = BridgeStats()
        self.max_payload = config.max_payload_bytes
        self.batch_size = config.batch_size
        self.status_topic = f"{config.topic_root}/bridge/{self.client_id}/status"
        self._generation = 0
        self._dropped_reported = 0
        self._stopping = threading.Event()
        self.connected = threading.Event()
        self.json_client = mqtt_client(settings, self.client_id, persistent=True, manual_ack=True)
        self.json_client.will_set(self.status_topic, b"offline", qos=1, retain=True)
        self.json_client.on_connect = self._on_json_connect
        self.json_client.on_disconnect = self._on_disconnect
        self.json_client.on_message = self._on_message
        self.spb_client = mqtt_client(settings, self.client_id + "-spb", persistent=False)
        self.spb_client.on_connect = self._on_spb_connect
        self.spb_client.on_message = self._on_message
        self._writer = threading.Thread(
            target=self._write, name="wash-ops-mqtt-writer", daemon=True
        )
        self._kpis = threading.Thread(target=self._publish_kpis, name="wash-ops-kpi", daemon=True)

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._writer.start()
        self._kpis.start()
        keepalive = self.settings.mqtt.keepalive_s
        self.json_client.connect_async(
            self.host,
            self.port,
            keepalive,
            clean_start=False,
            properties=connect_properties(self.settings, persistent=True),
        )
        self.spb_client.connect_async(
            self.host,
            self.port,
            keepalive,
            clean_start=True,
            properties=connect_properties(self.settings, persistent=False),
        )
        self.json_client.loop_start()
        self.spb_client.loop_start()
        log.info("MQTT bridge connecting to %s:%s as %s", self.host, self.port, self.client_id)

    def stop(self) -> None:
        """Store what is queued, acknowledge it, say offline, and disconnect."""
        self._stopping.set()
        self.queue.put(STOP)
        self._writer.join()
        self._kpis.join()
        if self.json_client.is_connected():
            info = self.json_client.publish(self.status_topic, b"offline", qos=1, retain=True)
            info.wait_for_publish(timeout=2)
        for client in (self.json_client, self.spb_client):
            client.disconnect()
            client.loop_stop()
        log.info("MQTT bridge stopped: %s", self.stats)

    def kill(self) -> None:
        """End abruptly, as a crash would (tests): nothing more is stored or acknowledged."""
        self._stopping.set()
        for client in (self.json_client, self.spb_client):
            client.loop_stop()
            sock = client.socket()
            if sock is not None:
                sock.close()
        self.queue.put(STOP)
        self._writer.join()

    def publish_kpis(self) -> int:
        """Publish every line's KPIs, retained; returns how many were sent."""
        with self.session_factory() as session:
            messages = kpi_messages(session, self.settings, self.register_map, utcnow())
        for topic, payload in messages:
            self.json_client.publish(topic, payload, qos=1, retain=True)
        return len(messages)

    def _publish_kpis(self) -> None:
        interval = self.settings.mqtt.kpi_interval_s
        while not self._stopping.wait(interval):
            if not self.json_client.is_connected():
                continue
            try:
                self.publish_kpis()
            except Exception:  # noqa: BLE001 - KPIs are tried again at the next interval
                log.exception("publishing the KPIs failed")

    # --- network threads: never block -----------------------------------------------------

    def _on_json_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            log.error("MQTT broker refused the bridge: %s", reason_code)
            return
        self._generation += 1
        self.stats.connects += 1
        root = self.settings.mqtt.topic_root
        client.subscribe(f"{root}/#", qos=1)
        client.publish(self.status_topic, b"online", qos=1, retain=True)
        self.connected.set()
        log.info("MQTT bridge connected (session present: %s)", _flags.session_present)

    def _on_spb_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            log.error("MQTT broker refused the Sparkplug client: %s", reason_code)
            return
        client.subscribe(f"{SPARKPLUG_NAMESPACE}/{self.settings.mqtt.sparkplug_group}/#", qos=0)

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        self.connected.clear()
        if not self._stopping.is_set():
            log.warning("MQTT bridge disconnected (%s); reconnecting", reason_code)

    def _on_message(self, client, _userdata, message: mqtt.MQTTMessage) -> None:
        self.stats.received += 1
        payload = message.payload
        size = len(payload)
        if size > self.max_payload:
            payload = payload[: self.max_payload + 1]
        item = _Queued(
            Incoming(message.topic, payload, utcnow(), size),
            client,
            message.mid,
            message.qos,
            self._generation,
        )
        try:
            self.queue.put_nowait(item)
        except queue.Full:
            # Only QoS 0 can get here (QoS 1 is held back by the broker's receive maximum);
            # an unacknowledged QoS 1 message would come again after a reconnect.
            self.stats.dropped += 1

    # --- the writer ---------------------------------------------------------------------------

    def _write(self) -> None:
        while True:
            batch, stopping = next_batch(self.queue, self.batch_size, BATCH_WAIT_S)
            if batch:
                self._store(batch)
            if stopping:
                if self.stats.dropped > self._dropped_reported:
                    try:
                        with unit_of_work(self.session_factory) as session:
                            self._report_overflow(session)
                    except Exception:  # noqa: BLE001 - the log has it; stopping goes on
                        log.exception("recording the dropped messages failed")
                return

    def _store(self, batch: list[_Queued]) -> None:
        messages = [item.message for item in batch]
        delay = 0.1
        while True:
            try:
                with unit_of_work(self.session_factory) as session:
                    result = self.ingest.store(session, messages)
                    self._report_overflow(session)
                break
            except (OperationalError, InterfaceError):
                # The database is away: keep the batch (unacknowledged) and try again.
                if self._stopping.is_set():
                    return
                self.stats.failed_batches += 1
                log.exception("storing %s MQTT messages failed; retrying", len(batch))
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
            except Exception:  # noqa: BLE001 - one bad message must not stop the bridge
                self.stats.failed_batches += 1
                log.exception("a batch of %s MQTT messages failed; storing one by one", len(batch))
                result = self._store_one_by_one(messages)
                break
        self._acknowledge(batch)
        self._count(result)
        for command in result.commands:
            self.spb_client.publish(command.topic, command.payload, qos=0)

    def _store_one_by_one(self, messages: list[Incoming]) -> BatchResult:
        """Each message in its own transaction; one that still fails becomes a dead letter."""
        total = BatchResult()
        for message in messages:
            try:
                with unit_of_work(self.session_factory) as session:
                    result = self.ingest.store(session, [message])
            except (OperationalError, InterfaceError):
                raise
            except Exception as error:  # noqa: BLE001 - kept with its reason instead
                with unit_of_work(self.session_factory) as session:
                    self.ingest.dead_letter(
                        session,
                        message,
                        DeadReason.STORE_FAILED,
                        f"{type(error).__name__}: {error}",
                    )
                total.dead[DeadReason.STORE_FAILED] = total.dead.get(DeadReason.STORE_FAILED, 0) + 1
                continue
            total.stored += result.stored
            total.duplicates += result.duplicates
            total.ignored += result.ignored
            total.commands.extend(result.commands)
            for reason, count in result.dead.items():
                total.dead[reason] = total.dead.get(reason, 0) + count
        return total

    def _acknowledge(self, batch: list[_Queued]) -> None:
        generation = self._generation
        for item in batch:
            if item.qos and item.generation == generation:
                item.client.ack(item.mid, item.qos)

    def _count(self, result: BatchResult) -> None:
        self.stats.batches += 1
        self.stats.stored += result.stored
        self.stats.duplicates += result.duplicates
        self.stats.dead += result.dead_total
        for reason, count in result.dead.items():
            self.stats.dead_by_reason[reason] = self.stats.dead_by_reason.get(reason, 0) + count

    def _report_overflow(self, session: Session) -> None:
        dropped = self.stats.dropped
        if dropped > self._dropped_reported:
            self.ingest.dead_letter(
                session,
                Incoming(self.status_topic, b"", utcnow()),
                DeadReason.OVERFLOW,
                f"{dropped - self._dropped_reported} QoS 0 messages dropped: the queue was full",
            )
            self._dropped_reported = dropped
