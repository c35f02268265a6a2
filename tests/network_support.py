"""Network telemetry stored through the service, without a broker: for the office pages."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from tests.mqtt_support import telemetry
from wash_ops.config import Settings
from wash_ops.db import utcnow
from wash_ops.network.services import BatchResult, Incoming, NetworkIngest
from wash_ops.telemetry.register_map import load_register_map


def seed_network(session: Session, settings: Settings) -> BatchResult:
    """Three good messages (one of them twice) and five dead letters of different kinds."""
    now = utcnow()
    topic = f"wash-ops/{settings.site.code}/{settings.line.code}/telemetry"
    messages = [
        (topic, telemetry(1)),
        (topic, telemetry(2)),
        (topic, telemetry(2)),
        (topic, telemetry(3)),
        (topic, b"{not json"),
        (topic, b'{"time": "2026-12-07T09:00:00Z", "seq": 9, "metrics": {"rocket": 1}}'),
        (topic, b'{"time": "2026-12-07T09:00:00Z", "seq": 9, "metrics": {"speed": 99999}}'),
        ("wash-ops/ANT/L1/telemetry", telemetry(1)),
        ("spBv1.0/wash-it/NDATA/GEN-L1", b"\xff\x00\x01binary"),
    ]
    ingest = NetworkIngest(settings, load_register_map(environ={}))
    return ingest.store(
        session,
        [
            Incoming(topic, payload, now - timedelta(seconds=len(messages) - i))
            for i, (topic, payload) in enumerate(messages)
        ],
    )
