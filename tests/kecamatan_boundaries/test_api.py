"""The boundary API over real HTTP, the OpenAPI schema, and the GIS staff upload page."""

import io
import json
import zipfile

import pytest
import requests
from django.contrib.auth.models import Permission, User

from kecamatan_boundaries.models import Generation, Kecamatan
from tests.kecamatan_boundaries.samples import big_kecamatan_zip

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def served(live_server):
    from tests.conftest import ensure_city

    ensure_city()
    return live_server.url


def test_kecamatan_feature_collection(served):
    r = requests.get(f"{served}/api/kecamatan/", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["type"] == "FeatureCollection" and len(body["features"]) == 13
    props = {f["properties"]["code"]: f["properties"] for f in body["features"]}
    assert props["36.71.05"]["name"] == "Cipondoh"
    assert abs(props["36.71.05"]["area_km2"] - 17.69) < 0.01
    assert body["features"][0]["geometry"]["type"] == "MultiPolygon"

    one = requests.get(f"{served}/api/kecamatan/36.71.13/", timeout=10).json()
    assert one["type"] == "Feature" and one["properties"]["name"] == "Larangan"
    assert requests.get(f"{served}/api/kecamatan/99.99.99/", timeout=10).status_code == 404


def test_kelurahan_of_a_kecamatan(served):
    body = requests.get(f"{served}/api/kelurahan/", params={"kecamatan": "36.71.07"}, timeout=10).json()
    assert len(body["features"]) == 16  # Karawaci has 16 kelurahan
    assert {f["properties"]["kecamatan_code"] for f in body["features"]} == {"36.71.07"}
    assert len(requests.get(f"{served}/api/kelurahan/", timeout=10).json()["features"]) == 104


def test_lookup_answers_kecamatan_and_kelurahan(served):
    r = requests.get(f"{served}/api/boundaries/lookup/", params={"lat": -6.1888, "lon": 106.6406}, timeout=10)
    assert r.status_code == 200
    assert r.json()["kecamatan"] == {"code": "36.71.01", "name": "Tangerang"}
    assert r.json()["kelurahan"]["code"].startswith("36.71.01.")


@pytest.mark.parametrize(
    "params,field",
    [
        ({"lat": "abc", "lon": "106.64"}, "lat"),
        ({"lat": "-6.18", "lon": "x"}, "lon"),
        ({"lat": "95", "lon": "106.64"}, "lat"),
        ({"lat": "-6.18", "lon": "181"}, "lon"),
        ({"lat": "NaN", "lon": "106.64"}, "lat"),
        ({"lat": "-6.18", "lon": "inf"}, "lon"),
        ({"lon": "106.64"}, "lat"),
    ],
)
def test_lookup_rejects_bad_coordinates(served, params, field):
    r = requests.get(f"{served}/api/boundaries/lookup/", params=params, timeout=10)
    assert r.status_code == 400
    assert field in r.json()


def test_lookup_outside_the_city_is_a_404_that_says_so(served):
    r = requests.get(f"{served}/api/boundaries/lookup/", params={"lat": -6.2088, "lon": 106.8456}, timeout=10)
    assert r.status_code == 404
    assert "outside Kota Tangerang" in r.json()["detail"]


def test_openapi_schema_and_docs_are_served_without_cdn(served):
    schema = requests.get(f"{served}/api/schema/", params={"format": "json"}, timeout=10)
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for p in ["/api/kecamatan/", "/api/kecamatan/{code}/", "/api/kelurahan/", "/api/boundaries/lookup/"]:
        assert p in paths
    docs = requests.get(f"{served}/api/docs/", timeout=10)
    assert docs.status_code == 200
    assert "cdn." not in docs.text and "unpkg" not in docs.text


def gis_staff(password="s3cret-gis-pass"):
    user = User.objects.create_user("gis", password=password, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="kecamatan_boundaries"))
    return user


def test_admin_upload_page_dry_run_then_commit(client, tmp_path):
    from tests.conftest import ensure_city

    ensure_city()
    client.force_login(gis_staff())
    archive = big_kecamatan_zip(tmp_path)
    before = Generation.objects.count()

    with open(archive, "rb") as f:
        r = client.post("/admin/kecamatan_boundaries/generation/upload/", {"file": f, "level": "kecamatan"})
    assert r.status_code == 200
    text = r.content.decode()
    assert "dry run, nothing written" in text and "CIPONDOH" in text
    assert Generation.objects.count() == before

    with open(archive, "rb") as f:
        r = client.post(
            "/admin/kecamatan_boundaries/generation/upload/", {"file": f, "level": "kecamatan", "commit": "on"}
        )
    assert r.status_code == 200 and "written and activated" in r.content.decode()
    assert Kecamatan.objects.current().get(code="36.71.05").name == "CIPONDOH"


def test_admin_upload_page_refuses_bad_files_with_400(client, tmp_path):
    from tests.conftest import ensure_city

    ensure_city()
    client.force_login(gis_staff())
    before = Generation.objects.count()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../escape.shp", b"x")
    buf.seek(0)
    buf.name = "evil.zip"
    r = client.post(
        "/admin/kecamatan_boundaries/generation/upload/", {"file": buf, "level": "kecamatan", "commit": "on"}
    )
    assert r.status_code == 400 and "points outside its folder" in r.content.decode()

    points = io.BytesIO(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "a", "code": "1"},
                        "geometry": {"type": "Point", "coordinates": [106.6, -6.2]},
                    }
                ],
            }
        ).encode()
    )
    points.name = "points.geojson"
    r = client.post(
        "/admin/kecamatan_boundaries/generation/upload/", {"file": points, "level": "kecamatan", "commit": "on"}
    )
    assert r.status_code == 400 and "Point geometries" in r.content.decode()
    assert Generation.objects.count() == before


def test_admin_upload_needs_permission(client):
    user = User.objects.create_user("viewer", password="x-long-password", is_staff=True)
    client.force_login(user)
    r = client.get("/admin/kecamatan_boundaries/generation/upload/")
    assert r.status_code == 403


def test_admin_map_widget_assets_are_local(client):
    from tests.conftest import ensure_city

    ensure_city()
    client.force_login(User.objects.create_superuser("root", password="x-long-password"))
    k = Kecamatan.objects.current().first()
    r = client.get(f"/admin/kecamatan_boundaries/kecamatan/{k.pk}/change/")
    html = r.content.decode()
    assert r.status_code == 200
    assert "/static/vendor/ol/ol.js" in html and "cdn.jsdelivr" not in html
    assert client.get("/static/vendor/ol/ol.js").status_code == 200
