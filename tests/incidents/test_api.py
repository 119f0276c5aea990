"""POST/GET /api/reports/, follow-up, operator actions: real HTTP for the main flow, APIClient for edge cases."""

import json

import pytest
import requests
from rest_framework.test import APIClient

from incidents.models import Report, ReportMedia, Status

from . import samples
from .conftest import JAKARTA, make_user, point_of

pytestmark = pytest.mark.django_db


def geo(name="Sukarasa"):
    p = point_of(name)
    return {"type": "Point", "coordinates": [p.x, p.y]}


def body(**kw):
    data = {
        "category": "banjir",
        "description": "Banjir setinggi lutut di depan pasar",
        "location": geo(),
        "reporter_name": "Siti Aminah",
        "reporter_phone": "+62 812 555 0101",
    }
    data.update(kw)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture
def client(refdata):
    return APIClient()


def post_json(client, data, **headers):
    return client.post("/api/reports/", data=json.dumps(data), content_type="application/json", headers=headers)


# --- the main flow over real HTTP ------------------------------------------------------------


def test_citizen_reports_and_follows_over_http(live_server, refdata):
    operator = make_user("op-http", "operator")
    url = f"{live_server.url}/api/reports/"
    data = body(category="pohon-tumbang", description="Pohon tumbang <b>menutup</b> jalan")
    r = requests.post(url, json=data, headers={"Idempotency-Key": "abc-123"}, timeout=30)
    assert r.status_code == 201, r.text
    feature = r.json()
    props = feature["properties"]
    assert feature["type"] == "Feature" and feature["geometry"]["type"] == "Point"
    # routed; a dispatcher listening to report_routed may already have moved it on
    assert props["status"] in ("routed", "awaiting_supervisor", "dispatched")
    assert props["opd"] == "dkp" and props["kecamatan"] == "36.71.01"
    assert "reporter_name" not in props and "reporter_phone" not in props
    assert r.headers["Location"].endswith(f"/r/{feature['id']}")

    again = requests.post(url, json=data, headers={"Idempotency-Key": "abc-123"}, timeout=30)
    assert again.status_code == 200 and again.json()["id"] == feature["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Report.objects.count() == 1

    page = requests.get(props["follow_url"], timeout=30)
    assert page.status_code == 200
    assert "&lt;b&gt;menutup&lt;/b&gt;" in page.text and "<b>menutup</b>" not in page.text
    assert "Siti Aminah" not in page.text and "812 555 0101" not in page.text
    follow = requests.get(props["follow_url"] + ".json", timeout=30).json()
    assert follow["status"] == props["status"] and follow["description"] == "Pohon tumbang <b>menutup</b> jalan"
    assert [e["to_status"] for e in follow["timeline"] if e["kind"] != "media"][:2] == ["received", "routed"]
    assert "Siti Aminah" not in json.dumps(follow)

    listing = requests.get(url, timeout=30).json()
    assert listing["type"] == "FeatureCollection" and listing["count"] == 1
    assert "reporter_phone" not in listing["features"][0]["properties"]
    as_operator = requests.get(url, auth=("op-http", "pw-op-http"), timeout=30).json()
    assert as_operator["features"][0]["properties"]["reporter_phone"] == "+62 812 555 0101"
    assert operator.has_perm("incidents.view_personal_data")


def test_multipart_with_photo_exif_gives_location_and_thumbnail(live_server, refdata):
    where = point_of("Cibodas")
    photo = samples.photo("JPEG", lat=where.y, lon=where.x, taken="2026:11:29 08:15:00")
    r = requests.post(
        f"{live_server.url}/api/reports/",
        data={"category": "sampah", "description": "sampah menumpuk"},
        files=[("files", ("IMG_1.jpg", photo, "image/jpeg")), ("files", ("clip.mp4", samples.MP4, "video/mp4"))],
        timeout=30,
    )
    assert r.status_code == 201, r.text
    props = r.json()["properties"]
    assert props["location_source"] == "exif" and props["kelurahan_name"] == "Cibodas"
    assert props["occurred_at"].startswith("2026-11-29T08:15:00")
    kinds = sorted((m["kind"], m["content_type"]) for m in props["media"])
    assert kinds == [("photo", "image/jpeg"), ("video", "video/mp4")]
    photo_row = next(m for m in props["media"] if m["kind"] == "photo")
    assert photo_row["thumbnail_url"] and photo_row["width"] == 640
    assert ReportMedia.objects.filter(report__public_id=r.json()["id"]).count() == 2


# --- shapes accepted ------------------------------------------------------------------------------


def test_lat_lon_instead_of_geojson(client):
    p = point_of("Sukarasa")
    r = post_json(client, body(location=None, lat=p.y, lon=p.x))
    assert r.status_code == 201, r.json()
    assert r.json()["properties"]["kelurahan_name"] == "Sukarasa"


def test_multipart_geojson_as_text_and_form_lat_lon(client):
    r = client.post("/api/reports/", {"category": "kemacetan", "location": json.dumps(geo())}, format="multipart")
    assert r.status_code == 201, r.json()
    p = point_of("Sukarasa")
    r = client.post("/api/reports/", {"category": "kemacetan", "lat": str(p.y), "lon": str(p.x)}, format="multipart")
    assert r.status_code == 201, r.json()


# --- bad input: 400/422 with a message per field, nothing stored ----------------------------------

BAD_JSON = [
    ("missing category", body(category=None), 400, "category"),
    ("unknown category", body(category="tsunami"), 400, "category"),
    ("lat out of range", body(location=None, lat=95, lon=106.6), 400, "lat"),
    ("lon out of range", body(location=None, lat=-6.17, lon=190), 400, "lon"),
    ("lat not a number", body(location=None, lat="abc", lon=106.6), 400, "lat"),
    ("lat NaN as text", body(location=None, lat="NaN", lon=106.6), 400, "lat"),
    ("lon infinite as text", body(location=None, lat=-6.17, lon="Infinity"), 400, "lon"),
    ("only lat", body(location=None, lat=-6.17), 400, "lon"),
    (
        "GeoJSON LineString",
        body(location={"type": "LineString", "coordinates": [[106.6, -6.1], [106.7, -6.2]]}),
        400,
        "location",
    ),
    ("GeoJSON Point with text coords", body(location={"type": "Point", "coordinates": ["a", "b"]}), 400, "location"),
    ("GeoJSON Point NaN", body(location={"type": "Point", "coordinates": ["NaN", -6.17]}), 400, "location"),
    ("no location at all", body(location=None), 400, "location"),
    ("outside the city", body(location={"type": "Point", "coordinates": [JAKARTA[1], JAKARTA[0]]}), 422, "location"),
    ("description over the limit", body(description="x" * 2001), 400, "description"),
    ("bad email", body(reporter_email="not-an-email"), 400, "reporter_email"),
]


@pytest.mark.parametrize("label,data,code,field", BAD_JSON, ids=[b[0] for b in BAD_JSON])
def test_bad_json_input(client, label, data, code, field):
    r = post_json(client, data)
    assert r.status_code == code, r.json()
    assert field in r.json() and r.json()[field], r.json()
    assert Report.objects.count() == 0


@pytest.mark.parametrize("raw", ['{"category": "banjir", "lat": NaN, "lon": 106.6}', '{"lat": Infinity}', "{not json"])
def test_non_standard_json_numbers_and_broken_json_are_400(client, raw):
    r = client.post("/api/reports/", data=raw, content_type="application/json")
    assert r.status_code == 400 and "detail" in r.json()
    assert Report.objects.count() == 0


def test_outside_city_message_says_so(client):
    r = post_json(client, body(location={"type": "Point", "coordinates": [JAKARTA[1], JAKARTA[0]]}))
    assert "outside Kota Tangerang" in r.json()["detail"]


def _multipart(client, files, **fields):
    data = {"category": "sampah", "location": json.dumps(geo()), **fields}
    data["files"] = files
    return client.post("/api/reports/", data, format="multipart")


def test_executable_renamed_jpg_is_refused(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    r = _multipart(client, [SimpleUploadedFile("foto.jpg", samples.EXE, content_type="image/jpeg")])
    assert r.status_code == 400 and "foto.jpg" in r.json()["files"][0]
    assert Report.objects.count() == 0 and ReportMedia.objects.count() == 0


def test_file_over_cap_and_too_many_files(client, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.INCIDENTS_MEDIA_MAX_VIDEO_BYTES = 100
    r = _multipart(client, [SimpleUploadedFile("v.mp4", samples.MP4)])
    assert r.status_code == 400 and "over the video limit" in r.json()["files"][0]
    settings.INCIDENTS_MEDIA_MAX_FILES = 2
    photos = [SimpleUploadedFile(f"{i}.jpg", samples.photo()) for i in range(3)]
    r = _multipart(client, photos)
    assert r.status_code == 400 and "at most 2" in r.json()["files"][0]
    assert Report.objects.count() == 0


def test_malformed_multipart_is_400(client):
    raw = b'--XYZ\r\nContent-Disposition: form-data; name="category"\r\n\r\nbanjir\r\n--XYZ\r\nContent-Disp'
    r = client.generic("POST", "/api/reports/", raw, content_type="multipart/form-data; boundary=XYZ")
    assert r.status_code == 400 and r.json()["detail"]
    r = client.generic("POST", "/api/reports/", b"abc", content_type="multipart/form-data")  # no boundary
    assert r.status_code == 400
    assert Report.objects.count() == 0


def test_idempotency_key_reused_for_another_report_is_422(client):
    assert post_json(client, body(idempotency_key="k1")).status_code == 201
    r = post_json(client, body(idempotency_key="k1", description="lain"))
    assert r.status_code == 422 and "idempotency_key" in r.json()
    assert Report.objects.count() == 1


def test_anonymous_rate_limit_per_client(client, settings, operator):
    settings.INCIDENTS_ANON_RATE = "3/hour"
    for i in range(3):
        assert post_json(client, body(description=f"r{i}")).status_code == 201
    r = post_json(client, body(description="r4"))
    assert r.status_code == 429
    # a retry of a report already stored still gets its answer
    first_key = post_json(client, body(), **{"Idempotency-Key": "z"})
    assert first_key.status_code == 429
    # another client (IP) is not limited
    other = APIClient(REMOTE_ADDR="10.9.9.9")
    assert post_json(other, body(description="other ip")).status_code == 201
    # signed-in users are not limited by the anonymous rate
    client.force_authenticate(operator)
    assert post_json(client, body(description="operator on the phone")).status_code == 201


# --- read API -------------------------------------------------------------------------------------


def _seed(client):
    made = {}
    for name, cat in [("Sukarasa", "banjir"), ("Cibodas", "sampah"), ("Sukarasa", "kemacetan")]:
        r = post_json(client, body(location=geo(name), category=cat))
        assert r.status_code == 201
        made[(name, cat)] = r.json()["id"]
    return made


def test_list_filters(client):
    made = _seed(client)

    def ids(query):
        r = client.get("/api/reports/" + query)
        assert r.status_code == 200, r.json()
        return {f["id"] for f in r.json()["features"]}

    assert ids("?category=banjir") == {made[("Sukarasa", "banjir")]}
    assert ids("?opd=dkp") == {made[("Cibodas", "sampah")]}
    assert ids("?kecamatan=36.71.01") == {made[("Sukarasa", "banjir")], made[("Sukarasa", "kemacetan")]}
    assert ids("?kelurahan=36.71.01.1001") == {made[("Sukarasa", "banjir")], made[("Sukarasa", "kemacetan")]}
    assert ids("?status=routed&status=closed") == set(made.values())
    assert ids("?status=closed") == set()
    assert ids("?channel=twitter") == set()
    p = point_of("Cibodas")
    assert ids(f"?point={p.x},{p.y}&dist=100") == {made[("Cibodas", "sampah")]}
    assert ids(f"?in_bbox={p.x - 0.001},{p.y - 0.001},{p.x + 0.001},{p.y + 0.001}") == {made[("Cibodas", "sampah")]}
    assert ids("?created_after=2000-01-01T00:00:00Z&created_before=2100-01-01T00:00:00Z") == set(made.values())
    assert ids("?created_after=2100-01-01T00:00:00Z") == set()
    page = client.get("/api/reports/?page_size=2").json()
    assert page["count"] == 3 and len(page["features"]) == 2 and page["next"]


def test_time_filters_take_any_offset_and_compare_in_utc(client):
    from datetime import UTC, timedelta

    made = _seed(client)
    newest = max(Report.objects.values_list("created_at", flat=True))
    # PostgreSQL refuses offsets beyond +-15:59; the same instant written with +18:47 still works
    shifted = (newest + timedelta(seconds=1)).astimezone(UTC) + timedelta(hours=18, minutes=47)
    stamp = shifted.replace(tzinfo=None).isoformat() + "+18:47"
    r = client.get("/api/reports/", {"created_before": stamp})
    assert r.status_code == 200 and {f["id"] for f in r.json()["features"]} == set(made.values())
    r = client.get("/api/reports/", {"created_after": stamp})
    assert r.status_code == 200 and r.json()["features"] == []
    r = client.get("/api/reports/", {"created_after": "0001-01-01T00:00:00+07:00"})  # before year 1 in UTC
    assert r.status_code == 400 and "out of range" in r.json()["detail"]
    assert Report.objects.count() == 3  # the test's transaction is still usable: nothing reached the database


@pytest.mark.parametrize(
    "query",
    [
        "?point=abc&dist=5",
        "?point=106.6,-6.1&dist=-1",
        "?point=106.6,-6.1&dist=nan",
        "?status=nope",
        "?created_after=yesterday",
        "?in_bbox=1,2,3",
    ],
)
def test_list_bad_query_is_400(client, query):
    assert client.get("/api/reports/" + query).status_code == 400


def test_personal_data_only_for_operators(client, planner, operator):
    _seed(client)
    client.force_authenticate(planner)
    props = client.get("/api/reports/").json()["features"][0]["properties"]
    assert "reporter_phone" not in props
    client.force_authenticate(operator)
    props = client.get("/api/reports/").json()["features"][0]["properties"]
    assert props["reporter_name"] == "Siti Aminah"


# --- operator actions -------------------------------------------------------------------------


def test_operator_changes_status_merges_and_recategorises(client, operator):
    made = _seed(client)
    a = made[("Sukarasa", "banjir")]
    assert client.post(f"/api/reports/{a}/status/", {"status": "dispatched"}, format="json").status_code == 403
    client.force_authenticate(operator)
    r = client.post(f"/api/reports/{a}/status/", {"status": "closed"}, format="json")
    assert r.status_code == 409 and "cannot become closed" in r.json()["detail"]
    r = client.post(f"/api/reports/{a}/status/", {"status": "dispatched", "note": "ke BPBD"}, format="json")
    assert r.status_code == 200 and r.json()["properties"]["status"] == "dispatched"
    r = client.post(f"/api/reports/{a}/recategorise/", {"category": "genangan-saluran-tersumbat"}, format="json")
    assert r.json()["properties"]["opd"] == "dbmsda" and r.json()["properties"]["status"] == "routed"
    b = post_json(client, body(category="genangan-saluran-tersumbat")).json()["id"]
    detail = client.get(f"/api/reports/{b}/").json()["properties"]
    assert [d["original"] for d in detail["likely_duplicates"]] == [a]
    r = client.post(f"/api/reports/{b}/merge/", {"original": a}, format="json")
    assert r.status_code == 200 and r.json()["properties"]["status"] == "duplicate"
    assert r.json()["properties"]["duplicate_of"] == a
    assert Report.objects.get(public_id=b).status == Status.DUPLICATE
    assert client.post(f"/api/reports/{b}/merge/", {"original": "NOPE"}, format="json").status_code == 400


def test_unknown_public_id_is_404(client):
    assert client.get("/r/NOPE123").status_code == 404
    assert client.get("/r/NOPE123.json").status_code == 404
    assert client.get("/api/reports/NOPE123/").status_code == 404


def test_categories_list(client):
    cats = {c["code"]: c["opd"] for c in client.get("/api/categories/").json()}
    assert cats["kamar-bersalin"] == "dinkes" and cats["gangguan-keamanan-ketertiban"] == "satpolpp"
