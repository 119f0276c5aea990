"""Tracking test helpers: supervisors with real kecamatan, devices with tokens, known points,
the phones' requests."""

import base64
import json
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

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


def epoch(dt: datetime) -> int:
    return int(dt.timestamp())


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def client():
    """DRF's test client: the phones' requests."""
    return APIClient()


@pytest.fixture
def t0():
    """A whole second, ten minutes ago: fixes after it are in the past, within the presence windows."""
    return timezone.now().replace(microsecond=0) - timedelta(minutes=10)


def native(sup, body, token=None, **headers):
    """A native upload of `body` from the supervisor's device, as the app sends it."""
    return APIClient().post(
        "/api/tracking/pings/",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token or sup.token}",
        HTTP_X_DEVICE_ID=sup.device.device_id,
        **headers,
    )


def pings(t0, n, start=0):
    """n native pings 10 s apart in Cipondoh, from t0 + 10 * start seconds."""
    return [
        {"time": (t0 + timedelta(seconds=10 * (start + i))).isoformat(), "lat": CIPONDOH[1], "lon": CIPONDOH[0]}
        for i in range(n)
    ]


def place(sup, at, where=CIPONDOH, in_area=True, **kw):
    """The supervisor's latest position set to a fix at `at` (read back with it)."""
    from django.contrib.gis.geos import Point

    from tracking.models import LatestPosition, Supervisor

    LatestPosition.objects.update_or_create(
        supervisor=sup,
        defaults=dict(point=Point(*where, srid=4326), device_time=at, received_at=at, in_area=in_area, **kw),
    )
    return Supervisor.objects.select_related("latest_position").get(pk=sup.pk)


@pytest.fixture
def fresh_geofences():
    """Test transactions roll back without delete signals: drop this process's geofence index after."""
    from tracking.areas import geofence_index

    geofence_index.invalidate()
    yield
    geofence_index.invalidate()
