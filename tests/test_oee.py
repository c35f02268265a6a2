"""OEE arithmetic against a worked example, and production days on DST changes."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from wash_ops.telemetry.oee import ZERO, OeeInputs, combine, ideal_cycle_from_rate, production_day

MINUTE = timedelta(minutes=1)


def test_worked_example():
    # 420 of 480 planned minutes running, ideal 1 min per unit, 400 made, 380 good.
    shift = OeeInputs(
        planned=480 * MINUTE, run=420 * MINUTE, total=400, good=380, ideal_cycle=MINUTE
    )
    assert shift.availability == pytest.approx(0.875)
    assert shift.performance == pytest.approx(0.952, abs=5e-4)
    assert shift.quality == pytest.approx(0.95)
    assert shift.oee == pytest.approx(
        380 / 480
    )  # 79.2 %, the issue writes 79.1 % (87.5 × 95.2 × 95.0 rounded first)
    assert shift.oee == pytest.approx(shift.availability * shift.performance * shift.quality)


def test_periods_are_summed_then_divided_not_averaged():
    long = OeeInputs(
        planned=480 * MINUTE, run=480 * MINUTE, total=480, good=480, ideal_cycle=MINUTE
    )
    short = OeeInputs(planned=60 * MINUTE, run=30 * MINUTE, total=30, good=15, ideal_cycle=MINUTE)
    day = combine([long, short])
    assert day.oee == pytest.approx(495 / 540)
    assert day.oee != pytest.approx((long.oee + short.oee) / 2)


def test_empty_periods_and_bad_input():
    idle = OeeInputs(planned=ZERO, run=ZERO, total=0, good=0, ideal_cycle=MINUTE)
    assert idle.oee is None and idle.availability is None and idle.quality is None
    with pytest.raises(ValueError):
        OeeInputs(planned=MINUTE, run=MINUTE, total=1, good=2, ideal_cycle=MINUTE)
    with pytest.raises(ValueError):
        combine([])
    assert ideal_cycle_from_rate(3600) == timedelta(seconds=1)


@pytest.mark.parametrize(
    ("day", "hours"), [(date(2027, 3, 28), 23), (date(2027, 10, 31), 25), (date(2027, 3, 29), 24)]
)
def test_a_production_day_is_the_local_calendar_day(day, hours):
    start, end = production_day(day, ZoneInfo("Europe/Brussels"))
    assert end - start == timedelta(hours=hours)
    assert start.astimezone(ZoneInfo("Europe/Brussels")).hour == 0
