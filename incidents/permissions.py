"""Who may do what, by the permissions the role groups carry (core/roles.py)."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView


def sees_personal_data(user: AbstractBaseUser | AnonymousUser | None) -> bool:
    """Reporters' names and contacts are for operators only (the view_personal_data permission)."""
    return bool(user and user.is_authenticated and user.has_perm("incidents.view_personal_data"))


class CanOperate(BasePermission):
    """Operators (and admins): route, change status, merge, re-categorise."""

    message = "Only operators may change reports."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(
            request.user and request.user.is_authenticated and request.user.has_perm("incidents.operate_report")
        )


class CanTriage(BasePermission):
    """Operators (and admins): turn social posts waiting in triage into reports, or dismiss them."""

    message = "Only operators may work the social-media triage queue."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(
            request.user and request.user.is_authenticated and request.user.has_perm("incidents.triage_socialpost")
        )
