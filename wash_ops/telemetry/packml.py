"""PackML machine states (ISA-TR88.00.02) with the standard numbering."""

from __future__ import annotations

import enum


class PackMLState(enum.IntEnum):
    UNDEFINED = 0
    CLEARING = 1
    STOPPED = 2
    STARTING = 3
    IDLE = 4
    SUSPENDED = 5
    EXECUTE = 6
    STOPPING = 7
    ABORTING = 8
    ABORTED = 9
    HOLDING = 10
    HELD = 11
    UNHOLDING = 12
    SUSPENDING = 13
    UNSUSPENDING = 14
    RESETTING = 15
    COMPLETING = 16
    COMPLETE = 17

    @classmethod
    def of(cls, value: int) -> PackMLState:
        try:
            return cls(value)
        except ValueError:
            return cls.UNDEFINED

    @property
    def producing(self) -> bool:
        return self is PackMLState.EXECUTE

    @property
    def faulted(self) -> bool:
        return self in (
            PackMLState.ABORTING,
            PackMLState.ABORTED,
            PackMLState.HOLDING,
            PackMLState.HELD,
        )
