"""The supervisor's line screen: its figures, alarms (and floods), gauges and live update."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import PASSWORD, csrf_token_from, login
from wash_ops.accounts.models import Role, User
from wash_ops.catalogue.services import main_line
from wash_ops.db import utcnow
from wash_ops.orders.models import OrderStatus
from wash_ops.telemetry.alarms import acknowledge_alarms
from wash_ops.telemetry.board import line_board
from wash_ops.telemetry.ingest import Quality, Reading, ingest
from wash_ops.telemetry.models import Alarm, StatePeriod
from wash_ops.telemetry.queries import line_status
from wash_ops.telemetry.register_map import load_register_map

STALE = timedelta(seconds=10)
REGISTER_MAP = load_register_map(environ={})


def feed(db, settings, start: datetime, minutes: int, **overrides) -> None:
    """A reading every 5 s; the line washes one cup a second and rejects one in a hundred."""
    line = main_line(db, settings)
    for second in range(0, minutes * 60, 5):
        values = {
            "state": 6,
            "stop_reason": 0,
            "heartbeat": second % 65536,
            "alarm_word": 0,
            "speed": 3600,
            "wash_temperature": 61.0,
            "rinse_temperature": 84.0,
            "detergent_level": 40.0,
            "cups_washed": 10_000 + second,
            "cups_rejected": 100 + second // 100,
        }
        values.update({key: value(second) for key, value in overrides.items()})
        at = start + timedelta(seconds=second)
        ingest(db, line, REGISTER_MAP, Reading(at, Quality.GOOD, values), settings.zone, STALE)


def board_at(db, settings, now: datetime, capacity: int = 50_000, plan: int = 40_000):
    line = main_line(db, settings)
    status = line_status(db, line.id, REGISTER_MAP, now, STALE, settings.zone)
    return line_board(db, settings, REGISTER_MAP, line.id, status, capacity, plan, now)


def morning(settings, hour: int = 10) -> datetime:
    return datetime(2026, 11, 18, hour, 0, tzinfo=settings.zone)


def test_figures_rates_and_projection(db, settings):
    start = morning(settings)
    feed(db, settings, start, 60)
    now = start + timedelta(minutes=60) - timedelta(seconds=5)
    board = board_at(db, settings, now, plan=50_000)
    # The first reading is the counter's baseline: 3,595 cups counted in the hour.
    assert board.cups_today == 3595
    assert board.rate_now == 3600  # 300 cups in the last 5 minutes
    assert board.rate_last_hour == 3595
    hours_left = (board.shift.ends_at - now) / timedelta(hours=1)
    assert board.rate_needed == round((50_000 - 3595) / hours_left)
    assert board.projection == 3595 + round(3595 * hours_left)
    assert board.on_track is False  # 3,600 an hour for the 11 hours left falls short
    assert board.percent_of_capacity == 7
    assert board.rinse.ok is True and board.wash.ok is True and board.detergent.ok is True


def test_after_the_shift_nothing_is_needed_and_the_projection_stays(db, settings):
    start = morning(settings, 21) + timedelta(minutes=10)
    feed(db, settings, start, 60)
    now = start + timedelta(minutes=59, seconds=55)
    board = board_at(db, settings, now)
    assert board.rate_needed is None and board.on_track is None
    assert board.projection == board.cups_today


def test_gauges_against_hygiene_limits(db, settings):
    start = morning(settings)
    feed(db, settings, start, 2, rinse_temperature=lambda s: 79.5, detergent_level=lambda s: 9.0)
    board = board_at(db, settings, start + timedelta(seconds=115))
    assert board.rinse.value == 79.5 and board.rinse.limit == settings.hygiene.rinse_min_c
    assert board.rinse.ok is False and board.detergent.ok is False and board.wash.ok is True


def test_stale_data_shows_no_values_and_no_running_state(db, settings):
    start = morning(settings)
    feed(db, settings, start, 2)
    board = board_at(db, settings, start + timedelta(minutes=5))
    assert board.status.stale and board.state.name == "UNDEFINED"
    assert board.rinse.value is None and board.rinse.ok is None


def test_a_flood_of_alarms_is_grouped_by_kind(db, settings):
    start = morning(settings)
    # The jam bit (2) toggles every 10 s and the door bit (1) once: 12 jams and a door in 2 min.
    feed(db, settings, start, 2, alarm_word=lambda s: (0b100 if s % 10 < 5 else 0) | 0b10)
    board = board_at(db, settings, start + timedelta(seconds=115))
    assert len(board.alarms) == 13 and board.flood
    groups = {group.code: group for group in board.alarm_groups}
    assert groups["jam"].count == 12 and groups["door_open"].count == 1
    # Both are high: the newest group (jam) comes first.
    assert [group.code for group in board.alarm_groups] == ["jam", "door_open"]


def test_a_few_alarms_are_no_flood(db, settings):
    start = morning(settings)
    feed(db, settings, start, 2, alarm_word=lambda s: 0b10000 if s >= 60 else 0)
    board = board_at(db, settings, start + timedelta(seconds=115))
    assert not board.flood and [alarm.code for alarm in board.alarms] == ["rinse_temperature_low"]


def test_stop_reasons_split_state_periods(db, settings):
    start = morning(settings)
    feed(
        db,
        settings,
        start,
        3,
        state=lambda s: 6 if s < 60 or s >= 120 else 5,
        stop_reason=lambda s: 10 if 60 <= s < 90 else (30 if 90 <= s < 120 else 0),
    )
    line = main_line(db, settings)
    periods = db.execute(
        select(StatePeriod.state, StatePeriod.stop_reason)
        .where(StatePeriod.line_id == line.id)
        .order_by(StatePeriod.started_at)
    ).all()
    assert [tuple(row) for row in periods] == [(6, 0), (5, 10), (5, 30), (6, 0)]
    live = line_status(
        db, line.id, REGISTER_MAP, start + timedelta(seconds=175), STALE, settings.zone
    )
    assert live.state_since == start + timedelta(seconds=120)


def test_acknowledging_a_group_refuses_unknown_ids_as_a_whole(db, settings, make_user):
    start = morning(settings)
    feed(db, settings, start, 1, alarm_word=lambda s: 0b100 if s % 10 < 5 else 0)
    alarms = db.scalars(select(Alarm)).all()
    supervisor = make_user(Role.SUPERVISOR)
    with pytest.raises(Exception, match="does not exist"):
        acknowledge_alarms(db, [alarms[0].id, 999_999], supervisor, utcnow())
    assert all(alarm.acknowledged_at is None for alarm in alarms)
    assert acknowledge_alarms(db, [alarm.id for alarm in alarms], supervisor, utcnow()) == 6
    assert acknowledge_alarms(db, [alarms[0].id], supervisor, utcnow()) == 0


# --- the screen over HTTP -------------------------------------------------------------------


@pytest.fixture
def supervisor_client(client, make_user):
    login(client, make_user(Role.SUPERVISOR))
    return client


def test_screen_and_live_update(db, settings, supervisor_client):
    feed(db, settings, utcnow() - timedelta(minutes=3), 3, alarm_word=lambda s: 0b100)
    page = supervisor_client.get("/line/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-figure="cups-today"' in html and "line-live.js" in html
    live = supervisor_client.get("/line/live")
    assert live.status_code == 200 and live.headers["Cache-Control"] == "no-store"
    body = live.get_json()
    assert set(body["sections"]) == {
        "line-state",
        "line-figures",
        "line-alarms",
        "line-gauges",
        "line-batch",
    }
    assert "ack-form" in body["sections"]["line-alarms"]
    assert body["stale"] is False


def test_acknowledge_from_the_screen(db, settings, supervisor_client):
    feed(db, settings, utcnow() - timedelta(minutes=1), 1, alarm_word=lambda s: 0b100)
    alarm = db.scalar(select(Alarm))
    token = csrf_token_from(supervisor_client.get("/line/").get_data(as_text=True))
    answer = supervisor_client.post(
        f"/line/alarms/{alarm.id}/acknowledge",
        data={"csrf_token": token},
        headers={"Accept": "application/json"},
    )
    assert answer.status_code == 200 and answer.get_json() == {"ok": True}
    db.refresh(alarm)
    assert alarm.acknowledged_at is not None
    again = supervisor_client.post(
        f"/line/alarms/{alarm.id}/acknowledge",
        data={"csrf_token": token},
        headers={"Accept": "application/json"},
    )
    assert again.status_code == 409
    missing = supervisor_client.post(
        "/line/alarms/acknowledge", data={"csrf_token": token, "alarm_id": ["x1"]}
    )
    assert missing.status_code == 302  # back to the screen, with the error shown there
    assert "notice-error" in supervisor_client.get("/line/").get_data(as_text=True)


def test_acknowledge_needs_the_csrf_token(db, settings, app_factory, make_user):
    client = app_factory(WTF_CSRF_ENABLED=True).test_client()
    login(client, make_user(Role.SUPERVISOR))
    feed(db, settings, utcnow() - timedelta(minutes=1), 1, alarm_word=lambda s: 0b100)
    alarm = db.scalar(select(Alarm))
    answer = client.post(f"/line/alarms/{alarm.id}/acknowledge")
    assert answer.status_code == 400
    db.refresh(alarm)
    assert alarm.acknowledged_at is None


def test_organisers_do_not_see_the_line(client, make_user):
    login(client, make_user(Role.ORGANISER))
    assert client.get("/line/live").status_code in (403, 404)


# --- OEE per shift and day, throughput ---------------------------------------------------------


def early_shift_feed(db, settings) -> datetime:
    """06:00-08:00: 15 min starting up, 75 min running, a 15 min break, 15 min running, one cup
    a second while running (one reject per 100)."""
    start = morning(settings, 6)
    minutes = {(0, 15): (3, 0), (15, 90): (6, 0), (90, 105): (5, 30), (105, 120): (6, 0)}

    def phase(second: int) -> tuple[int, int]:
        return next(v for (a, b), v in minutes.items() if a * 60 <= second < b * 60)

    def made(second: int) -> int:
        return sum(
            min(max(second - a * 60, 0), (b - a) * 60)
            for (a, b), (state, _) in minutes.items()
            if state == 6
        )

    feed(
        db,
        settings,
        start,
        120,
        state=lambda s: phase(s)[0],
        stop_reason=lambda s: phase(s)[1],
        cups_washed=lambda s: 10_000 + made(s),
        cups_rejected=lambda s: made(s) // 100,
    )
    return start


def test_oee_of_a_running_shift(db, settings):
    from wash_ops.telemetry.shift_report import day_report

    start = early_shift_feed(db, settings)
    line = main_line(db, settings)
    report = day_report(
        db, settings, REGISTER_MAP, line.id, start.date(), start + timedelta(hours=2)
    )
    early, late = report.shifts
    assert early.running and early.measured_until == start + timedelta(hours=2)
    assert early.planned_stops == timedelta(minutes=15)
    assert early.inputs.planned == timedelta(minutes=105)
    assert early.inputs.run == timedelta(minutes=90)
    assert round(early.inputs.availability, 4) == round(90 / 105, 4)
    made = 90 * 60 - 5  # the last reading is at 07:59:55
    assert early.inputs.total == made and early.inputs.good == made - made // 100
    assert early.inputs.performance == pytest.approx(made / (90 * 60))
    assert [(d.code, d.duration) for d in early.downtime] == [("unreported", timedelta(minutes=15))]
    assert late.inputs.planned == timedelta(0) and late.inputs.oee is None
    assert report.inputs.oee == pytest.approx(early.inputs.oee)


def test_a_jam_is_unplanned_downtime_by_its_reason(db, settings):
    from wash_ops.telemetry.shift_report import day_report

    start = morning(settings, 6)
    feed(
        db,
        settings,
        start,
        30,
        state=lambda s: 6 if s < 600 or s >= 900 else 11,
        stop_reason=lambda s: 20 if 600 <= s < 900 else 0,
    )
    line = main_line(db, settings)
    report = day_report(
        db, settings, REGISTER_MAP, line.id, start.date(), start + timedelta(minutes=30)
    )
    assert [(d.code, d.duration) for d in report.downtime] == [("jam", timedelta(minutes=5))]
    assert report.shifts[0].inputs.availability == pytest.approx(25 / 30)


def test_a_shift_not_started_counts_nothing_and_earlier_cups_are_reported(db, settings):
    from wash_ops.telemetry.shift_report import day_report

    start = morning(settings, 5)  # an hour before the early shift
    feed(db, settings, start, 30)
    line = main_line(db, settings)
    now = start + timedelta(minutes=30)
    report = day_report(db, settings, REGISTER_MAP, line.id, start.date(), now)
    early, late = report.shifts
    assert not early.started and not early.running and not late.started
    assert early.inputs.planned == timedelta(0) and early.inputs.total == 0
    assert report.working_day
    assert report.washed_outside_shifts == 30 * 60 - 5  # the first reading is the baseline


def test_a_day_the_line_does_not_work_has_no_downtime(db, settings):
    from wash_ops.telemetry.shift_report import day_report

    sunday = datetime(2026, 11, 22, 10, 0, tzinfo=settings.zone)
    feed(db, settings, sunday, 30, state=lambda s: 6 if s < 1200 else 2)
    line = main_line(db, settings)
    report = day_report(
        db, settings, REGISTER_MAP, line.id, sunday.date(), sunday + timedelta(minutes=30)
    )
    early = report.shifts[0]
    assert not report.working_day
    assert early.inputs.run == timedelta(minutes=20)
    assert early.inputs.planned == early.inputs.run  # running anyway is planned; idle is not lost
    assert early.downtime == [] and report.downtime == []
    assert early.inputs.availability == 1


def test_hours_today_and_days_against_capacity(db, settings):
    from wash_ops.planning.calendar import LineCalendar
    from wash_ops.telemetry.rollups import roll_up
    from wash_ops.telemetry.throughput import hours_today, last_days

    start = early_shift_feed(db, settings)
    line = main_line(db, settings)
    now = start + timedelta(hours=2, minutes=30)
    roll_up(db, line.id, start + timedelta(hours=1, minutes=5), settings.zone)
    hours = hours_today(db, settings, REGISTER_MAP, line.id, 48_000, now)
    assert [point.starts_at.hour for point in hours] == [6, 7, 8]
    assert hours[0].target == 3000  # 48,000 over 16 hours
    # 06:00 from the hour roll-up; 07:00 from raw increments (not rolled up yet); 08:00 nothing.
    assert hours[0].cups == 45 * 60 - 5 and hours[1].cups == 45 * 60 and hours[2].cups == 0
    days = last_days(
        db, settings, REGISTER_MAP, line.id, LineCalendar.from_settings(settings), 5395, now
    )
    assert len(days) == 14 and days[-1].day == start.date() and days[-1].cups == 5395
    assert days[-1].capacity == 50_000  # a Wednesday
    assert [day.capacity for day in days if day.day.isoweekday() > 5] == [0, 0, 0, 0]


def test_oee_and_throughput_pages(db, settings, supervisor_client, make_user, make_order):
    feed(db, settings, utcnow() - timedelta(minutes=3), 3)
    promised = make_order(make_user(), {"ECO33": 4321})
    promised.status = OrderStatus.CONFIRMED
    promised.wash_due_on = utcnow().astimezone(settings.zone).date()
    promised.wash_cups = 4321
    db.flush()
    oee = supervisor_client.get("/line/oee")
    assert oee.status_code == 200 and "Pareto" not in oee.get_data(as_text=True)
    assert supervisor_client.get("/line/oee?day=2026-11-16").status_code == 200
    bad = supervisor_client.get("/line/oee?day=not-a-day")
    assert bad.status_code == 200 and "notice-error" in bad.get_data(as_text=True)
    page = supervisor_client.get("/line/throughput")
    assert page.status_code == 200
    assert "vendor/chartjs/chart.umd.min.js" in page.get_data(as_text=True)
    assert '"due": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4321]' in page.get_data(as_text=True)


def test_the_shift_report_lists_the_shifts_batches(
    db, settings, supervisor_client, make_order, make_user
):
    from wash_ops.washing.models import BatchStatus, WashBatch

    order = make_order(make_user(Role.ORGANISER))
    line = main_line(db, settings)
    supervisor = db.scalars(select(User).where(User.role == Role.SUPERVISOR)).first()
    started = datetime.combine(utcnow().astimezone(settings.zone).date(), time(7), settings.zone)
    cup_type = order.lines[0].cup_type
    batch = WashBatch(
        line_id=line.id,
        order_id=order.id,
        cup_type_id=cup_type.id,
        status=BatchStatus.ENDED,
        cups_loaded=500,
        started_at=started,
        started_by_id=supervisor.id,
        ended_at=started + timedelta(minutes=20),
        cups_washed=490,
        wash_tag="wash_temperature",
        rinse_tag="rinse_temperature",
        wash_limit_c=55,
        rinse_limit_c=82,
        max_seconds_below=60,
        max_gap_s=10,
        hygiene_passed=False,
    )
    db.add(batch)
    db.flush()
    html = supervisor_client.get("/line/oee").get_data(as_text=True)
    early, late = html.split('id="shift-late"')
    assert batch.number in early and batch.number not in late
    assert "quarantaine" in early


def test_live_sections_carry_no_session_data_and_ack_sends_the_token_in_a_header(
    db, settings, app_factory, make_user
):
    import re

    client = app_factory(WTF_CSRF_ENABLED=True).test_client()
    page = client.get("/login").get_data(as_text=True)
    client.post(
        "/login",
        data={
            "email": make_user(Role.SUPERVISOR, email="tablet@example.test").email,
            "password": PASSWORD,
            "csrf_token": csrf_token_from(page),
        },
    )
    feed(db, settings, utcnow() - timedelta(minutes=1), 1, alarm_word=lambda s: 0b100)
    screen = client.get("/line/").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', screen).group(1)
    sections = client.get("/line/live").get_json()["sections"]
    assert "ack-form" in sections["line-alarms"] and "csrf_token" not in sections["line-alarms"]
    alarm = db.scalar(select(Alarm))
    answer = client.post(
        f"/line/alarms/{alarm.id}/acknowledge",
        headers={"Accept": "application/json", "X-CSRFToken": token},
    )
    assert answer.status_code == 200
    # The acknowledgement drops the shared answer: the next poll shows it at once.
    assert "ack-form" not in client.get("/line/live").get_json()["sections"]["line-alarms"]
