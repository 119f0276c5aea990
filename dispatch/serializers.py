"""API shapes for orders, decisions, the operators' queue, facilities and response times."""

from __future__ import annotations

from datetime import datetime

from django.contrib.gis.geos import Point
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from incidents.serializers import ReportVersionField

from .exclusions import with_text
from .models import Decision, DispatchState, Facility, Order, OrderStep, RoomHold


class ReasonsField(serializers.JSONField):
    """Stored candidates or suggestions, each with its reasons as text in the request's language
    (`excluded_text`, `outside_rule_text`; see dispatch.exclusions)."""

    def to_representation(self, value):
        return super().to_representation([with_text(row) for row in value or []])


class StepSerializer(serializers.ModelSerializer):
    photo = serializers.SerializerMethodField()

    class Meta:
        model = OrderStep
        fields = ["kind", "at", "actor", "note", "point", "point_time", "point_source", "photo", "data"]

    def get_photo(self, obj) -> str | None:
        if obj.media_id and obj.media and obj.media.file:
            return obj.media.file.url
        return None


class OrderSerializer(serializers.ModelSerializer):
    report = serializers.SerializerMethodField()
    supervisor = serializers.SerializerMethodField()
    field_staff = serializers.SerializerMethodField()
    steps = StepSerializer(many=True, read_only=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "state",
            "report",
            "supervisor",
            "distance_m",
            "offered_at",
            "expires_at",
            "acknowledged_at",
            "en_route_at",
            "on_site_at",
            "closed_at",
            "close_reason",
            "field_staff",
            "steps",
        ]

    def get_report(self, obj) -> dict:
        r = obj.report
        return {
            "public_id": r.public_id,
            "category": r.category.code,
            "category_name": r.category.name_id,
            "description": r.description,
            "address": r.address,
            "priority": r.priority,
            "status": r.status,
            "location": {"type": "Point", "coordinates": [r.location.x, r.location.y]},
            "kecamatan": r.kecamatan.name if r.kecamatan_id else "",
            "kelurahan": r.kelurahan.name if r.kelurahan_id else "",
            "created_at": r.created_at,
        }

    def get_supervisor(self, obj) -> dict:
        return {"id": obj.supervisor_id, "name": obj.supervisor.name}

    def get_field_staff(self, obj) -> dict | None:
        return {"id": obj.field_staff_id, "name": obj.field_staff.name} if obj.field_staff_id else None


class DecisionSerializer(serializers.ModelSerializer):
    candidates = ReasonsField(
        required=False, help_text="every supervisor judged: distance_m, presence, workload, excluded (why)"
    )
    suggestions = ReasonsField(required=False, help_text="outside the rule: other kecamatan, off-area")

    class Meta:
        model = Decision
        fields = [
            "id",
            "at",
            "trigger",
            "actor",
            "outcome",
            "reason",
            "kecamatan_code",
            "chosen",
            "candidates",
            "suggestions",
            "duration_ms",
        ]


class DispatchStateSerializer(serializers.ModelSerializer):
    suggestions = ReasonsField(required=False)

    class Meta:
        model = DispatchState
        fields = ["version", "queue", "reason", "suggestions", "escalations", "last_escalation_at", "updated_at"]


# --- request bodies ------------------------------------------------------------------------------------
class PositionMixin(serializers.Serializer):
    lat = serializers.FloatField(required=False, min_value=-90, max_value=90, help_text="where the phone is now")
    lon = serializers.FloatField(required=False, min_value=-180, max_value=180)

    def validate(self, attrs):
        if ("lat" in attrs) != ("lon" in attrs):
            raise serializers.ValidationError("Send both lat and lon, or neither.")
        return attrs

    @property
    def position(self) -> Point | None:
        v = self.validated_data
        return Point(v["lon"], v["lat"], srid=4326) if "lat" in v else None


class EmptyActionSerializer(PositionMixin):
    pass


class DeclineSerializer(PositionMixin):
    reason = serializers.CharField(max_length=255)


class HandSerializer(PositionMixin):
    field_staff = serializers.IntegerField(help_text="id of a field staff member under you")
    note = serializers.CharField(max_length=2000, required=False, default="", allow_blank=True)


class NoteSerializer(PositionMixin):
    note = serializers.CharField(max_length=2000, required=False, default="", allow_blank=True)
    photo = serializers.FileField(required=False)


class ResolveSerializer(NoteSerializer):
    pass


@extend_schema_field(
    {
        "oneOf": [{"type": "integer"}, {"type": "string", "format": "date-time"}],
        "description": "the version you saw: the dispatch state's `version` (GET .../dispatch/) or the report's "
        "`version` (GET /api/reports/<id>/); a stale one gets 409",
    }
)
class SeenVersionField(serializers.Field):
    """The dispatch state's integer version, or the report's version (a date-time): whichever the operator saw."""

    default_error_messages = {
        "invalid": "Send the dispatch state's version (an integer) or the report's version (an ISO 8601 date-time)."
    }

    def to_internal_value(self, data) -> int | datetime:
        if isinstance(data, int) and not isinstance(data, bool):
            return data
        if isinstance(data, str) and data.strip().isdigit():
            return int(data.strip())
        if isinstance(data, str):
            return ReportVersionField().to_internal_value(data)
        self.fail("invalid")

    def to_representation(self, value):
        return value


class DispatchRequestSerializer(serializers.Serializer):
    supervisor = serializers.IntegerField(required=False, help_text="pick this supervisor (else: the rule)")
    version = ReportVersionField()


class ReassignSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255)
    version = SeenVersionField()
    supervisor = serializers.IntegerField(required=False, help_text="give it to this supervisor (else: the rule)")


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255)
    version = SeenVersionField(required=False)


class ReferSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=255)
    opd = serializers.CharField(max_length=32, required=False, default="", allow_blank=True)
    category = serializers.CharField(max_length=48, required=False, default="", allow_blank=True)
    outside = serializers.CharField(
        max_length=255, required=False, default="", allow_blank=True, help_text="an authority outside the city"
    )
    version = SeenVersionField(required=False)

    def validate(self, attrs):
        if not (attrs["opd"] or attrs["category"] or attrs["outside"]):
            raise serializers.ValidationError("Send `opd` (and optionally `category`) or `outside`.")
        return attrs


class ReleaseSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=255, required=False, default="", allow_blank=True)


# --- facilities --------------------------------------------------------------------------------------
class FacilitySerializer(GeoFeatureModelSerializer):
    class Meta:
        model = Facility
        geo_field = "location"
        fields = [
            "id",
            "code",
            "name",
            "kind",
            "address",
            "phone",
            "maternity_rooms",
            "free_rooms",
            "active",
            "rooms_updated_at",
            "rooms_updated_by",
        ]
        read_only_fields = ["rooms_updated_at", "rooms_updated_by"]


class RoomsSerializer(serializers.Serializer):
    free_rooms = serializers.IntegerField(min_value=0)
    maternity_rooms = serializers.IntegerField(min_value=0, required=False)


class RoomHoldSerializer(serializers.ModelSerializer):
    facility = serializers.SerializerMethodField()
    report = serializers.CharField(source="report.public_id", read_only=True)

    class Meta:
        model = RoomHold
        fields = ["id", "state", "facility", "report", "distance_m", "held_at", "decided_at", "decided_by", "note"]

    def get_facility(self, obj) -> dict:
        f = obj.facility
        return {"id": f.pk, "code": f.code, "name": f.name, "phone": f.phone, "free_rooms": f.free_rooms}
