"""Dispatch API, the operators: a report's dispatch, dispatch now, re-assign, cancel, refer; the queue and orders.

A change may name the version the operator saw: the report's (checked by `incidents.versions`,
as every operator action is) or the dispatch state's (checked by `orders`); a stale one is a 409
and nothing is saved.
"""

from __future__ import annotations

from datetime import datetime

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers as s
from rest_framework.exceptions import ParseError
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.models import Report
from incidents.versions import unchanged_since

from . import dispatcher, operators, stats
from .auth import IsOperator, actor_name
from .exclusions import with_text
from .models import OPEN_ORDER_STATES, Order
from .serializers import (
    CancelSerializer,
    DecisionSerializer,
    DispatchRequestSerializer,
    DispatchStateSerializer,
    OrderSerializer,
    ReassignSerializer,
    ReferSerializer,
    RoomHoldSerializer,
    StepSerializer,
)
from .state import state_of
from .views import ERRORS, orders_qs, report_or_404


def dispatch_view(report: Report) -> dict:
    state = state_of(report)
    order_list = list(orders_qs().filter(report=report))
    held = next((o for o in order_list if o.state in OPEN_ORDER_STATES), None)
    holder = None
    if held is not None:
        holder = {"order": held.pk, "supervisor": held.supervisor_id, "name": held.supervisor.name, "state": held.state}
    return {
        "report": report.public_id,
        "status": report.status,
        "state": DispatchStateSerializer(state).data,
        "holder": holder,
        "orders": OrderSerializer(order_list, many=True).data,
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
        "holder": inline_serializer(
            "OrderHolder",
            {"order": s.IntegerField(), "supervisor": s.IntegerField(), "name": s.CharField(), "state": s.CharField()},
            allow_null=True,
            help_text="the open order's supervisor and step, or null",
        ),
        "orders": OrderSerializer(many=True),
        "decisions": DecisionSerializer(many=True),
        "room_holds": RoomHoldSerializer(many=True),
        "response_times": s.DictField(),
    },
)


def _seen(version) -> tuple[datetime | None, int | None]:
    """(the report's version, the dispatch state's version): whichever of the two the operator sent."""
    return (version, None) if isinstance(version, datetime) else (None, version)


class ReportDispatch(APIView):
    permission_classes = [IsOperator]

    @extend_schema(
        tags=["dispatch: operator"],
        summary="A report's dispatch: version, queue, who holds it, orders with steps, decisions with every candidate",
        responses={200: DISPATCH_VIEW, **ERRORS},
    )
    def get(self, request, public_id: str):
        return Response(dispatch_view(report_or_404(public_id)))

    @extend_schema(
        tags=["dispatch: operator"],
        summary="Dispatch now: by the rule, or to the supervisor given (send the report's version you saw)",
        request=DispatchRequestSerializer,
        responses={200: DISPATCH_VIEW, **ERRORS},
    )
    def post(self, request, public_id: str):
        body = DispatchRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        v = body.validated_data
        with unchanged_since(report_or_404(public_id), v.get("version")) as report:
            if v.get("supervisor") is not None:
                dispatcher.offer_to(report, v["supervisor"], trigger="manual", actor=actor_name(request))
            else:
                dispatcher.dispatch(report, trigger="manual", actor=actor_name(request))
        report.refresh_from_db()
        return Response(dispatch_view(report))


class Reassign(APIView):
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
        seen_report, seen_dispatch = _seen(v["version"])
        with unchanged_since(report_or_404(public_id), seen_report) as report:
            operators.reassign(
                report,
                reason=v["reason"],
                actor=actor_name(request),
                version=seen_dispatch,
                supervisor_id=v.get("supervisor"),
            )
        report.refresh_from_db()
        return Response(dispatch_view(report))


class Cancel(APIView):
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
        seen_report, seen_dispatch = _seen(v.get("version"))
        with unchanged_since(report_or_404(public_id), seen_report) as report:
            operators.cancel(report, reason=v["reason"], actor=actor_name(request), version=seen_dispatch)
        report.refresh_from_db()
        return Response(dispatch_view(report))


class Refer(APIView):
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
        seen_report, seen_dispatch = _seen(v.get("version"))
        with unchanged_since(report_or_404(public_id), seen_report) as report:
            operators.refer(
                report,
                reason=v["reason"],
                actor=actor_name(request),
                opd_code=v["opd"],
                category_code=v["category"],
                outside=v["outside"],
                version=seen_dispatch,
            )
        report.refresh_from_db()
        return Response(dispatch_view(report))


class Queue(APIView):
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
                    "suggestions": [with_text(suggestion) for suggestion in st.suggestions],
                    "escalations": st.escalations,
                    "last_escalation_at": st.last_escalation_at,
                    "version": st.version,
                    "overdue": stats.for_report(r)["overdue"],
                }
            )
        return Response({"count": len(out), "results": out})


class OrderList(APIView):
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
        qs = orders_qs()
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


class OrderSteps(APIView):
    permission_classes = [IsOperator]

    @extend_schema(
        tags=["dispatch: operator"], summary="Steps of one order", responses={200: StepSerializer(many=True)}
    )
    def get(self, request, pk: int):
        order = get_object_or_404(Order, pk=pk)
        return Response(StepSerializer(order.steps.select_related("media"), many=True).data)
