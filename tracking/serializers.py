"""API shapes (also what drf-spectacular documents)."""

from rest_framework import serializers
from rest_framework_gis.fields import GeometryField
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from .models import LatestPosition, Supervisor


class PingSerializer(serializers.Serializer):
    """One native ping (documentation; decoding is protocols.native.decode_native)."""

    time = serializers.CharField(help_text="ISO 8601, or epoch seconds/milliseconds; the GPS time")
    lat = serializers.FloatField()
    lon = serializers.FloatField()
    accuracy = serializers.FloatField(required=False, help_text="metres")
    speed = serializers.FloatField(required=False, help_text="m/s")
    heading = serializers.FloatField(required=False, help_text="degrees")
    altitude = serializers.FloatField(required=False, help_text="metres")
    battery = serializers.FloatField(required=False, help_text="percent")
    mock = serializers.BooleanField(required=False)


class ProblemSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text="position of the ping in the request")
    reason = serializers.CharField()


class IngestResultSerializer(serializers.Serializer):
    stored = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="already stored: accepted, not stored twice")
    mock = serializers.IntegerField(help_text="stored but flagged as mock locations")
    dropped = ProblemSerializer(many=True, help_text="filtered out, with the reason")
    rejected = ProblemSerializer(many=True, help_text="could not be read")


def _latest(obj: Supervisor) -> LatestPosition | None:
    try:
        return obj.latest_position
    except LatestPosition.DoesNotExist:
        return None


class SupervisorFeatureSerializer(GeoFeatureModelSerializer):
    position = GeometryField(source="latest_position.point", read_only=True)  # null before the first fix
    opd = serializers.SlugRelatedField(slug_field="code", read_only=True)
    phone = serializers.SerializerMethodField(help_text="personal data: operators and admins only (null otherwise)")
    presence = serializers.SerializerMethodField()
    presence_reason = serializers.SerializerMethodField()
    last_fix_at = serializers.SerializerMethodField()
    last_fix_age_s = serializers.SerializerMethodField()
    current_kecamatan = serializers.SerializerMethodField()
    accuracy_m = serializers.SerializerMethodField()
    geofences = serializers.SlugRelatedField(slug_field="code", many=True, read_only=True)

    class Meta:
        model = Supervisor
        geo_field = "position"
        fields = [
            "id", "name", "phone", "opd", "kecamatan_codes", "geofences", "presence", "presence_reason",
            "last_fix_at", "last_fix_age_s", "current_kecamatan", "accuracy_m",
        ]  # fmt: skip

    def get_phone(self, obj) -> str | None:
        return obj.phone if self.context.get("personal_data") else None

    def _p(self, obj):
        return self.context["presence"][obj.pk]

    def get_presence(self, obj) -> str:
        return str(self._p(obj).state)

    def get_presence_reason(self, obj) -> str:
        return self._p(obj).reason

    def get_last_fix_at(self, obj) -> str | None:
        lp = _latest(obj)
        return lp.device_time.isoformat() if lp else None

    def get_last_fix_age_s(self, obj) -> float | None:
        age = self._p(obj).last_fix_age_s
        return None if age is None else round(age, 1)

    def get_current_kecamatan(self, obj) -> str | None:
        lp = _latest(obj)
        return (lp.kecamatan_code or None) if lp else None

    def get_accuracy_m(self, obj) -> float | None:
        lp = _latest(obj)
        return lp.accuracy if lp else None
