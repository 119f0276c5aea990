"""Where a report belongs: kecamatan and kelurahan from its point, OPD from its category."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.gis.geos import Point
from rest_framework import status as http

from core.api import DomainError
from kecamatan_boundaries.models import Kecamatan, Kelurahan

from .models import OPD, Category


class OutsideCity(DomainError):
    status_code = http.HTTP_422_UNPROCESSABLE_ENTITY

    def __init__(self, point: Point):
        super().__init__(
            f"The location (lat {point.y:.6f}, lon {point.x:.6f}) is outside Kota Tangerang; "
            "reports can only be made for places inside the city.",
            field="location",
        )


@dataclass(frozen=True)
class Place:
    kecamatan: Kecamatan
    kelurahan: Kelurahan | None


def locate(point: Point) -> Place:
    """The current kecamatan and kelurahan at `point` (the boundaries' own rule); OutsideCity if none."""
    kecamatan = Kecamatan.objects.at(point)
    if kecamatan is None:
        raise OutsideCity(point)
    return Place(kecamatan=kecamatan, kelurahan=Kelurahan.objects.at(point))


def opd_for(category: Category) -> OPD:
    """Routing by field: the OPD responsible for the category."""
    return category.opd
