"""Geodesic metre queries shared by every app: distance and radius on `geography` casts.

Django's `dwithin` on a 4326 geometry field wants degrees; metres must come from geography (or a
metric SRID), so the SQL is written once here.
"""

from __future__ import annotations

from django.contrib.gis.db import models
from django.contrib.gis.geos import Point
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL


def within_metres(queryset: QuerySet, field: str, point: Point, metres: float) -> QuerySet:
    """Rows whose `field` lies within `metres` (geodesic) of `point`, annotated `distance_m`
    and ordered nearest first (then by primary key)."""
    wkt = f"SRID=4326;POINT({float(point.x)!r} {float(point.y)!r})"
    column = f'"{queryset.model._meta.db_table}"."{queryset.model._meta.get_field(field).column}"'
    dist = RawSQL(f"ST_Distance({column}::geography, ST_GeogFromText(%s))", (wkt,), output_field=models.FloatField())
    within = RawSQL(
        f"ST_DWithin({column}::geography, ST_GeogFromText(%s), %s)",
        (wkt, float(metres)),
        output_field=models.BooleanField(),
    )
    return queryset.annotate(distance_m=dist).filter(within).order_by("distance_m", "pk")
