"""Helpers for the tests that run the worker against the simulator over real TCP."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wash_ops.config import Settings
from wash_ops.telemetry.models import CounterCursor, LineLive
from wash_ops.telemetry.register_map import DEFAULT_REGISTER_MAP, RegisterMap

POLL_S = 0.05


def fast_map(register_map: RegisterMap, port: int) -> RegisterMap:
    device = register_map.device.model_copy(
        update={"port": port, "poll_interval_s": POLL_S, "timeout_s": 0.5}
    )
    return register_map.model_copy(update={"device": device})


def fast_map_file(path: Path, port: int) -> Path:
    """The default map with the simulator's port and a fast poll, for a worker process."""
    text = DEFAULT_REGISTER_MAP.read_text()
    text = text.replace("port = 5020", f"port = {port}").replace(
        "poll_interval_s = 1.0", f"poll_interval_s = {POLL_S}"
    )
    path.write_text(text)
    return path


def night_start(settings: Settings) -> datetime:
    """A simulated start before the shift: the line counts nothing until it starts."""
    today = datetime.now(settings.zone).date()
    return datetime.combine(today, datetime.min.time()) + timedelta(hours=4, minutes=30)


def wait_for(
    condition: Callable[[], object], timeout: float = 20.0, what: str = "condition"
) -> object:
    """Poll ``condition`` until it is truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def counted(factory: sessionmaker[Session], tag: str) -> int:
    with factory() as session:
        cursor = session.scalar(select(CounterCursor).where(CounterCursor.tag == tag))
        return cursor.total if cursor is not None else -1


def live(factory: sessionmaker[Session]) -> LineLive | None:
    with factory() as session:
        return session.scalar(select(LineLive))
