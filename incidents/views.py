"""Reports API and the citizen's follow-up page. Views only translate HTTP <-> intake/lifecycle."""

from __future__ import annotations

from django.shortcuts import get_object_or_404, render
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView
from rest_framework_gis.filters import InBBoxFilter
from rest_framework_gis.pagination import GeoJsonPagination

from . import lifecycle
from . import settings as app_settings
from .filters import DistanceFilter, ReportFilter
from .intake import ReportInput, resolve_category, submit_report
from .models import Category, Report
from .permissions import CanOperate, sees_personal_data
from .serializers import (
    CategorySerializer,
    FollowUpSerializer,
    MergeSerializer,
    OperatorEventSerializer,
    OperatorReportFeatureSerializer,
    RecategoriseSerializer,
    ReportCreateSerializer,
    ReportFeatureSerializer,
    ReportNoteSerializer,
    StatusChangeSerializer,
)
from .versions import unchanged_since, version_of

REPORT_QS = Report.objects.select_related("category", "opd", "kecamatan", "kelurahan", "duplicate_of")


class ReportAnonThrottle(AnonRateThrottle):
    """Anonymous submissions per client (IP); an idempotent retry of a stored report always passes."""

    scope = "report_intake_anon"

    def get_rate(self) -> str:
        return app_settings.anon_rate()

    def allow_request(self, request, view) -> bool:
        if request.method != "POST":
            return True
        key = request.headers.get("Idempotency-Key")
        if key and Report.objects.filter(client_ref="anon", idempotency_key=key).exists():
            return True
        return super().allow_request(request, view)


class ReportPagination(GeoJsonPagination):
    page_size_query_param = "page_size"

    @property
    def page_size(self) -> int:
        return app_settings.api_page_size()

    @property
    def max_page_size(self) -> int:
        return app_settings.api_max_page_size()


def client_ref(request) -> str:
    user = request.user
    return f"user:{user.pk}" if user and user.is_authenticated else "anon"


class ReportListCreate(generics.ListCreateAPIView):
    """Citizens' reports: submit one (POST), or list them as a GeoJSON FeatureCollection (GET)."""

    queryset = REPORT_QS.prefetch_related("media")
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    filter_backends = [DjangoFilterBackend, InBBoxFilter, DistanceFilter]
    filterset_class = ReportFilter
    bbox_filter_field = "location"
    bbox_filter_include_overlapping = True
    pagination_class = ReportPagination
    throttle_classes = [ReportAnonThrottle]

    def get_serializer_class(self):
        if self.request.method == "POST":
            return ReportCreateSerializer
        if sees_personal_data(self.request.user):
            return OperatorReportFeatureSerializer
        return ReportFeatureSerializer

    @extend_schema(
        summary="List reports (personal data for operators only)",
        responses={200: ReportFeatureSerializer(many=True)},
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        summary="Submit a report (JSON, or multipart with files)",
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False)],
        request={"application/json": ReportCreateSerializer, "multipart/form-data": ReportCreateSerializer},
        responses={
            201: ReportFeatureSerializer,
            200: OpenApiResponse(ReportFeatureSerializer, description="a retry: the report already made"),
            400: OpenApiResponse(description="a field is missing or wrong (message per field)"),
            422: OpenApiResponse(description="the location is outside Kota Tangerang"),
            429: OpenApiResponse(description="too many anonymous submissions from this client"),
        },
    )
    def post(self, request, *args, **kwargs):
        body = ReportCreateSerializer(data=request.data)
        if not body.is_valid():
            raise ValidationError(body.errors)
        v = body.validated_data
        result = submit_report(
            ReportInput(
                category=v["category"],
                description=v["description"],
                location=v.get("location"),
                address=v["address"],
                channel=v["channel"],
                attributes=v["attributes"],
                reporter_name=v["reporter_name"],
                reporter_phone=v["reporter_phone"],
                reporter_email=v["reporter_email"],
                reporter_user=request.user,
                client_ref=client_ref(request),
                idempotency_key=v["idempotency_key"] or request.headers.get("Idempotency-Key", ""),
                files=v["files"],
                actor=request.user,
                actor_label="citizen",
            )
        )
        report = REPORT_QS.prefetch_related("media").get(pk=result.report.pk)
        data = ReportFeatureSerializer(report, context={"request": request}).data
        code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
        headers = {"Location": data["properties"]["follow_url"]}
        if not result.created:
            headers["Idempotent-Replayed"] = "true"
        return Response(data, status=code, headers=headers)


def operator_detail(request, report: Report) -> dict:
    """A report as operators see it: contact, timeline, likely duplicates, next statuses, version."""
    data = OperatorReportFeatureSerializer(report, context={"request": request}).data
    props = data["properties"]
    props["timeline"] = OperatorEventSerializer(report.events.all(), many=True).data
    props["likely_duplicates"] = [
        {
            "original": d.original.public_id,
            "status": d.original.status,
            "category": d.original.category.name_id,
            "distance_m": d.distance_m,
            "decision": d.decision,
        }
        for d in report.duplicate_links.select_related("original", "original__category")
    ]
    props["allowed_next"] = lifecycle.allowed_next(report.status)
    props["referred_to"] = report.referred_to
    props["version"] = version_of(report)
    return data


class ReportDetail(generics.RetrieveAPIView):
    """One report as a GeoJSON Feature; operators also get the contact, the full timeline and its version."""

    queryset = REPORT_QS.prefetch_related("media")
    lookup_field = "public_id"

    def get_serializer_class(self):
        if sees_personal_data(self.request.user):
            return OperatorReportFeatureSerializer
        return ReportFeatureSerializer

    def retrieve(self, request, *args, **kwargs):
        report = self.get_object()
        if sees_personal_data(request.user):
            return Response(operator_detail(request, report))
        return Response(self.get_serializer(report).data)


class CategoryList(generics.ListAPIView):
    """Report categories and the OPD each one is routed to."""

    serializer_class = CategorySerializer
    queryset = Category.objects.filter(active=True).select_related("opd")
    pagination_class = None


def _operator_report(public_id: str) -> Report:
    return get_object_or_404(Report, public_id=public_id)


OPERATOR_RESPONSES = {
    200: ReportFeatureSerializer,
    400: OpenApiResponse(description="bad field"),
    403: OpenApiResponse(description="not an operator"),
    404: OpenApiResponse(description="no such report"),
    409: OpenApiResponse(description="the lifecycle does not allow this change now, or the version is stale"),
}


def _answer(request, report: Report) -> Response:
    report = REPORT_QS.prefetch_related("media").get(pk=report.pk)
    return Response(operator_detail(request, report))


class ReportStatusChange(APIView):
    """Operator: move a report along its lifecycle (409 when the move is not allowed)."""

    permission_classes = [CanOperate]

    @extend_schema(request=StatusChangeSerializer, responses=OPERATOR_RESPONSES)
    def post(self, request, public_id: str):
        body = StatusChangeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        with unchanged_since(_operator_report(public_id), v.get("version")) as report:
            if v["status"] in lifecycle.OPERATOR_CLOSES:
                lifecycle.check_operator_may_close(report)
            lifecycle.change_status(report, v["status"], actor=request.user, note=v["note"], public=v["public"])
        return _answer(request, report)


class ReportRecategorise(APIView):
    """Operator: change the category; the report is routed again to the new category's OPD."""

    permission_classes = [CanOperate]

    @extend_schema(request=RecategoriseSerializer, responses=OPERATOR_RESPONSES)
    def post(self, request, public_id: str):
        body = RecategoriseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        category = resolve_category(v["category"])
        with unchanged_since(_operator_report(public_id), v.get("version")) as report:
            lifecycle.recategorise(report, category, actor=request.user, note=v["note"])
        return _answer(request, report)


class ReportMerge(APIView):
    """Operator: confirm this report duplicates `original` (closes it as duplicate)."""

    permission_classes = [CanOperate]

    @extend_schema(request=MergeSerializer, responses=OPERATOR_RESPONSES)
    def post(self, request, public_id: str):
        body = MergeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        original = Report.objects.filter(public_id=v["original"]).first()
        if original is None:
            raise ValidationError({"original": ["no report with this public id"]})
        with unchanged_since(_operator_report(public_id), v.get("version")) as report:
            lifecycle.check_operator_may_close(report)
            lifecycle.merge_duplicate(report, original, actor=request.user, note=v["note"])
        return _answer(request, report)


class ReportNote(APIView):
    """Operator: a note on the report's timeline (internal unless `public`)."""

    permission_classes = [CanOperate]

    @extend_schema(request=ReportNoteSerializer, responses=OPERATOR_RESPONSES)
    def post(self, request, public_id: str):
        body = ReportNoteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        with unchanged_since(_operator_report(public_id), v.get("version")) as report:
            lifecycle.add_note(report, v["note"], actor=request.user, public=v["public"])
        return _answer(request, report)


class FollowUpJSON(APIView):
    """The citizen's view of a report: status and public timeline, no personal data."""

    @extend_schema(responses={200: FollowUpSerializer, 404: OpenApiResponse(description="no such report")})
    def get(self, request, public_id: str):
        report = get_object_or_404(REPORT_QS, public_id=public_id)
        return Response(FollowUpSerializer(report).data)


def follow_up_page(request, public_id: str):
    """/r/<public_id>: the page a citizen opens from the link or QR code they got at submission."""
    report = get_object_or_404(REPORT_QS, public_id=public_id)
    events = report.events.filter(public=True)
    return render(request, "incidents/follow_up.html", {"report": report, "events": events})
