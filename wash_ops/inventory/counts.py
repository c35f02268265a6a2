"""Stock counts: a planner counts a place, and each difference is booked as an adjustment.

A count covers the cup types it lists, for one state and owner at one place (by default the
clean pool cups). Fewer cups than booked go to the virtual loss place ``LOSS-COUNT`` in state
``lost``; more cups than booked enter from outside (a movement without a from side). Both carry
the counter's reason. A count books the truth, so it is not refused for the place's capacity.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from wash_ops.accounts.models import OFFICE_ROLES, User
from wash_ops.catalogue.models import CupType
from wash_ops.errors import N_, Forbidden, Problems
from wash_ops.inventory.ledger import MovementLine, book_movements
from wash_ops.inventory.locations import LossReason, is_whole, location_by_code, loss_location
from wash_ops.inventory.models import POOL, Location, StockBalance, StockMovement, StockState


def count_location(
    session: Session,
    location: Location | str,
    counted: dict[str, int],
    *,
    reason: str,
    user: User,
    state: StockState = StockState.CLEAN_AVAILABLE,
    owner_id: int | None = None,
    at: datetime | None = None,
) -> list[StockMovement]:
    """Book the differences between what was counted and what the ledger holds; [] when the
    count agrees. Only planners and admins may count."""
    if user.role not in OFFICE_ROLES:
        raise Forbidden(N_("Only a planner can book a stock count."))
    place = location if isinstance(location, Location) else location_by_code(session, location)
    problems = Problems()
    if not counted:
        problems.add("counted", N_("Count at least one cup type."))
    cup_types = {
        cup.code: cup
        for cup in session.scalars(select(CupType).where(CupType.code.in_(list(counted))))
    }
    for code, quantity in counted.items():
        if code not in cup_types:
            problems.add(f"counted.{code}", N_("Unknown cup type: %(code)s."), code=code)
        if not is_whole(quantity) or quantity < 0:
            problems.add(f"counted.{code}", N_("A count is a whole number of cups, zero or more."))
    if not reason.strip():
        problems.add("reason", N_("Give a reason."))
    problems.raise_if_any()
    owner_key = POOL if owner_id is None else owner_id
    lines = []
    for code, quantity in sorted(counted.items()):
        cup = cup_types[code]
        booked = (
            session.scalar(
                select(StockBalance.quantity)
                .where(
                    StockBalance.cup_type_id == cup.id,
                    StockBalance.owner_key == owner_key,
                    StockBalance.state == state,
                    StockBalance.location_id == place.id,
                )
                .with_for_update()
            )
            or 0
        )
        if quantity < booked:
            lines.append(
                MovementLine(
                    cup_type=cup,
                    quantity=booked - quantity,
                    from_state=state,
                    from_location=place,
                    to_state=StockState.LOST,
                    to_location=loss_location(session, LossReason.COUNT),
                    owner_id=owner_id,
                )
            )
        elif quantity > booked:
            lines.append(
                MovementLine(
                    cup_type=cup,
                    quantity=quantity - booked,
                    to_state=state,
                    to_location=place,
                    owner_id=owner_id,
                )
            )
    if not lines:
        return []
    return book_movements(
        session,
        lines,
        reason=f"count: {reason.strip()}",
        user=user,
        at=at,
        check_capacity=False,
    )
