"""Telemetry in the domain: readings in, counts, states, alarms, staleness, roll-ups, series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from wash_ops.accounts.models import Role
from wash_ops.catalogue.services import main_line
from wash_ops.errors import Conflict, Forbidden, InvalidInput
from wash_ops.telemetry.alarms import acknowledge_alarm, alarms_needing_attention
from wash_ops.telemetry.ingest import Quality, Reading, ingest
from wash_ops.telemetry.models import (
    AlarmJournalEntry,
    LineReading,
    Resolution,
    StatePeriod,
    TagRollup,
)
from wash_ops.telemetry.packml import PackMLState
from wash_ops.telemetry.queries import (
    choose_resolution,
    line_status,
    tag_series,
    time_in_states,
)
from wash_ops.telemetry.register_map import load_register_map
from wash_ops.telemetry.rollups import prune_raw, roll_up

T0 = datetime(2027, 3, 2, 8, 0, tzinfo=UTC)  # a Tuesday morning
STALE = timedelta(seconds=10)
M = 2**32


@pytest.fixture(scope="module")
def register_map():
    return load_register_map(environ={})


@pytest.fixture
def line(db, settings):
    return main_line(db, settings)


@pytest.fixture
def feed(db, line, register_map, settings):
    def send(at: datetime, quality: Quality = Quality.GOOD, **values):
        base = {
            "state": 6,
            "heartbeat": int(at.timestamp()) % 65536,
            "alarm_word": 0,
            "speed": 3500,
            "rinse_temperature": 84.5,
        }
        base.update(values)
        reading = Reading(
            at=at,
            quality=quality,
            values=base if quality is Quality.GOOD else {},
            error="" if quality is Quality.GOOD else "timeout",
        )
        return ingest(db, line, register_map, reading, settings.zone, STALE)

    return send


def status(db, line, register_map, settings, now):
    return line_status(db, line.id, register_map, now, STALE, settings.zone)


def test_counts_survive_restart_rollover_and_garbage(db, line, register_map, settings, feed):
    truth = 0
    feed(T0, cups_washed=M - 300, cups_rejected=0)  # baseline: not counted
    sequence = [M - 200, M - 50, 30, 250, 250]  # rolls over
    for i, raw in enumerate(sequence, start=1):
        feed(T0 + timedelta(seconds=i), cups_washed=raw, cups_rejected=0)
    truth += (M - 200 - (M - 300)) + 150 + 80 + 220
    feed(T0 + timedelta(seconds=10), cups_washed=40, cups_rejected=0)  # PLC restarted, counted 40
    truth += 40
    garbage = feed(T0 + timedelta(seconds=11), cups_washed=3_000_000_000, cups_rejected=0)
    assert "cups_washed" in garbage.rejected
    feed(T0 + timedelta(seconds=12), cups_washed=90, cups_rejected=0)
    truth += 50
    report = status(db, line, register_map, settings, T0 + timedelta(seconds=12))
    assert report.counters_today["cups_washed"] == truth


def stored_rows_and_gauge_values(db) -> tuple[int, int]:
    """Readings stored, and gauge values in them."""
    gauges = db.scalars(select(LineReading.gauges)).all()
    return len(gauges), sum(len(values) for values in gauges)


def test_failed_reading_stores_nothing_and_counts_continue(db, line, register_map, settings, feed):
    feed(T0, cups_washed=1000, cups_rejected=5)
    before = stored_rows_and_gauge_values(db)
    feed(T0 + timedelta(seconds=1), quality=Quality.BAD)
    assert stored_rows_and_gauge_values(db) == before
    feed(T0 + timedelta(seconds=30), cups_washed=1600, cups_rejected=9)
    counters = status(db, line, register_map, settings, T0 + timedelta(seconds=30)).counters_today
    assert counters["cups_washed"] == 600 and counters["cups_rejected"] == 4


def test_out_of_range_gauge_is_not_stored(db, feed):
    report = feed(T0, rinse_temperature=900.0, cups_washed=1, cups_rejected=0)
    assert report.rejected == ["rinse_temperature"]
    stored = [
        tag
        for gauges in db.scalars(select(LineReading.gauges).where(LineReading.at == T0))
        for tag in gauges
    ]
    assert "rinse_temperature" not in stored and "speed" in stored


def test_state_history(db, line, feed):
    feed(T0, state=2, cups_washed=0, cups_rejected=0)
    feed(T0 + timedelta(minutes=5), state=6, cups_washed=0, cups_rejected=0)
    feed(T0 + timedelta(minutes=6), state=6, cups_washed=10, cups_rejected=0)
    feed(T0 + timedelta(minutes=9), state=11, cups_washed=20, cups_rejected=0)
    periods = db.execute(
        select(StatePeriod.state, StatePeriod.started_at, StatePeriod.ended_at)
        .where(StatePeriod.line_id == line.id)
        .order_by(StatePeriod.started_at)
    ).all()
    spent = time_in_states(db, line.id, T0, T0 + timedelta(minutes=10))
    assert spent == {
        PackMLState.STOPPED: timedelta(minutes=5),
        PackMLState.EXECUTE: timedelta(minutes=4),
        PackMLState.HELD: timedelta(minutes=1),
    }
    assert [(s, end - start if end else None) for s, start, end in periods] == [
        (2, timedelta(minutes=5)),
        (6, timedelta(minutes=4)),
        (11, None),
    ]


def test_stale_when_heartbeat_stops_or_reads_fail(db, line, register_map, settings, feed):
    feed(T0, heartbeat=7, cups_washed=0, cups_rejected=0)
    assert not status(db, line, register_map, settings, T0 + timedelta(seconds=5)).stale
    for second in range(1, 15):
        feed(T0 + timedelta(seconds=second), heartbeat=7, cups_washed=0, cups_rejected=0)
    frozen = status(db, line, register_map, settings, T0 + timedelta(seconds=14))
    assert frozen.stale and frozen.stale_reason == "heartbeat_stopped"
    assert frozen.state is PackMLState.UNDEFINED
    feed(T0 + timedelta(seconds=15), heartbeat=8, cups_washed=0, cups_rejected=0)
    assert not status(db, line, register_map, settings, T0 + timedelta(seconds=15)).stale
    feed(T0 + timedelta(seconds=40), quality=Quality.BAD)
    lost = status(db, line, register_map, settings, T0 + timedelta(seconds=40))
    assert lost.stale and lost.stale_reason == "no_readings"
    undefined = db.scalar(select(StatePeriod).where(StatePeriod.state == 0))
    assert undefined is not None and undefined.started_at == T0 + timedelta(seconds=15)


def test_alarms_follow_isa_18_2(db, line, register_map, settings, feed, make_user):
    jam, low_detergent = 1 << 2, 1 << 3
    feed(T0, alarm_word=low_detergent, cups_washed=0, cups_rejected=0)
    feed(T0 + timedelta(seconds=1), alarm_word=low_detergent | jam, cups_washed=0, cups_rejected=0)
    alarms = alarms_needing_attention(db, line.id)
    assert [a.code for a in alarms] == ["jam", "low_detergent"]  # high before medium
    assert all(a.isa_state == "active_unacknowledged" for a in alarms)
    feed(T0 + timedelta(seconds=2), alarm_word=low_detergent, cups_washed=0, cups_rejected=0)
    jam_alarm = next(a for a in alarms if a.code == "jam")
    assert jam_alarm.isa_state == "returned_unacknowledged"
    with pytest.raises(Forbidden):
        acknowledge_alarm(db, jam_alarm.id, make_user(Role.COURIER), T0)
    supervisor = make_user(Role.SUPERVISOR)
    acknowledge_alarm(db, jam_alarm.id, supervisor, T0 + timedelta(seconds=3))
    assert jam_alarm.isa_state == "normal" and jam_alarm.acknowledged_by_id == supervisor.id
    with pytest.raises(Conflict):
        acknowledge_alarm(db, jam_alarm.id, supervisor, T0 + timedelta(seconds=4))
    assert [a.code for a in alarms_needing_attention(db, line.id)] == ["low_detergent"]
    events = db.scalars(
        select(AlarmJournalEntry.event)
        .where(AlarmJournalEntry.alarm_id == jam_alarm.id)
        .order_by(AlarmJournalEntry.id)
    ).all()
    assert [e.value for e in events] == ["raised", "returned", "acknowledged"]


def test_rollups_are_idempotent_and_catch_up(db, line, register_map, settings, feed):
    for second in range(0, 3 * 3600, 20):
        feed(
            T0 + timedelta(seconds=second),
            cups_washed=second,
            cups_rejected=0,
            speed=3000 + second % 7,
        )
    now = T0 + timedelta(hours=3, minutes=1)
    roll_up(db, line.id, now, settings.zone)
    first = db.execute(
        select(TagRollup.resolution, func.count(), func.sum(TagRollup.total))
        .where(TagRollup.tag == "cups_washed")
        .group_by(TagRollup.resolution)
    ).all()
    roll_up(db, line.id, now, settings.zone)
    again = db.execute(
        select(TagRollup.resolution, func.count(), func.sum(TagRollup.total))
        .where(TagRollup.tag == "cups_washed")
        .group_by(TagRollup.resolution)
    ).all()
    assert sorted(first) == sorted(again)
    by_resolution = {resolution: (count, total) for resolution, count, total in first}
    counted = 3 * 3600 - 20
    assert by_resolution[Resolution.MINUTE] == (180, counted)
    assert by_resolution[Resolution.HOUR] == (3, counted)
    assert Resolution.DAY not in by_resolution  # the day is not over yet
    roll_up(db, line.id, T0 + timedelta(days=2), settings.zone)
    day_total = db.scalar(
        select(TagRollup.total).where(
            TagRollup.tag == "cups_washed", TagRollup.resolution == Resolution.DAY
        )
    )
    assert day_total == counted


def test_series_picks_a_resolution(db, line, register_map, settings, feed):
    for second in range(0, 7200, 10):
        feed(T0 + timedelta(seconds=second), cups_washed=second, cups_rejected=0, speed=3000)
    roll_up(db, line.id, T0 + timedelta(hours=3), settings.zone)
    hour = tag_series(db, line.id, register_map, "speed", T0, T0 + timedelta(minutes=10))
    assert hour.resolution == "raw" and len(hour.points) == 60
    day = tag_series(db, line.id, register_map, "cups_washed", T0, T0 + timedelta(days=1))
    assert day.resolution == "minute" and sum(p.value for p in day.points) == 7190
    assert choose_resolution(T0, T0 + timedelta(days=365)) is Resolution.DAY
    with pytest.raises(InvalidInput):
        tag_series(db, line.id, register_map, "nope", T0, T0 + timedelta(hours=1))
    with pytest.raises(InvalidInput):
        tag_series(db, line.id, register_map, "speed", T0, T0 - timedelta(hours=1))


def test_prune_keeps_what_is_not_rolled_up(db, line, settings, feed):
    feed(T0, cups_washed=1, cups_rejected=0)
    feed(T0 + timedelta(days=20), cups_washed=2, cups_rejected=0)
    assert (
        prune_raw(db, line.id, T0 + timedelta(days=20), keep_days=14) == 0
    )  # nothing rolled up yet
    roll_up(db, line.id, T0 + timedelta(days=20, minutes=5), settings.zone)
    assert prune_raw(db, line.id, T0 + timedelta(days=20, minutes=5), keep_days=14) > 0
    remaining = db.scalars(select(LineReading.at)).all()
    assert remaining and min(remaining) >= T0 + timedelta(days=6)
