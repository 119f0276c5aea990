"""Fixtures for the incidents tests: reference data, real points in real kelurahan, users by role."""

import json
from pathlib import Path

import pytest
from django.contrib.gis.geos import Point
from django.core.cache import cache

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "kota_tangerang"


def known_points() -> list[dict]:
    """Each kelurahan's source centroid (it lies inside its polygon), with its codes and names."""
    data = json.loads((FIXTURES / "kota_tangerang_kelurahan.geojson").read_text())
    return [
        {
            "code": f["properties"]["code"],
            "name": f["properties"]["name"],
            "kecamatan_code": f["properties"]["kecamatan_code"],
            "kecamatan": f["properties"]["kecamatan"],
            "lat": f["properties"]["src_centroid_lat"],
            "lon": f["properties"]["src_centroid_lng"],
        }
        for f in data["features"]
    ]


KNOWN = known_points()
JAKARTA = (-6.2088, 106.8456)  # Monas area: outside Kota Tangerang


def point_of(kelurahan_name: str) -> Point:
    row = next(k for k in KNOWN if k["name"] == kelurahan_name)
    return Point(row["lon"], row["lat"], srid=4326)


@pytest.fixture
def refdata(city):
    """OPDs, categories and role groups, as `manage.py bootstrap` loads them."""
    from incidents.bootstrap import bootstrap

    bootstrap(log=lambda m: None)
    from incidents.models import Category

    return {c.code: c for c in Category.objects.select_related("opd")}


@pytest.fixture(autouse=True)
def _clear_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _media_root(tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")


def make_user(username: str, role: str | None):
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username, password="pw-" + username)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture
def operator(refdata):
    return make_user("op1", "operator")


@pytest.fixture
def planner(refdata):
    return make_user("plan1", "planner")
