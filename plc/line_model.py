"""A deterministic model of the washing line in simulated time.

The model knows nothing of Modbus: it moves a PackML state machine through a scripted day and
keeps the true totals (cups washed and rejected, water, energy) as exact integers. The simulator
(`plc.simulator`) puts its values into registers; faults it injects there never touch the truth.

The day, in the site's local time (a working day; other days the line stays stopped):

======================  ========================================================================
05:45                   Resetting → Idle: the line is prepared before the shift
06:00                   Starting → Execute at the speed setpoint (actual speed ~98 % with noise)
06:10-21:50             4-7 micro-stops: Suspended for 20-60 s, the infeed starved
09:41-10:48             a jam: Held for 10-18 min, jam alarm (door open while it is cleared)
12:00-12:30             the break: Stopping → Stopped, then Resetting → Idle → Starting → Execute
14:58-17:02             the final rinse dips below its limit (82 °C) for 4-8 min, with its alarm;
                        the line keeps running: the dip is what hygiene monitoring must catch
when it runs low        detergent below 15 %: low-detergent alarm until refilled 30-45 min later
22:00                   Completing → Complete → Stopping → Stopped until the next morning
======================  ========================================================================

Every cup is washed; about 1 % of washed cups are then rejected by inspection (rejected is a
part of washed, not an addition to it). Water is ~0.25 l a cup; energy ~0.015 kWh a cup plus the
load of the machine while it is switched on (and a standby load that keeps the tanks hot).

Time moves on a one-second grid: `advance` may be called with any durations, and the same seed
gives the same line whatever the durations were. A coarser grid (``step_s``, e.g. 5 s) runs a
day several times faster for history (`plc.history`); it is the same day's script seen at that
resolution (acting states last at least one step), not the same random line.
"""

from __future__ import annotations

import enum
import math
import random
from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from wash_ops.telemetry.packml import PackMLState

if TYPE_CHECKING:
    from wash_ops.config import Settings

STEP_S = 1.0
SECONDS_PER_HOUR = 3600.0


class StopReason(enum.IntEnum):
    """Why the line is not producing (the `stop_reason` register); 0 while it produces."""

    NONE = 0  # producing, or starting up to produce
    NOT_SCHEDULED = 1  # outside the shift: night, before the start, after the end, days off
    MICRO_STOP = 10  # infeed starved: no cups at the infeed for a short while
    JAM = 20  # cups jammed in the machine: held until an operator clears it
    BREAK = 30  # planned break: the line is stopped


STOP_REASONS: dict[int, str] = {
    StopReason.NONE: "producing",
    StopReason.NOT_SCHEDULED: "outside shift hours",
    StopReason.MICRO_STOP: "micro-stop: infeed starved",
    StopReason.JAM: "jam: cleared by an operator",
    StopReason.BREAK: "planned break",
}

# The simulated PLC's alarm word. A register map may put these codes on other bits.
ALARM_BITS: dict[str, int] = {
    "emergency_stop": 0,
    "door_open": 1,
    "jam": 2,
    "low_detergent": 3,
    "rinse_temperature_low": 4,
    "water_pressure_low": 5,
    "motor_overload": 6,
    "dryer_fault": 7,
}


class Mode(enum.Enum):
    """What the day plan asks of the line at a moment."""

    OFF = "off"
    READY = "ready"
    PRODUCE = "produce"
    STARVED = "starved"
    JAM = "jam"
    BREAK = "break"


MODE_REASONS = {
    Mode.OFF: StopReason.NOT_SCHEDULED,
    Mode.READY: StopReason.NOT_SCHEDULED,
    Mode.PRODUCE: StopReason.NONE,
    Mode.STARVED: StopReason.MICRO_STOP,
    Mode.JAM: StopReason.JAM,
    Mode.BREAK: StopReason.BREAK,
}

S = PackMLState
# Acting states: how long they last (s) and the state they end in.
TRANSIENT: dict[PackMLState, tuple[float, PackMLState]] = {
    S.RESETTING: (20, S.IDLE),
    S.STARTING: (30, S.EXECUTE),
    S.SUSPENDING: (2, S.SUSPENDED),
    S.UNSUSPENDING: (3, S.EXECUTE),
    S.HOLDING: (3, S.HELD),
    S.UNHOLDING: (5, S.EXECUTE),
    S.COMPLETING: (60, S.COMPLETE),
    S.COMPLETE: (240, S.STOPPING),
    S.STOPPING: (10, S.STOPPED),
    S.CLEARING: (10, S.STOPPED),
    S.ABORTING: (5, S.ABORTED),
}
RAMP_UP = frozenset({S.STARTING, S.UNSUSPENDING, S.UNHOLDING})
RAMP_DOWN = frozenset({S.SUSPENDING, S.HOLDING, S.COMPLETING, S.STOPPING})
# Wait states: the state the line moves to when the plan asks for another mode.
REACTIONS: dict[PackMLState, dict[Mode, PackMLState]] = {
    S.STOPPED: {Mode.READY: S.RESETTING, Mode.PRODUCE: S.RESETTING},
    S.IDLE: {Mode.PRODUCE: S.STARTING, Mode.OFF: S.STOPPING, Mode.BREAK: S.STOPPING},
    S.EXECUTE: {
        Mode.STARVED: S.SUSPENDING,
        Mode.JAM: S.HOLDING,
        Mode.BREAK: S.STOPPING,
        Mode.OFF: S.COMPLETING,
    },
    S.SUSPENDED: {
        Mode.PRODUCE: S.UNSUSPENDING,
        Mode.JAM: S.HOLDING,
        Mode.BREAK: S.STOPPING,
        Mode.OFF: S.STOPPING,
    },
    S.HELD: {
        Mode.PRODUCE: S.UNHOLDING,
        Mode.STARVED: S.UNHOLDING,
        Mode.BREAK: S.STOPPING,
        Mode.OFF: S.STOPPING,
    },
    S.ABORTED: {Mode.READY: S.CLEARING, Mode.PRODUCE: S.CLEARING},
}
# Where a model that starts in the middle of the day begins.
INITIAL_STATE = {
    Mode.OFF: S.STOPPED,
    Mode.READY: S.IDLE,
    Mode.PRODUCE: S.EXECUTE,
    Mode.STARVED: S.SUSPENDED,
    Mode.JAM: S.HELD,
    Mode.BREAK: S.STOPPED,
}


def _brussels() -> ZoneInfo:
    return ZoneInfo("Europe/Brussels")


@dataclass(frozen=True)
class LineProfile:
    """The line's settings. The defaults match config/default.toml (50,000 cups a day)."""

    zone: ZoneInfo = field(default_factory=_brussels)
    shift_start: time = time(6, 0)
    shift_end: time = time(22, 0)
    working_days: frozenset[int] = frozenset(range(1, 8))  # ISO weekdays; a demo runs daily
    closed_dates: frozenset[date] = frozenset()
    extra_dates: frozenset[date] = frozenset()  # dates it runs anyway (a demo started on a day off)
    prepare_minutes: float = 15
    break_start: time = time(12, 0)
    break_minutes: float = 30
    # 15.5 productive hours at 3,220 cups/h is 49,910: with losses a day ends near 48,000.
    speed_setpoint: int = 3220
    efficiency: float = 0.98
    reject_rate: float = 0.01
    wash_setpoint: float = 60.0
    rinse_setpoint: float = 85.0
    rinse_limit: float = 82.0
    rinse_dip_to: float = 78.5
    water_per_cup_l: float = 0.25
    energy_per_cup_kwh: float = 0.015
    idle_load_kw: float = 6.0
    standby_load_kw: float = 2.0
    detergent_start: float = 55.0
    detergent_per_cup: float = 0.0017  # % of the tank
    detergent_low: float = 15.0

    def works_on(self, day: date) -> bool:
        if day in self.extra_dates:
            return True
        return day.isoweekday() in self.working_days and day not in self.closed_dates

    @classmethod
    def from_settings(cls, settings: Settings, **changes: Any) -> LineProfile:
        """A profile from the site's settings: time zone, shift, and a speed for the capacity.

        Working days are left to ``changes``: by default the simulated line works every day.
        """
        line = settings.line
        break_h = float(changes.get("break_minutes", cls.break_minutes)) / 60
        productive_h = _hours_between(line.shift_start, line.shift_end) - break_h
        speed = int(line.capacity_per_day / max(productive_h, 1.0) // 10 * 10)
        values: dict[str, Any] = {
            "zone": settings.zone,
            "shift_start": line.shift_start,
            "shift_end": line.shift_end,
            "speed_setpoint": max(speed, 10),
        }
        values.update(changes)
        return cls(**values)


def _hours_between(start: time, end: time) -> float:
    return (end.hour - start.hour) + (end.minute - start.minute) / 60


@dataclass(frozen=True)
class Window:
    """A stretch of simulated time, [start, end)."""

    start: datetime
    end: datetime
    t0: float = field(init=False, repr=False)
    t1: float = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "t0", self.start.timestamp())
        object.__setattr__(self, "t1", self.end.timestamp())

    def holds(self, t: float) -> bool:
        return self.t0 <= t < self.t1

    def near(self, other: Window, margin_s: float) -> bool:
        return self.t0 < other.t1 + margin_s and other.t0 < self.t1 + margin_s


@dataclass(frozen=True)
class DayPlan:
    """One local day's script. Random parts come from the seed and the date only."""

    day: date
    working: bool
    prepare_at: float
    shift: Window
    breaks: tuple[Window, ...]
    jam: Window | None
    micro_stops: tuple[Window, ...]
    rinse_dip: Window | None
    refill_delay_s: float

    def mode(self, t: float) -> Mode:
        if not self.working or t < self.prepare_at or t >= self.shift.t1:
            return Mode.OFF
        if t < self.shift.t0:
            return Mode.READY
        if any(window.holds(t) for window in self.breaks):
            return Mode.BREAK
        if self.jam is not None and self.jam.holds(t):
            return Mode.JAM
        if any(window.holds(t) for window in self.micro_stops):
            return Mode.STARVED
        return Mode.PRODUCE

    def door_open(self, t: float) -> bool:
        """Operators open the door to clear the jam after a couple of minutes."""
        return self.jam is not None and self.jam.t0 + 120 <= t < self.jam.t1 - 30


def plan_day(day: date, profile: LineProfile, seed: int) -> DayPlan:
    """The script for ``day``: deterministic for a seed and a date."""
    rng = random.Random(f"{seed}:{day.isoformat()}")
    zone = profile.zone

    def at(clock: time, minutes: float = 0.0) -> datetime:
        return datetime.combine(day, clock, tzinfo=zone) + timedelta(minutes=minutes)

    shift = Window(at(profile.shift_start), at(profile.shift_end))
    lunch = Window(at(profile.break_start), at(profile.break_start, profile.break_minutes))
    shift_minutes = (shift.t1 - shift.t0) / 60
    jam_start = shift.start + timedelta(minutes=shift_minutes * rng.uniform(0.23, 0.30))
    jam = Window(jam_start, jam_start + timedelta(minutes=rng.uniform(10, 18)))
    dip_start = shift.start + timedelta(minutes=shift_minutes * rng.uniform(0.56, 0.69))
    dip = Window(dip_start, dip_start + timedelta(minutes=rng.uniform(4, 8)))
    return DayPlan(
        day=day,
        working=profile.works_on(day),
        prepare_at=shift.t0 - profile.prepare_minutes * 60,
        shift=shift,
        breaks=(lunch,),
        jam=jam,
        micro_stops=_micro_stops(rng, shift, (lunch, jam, dip)),
        rinse_dip=dip,
        refill_delay_s=rng.uniform(30, 45) * 60,
    )


def _micro_stops(rng: random.Random, shift: Window, busy: tuple[Window, ...]) -> tuple[Window, ...]:
    """4-7 short stops spread over the shift, apart from each other and from the other events."""
    stops: list[Window] = []
    wanted = rng.randint(4, 7)
    for _ in range(200):
        if len(stops) == wanted:
            break
        start = datetime.fromtimestamp(
            rng.uniform(shift.t0 + 600, shift.t1 - 600), shift.start.tzinfo
        )
        stop = Window(start, start + timedelta(seconds=rng.uniform(20, 60)))
        if not any(stop.near(other, 300) for other in (*busy, *stops)):
            stops.append(stop)
    return tuple(sorted(stops, key=lambda window: window.t0))


@dataclass(frozen=True)
class StateChange:
    at: datetime
    before: PackMLState
    after: PackMLState
    reason: StopReason


@dataclass
class Totals:
    """The true totals in exact integers: what the line really did."""

    cups_washed: int = 0
    cups_rejected: int = 0
    water_ml: int = 0
    energy_wh: int = 0


class LineModel:
    """The line, advanced in simulated seconds. Values are read by tag name (`values()`)."""

    def __init__(
        self,
        profile: LineProfile | None = None,
        *,
        seed: int = 0,
        start: datetime | None = None,
        step_s: float = STEP_S,
    ) -> None:
        self.use_step(step_s)
        self.profile = profile or LineProfile()
        self.seed = seed
        self._rng = random.Random(seed)
        start = start or datetime.now(self.profile.zone)
        if start.tzinfo is None:
            start = start.replace(tzinfo=self.profile.zone)
        self._t = float(math.floor(start.timestamp()))
        self._pending = 0.0
        self._load_plan()
        self.totals = Totals()
        # The latest state changes, oldest first: a reader (the simulator's log) may drain it.
        self.changes: deque[StateChange] = deque(maxlen=1000)
        self._fractions = {"cups": 0.0, "water_ml": 0.0, "energy_wh": 0.0}
        self._start_state()

    def _start_state(self) -> None:
        mode = self.plan.mode(self._t)
        self.state = INITIAL_STATE[mode]
        self.stop_reason = MODE_REASONS[mode]
        self._since = self._t
        self._entry_speed = 0.0
        self._efficiency = self.profile.efficiency
        self.speed = self._speed_now(mode)
        self._wash = self.profile.wash_setpoint
        self._rinse = self.profile.rinse_setpoint
        self.wash_temperature = round(self._wash, 1)
        self.rinse_temperature = round(self._rinse, 1)
        self.detergent = self.profile.detergent_start
        self._low_since: float | None = None
        self.alarm_word = 0
        self._dose(0)
        self._raise_alarms()

    # --- reading ---------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        """The simulated local time."""
        return datetime.fromtimestamp(self._t, self.profile.zone)

    @property
    def active_alarms(self) -> frozenset[str]:
        return frozenset(code for code, bit in ALARM_BITS.items() if self.alarm_word >> bit & 1)

    def values(self) -> dict[str, float | int]:
        """Current values by tag name, in engineering units (°C, %, cups/h, l, kWh)."""
        return {
            "state": int(self.state),
            "stop_reason": int(self.stop_reason),
            "alarm_word": self.alarm_word,
            "speed": round(self.speed),
            "speed_setpoint": self.profile.speed_setpoint,
            "wash_temperature": self.wash_temperature,
            "rinse_temperature": self.rinse_temperature,
            "detergent_level": round(self.detergent, 1),
            "cups_washed": self.totals.cups_washed,
            "cups_rejected": self.totals.cups_rejected,
            "water": self.totals.water_ml / 1000,
            "energy": self.totals.energy_wh / 1000,
        }

    # --- moving on -------------------------------------------------------------------------

    def use_step(self, step_s: float) -> None:
        """Go on at another resolution (history runs at 5 s, a simulator continuing it at 1 s)."""
        if step_s < STEP_S or step_s != int(step_s):
            raise ValueError("step_s must be a whole number of seconds, at least 1")
        self.step_s = float(step_s)
        self._noise_scale = math.sqrt(self.step_s)

    def advance(self, seconds: float) -> None:
        """Move simulated time on by ``seconds`` (whole seconds are stepped, the rest waits)."""
        if seconds < 0:
            raise ValueError("time does not run backwards")
        self._pending += seconds
        while self._pending >= self.step_s:
            self._pending -= self.step_s
            self._step()

    def _load_plan(self) -> None:
        today = datetime.fromtimestamp(self._t, self.profile.zone).date()
        self.plan = plan_day(today, self.profile, self.seed)
        midnight = datetime.combine(today + timedelta(days=1), time(0), tzinfo=self.profile.zone)
        self._plan_until = midnight.timestamp()

    def _step(self) -> None:
        self._t += self.step_s
        if self._t >= self._plan_until:
            self._load_plan()
        mode = self.plan.mode(self._t)
        self._move_state(mode)
        self.speed = self._speed_now(mode)
        cups = self._produce()
        self._heat()
        self._dose(cups)
        self._raise_alarms()

    def _move_state(self, mode: Mode) -> None:
        self.stop_reason = MODE_REASONS[mode]
        elapsed = self._t - self._since
        if self.state in TRANSIENT:
            duration, after = TRANSIENT[self.state]
            if elapsed >= duration:
                self._enter(after)
        else:
            after = REACTIONS.get(self.state, {}).get(mode)
            if after is not None:
                self._enter(after)

    def _enter(self, state: PackMLState) -> None:
        self.changes.append(StateChange(self.now, self.state, state, self.stop_reason))
        self._entry_speed = self.speed
        self.state = state
        self._since = self._t

    def _speed_now(self, mode: Mode) -> float:
        """Cups/h: the setpoint times a slowly wandering efficiency, ramped in acting states."""
        self._wander()
        running = self.profile.speed_setpoint * self._efficiency
        if self.state is S.EXECUTE:
            return running
        if self.state in RAMP_UP:
            return running * min(1.0, self._progress())
        if self.state in RAMP_DOWN:
            return self._entry_speed * max(0.0, 1.0 - self._progress())
        return 0.0

    def _progress(self) -> float:
        duration, _ = TRANSIENT[self.state]
        return (self._t - self._since) / duration

    def _wander(self) -> None:
        pull = (self.profile.efficiency - self._efficiency) / 300 * self.step_s
        self._efficiency += pull + self._rng.gauss(0.0, 0.0015 * self._noise_scale)
        self._efficiency = min(1.0, max(self.profile.efficiency - 0.05, self._efficiency))

    def _produce(self) -> int:
        """Count the cups of this second and what they used; returns the cups."""
        fractions, totals, profile = self._fractions, self.totals, self.profile
        fractions["cups"] += self.speed * self.step_s / SECONDS_PER_HOUR
        cups = int(fractions["cups"])
        fractions["cups"] -= cups
        totals.cups_washed += cups
        totals.cups_rejected += sum(self._rng.random() < profile.reject_rate for _ in range(cups))
        load_kw = profile.standby_load_kw if self.state is S.STOPPED else profile.idle_load_kw
        totals.water_ml += self._carry("water_ml", cups * profile.water_per_cup_l * 1000)
        energy_wh = cups * profile.energy_per_cup_kwh * 1000 + load_kw * 1000 * self.step_s / 3600
        totals.energy_wh += self._carry("energy_wh", energy_wh)
        return cups

    def _carry(self, name: str, amount: float) -> int:
        """Whole units of ``amount`` plus what was left over before; keeps the rest."""
        self._fractions[name] += amount
        whole = int(self._fractions[name])
        self._fractions[name] -= whole
        return whole

    def _heat(self) -> None:
        """Tanks follow their targets with a lag; the sensors add a little noise."""
        profile, rng = self.profile, self._rng
        dip = self.plan.rinse_dip
        rinse_target = (
            profile.rinse_dip_to if dip and dip.holds(self._t) else profile.rinse_setpoint
        )
        self._rinse += (rinse_target - self._rinse) * self.step_s / 60
        wash_target = profile.wash_setpoint - self.speed / max(profile.speed_setpoint, 1)
        self._wash += (wash_target - self._wash) * self.step_s / 120
        self.rinse_temperature = round(self._rinse + rng.gauss(0.0, 0.1), 1)
        self.wash_temperature = round(self._wash + rng.gauss(0.0, 0.15), 1)

    def _dose(self, cups: int) -> None:
        """Detergent goes with the cups; an operator refills a while after the alarm."""
        self.detergent = max(0.0, self.detergent - cups * self.profile.detergent_per_cup)
        if round(self.detergent, 1) >= self.profile.detergent_low:  # as the sensor reads it
            return
        if self._low_since is None:
            self._low_since = self._t
        elif self._t - self._low_since >= self.plan.refill_delay_s:
            self.detergent = 100.0
            self._low_since = None

    def _raise_alarms(self) -> None:
        word = self.alarm_word
        jam = self.plan.jam is not None and self.plan.jam.holds(self._t)
        word = _with_bit(word, "jam", jam)
        word = _with_bit(word, "door_open", self.plan.door_open(self._t))
        word = _with_bit(word, "low_detergent", self._low_since is not None)
        limit = self.profile.rinse_limit
        if self.rinse_temperature < limit:
            word = _with_bit(word, "rinse_temperature_low", True)
        elif self.rinse_temperature >= limit + 0.5:  # hysteresis: no flicker at the limit
            word = _with_bit(word, "rinse_temperature_low", False)
        self.alarm_word = word


def _with_bit(word: int, code: str, on: bool) -> int:
    mask = 1 << ALARM_BITS[code]
    return word | mask if on else word & ~mask
