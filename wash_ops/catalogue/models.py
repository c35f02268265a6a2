from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wash_ops.db import Base


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float]
    lon: Mapped[float]
    timezone: Mapped[str] = mapped_column(String(64))

    lines: Mapped[list[Line]] = relationship(back_populates="site")


class Line(Base):
    __tablename__ = "lines"
    __table_args__ = (CheckConstraint("capacity_per_day > 0", name="capacity_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    capacity_per_day: Mapped[int]

    site: Mapped[Site] = relationship(back_populates="lines")


class CupType(Base):
    __tablename__ = "cup_types"
    __table_args__ = (
        CheckConstraint("cups_per_crate > 0", name="crate_positive"),
        CheckConstraint("volume_ml > 0", name="volume_positive"),
        CheckConstraint(
            "wash_price_cents >= 0 AND rent_price_cents >= 0 AND loss_price_cents >= 0",
            name="prices_not_negative",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name_nl: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(80))
    volume_ml: Mapped[int]
    cups_per_crate: Mapped[int]
    wash_price_cents: Mapped[int]
    rent_price_cents: Mapped[int]
    loss_price_cents: Mapped[int]
    active: Mapped[bool] = mapped_column(default=True)

    def name(self, locale: str) -> str:
        return self.name_nl if locale == "nl" else self.name_en

    def crates_for(self, cups: int) -> int:
        return -(-cups // self.cups_per_crate)
