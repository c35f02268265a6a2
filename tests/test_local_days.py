"""Production days are local calendar days: 23 or 25 hours long on DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from wash_ops.orders.services import same_local_time_later
from wash_ops.telemetry.models import Resolution
from wash_ops.telemetry.rollups import bucket_start

BRUSSELS = ZoneInfo("Europe/Brussels")


@pytest.mark.parametrize(
    ("day", "hours"),
    [(datetime(2027, 3, 28), 23), (datetime(2027, 10, 31), 25), (datetime(2027, 6, 1), 24)],
)
def test_day_buckets_follow_the_local_calendar(day, hours):
    noon = day.replace(hour=12, tzinfo=BRUSSELS)
    start = bucket_start(noon, Resolution.DAY, BRUSSELS)
    next_start = bucket_start(noon + timedelta(days=1), Resolution.DAY, BRUSSELS)
    assert start.astimezone(BRUSSELS).hour == 0
    assert next_start - start == timedelta(hours=hours)


def test_moving_a_pickup_across_dst_keeps_the_wall_clock_time():
    before = datetime(2027, 10, 29, 18, 0, tzinfo=BRUSSELS).astimezone(UTC)
    later = same_local_time_later(before, timedelta(days=3), BRUSSELS)
    assert later.astimezone(BRUSSELS).hour == 18
    assert later - before == timedelta(days=3, hours=1)
