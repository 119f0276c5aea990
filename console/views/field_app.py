"""The field app's own APIs: who the signed-in supervisor is, and their shift.

Its pings go to tracking's upload (`POST /api/tracking/pings/`, with the session) and its orders
to dispatch's (`/api/my/orders/`), as any phone's do.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.response import Response

from .. import field
from ..permissions import IsSupervisor
from .common import ERRORS, OBJ, ConsoleAPIView


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
