"""Roles as Django groups with permissions. Other apps import the role names from here.

citizen     reports and follows reports (anonymous, or signed in); no extra permissions
operator    LIVE Room: sees every report with the reporter's contact, routes, dispatches, merges,
            works the social triage queue
planner     reads reports and statistics, exports heatmaps; no personal data
gis_staff   loads and activates boundary files
supervisor  field supervisor of an OPD (SIGAP app): sends pings, acknowledges and resolves orders
admin       everything (also made staff by whoever creates the account)

`ensure_roles()` is idempotent; `python manage.py bootstrap` calls it (incidents/bootstrap.py).
Permissions of apps that do not exist yet are skipped, so a later app adds its own codenames to
ROLE_PERMISSIONS (or to EXTRA_ROLE_PERMISSIONS below) and the next bootstrap grants them.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission

CITIZEN = "citizen"
OPERATOR = "operator"
PLANNER = "planner"
GIS_STAFF = "gis_staff"
SUPERVISOR = "supervisor"
ADMIN = "admin"
ALL_ROLES = (CITIZEN, OPERATOR, PLANNER, GIS_STAFF, SUPERVISOR, ADMIN)

# role -> "app_label.codename" permissions it is granted ("app_label.*" = every permission of the app)
ROLE_PERMISSIONS: dict[str, list[str]] = {
    CITIZEN: [],
    OPERATOR: [
        "incidents.view_report",
        "incidents.change_report",
        "incidents.add_report",
        "incidents.view_personal_data",
        "incidents.operate_report",
        "incidents.triage_socialpost",
        "incidents.view_socialpost",
        "incidents.change_socialpost",
        "incidents.view_reportevent",
        "incidents.add_reportevent",
        "incidents.view_reportmedia",
        "incidents.view_duplicatelink",
        "incidents.change_duplicatelink",
        "incidents.view_category",
        "incidents.view_opd",
    ],
    PLANNER: [
        "incidents.view_report",
        "incidents.view_category",
        "incidents.view_opd",
        "kecamatan_boundaries.view_kecamatan",
        "kecamatan_boundaries.view_kelurahan",
    ],
    GIS_STAFF: [
        "kecamatan_boundaries.*",
    ],
    SUPERVISOR: [
        "incidents.view_report",
    ],
    ADMIN: [
        "incidents.*",
        "kecamatan_boundaries.*",
        "tracking.*",
        "auth.view_user",
        "auth.add_user",
        "auth.change_user",
    ],
}
# Other apps may append here at import time (e.g. tracking: SUPERVISOR -> "tracking.add_ping").
EXTRA_ROLE_PERMISSIONS: dict[str, list[str]] = {}


def _permissions(spec: list[str]) -> list[Permission]:
    found: list[Permission] = []
    for item in spec:
        app_label, codename = item.split(".", 1)
        qs = Permission.objects.filter(content_type__app_label=app_label)
        if codename != "*":
            qs = qs.filter(codename=codename)
        found.extend(qs)
    return found


def ensure_roles() -> dict[str, Group]:
    """Create the role groups and grant their permissions (adds, never removes hand-made grants)."""
    groups: dict[str, Group] = {}
    for role in ALL_ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        spec = ROLE_PERMISSIONS.get(role, []) + EXTRA_ROLE_PERMISSIONS.get(role, [])
        perms = _permissions(spec)
        if perms:
            group.permissions.add(*perms)
        groups[role] = group
    return groups


def has_role(user, *roles: str) -> bool:
    """True when `user` is active and in one of `roles` (superusers have every role)."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return user.groups.filter(name__in=roles).exists()
