"""Dispatch API, the supervisor's phone: my orders and each step on them.

The other families: views_operators.py (the operators' actions), views_rooms.py (maternity rooms
and facility staff), views_stats.py (response times). Views are thin: they authenticate, validate
the body and call `orders`, `dispatcher`, `maternity` or `stats`; domain errors become 4xx through
core.api's exception handler, a lost database 503 through core.middleware.
"""

from __future__ import annotations

from datetime import timedelta

from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.authentication import BasicAuthentication, SessionAuthentication
from rest_framework.exceptions import ParseError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.models import Report

from . import orders
from .auth import DeviceTokenAuthentication, IsSupervisor
from .models import OPEN_ORDER_STATES, Order
from .serializers import (
    DeclineSerializer,
    EmptyActionSerializer,
    HandSerializer,
    NoteSerializer,
    OrderSerializer,
    ResolveSerializer,
)

ERRORS = {
    400: OpenApiResponse(description="bad input, with a message"),
    401: OpenApiResponse(description="not signed in / wrong device token"),
    403: OpenApiResponse(description="not allowed (e.g. another supervisor's order)"),
    409: OpenApiResponse(description="conflict: the order or report changed state, or a stale version"),
    503: OpenApiResponse(description="database unreachable (e.g. restarting): retry after Retry-After seconds"),
}
DEVICE_AUTH = [DeviceTokenAuthentication, SessionAuthentication, BasicAuthentication]


def report_or_404(public_id: str) -> Report:
    return get_object_or_404(Report.objects.select_related("category", "opd", "kecamatan"), public_id=public_id)


def orders_qs():
    return Order.objects.select_related(
        "report", "report__category", "report__kecamatan", "report__kelurahan", "supervisor", "field_staff"
    ).prefetch_related("steps", "steps__media")


class MyOrders(APIView):
    authentication_classes = DEVICE_AUTH
    permission_classes = [IsSupervisor]

    @extend_schema(
        tags=["dispatch: supervisor"],
        summary="My orders (open ones first; ?state=all for the history of the last 7 days)",
        parameters=[OpenApiParameter("state", str, enum=["open", "all"], required=False)],
        responses={200: OrderSerializer(many=True), **ERRORS},
    )
    def get(self, request):
        qs = orders_qs().filter(supervisor=request.supervisor)
        which = request.query_params.get("state", "open")
        if which == "open":
            qs = qs.filter(state__in=OPEN_ORDER_STATES)
        elif which == "all":
            qs = qs.filter(offered_at__gte=timezone.now() - timedelta(days=7))
        else:
            raise ParseError("state must be 'open' or 'all'.")
        return Response(OrderSerializer(qs.order_by("-offered_at")[:200], many=True).data)


class _OrderAction(APIView):
    authentication_classes = DEVICE_AUTH
    permission_classes = [IsSupervisor]
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    body = EmptyActionSerializer

    def post(self, request, pk: int):
        body = self.body(data=request.data)
        body.is_valid(raise_exception=True)
        self.act(request.supervisor, pk, body)
        return Response(OrderSerializer(orders_qs().get(pk=pk)).data)

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
