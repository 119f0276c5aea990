"""Who may see and do what in the console, checked on the server for every request.

operators (and admins)      the console: every report with contact data, every action
leadership                  the read-only live map and today's numbers (also operators, planners, admins)
supervisors                 the field app: only their own orders, their own pings
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from core.roles import ADMIN, OPERATOR, PLANNER, SUPERVISOR, has_role
from tracking.models import Supervisor

LEADERSHIP = "leadership"  # group made by console/migrations/0002_leadership_group.py


def is_operator(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active and user.has_perm("incidents.operate_report"))


def can_watch(user) -> bool:
    """May see the live picture (read-only): leadership, operators, planners, admins."""
    return is_operator(user) or has_role(user, LEADERSHIP, OPERATOR, PLANNER, ADMIN)


def supervisor_of(user):
    """The tracking Supervisor a user is, or None."""
    if not (user and user.is_authenticated and user.is_active):
        return None
    sup = Supervisor.objects.select_related("opd").filter(user=user, active=True).first()
    if sup is None:
        return None
    if not (has_role(user, SUPERVISOR) or user.is_superuser):
        return None
    return sup


class IsOperator(BasePermission):
    message = "Only LIVE Room operators may do this."

    def has_permission(self, request, view) -> bool:
        return is_operator(request.user)


class CanWatch(BasePermission):
    message = "Only operators and leadership may see the live picture."

    def has_permission(self, request, view) -> bool:
        return can_watch(request.user)


class IsSupervisor(BasePermission):
    message = "Only field supervisors with an active supervisor record may use the field app."

    def has_permission(self, request, view) -> bool:
        sup = supervisor_of(request.user)
        request.supervisor = sup
        return sup is not None
