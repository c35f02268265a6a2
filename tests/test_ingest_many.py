"""ingest_many stores a batch exactly as ingest stores its readings one by one: gauge values,
counter increments (restarts and rollover included), state periods with stop reasons, alarms,
failed reads and the line's live state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from wash_ops.catalogue.models import Line
from wash_ops.catalogue.services import main_line
from wash_ops.telemetry.ingest import Quality, Reading, ingest, ingest_many
from wash_ops.telemetry.models import (
    Alarm,
    CounterCursor,
    LineLive,
    LineReading,
    StatePeriod,
)
from wash_ops.telemetry.register_map import load_register_map

T0 = datetime(2027, 3, 2, 21, 50, tzinfo=UTC)  # the local day changes during the stream
STALE = timedelta(seconds=10)


def readings() -> list[Reading]:
    out = []
    washed = 2**32 - 40  # rolls over
    for i in range(400):
        at = T0 + timedelta(seconds=3 * i)
        if i == 150:
            out.append(Reading.failed(at, "timeout"))
            continue
        if i == 200:
            washed = 5  # the PLC restarted
        washed = (washed + 7) % 2**32
        state = 6 if i < 100 or i > 250 else (5 if i < 200 else 2)
        values = {
            "state": state,
            "stop_reason": 0 if state == 6 else (3 if i < 180 else 4),
            "heartbeat": i % 7 if i < 300 else 0,
            "alarm_word": 0 if i % 50 < 40 else 0b101,
            "speed": 3500 + i,
            "wash_temperature": 60 + (i % 9) / 10,
            "cups_washed": washed,
            "cups_rejected": i // 10,
        }
        if i == 120:
            values["speed"] = 99_999  # outside its range: rejected
        out.append(Reading(at, Quality.GOOD, values))
    return out


def snapshot(db, line_id: int) -> dict[str, object]:
    def rows(model, *columns):
        query = select(*columns).where(model.line_id == line_id)
        return [tuple(row) for row in db.execute(query.order_by(*columns))]

    live = db.get(LineLive, line_id)
    return {
        "readings": [
            tuple(row)
            for row in db.execute(
                select(LineReading.at, LineReading.gauges, LineReading.counts)
                .where(LineReading.line_id == line_id)
                .order_by(LineReading.at, LineReading.id)
            )
        ],
        "cursors": rows(
            CounterCursor,
            CounterCursor.tag,
            CounterCursor.raw,
            CounterCursor.candidate,
            CounterCursor.total,
            CounterCursor.day,
            CounterCursor.day_total,
        ),
        "periods": rows(
            StatePeriod,
            StatePeriod.started_at,
            StatePeriod.state,
            StatePeriod.stop_reason,
            StatePeriod.ended_at,
        ),
        "alarms": rows(Alarm, Alarm.raised_at, Alarm.code, Alarm.returned_at),
        "live": {
            name: getattr(live, name)
            for name in (
                "last_attempt_at",
                "last_good_at",
                "last_failure_at",
                "last_failure",
                "heartbeat",
                "heartbeat_changed_at",
                "state",
                "state_since",
                "values",
                "good_readings",
                "failed_readings",
                "rejected_values",
            )
        },
    }


@pytest.mark.parametrize("batch", [37, 400])
def test_a_batch_stores_what_one_by_one_stores(db, settings, batch):
    register_map = load_register_map(environ={})
    one = main_line(db, settings)
    other = Line(site_id=one.site_id, code="L2", name="Afwaslijn 2", capacity_per_day=50_000)
    db.add(other)
    db.flush()
    stream = readings()
    for reading in stream:
        ingest(db, one, register_map, reading, settings.zone, STALE)
    for start in range(0, len(stream), batch):
        ingest_many(db, other, register_map, stream[start : start + batch], settings.zone, STALE)
    db.flush()
    db.expire_all()
    expected, got = snapshot(db, one.id), snapshot(db, other.id)
    gauge_values = sum(len(gauges) for _at, gauges, _counts in expected["readings"])
    assert gauge_values > 700 and len(expected["periods"]) >= 4
    assert expected["alarms"] and any(counts for _at, _gauges, counts in expected["readings"])
    assert got == expected
