"""JSON telemetry through the network service, without a broker: duplicates by sequence number
and time in any order, late messages, a restarted publisher."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from tests.mqtt_support import T0, telemetry
from wash_ops.db import utcnow
from wash_ops.network.models import NetworkSource, ReceivedMessage
from wash_ops.network.services import Incoming, NetworkIngest
from wash_ops.telemetry.models import CounterCursor, LineLive, LineReading
from wash_ops.telemetry.register_map import load_register_map

TOPIC = "wash-ops/GEN/L1/telemetry"


def send(db, ingest, *payloads):
    now = utcnow()
    return ingest.store(db, [Incoming(TOPIC, payload, now) for payload in payloads])


def speed_samples(db) -> int:
    return db.scalar(
        select(func.count()).select_from(LineReading).where(LineReading.gauge("speed").is_not(None))
    )


def test_out_of_order_and_repeated_messages_are_each_stored_once(db, settings):
    ingest = NetworkIngest(settings, load_register_map(environ={}))
    first = send(db, ingest, telemetry(5), telemetry(6), telemetry(7), telemetry(6))
    assert (first.stored, first.duplicates) == (3, 1)
    # Older messages that come late (a broker restart can reorder): stored, counted once.
    late = send(db, ingest, telemetry(3), telemetry(4), telemetry(7), telemetry(3))
    assert (late.stored, late.duplicates) == (2, 2)
    assert speed_samples(db) == 5
    cursor = db.scalar(select(CounterCursor).where(CounterCursor.tag == "cups_washed"))
    live = db.scalar(select(LineLive))
    # The counter went from 1005 to 1007; the late readings do not move it back.
    assert cursor.total == 2 and cursor.raw == 1007
    assert live.last_good_at == T0 + timedelta(seconds=7)
    source = db.scalar(select(NetworkSource))
    assert (source.messages, source.duplicates, source.last_seq) == (5, 3, 7)
    assert db.scalar(select(func.count()).select_from(ReceivedMessage)) == 5


def test_a_restarted_publisher_may_count_again_from_zero_with_later_times(db, settings):
    ingest = NetworkIngest(settings, load_register_map(environ={}))
    send(db, ingest, telemetry(100), telemetry(101))
    restarted = [
        telemetry(0).replace(b"2026-12-07T09:00:00", b"2026-12-07T10:00:00"),
        telemetry(1).replace(b"2026-12-07T09:00:01", b"2026-12-07T10:00:01"),
    ]
    result = send(db, ingest, *restarted)
    assert (result.stored, result.duplicates) == (2, 0)
    assert speed_samples(db) == 4
