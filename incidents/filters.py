"""Filters of GET /api/reports/: declared here, each describing its own OpenAPI parameter."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from django.contrib.gis.geos import Point
from django.db.models import QuerySet
from django_filters import rest_framework as filters
from rest_framework.exceptions import ParseError
from rest_framework.filters import BaseFilterBackend
from rest_framework.request import Request
from rest_framework.views import APIView

from .models import Channel, Report, Status


class UTCDateTimeFilter(filters.IsoDateTimeFilter):
    """ISO 8601 with any offset Python reads, compared in UTC.

    Why: PostgreSQL refuses offsets beyond +-15:59 ("time zone displacement out of range"), which
    would reach the database as an error instead of being answered as the bad input it is.
    """

    def filter(self, qs: QuerySet, value: datetime | None) -> QuerySet:
        if value is not None:
            try:
                value = value.astimezone(UTC)
            except OverflowError as exc:
                raise ParseError(f"{self.field_name.replace('_at', '')}: {value.isoformat()} is out of range") from exc
        return super().filter(qs, value)


class ReportFilter(filters.FilterSet):
    """The read API's filters: by area, category, OPD, status, channel and creation time."""

    kecamatan = filters.CharFilter(field_name="kecamatan__code", help_text="kecamatan code, e.g. 36.71.05")
    kelurahan = filters.CharFilter(field_name="kelurahan__code", help_text="kelurahan code, e.g. 36.71.01.1001")
    category = filters.CharFilter(field_name="category__code", help_text="category code, e.g. banjir")
    opd = filters.CharFilter(field_name="opd__code", help_text="OPD code, e.g. bpbd")
    status = filters.MultipleChoiceFilter(choices=Status.choices, help_text="repeat for several")
    channel = filters.ChoiceFilter(choices=Channel.choices)
    created_after = UTCDateTimeFilter(field_name="created_at", lookup_expr="gte", help_text="ISO 8601")
    created_before = UTCDateTimeFilter(field_name="created_at", lookup_expr="lt", help_text="ISO 8601")

    class Meta:
        model = Report
        fields = ["kecamatan", "kelurahan", "category", "opd", "status", "channel", "created_after", "created_before"]


class DistanceFilter(BaseFilterBackend):
    """`?point=lon,lat&dist=metres`: reports within `dist` metres (geodesic), nearest first."""

    max_metres = 50_000

    def filter_queryset(self, request: Request, queryset: QuerySet, view: APIView) -> QuerySet:
        raw = request.query_params.get("point")
        if not raw:
            return queryset
        try:
            lon, lat = (float(v) for v in raw.split(","))
            dist = float(request.query_params.get("dist", "1000"))
        except ValueError as exc:
            raise ParseError("point must be 'lon,lat' and dist a number of metres") from exc
        if not all(math.isfinite(v) for v in (lon, lat, dist)) or abs(lon) > 180 or abs(lat) > 90:
            raise ParseError("point must be a finite 'lon,lat' in range")
        if not 0 < dist <= self.max_metres:
            raise ParseError(f"dist must be between 0 and {self.max_metres} metres")
        return queryset.within_metres(Point(lon, lat, srid=4326), dist)

    def get_schema_operation_parameters(self, view: APIView) -> list[dict]:
        return [
            {
                "name": "point",
                "required": False,
                "in": "query",
                "description": "lon,lat (WGS 84): only reports within `dist` metres, nearest first",
                "schema": {"type": "string", "example": "106.63,-6.17"},
            },
            {
                "name": "dist",
                "required": False,
                "in": "query",
                "description": "metres (geodesic) from `point`; default 1000",
                "schema": {"type": "number", "example": 250},
            },
        ]
