"""Tracking test helpers: supervisors with real kecamatan, devices with tokens, known points."""

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

WIB = ZoneInfo("Asia/Jakarta")

# src_centroid of each kecamatan in fixtures/: lies inside its polygon.
CIPONDOH = (106.68299190893637, -6.186208240582951)  # 36.71.05
TANGERANG = (106.64063780418704, -6.188816022916633)  # 36.71.01
KARAWACI = (106.61795645611953, -6.181183359016395)  # 36.71.07
OUTSIDE_CITY = (106.80, -6.10)  # Jakarta Bay side, not in Kota Tangerang


def wib(*args) -> datetime:
    return datetime(*args, tzinfo=WIB)


def make_opd(code="dishub"):
    from incidents.models import OPD

    opd, _ = OPD.objects.get_or_create(code=code, defaults={"name": code.title(), "is_field_agency": True})
    return opd


def make_supervisor(name="Budi", opd="dishub", kecamatan=("36.71.05",), shifts="all", **kw):
    """A supervisor with a device; shifts="all" = 00:00-00:00 every day (always in shift)."""
    from tracking.models import Device, Shift, Supervisor

    sup = Supervisor.objects.create(name=name, opd=make_opd(opd), kecamatan_codes=list(kecamatan), **kw)
    if shifts == "all":
        for wd in range(7):
            Shift.objects.create(supervisor=sup, weekday=wd, start=time(0), end=time(0))
    elif shifts:
        for wd, start, end in shifts:
            Shift.objects.create(supervisor=sup, weekday=wd, start=start, end=end)
    device = Device(supervisor=sup, device_id=f"dev-{sup.pk}")
    token = device.issue_token()
    device.save()
    sup.token = token
    sup.device = device
    return sup


@pytest.fixture
def supervisor(city):
    return make_supervisor()


def user_with_role(role: str | None, username: str | None = None, password: str = "pw-tracking-1"):
    """A user in one role group of core/roles.py (None = signed in, no role)."""
    from django.contrib.auth import get_user_model

    from core.roles import ensure_roles

    user = get_user_model().objects.create_user(username or f"u-{role or 'none'}", password=password)
    if role:
        user.groups.add(ensure_roles()[role])
    return user
