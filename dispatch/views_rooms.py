"""Dispatch API, maternity rooms: propose, confirm and release a held room; facilities and their free rooms."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response
from rest_framework.views import APIView

from . import maternity
from .auth import IsOperator, actor_name
from .models import Facility
from .serializers import (
    FacilitySerializer,
    ReleaseSerializer,
    RoomHoldSerializer,
    RoomsSerializer,
)
from .views import ERRORS, report_or_404


class ProposeRoom(APIView):
    permission_classes = [IsOperator]

    @extend_schema(
        tags=["dispatch: maternity"],
        summary="Propose (and hold) the nearest facility with a free maternity room",
        request=None,
        responses={200: RoomHoldSerializer, **ERRORS},
    )
    def post(self, request, public_id: str):
        hold = maternity.propose(report_or_404(public_id), actor=actor_name(request))
        return Response(RoomHoldSerializer(hold).data)


class ConfirmRoom(APIView):
    permission_classes = [IsOperator]

    @extend_schema(
        tags=["dispatch: maternity"],
        summary="Confirm a held room",
        request=None,
        responses={200: RoomHoldSerializer, **ERRORS},
    )
    def post(self, request, pk: int):
        return Response(RoomHoldSerializer(maternity.confirm(pk, actor=actor_name(request))).data)


class ReleaseRoom(APIView):
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


class FacilityList(APIView):
    @extend_schema(
        tags=["dispatch: maternity"],
        summary="Hospitals and health centres with their free maternity rooms (GeoJSON)",
        responses={200: FacilitySerializer(many=True)},
    )
    def get(self, request):
        if not request.user.is_authenticated:
            raise PermissionDenied("Sign in to see facilities.")
        return Response(FacilitySerializer(Facility.objects.filter(active=True), many=True).data)


class FacilityRooms(APIView):
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
