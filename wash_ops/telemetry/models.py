from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ColumnElement, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wash_ops.accounts.models import User
from wash_ops.db import Base, UTCDateTime, str_enum

BigId = BigInteger().with_variant(Integer, "sqlite")


class Resolution(enum.StrEnum):
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"


class LineReading(Base):
    """One good reading of a line in one row: its gauge values by tag, and what each counter
    added since the previous good reading (never a raw register value), kept for
    ``telemetry.raw_retention_days``.

    One row a reading rather than one a tag: a reading is stored with a single insert, which
    is what lets the MQTT bridge keep pace with its broker (issue 6, docs/BENCHMARKS.md).
    ``gauge(tag)`` and ``counted(tag)`` are the SQL for one tag's value."""

    __tablename__ = "line_readings"
    __table_args__ = (Index("ix_line_readings_line_at", "line_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    gauges: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)

    @classmethod
    def gauge(cls, tag: str) -> ColumnElement[float]:
        """The gauge's value in this reading (NULL when the reading has none)."""
        return cls.gauges[tag].as_float()

    @classmethod
    def counted(cls, tag: str) -> ColumnElement[int]:
        """What the counter added at this reading (NULL when it added nothing)."""
        return cls.counts[tag].as_integer()  # a step fits: Tag.max_step < 2**31


class CounterCursor(Base):
    """The last accepted raw value of a counter, persisted with its increments in one
    transaction so that a restarted worker continues exactly where the last one stopped."""

    __tablename__ = "counter_cursors"

    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(40), primary_key=True)
    raw: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    candidate: Mapped[int | None] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger, default=0)
    day: Mapped[date]
    day_total: Mapped[int] = mapped_column(BigInteger, default=0)


class LineLive(Base):
    """The latest picture of a line: last readings, heartbeat and quality, for the status."""

    __tablename__ = "line_live"

    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), primary_key=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_good_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure: Mapped[str] = mapped_column(String(300), default="")
    heartbeat: Mapped[int | None] = mapped_column(BigInteger)
    heartbeat_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[int | None]
    state_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    good_readings: Mapped[int] = mapped_column(BigInteger, default=0)
    failed_readings: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected_values: Mapped[int] = mapped_column(BigInteger, default=0)


class StatePeriod(Base):
    """A stretch of time in one PackML state and stop reason; state 0 (undefined) while the data
    was stale. The stop reason is the register map's stop_reason_tag value (None: not reported)."""

    __tablename__ = "state_periods"
    __table_args__ = (Index("ix_state_periods_line_started", "line_id", "started_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    state: Mapped[int]
    stop_reason: Mapped[int | None]
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AlarmEvent(enum.StrEnum):
    RAISED = "raised"
    RETURNED = "returned"
    ACKNOWLEDGED = "acknowledged"


class Alarm(Base):
    """One occurrence of an alarm bit, with its ISA-18.2 state derived from two timestamps."""

    __tablename__ = "alarms"
    __table_args__ = (Index("ix_alarms_line_open", "line_id", "returned_at", "acknowledged_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    code: Mapped[str] = mapped_column(String(40))
    bit: Mapped[int]
    severity: Mapped[str] = mapped_column(String(16))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    acknowledged_by: Mapped[User | None] = relationship()

    @property
    def active(self) -> bool:
        return self.returned_at is None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    @property
    def isa_state(self) -> str:
        if self.active:
            return "active_acknowledged" if self.acknowledged else "active_unacknowledged"
        return "normal" if self.acknowledged else "returned_unacknowledged"


class AlarmJournalEntry(Base):
    __tablename__ = "alarm_journal"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    event: Mapped[AlarmEvent] = mapped_column(str_enum(AlarmEvent, "alarm_event"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class TagRollup(Base):
    """Minute, hour and day aggregates; a counter's ``total`` is what it added in the bucket,
    a gauge's is the sum of its samples (mean = total / count)."""

    __tablename__ = "tag_rollups"

    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(40), primary_key=True)
    resolution: Mapped[Resolution] = mapped_column(
        str_enum(Resolution, "rollup_resolution"), primary_key=True
    )
    bucket: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[float]
    minimum: Mapped[float]
    maximum: Mapped[float]
    last: Mapped[float]


class RollupCursor(Base):
    __tablename__ = "rollup_cursors"

    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"), primary_key=True)
    resolution: Mapped[Resolution] = mapped_column(
        str_enum(Resolution, "cursor_resolution"), primary_key=True
    )
    done_until: Mapped[datetime] = mapped_column(UTCDateTime)
