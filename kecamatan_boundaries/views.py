"""The boundaries API: current kecamatan and kelurahan as GeoJSON, and which ones a point is in."""

from django.contrib.gis.geos import Point
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .models import Kecamatan, Kelurahan
from .places import place_at
from .serializers import (
    KecamatanSerializer,
    KelurahanSerializer,
    LookupQuerySerializer,
    LookupResultSerializer,
)


class KecamatanList(generics.ListAPIView):
    """The current kecamatan of Kota Tangerang as a GeoJSON FeatureCollection."""

    serializer_class = KecamatanSerializer
    queryset = Kecamatan.objects.current().order_by("code")
    pagination_class = None


class KecamatanDetail(generics.RetrieveAPIView):
    serializer_class = KecamatanSerializer
    queryset = Kecamatan.objects.current()
    lookup_field = "code"
    lookup_value_regex = r"[0-9A-Za-z._-]+"


class KelurahanFilter(filters.FilterSet):
    kecamatan = filters.CharFilter(field_name="kecamatan_code", help_text="kecamatan code, e.g. 36.71.05")

    class Meta:
        model = Kelurahan
        fields = ["kecamatan"]


class KelurahanList(generics.ListAPIView):
    """The current kelurahan, optionally of one kecamatan (`?kecamatan=36.71.05`)."""

    serializer_class = KelurahanSerializer
    queryset = Kelurahan.objects.current().order_by("code")
    filterset_class = KelurahanFilter
    pagination_class = None


class KelurahanDetail(generics.RetrieveAPIView):
    serializer_class = KelurahanSerializer
    queryset = Kelurahan.objects.current()
    lookup_field = "code"
    lookup_value_regex = r"[0-9A-Za-z._-]+"


class BoundaryLookup(APIView):
    """Which kecamatan and kelurahan a point is in."""

    @extend_schema(
        parameters=[LookupQuerySerializer],
        responses={
            200: LookupResultSerializer,
            400: OpenApiResponse(description="lat/lon missing, not numbers or out of range"),
            404: OpenApiResponse(description="the point is outside Kota Tangerang"),
        },
    )
    def get(self, request: Request) -> Response:
        query = LookupQuerySerializer(data=request.query_params)
        if not query.is_valid():
            raise ValidationError(query.errors)
        lat, lon = query.validated_data["lat"], query.validated_data["lon"]
        place = place_at(Point(lon, lat, srid=4326))
        kelurahan = place.kelurahan
        body = {
            "kecamatan": {"code": place.kecamatan.code, "name": place.kecamatan.name},
            "kelurahan": {"code": kelurahan.code, "name": kelurahan.name} if kelurahan else None,
        }
        return Response(body)
