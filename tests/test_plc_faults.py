"""The worker against the line simulator over real TCP: faults never lose or double a cup."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from plc.simulator import start_simulator
from plc.worker import Worker
from tests.conftest import ROOT
from tests.plc_support import (
    counted,
    fast_map,
    fast_map_file,
    live,
    night_start,
    wait_for,
)
from wash_ops.catalogue.services import sync_from_settings
from wash_ops.config import load_settings
from wash_ops.db import make_engine, make_session_factory, unit_of_work, utcnow
from wash_ops.migrate import upgrade
from wash_ops.telemetry.models import LineReading
from wash_ops.telemetry.queries import line_status
from wash_ops.telemetry.register_map import load_register_map
from wash_ops_cli import main

TIME_FACTOR = 3000  # a simulated hour in 1.2 s
COUNTERS = ("cups_washed", "cups_rejected", "water", "energy")


@pytest.fixture(scope="module")
def register_map():
    return load_register_map(environ={})


@pytest.fixture
def line_database(tmp_path, settings):
    """A committed SQLite database the worker's threads (or process) share with the test."""
    url = f"sqlite:///{tmp_path / 'line.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        sync_from_settings(session, settings)
    yield url, factory
    engine.dispose()


@pytest.fixture
def simulator(register_map, settings):
    """A paused line before its shift: ``resume()`` once the worker has taken its baseline."""
    with start_simulator(
        register_map,
        "127.0.0.1",
        0,
        time_factor=TIME_FACTOR,
        start=night_start(settings),
        tick_s=0.05,
        heartbeat_s=0.1,
        paused=True,
    ) as running:
        yield running


def run_worker(settings, register_map, factory, port):
    worker = Worker(settings, fast_map(register_map, port), factory, schedule=False)
    worker.start()
    return worker


def settle(factory, readings: int = 2) -> None:
    """Wait until readings that began after this call are in the database, so that what the
    line showed at the call is stored (a queued reading from before does not count)."""
    since = utcnow()
    for _ in range(readings):
        since = wait_for(lambda after=since: _stored_after(factory, after), what="a fresh reading")


def _stored_after(factory, moment):
    found = live(factory)
    if found is not None and found.last_good_at is not None and found.last_good_at > moment:
        return found.last_good_at
    return None


def during_a_stop(simulator, factory, action) -> None:
    """Faults that change a register by hand are done with the line paused and read, as a
    PLC restart stops the line: cups counted in the instant of a reset cannot be known."""
    simulator.pause()
    settle(factory)
    action()
    settle(factory)
    simulator.resume()


def assert_exact(factory, simulator) -> None:
    truth = simulator.truth()
    assert {tag: counted(factory, tag) for tag in COUNTERS} == {tag: truth[tag] for tag in COUNTERS}


def test_fifty_drops_a_reset_and_a_rollover_count_exactly(
    line_database, simulator, register_map, settings, caplog
):
    _url, factory = line_database
    caplog.set_level(logging.INFO, logger="wash_ops.telemetry.ingest")
    line = simulator.simulator
    worker = run_worker(settings, register_map, factory, simulator.port)
    try:
        settle(factory)
        line.resume()
        wait_for(lambda: line.truth()["cups_washed"] > 2000, what="the shift to start")
        for drop in range(50):
            settle(factory, readings=1)
            assert line.drop_connections() >= 0
            if drop == 15:
                during_a_stop(line, factory, line.reset_counters)
            if drop == 30:
                during_a_stop(line, factory, lambda: line.jump_counter("cups_washed", 2**32 - 1500))
        wait_for(lambda: line.snapshot()["cups_washed"] < 2**31, what="the counter to roll over")
        line.pause()
        settle(factory)
    finally:
        worker.stop()
    assert_exact(factory, line)
    assert "rollover" in caplog.text and "restart" in caplog.text
    assert worker.poller.connects > 50  # every drop was felt and mended


def test_worker_killed_and_restarted_mid_day_is_still_exact(
    line_database, simulator, tmp_path, settings
):
    url, factory = line_database
    env = {
        **os.environ,
        "WASH_OPS_DATABASE_URL": url,
        "WASH_OPS_REGISTER_MAP": str(fast_map_file(tmp_path / "map.toml", simulator.port)),
    }
    command = [sys.executable, "-m", "wash_ops_cli", "worker"]
    first = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        settle(factory)
        simulator.simulator.resume()
        wait_for(
            lambda: simulator.simulator.truth()["cups_washed"] > 3000, what="the shift to start"
        )
        wait_for(lambda: counted(factory, "cups_washed") > 1000, what="counting")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        first.stderr.close()
    after_kill = counted(factory, "cups_washed")
    wait_for(
        lambda: simulator.simulator.truth()["cups_washed"] > after_kill + 3000,
        what="the line to go on",
    )
    second = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for(lambda: counted(factory, "cups_washed") > after_kill + 3000, what="counting again")
        simulator.simulator.pause()
        settle(factory)
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=20) == 0
        log = second.stderr.read().decode()
        second.stderr.close()
    assert "worker stopped" in log
    assert_exact(factory, simulator.simulator)


def test_worker_waits_for_a_plc_that_is_not_there_yet(line_database, register_map, settings):
    _url, factory = line_database
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    worker = run_worker(settings, register_map, factory, port)
    try:
        wait_for(
            lambda: (live(factory) or 0) and live(factory).failed_readings >= 2, what="failed reads"
        )
        assert counted(factory, "cups_washed") == -1
        with start_simulator(
            register_map,
            "127.0.0.1",
            port,
            time_factor=TIME_FACTOR,
            start=night_start(settings),
            tick_s=0.05,
            paused=True,
        ) as running:
            settle(factory)
            running.simulator.resume()
            wait_for(
                lambda: counted(factory, "cups_washed") > 1000, what="counting once the PLC is up"
            )
            running.simulator.pause()
            settle(factory)
            assert_exact(factory, running.simulator)
    finally:
        worker.stop()


def test_frozen_heartbeat_turns_stale_and_back(line_database, simulator, register_map):
    _url, factory = line_database
    settings = load_settings(environ={"WASH_OPS_TELEMETRY__STALE_AFTER_S": "0.6"})
    worker = run_worker(settings, register_map, factory, simulator.port)
    simulator.simulator.resume()

    def stale() -> bool:
        with factory() as session:
            status = line_status(
                session, 1, register_map, utcnow(), timedelta(seconds=0.6), settings.zone
            )
        return status.stale

    try:
        wait_for(lambda: not stale(), what="fresh data")
        simulator.simulator.freeze_heartbeat(True)
        wait_for(stale, timeout=5, what="stale status")
        simulator.simulator.freeze_heartbeat(False)
        wait_for(lambda: not stale(), timeout=5, what="fresh again")
    finally:
        worker.stop()


def gauge_values_stored(session) -> int:
    """Gauge values in the stored readings, whatever their tag."""
    return sum(len(gauges) for gauges in session.scalars(select(LineReading.gauges)))


def test_exceptions_and_garbage_are_logged_never_stored(
    line_database, simulator, register_map, settings, caplog
):
    _url, factory = line_database
    worker = run_worker(settings, register_map, factory, simulator.port)
    line = simulator.simulator
    line.resume()
    try:
        settle(factory)
        with factory() as session:
            before = gauge_values_stored(session)
        failed = live(factory).failed_readings
        line.answer_with_exceptions(True)
        wait_for(lambda: live(factory).failed_readings >= failed + 5, what="exception responses")
        with factory() as session:
            during = gauge_values_stored(session)
        line.answer_with_exceptions(False)
        settle(factory)
        assert during - before <= 9 * 2  # at most the readings in flight when the fault began
        with caplog.at_level(logging.WARNING):
            line.garbage("rinse_temperature", 30000)  # 3000 °C
            wait_for(lambda: live(factory).rejected_values > 0, what="a rejected value")
            line.garbage("rinse_temperature", None)
            settle(factory)
        with factory() as session:
            hottest = session.scalar(select(func.max(LineReading.gauge("rinse_temperature"))))
        assert hottest < 110
        assert "rinse_temperature" in caplog.text and "exception response" in caplog.text
        assert worker.poller.cycles > 0 and worker.polling.is_alive()
    finally:
        worker.stop()


def test_a_bad_register_map_stops_start_up(tmp_path, monkeypatch, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(
        fast_map_file(tmp_path / "ok.toml", 5020)
        .read_text()
        .replace('type = "int16"', 'type = "int24"', 1)
    )
    monkeypatch.setenv("WASH_OPS_REGISTER_MAP", str(bad))
    monkeypatch.setenv("WASH_OPS_DATABASE_URL", f"sqlite:///{tmp_path / 'x.sqlite'}")
    assert main(["worker"]) == 2
    error = capsys.readouterr().err
    assert "wash_temperature" in error and "type" in error
