"""Counter steps: every way a PLC counter can move between two reads."""

from __future__ import annotations

import pytest

from wash_ops.telemetry.counters import Step, next_step

M = 2**32


@pytest.mark.parametrize(
    ("previous", "candidate", "raw", "delta", "kind"),
    [
        (None, None, 1234, 0, Step.BASELINE),
        (100, None, 160, 60, Step.NORMAL),
        (100, None, 100, 0, Step.NORMAL),
        (M - 10, None, 25, 35, Step.ROLLOVER),
        (50_000, None, 40, 40, Step.RESTART),
        (50_000, None, M - 100, 0, Step.IMPLAUSIBLE),
        (50_000, M - 100, M - 40, 60, Step.REBASELINED),
        (50_000, M - 100, 50_070, 70, Step.NORMAL),
        (50_000, None, M + 5, 0, Step.IMPLAUSIBLE),
    ],
)
def test_counter_steps(previous, candidate, raw, delta, kind):
    step = next_step(previous, candidate, raw, M, max_step=100_000)
    assert (step.delta, step.kind) == (delta, kind)


def test_implausible_value_is_kept_as_candidate_and_previous_stays():
    step = next_step(50_000, None, M - 100, M, max_step=100_000)
    assert step.raw == 50_000 and step.candidate == M - 100


def test_sixteen_bit_rollover():
    assert next_step(65_530, None, 4, 2**16, max_step=1000).delta == 10
