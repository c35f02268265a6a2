"""Edge mode (``wash-ops worker --publish``): the line's worker polls its PLC over Modbus and
publishes the readings to the central broker instead of writing to a database.

JSON (``mqtt.publish_format = "json"``, the default) goes with QoS 1 on a persistent session.
Sparkplug B (``"sparkplug"``) uses a clean session, as the specification requires: an NBIRTH
after every connect (and on an NCMD rebirth request) with names and aliases, then NDATA with
aliases, QoS 0, an NDEATH with the session's bdSeq as the will. QoS 0 has no acknowledgement: a
reading leaves the buffer once paho has written it to the socket, and what was sent but not
written when the connection broke is sent again after the next birth (the centre skips data not
newer than what it stored).

Store and forward: every reading goes first into a local SQLite buffer (bounded: the oldest go
when it is full), and is deleted from it only when the broker has acknowledged it (QoS 1). The
buffer's row id is the message's sequence number, so a message sent again after a restart is
recognised centrally as a duplicate. paho is fed a bounded window of unacknowledged messages
(its in-flight table is keyed by 16-bit message ids); the rest wait on disk, in order.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections import deque
from datetime import datetime
from pathlib import Path

from plc.background import PollingThread, wait_for_signal
from plc.mqtt_bridge import connect_properties, mqtt_client
from plc.poller import Poller
from wash_ops.config import Settings
from wash_ops.network.messages import encode_json
from wash_ops.network.sparkplug import (
    REBIRTH_METRIC,
    SparkplugEncoder,
    decode_payload,
    host_state_topic,
    parse_host_state,
)
from wash_ops.telemetry.ingest import Quality, Reading
from wash_ops.telemetry.register_map import RegisterMap

log = logging.getLogger(__name__)

IDLE_S = 0.05


class ReadingBuffer:
    """Readings on disk in arrival order; ``id`` is the sequence number (never reused)."""

    def __init__(self, path: Path, limit: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.limit = limit
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS readings ("
            "id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, metrics TEXT NOT NULL)"
        )
        self.dropped = 0

    def append(self, readings: list[Reading]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany(
                "INSERT INTO readings (at, metrics) VALUES (?, ?)",
                [(r.at.isoformat(), json.dumps(dict(r.values))) for r in readings],
            )
            excess = self.count() - self.limit
            if excess > 0:
                self.db.execute(
                    "DELETE FROM readings WHERE id IN "
                    "(SELECT id FROM readings ORDER BY id LIMIT ?)",
                    (excess,),
                )
                self.dropped += excess
                log.warning("edge buffer full: the %s oldest readings were dropped", excess)

    def after(self, last_id: int, limit: int) -> list[tuple[int, datetime, dict]]:
        rows = self.db.execute(
            "SELECT id, at, metrics FROM readings WHERE id > ? ORDER BY id LIMIT ?",
            (last_id, limit),
        ).fetchall()
        return [(row[0], datetime.fromisoformat(row[1]), json.loads(row[2])) for row in rows]

    def delete(self, ids: list[int]) -> None:
        with self.db:
            self.db.execute("BEGIN")
            self.db.executemany("DELETE FROM readings WHERE id = ?", [(i,) for i in ids])

    def count(self) -> int:
        return self.db.execute("SELECT count(*) FROM readings").fetchone()[0]

    def close(self) -> None:
        self.db.close()


class EdgePublisher:
    """Takes readings from the poller (never blocking it) and forwards them to the broker."""

    def __init__(
        self,
        settings: Settings,
        *,
        buffer_path: Path | None = None,
        host: str | None = None,
        port: int | None = None,
        client_id: str | None = None,
        register_map: RegisterMap | None = None,
    ) -> None:
        config = settings.mqtt
        self.settings = settings
        self.sparkplug: SparkplugEncoder | None = None
        if config.publish_format == "sparkplug":
            if register_map is None:
                raise ValueError("Sparkplug publishing needs the register map")
            node = next(
                (
                    entry.node
                    for entry in config.sparkplug_nodes
                    if entry.line_code == settings.line.code and not entry.device
                ),
                f"{settings.site.code}-{settings.line.code}",
            )
            self.sparkplug = SparkplugEncoder(settings, register_map, config.sparkplug_group, node)
        self.host = host or config.host
        self.port = port or config.port
        self.window = config.publish_window
        self.topic = f"{config.topic_root}/{settings.site.code}/{settings.line.code}/telemetry"
        self.status_topic = f"{config.topic_root}/{settings.site.code}/{settings.line.code}/status"
        self.buffer = ReadingBuffer(
            buffer_path or Path(config.buffer_path), config.buffer_max_readings
        )
        self.incoming: queue.Queue[Reading] = queue.Queue(maxsize=config.queue_size)
        self.client = mqtt_client(
            settings,
            client_id or f"wash-ops-edge-{settings.site.code}-{settings.line.code}",
            persistent=self.sparkplug is None,
        )
        if self.sparkplug is None:
            self.client.will_set(self.status_topic, b"offline", qos=1, retain=True)
        else:
            self.client.will_set(self.sparkplug.topic("NDEATH"), self.sparkplug.death(), qos=1)
            self.client.on_message = self._on_message
        # Sparkplug: the primary host application whose STATE says when data may go out.
        self.primary_host = config.sparkplug_primary_host if self.sparkplug else ""
        self.primary_host_topic = host_state_topic(self.primary_host)
        self._host_online = threading.Event()
        if not self.primary_host:
            self._host_online.set()
        self._host_since = -1
        self._will_bd_seq = self.sparkplug.bd_seq if self.sparkplug else 0
        self._birth_bd_seq = self._will_bd_seq
        self._reconnected = threading.Event()
        self._rebirth = threading.Event()
        self.client.on_connect = self._on_connect
        self.client.on_publish = self._on_publish
        self._acked: deque[int] = deque()
        self._inflight: dict[int, int] = {}  # paho mid -> buffer id
        self._last_sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wash-ops-edge", daemon=True)
        self.sent = 0
        self.confirmed = 0
        self.lost = 0

    def put(self, reading: Reading) -> None:
        """The poller's sink: failed reads are not published (the centre sees the line stale)."""
        if reading.quality is not Quality.GOOD:
            return
        try:
            self.incoming.put_nowait(reading)
        except queue.Full:
            self.lost += 1
            log.error("edge queue full: a reading from %s is dropped", reading.at)

    def start(self) -> None:
        persistent = self.sparkplug is None
        self.client.connect_async(
            self.host,
            self.port,
            self.settings.mqtt.keepalive_s,
            clean_start=not persistent,
            properties=connect_properties(self.settings, persistent=persistent),
        )
        self.client.loop_start()
        self._thread.start()

    def stop(self, drain_s: float = 5.0) -> None:
        """Buffer what is queued, wait a little for outstanding acknowledgements, disconnect;
        what the broker has not confirmed stays in the buffer for the next start."""
        deadline = time.monotonic() + drain_s
        while time.monotonic() < deadline and (
            not self.incoming.empty() or (self.client.is_connected() and self.pending())
        ):
            time.sleep(IDLE_S)
        self._stop.set()
        self._thread.join()
        if self.sparkplug is not None and self.client.is_connected():
            # A clean disconnect sends no will: say it ourselves, with this session's bdSeq.
            self.sparkplug.bd_seq = self._birth_bd_seq
            death = self.sparkplug.death()
            self.client.publish(self.sparkplug.topic("NDEATH"), death, qos=1).wait_for_publish(2)
        self.client.disconnect()
        self.client.loop_stop()
        self.buffer.close()

    def pending(self) -> int:
        return self.buffer.count()

    def _on_connect(self, client, _userdata, flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            log.error("central broker refused the edge worker: %s", reason_code)
            return
        if self.sparkplug is None:
            client.publish(self.status_topic, b"online", qos=1, retain=True)
        else:
            client.subscribe(self.sparkplug.topic("NCMD"), qos=0)
            if self.primary_host:
                client.subscribe(self.primary_host_topic, qos=1)
            self._reconnected.set()
        log.info(
            "edge connected to %s:%s (session present: %s)",
            self.host,
            self.port,
            flags.session_present,
        )

    def _on_publish(self, _client, _userdata, mid, _reason_code, _properties) -> None:
        self._acked.append(mid)

    def _on_message(self, client, userdata, message) -> None:
        if self.primary_host and message.topic == self.primary_host_topic:
            self._on_host_state(message.payload)
        else:
            self._on_command(client, userdata, message)

    def _on_host_state(self, payload: bytes) -> None:
        """The primary host's STATE: data goes out only while it is online, and a new NBIRTH
        first when it comes (back) online; a state older than the last one seen is ignored."""
        state = parse_host_state(payload)
        if state is None:
            log.warning("edge: a STATE message of the primary host that does not parse was ignored")
            return
        online, timestamp = state
        if timestamp < self._host_since:
            return
        self._host_since = timestamp
        if online and not self._host_online.is_set():
            self._rebirth.set()
            self._host_online.set()
            log.info("edge: primary host %s online; sending", self.primary_host)
        elif not online and self._host_online.is_set():
            self._host_online.clear()
            log.warning("edge: primary host %s offline; keeping readings", self.primary_host)

    def _on_command(self, _client, _userdata, message) -> None:
        """An NCMD: a rebirth request is answered with a new NBIRTH."""
        try:
            payload = decode_payload(message.payload)
        except Exception:  # noqa: BLE001 - a command that does not decode is ignored
            log.warning("edge: an NCMD that does not decode was ignored")
            return
        if any(m.name == REBIRTH_METRIC and m.boolean_value for m in payload.metrics):
            self._rebirth.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            worked = self._take_incoming()
            worked |= self._forget_confirmed()
            worked |= self._send()
            if not worked:
                time.sleep(IDLE_S)
        self._take_incoming()
        self._forget_confirmed()

    def _take_incoming(self) -> bool:
        readings: list[Reading] = []
        while True:
            try:
                readings.append(self.incoming.get_nowait())
            except queue.Empty:
                break
        if readings:
            self.buffer.append(readings)
        return bool(readings)

    def _forget_confirmed(self) -> bool:
        done = []
        while self._acked:
            buffer_id = self._inflight.pop(self._acked.popleft(), None)
            if buffer_id is not None:
                done.append(buffer_id)
        if done:
            self.buffer.delete(done)
            self.confirmed += len(done)
        return bool(done)

    def _send(self) -> bool:
        if self.sparkplug is not None:
            return self._send_sparkplug(self.sparkplug)
        room = self.window - len(self._inflight)
        if room <= 0 or not self.client.is_connected():
            return False
        rows = self.buffer.after(self._last_sent, room)
        for buffer_id, at, metrics in rows:
            info = self.client.publish(self.topic, encode_json(at, buffer_id, metrics), qos=1)
            self._inflight[info.mid] = buffer_id
            self._last_sent = buffer_id
            self.sent += 1
        return bool(rows)

    def _send_sparkplug(self, encoder: SparkplugEncoder) -> bool:
        if self._reconnected.is_set():
            # A new session: what was handed to paho but not written goes again, after a birth.
            self._reconnected.clear()
            self._inflight.clear()
            self._acked.clear()
            self._last_sent = 0
            self._birth_bd_seq = self._will_bd_seq
            encoder.next_session()
            self._will_bd_seq = encoder.bd_seq
            self.client.will_set(encoder.topic("NDEATH"), encoder.death(), qos=1)
            self._rebirth.set()
        room = self.window - len(self._inflight)
        if room <= 0 or not self.client.is_connected() or not self._host_online.is_set():
            return False
        rows = self.buffer.after(self._last_sent, room)
        for buffer_id, at, metrics in rows:
            if self._rebirth.is_set():
                self._rebirth.clear()
                encoder.bd_seq = self._birth_bd_seq
                payload = encoder.birth(at, metrics)
                encoder.bd_seq = self._will_bd_seq
                info = self.client.publish(encoder.topic("NBIRTH"), payload, qos=0)
            else:
                info = self.client.publish(encoder.topic("NDATA"), encoder.data(at, metrics), qos=0)
            self._inflight[info.mid] = buffer_id
            self._last_sent = buffer_id
            self.sent += 1
        return bool(rows)


class EdgeWorker:
    """The Modbus poller feeding the edge publisher, in background threads."""

    def __init__(
        self,
        settings: Settings,
        register_map: RegisterMap,
        *,
        host: str | None = None,
        port: int | None = None,
        publisher: EdgePublisher | None = None,
    ) -> None:
        self.publisher = publisher or EdgePublisher(settings, register_map=register_map)
        self.poller = Poller(register_map, self.publisher.put, host=host, port=port)
        self.polling = PollingThread(self.poller)

    def start(self) -> None:
        self.publisher.start()
        self.polling.start()

    def stop(self) -> None:
        self.polling.stop()
        self.publisher.stop()

    def run_until_signalled(self) -> None:
        done = wait_for_signal()
        self.start()
        log.info(
            "edge worker polling %s:%s, publishing to %s:%s",
            self.poller.host,
            self.poller.port,
            self.publisher.host,
            self.publisher.port,
        )
        done.wait()
        self.stop()
