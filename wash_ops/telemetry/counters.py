"""Counter deltas that survive reconnects, PLC restarts and roll-over: never a cup counted
twice, never a cup lost.

A PLC counter only goes up, modulo 2^16 or 2^32. Between two good reads it moved forward by
``(new - old) mod M``. That is believable only up to the tag's ``max_step``; beyond, the new
value is either a restart (the register starts again from 0), or nonsense. Nonsense is not
counted. A value that jumps for good (a PLC replaced, a counter preset) is accepted as a new
baseline once the next read confirms it, without counting the jump itself.
"""

from __future__ import annotations

import enum
from typing import NamedTuple

DEFAULT_MAX_STEP_FRACTION = 4


class Step(enum.StrEnum):
    BASELINE = "baseline"
    NORMAL = "normal"
    ROLLOVER = "rollover"
    RESTART = "restart"
    IMPLAUSIBLE = "implausible"
    REBASELINED = "rebaselined"


class CounterStep(NamedTuple):
    delta: int
    raw: int
    candidate: int | None
    kind: Step


def next_step(
    previous: int | None, candidate: int | None, raw: int, modulus: int, max_step: int | None
) -> CounterStep:
    """Where a counter goes from ``previous`` (None: never read) given a new raw value."""
    limit = max_step or modulus // DEFAULT_MAX_STEP_FRACTION  # Tag.counter_limit
    if not 0 <= raw < modulus:
        return CounterStep(0, previous if previous is not None else 0, candidate, Step.IMPLAUSIBLE)
    if previous is None:
        return CounterStep(0, raw, None, Step.BASELINE)
    forward = (raw - previous) % modulus
    if raw >= previous and forward <= limit:
        return CounterStep(forward, raw, None, Step.NORMAL)
    if raw < previous and forward <= limit:
        return CounterStep(forward, raw, None, Step.ROLLOVER)
    if raw < previous and raw <= limit:
        return CounterStep(raw, raw, None, Step.RESTART)
    if candidate is not None and (raw - candidate) % modulus <= limit:
        return CounterStep((raw - candidate) % modulus, raw, None, Step.REBASELINED)
    return CounterStep(0, previous, raw, Step.IMPLAUSIBLE)
