"""Alarms as ISA-18.2 sees them: active or returned, unacknowledged or acknowledged."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from wash_ops.accounts.models import Role, User
from wash_ops.errors import N_, Conflict, Forbidden, NotFound
from wash_ops.telemetry.models import Alarm, AlarmEvent, AlarmJournalEntry
from wash_ops.telemetry.register_map import Severity

ACKNOWLEDGING_ROLES = frozenset({Role.SUPERVISOR, Role.PLANNER, Role.ADMIN})


def alarms_needing_attention(session: Session, line_id: int) -> list[Alarm]:
    """Active alarms and returned ones nobody acknowledged: most severe, then newest, first."""
    alarms = session.scalars(
        select(Alarm).where(
            Alarm.line_id == line_id,
            or_(Alarm.returned_at.is_(None), Alarm.acknowledged_at.is_(None)),
        )
    ).all()
    return sorted(
        alarms, key=lambda alarm: (Severity(alarm.severity).rank, -alarm.raised_at.timestamp())
    )


def acknowledge_alarm(session: Session, alarm_id: int, user: User, at: datetime) -> Alarm:
    if user.role not in ACKNOWLEDGING_ROLES:
        raise Forbidden(N_("Only line supervisors and the office acknowledge alarms."))
    alarm = session.get(Alarm, alarm_id)
    if alarm is None:
        raise NotFound(N_("This alarm does not exist."))
    if alarm.acknowledged:
        raise Conflict(N_("This alarm has been acknowledged already."))
    alarm.acknowledged_at = at
    alarm.acknowledged_by_id = user.id
    session.add(
        AlarmJournalEntry(alarm_id=alarm.id, at=at, event=AlarmEvent.ACKNOWLEDGED, user_id=user.id)
    )
    session.flush()
    return alarm


def acknowledge_alarms(session: Session, alarm_ids: list[int], user: User, at: datetime) -> int:
    """Acknowledge a flood's group at once; those acknowledged meanwhile are left as they are.

    Unknown ids are refused as a whole, so a bad request changes nothing.
    """
    if user.role not in ACKNOWLEDGING_ROLES:
        raise Forbidden(N_("Only line supervisors and the office acknowledge alarms."))
    wanted = set(alarm_ids)
    if not wanted:
        raise NotFound(N_("This alarm does not exist."))
    alarms = session.scalars(select(Alarm).where(Alarm.id.in_(wanted))).all()
    if len(alarms) != len(wanted):
        raise NotFound(N_("This alarm does not exist."))
    done = 0
    for alarm in alarms:
        if alarm.acknowledged:
            continue
        alarm.acknowledged_at = at
        alarm.acknowledged_by_id = user.id
        session.add(
            AlarmJournalEntry(
                alarm_id=alarm.id, at=at, event=AlarmEvent.ACKNOWLEDGED, user_id=user.id
            )
        )
        done += 1
    session.flush()
    return done
