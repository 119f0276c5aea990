"""Pages (console, leadership, field app, citizens' page) and the small read/write APIs they use.

Views only translate HTTP: permissions are checked here on every request (console/permissions.py),
the work is done in features/layers/actions/orders/field.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.gis.geos import Point
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents import lifecycle
from incidents.models import OPD, Category, DuplicateLink, Report, Status
from incidents.serializers import OperatorEventSerializer, OperatorReportFeatureSerializer
from kecamatan_boundaries.models import Kecamatan

from . import actions, features, field, layers, live, orders
from . import settings as cs
from .jsi18n import js_strings
from .models import Camera
from .permissions import CanWatch, IsOperator, IsSupervisor, can_watch, is_operator, supervisor_of

REPORT_QS = Report.objects.select_related("category", "opd", "kecamatan", "kelurahan", "duplicate_of")
OBJ = OpenApiTypes.OBJECT
ERRORS = {
    400: OpenApiResponse(description="bad input (message per field)"),
    403: OpenApiResponse(description="not allowed for this user"),
    404: OpenApiResponse(description="no such report"),
    409: OpenApiResponse(description="changed meanwhile, or the lifecycle does not allow it now"),
}


# --- language: Bahasa Indonesia unless the user chose English (the browser's language is not asked) -----
def indonesian_default(view):
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        lang = _chosen_language(request)
        translation.activate(lang)
        request.LANGUAGE_CODE = lang
        response = view(request, *args, **kwargs)
        response.headers.setdefault("Content-Language", lang)
        return response

    return wrapper


def _chosen_language(request) -> str:
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
    return chosen if chosen in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE


class ConsoleAPIView(APIView):
    """The pages' APIs answer in the pages' language: the user's choice, else Bahasa Indonesia."""

    def initial(self, request, *args, **kwargs):
        lang = _chosen_language(request)
        translation.activate(lang)
        request.LANGUAGE_CODE = lang
        super().initial(request, *args, **kwargs)


def _home_for(user) -> str:
    if is_operator(user):
        return reverse("console:console")
    if supervisor_of(user):
        return reverse("console:field")
    if can_watch(user):
        return reverse("console:leadership")
    return reverse("console:lapor")


def _page_context(request, **extra) -> dict:
    lang = translation.get_language()
    return {
        "tile_url": cs.tile_url(),
        "tile_attribution": cs.tile_attribution(),
        "lang": lang,
        "other_lang": "en" if lang == "id" else "id",
        "t": js_strings(),
        **extra,
    }


def _reference(lang: str) -> dict:
    cats = [
        {"code": c.code, "name": c.name_en if lang == "en" and c.name_en else c.name_id, "opd": c.opd.code}
        for c in Category.objects.filter(active=True).select_related("opd")
    ]
    opds = [{"code": o.code, "name": o.name} for o in OPD.objects.filter(active=True)]
    kec = [{"code": k.code, "name": k.name} for k in Kecamatan.objects.current().order_by("name")]
    statuses = [{"code": s.value, "name": _status_label(s.value)} for s in Status]
    return {"categories": cats, "opds": opds, "kecamatan": kec, "statuses": statuses}


def _status_label(code: str) -> str:
    label = dict(Status.choices).get(code, code)
    idn, _sep, en = label.partition(" / ")
    return (en or idn) if translation.get_language() == "en" else idn


# --- pages ---------------------------------------------------------------------------------------------
@indonesian_default
def login_view(request):
    if request.user.is_authenticated and request.method == "GET" and not request.GET.get("next"):
        return redirect(_home_for(request.user))
    return auth_views.LoginView.as_view(template_name="console/login.html", redirect_authenticated_user=False)(request)


@indonesian_default
def logout_view(request):
    if request.method != "POST":
        return redirect("console:login")
    return auth_views.LogoutView.as_view(next_page=reverse("console:login"))(request)


def _need(check, request):
    if not request.user.is_authenticated:
        return redirect(f"{reverse('console:login')}?next={request.path}")
    if not check(request.user):
        raise PermissionDenied(_("Your account may not open this page."))
    return None


@never_cache
@ensure_csrf_cookie
@indonesian_default
def console_page(request):
    if request.user.is_authenticated and not is_operator(request.user) and can_watch(request.user):
        return redirect("console:leadership")  # leadership and planners: the read-only view
    if (refusal := _need(is_operator, request)) is not None:
        return refusal
    ctx = _page_context(request, ref=_reference(translation.get_language()), role="operator")
    return render(request, "console/console.html", ctx)


@never_cache
@ensure_csrf_cookie
@indonesian_default
def leadership_page(request):
    if (refusal := _need(can_watch, request)) is not None:
        return refusal
    ctx = _page_context(request, ref=_reference(translation.get_language()), role="leadership")
    return render(request, "console/leadership.html", ctx)


@never_cache
@ensure_csrf_cookie
@indonesian_default
def field_page(request):
    if (refusal := _need(lambda u: supervisor_of(u) is not None, request)) is not None:
        return refusal
    sup = supervisor_of(request.user)
    return render(request, "console/field.html", _page_context(request, supervisor=sup))


@ensure_csrf_cookie
@indonesian_default
def lapor_page(request):
    ctx = _page_context(request, ref=_reference(translation.get_language()))
    return render(request, "console/lapor.html", ctx)


def field_manifest(request):
    body = {
        "name": "SIGAP - Pengawas Lapangan Kota Tangerang",
        "short_name": "SIGAP",
        "start_url": "/field/",
        "scope": "/field/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#0b4f8a",
        "icons": [
            {"src": static("console/icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static("console/icon-512.png"), "sizes": "512x512", "type": "image/png"},
        ],
    }
    return JsonResponse(body, content_type="application/manifest+json")


def field_service_worker(request):
    """Served from /field/ so its scope is the field app (a static URL could not control /field/)."""
    path = settings.BASE_DIR / "console" / "static" / "console" / "field-sw.js"
    response = HttpResponse(path.read_text(), content_type="application/javascript")
    response["Service-Worker-Allowed"] = "/field/"
    response["Cache-Control"] = "no-cache"
    return response


# --- console APIs --------------------------------------------------------------------------------------
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


class BoundariesView(ConsoleAPIView):
    """Kecamatan (default) or kelurahan polygons of the current generation, for the map."""

    permission_classes = [CanWatch]

    @extend_schema(
        parameters=[OpenApiParameter("level", str, enum=["kecamatan", "kelurahan"])], responses={200: OBJ, **ERRORS}
    )
    def get(self, request):
        level = request.query_params.get("level", "kecamatan")
        if level not in ("kecamatan", "kelurahan"):
            raise ParseError("level must be kecamatan or kelurahan")
        return Response(layers.boundaries(level))


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
        from django.utils.dateparse import parse_datetime

        f = {k: request.query_params.get(k) for k in self.FILTERS if request.query_params.get(k)}
        for key in ("since", "until"):
            if key in f:
                f[key] = parse_datetime(f[key])
                if f[key] is None:
                    raise ParseError(f"{key} must be an ISO 8601 date-time")
        seq = live.current_seq()
        return Response({"seq": seq, "features": features.report_features(features.map_reports(f))})


class MapSupervisorsView(ConsoleAPIView):
    """Active supervisors with presence judged now and the device time of their last fix."""

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
    """CCTV cameras: all active ones, or those within `radius` metres (default setting) of lat/lon."""

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
            if not 0 < radius <= 50_000:
                raise ParseError("radius must be between 0 and 50000 metres")
            qs = qs.within_metres(point, radius)
        return Response({"cameras": [_camera(c) for c in qs]})


class TodayView(ConsoleAPIView):
    """Today's numbers (WIB) for the leadership view."""

    permission_classes = [CanWatch]

    @extend_schema(responses={200: OBJ, **ERRORS})
    def get(self, request):
        return Response(layers.today_numbers())


def report_detail(request, report: Report) -> dict:
    data = OperatorReportFeatureSerializer(report, context={"request": request}).data
    props = data["properties"]
    props["public_id"] = report.public_id
    props["timeline"] = OperatorEventSerializer(report.events.all(), many=True).data
    links = DuplicateLink.objects.filter(report=report).select_related("original", "original__category")
    props["likely_duplicates"] = [
        {
            "original": d.original.public_id,
            "status": d.original.status,
            "category": d.original.category.name_id,
            "distance_m": d.distance_m,
            "decision": d.decision,
        }
        for d in links
    ]
    props["candidates"] = orders.candidates(report) if report.is_open else []
    props["dispatch"] = orders.queue_state(report)
    cams = Camera.objects.active().select_related("opd").within_metres(report.location, cs.cctv_radius_m())
    props["cameras"] = [_camera(c) for c in cams]
    props["allowed_next"] = lifecycle.allowed_next(report.status)
    holder = orders.open_order(report)
    props["holder"] = holder.supervisor_id if holder else None
    props["holder_name"] = holder.supervisor.name if holder else None
    props["step"] = orders.step_of(report)
    props["version"] = actions.version_of(report)
    props["referred_to"] = report.referred_to
    return data


class ReportDetailView(ConsoleAPIView):
    """A report for the operator's panel: contact, media, timeline, duplicates, candidates, cameras."""

    permission_classes = [IsOperator]

    @extend_schema(operation_id="console_report_detail", responses={200: OBJ, **ERRORS})
    def get(self, request, public_id: str):
        report = get_object_or_404(REPORT_QS.prefetch_related("media"), public_id=public_id)
        return Response(report_detail(request, report))


class ReportActionView(ConsoleAPIView):
    """Operator action on a report; refused with 409 when the report changed since `version`."""

    permission_classes = [IsOperator]
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        request=inline_serializer(
            "ConsoleAction",
            {
                "action": serializers.ChoiceField(choices=actions.ACTIONS),
                "version": serializers.CharField(help_text="the report's version (updated_at) you acted on"),
                "supervisor": serializers.IntegerField(required=False),
                "category": serializers.CharField(required=False),
                "original": serializers.CharField(required=False),
                "referred_to": serializers.CharField(required=False),
                "note": serializers.CharField(required=False),
                "public": serializers.BooleanField(required=False),
            },
        ),
        responses={200: OBJ, **ERRORS},
    )
    def post(self, request, public_id: str):
        report = get_object_or_404(Report, public_id=public_id)
        body = request.data
        if not hasattr(body, "get"):
            raise ParseError("send a JSON object")
        actions.perform(
            report, str(body.get("action") or ""), body, actor=request.user, version=str(body.get("version") or "")
        )
        fresh = get_object_or_404(REPORT_QS.prefetch_related("media"), pk=report.pk)
        return Response(report_detail(request, fresh))


# --- field app APIs ---------------------------------------------------------------------------------------
def _order(order) -> dict:
    report = order.report
    return {
        "id": report.public_id,
        "order": order.pk,
        "step": order.state,
        "category": report.category.name_id,
        "category_en": report.category.name_en,
        "status": report.status,
        "priority": report.priority,
        "description": report.description,
        "address": report.address,
        "kecamatan": report.kecamatan.name if report.kecamatan_id else None,
        "kelurahan": report.kelurahan.name if report.kelurahan_id else None,
        "lon": report.location.x,
        "lat": report.location.y,
        "created_at": report.created_at.isoformat(),
        "offered_at": order.offered_at.isoformat(),
        "expires_at": order.expires_at.isoformat() if order.expires_at else None,
    }


class FieldMeView(ConsoleAPIView):
    """The signed-in supervisor: name, OPD, area, whether their shift is started."""

    permission_classes = [IsSupervisor]

    @extend_schema(responses={200: OBJ, **ERRORS})
    def get(self, request):
        sup = request.supervisor
        shift = field.current_shift(sup)
        return Response(
            {
                "id": sup.pk,
                "name": sup.name,
                "opd": sup.opd.code,
                "opd_name": sup.opd.name,
                "kecamatan": list(sup.kecamatan_codes),
                "presence": sup.presence_state,
                "shift_started_at": shift.started_at.isoformat() if shift else None,
            }
        )


class FieldShiftView(ConsoleAPIView):
    """Start or end the shift (the supervisor's statement; idempotent)."""

    permission_classes = [IsSupervisor]

    @extend_schema(
        request=inline_serializer("FieldShift", {"action": serializers.ChoiceField(choices=["start", "end"])}),
        responses={200: OBJ, **ERRORS},
    )
    def post(self, request):
        action = request.data.get("action") if hasattr(request.data, "get") else None
        if action == "start":
            shift = field.start_shift(request.supervisor)
        elif action == "end":
            shift = field.end_shift(request.supervisor)
        else:
            raise ParseError('action must be "start" or "end"')
        return Response(
            {
                "started_at": shift.started_at.isoformat() if shift else None,
                "ended_at": shift.ended_at.isoformat() if shift and shift.ended_at else None,
            }
        )


class FieldPingsView(ConsoleAPIView):
    """A batch of the browser's GPS fixes (buffered while offline), through tracking's pipeline."""

    permission_classes = [IsSupervisor]
    parser_classes = [JSONParser]

    @extend_schema(
        request=inline_serializer(
            "FieldPings",
            {"pings": serializers.ListField(child=serializers.DictField(), help_text="time, lat, lon, ...")},
        ),
        responses={200: OBJ, **ERRORS},
    )
    def post(self, request):
        return Response(field.upload_pings(request.supervisor, request.data))


class FieldOrdersView(ConsoleAPIView):
    """The signed-in supervisor's open orders (only theirs)."""

    permission_classes = [IsSupervisor]

    @extend_schema(responses={200: OBJ, **ERRORS})
    def get(self, request):
        return Response({"orders": [_order(r) for r in orders.orders_of(request.supervisor)]})


class FieldOrderStepView(ConsoleAPIView):
    """acknowledge | decline | en_route | on_site | resolve | photo, with an optional note and photo."""

    permission_classes = [IsSupervisor]
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(
        request={
            "multipart/form-data": inline_serializer(
                "FieldStep",
                {"note": serializers.CharField(required=False), "photo": serializers.FileField(required=False)},
            )
        },
        responses={200: OBJ, **ERRORS},
    )
    def post(self, request, public_id: str, step: str):
        report = get_object_or_404(Report, public_id=public_id)
        note = str(request.data.get("note") or "")[:2000] if hasattr(request.data, "get") else ""
        photo = request.FILES.get("photo")
        done = orders.field_step(report, request.supervisor, step, note=note, photo=photo)
        return Response(_order(done))
