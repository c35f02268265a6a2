"""The capacity calendar's rules, without a database."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from wash_ops.config import load_settings
from wash_ops.planning.calendar import LineCalendar
from wash_ops.planning.capacity import WashJob, book, check_fit

MONDAY = date(2027, 3, 1)


@pytest.fixture
def calendar() -> LineCalendar:
    settings = load_settings(
        environ={
            "WASH_OPS_LINE__CLOSED_DATES": '["2027-03-03"]',
            "WASH_OPS_LINE__CAPACITY_PER_DAY": "1000",
        }
    )
    return LineCalendar.from_settings(settings)


def at(calendar: LineCalendar, day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=calendar.zone)


def test_closed_days_and_weekends_offer_nothing(calendar):
    assert calendar.capacity_on(MONDAY) == 1000
    assert calendar.capacity_on(MONDAY + timedelta(days=2)) == 0  # closed date
    assert calendar.capacity_on(MONDAY + timedelta(days=5)) == 0  # Saturday


def test_wash_window_follows_shift_times_and_turnaround(calendar):
    # Picked up Sunday 23:00, 72 h: Monday to Wednesday's shift end (22:00) before Wed 23:00.
    assert calendar.wash_window(at(calendar, MONDAY - timedelta(days=1), 23)) == (
        MONDAY,
        MONDAY + timedelta(days=2),
    )
    # Picked up Monday 10:00: the Monday shift had started, so from Tuesday; due Wednesday
    # 10:00 is before that day's shift end, so Tuesday is the last full day.
    assert calendar.wash_window(at(calendar, MONDAY, 10)) == (
        MONDAY + timedelta(days=1),
        MONDAY + timedelta(days=2),
    )


def test_earliest_deadline_first_books_urgent_work_first(calendar):
    jobs = [
        WashJob(1, MONDAY, MONDAY + timedelta(days=4), 1500),
        WashJob(2, MONDAY, MONDAY + timedelta(days=1), 1500),
    ]
    booking = book(jobs, calendar, MONDAY, keep_allocations=True)
    assert booking.late == {}
    assert booking.allocations[2] == {MONDAY: 1000, MONDAY + timedelta(days=1): 500}
    assert booking.booked[MONDAY + timedelta(days=1)] == 1000
    assert MONDAY + timedelta(days=2) not in booking.booked  # closed
    assert booking.booked[MONDAY + timedelta(days=3)] == 1000


def test_overbooking_is_reported_as_late(calendar):
    jobs = [WashJob(7, MONDAY, MONDAY + timedelta(days=1), 2500)]
    assert book(jobs, calendar, MONDAY).late == {7: 500}


def test_fit_needs_rearranging_when_free_capacity_alone_is_not_enough(calendar):
    # Job 1 could use Thursday, but EDF put it on Monday; a new urgent job still fits
    # because the schedule can move job 1 later.
    base = [WashJob(1, MONDAY, MONDAY + timedelta(days=3), 1000)]
    sunday_night = at(calendar, MONDAY - timedelta(days=1), 23)
    fit = check_fit(base, calendar, MONDAY, sunday_night, 2000)
    assert fit.fits


def test_fit_refused_with_earliest_pickup_that_fits(calendar):
    base = [WashJob(1, MONDAY, MONDAY + timedelta(days=1), 2000)]
    sunday_night = at(calendar, MONDAY - timedelta(days=1), 23)
    fit = check_fit(base, calendar, MONDAY, sunday_night, 1500, search_days=30)
    assert not fit.fits
    assert fit.free_in_window == 0
    assert fit.shortfall == 1500
    assert fit.earliest_pickup is not None
    later = calendar.wash_window(at(calendar, fit.earliest_pickup, 23))
    assert check_fit(base, calendar, MONDAY, at(calendar, fit.earliest_pickup, 23), 1500).fits
    assert later[0] > MONDAY
    day_before = at(calendar, fit.earliest_pickup - timedelta(days=1), 23)
    assert not check_fit(base, calendar, MONDAY, day_before, 1500).fits


def test_an_order_larger_than_any_window_never_fits(calendar):
    fit = check_fit([], calendar, MONDAY, at(calendar, MONDAY, 23), 10_000, search_days=10)
    assert not fit.fits and fit.earliest_pickup is None
