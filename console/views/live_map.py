"""The console's own read models: the live map's layers, CCTV, today's numbers and the operator's candidates.

The map layers come in the live push's compact shape with its sequence number, so a browser
applies the first load and the pushed changes alike (console/features.py). Everything else the
pages show or change is the domain apps' API: a report and its operator actions in incidents,
its dispatch in dispatch, the boundaries in kecamatan_boundaries.
"""

from __future__ import annotations

from django.contrib.gis.geos import Point
from django.shortcuts import get_object_or_404
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from incidents.models import Report

from .. import features, layers, live, orders
from .. import settings as cs
from ..models import Camera
from ..permissions import CanWatch, IsOperator
from .common import ERRORS, OBJ, ConsoleAPIView

MAX_RADIUS_M = 50_000  # metres: the widest camera search


def _point_params(request) -> Point | None:
    lat, lon = request.query_params.get("lat"), request.query_params.get("lon")
    if lat is None and lon is None:
        return None
    try:
        lat_f, lon_f = float(lat), float(lon)
    except (TypeError, ValueError) as exc:
        raise ParseError("lat and lon must both be numbers") from exc
    if not (-90 <= lat_f <= 90 and -180 <= lon_f <= 180):
        raise ParseError("lat must be in -90..90 and lon in -180..180")
    return Point(lon_f, lat_f, srid=4326)


class MapReportsView(ConsoleAPIView):
    """Open reports (and those finished recently) as compact features, with the live sequence number."""

    permission_classes = [CanWatch]
    FILTERS = ("opd", "kecamatan", "category", "status", "since", "until")

    @extend_schema(
        operation_id="console_map_reports",
        parameters=[OpenApiParameter(f, str) for f in FILTERS],
        responses={200: OBJ, **ERRORS},
    )
    def get(self, request):
        f = {k: request.query_params.get(k) for k in self.FILTERS if request.query_params.get(k)}
        for key in ("since", "until"):
            if key in f:
                f[key] = parse_datetime(f[key])
                if f[key] is None:
                    raise ParseError(f"{key} must be an ISO 8601 date-time")
        seq = live.current_seq()
        return Response({"seq": seq, "features": features.report_features(features.map_reports(f))})


class MapSupervisorsView(ConsoleAPIView):
    """Active supervisors with presence judged now and the device time of their last fix (no personal data)."""

    permission_classes = [CanWatch]

    @extend_schema(parameters=[OpenApiParameter("opd", str)], responses={200: OBJ, **ERRORS})
    def get(self, request):
        seq = live.current_seq()
        return Response({"seq": seq, "features": features.supervisor_features(request.query_params.get("opd"))})


def _camera(c: Camera) -> dict:
    return {
        "code": c.code,
        "name": c.name,
        "opd": c.opd.code,
        "lon": c.location.x,
        "lat": c.location.y,
        "stream_url": c.stream_url,
        "snapshot_url": c.snapshot_url,
        "direction": c.direction,
        "distance_m": round(c.distance_m, 1) if hasattr(c, "distance_m") else None,
    }


class CamerasView(ConsoleAPIView):
    """CCTV cameras: all active ones, or those within `radius` metres (CONSOLE_CCTV_RADIUS_M) of lat/lon."""

    permission_classes = [CanWatch]

    @extend_schema(
        parameters=[OpenApiParameter("lat", float), OpenApiParameter("lon", float), OpenApiParameter("radius", float)],
        responses={200: OBJ, **ERRORS},
    )
    def get(self, request):
        qs = Camera.objects.active().select_related("opd")
        point = _point_params(request)
        if point is not None:
            try:
                radius = float(request.query_params.get("radius", cs.cctv_radius_m()))
            except ValueError as exc:
                raise ParseError("radius must be a number of metres") from exc
            if not 0 < radius <= MAX_RADIUS_M:
                raise ParseError(f"radius must be between 0 and {MAX_RADIUS_M} metres")
            qs = qs.within_metres(point, radius)
        return Response({"cameras": [_camera(c) for c in qs]})


class TodayView(ConsoleAPIView):
    """Today's numbers (WIB) for the leadership view."""

    permission_classes = [CanWatch]

    @extend_schema(responses={200: OBJ, **ERRORS})
    def get(self, request):
        return Response(layers.today_numbers())


class ReportCandidatesView(ConsoleAPIView):
    """Who could take an open report now: dispatch's rule (nearest first), who it excludes and why, and
    suggestions outside it; the operator's panel offers them (an open report only, else none)."""

    permission_classes = [IsOperator]

    @extend_schema(responses={200: OBJ, **ERRORS})
    def get(self, request, public_id: str):
        report = get_object_or_404(Report.objects.select_related("opd", "kecamatan", "category"), public_id=public_id)
        return Response({"report": report.public_id, "candidates": orders.candidates(report) if report.is_open else []})
