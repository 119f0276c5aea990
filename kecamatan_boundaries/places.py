"""Where a point is: its kecamatan and kelurahan by the boundaries' one rule, or outside the city.

The rule (covering polygon, lowest code in overlaps, nearest within the gap tolerance) is
`BoundaryQuerySet.at`'s; this pairs the two levels for the lookup API and report routing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.gis.geos import Point
from rest_framework import status as http

from core.api import DomainError

from .models import Kecamatan, Kelurahan


@dataclass(frozen=True)
class Place:
    kecamatan: Kecamatan
    kelurahan: Kelurahan | None  # None where the kelurahan layer has a gap the kecamatan layer has not


class PointOutsideCity(DomainError):
    """A point in no kecamatan of the city, nor within the gap tolerance of one (404 on the lookup API)."""

    status_code = http.HTTP_404_NOT_FOUND

    def __init__(self, point: Point):
        self.point = point
        super().__init__(f"The point (lat {point.y}, lon {point.x}) is outside Kota Tangerang.")


def place_at(point: Point) -> Place:
    """The current kecamatan and kelurahan at `point`; PointOutsideCity if it is in none."""
    kecamatan = Kecamatan.objects.at(point)
    if kecamatan is None:
        raise PointOutsideCity(point)
    return Place(kecamatan=kecamatan, kelurahan=Kelurahan.objects.at(point))
