"""API shapes of reports: what clients send, what the public sees, what operators see."""

from __future__ import annotations

import json
import math

from django.contrib.gis.geos import Point
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from . import settings as app_settings
from .models import Category, Channel, Report, ReportEvent, ReportMedia, SocialPost, Status


@extend_schema_field(
    {
        "type": "object",
        "description": 'GeoJSON Point in WGS 84: {"type": "Point", "coordinates": [lon, lat]}',
        "properties": {
            "type": {"type": "string", "enum": ["Point"]},
            "coordinates": {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 3},
        },
    }
)
class GeoJSONPointField(serializers.Field):
    """A GeoJSON Point (object, or its JSON text in a multipart form) -> Point(lon, lat, 4326)."""

    def to_internal_value(self, data) -> Point:
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise serializers.ValidationError("must be GeoJSON (valid JSON text)") from exc
        if not isinstance(data, dict) or data.get("type") != "Point":
            kind = data.get("type") if isinstance(data, dict) else type(data).__name__
            raise serializers.ValidationError(f"must be a GeoJSON Point, not {kind!r}")
        coords = data.get("coordinates")
        if not isinstance(coords, list | tuple) or len(coords) not in (2, 3):
            raise serializers.ValidationError("a Point needs coordinates [lon, lat]")
        lon, lat = coords[0], coords[1]
        return Point(_lon(lon), _lat(lat), srid=4326)

    def to_representation(self, value: Point) -> dict:
        return {"type": "Point", "coordinates": [value.x, value.y]}


def _number(value, name: str, limit: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise serializers.ValidationError(f"{name} must be a number")
    try:
        number = float(value)
    except ValueError as exc:
        raise serializers.ValidationError(f"{name} must be a number, not {value!r}") from exc
    if not math.isfinite(number):
        raise serializers.ValidationError(f"{name} must be a finite number")
    if abs(number) > limit:
        raise serializers.ValidationError(f"{name} must be between -{limit:g} and {limit:g}")
    return number


def _lon(value) -> float:
    return _number(value, "longitude", 180)


def _lat(value) -> float:
    return _number(value, "latitude", 90)


class ReportCreateSerializer(serializers.Serializer):
    """POST /api/reports/ (JSON, or multipart with `files`)."""

    category = serializers.CharField(help_text="category code, e.g. banjir (GET /api/categories/)")
    description = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False, default="")
    location = GeoJSONPointField(required=False, help_text="GeoJSON Point; or send lat and lon")
    lat = serializers.FloatField(required=False, min_value=-90, max_value=90)
    lon = serializers.FloatField(required=False, min_value=-180, max_value=180)
    address = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    channel = serializers.ChoiceField(choices=[Channel.APP, Channel.WEB], default=Channel.APP)
    reporter_name = serializers.CharField(required=False, allow_blank=True, max_length=120, default="")
    reporter_phone = serializers.RegexField(
        r"^\+?[0-9 ()-]{6,20}$", required=False, allow_blank=True, max_length=40, default=""
    )
    reporter_email = serializers.EmailField(required=False, allow_blank=True, default="")
    idempotency_key = serializers.CharField(
        required=False, allow_blank=True, max_length=120, default="", help_text="or the Idempotency-Key header"
    )
    attributes = serializers.JSONField(required=False, default=dict, help_text="answers to the category's questions")
    files = serializers.ListField(
        child=serializers.FileField(), required=False, default=list, help_text="photos and videos (multipart)"
    )

    def validate_description(self, value: str) -> str:
        limit = app_settings.description_max_chars()
        if len(value) > limit:
            raise serializers.ValidationError(f"{len(value)} characters; at most {limit} are allowed")
        return value

    def validate_attributes(self, value):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise serializers.ValidationError("must be a JSON object") from exc
        if not isinstance(value, dict):
            raise serializers.ValidationError("must be a JSON object")
        return value

    def validate(self, attrs: dict) -> dict:
        lat, lon = attrs.pop("lat", None), attrs.pop("lon", None)
        if (lat is None) != (lon is None):
            raise serializers.ValidationError({"lat" if lat is None else "lon": ["send both lat and lon"]})
        if lat is not None:
            if "location" in attrs:
                raise serializers.ValidationError({"location": ["send either location or lat/lon, not both"]})
            attrs["location"] = Point(lon, lat, srid=4326)
        return attrs


class CategorySerializer(serializers.ModelSerializer):
    opd = serializers.SlugRelatedField(slug_field="code", read_only=True)
    opd_name = serializers.CharField(source="opd.name", read_only=True)

    class Meta:
        model = Category
        fields = [
            "code",
            "name_id",
            "name_en",
            "opd",
            "opd_name",
            "default_priority",
            "target_dispatch_minutes",
            "target_resolve_minutes",
            "group",
            "attributes",
        ]


class MediaSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = ReportMedia
        fields = ["kind", "content_type", "size_bytes", "width", "height", "url", "thumbnail_url", "exif_taken_at"]

    def _abs(self, url: str) -> str:
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request and url.startswith("/") else url

    @extend_schema_field(OpenApiTypes.URI)
    def get_url(self, obj: ReportMedia) -> str:
        return self._abs(obj.file.url) if obj.file else obj.url

    @extend_schema_field(OpenApiTypes.URI)
    def get_thumbnail_url(self, obj: ReportMedia) -> str | None:
        return self._abs(obj.thumbnail.url) if obj.thumbnail else None


PUBLIC_FIELDS = [
    "public_id",
    "category",
    "category_name",
    "opd",
    "opd_name",
    "status",
    "priority",
    "channel",
    "description",
    "address",
    "location_source",
    "kecamatan",
    "kecamatan_name",
    "kelurahan",
    "kelurahan_name",
    "duplicate_of",
    "occurred_at",
    "created_at",
    "updated_at",
    "routed_at",
    "dispatched_at",
    "acknowledged_at",
    "arrived_at",
    "resolved_at",
    "closed_at",
    "media",
    "follow_url",
]
PERSONAL_FIELDS = ["reporter_name", "reporter_phone", "reporter_email", "reporter_handle"]


class ReportFeatureSerializer(GeoFeatureModelSerializer):
    """A report as a GeoJSON Feature, without personal data."""

    category = serializers.SlugRelatedField(slug_field="code", read_only=True)
    category_name = serializers.CharField(source="category.name_id", read_only=True)
    opd = serializers.SlugRelatedField(slug_field="code", read_only=True)
    opd_name = serializers.CharField(source="opd.name", read_only=True)
    kecamatan = serializers.CharField(source="kecamatan.code", read_only=True, default=None)
    kecamatan_name = serializers.CharField(source="kecamatan.name", read_only=True, default=None)
    kelurahan = serializers.CharField(source="kelurahan.code", read_only=True, default=None)
    kelurahan_name = serializers.CharField(source="kelurahan.name", read_only=True, default=None)
    duplicate_of = serializers.SlugRelatedField(slug_field="public_id", read_only=True)
    media = MediaSerializer(many=True, read_only=True)
    follow_url = serializers.SerializerMethodField(help_text="the citizen's follow-up page")

    class Meta:
        model = Report
        geo_field = "location"
        id_field = "public_id"
        fields = PUBLIC_FIELDS

    @extend_schema_field(OpenApiTypes.URI)
    def get_follow_url(self, obj: Report) -> str:
        path = f"/r/{obj.public_id}"
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class OperatorReportFeatureSerializer(ReportFeatureSerializer):
    """The same, with the reporter's contact (operators only)."""

    class Meta(ReportFeatureSerializer.Meta):
        fields = PUBLIC_FIELDS + PERSONAL_FIELDS


class PublicEventSerializer(serializers.ModelSerializer):
    from_status = serializers.CharField(help_text="a report status, or empty")
    to_status = serializers.CharField(help_text="a report status, or empty")

    class Meta:
        model = ReportEvent
        fields = ["at", "kind", "from_status", "to_status", "note"]


class OperatorEventSerializer(PublicEventSerializer):
    class Meta:
        model = ReportEvent
        fields = ["at", "kind", "from_status", "to_status", "note", "actor_label", "public", "data"]


class FollowUpSerializer(serializers.Serializer):
    """What a citizen sees at /r/<public_id>: status and public timeline, no personal data."""

    public_id = serializers.CharField()
    status = serializers.CharField()
    status_label = serializers.CharField(source="get_status_display")
    category = serializers.CharField(source="category.name_id")
    opd = serializers.CharField(source="opd.name")
    kecamatan = serializers.CharField(source="kecamatan.name", default=None)
    kelurahan = serializers.CharField(source="kelurahan.name", default=None)
    description = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    timeline = serializers.SerializerMethodField()

    @extend_schema_field(PublicEventSerializer(many=True))
    def get_timeline(self, obj: Report) -> list[dict]:
        return PublicEventSerializer(obj.events.filter(public=True), many=True).data


class ReportVersionField(serializers.DateTimeField):
    """The report's `version` the operator saw (incidents/versions.py): stale -> 409, nothing saved."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("help_text", "the report's `version` you saw (GET /api/reports/<id>/); a stale one gets 409")
        super().__init__(**kwargs)


class VersionedChangeSerializer(serializers.Serializer):
    version = ReportVersionField()


class StatusChangeSerializer(VersionedChangeSerializer):
    status = serializers.CharField()
    note = serializers.CharField(required=False, allow_blank=True, default="")
    public = serializers.BooleanField(required=False, default=True)

    def validate(self, attrs):
        if attrs["status"] == Status.REJECTED and not attrs["note"].strip():
            raise serializers.ValidationError({"note": [_("Give the reason for rejecting.")]})
        return attrs


class RecategoriseSerializer(VersionedChangeSerializer):
    category = serializers.CharField()
    note = serializers.CharField(required=False, allow_blank=True, default="")


class MergeSerializer(VersionedChangeSerializer):
    original = serializers.CharField(help_text="public id of the report this one duplicates")
    note = serializers.CharField(required=False, allow_blank=True, default="")


class ReportNoteSerializer(VersionedChangeSerializer):
    note = serializers.CharField(max_length=2000)
    public = serializers.BooleanField(required=False, default=False, help_text="shown on the citizen's page")

    def validate_note(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError(_("Write the note."))
        return value


class SocialPostSerializer(serializers.ModelSerializer):
    suggested_category = serializers.SlugRelatedField(slug_field="code", read_only=True)
    report = serializers.SlugRelatedField(slug_field="public_id", read_only=True)

    class Meta:
        model = SocialPost
        fields = [
            "id",
            "platform",
            "external_id",
            "author_handle",
            "author_name",
            "text",
            "posted_at",
            "place_name",
            "media_urls",
            "state",
            "triage_reason",
            "suggested_category",
            "report",
            "received_at",
        ]


class TriageResolveSerializer(serializers.Serializer):
    category = serializers.CharField()
    location = GeoJSONPointField(required=False)
    lat = serializers.FloatField(required=False, min_value=-90, max_value=90)
    lon = serializers.FloatField(required=False, min_value=-180, max_value=180)
    note = serializers.CharField(required=False, allow_blank=True, default="")

    def validate(self, attrs: dict) -> dict:
        return ReportCreateSerializer.validate(self, attrs)
