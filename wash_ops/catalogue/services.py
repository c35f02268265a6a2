"""Bring the site, the line and the cup catalogue from configuration into the database."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from wash_ops.catalogue.models import CupType, Line, Site
from wash_ops.config import Settings
from wash_ops.errors import N_, InvalidInput


def sync_from_settings(session: Session, settings: Settings) -> Line:
    """Upsert the configured site, line and cup types; unconfigured cup types go inactive."""
    site = session.scalar(select(Site).where(Site.code == settings.site.code)) or Site(
        code=settings.site.code
    )
    site.name = settings.site.name
    site.address = settings.site.address
    site.lat, site.lon = settings.site.lat, settings.site.lon
    site.timezone = settings.site.timezone
    session.add(site)

    line = session.scalar(select(Line).where(Line.code == settings.line.code)) or Line(
        code=settings.line.code
    )
    line.site = site
    line.name = settings.line.name
    line.capacity_per_day = settings.line.capacity_per_day
    session.add(line)

    existing = {cup.code: cup for cup in session.scalars(select(CupType))}
    configured = set()
    for entry in settings.cup_types:
        cup = existing.get(entry.code) or CupType(code=entry.code)
        for key, value in entry.model_dump().items():
            setattr(cup, key, value)
        cup.active = True
        session.add(cup)
        configured.add(entry.code)
    for code, cup in existing.items():
        if code not in configured:
            cup.active = False
    session.flush()
    return line


def main_line(session: Session, settings: Settings) -> Line:
    line = session.scalar(select(Line).where(Line.code == settings.line.code))
    if line is None:
        raise RuntimeError("the configured line is not in the database: run `wash-ops db upgrade`")
    return line


def active_cup_types(session: Session) -> list[CupType]:
    return list(session.scalars(select(CupType).where(CupType.active).order_by(CupType.volume_ml)))


def cup_types_by_code(session: Session, codes: list[str]) -> dict[str, CupType]:
    """The active cup types with these codes; an unknown code is an input error."""
    found = {
        cup.code: cup
        for cup in session.scalars(select(CupType).where(CupType.code.in_(codes), CupType.active))
    }
    unknown = [code for code in codes if code not in found]
    if unknown:
        raise InvalidInput(
            N_("Unknown cup type: %(code)s."), f"lines.{unknown[0]}", code=unknown[0]
        )
    return found
