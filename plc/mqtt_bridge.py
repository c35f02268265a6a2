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
QoS 0 messages that find the queue full are counted and reported as one dead letter. A
forwarding thread takes batches off the queue and hands them to the store (``plc.mqtt_store``:
a process of its own by default), which stores each in one transaction; when a batch's outcome
comes back, its messages are acknowledged.
"""

from __future__ import annotations

import itertools
import logging
import ssl
import threading
import time
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from sqlalchemy.orm import Session, sessionmaker

from plc.background import Inbox
from plc.mqtt_store import Batch, BatchStorer, Stored, StoreGone, StoreProcess, StoreThread
from wash_ops.config import Settings
from wash_ops.db import utcnow
from wash_ops.network.kpi import kpi_messages
from wash_ops.network.services import check_network_config
from wash_ops.network.sparkplug import SPARKPLUG_NAMESPACE, host_state, host_state_topic
from wash_ops.telemetry.register_map import RegisterMap

log = logging.getLogger(__name__)

BATCH_WAIT_S = 0.05
RESTART_DELAY_S = 1.0
STOP_TIMEOUT_S = 30.0


# A message on its way to the store: topic, payload, time received (epoch seconds), size as
# received; then what acknowledging it takes: its client, mid, QoS and session generation.
Message = tuple[str, bytes, float, int, mqtt.Client, int, int, int]


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
    store_restarts: int = 0
    store_cpu_s: float = 0.0
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
        check_network_config(settings, register_map)
        self.settings = settings
        self.register_map = register_map
        self.session_factory = session_factory
        self.host = host or config.host
        self.port = port or config.port
        self.client_id = client_id or config.client_id
        self.queue: Inbox[Message] = Inbox(config.queue_size)
        self.stats = BridgeStats()
        self.max_payload = config.max_payload_bytes
        self.batch_size = config.batch_size
        self.status_topic = f"{config.topic_root}/bridge/{self.client_id}/status"
        self._generation = 0
        self._dropped_reported = 0
        self._stopping = threading.Event()
        self._killed = False
        self.connected = threading.Event()
        # Batches handed to the store and not yet stored, by number: the batch, and for each
        # of its messages what acknowledging it takes (client, mid, qos, session generation).
        self._pending: dict[int, tuple[Batch, list[tuple[mqtt.Client, int, int, int]]]] = {}
        self._pending_lock = threading.Lock()
        self._numbers = itertools.count(1)
        self.json_client = mqtt_client(settings, self.client_id, persistent=True, manual_ack=True)
        self.json_client.will_set(self.status_topic, b"offline", qos=1, retain=True)
        self.json_client.on_connect = self._on_json_connect
        self.json_client.on_disconnect = self._on_disconnect
        self.json_client.on_message = self._on_message
        self.spb_client = mqtt_client(settings, self.client_id + "-spb", persistent=False)
        # The host's birth and death certificates carry the same time (the specification asks
        # the death, set as the will at connect, to match the birth that follows).
        self.host_state_topic = host_state_topic(config.sparkplug_host_id)
        self._host_born_ms = int(time.time() * 1000)
        self.spb_client.will_set(
            self.host_state_topic, host_state(False, self._host_born_ms), qos=1, retain=True
        )
        self.spb_client.on_connect = self._on_spb_connect
        self.spb_client.on_message = self._on_message
        self._store = self._new_store()
        self._forwarder = threading.Thread(
            target=self._forward, name="wash-ops-mqtt-forwarder", daemon=True
        )
        self._kpis = threading.Thread(target=self._publish_kpis, name="wash-ops-kpi", daemon=True)

    # --- life cycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._store.start()
        self._forwarder.start()
        self._kpis.start()
        keepalive = self.settings.mqtt.keepalive_s
        for client, persistent in ((self.json_client, True), (self.spb_client, False)):
            client.connect_async(
                self.host,
                self.port,
                keepalive,
                clean_start=not persistent,
                properties=connect_properties(self.settings, persistent=persistent),
            )
            client.loop_start()
        log.info("MQTT bridge connecting to %s:%s as %s", self.host, self.port, self.client_id)

    def stop(self) -> None:
        """Store what is queued, acknowledge it, say offline, and disconnect. A store that
        cannot finish within ``STOP_TIMEOUT_S`` (the database is away) is ended: the broker
        sends again what was not acknowledged."""
        self._stopping.set()
        self.queue.close()
        self._forwarder.join(timeout=STOP_TIMEOUT_S)
        if self._forwarder.is_alive() or not self._store.close(timeout=STOP_TIMEOUT_S):
            log.warning("the MQTT store did not finish in %s s; ending it", STOP_TIMEOUT_S)
            self._killed = True
            self._store.kill()
            self._forwarder.join()
        self._kpis.join()
        if self.json_client.is_connected():
            info = self.json_client.publish(self.status_topic, b"offline", qos=1, retain=True)
            info.wait_for_publish(timeout=2)
        if self.spb_client.is_connected():
            death = host_state(False, self._host_born_ms)
            info = self.spb_client.publish(self.host_state_topic, death, qos=1, retain=True)
            info.wait_for_publish(timeout=2)
        for client in (self.json_client, self.spb_client):
            client.disconnect()
            client.loop_stop()
        log.info("MQTT bridge stopped: %s", self.stats)

    def kill(self) -> None:
        """End abruptly, as a crash would (tests): nothing more is stored or acknowledged."""
        self._killed = True
        self._stopping.set()
        for client in (self.json_client, self.spb_client):
            client.loop_stop()
            sock = client.socket()
            if sock is not None:
                sock.close()
        self._store.kill()
        self.queue.close()
        self._forwarder.join()

    def store_pid(self) -> int | None:
        """The store process's id (None: it stores in a thread of this process)."""
        return getattr(self._store, "pid", None)

    def is_alive(self) -> bool:
        """The forwarding thread runs (the store is restarted when it ends)."""
        return self._forwarder.is_alive()

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
        birth = host_state(True, self._host_born_ms)
        client.publish(self.host_state_topic, birth, qos=1, retain=True)

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
        item = (
            message.topic,
            payload,
            time.time(),
            size,
            client,
            message.mid,
            message.qos,
            self._generation,
        )
        if not self.queue.put(item):
            # Only QoS 0 can get here (QoS 1 is held back by the broker's receive maximum);
            # an unacknowledged QoS 1 message would come again after a reconnect.
            self.stats.dropped += 1

    # --- to the store and back ----------------------------------------------------------------

    def _new_store(self) -> StoreProcess | StoreThread:
        if self.settings.mqtt.store_process:
            url = self.session_factory.kw["bind"].url.render_as_string(hide_password=False)
            return StoreProcess(
                self.settings, self.register_map, url, self.status_topic, self._stored
            )
        storer = BatchStorer(
            self.settings,
            self.register_map,
            self.session_factory,
            self.status_topic,
            stopping=self._stopping.is_set,
        )
        return StoreThread(storer, self._stored)

    def _forward(self) -> None:
        while True:
            items, stopping = self.queue.take(self.batch_size, BATCH_WAIT_S)
            dropped = self.stats.dropped - self._dropped_reported
            if items or dropped:
                self._dropped_reported += dropped
                raw = [(topic, payload, at, size) for topic, payload, at, size, *_ in items]
                batch = Batch(next(self._numbers), raw, dropped)
                acks = [
                    (client, mid, qos, generation) for *_, client, mid, qos, generation in items
                ]
                with self._pending_lock:
                    self._pending[batch.number] = (batch, acks)
                self._send(batch)
            if stopping:
                return

    def _send(self, batch: Batch) -> None:
        while not self._killed:
            try:
                self._store.send(batch)
                return
            except StoreGone as gone:
                log.error("the MQTT store ended (%s); starting it again", gone)
            except Exception:  # noqa: BLE001 - the forwarder must go on with the next batch
                log.exception("storing a batch of %s MQTT messages failed", len(batch.messages))
                return
            self._restart_store(before=batch.number)

    def _restart_store(self, before: int) -> None:
        """A new store, sent again the batches before ``before`` that were not stored."""
        self.stats.store_restarts += 1
        time.sleep(RESTART_DELAY_S)
        if self._killed:
            return
        self._store = self._new_store()
        self._store.start()
        with self._pending_lock:
            earlier = [
                sent for number, (sent, _) in sorted(self._pending.items()) if number < before
            ]
        try:
            for sent in earlier:
                self._store.send(sent)
        except StoreGone:
            pass  # _send finds it gone again and starts another

    def _stored(self, outcome: Stored) -> None:
        """A batch's transaction committed: acknowledge its messages, count, answer."""
        with self._pending_lock:
            pending = self._pending.pop(outcome.number, None)
        if pending is None:
            return  # stored again after the store was restarted: counted the first time
        acks = pending[1]
        generation = self._generation
        for client, mid, qos, sent_in in acks:
            if qos and sent_in == generation:
                client.ack(mid, qos)
        result = outcome.result
        stats = self.stats
        stats.batches += 1
        stats.failed_batches += outcome.failed_attempts
        stats.store_cpu_s += outcome.cpu_s
        stats.stored += result.stored
        stats.duplicates += result.duplicates
        stats.dead += result.dead_total
        for reason, count in result.dead.items():
            stats.dead_by_reason[reason] = stats.dead_by_reason.get(reason, 0) + count
        for command in result.commands:
            self.spb_client.publish(command.topic, command.payload, qos=0)
