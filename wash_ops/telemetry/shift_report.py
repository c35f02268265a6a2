"""OEE per shift and per day from stored state periods and counters, and the downtime Pareto.

- Planned production time is the shift's time minus the time the PLC reported a planned stop
  reason (a break, cleaning, outside the schedule: ``planned = true`` in the register map).
- Run time is the time in PackML Execute within the shift.
- Total count is cups washed; good count is washed minus rejected (rejects are part of washed).
- Downtime (planned time not running) is split by the stop reason reported; time without a
  reason (starting up, no data) is "unreported".
A shift still running is measured up to ``now``; one not started yet counts nothing. On a day
the line does not work (a weekend, a closed date) nothing is planned: time the line runs anyway
is planned time, standing still is not downtime. Cups washed outside every shift are reported
beside the OEE, so the day's count agrees with the line screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from wash_ops.config import Settings, ShiftSettings
from wash_ops.planning.calendar import LineCalendar
from wash_ops.telemetry.models import Alarm, LineReading, Resolution, StatePeriod, TagRollup
from wash_ops.telemetry.oee import OeeInputs, combine, ideal_cycle_from_rate, production_day
from wash_ops.telemetry.packml import PackMLState
from wash_ops.telemetry.readings import counted_sum
from wash_ops.telemetry.register_map import RegisterMap

ZERO = timedelta(0)
UNREPORTED = "unreported"
WASHED = "cups_washed"
REJECTED = "cups_rejected"


@dataclass(frozen=True)
class Downtime:
    code: str
    duration: timedelta


@dataclass(frozen=True)
class ShiftResult:
    shift: ShiftSettings
    starts_at: datetime
    ends_at: datetime
    measured_until: datetime
    inputs: OeeInputs
    planned_stops: timedelta
    downtime: list[Downtime]
    alarms: int

    @property
    def started(self) -> bool:
        return self.measured_until > self.starts_at

    @property
    def running(self) -> bool:
        return self.started and self.measured_until < self.ends_at

    @property
    def rejected(self) -> int:
        return self.inputs.total - self.inputs.good


@dataclass(frozen=True)
class DayResult:
    day: date
    shifts: list[ShiftResult]
    inputs: OeeInputs
    downtime: list[Downtime] = field(default_factory=list)
    working_day: bool = True
    washed_outside_shifts: int = 0

    @property
    def alarms(self) -> int:
        return sum(shift.alarms for shift in self.shifts)

    @property
    def planned_stops(self) -> timedelta:
        return sum((shift.planned_stops for shift in self.shifts), ZERO)


def day_report(
    session: Session,
    settings: Settings,
    register_map: RegisterMap,
    line_id: int,
    day: date,
    now: datetime,
) -> DayResult:
    """OEE of each shift of ``day`` (local) and of the day, summed then divided."""
    ideal = ideal_cycle_from_rate(settings.line.rated_cups_per_hour)
    working = LineCalendar.from_settings(settings).is_open(day)
    shifts = [
        _shift_result(session, settings, register_map, line_id, day, shift, now, ideal, working)
        for shift in settings.line.crews
    ]
    day_start, day_end = local_day_bounds(settings, day)
    washed_today = counter_total(
        session, settings, register_map, line_id, WASHED, day_start, min(day_end, now), now
    )
    return DayResult(
        day=day,
        shifts=shifts,
        inputs=combine(shift.inputs for shift in shifts),
        downtime=_pareto(downtime for shift in shifts for downtime in shift.downtime),
        working_day=working,
        washed_outside_shifts=max(washed_today - sum(s.inputs.total for s in shifts), 0),
    )


def _shift_result(
    session: Session,
    settings: Settings,
    register_map: RegisterMap,
    line_id: int,
    day: date,
    shift: ShiftSettings,
    now: datetime,
    ideal: timedelta,
    working: bool,
) -> ShiftResult:
    starts = datetime.combine(day, shift.start, settings.zone)
    ends = datetime.combine(day, shift.end, settings.zone)
    until = max(min(ends, now), starts)
    planned_reasons = {reason.value for reason in register_map.stop_reasons if reason.planned}
    codes = {reason.value: reason.code for reason in register_map.stop_reasons}
    run = planned_stops = ZERO
    lost: dict[str, timedelta] = {}
    for state, reason, began, ended in _periods(session, line_id, starts, until):
        length = min(ended or until, until) - max(began, starts)
        if length <= ZERO:
            continue
        if PackMLState.of(state) is PackMLState.EXECUTE:
            run += length
        elif reason in planned_reasons:
            planned_stops += length
        else:
            code = codes.get(reason, UNREPORTED) if reason else UNREPORTED
            lost[code] = lost.get(code, ZERO) + length
    if working:
        planned = max((until - starts) - planned_stops, run)
        unaccounted = planned - run - sum(lost.values(), ZERO)
        if unaccounted > ZERO:  # time before the first period: no data at all
            lost[UNREPORTED] = lost.get(UNREPORTED, ZERO) + unaccounted
    else:
        planned, lost = run, {}
    washed = counter_total(session, settings, register_map, line_id, WASHED, starts, until, now)
    rejected = counter_total(session, settings, register_map, line_id, REJECTED, starts, until, now)
    return ShiftResult(
        shift=shift,
        starts_at=starts,
        ends_at=ends,
        measured_until=until,
        inputs=OeeInputs(
            planned=planned,
            run=run,
            total=washed,
            good=max(washed - rejected, 0),
            ideal_cycle=ideal,
        ),
        planned_stops=planned_stops,
        downtime=_pareto(Downtime(code, duration) for code, duration in lost.items()),
        alarms=_alarms_raised(session, line_id, starts, until),
    )


def _periods(session: Session, line_id: int, start: datetime, end: datetime):
    return session.execute(
        select(
            StatePeriod.state, StatePeriod.stop_reason, StatePeriod.started_at, StatePeriod.ended_at
        ).where(
            StatePeriod.line_id == line_id,
            StatePeriod.started_at < end,
            or_(StatePeriod.ended_at.is_(None), StatePeriod.ended_at > start),
        )
    ).all()


def counter_total(
    session: Session,
    settings: Settings,
    register_map: RegisterMap,
    line_id: int,
    tag: str,
    start: datetime,
    end: datetime,
    now: datetime,
) -> int:
    """What a counter added in [start, end): raw increments while they are kept, else the
    minute roll-ups (raw rows older than the retention are pruned once rolled up)."""
    if end <= start:
        return 0
    kept_from = now - timedelta(days=settings.telemetry.raw_retention_days)
    if start >= kept_from:
        total = counted_sum(session, line_id, tag, LineReading.at >= start, LineReading.at < end)
    else:
        total = session.scalar(
            select(func.coalesce(func.sum(TagRollup.total), 0)).where(
                TagRollup.line_id == line_id,
                TagRollup.tag == tag,
                TagRollup.resolution == Resolution.MINUTE,
                TagRollup.bucket >= start,
                TagRollup.bucket < end,
            )
        )
    return round(float(total or 0) * register_map.tag(tag).scale)


def _alarms_raised(session: Session, line_id: int, start: datetime, end: datetime) -> int:
    return (
        session.scalar(
            select(func.count(Alarm.id)).where(
                Alarm.line_id == line_id, Alarm.raised_at >= start, Alarm.raised_at < end
            )
        )
        or 0
    )


def _pareto(items) -> list[Downtime]:
    """Downtime per reason, longest first."""
    summed: dict[str, timedelta] = {}
    for item in items:
        summed[item.code] = summed.get(item.code, ZERO) + item.duration
    return sorted(
        (Downtime(code, duration) for code, duration in summed.items() if duration > ZERO),
        key=lambda item: (-item.duration, item.code),
    )


def local_day_bounds(settings: Settings, day: date) -> tuple[datetime, datetime]:
    return production_day(day, settings.zone)
