"""Hostile input: fuzzed pings in every protocol, oversized bodies, SQL injection in every filter,
script in every text the console shows, crafted cookies, and hostile boundary archives.

Every bad input gets a 4xx (never a 500) and changes nothing it should not."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.console.conftest import make_field_supervisor, make_user
from tests.tracking.conftest import CIPONDOH, make_supervisor

pytestmark = pytest.mark.django_db

FUZZ = hsettings(
    max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
)
SCRIPT = '<script>alert("x")</script><img src=x onerror=alert(1)>'
SQLI = [
    "' OR '1'='1",
    "1; DROP TABLE incidents_report; --",
    "' UNION SELECT username, password FROM auth_user --",
    "%' AND pg_sleep(0) IS NULL --",
    "36.71.05') OR ('a'='a",
    "\\'; SELECT 1; --",
]


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def world(city):
    from incidents.bootstrap import bootstrap

    bootstrap(log=lambda m: None)


def stored_pings() -> int:
    from tracking.models import Ping

    return Ping.objects.count()


# --- pings: every protocol, fuzzed -----------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
PING_KEYS = ["time", "lat", "lon", "accuracy", "speed", "heading", "altitude", "battery", "mock"]
ping_like = st.fixed_dictionaries({}, optional={k: json_values for k in PING_KEYS})
native_bodies = st.one_of(
    json_values,
    ping_like,
    st.fixed_dictionaries({"pings": st.lists(ping_like, max_size=5)}),
    st.fixed_dictionaries({"pings": json_values, "device_id": json_values}),
)
OWNTRACKS_KEYS = ["_type", "lat", "lon", "tst", "acc", "vel", "cog", "alt", "batt", "mock"]
owntracks_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"_type": st.sampled_from(["location", "transition", "waypoint", "x"]) | json_values},
        optional={k: json_values for k in OWNTRACKS_KEYS[1:]},
    ),
)
OSMAND_KEYS = ["timestamp", "lat", "lon", "speed", "bearing", "altitude", "accuracy", "batt", "mock", "hdop"]
query_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=40) | st.sampled_from(
    ["nan", "inf", "-inf", "1e309", "0", "-91", "181", "2099-01-01T00:00:00Z", "-1", "9" * 30]
)
osmand_params = st.fixed_dictionaries({}, optional={k: query_text for k in OSMAND_KEYS})


def test_native_pings_fuzzed_never_500(city):
    sup = make_supervisor()
    c = APIClient()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {sup.token}", "HTTP_X_DEVICE_ID": sup.device.device_id}

    @FUZZ
    @given(body=native_bodies)
    def run(body):
        r = c.post("/api/tracking/pings/", json.dumps(body, allow_nan=True), content_type="application/json", **auth)
        assert r.status_code < 500, (body, r.status_code, r.content[:300])

    run()


def test_osmand_pings_fuzzed_never_500(city):
    sup = make_supervisor()
    c = APIClient()

    @FUZZ
    @given(params=osmand_params, post=st.booleans())
    def run(params, post):
        q = {"id": sup.device.device_id, "token": sup.token, **params}
        r = c.post("/tracking/osmand/", q) if post else c.get("/tracking/osmand/", q)
        assert r.status_code < 500, (q, r.status_code, r.content[:300])

    run()


def test_owntracks_pings_fuzzed_never_500(city):
    import base64

    sup = make_supervisor()
    c = APIClient()
    auth = "Basic " + base64.b64encode(f"{sup.device.device_id}:{sup.token}".encode()).decode()

    @FUZZ
    @given(body=owntracks_bodies)
    def run(body):
        r = c.post(
            "/tracking/owntracks/",
            json.dumps(body, allow_nan=True),
            content_type="application/json",
            HTTP_AUTHORIZATION=auth,
        )
        assert r.status_code < 500, (body, r.status_code, r.content[:300])

    run()


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"\x00\xff\xfe", b'{"pings": [' + b"[" * 5000 + b"]" * 5000 + b"]}", "ü".encode("latin-1"), b"[]"],
)
def test_malformed_ping_bodies_are_400(city, raw):
    sup = make_supervisor()
    r = APIClient().post(
        "/api/tracking/pings/",
        raw,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {sup.token}",
        HTTP_X_DEVICE_ID=sup.device.device_id,
    )
    assert 400 <= r.status_code < 500 and stored_pings() == 0


# --- oversized bodies ---------------------------------------------------------------------------------------
def test_a_batch_over_the_limit_is_413_and_nothing_stored(city, settings):
    settings.TRACKING_MAX_BATCH = 50
    sup = make_supervisor()
    t = datetime.now(UTC) - timedelta(minutes=30)
    pings = [
        {"time": (t + timedelta(seconds=10 * i)).isoformat(), "lat": CIPONDOH[1], "lon": CIPONDOH[0]} for i in range(51)
    ]
    r = APIClient().post(
        "/api/tracking/pings/",
        {"pings": pings},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {sup.token}",
        HTTP_X_DEVICE_ID=sup.device.device_id,
    )
    assert r.status_code == 413 and stored_pings() == 0


def test_a_body_over_the_upload_limit_is_refused_not_500(world, settings):
    from incidents.models import Report

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    big = {"category": "banjir", "lat": CIPONDOH[1], "lon": CIPONDOH[0], "description": "x" * (200 * 1024)}
    r = APIClient().post("/api/reports/", big, format="json")
    assert r.status_code in (400, 413) and Report.objects.count() == 0
    sup = make_supervisor()
    r = APIClient().post(
        "/api/tracking/pings/",
        json.dumps({"pings": [{"pad": "y" * 100_000}]}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {sup.token}",
        HTTP_X_DEVICE_ID=sup.device.device_id,
    )
    assert r.status_code in (400, 413)


def test_a_description_over_the_limit_is_400(world):
    from incidents.models import Report

    r = APIClient().post(
        "/api/reports/",
        {"category": "banjir", "lat": CIPONDOH[1], "lon": CIPONDOH[0], "description": "x" * 2001},
        format="json",
    )
    assert r.status_code == 400 and "description" in r.json() and Report.objects.count() == 0


# --- crafted cookies and headers ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/console/api/reports/", "/api/reports/", "/console/", "/healthz"])
def test_a_session_cookie_with_a_nul_byte_is_not_a_server_error(world, client, path):
    client.cookies["sessionid"] = "abcdefgh\x00ijklmnop"
    r = client.get(path)
    assert r.status_code < 500


@pytest.mark.parametrize("header", ["Bearer \x00\x00", "Basic %%%", "Basic " + "QQ==" * 3, "Bearer " + "a" * 5000])
def test_garbage_authorization_headers_are_4xx(world, header):
    c = APIClient()
    for path in ("/api/my/orders/", "/api/tracking/pings/", "/api/reports/"):
        r = c.get(path, HTTP_AUTHORIZATION=header, HTTP_X_DEVICE_ID="dev-\x00")
        assert r.status_code < 500, (path, header[:20], r.status_code)


# --- SQL injection in every filter of every list endpoint ------------------------------------------------------
def list_operations() -> list[tuple[str, list[str]]]:
    """(path, query parameter names) of every GET operation without path parameters, from our schema."""
    from drf_spectacular.generators import SchemaGenerator

    spec = SchemaGenerator().get_schema(request=None, public=True)
    out = []
    for path, ops in spec["paths"].items():
        get = ops.get("get")
        if not get or "{" in path:
            continue
        names = [p["name"] for p in get.get("parameters", []) if p["in"] == "query"]
        if names:
            out.append((path, names))
    return out


def test_sql_injection_in_every_filter_is_harmless(world, settings):
    from django.contrib.auth.models import User

    from incidents.models import Report

    settings.INCIDENTS_TWITTER_CONSUMER_SECRET = "sqli-secret"  # unset, the webhook answers 503 by design
    admin = User.objects.create_superuser("sqli-admin", password="x-long-password-1")
    c = APIClient()
    c.force_authenticate(admin)
    c.post(
        "/api/reports/",
        {"category": "banjir", "lat": CIPONDOH[1], "lon": CIPONDOH[0], "description": "ada"},
        format="json",
    )
    ops = list_operations()
    assert len(ops) >= 15, ops  # the schema lists the filters
    tried = 0
    for path, names in ops:
        if path.startswith("/api/planning/export"):
            names = [n for n in names if n != "format"]  # each export format is a file build: stats cover the filters
        for name in names:
            for payload in SQLI:
                r = c.get(path, {name: payload})
                tried += 1
                assert r.status_code < 500, (path, name, payload, r.status_code, r.content[:300])
                if r.status_code == 200 and path == "/api/reports/":
                    assert r.json()["count"] <= 1  # never widens the result
    assert Report.objects.count() == 1 and User.objects.filter(username="sqli-admin").exists()
    assert tried >= 15 * len(SQLI)


# --- script in every text the console shows ------------------------------------------------------------------
def test_script_in_every_shown_text_is_escaped(world, client):
    from django.contrib.gis.geos import Point

    from console.models import Camera
    from incidents.models import Report

    api = APIClient()
    r = api.post(
        "/api/reports/",
        {
            "category": "pohon-tumbang",
            "lat": CIPONDOH[1],
            "lon": CIPONDOH[0],
            "description": SCRIPT,
            "address": SCRIPT,
            "reporter_name": SCRIPT,
        },
        format="json",
    )
    assert r.status_code == 201, r.content
    public_id = r.json()["id"]
    assert Report.objects.get(public_id=public_id).description == SCRIPT  # stored as sent
    make_field_supervisor("sup-xss", SCRIPT)
    from incidents.models import OPD

    Camera.objects.create(
        code="cam-xss",
        name=SCRIPT,
        direction=SCRIPT,
        location=Point(*CIPONDOH, srid=4326),
        opd=OPD.objects.get(code="dishub"),
    )
    op = make_user("op-xss", "operator")
    client.force_login(op)
    api.force_authenticate(op)
    note = api.post(f"/api/reports/{public_id}/notes/", {"note": SCRIPT}, format="json")
    assert note.status_code < 500

    for page in ("/console/", "/console/leadership/", f"/r/{public_id}", "/lapor/"):
        html = client.get(page).content.decode()
        assert "<script>alert" not in html and "onerror=alert" not in html.replace("onerror=alert(1)&gt;", ""), page
    for url in (
        "/console/api/reports/",
        f"/console/api/reports/{public_id}/candidates/",
        f"/api/reports/{public_id}/dispatch/",
        "/console/api/supervisors/",
        f"/console/api/cameras/?lat={CIPONDOH[1]}&lon={CIPONDOH[0]}&radius=1000",
        f"/r/{public_id}.json",
        f"/api/reports/{public_id}/",
    ):
        resp = client.get(url)
        assert resp.status_code == 200, url
        assert resp["Content-Type"].startswith("application/"), url  # data, never a page a browser renders
        json.loads(resp.content)
    client.logout()
    html = client.get(f"/r/{public_id}").content.decode()
    assert "&lt;script&gt;" in html or SCRIPT not in html


def test_console_scripts_put_text_into_the_page_as_text():
    """The console's JavaScript builds nodes with text (el(), textContent), never HTML strings, so a
    report's text cannot become markup (the server's JSON carries it as sent)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "console" / "static" / "console"
    for js in root.glob("*.js"):
        source = js.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, (js.name, sink)
        for call in ("setTooltipContent(", "setPopupContent(", "bindPopup("):
            for chunk in source.split(call)[1:]:
                arg = chunk.lstrip()
                assert arg.startswith(("el(", "this.", "()", "''", '""')), (js.name, call, arg[:40])


# --- boundary uploads through the admin page ---------------------------------------------------------------------
def zipped(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in entries:
            zf.writestr(info, data)
    buf.seek(0)
    buf.name = "upload.zip"
    return buf


def symlink_entry(name: str, target: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o120777 << 16  # a symbolic link
    info.create_system = 3
    return info, target.encode()


@pytest.mark.parametrize(
    "entries,message",
    [
        ([("bomb/a.shp", b"\0" * (3 * 1024 * 1024)), ("bomb/a.dbf", b"\0" * 1000)], "past the cap"),
        ([("/etc/geoapp-evil.shp", b"x")], "outside its folder"),
        ([("..\\..\\evil.shp", b"x")], ""),
        ([("a/../../evil.shp", b"x")], "outside its folder"),
        ([symlink_entry("a/link.shp", "/etc/passwd")], ""),
        ([(f"many/{i}.txt", b"") for i in range(60)], ""),
        ([("inner.zip", zipped([("x/a.shp", b"\0" * 1000)]).getvalue())], ""),
    ],
    ids=[
        "zip-bomb",
        "absolute-path",
        "backslash-traversal",
        "dot-dot-inside",
        "symlink",
        "too-many-entries",
        "nested-zip",
    ],
)
def test_hostile_boundary_archives_are_refused_on_the_upload_page(city, client, settings, tmp_path, entries, message):
    from django.contrib.auth.models import Permission, User

    from kecamatan_boundaries.models import Generation, Kecamatan

    settings.BOUNDARIES_MAX_UNZIPPED_BYTES = 1024 * 1024
    settings.BOUNDARIES_MAX_ZIP_ENTRIES = 50
    user = User.objects.create_user("gis-hostile", password="x-long-password-1", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="kecamatan_boundaries"))
    client.force_login(user)
    before = (Generation.objects.count(), Kecamatan.objects.count())
    r = client.post(
        "/admin/kecamatan_boundaries/generation/upload/",
        {"file": zipped(entries), "level": "kecamatan", "commit": "on"},
    )
    assert r.status_code == 400, r.status_code
    assert message in r.content.decode()
    assert (Generation.objects.count(), Kecamatan.objects.count()) == before
    assert not any(p.name.startswith("geoapp-evil") for p in __import__("pathlib").Path("/etc").iterdir())
