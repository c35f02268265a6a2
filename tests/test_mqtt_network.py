"""The whole network path through the command line: a line's edge worker (`wash-ops worker
--publish`) polls the simulator over Modbus and publishes to a real Mosquitto; the central
installation's worker (`wash-ops worker --no-poll`, bridge on) stores what arrives. Every cup
the simulated line washed is counted centrally, exactly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from plc.simulator import start_simulator
from tests.conftest import ROOT
from tests.mqtt_support import Broker
from tests.plc_support import counted, fast_map_file, night_start, wait_for
from tests.test_mqtt import database
from tests.test_plc_faults import TIME_FACTOR, assert_exact, settle
from wash_ops.telemetry.register_map import load_register_map


@pytest.fixture
def central_database(tmp_path, settings):
    url = f"sqlite:///{tmp_path / 'central.sqlite'}"
    engine, factory = database(url, settings)
    yield url, factory
    engine.dispose()


@pytest.fixture
def line(settings):
    """The simulated line, paused before its shift until the test resumes it."""
    with start_simulator(
        load_register_map(environ={}),
        "127.0.0.1",
        0,
        time_factor=TIME_FACTOR,
        start=night_start(settings),
        tick_s=0.05,
        heartbeat_s=0.1,
        paused=True,
    ) as running:
        yield running


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "wash_ops_cli", *command],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _stop(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=30)
    log = process.stderr.read().decode()
    process.stderr.close()
    assert code == 0, log[-2000:]
    return log


def test_an_edge_worker_feeds_the_central_installation_over_mqtt(central_database, line, tmp_path):
    url, central_db = central_database
    simulator = line
    broker = Broker(tmp_path / "broker").start()
    common = {
        **os.environ,
        "WASH_OPS_MQTT__PORT": str(broker.port),
        "WASH_OPS_MQTT__KPI_INTERVAL_S": "0.5",
        "WASH_OPS_REGISTER_MAP": str(fast_map_file(tmp_path / "map.toml", simulator.port)),
    }
    central = _start(
        ["worker", "--no-poll"],
        {**common, "WASH_OPS_DATABASE_URL": url, "WASH_OPS_MQTT__ENABLED": "true"},
    )
    edge = _start(
        ["worker", "--publish"],
        {
            **common,
            "WASH_OPS_DATABASE_URL": "sqlite:////nonexistent/edge-has-no-database.sqlite",
            "WASH_OPS_MQTT__BUFFER_PATH": str(tmp_path / "edge" / "buffer.sqlite"),
        },
    )
    try:
        settle(central_db)
        simulator.simulator.resume()
        wait_for(lambda: counted(central_db, "cups_washed") > 1000, 30, "cups counted centrally")
        simulator.simulator.pause()
        settle(central_db)
    finally:
        edge_log = _stop(edge)
        central_log = _stop(central)
        broker.close()
    assert "edge connected" in edge_log
    assert "MQTT bridge connected" in central_log and "worker stopped" in central_log
    assert_exact(central_db, simulator.simulator)
