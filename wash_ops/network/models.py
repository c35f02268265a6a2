from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from wash_ops.db import Base, UTCDateTime

BigId = BigInteger().with_variant(Integer, "sqlite")


class NetworkSource(Base):
    """A publisher of telemetry: a JSON topic's site/line or a Sparkplug edge node (device),
    with the sequence number and time of the newest message stored, for the office."""

    __tablename__ = "network_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    line_id: Mapped[int | None] = mapped_column(ForeignKey("lines.id"))
    last_seq: Mapped[int | None] = mapped_column(BigInteger)
    last_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    messages: Mapped[int] = mapped_column(BigInteger, default=0)
    duplicates: Mapped[int] = mapped_column(BigInteger, default=0)
    # Sparkplug: the birth/death sequence of the current session, and whether the node died.
    bd_seq: Mapped[int | None]
    dead_since: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ReceivedMessage(Base):
    """A JSON message stored from a source, by its sequence number and time: a message seen
    again (QoS 1 redelivery, a publisher's retry, in any order) is recognised and not stored
    twice. Kept as long as raw samples (``telemetry.raw_retention_days``)."""

    __tablename__ = "network_received"
    __table_args__ = (Index("ix_network_received_at", "at"),)

    source_id: Mapped[int] = mapped_column(ForeignKey("network_sources.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)


class DeadLetter(Base):
    """A message that could not be used, kept with why; the payload is cut to an excerpt."""

    __tablename__ = "dead_letters"
    __table_args__ = (Index("ix_dead_letters_received_at", "received_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    topic: Mapped[str] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(String(32), index=True)
    detail: Mapped[str] = mapped_column(String(300), default="")
    payload_size: Mapped[int] = mapped_column(Integer)
    payload: Mapped[bytes] = mapped_column(LargeBinary)
