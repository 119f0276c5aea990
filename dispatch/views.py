"""Dispatch API: the supervisor's phone, the operators' actions, facility staff, response times.

Views are thin: they authenticate, validate the body and call `orders`, `dispatcher`,
`maternity` or `stats`; domain errors become 4xx through core.api's exception handler.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import InterfaceError, OperationalError, connection
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers as s
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.exceptions import ParseError, PermissionDenied
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.models import Report

from . import dispatcher, maternity, operators, orders, stats
from .auth import CanSeeStats, DeviceTokenAuthentication, IsOperator, IsSupervisor, actor_name
from .exclusions import with_text
from .models import OPEN_ORDER_STATES, Facility, Order
from .serializers import (
    CancelSerializer,
    DecisionSerializer,
    DeclineSerializer,
    DispatchRequestSerializer,
    DispatchStateSerializer,
    EmptyActionSerializer,
    FacilitySerializer,
    HandSerializer,
    NoteSerializer,
    OrderSerializer,
    ReassignSerializer,
    ReferSerializer,
    ReleaseSerializer,
    ResolveSerializer,
    RoomHoldSerializer,
    RoomsSerializer,
    StepSerializer,
)
from .state import state_of

ERRORS = {
    400: OpenApiResponse(description="bad input, with a message"),
    401: OpenApiResponse(description="not signed in / wrong device token"),
    403: OpenApiResponse(description="not allowed (e.g. another supervisor's order)"),
    409: OpenApiResponse(description="conflict: the order or report changed state, or a stale version"),
    503: OpenApiResponse(description="database unreachable (e.g. restarting): retry after Retry-After seconds"),
}
DEVICE_AUTH = [DeviceTokenAuthentication, SessionAuthentication, BasicAuthentication]


class DispatchAPIView(APIView):
    """A lost database connection (a restart) answers 503 with Retry-After, not a 500; the next request reconnects."""

    def handle_exception(self, exc):
        if isinstance(exc, (OperationalError, InterfaceError)):
            connection.close()
            return Response(
                {"detail": "The database is not reachable right now; retry in a few seconds."},
                status=503,
                headers={"Retry-After": "2"},
            )
        return super().handle_exception(exc)


def _orders_qs():
    return Order.objects.select_related(
        "report", "report__category", "report__kecamatan", "supervisor", "field_staff"
    ).prefetch_related("steps", "steps__media")


# --- the supervisor's phone ------------------------------------------------------------------------------
class MyOrders(DispatchAPIView):
    authentication_classes = DEVICE_AUTH
    permission_classes = [IsSupervisor]

    @extend_schema(
        tags=["dispatch: supervisor"],
        summary="My orders (open ones first; ?state=all for the history of the last 7 days)",
        parameters=[OpenApiParameter("state", str, enum=["open", "all"], required=False)],
        responses={200: OrderSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        qs = _orders_qs().filter(supervisor=request.supervisor)
        which = request.query_params.get("state", "open")
        if which == "open":
            qs = qs.filter(state__in=OPEN_ORDER_STATES)
        elif which == "all":
            qs = qs.filter(offered_at__gte=timezone.now() - timedelta(days=7))
        else:
            raise ParseError("state must be 'open' or 'all'.")
        return Response(OrderSerializer(qs.order_by("-offered_at")[:200], many=True).data)


class _OrderAction(DispatchAPIView):
    authentication_classes = DEVICE_AUTH
    permission_classes = [IsSupervisor]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    body = EmptyActionSerializer

    def post(self, request, pk: int):
        body = self.body(data=request.data)
        body.is_valid(raise_exception=True)
        self.act(request.supervisor, pk, body)
        return Response(OrderSerializer(_orders_qs().get(pk=pk)).data)

    def act(self, sup, pk, body):
        raise NotImplementedError


def _action_schema(summary: str, body):
    return extend_schema(
        tags=["dispatch: supervisor"], summary=summary, request=body, responses={200: OrderSerializer, **ERRORS}
    )


class Acknowledge(_OrderAction):
    @_action_schema("Acknowledge an order (idempotent: again = the order as it is)", EmptyActionSerializer)
    def post(self, request, pk: int):
        return super().post(request, pk)

    def act(self, sup, pk, body):
        return orders.acknowledge(pk, sup, position=body.position)


class Decline(_OrderAction):
    body = DeclineSerializer

    @_action_schema("Decline an order with a reason (it goes to the next supervisor)", DeclineSerializer)
    def post(self, request, pk: int):
        return super().post(request, pk)

    def act(self, sup, pk, body):
        return orders.decline(pk, sup, body.validated_data["reason"], position=body.position)


class EnRoute(_OrderAction):
    @_action_schema("On my way", EmptyActionSerializer)
    def post(self, request, pk: int):
        return super().post(request, pk)

    def act(self, sup, pk, body):
        return orders.en_route(pk, sup, position=body.position)


class OnSite(_OrderAction):
    @_action_schema("Arrived on site (also detected from pings near the report)", EmptyActionSerializer)
    def post(self, request, pk: int):
        return super().post(request, pk)

    def act(self, sup, pk, body):
        return orders.on_site(pk, sup, position=body.position)


class Hand(_OrderAction):
    body = HandSerializer

    @_action_schema("Hand the order to a field staff member", HandSerializer)
    def post(self, request, pk: int):
        return super().post(request, pk)

    def act(self, sup, pk, body):
        v = body.validated_data
        return orders.hand_to_staff(pk, sup, v["field_staff"], note=v["note"], position=body.position)


class Note(_OrderAction):
    body = NoteSerializer

    @_action_schema("Progress note with a photo (multipart: note, photo)", NoteSerializer)
    def post(self, request, pk: int):
        return super().post(request, pk)

    def act(self, sup, pk, body):
        v = body.validated_data
        return orders.add_note(pk, sup, v["note"], photo=v.get("photo"), position=body.position)


class Resolve(_OrderAction):
    body = ResolveSerializer

    @_action_schema("Resolve with a photo (multipart: note, photo)", ResolveSerializer)
    def post(self, request, pk: int):
        return super().post(request, pk)

    def act(self, sup, pk, body):
        v = body.validated_data
        return orders.resolve(pk, sup, note=v["note"], photo=v.get("photo"), position=body.position)


# --- operators ----------------------------------------------------------------------------------------------
def _report(public_id: str) -> Report:
    return get_object_or_404(Report.objects.select_related("category", "opd", "kecamatan"), public_id=public_id)


def dispatch_view(report: Report) -> dict:
    state = state_of(report)
    return {
        "report": report.public_id,
        "status": report.status,
        "state": DispatchStateSerializer(state).data,
        "orders": OrderSerializer(_orders_qs().filter(report=report), many=True).data,
        "decisions": DecisionSerializer(report.dispatch_decisions.all()[:20], many=True).data,
        "room_holds": RoomHoldSerializer(report.room_holds.select_related("facility"), many=True).data,
        "response_times": stats.for_report(report),
    }


DISPATCH_VIEW = inline_serializer(
    "ReportDispatch",
    {
        "report": s.CharField(),
        "status": s.CharField(),
        "state": DispatchStateSerializer(),
        "orders": OrderSerializer(many=True),
        "decisions": DecisionSerializer(many=True),
        "room_holds": RoomHoldSerializer(many=True),
        "response_times": s.DictField(),
    },
)


class ReportDispatch(DispatchAPIView):
    permission_classes = [IsOperator]

    @extend_schema(
        tags=["dispatch: operator"],
        summary="A report's dispatch: version, queue, orders with steps, decisions with every candidate",
        responses={200: DISPATCH_VIEW, **ERRORS},
    )
    def get(self, request, public_id: str):
        return Response(dispatch_view(_report(public_id)))

    @extend_schema(
        tags=["dispatch: operator"],
        summary="Dispatch now: by the rule, or to the supervisor given",
        request=DispatchRequestSerializer,
        responses={200: DISPATCH_VIEW, **ERRORS},
    )
    def post(self, request, public_id: str):
        body = DispatchRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        report = _report(public_id)
        sup = body.validated_data.get("supervisor")
        if sup is not None:
            dispatcher.offer_to(report, sup, trigger="manual", actor=actor_name(request))
        else:
            dispatcher.dispatch(report, trigger="manual", actor=actor_name(request))
        report.refresh_from_db()
        return Response(dispatch_view(report))


class Reassign(DispatchAPIView):
    permission_classes = [IsOperator]

    @extend_schema(
        tags=["dispatch: operator"],
        summary="Re-assign with a reason (send the version you saw; a stale one gets 409)",
        request=ReassignSerializer,
        responses={200: DISPATCH_VIEW, **ERRORS},
    )
    def post(self, request, public_id: str):
        body = ReassignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        report = _report(public_id)
        operators.reassign(
            report,
            reason=v["reason"],
            actor=actor_name(request),
            version=v["version"],
            supervisor_id=v.get("supervisor"),
        )
        report.refresh_from_db()
        return Response(dispatch_view(report))


class Cancel(DispatchAPIView):
    permission_classes = [IsOperator]

    @extend_schema(
        tags=["dispatch: operator"],
        summary="Cancel the open order; the report returns to the queue, held from automatic dispatch",
        request=CancelSerializer,
        responses={200: DISPATCH_VIEW, **ERRORS},
    )
    def post(self, request, public_id: str):
        body = CancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        report = operators.cancel(
            _report(public_id), reason=v["reason"], actor=actor_name(request), version=v.get("version")
        )
        return Response(dispatch_view(report))


class Refer(DispatchAPIView):
    permission_classes = [IsOperator]

    @extend_schema(
        tags=["dispatch: operator"],
        summary="Refer to another OPD (re-routed and dispatched there) or outside the city",
        request=ReferSerializer,
        responses={200: DISPATCH_VIEW, **ERRORS},
    )
    def post(self, request, public_id: str):
        body = ReferSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        report = operators.refer(
            _report(public_id),
            reason=v["reason"],
            actor=actor_name(request),
            opd_code=v["opd"],
            category_code=v["category"],
            outside=v["outside"],
            version=v.get("version"),
        )
        return Response(dispatch_view(report))


class Queue(DispatchAPIView):
    permission_classes = [IsOperator]

    @extend_schema(
        tags=["dispatch: operator"],
        summary="Operators' queue: reports awaiting a supervisor or held, and escalated ones, most urgent first",
        responses={200: OpenApiTypes.OBJECT, **ERRORS},
    )
    def get(self, request):
        rows = (
            Report.objects.open()
            .filter(dispatch_state__isnull=False)
            .exclude(dispatch_state__queue="", dispatch_state__escalations=0)
            .select_related("category", "opd", "kecamatan", "dispatch_state")
            .order_by("priority", "created_at")[:500]
        )
        out = []
        for r in rows:
            st = r.dispatch_state
            out.append(
                {
                    "report": r.public_id,
                    "status": r.status,
                    "category": r.category.code,
                    "opd": r.opd.code,
                    "kecamatan": r.kecamatan.name if r.kecamatan_id else "",
                    "priority": r.priority,
                    "created_at": r.created_at,
                    "queue": st.queue,
                    "reason": st.reason,
                    "suggestions": [with_text(s) for s in st.suggestions],
                    "escalations": st.escalations,
                    "last_escalation_at": st.last_escalation_at,
                    "version": st.version,
                    "overdue": stats.for_report(r)["overdue"],
                }
            )
        return Response({"count": len(out), "results": out})


class OrderList(DispatchAPIView):
    permission_classes = [IsOperator]

    @extend_schema(
        tags=["dispatch: operator"],
        summary="Orders (filter by state, supervisor, report)",
        parameters=[
            OpenApiParameter("state", str, required=False),
            OpenApiParameter("supervisor", int, required=False),
            OpenApiParameter("report", str, required=False, description="public id"),
        ],
        responses={200: OrderSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        qs = _orders_qs()
        q = request.query_params
        if q.get("state"):
            qs = qs.filter(state__in=q["state"].split(","))
        if q.get("supervisor"):
            if not q["supervisor"].isdigit():
                raise ParseError("supervisor must be an id.")
            qs = qs.filter(supervisor_id=int(q["supervisor"]))
        if q.get("report"):
            qs = qs.filter(report__public_id=q["report"])
        return Response(OrderSerializer(qs[:500], many=True).data)


class OrderSteps(DispatchAPIView):
    permission_classes = [IsOperator]

    @extend_schema(
        tags=["dispatch: operator"], summary="Steps of one order", responses={200: StepSerializer(many=True)}
    )
    def get(self, request, pk: int):
        order = get_object_or_404(Order, pk=pk)
        return Response(StepSerializer(order.steps.select_related("media"), many=True).data)


# --- maternity rooms ------------------------------------------------------------------------------------------
class ProposeRoom(DispatchAPIView):
    permission_classes = [IsOperator]

    @extend_schema(
        tags=["dispatch: maternity"],
        summary="Propose (and hold) the nearest facility with a free maternity room",
        request=None,
        responses={200: RoomHoldSerializer, **ERRORS},
    )
    def post(self, request, public_id: str):
        hold = maternity.propose(_report(public_id), actor=actor_name(request))
        return Response(RoomHoldSerializer(hold).data)


class ConfirmRoom(DispatchAPIView):
    permission_classes = [IsOperator]

    @extend_schema(
        tags=["dispatch: maternity"],
        summary="Confirm a held room",
        request=None,
        responses={200: RoomHoldSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        return Response(RoomHoldSerializer(maternity.confirm(pk, actor=actor_name(request))).data)


class ReleaseRoom(DispatchAPIView):
    permission_classes = [IsOperator]

    @extend_schema(
        tags=["dispatch: maternity"],
        summary="Release a held room",
        request=ReleaseSerializer,
        responses={200: RoomHoldSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        body = ReleaseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        hold = maternity.release(pk, actor=actor_name(request), note=body.validated_data["note"])
        return Response(RoomHoldSerializer(hold).data)


class FacilityList(DispatchAPIView):
    @extend_schema(
        tags=["dispatch: maternity"],
        summary="Hospitals and health centres with their free maternity rooms (GeoJSON)",
        responses={200: FacilitySerializer(many=True)},
    )
    def get(self, request):
        if not request.user.is_authenticated:
            raise PermissionDenied("Sign in to see facilities.")
        return Response(FacilitySerializer(Facility.objects.filter(active=True), many=True).data)


class FacilityRooms(DispatchAPIView):
    @extend_schema(
        tags=["dispatch: maternity"],
        summary="Facility staff: set how many maternity rooms are free now",
        request=RoomsSerializer,
        responses={200: FacilitySerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        facility = get_object_or_404(Facility, pk=pk)
        user = request.user
        if not user.is_authenticated:
            raise PermissionDenied("Sign in as staff of this facility.")
        if not (user.has_perm("dispatch.change_facility") or facility.staff.filter(pk=user.pk).exists()):
            raise PermissionDenied(f"You are not staff of {facility.name}.")
        body = RoomsSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        facility = maternity.set_free_rooms(
            facility, v["free_rooms"], maternity_rooms=v.get("maternity_rooms"), actor=user.get_username()
        )
        return Response(FacilitySerializer(facility).data)


# --- response times -------------------------------------------------------------------------------------------
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


class ResponseTimes(DispatchAPIView):
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
