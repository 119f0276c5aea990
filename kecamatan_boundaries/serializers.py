"""Areas as GeoJSON features, and the point lookup's question and answer."""

from rest_framework import serializers
from rest_framework_gis.serializers import GeoFeatureModelSerializer

from .models import Kecamatan, Kelurahan


class KecamatanSerializer(GeoFeatureModelSerializer):
    class Meta:
        model = Kecamatan
        geo_field = "geom"
        id_field = False
        fields = ["code", "name", "area_km2"]


class KelurahanSerializer(GeoFeatureModelSerializer):
    class Meta:
        model = Kelurahan
        geo_field = "geom"
        id_field = False
        fields = ["code", "name", "area_km2", "kecamatan_code"]


def _finite(value: float) -> float:
    if value != value or value in (float("inf"), float("-inf")):
        raise serializers.ValidationError("must be a finite number")
    return value


class LookupQuerySerializer(serializers.Serializer):
    lat = serializers.FloatField(min_value=-90, max_value=90, validators=[_finite], help_text="latitude, WGS 84")
    lon = serializers.FloatField(min_value=-180, max_value=180, validators=[_finite], help_text="longitude, WGS 84")


class AreaRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class LookupResultSerializer(serializers.Serializer):
    kecamatan = AreaRefSerializer()
    kelurahan = AreaRefSerializer(allow_null=True)
