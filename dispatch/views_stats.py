"""Dispatch API, statistics: response times per OPD and kecamatan."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import APIView

from . import stats
from .auth import CanSeeStats
from .views import ERRORS


def _when(value: str | None, default: datetime, name: str) -> datetime:
    if not value:
        return default
    dt = parse_datetime(value)
    if dt is None:
        d = parse_date(value)
        if d is None:
            raise ParseError(f"{name} must be a date (YYYY-MM-DD) or an ISO datetime.")
        dt = datetime.combine(d, datetime.min.time())
    return timezone.make_aware(dt) if timezone.is_naive(dt) else dt


class ResponseTimes(APIView):
    permission_classes = [CanSeeStats]

    @extend_schema(
        tags=["dispatch: statistics"],
        summary="Response times per OPD and per kecamatan: median and p90 minutes, overdue counts",
        parameters=[
            OpenApiParameter(
                "since", str, required=False, description="date or datetime (WIB if naive); default 30 days ago"
            ),
            OpenApiParameter("until", str, required=False, description="exclusive; default now"),
            OpenApiParameter("opd", str, required=False, description="OPD code"),
            OpenApiParameter("kecamatan", str, required=False, description="kecamatan code, e.g. 36.71.05"),
        ],
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def get(self, request):
        q = request.query_params
        now = timezone.now()
        since = _when(q.get("since"), now - timedelta(days=30), "since")
        until = _when(q.get("until"), now + timedelta(seconds=1), "until")
        if until <= since:
            raise ParseError("until must be after since.")
        data = stats.summary(since, until, opd=q.get("opd", ""), kecamatan=q.get("kecamatan", ""))
        return Response({"since": since, "until": until, **data})
