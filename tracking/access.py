"""Who may see supervisors' positions and attendance, by role (core/roles.py).

| who                        | supervisors (live) | attendance       | phone numbers |
|----------------------------|--------------------|------------------|---------------|
| operator, admin            | all                | all              | yes           |
| planner                    | no                 | all              | no            |
| a supervisor (own account) | only themself      | only their own   | no            |
| anyone else, anonymous     | no (401/403)       | no (401/403)     | no            |

A supervisor is the user linked to an active `Supervisor` row (`Supervisor.user`). Phone
numbers are personal data: only operators and admins see them (also on a supervisor's own
row: the rule is by role, not by whose number it is).
"""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import BasePermission

from core.roles import ADMIN, OPERATOR, PLANNER, has_role

from .models import Supervisor

LIVE = "live"
ATTENDANCE = "attendance"
SEE_ALL = {LIVE: (OPERATOR, ADMIN), ATTENDANCE: (OPERATOR, PLANNER, ADMIN)}
WHO = {LIVE: "operators and admins", ATTENDANCE: "operators, planners and admins"}


@dataclass(frozen=True)
class Access:
    """What one signed-in user may see: everyone, or one supervisor (`supervisor_id`)."""

    sees_all: bool
    supervisor_id: int | None
    personal_data: bool


def access_for(user, purpose: str) -> Access:
    """The user's view of supervisors for `purpose` (LIVE or ATTENDANCE), or a 401/403 saying why."""
    if user is None or not user.is_authenticated:
        raise NotAuthenticated("sign in to see supervisors")
    personal = has_role(user, OPERATOR, ADMIN)
    if has_role(user, *SEE_ALL[purpose]):
        return Access(sees_all=True, supervisor_id=None, personal_data=personal)
    own = Supervisor.objects.filter(user=user, active=True).values_list("pk", flat=True).first()
    if own is not None:
        return Access(sees_all=False, supervisor_id=own, personal_data=personal)
    raise PermissionDenied(f"only {WHO[purpose]} see every supervisor; a supervisor sees their own")


class _RoleAccess(BasePermission):
    purpose = LIVE

    def has_permission(self, request, view) -> bool:
        request.tracking_access = access_for(request.user, self.purpose)
        return True


class CanSeeSupervisors(_RoleAccess):
    purpose = LIVE


class CanSeeAttendance(_RoleAccess):
    purpose = ATTENDANCE
