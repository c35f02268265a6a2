"""Travel matrices in integer metres and seconds: offline (haversine × a detour factor), or a
routing server's table API (OSRM) with a fall-back to the offline matrix when it fails."""

from __future__ import annotations

import json
import logging
import math
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)
EARTH_RADIUS_M = 6_371_000.0

Point = tuple[float, float]  # (lat, lon)


@dataclass(frozen=True)
class Matrix:
    distance_m: list[list[int]]
    source: str  # "haversine" or "osrm"


def haversine_m(a: Point, b: Point) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def offline_matrix(points: Sequence[Point], detour_factor: float) -> Matrix:
    rows = [
        [0 if i == j else round(haversine_m(a, b) * detour_factor) for j, b in enumerate(points)]
        for i, a in enumerate(points)
    ]
    return Matrix(rows, "haversine")


def osrm_matrix(url: str, points: Sequence[Point], timeout_s: float) -> Matrix:
    """Road distances from an OSRM server's /table service; raises on any failure."""
    coordinates = ";".join(f"{lon:.6f},{lat:.6f}" for lat, lon in points)
    address = f"{url.rstrip('/')}/table/v1/driving/{coordinates}?annotations=distance"
    if not address.startswith(("http://", "https://")):
        raise ValueError("the OSRM address must start with http:// or https://")
    with urllib.request.urlopen(address, timeout=timeout_s) as response:  # noqa: S310 - checked
        body = json.load(response)
    rows = body.get("distances")
    if body.get("code") != "Ok" or not isinstance(rows, list) or len(rows) != len(points):
        raise ValueError(f"unexpected OSRM answer: {body.get('code')!r}")
    matrix = []
    for row in rows:
        if len(row) != len(points) or any(value is None for value in row):
            raise ValueError("OSRM found no road between two stops")
        matrix.append([max(0, round(value)) for value in row])
    return Matrix(matrix, "osrm")


def travel_matrix(
    points: Sequence[Point], detour_factor: float, osrm_url: str = "", timeout_s: float = 3.0
) -> Matrix:
    if osrm_url:
        try:
            return osrm_matrix(osrm_url, points, timeout_s)
        except Exception as error:  # noqa: BLE001 - any failure falls back to the offline matrix
            log.warning("OSRM at %s did not answer (%s): using the offline matrix", osrm_url, error)
    return offline_matrix(points, detour_factor)


def seconds_at(distance_m: int, speed_kmh: float) -> int:
    return round(distance_m * 3.6 / speed_kmh)
