"""A real Mosquitto for the MQTT tests: started on a free port with a temporary configuration,
restartable (with persistence) in the middle of a test."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import socket
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from tests.conftest import unavailable

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Broker:
    """``mosquitto`` with its own configuration, port and persistence folder."""

    def __init__(self, folder: Path, *, persistence: bool = True) -> None:
        binary = shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
        )
        self.external = None
        if binary is None:
            url = os.environ.get("WASH_OPS_TEST_MQTT_URL")
            if not url:
                unavailable(
                    "Mosquitto: the mosquitto binary is not installed "
                    "and WASH_OPS_TEST_MQTT_URL is not set"
                )
            self.external = urlsplit(url)
        self.binary = binary or ""
        self.folder = folder
        self.port = self.external.port or 1883 if self.external else free_port()
        self.config = folder / "mosquitto.conf"
        folder.mkdir(parents=True, exist_ok=True)
        # The broker's defaults drop messages to a slow subscriber (max_queued_messages 1000):
        # raised here as in the project's production configuration (config/mosquitto/).
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            f"user {getpass.getuser()}\n"
            f"persistence {'true' if persistence else 'false'}\n"
            f"persistence_location {folder}/\n"
            "autosave_interval 3600\n"
            "max_queued_messages 200000\n"
            "max_inflight_messages 1000\n"
            "log_dest none\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Broker:
        if self.external is not None:
            return self  # a broker of the environment's (WASH_OPS_TEST_MQTT_URL)
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"mosquitto ended: {self.process.stderr.read().decode()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.02)
        raise RuntimeError("mosquitto did not open its port")

    def stop(self) -> None:
        """A clean stop: the broker writes its persistence file."""
        if self.external is not None:
            unavailable("stopping the broker needs the tests' own mosquitto")
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
                self.process.wait(timeout=10)
            if self.process.stderr is not None:
                self.process.stderr.close()
        self.process = None

    def close(self) -> None:
        """The end of a test: stop the tests' own broker; leave an external one alone."""
        if self.external is None:
            self.stop()

    def restart(self) -> None:
        if self.external is not None:
            unavailable("restarting the broker needs the tests' own mosquitto")
        self.stop()
        self.start()


def publisher(
    port: int, client_id: str = "test-publisher", *, persistent: bool = True
) -> mqtt.Client:
    """A paho client that keeps its QoS 1 messages until the broker has them."""
    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5,
    )
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    client.reconnect_delay_set(0.1, 0.5)  # type: ignore[arg-type]
    properties = Properties(PacketTypes.CONNECT)
    if persistent:
        properties.SessionExpiryInterval = 3600
    client.connect("127.0.0.1", port, 30, clean_start=not persistent, properties=properties)
    client.loop_start()
    return client


def telemetry(seq: int, **extra: float | int) -> bytes:
    """A JSON telemetry message: a second per sequence number, a cup per message."""
    metrics: dict[str, float | int] = {
        "speed": seq % 12000,
        "wash_temperature": 60.5,
        "cups_washed": 1000 + seq,
        **extra,
    }
    at = T0 + timedelta(seconds=seq)
    return json.dumps({"time": at.isoformat(), "seq": seq, "metrics": metrics}).encode()


def full_tag_set(seq: int) -> dict[str, float | int]:
    """Every tag of the simulator's register map, with plausible values."""
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
