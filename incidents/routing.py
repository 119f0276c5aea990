"""Where a report belongs: kecamatan and kelurahan from its point, OPD from its category."""

from __future__ import annotations

from django.contrib.gis.geos import Point
from rest_framework import status as http

from core.api import DomainError
from kecamatan_boundaries.places import Place, PointOutsideCity, place_at

from .models import OPD, Category


class OutsideCity(DomainError):
    """Reports are only taken for places inside the city (422, on the location field)."""

    status_code = http.HTTP_422_UNPROCESSABLE_ENTITY

    def __init__(self, point: Point):
        super().__init__(
            f"The location (lat {point.y:.6f}, lon {point.x:.6f}) is outside Kota Tangerang; "
            "reports can only be made for places inside the city.",
            field="location",
        )


def locate(point: Point) -> Place:
    """The current kecamatan and kelurahan at `point` (the boundaries' own rule); OutsideCity if none."""
    try:
        return place_at(point)
    except PointOutsideCity:
        raise OutsideCity(point) from None


def opd_for(category: Category) -> OPD:
    """Routing by field: the OPD responsible for the category."""
    return category.opd
