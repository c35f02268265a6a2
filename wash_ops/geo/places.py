"""Belgian postcodes (bpost list, via jief/zipcode-belgium) and great-circle distances."""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path

POSTCODES_CSV = Path(__file__).resolve().parent.parent / "data" / "be-postcodes.csv"
EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True)
class Place:
    postcode: str
    name: str
    lat: float
    lon: float


@cache
def _places_by_postcode() -> dict[str, tuple[Place, ...]]:
    places: dict[str, list[Place]] = {}
    with POSTCODES_CSV.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            place = Place(row["postcode"], row["place"], float(row["lat"]), float(row["lon"]))
            places.setdefault(place.postcode, []).append(place)
    return {code: tuple(found) for code, found in places.items()}


def places_for(postcode: str) -> tuple[Place, ...]:
    """All places sharing a postcode (one postcode can cover several villages)."""
    return _places_by_postcode().get(postcode.strip(), ())


def find_place(postcode: str, name: str | None = None) -> Place | None:
    found = places_for(postcode)
    if not found:
        return None
    if name:
        for place in found:
            if place.name.casefold() == name.strip().casefold():
                return place
    return found[0]


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))
