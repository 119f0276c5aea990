"""HTTP: ping ingestion for three protocols, the live supervisor list and attendance exports.

Views only decode, authenticate and answer; the work is in ingest/pipeline.py, presence.py and
attendance.py. Ingestion views use no Basic user auth: the device is the caller (the native
upload also takes the field app's supervisor session, as that supervisor's browser device).
"""

from __future__ import annotations

import orjson
from django.conf import settings
from django.db import DataError
from django.db.models import Q
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import ParseError, PermissionDenied
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api import DomainError

from . import attendance, presence
from . import settings as ts
from .access import CanSeeAttendance, CanSeeSupervisors
from .auth import authenticate, basic_auth, bearer_token, session_device
from .errors import MalformedPing
from .ingest.pipeline import IngestResult, ingest
from .ingest.upload import REFUSING_REASONS
from .models import Supervisor
from .parsers import FastJSONParser, NativeBatchParser
from .protocols.native import decode_native, decode_native_json
from .protocols.osmand import decode_osmand
from .protocols.owntracks import decode_owntracks, owntracks_identity
from .renderers import CSVRenderer, XLSXRenderer
from .serializers import IngestResultSerializer, PingSerializer, SupervisorFeatureSerializer

UTF8 = {"utf-8", "utf8"}
REFUSALS = {
    400: OpenApiResponse(description="not a ping: malformed body, bad field, invalid coordinates, future time"),
    401: OpenApiResponse(description="missing or wrong device token"),
    403: OpenApiResponse(description="the device was revoked"),
    404: OpenApiResponse(description="unknown device id"),
}


def _answer_body(result: IngestResult) -> tuple[dict, int]:
    """400 naming the reasons when every ping was bad input; 200 otherwise (the good ones are stored).

    Quality drops (poor accuracy, impossible speed) and duplicates answer 200: resending cannot
    fix them, and a phone that gets an error keeps retrying.
    """
    body = result.as_dict()
    quality = [p for p in result.dropped if p.reason not in REFUSING_REASONS]
    if result.refused and not result.accepted and not quality:
        body["detail"] = "; ".join(f"ping {p.index}: {p.reason}" for p in sorted(result.refused))
        return body, status.HTTP_400_BAD_REQUEST
    return body, status.HTTP_200_OK


def _answer(result: IngestResult) -> Response:
    body, code = _answer_body(result)
    return Response(body, status=code)


class DeviceIngestView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [FastJSONParser, FormParser, MultiPartParser]


class SupervisorSession(SessionAuthentication):
    """The field app in a supervisor's signed-in browser (CSRF checked); a request that carries a
    device's credentials is the device's, whatever cookie comes with it."""

    def authenticate(self, request):
        if request.META.get("HTTP_AUTHORIZATION") or request.META.get("HTTP_X_DEVICE_ID"):
            return None
        return super().authenticate(request)


class SupervisorSessionScheme(OpenApiAuthenticationExtension):
    """OpenAPI: the supervisor's session cookie, as for every signed-in page's API."""

    target_class = "tracking.views.SupervisorSession"
    name = "supervisorSession"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME}


class NativePings(DeviceIngestView):
    """Our own upload: one ping or a batch of up to TRACKING_MAX_BATCH, in any order.

    Auth: `Authorization: Bearer <token>` with the device id in `X-Device-Id` or the body's
    `device_id`, or `Authorization: Basic <device_id:token>`; or, from the field app, the
    supervisor's signed-in session (with its CSRF token), stored as the device `web-<supervisor id>`.
    The same answers and limits either way, through the same pipeline.
    """

    authentication_classes = [SupervisorSession]
    parser_classes = [NativeBatchParser, FormParser, MultiPartParser]

    def dispatch(self, request, *args, **kwargs):
        """A phone's usual upload skips DRF's request and response machinery (~1 ms of a ~15 ms
        upload, measured with bench/bench_tracking.py); every other request goes through DRF."""
        if request.method == "POST":
            answer = self._usual_upload(request)
            if answer is not None:
                return answer
        return super().dispatch(request, *args, **kwargs)

    def _usual_upload(self, request) -> HttpResponse | None:
        """The answer to a UTF-8 JSON batch in the common shape (`decode_native_json`) from a
        device that authenticates, or None to let DRF do it all. DRF's answer is the reference:
        the same body and status, as DRF's JSONRenderer writes them (compact JSON), and its
        headers. An error before anything is stored goes to DRF too, which answers it (and
        repeats the work: refusals are rare); the database's own errors (503) go to the
        middleware either way."""
        charset = request.content_params.get("charset", "utf-8").lower()
        if request.content_type != "application/json" or charset not in UTF8:
            return None
        if request.META.get("HTTP_ACCEPT", "*/*") not in {"*/*", "application/json"}:
            return None  # content negotiation is DRF's (the browsable API)
        length, limit = request.META.get("CONTENT_LENGTH") or "", settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if not length.isdigit() or (limit is not None and int(length) > limit):
            return None  # DRF streams and names a too-large batch (413)
        decoded = decode_native_json(request.body)
        if decoded is None:
            return None  # DRF reads the body again from request.body and names the problems
        try:
            device = authenticate(*self._credentials(request, decoded.device_id))
            result = ingest(device, decoded.fixes, "native")
        except (DomainError, DataError):  # nothing was stored (the transaction rolled back)
            return None
        body, code = _answer_body(result)
        answer = HttpResponse(orjson.dumps(body), status=code, content_type="application/json")
        answer["Allow"] = ", ".join(self.allowed_methods)
        answer["Vary"] = "Accept"
        return answer

    @extend_schema(
        request=inline_serializer(
            "PingBatch",
            {"device_id": serializers.CharField(required=False), "pings": PingSerializer(many=True)},
        ),
        responses={200: IngestResultSerializer, **REFUSALS, 413: OpenApiResponse(description="batch too large")},
        parameters=[OpenApiParameter("X-Device-Id", str, OpenApiParameter.HEADER, required=False)],
    )
    def post(self, request):
        body_device, items = decode_native(request.data)
        device_id, token = self._credentials(request, body_device)
        web = session_device(request.user) if request.user.is_authenticated and not (device_id or token) else None
        if web is not None:
            return _answer(ingest(web, items, "field-web"))
        return _answer(ingest(authenticate(device_id, token), items, "native"))

    @staticmethod
    def _credentials(request, body_device: str | None) -> tuple[str | None, str | None]:
        """(device id, token): the id from X-Device-Id, the body or Basic auth's user; the token
        from a Bearer header or Basic auth's password."""
        user, password = basic_auth(request)
        return request.META.get("HTTP_X_DEVICE_ID") or body_device or user, bearer_token(request) or password


class OsmAndPings(DeviceIngestView):
    """The OsmAnd protocol (Traccar Client, OsmAnd): query string, form, or Traccar Client's JSON.

    Put the token in the app's server URL: `https://host/tracking/osmand/?token=...`.
    """

    def _handle(self, request):
        params = {**request.query_params.dict()}
        body = request.data if request.method == "POST" else None
        if hasattr(body, "dict"):  # form-encoded
            params.update(body.dict())
            body = None
        device_id, items = decode_osmand(params, body)
        if not device_id:
            raise MalformedPing("id is missing: the OsmAnd protocol sends ?id=<device id>")
        _, password = basic_auth(request)
        token = params.get("token") or bearer_token(request) or password
        device = authenticate(device_id, token, require_token=ts.osmand_require_token())
        return _answer(ingest(device, items, "osmand"))

    @extend_schema(
        parameters=[
            OpenApiParameter(name, t, description=d)
            for name, t, d in [
                ("id", str, "device id"),
                ("token", str, "device token"),
                ("timestamp", str, "epoch seconds, milliseconds or ISO 8601"),
                ("lat", float, "latitude"),
                ("lon", float, "longitude"),
                ("speed", float, "knots"),
                ("bearing", float, "degrees"),
                ("altitude", float, "metres"),
                ("accuracy", float, "metres"),
                ("batt", float, "percent"),
                ("mock", bool, "a mock location"),
            ]
        ],
        responses={200: IngestResultSerializer, **REFUSALS},
    )
    def get(self, request):
        return self._handle(request)

    @extend_schema(request=OpenApiTypes.OBJECT, responses={200: IngestResultSerializer, **REFUSALS})
    def post(self, request):
        return self._handle(request)


class OwnTracksPings(DeviceIngestView):
    """OwnTracks in HTTP mode. Answers 200 with a JSON array once the fix is stored."""

    parser_classes = [FastJSONParser]

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiResponse(OpenApiTypes.OBJECT, description="[] once stored"), **REFUSALS},
    )
    def post(self, request):
        items = decode_owntracks(request.data)
        device_id, token = owntracks_identity(request)
        device = authenticate(device_id, token)
        if not items:
            return Response([], status=status.HTTP_200_OK)
        result = ingest(device, items, "owntracks")
        if result.refused:
            return Response({"detail": "; ".join(p.reason for p in result.refused)}, status=status.HTTP_400_BAD_REQUEST)
        return Response([], status=status.HTTP_200_OK)


class SupervisorList(APIView):
    """Active supervisors as GeoJSON Features at their latest position, with presence and why.

    Operators and admins see every supervisor (and phone numbers); a supervisor sees only
    themself (see access.py).
    """

    permission_classes = [CanSeeSupervisors]

    @extend_schema(
        parameters=[
            OpenApiParameter("opd", str, description="OPD code, e.g. dishub"),
            OpenApiParameter("kecamatan", str, description="assigned to, or now in, this kecamatan code"),
            OpenApiParameter("presence", str, enum=[s.value for s in presence.State]),
        ],
        # The feature's geometry is the latest position (not a model field), which drf-spectacular's
        # GeoJSON extension cannot map; the shape is described here instead.
        responses={
            200: OpenApiResponse(
                response=OpenApiTypes.OBJECT,
                description="GeoJSON FeatureCollection: one Point feature per supervisor (geometry null before "
                "the first fix) with id, name, phone (operators only), opd, kecamatan_codes, geofences, presence, "
                "presence_reason, last_fix_at, last_fix_age_s, current_kecamatan, accuracy_m",
            )
        },
    )
    def get(self, request):
        access = request.tracking_access
        qs = Supervisor.objects.active().select_related("opd", "latest_position").prefetch_related("geofences")
        if not access.sees_all:
            qs = qs.filter(pk=access.supervisor_id)
        if opd := request.query_params.get("opd"):
            qs = qs.filter(opd__code=opd)
        if kec := request.query_params.get("kecamatan"):
            qs = qs.filter(Q(kecamatan_codes__contains=[kec]) | Q(latest_position__kecamatan_code=kec))
        wanted = request.query_params.get("presence")
        if wanted and wanted not in {s.value for s in presence.State}:
            raise ParseError(f"presence must be one of {', '.join(s.value for s in presence.State)}")
        now = timezone.now()
        sups = list(qs)
        states = presence.presence_for(sups, now)
        if wanted:
            sups = [s for s in sups if states[s.pk].state == wanted]
        context = {"presence": states, "personal_data": access.personal_data}
        data = SupervisorFeatureSerializer(sups, many=True, context=context).data
        return Response(data)


class AttendanceExport(APIView):
    """Attendance for a day (`?date=2025-03-04`) or a month's honorarium summary (`?month=2025-03`).

    `?format=csv` or `?format=xlsx` (or the Accept header) for a file; JSON otherwise.
    `?recompute=1` recomputes from the ping history first (days computed earlier are kept).
    Operators, planners and admins see everyone; a supervisor sees only their own days.
    """

    permission_classes = [CanSeeAttendance]

    def get_renderers(self):
        return [JSONRenderer(), CSVRenderer(), XLSXRenderer()]

    @extend_schema(
        parameters=[
            OpenApiParameter("date", OpenApiTypes.DATE, description="one WIB date"),
            OpenApiParameter("month", str, description="YYYY-MM: the month summary"),
            OpenApiParameter("opd", str, description="OPD code"),
            OpenApiParameter("format", str, enum=["json", "csv", "xlsx"]),
        ],
        responses={
            200: OpenApiTypes.OBJECT,
            400: OpenApiResponse(description="date or month missing or invalid"),
            403: OpenApiResponse(description="not an operator, planner, admin or the supervisor themself"),
        },
    )
    def get(self, request, format=None):  # noqa: A002 - DRF's name
        access = request.tracking_access
        query = attendance.ReportQuery.from_params(request.query_params)
        if not access.sees_all:
            if query.recompute:
                raise PermissionDenied("only operators, planners and admins may recompute attendance")
            query.supervisor_id = access.supervisor_id
        rows = attendance.report_rows(query)
        response = Response(rows)
        if request.accepted_renderer.format in ("csv", "xlsx"):
            name = f"attendance-{query.label}.{request.accepted_renderer.format}"
            response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
