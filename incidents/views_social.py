"""Social webhooks (X/Twitter, Facebook) and the operators' triage queue.

Logic: incidents/platforms.py (signatures, payloads) and incidents/social.py (posts, triage).
"""

from __future__ import annotations

import json
from typing import IO

from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import platforms, social
from . import settings as app_settings
from .intake import resolve_category
from .models import SocialPost
from .permissions import CanTriage
from .serializers import SocialPostSerializer, TriageResolveSerializer

WebhookResult = inline_serializer(
    "SocialWebhookResult",
    {
        "received": serializers.IntegerField(),
        "reports": serializers.ListField(child=serializers.CharField()),
        "triage": serializers.ListField(child=serializers.IntegerField()),
    },
)


class RawJSONParser(BaseParser):
    """Keeps the exact body: the platforms sign the bytes, not the parsed JSON."""

    media_type = "application/json"

    def parse(self, stream: IO[bytes], media_type: str | None = None, parser_context: dict | None = None) -> bytes:
        return stream.read()


def _load(body: bytes) -> dict:
    try:
        return json.loads(body or b"null")
    except ValueError as exc:
        raise ParseError(f"The body is not valid JSON: {exc}") from exc


def _ingest_all(posts: list[platforms.Post]) -> Response:
    rows = [social.ingest(p) for p in posts]
    return Response(
        {
            "received": len(rows),
            "reports": [r.report.public_id for r in rows if r.report_id],
            "triage": [r.pk for r in rows if r.state == SocialPost.State.TRIAGE],
        }
    )


class TwitterWebhook(APIView):
    """X/Twitter Account Activity webhook: GET answers the CRC check, POST delivers tweets (signed)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    parser_classes = [RawJSONParser]

    @extend_schema(
        parameters=[OpenApiParameter("crc_token", str, required=True)],
        responses={200: inline_serializer("TwitterCRC", {"response_token": serializers.CharField()})},
    )
    def get(self, request: Request) -> Response:
        token = request.query_params.get("crc_token")
        if not token:
            raise ValidationError({"crc_token": ["required"]})
        return Response({"response_token": platforms.twitter_crc_response(token)})

    @extend_schema(
        request={"application/json": {"type": "object"}},
        responses={200: WebhookResult, 400: OpenApiResponse(description="bad JSON"), 403: None, 503: None},
    )
    def post(self, request: Request) -> Response:
        body = request.body
        platforms.verify_twitter(body, request.headers.get("X-Twitter-Webhooks-Signature"))
        return _ingest_all(platforms.parse_twitter(_load(body)))


class FacebookWebhook(APIView):
    """Facebook page webhook: GET answers the subscription check, POST delivers feed changes (signed)."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    parser_classes = [RawJSONParser]

    @extend_schema(
        parameters=[
            OpenApiParameter("hub.mode", str, required=True),
            OpenApiParameter("hub.verify_token", str, required=True),
            OpenApiParameter("hub.challenge", str, required=True),
        ],
        responses={200: OpenApiResponse(description="the challenge, as plain text"), 403: None},
    )
    def get(self, request: Request) -> HttpResponse:
        expected = app_settings.facebook_verify_token()
        q = request.query_params
        if not expected or q.get("hub.mode") != "subscribe" or q.get("hub.verify_token") != expected:
            return HttpResponse("verification failed", status=403, content_type="text/plain")
        return HttpResponse(q.get("hub.challenge", ""), content_type="text/plain")

    @extend_schema(
        request={"application/json": {"type": "object"}},
        responses={200: WebhookResult, 400: OpenApiResponse(description="bad JSON"), 403: None, 503: None},
    )
    def post(self, request: Request) -> Response:
        body = request.body
        platforms.verify_facebook(body, request.headers.get("X-Hub-Signature-256"))
        return _ingest_all(platforms.parse_facebook(_load(body)))


class TriageList(generics.ListAPIView):
    """Posts waiting for an operator (not classified or not placed), oldest first."""

    serializer_class = SocialPostSerializer
    permission_classes = [CanTriage]

    def get_queryset(self) -> QuerySet[SocialPost]:
        state = self.request.query_params.get("state", SocialPost.State.TRIAGE)
        return SocialPost.objects.filter(state=state).select_related("suggested_category", "report").order_by("id")


class TriageReport(APIView):
    """Operator: make the report for a post in triage (category, and location if the post has none)."""

    permission_classes = [CanTriage]

    @extend_schema(request=TriageResolveSerializer, responses={200: SocialPostSerializer})
    def post(self, request: Request, pk: int) -> Response:
        row = get_object_or_404(SocialPost, pk=pk)
        body = TriageResolveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        category = resolve_category(body.validated_data["category"])
        row = social.resolve_triage(row, category, body.validated_data.get("location"), actor=request.user)
        return Response(SocialPostSerializer(row).data)


class TriageDismiss(APIView):
    """Operator: not a report. The post is kept, marked dismissed."""

    permission_classes = [CanTriage]

    @extend_schema(
        request=inline_serializer("TriageDismiss", {"reason": serializers.CharField(required=False)}),
        responses={200: SocialPostSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        row = get_object_or_404(SocialPost, pk=pk)
        reason = str(request.data.get("reason", ""))[:200] if isinstance(request.data, dict) else ""
        return Response(SocialPostSerializer(social.dismiss_triage(row, actor=request.user, reason=reason)).data)
