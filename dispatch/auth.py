"""Who is calling: a supervisor's phone (device token) or a signed-in user, and what they may do.

Phones authenticate as tracking does: `Authorization: Bearer <token>` with `X-Device-Id`, or
`Authorization: Basic <device_id:token>`. A user account linked to a supervisor
(`Supervisor.user`) works too, from the web.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission

from tracking.auth import basic_auth, bearer_token
from tracking.errors import MalformedPing
from tracking.models import Device, Supervisor


class DeviceTokenAuthentication(BaseAuthentication):
    """A registered, unrevoked device with its token; the request acts as that device's supervisor."""

    def authenticate(self, request):
        token = bearer_token(request)
        device_id = request.headers.get("X-Device-Id")
        if not token:
            try:
                device_id, token = basic_auth(request)
            except MalformedPing:  # not a device's Basic header: let the user authenticators answer
                return None
            if not device_id or not Device.objects.filter(device_id=device_id).exists():
                return None  # a user's Basic credentials, not a device's
        if not token:
            return None
        if not device_id:
            raise exceptions.AuthenticationFailed("Send the device id in X-Device-Id with the Bearer token.")
        device = Device.objects.select_related("supervisor", "supervisor__user").filter(device_id=device_id).first()
        if device is None or not device.check_token(token):
            raise exceptions.AuthenticationFailed("Unknown device or wrong token.")
        if device.revoked or not device.supervisor.active:
            raise exceptions.AuthenticationFailed("This device was revoked.")
        user = device.supervisor.user
        return (user if user is not None else AnonymousUser(), device)

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="sigap"'


def supervisor_of(request) -> Supervisor | None:
    if isinstance(request.auth, Device):
        return request.auth.supervisor
    user = request.user
    if user is not None and user.is_authenticated:
        return Supervisor.objects.filter(user=user, active=True).first()
    return None


class IsSupervisor(BasePermission):
    message = "Only field supervisors (their phone's device token, or their own account) may do this."

    def has_permission(self, request, view) -> bool:
        sup = supervisor_of(request)
        request.supervisor = sup
        return sup is not None


class IsOperator(BasePermission):
    message = "Only operators may dispatch, re-assign, cancel or refer."

    def has_permission(self, request, view) -> bool:
        u = request.user
        return bool(u and u.is_authenticated and u.has_perm("incidents.operate_report"))


class CanSeeStats(BasePermission):
    message = "Sign in as an operator, planner or leadership to see response times."

    def has_permission(self, request, view) -> bool:
        u = request.user
        return bool(u and u.is_authenticated and u.has_perm("incidents.view_report"))


def actor_name(request) -> str:
    u = request.user
    if u is not None and u.is_authenticated:
        return u.get_username()
    sup = supervisor_of(request)
    return sup.name if sup else "anonymous"


class DeviceTokenScheme(OpenApiAuthenticationExtension):
    """OpenAPI: the phone's device token (Bearer + X-Device-Id, or Basic device_id:token)."""

    target_class = "dispatch.auth.DeviceTokenAuthentication"
    name = "deviceToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "Device token issued for the supervisor's phone; send the device id in X-Device-Id.",
        }
