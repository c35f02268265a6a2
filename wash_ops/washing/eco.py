"""Eco figures from the ended batches: cups reused, single-use cups avoided, and the water and
energy the line measured while washing them.

A cup counts as reused when it was washed, passed the hygiene check and went back to clean
stock; each reuse stands in for one single-use cup (``SINGLE_USE_PER_REUSE``). Water and energy
are what the line's meters added during the batches, so they include the rejects and any
quarantined cups: the true cost of the wash. Per 1,000 cups divides by the cups the line
washed (the PLC's count), summed over the batches first, never averaged per batch.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from wash_ops.orders.models import Order
from wash_ops.washing.models import BatchStatus, WashBatch

SINGLE_USE_PER_REUSE = 1


@dataclass(frozen=True)
class EcoFigures:
    batches: int
    cups_washed: int
    cups_reused: int
    water_l: float
    energy_kwh: float

    @property
    def single_use_avoided(self) -> int:
        return self.cups_reused * SINGLE_USE_PER_REUSE

    @property
    def water_l_per_1000(self) -> float | None:
        return self._per_1000(self.water_l)

    @property
    def energy_kwh_per_1000(self) -> float | None:
        return self._per_1000(self.energy_kwh)

    @property
    def empty(self) -> bool:
        return self.batches == 0

    def _per_1000(self, amount: float) -> float | None:
        return None if self.cups_washed == 0 else round(amount * 1000 / self.cups_washed, 2)

    def as_dict(self) -> dict[str, object]:
        return {
            "batches": self.batches,
            "cups_washed": self.cups_washed,
            "cups_reused": self.cups_reused,
            "single_use_cups_avoided": self.single_use_avoided,
            "water_l": self.water_l,
            "energy_kwh": self.energy_kwh,
            "water_l_per_1000_cups": self.water_l_per_1000,
            "energy_kwh_per_1000_cups": self.energy_kwh_per_1000,
        }


def order_eco(session: Session, order_id: int) -> EcoFigures:
    return _figures(session, WashBatch.order_id == order_id)


def organiser_eco(session: Session, organisation_id: int) -> EcoFigures:
    """Every ended batch of the organisation's orders."""
    orders = select(Order.id).where(Order.organisation_id == organisation_id)
    return _figures(session, WashBatch.order_id.in_(orders.scalar_subquery()))


def _figures(session: Session, which) -> EcoFigures:
    reused = case((WashBatch.hygiene_passed.is_(True), WashBatch.cups_good), else_=0)
    row = session.execute(
        select(
            func.count(WashBatch.id),
            func.coalesce(func.sum(WashBatch.cups_washed), 0),
            func.coalesce(func.sum(reused), 0),
            func.coalesce(func.sum(WashBatch.water_l), 0.0),
            func.coalesce(func.sum(WashBatch.energy_kwh), 0.0),
        ).where(which, WashBatch.status == BatchStatus.ENDED)
    ).one()
    batches, washed, cups_reused, water, energy = row
    return EcoFigures(
        batches=int(batches),
        cups_washed=int(washed),
        cups_reused=int(cups_reused),
        water_l=round(float(water), 3),
        energy_kwh=round(float(energy), 3),
    )
