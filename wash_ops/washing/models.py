"""A wash batch: one order's cups of one cup type on one line, from start to end.

While a batch runs, the PLC's counters and temperature readings on its line belong to it. Ending
it freezes what was counted and measured into the batch (the hygiene record), so a report or a
certificate printed years later shows what was true when the cups were washed, even after the
raw samples are gone. The hygiene limits in force at the start are kept with the batch too.

At most one batch runs per line: a partial unique index on ``line_id`` where the status is
``running`` (the services also take a row lock on the line, so a second start waits and is
refused cleanly instead of failing on the index).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wash_ops.accounts.models import Organisation, User
from wash_ops.catalogue.models import CupType, Line
from wash_ops.db import Base, UTCDateTime, str_enum
from wash_ops.orders.models import Order


class BatchStatus(enum.StrEnum):
    RUNNING = "running"
    ENDED = "ended"


RUNNING_ONLY = text("status = 'running'")


class WashBatch(Base):
    __tablename__ = "wash_batches"
    __table_args__ = (
        CheckConstraint("cups_loaded > 0", name="cups_loaded_positive"),
        CheckConstraint(
            "cups_washed >= 0 AND cups_rejected >= 0 AND cups_good >= 0 AND cups_broken >= 0"
            " AND cups_unwashed >= 0",
            name="counts_not_negative",
        ),
        CheckConstraint(
            "cups_good + cups_broken + cups_unwashed = 0"
            " OR cups_good + cups_broken + cups_unwashed = cups_loaded",
            name="booked_adds_up",
        ),
        CheckConstraint(
            "(status = 'running' AND ended_at IS NULL)"
            " OR (status = 'ended' AND ended_at IS NOT NULL AND ended_at >= started_at)",
            name="ended_when_ended",
        ),
        Index(
            "uq_wash_batches_line_running",
            "line_id",
            unique=True,
            sqlite_where=RUNNING_ONLY,
            postgresql_where=RUNNING_ONLY,
        ),
        Index("ix_wash_batches_line_started", "line_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("lines.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    cup_type_id: Mapped[int] = mapped_column(ForeignKey("cup_types.id"))
    # As in the ledger: NULL for pool (rental) cups, else the organisation that owns them.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("organisations.id"))
    status: Mapped[BatchStatus] = mapped_column(
        str_enum(BatchStatus, "wash_batch_status"), default=BatchStatus.RUNNING
    )
    cups_loaded: Mapped[int]
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    # What the PLC counted during the batch, and what the ledger booked from it: good cups to
    # clean stock (or quarantine), rejects to breakage, the rest back to the dirty backlog.
    cups_washed: Mapped[int] = mapped_column(default=0)
    cups_rejected: Mapped[int] = mapped_column(default=0)
    cups_good: Mapped[int] = mapped_column(default=0)
    cups_broken: Mapped[int] = mapped_column(default=0)
    cups_unwashed: Mapped[int] = mapped_column(default=0)
    water_l: Mapped[float | None]
    energy_kwh: Mapped[float | None]

    # The limits in force when the batch started.
    wash_tag: Mapped[str] = mapped_column(String(40))
    rinse_tag: Mapped[str] = mapped_column(String(40))
    wash_limit_c: Mapped[float]
    rinse_limit_c: Mapped[float]
    max_seconds_below: Mapped[int]
    # Readings further apart than this leave time uncovered (telemetry.stale_after_s).
    max_gap_s: Mapped[float]

    # The hygiene record, written when the batch ends.
    wash_lowest_c: Mapped[float | None]
    wash_highest_c: Mapped[float | None]
    rinse_lowest_c: Mapped[float | None]
    rinse_highest_c: Mapped[float | None]
    wash_seconds_below: Mapped[float | None]
    rinse_seconds_below: Mapped[float | None]
    hygiene_passed: Mapped[bool | None]

    line: Mapped[Line] = relationship()
    order: Mapped[Order] = relationship()
    cup_type: Mapped[CupType] = relationship()
    owner: Mapped[Organisation | None] = relationship()
    started_by: Mapped[User] = relationship(foreign_keys=[started_by_id])
    ended_by: Mapped[User | None] = relationship(foreign_keys=[ended_by_id])

    @property
    def number(self) -> str:
        return f"WB-{self.id:06d}"

    @property
    def running(self) -> bool:
        return self.status is BatchStatus.RUNNING
