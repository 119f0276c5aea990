"""Planners' API and page: over real HTTP for the main flows, the test client for the edges."""

import io
import re
import zipfile

import geopandas as gpd
import pytest
import requests
from django.contrib.auth.models import User
from openpyxl import load_workbook

from .conftest import SECRET_PHONE, expected

pytestmark = pytest.mark.django_db
PERIOD = "from=2024-03-01&to=2024-03-31"


def want_kecamatan(scenario, specs=None) -> dict[str, int]:
    want = expected(specs or scenario["specs"], lambda s: s.kecamatan, targets=scenario["targets"])
    return {c: v["reports"] for c, v in want.items() if c and v["reports"]}


def test_planner_reads_stats_and_downloads_files_over_http(live_server, scenario, planner):
    auth = ("planner1", "pw-planner1")
    r = requests.get(f"{live_server.url}/api/planning/stats/?{PERIOD}", auth=auth, timeout=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert {k["code"]: k["reports"] for k in body["kecamatan"] if k["reports"]} == want_kecamatan(scenario)
    assert body["period"] == {**body["period"], "from": "2024-03-01", "to": "2024-03-31", "days": 31}
    assert len(body["hour_of_day"]) == 24 and len(body["day_of_week"]) == 7
    assert SECRET_PHONE not in r.text

    r = requests.get(
        f"{live_server.url}/api/planning/export/?format=geojson&{PERIOD}&category=banjir", auth=auth, timeout=60
    )
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/geo+json"
    assert 'filename="laporan_kecamatan_2024-03-01_2024-03-31_banjir.geojson"' in r.headers["Content-Disposition"]
    frame = gpd.read_file(io.BytesIO(r.content))
    banjir = [s for s in scenario["specs"] if s.category == "banjir"]
    assert {c: int(n) for c, n in zip(frame["code"], frame["reports"], strict=True) if n} == want_kecamatan(
        scenario, banjir
    )

    r = requests.get(f"{live_server.url}/api/planning/export/?format=xlsx&{PERIOD}", auth=auth, timeout=60)
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.content))
    header = [c.value for c in wb["kecamatan"][1]]
    got = {row[0].value: row[header.index("reports")].value for row in wb["kecamatan"].iter_rows(min_row=2)}
    assert {c: n for c, n in got.items() if n} == want_kecamatan(scenario)

    r = requests.get(
        f"{live_server.url}/api/planning/export/?format=shp&level=kelurahan&{PERIOD}", auth=auth, timeout=60
    )
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/zip"
    assert "kelurahan.prj" in zipfile.ZipFile(io.BytesIO(r.content)).namelist()

    r = requests.get(f"{live_server.url}/api/planning/export/?format=kml&{PERIOD}", auth=auth, timeout=30)
    assert r.status_code == 400 and "Unknown format 'kml'" in r.json()["detail"]


def test_planners_page_previews_the_map_from_local_static_files(live_server, scenario, planner):
    s = requests.Session()
    login = s.get(f"{live_server.url}/planning/?{PERIOD}", timeout=30)
    assert "/login/" in login.url and "next=" in login.url  # login required (a planner is not staff)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
    s.post(
        login.url,
        data={"username": "planner1", "password": "pw-planner1", "csrfmiddlewaretoken": token},
        headers={"Referer": login.url},
        timeout=30,
    )
    page = s.get(f"{live_server.url}/planning/?{PERIOD}&category=banjir", timeout=30)
    assert page.status_code == 200
    assert 'id="kecamatan-table"' in page.text and 'id="map-preview"' in page.text
    for fmt in ("html", "png", "geojson", "gpkg", "shp", "csv", "xlsx"):
        assert f"/api/planning/export/?format={fmt}&amp;from=2024-03-01" in page.text
    src = re.search(r'<iframe id="map-preview"[^>]*src="([^"]+)"', page.text).group(1).replace("&amp;", "&")

    preview = s.get(f"{live_server.url}{src}", timeout=60)
    assert preview.status_code == 200 and preview.headers["X-Frame-Options"] == "SAMEORIGIN"
    html = preview.text
    assert "Choropleth per kecamatan" in html and "L.heatLayer(" in html
    scripts = re.findall(r'<script src="([^"]+)"', html) + re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert sorted(scripts) == sorted(
        [
            "/static/vendor/leaflet/leaflet.css",
            "/static/vendor/leaflet/leaflet.js",
            "/static/vendor/leaflet.heat/leaflet-heat.js",
        ]
    )
    assert not re.search(r"jsdelivr|cdnjs|unpkg|code\.jquery|bootstrapcdn|https?://", html)
    for path in scripts:  # and our app serves them
        assert s.get(f"{live_server.url}{path}", timeout=30).status_code == 200


def test_tiles_setting_adds_a_base_map(client, scenario, planner, settings):
    settings.PLANNING_TILES_URL = "https://tiles.example.org/{z}/{x}/{y}.png"
    client.force_login(planner)
    html = client.get(f"/planning/map/?{PERIOD}").content.decode()
    assert "https://tiles.example.org/{z}/{x}/{y}.png" in html
    settings.PLANNING_TILES_URL = ""
    html = client.get(f"/planning/map/?{PERIOD}").content.decode()
    assert "L.tileLayer(" not in html


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("format=csv&from=2024-03-31&to=2024-03-01", "to", "before it starts"),
        ("format=csv&from=2024-03-01&to=2024-03-31&category=tsunami", "category", "Unknown category 'tsunami'"),
        ("format=csv&from=2024-03-01&to=2024-03-31&opd=dinas-x", "opd", "Unknown opd 'dinas-x'"),
        ("format=csv&from=yesterday&to=2024-03-31", "from", "date like"),
        ("format=&from=2024-03-01&to=2024-03-31", "format", "Unknown format"),
        ("from=2024-03-01&to=2024-03-31", "format", "Unknown format"),
        ("format=csv&from=2024-03-01&to=2024-03-31&level=rt", "level", "Unknown level"),
        ("format=png&from=2024-03-01&to=2024-03-31&cell_m=abc", "cell_m", "number of metres"),
        ("format=html&from=2024-03-01&to=2024-03-31&metric=happiness", "metric", "Unknown metric"),
    ],
)
def test_export_bad_input_is_a_400_with_the_reason(client, planner, query, field, words):
    client.force_login(planner)
    r = client.get(f"/api/planning/export/?{query}")
    assert r.status_code == 400
    assert words in r.json()["detail"] and field in r.json()


def test_stats_bad_input_is_a_400(client, planner):
    client.force_login(planner)
    r = client.get("/api/planning/stats/?from=2024-03-31&to=2024-03-01")
    assert r.status_code == 400 and "before it starts" in r.json()["detail"]
    r = client.get("/api/planning/stats/?from=2024-03-01&to=2024-03-31&channel=fax")
    assert r.status_code == 400 and "fax" in r.json()["detail"]


def test_empty_period_is_zeros_not_an_error(client, planner):
    client.force_login(planner)
    r = client.get("/api/planning/stats/?from=2019-01-01&to=2019-01-31")
    assert r.status_code == 200
    assert r.json()["city"]["reports"] == 0 and all(k["reports"] == 0 for k in r.json()["kecamatan"])
    r = client.get("/api/planning/export/?format=csv&from=2019-01-01&to=2019-01-31")
    assert r.status_code == 200 and r.content.decode().count("\n") == 14  # header + 13 kecamatan


def test_only_planners_and_staff(client, scenario, operator_user):
    assert client.get(f"/api/planning/stats/?{PERIOD}").status_code in (401, 403)
    r = client.get(f"/planning/?{PERIOD}")
    assert r.status_code == 302 and "/login/?next=/planning/" in r["Location"]

    client.force_login(operator_user)  # sees reporters' contacts in the LIVE Room, but is not a planner
    assert client.get(f"/api/planning/stats/?{PERIOD}").status_code == 403
    assert client.get(f"/api/planning/export/?format=csv&{PERIOD}").status_code == 403
    assert client.get(f"/planning/?{PERIOD}").status_code == 403
    assert client.get(f"/planning/map/?{PERIOD}").status_code == 403

    staff = User.objects.create_user("gis-lead", password="x", is_staff=True)
    client.force_login(staff)
    assert client.get(f"/api/planning/stats/?{PERIOD}").status_code == 200
    assert client.get(f"/planning/?{PERIOD}").status_code == 200


def test_page_shows_the_reason_for_bad_input(client, planner):
    client.force_login(planner)
    r = client.get("/planning/?from=2024-03-31&to=2024-03-01")
    assert r.status_code == 400
    assert "before it starts" in r.content.decode()
    r = client.get("/planning/?from=2024-03-01&to=2024-03-31&metric=happiness")
    assert r.status_code == 400 and "Unknown metric" in r.content.decode()
    r = client.get("/planning/map/?from=2024-03-01&to=2024-03-31&kecamatan=Gotham")
    assert r.status_code == 400 and "Gotham" in r.content.decode()


def test_page_defaults_to_the_last_days(client, planner):
    client.force_login(planner)
    r = client.get("/planning/")
    assert r.status_code == 200 and 'id="map-preview"' in r.content.decode()
