"""The line's key figures for other systems (a hall display, the network portal), published
retained on ``<root>/<site>/<line>/kpi`` by the bridge::

    {"time": "...", "site": "GEN", "line": "L1", "cups_today": 21450, "rejected_today": 31,
     "rate_per_hour": 3540, "state": "execute", "stale": false}
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from wash_ops.catalogue.models import Line
from wash_ops.config import Settings
from wash_ops.telemetry.models import LineReading
from wash_ops.telemetry.queries import line_status
from wash_ops.telemetry.readings import counted_sum
from wash_ops.telemetry.register_map import RegisterMap

WASHED, REJECTED = "cups_washed", "cups_rejected"
RATE_WINDOW = timedelta(minutes=5)


def kpi_messages(
    session: Session, settings: Settings, register_map: RegisterMap, now: datetime
) -> list[tuple[str, bytes]]:
    """(topic, payload) for every configured line that is in the database."""
    stale_after = timedelta(seconds=settings.telemetry.stale_after_s)
    codes = {entry.line_code: entry for entry in settings.mqtt_lines}
    lines = session.scalars(select(Line).where(Line.code.in_(codes)))
    messages = []
    for line in lines:
        entry = codes[line.code]
        status = line_status(session, line.id, register_map, now, stale_after, settings.zone)
        added = counted_sum(
            session, line.id, WASHED, LineReading.at > now - RATE_WINDOW, LineReading.at <= now
        )
        scale = register_map.tag(WASHED).scale
        payload = {
            "time": now.isoformat(),
            "site": entry.site,
            "line": entry.line,
            "cups_today": round(status.counters_today.get(WASHED, 0)),
            "rejected_today": round(status.counters_today.get(REJECTED, 0)),
            "rate_per_hour": round(float(added or 0) * scale * (timedelta(hours=1) / RATE_WINDOW)),
            "state": status.state.name.lower(),
            "stale": status.stale,
        }
        topic = f"{settings.mqtt.topic_root}/{entry.site}/{entry.line}/kpi"
        messages.append((topic, json.dumps(payload, separators=(",", ":")).encode()))
    return messages
