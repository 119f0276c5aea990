"""Planners' page, map preview, statistics API and file downloads. Views only translate HTTP."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.roles import PLANNER, has_role
from incidents.models import OPD, Category, Channel, Status
from kecamatan_boundaries.models import Kecamatan

from . import exports
from . import settings as app_settings
from .filters import PlanningError, parse_filters
from .grids import GRID_KINDS, density_grid, parse_grid
from .heatmaps import METRIC_LABELS, check_metric, interactive_map
from .serializers import PlanningStatsSerializer
from .stats import compute


def is_planner(user: AbstractBaseUser | AnonymousUser | None) -> bool:
    """Planners (the `planner` role group), staff and superusers."""
    return bool(user and user.is_authenticated and user.is_active and (user.is_staff or has_role(user, PLANNER)))


class IsPlanner(BasePermission):
    """The statistics and exports are for planners and staff (aggregates, but of the whole city)."""

    message = "Only planners (role `planner`) and staff may read planning statistics and exports."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return is_planner(request.user)


def _planner_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A page for planners: signed-out visitors go to the login, other roles get a 403."""

    def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), app_settings.login_url())
        if not is_planner(request.user):
            raise PermissionDenied("Only planners and staff may open the planning page.")
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


# --- web page ----------------------------------------------------------------------------------
@_planner_page
def planning_page(request: HttpRequest) -> HttpResponse:
    """Choose period and filters, preview the map, download each format."""
    context = {
        "categories": Category.objects.select_related("opd").order_by("sort_order", "code"),
        "opds": OPD.objects.order_by("code"),
        "statuses": Status.choices,
        "channels": Channel.choices,
        "kecamatan": Kecamatan.objects.current().order_by("code"),
        "formats": list(exports.FORMATS),
        "levels": exports.LEVELS,
        "grids": GRID_KINDS,
        "metrics": METRIC_LABELS.items(),
        "q": request.GET,
        "error": None,
    }
    status = 200
    try:
        f = parse_filters(request.GET)
        grid = parse_grid(request.GET.get("grid"), request.GET.get("cell_m"))
        options = {
            "grid": grid.kind,
            "cell_m": f"{grid.cell_m:g}",
            "metric": check_metric(request.GET.get("metric")),
            "level": exports.check_level(request.GET.get("level")),
        }
        extra = urlencode(options)
        context.update(
            filters=f,
            stats=compute(f),
            map_url=f"/planning/map/?{f.querystring()}&{extra}",
            export_query=f"{f.querystring()}&{extra}",
        )
    except PlanningError as exc:
        context["error"] = exc.message
        status = 400
    return render(request, "planning/index.html", context, status=status)


@xframe_options_sameorigin
@_planner_page
def map_preview(request: HttpRequest) -> HttpResponse:
    """The folium map for the page's preview frame, with Leaflet served from /static/vendor/."""
    try:
        f = parse_filters(request.GET)
        grid = parse_grid(request.GET.get("grid"), request.GET.get("cell_m"))
        html = interactive_map(compute(f), density_grid(f, grid), grid, metric=request.GET.get("metric") or "per_km2")
    except PlanningError as exc:
        return HttpResponse(exc.message, status=exc.status_code, content_type="text/plain; charset=utf-8")
    return HttpResponse(html, content_type="text/html; charset=utf-8")


# --- API ---------------------------------------------------------------------------------------
FILTER_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATE, description="first day (WIB), inclusive; default: 30 days ago"),
    OpenApiParameter("to", OpenApiTypes.DATE, description="last day (WIB), inclusive; default: today"),
    OpenApiParameter("category", str, description="category code(s), comma-separated or repeated"),
    OpenApiParameter("opd", str, description="OPD code(s), e.g. dishub,bpbd"),
    OpenApiParameter("status", str, description="report status(es)", enum=Status.values),
    OpenApiParameter("channel", str, description="intake channel(s)", enum=Channel.values),
    OpenApiParameter("kecamatan", str, description="kecamatan code(s) or name(s)"),
]


class IgnoreFormatParameter(DefaultContentNegotiation):
    """`?format=` names the export file format here, not a DRF renderer: always answer errors in JSON."""

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        return renderers[0], renderers[0].media_type


class PlanningStats(APIView):
    permission_classes = [IsPlanner]

    @extend_schema(
        summary="Statistics per kecamatan, kelurahan, category, OPD, hour and weekday for a period",
        parameters=FILTER_PARAMETERS,
        responses={
            200: PlanningStatsSerializer,
            400: OpenApiResponse(description="bad period or unknown filter value"),
            403: OpenApiResponse(description="not a planner"),
        },
        tags=["planning"],
    )
    def get(self, request: Request) -> Response:
        return Response(compute(parse_filters(request.query_params)).as_dict())


class PlanningExport(APIView):
    permission_classes = [IsPlanner]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = IgnoreFormatParameter

    @extend_schema(
        summary="Download the statistics as a map or file (html, png, geojson, gpkg, shp, csv, xlsx)",
        parameters=[
            OpenApiParameter("format", str, required=True, enum=list(exports.FORMATS), description="file format"),
            *FILTER_PARAMETERS,
            OpenApiParameter(
                "level", str, enum=list(exports.LEVELS), description="geojson/shp/csv: which layer (default kecamatan)"
            ),
            OpenApiParameter("grid", str, enum=list(GRID_KINDS), description="density cells: hex or square"),
            OpenApiParameter("cell_m", float, description="density cell size in metres"),
            OpenApiParameter("metric", str, enum=list(METRIC_LABELS), description="what the choropleth colours"),
        ],
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="the file"),
            400: OpenApiResponse(description="unknown format, bad period or unknown filter value"),
            403: OpenApiResponse(description="not a planner"),
        },
        tags=["planning"],
    )
    def get(self, request: Request) -> HttpResponse:
        params = request.query_params
        fmt = exports.check_format(params.get("format"))
        f = parse_filters(params)
        grid = parse_grid(params.get("grid"), params.get("cell_m"))
        out = exports.build_export(
            fmt, f, grid, level=params.get("level") or "kecamatan", metric=params.get("metric") or "per_km2"
        )
        response = HttpResponse(out.content, content_type=out.content_type)
        response["Content-Disposition"] = f'attachment; filename="{out.filename}"'
        return response
