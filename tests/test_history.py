"""Backfilled history: what a worker polling the line model would have left behind, and a live
worker that carries on from it without counting a cup twice or losing one."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import delete, func, select

from plc.history import backfill, default_profile
from plc.line_model import LineModel, StopReason
from plc.sim_registers import raw_value
from wash_ops.accounts.models import Role
from wash_ops.catalogue.services import main_line
from wash_ops.db import unit_of_work
from wash_ops.telemetry.ingest import Quality, Reading, ingest
from wash_ops.telemetry.models import (
    Alarm,
    AlarmEvent,
    AlarmJournalEntry,
    CounterCursor,
    LineReading,
    Resolution,
    RollupCursor,
    StatePeriod,
    TagRollup,
)
from wash_ops.telemetry.packml import PackMLState
from wash_ops.telemetry.readings import counted_sum
from wash_ops.telemetry.register_map import TagRole, load_register_map
from wash_ops.telemetry.rollups import roll_up

STALE = timedelta(seconds=10)
SEED = 11


@pytest.fixture(scope="module")
def register_map():
    return load_register_map(environ={})


@pytest.fixture
def span(settings):
    """From Tuesday 17 November 2026, 00:00, to Wednesday 14:00 (local): a whole working day
    and a morning with its jam."""
    zone = settings.zone
    start = datetime(2026, 11, 17, tzinfo=zone)
    return start, datetime.combine(start.date() + timedelta(days=1), time(14, 0), tzinfo=zone)


@pytest.fixture
def history(db, session_factory, settings, register_map, span, make_user):
    supervisor = make_user(Role.SUPERVISOR)
    db.commit()
    line_id = main_line(db, settings).id
    result = backfill(session_factory, settings, register_map, line_id, *span, seed=SEED, step_s=60)
    return line_id, result, supervisor


def counters(register_map):
    return [tag for tag in register_map.with_role(TagRole.COUNTER)]


def added(db, line_id: int, tag: str, *window) -> int | None:
    """What the counter added at the stored readings in ``window`` (None: no reading at all)."""
    return db.scalar(
        select(func.sum(LineReading.counted(tag))).where(LineReading.line_id == line_id, *window)
    )


def test_state_periods_cover_the_span_without_gaps_or_overlaps(db, history, span):
    line_id, result, _ = history
    start, end = span
    periods = db.scalars(
        select(StatePeriod).where(StatePeriod.line_id == line_id).order_by(StatePeriod.started_at)
    ).all()
    assert periods[0].started_at == start.astimezone(UTC)
    for before, after in zip(periods, periods[1:], strict=False):
        assert before.ended_at == after.started_at
        assert before.started_at < before.ended_at
        assert (before.state, before.stop_reason) != (after.state, after.stop_reason)
    assert periods[-1].ended_at is None  # open, as a worker leaves it
    assert periods[-1].started_at <= end
    seen = {(period.state, period.stop_reason) for period in periods}
    assert (PackMLState.EXECUTE, StopReason.NONE) in seen
    assert (PackMLState.HELD, StopReason.JAM) in seen
    assert (PackMLState.SUSPENDED, StopReason.MICRO_STOP) in seen
    assert (PackMLState.STOPPED, StopReason.BREAK) in seen
    assert (PackMLState.STOPPED, StopReason.NOT_SCHEDULED) in seen
    assert result.days == 2


def test_day_totals_of_counters_equal_the_truth_and_the_day_rollups(
    db, history, span, settings, register_map
):
    line_id, result, _ = history
    start, end = span
    zone = settings.zone
    midnight = datetime(2026, 11, 18, tzinfo=zone)
    # the truth: the same model, run on its own to the end of the first day
    truth = LineModel(default_profile(settings), seed=SEED, start=start, step_s=5)
    truth.advance((midnight - start).total_seconds())
    day_values = truth.values()
    day = db.scalars(
        select(TagRollup).where(
            TagRollup.line_id == line_id,
            TagRollup.resolution == Resolution.DAY,
        )
    ).all()
    assert {rollup.bucket for rollup in day} == {start.astimezone(UTC)}  # today is not complete
    for tag in counters(register_map):
        increments = added(
            db, line_id, tag.name, LineReading.at >= start, LineReading.at < midnight
        )
        rollup = next(rollup for rollup in day if rollup.tag == tag.name)
        # the midnight sample counts the last minute of the day into the next day, as ingest does
        last_minute = counted_sum(db, line_id, tag.name, LineReading.at == midnight)
        assert rollup.total == increments
        assert increments + last_minute == raw_value(tag, day_values[tag.name])
    assert result.counter_totals["cups_washed"] > 40_000  # a working day's cups

    cursors = {cursor.tag: cursor for cursor in db.scalars(select(CounterCursor))}
    final = result.model.values()
    for tag in counters(register_map):
        cursor = cursors[tag.name]
        counted = added(db, line_id, tag.name)
        today = added(db, line_id, tag.name, LineReading.at >= midnight)
        assert cursor.total == counted == result.counter_totals[tag.name]
        assert cursor.raw == counted  # the model's register, which started at 0
        assert cursor.day == midnight.date() and cursor.day_total == today
        assert cursor.at <= end and end - cursor.at < timedelta(minutes=1)
        assert raw_value(tag, final[tag.name]) >= cursor.raw


def test_rollups_are_those_roll_up_makes(db, history, span, settings):
    line_id, _, _ = history
    _, end = span

    def snapshot():
        return {
            (r.tag, r.resolution, r.bucket): (r.count, r.total, r.minimum, r.maximum, r.last)
            for r in db.scalars(select(TagRollup).where(TagRollup.line_id == line_id))
        }

    def cursors():
        return {c.resolution: c.done_until for c in db.scalars(select(RollupCursor))}

    written, written_cursors = snapshot(), cursors()
    assert len(written) > 15_000
    db.execute(delete(TagRollup))
    db.execute(delete(RollupCursor))
    db.expunge_all()
    roll_up(db, line_id, end, settings.zone)
    db.expunge_all()
    assert cursors() == written_cursors
    recomputed = snapshot()
    assert recomputed.keys() == written.keys()
    for key, values in written.items():
        assert recomputed[key] == pytest.approx(values), key


def test_local_days_of_23_and_25_hours(db, session_factory, settings, register_map):
    """Around the change to winter time (Sunday 25 October 2026) the day roll-up of the 25-hour
    day holds 25 hours, and the backfill's roll-ups are still those roll_up makes."""
    zone = settings.zone
    start, end = datetime(2026, 10, 25, tzinfo=zone), datetime(2026, 10, 26, 1, 0, tzinfo=zone)
    line_id = main_line(db, settings).id
    backfill(session_factory, settings, register_map, line_id, start, end, seed=SEED)
    hours = db.scalars(
        select(TagRollup).where(TagRollup.tag == "energy", TagRollup.resolution == Resolution.HOUR)
    ).all()
    day = db.scalars(
        select(TagRollup).where(TagRollup.tag == "energy", TagRollup.resolution == Resolution.DAY)
    ).one()
    assert day.bucket == datetime(2026, 10, 24, 22, tzinfo=UTC)
    in_day = [hour for hour in hours if hour.bucket < datetime(2026, 10, 25, 23, tzinfo=UTC)]
    assert len(in_day) == 25 and sum(hour.total for hour in in_day) == day.total
    written = {(r.resolution, r.bucket, r.tag): r.total for r in db.scalars(select(TagRollup))}
    db.execute(delete(TagRollup))
    db.execute(delete(RollupCursor))
    db.expunge_all()
    roll_up(db, line_id, end, settings.zone)
    assert {
        (r.resolution, r.bucket, r.tag): r.total for r in db.scalars(select(TagRollup))
    } == pytest.approx(written)


def test_alarms_are_raised_returned_and_acknowledged(db, history, span):
    line_id, _, supervisor = history
    start, end = span
    alarms = db.scalars(
        select(Alarm).where(Alarm.line_id == line_id).order_by(Alarm.raised_at)
    ).all()
    codes = {alarm.code for alarm in alarms}
    assert {"jam", "door_open", "rinse_temperature_low"} <= codes
    for alarm in alarms:
        assert start <= alarm.raised_at < end
        if alarm.returned_at is not None:
            assert alarm.returned_at > alarm.raised_at
        if alarm.acknowledged_at is not None:
            assert alarm.acknowledged_by_id == supervisor.id
            lag = alarm.acknowledged_at - alarm.raised_at
            assert timedelta(seconds=90) <= lag <= timedelta(minutes=8)
            assert alarm.acknowledged_at <= end
        events = {
            entry.event: entry
            for entry in db.scalars(
                select(AlarmJournalEntry).where(AlarmJournalEntry.alarm_id == alarm.id)
            )
        }
        assert events[AlarmEvent.RAISED].at == alarm.raised_at
        assert (AlarmEvent.RETURNED in events) == (alarm.returned_at is not None)
        assert (AlarmEvent.ACKNOWLEDGED in events) == (alarm.acknowledged_at is not None)
    assert sum(alarm.acknowledged_at is not None for alarm in alarms) >= len(alarms) - 1


def _reading(register_map, model, at):
    """What the poller hands to ingest: engineering values, counters as raw register values."""
    values = model.values()
    shown = {}
    for tag in register_map.tags:
        if tag.role is TagRole.HEARTBEAT:
            shown[tag.name] = int(at.timestamp()) % 65536
        elif tag.role is TagRole.COUNTER:
            shown[tag.name] = int(raw_value(tag, values[tag.name])) % tag.counter_modulus
        elif tag.name in values:
            shown[tag.name] = raw_value(tag, values[tag.name]) * tag.scale + tag.offset
    return Reading(at=at, quality=Quality.GOOD, values=shown)


def _poll(session_factory, settings, register_map, model, seconds, every_s=5):
    """A worker polling ``model`` for ``seconds``: one transaction a minute, like its batches."""
    for _ in range(0, seconds, 60):
        with unit_of_work(session_factory) as session:
            line = main_line(session, settings)
            for _ in range(60 // every_s):
                model.advance(every_s)
                at = model.now.astimezone(UTC)
                ingest(
                    session,
                    line,
                    register_map,
                    _reading(register_map, model, at),
                    settings.zone,
                    STALE,
                )


@pytest.mark.parametrize("simulator", ["continued", "fresh"])
def test_live_readings_carry_on_from_the_history(
    db, history, session_factory, settings, register_map, simulator
):
    """The demo's simulator continues the backfilled model: its registers go on from the
    cursors. A simulator started afresh counts from 0: ingest takes its first reading for a
    PLC restart and counts it in full. Either way the line's cups are counted once."""
    line_id, result, _ = history
    before = {cursor.tag: cursor.total for cursor in db.scalars(select(CounterCursor))}
    if simulator == "continued":
        model = result.model
        model.use_step(1)
    else:
        model = LineModel(default_profile(settings), seed=3, start=result.model.now)
    _poll(session_factory, settings, register_map, model, 20 * 60)
    db.expunge_all()
    values = model.values()
    for tag in counters(register_map):
        cursor = db.get(CounterCursor, (line_id, tag.name))
        register = raw_value(tag, values[tag.name])  # counted from 0 at its model's start
        assert register > (before[tag.name] if simulator == "continued" else 0)
        if simulator == "continued":  # history and live are one run of one model
            assert cursor.total == register
        else:  # history, then all that the new simulator counted
            assert cursor.total == before[tag.name] + register
        counted = added(db, line_id, tag.name)
        assert counted == cursor.total
    periods = db.scalars(
        select(StatePeriod).where(StatePeriod.line_id == line_id).order_by(StatePeriod.started_at)
    ).all()
    for before_period, after_period in zip(periods, periods[1:], strict=False):
        assert before_period.ended_at == after_period.started_at
    assert [period.ended_at for period in periods].count(None) == 1
    # the worker's roll-up job carries on from the backfill's cursors
    roll_up(db, line_id, model.now, settings.zone)
    assert db.scalar(select(func.max(TagRollup.bucket))) > result.model.now - timedelta(hours=1)


def test_backfill_refuses_a_line_with_telemetry(
    db, history, session_factory, settings, register_map, span
):
    line_id, _, _ = history
    count = db.scalar(select(func.count()).select_from(StatePeriod))
    with pytest.raises(ValueError, match="telemetry already"):
        backfill(session_factory, settings, register_map, line_id, *span)
    with pytest.raises(ValueError, match="before end"):
        backfill(session_factory, settings, register_map, line_id, span[1], span[0])
    assert db.scalar(select(func.count()).select_from(StatePeriod)) == count


def test_a_year_of_rollups_for_benchmarks_adds_up(db, session_factory, settings, register_map):
    from bench.history_data import write_year_of_rollups

    zone = settings.zone
    end = datetime(2026, 11, 18, 14, 0, 30, tzinfo=zone)  # a Wednesday; Sunday the 15th is off
    line_id = main_line(db, settings).id
    figures = write_year_of_rollups(
        session_factory, settings, register_map, line_id, end, days=3, minute_days=1
    )
    assert figures.rows["tag_rollups"] > 0
    periods = db.scalars(
        select(StatePeriod).where(StatePeriod.line_id == line_id).order_by(StatePeriod.started_at)
    ).all()
    assert periods[0].started_at == datetime(2026, 11, 15, tzinfo=zone).astimezone(UTC)
    for before, after in zip(periods, periods[1:], strict=False):
        assert before.ended_at == after.started_at
    assert periods[-1].ended_at is None
    assert {(p.state, p.stop_reason) for p in periods} >= {
        (PackMLState.HELD, StopReason.JAM),
        (PackMLState.SUSPENDED, StopReason.MICRO_STOP),
        (PackMLState.STOPPED, StopReason.BREAK),
    }

    def totals(resolution, tag="cups_washed"):
        return {
            rollup.bucket: rollup.total
            for rollup in db.scalars(
                select(TagRollup).where(TagRollup.tag == tag, TagRollup.resolution == resolution)
            )
        }

    days, hours, minutes = (totals(r) for r in (Resolution.DAY, Resolution.HOUR, Resolution.MINUTE))
    monday, tuesday = (datetime(2026, 11, d, tzinfo=zone).astimezone(UTC) for d in (16, 17))
    assert set(days) == {monday, tuesday}  # Sunday washed nothing; Wednesday is not over
    for midnight, total in days.items():
        assert 40_000 < total < 50_000
        in_day = [
            v for bucket, v in hours.items() if midnight <= bucket < midnight + timedelta(days=1)
        ]
        assert sum(in_day) == total
    wednesday = datetime(2026, 11, 18, tzinfo=zone).astimezone(UTC)
    energy = totals(Resolution.MINUTE, "energy")  # on standby all night: every minute
    last_minute = end.astimezone(UTC).replace(second=0) - timedelta(minutes=1)
    assert min(energy) == wednesday and max(energy) == last_minute
    assert len(energy) == (last_minute - wednesday) // timedelta(minutes=1) + 1
    for hour, total in hours.items():
        if hour >= wednesday:
            assert (
                sum(v for b, v in minutes.items() if hour <= b < hour + timedelta(hours=1)) == total
            )
    cursor = db.get(CounterCursor, (line_id, "cups_washed"))
    assert cursor.total >= sum(days.values()) + sum(minutes.values())
