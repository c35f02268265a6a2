"""The fast capacity check answers exactly what a full re-booking would (random seasons)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest

from wash_ops.config import load_settings
from wash_ops.planning.calendar import LineCalendar
from wash_ops.planning.capacity import WashJob, book, check_fit

FIRST = date(2027, 3, 1)


def reference_fits(jobs, calendar, pickup_end, cups) -> bool:
    """The definition: booking the order beside the others adds no shortfall and is on time."""
    release, due = calendar.wash_window(pickup_end)
    if due < max(release, FIRST):
        return False
    base = book(jobs, calendar, FIRST)
    together = book([*jobs, WashJob(None, release, due, cups)], calendar, FIRST)
    return None not in together.late and together.shortfall <= base.shortfall


@pytest.mark.parametrize("seed", range(12))
def test_fast_check_agrees_with_full_rebooking(seed):
    rng = random.Random(seed)
    settings = load_settings(
        environ={
            "WASH_OPS_LINE__CAPACITY_PER_DAY": "1000",
            "WASH_OPS_LINE__CLOSED_DATES": '["2027-03-10"]',
        }
    )
    calendar = LineCalendar.from_settings(settings)
    jobs = []
    for order_id in range(rng.randint(5, 60)):
        release = FIRST + timedelta(days=rng.randint(-3, 30))
        jobs.append(
            WashJob(
                order_id, release, release + timedelta(days=rng.randint(0, 5)), rng.randint(1, 1500)
            )
        )
    for _ in range(40):
        day = FIRST + timedelta(days=rng.randint(-2, 35))
        pickup_end = datetime(
            day.year, day.month, day.day, rng.choice([3, 5, 12, 23]), tzinfo=calendar.zone
        )
        cups = rng.randint(1, 3000)
        fit = check_fit(jobs, calendar, FIRST, pickup_end, cups, search_days=20)
        assert fit.fits == reference_fits(jobs, calendar, pickup_end, cups), (
            seed,
            pickup_end,
            cups,
        )
        if not fit.fits and fit.earliest_pickup is not None:
            moved = pickup_end + timedelta(days=(fit.earliest_pickup - pickup_end.date()).days)
            assert reference_fits(jobs, calendar, moved, cups)
            for earlier in range(1, (fit.earliest_pickup - pickup_end.date()).days):
                assert not reference_fits(
                    jobs, calendar, pickup_end + timedelta(days=earlier), cups
                )
