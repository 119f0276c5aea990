"""Who may do what, by the permissions the role groups carry (core/roles.py)."""

from rest_framework.permissions import BasePermission


def sees_personal_data(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm("incidents.view_personal_data"))


class CanOperate(BasePermission):
    """Operators (and admins): route, change status, merge, re-categorise."""

    message = "Only operators may change reports."

    def has_permission(self, request, view) -> bool:
        return bool(
            request.user and request.user.is_authenticated and request.user.has_perm("incidents.operate_report")
        )


class CanTriage(BasePermission):
    message = "Only operators may work the social-media triage queue."

    def has_permission(self, request, view) -> bool:
        return bool(
            request.user and request.user.is_authenticated and request.user.has_perm("incidents.triage_socialpost")
        )
