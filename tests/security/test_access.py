"""Nobody let in where they do not belong.

A permission matrix (one row per endpoint, one expectation per role: anonymous, citizen,
supervisor of one OPD, supervisor of another, operator, planner, GIS staff, admin) run through
Django's whole request stack; device tokens that are revoked or re-issued stop working at once;
no password or token reaches a log line; anonymous intake is rate-limited; the production
settings pass `manage.py check --deploy`.
"""

from __future__ import annotations

import base64
import io
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client
from rest_framework.test import APIClient

from tests.console.conftest import CIPONDOH_PT, make_field_supervisor, make_user

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]

ANON, CITIZEN, SUP_A, SUP_B, OPERATOR, PLANNER, GIS, ADMIN = (
    "anonymous",
    "citizen",
    "supervisor_a",
    "supervisor_b",
    "operator",
    "planner",
    "gis_staff",
    "admin",
)
ROLES = (ANON, CITIZEN, SUP_A, SUP_B, OPERATOR, PLANNER, GIS, ADMIN)
EVERYONE = set(ROLES)
SIGNED_IN = EVERYONE - {ANON}
OPS = {OPERATOR, ADMIN}
WATCH = {OPERATOR, PLANNER, ADMIN}  # the live picture (also the leadership group)
PLAN = {PLANNER, GIS, ADMIN}  # planners and staff (GIS staff are staff: they use the admin)
SUPS = {SUP_A, SUP_B}
STAFF = {GIS, ADMIN}

# (method, path, who may) -- {report}, {order}, {facility} are filled in; the order is supervisor A's.
MATRIX: list[tuple[str, str, set[str]]] = [
    # public: citizens, Open311 clients, the boundaries
    ("GET", "/api/kecamatan/", EVERYONE),
    ("GET", "/api/kecamatan/36.71.05/", EVERYONE),
    ("GET", "/api/kelurahan/", EVERYONE),
    ("GET", "/api/kelurahan/{kelurahan}/", EVERYONE),
    ("GET", "/api/boundaries/lookup/?lat=-6.1862&lon=106.6830", EVERYONE),
    ("GET", "/api/categories/", EVERYONE),
    ("GET", "/api/reports/", EVERYONE),
    ("POST", "/api/reports/", EVERYONE),
    ("GET", "/api/reports/{report}/", EVERYONE),
    ("GET", "/r/{report}.json", EVERYONE),
    ("GET", "/r/{report}", EVERYONE),
    ("GET", "/open311/v2/services.json", EVERYONE),
    ("GET", "/open311/v2/requests.json", EVERYONE),
    ("GET", "/lapor/", EVERYONE),
    # operators: reports
    ("POST", "/api/reports/{report}/status/", OPS),
    ("POST", "/api/reports/{report}/recategorise/", OPS),
    ("POST", "/api/reports/{report}/merge/", OPS),
    ("POST", "/api/reports/{report}/notes/", OPS),
    ("GET", "/api/social/triage/", OPS),
    ("POST", "/api/social/triage/999999/report/", OPS),
    ("POST", "/api/social/triage/999999/dismiss/", OPS),
    # operators: dispatch
    ("GET", "/api/reports/{report}/dispatch/", OPS),
    ("POST", "/api/reports/{report}/dispatch/", OPS),
    ("POST", "/api/reports/{report}/reassign/", OPS),
    ("POST", "/api/reports/{report}/cancel/", OPS),
    ("POST", "/api/reports/{report}/refer/", OPS),
    ("POST", "/api/reports/{report}/room/", OPS),
    ("GET", "/api/dispatch/queue/", OPS),
    ("GET", "/api/orders/", OPS),
    ("GET", "/api/orders/{order}/steps/", OPS),
    ("POST", "/api/room-holds/999999/confirm/", OPS),
    ("POST", "/api/room-holds/999999/release/", OPS),
    # facilities
    ("GET", "/api/facilities/", SIGNED_IN),
    ("POST", "/api/facilities/{facility}/rooms/", {ADMIN}),
    # statistics (incidents.view_report: operators, planners, supervisors, admins)
    ("GET", "/api/stats/response-times/", {OPERATOR, PLANNER, SUP_A, SUP_B, ADMIN}),
    ("GET", "/api/planning/stats/", PLAN),
    ("GET", "/api/planning/export/?format=csv", PLAN),
    ("GET", "/planning/", PLAN),
    # tracking (a supervisor sees only themself)
    ("GET", "/api/tracking/supervisors/", {OPERATOR, ADMIN, SUP_A, SUP_B}),
    ("GET", "/api/tracking/attendance/", {OPERATOR, PLANNER, ADMIN, SUP_A, SUP_B}),
    ("POST", "/api/tracking/pings/", SUPS),  # the field app, with the session (device tokens: below)
    # a supervisor's phone: their own orders only
    ("GET", "/api/my/orders/", SUPS),
    ("POST", "/api/my/orders/{order}/acknowledge/", {SUP_A}),
    ("POST", "/api/my/orders/{order}/decline/", {SUP_A}),
    ("POST", "/api/my/orders/{order}/en-route/", {SUP_A}),
    ("POST", "/api/my/orders/{order}/on-site/", {SUP_A}),
    ("POST", "/api/my/orders/{order}/hand/", {SUP_A}),
    ("POST", "/api/my/orders/{order}/notes/", {SUP_A}),
    ("POST", "/api/my/orders/{order}/resolve/", {SUP_A}),
    # console (LIVE Room), leadership, the field app
    ("GET", "/console/", OPS),
    ("GET", "/console/leadership/", WATCH),
    ("GET", "/console/api/reports/", WATCH),
    ("GET", "/console/api/supervisors/", WATCH),
    ("GET", "/console/api/cameras/", WATCH),
    ("GET", "/console/api/today/", WATCH),
    ("GET", "/console/api/reports/{report}/candidates/", OPS),
    ("GET", "/field/", SUPS),
    ("GET", "/field/api/me/", SUPS),
    ("POST", "/field/api/shift/", SUPS),
    # administration
    ("GET", "/admin/", STAFF),
    ("GET", "/admin/kecamatan_boundaries/generation/upload/", STAFF),
    ("GET", "/admin/auth/user/", {ADMIN}),
    ("GET", "/admin/tracking/device/", {ADMIN}),
]


def is_page(path: str) -> bool:
    return not any(path.startswith(p) for p in ("/api/", "/console/api/", "/field/api/", "/r/", "/open311/"))


@pytest.fixture
def world(city):
    """One user per role, a report dispatched to supervisor A (an order), a facility."""
    from django.contrib.auth.models import Group, User
    from django.contrib.gis.geos import Point

    from dispatch.dispatcher import offer
    from dispatch.models import Facility, Order
    from incidents.bootstrap import bootstrap
    from incidents.intake import ReportInput, submit_report

    bootstrap(log=lambda m: None)
    cache.clear()
    sup_a = make_field_supervisor("sup-a", "Pengawas A", opd="dishub")
    sup_b = make_field_supervisor("sup-b", "Pengawas B", opd="dbmsda")
    gis = make_user("gis", "gis_staff")
    gis.is_staff = True
    gis.save()
    Group.objects.get(name="gis_staff")
    users = {
        ANON: None,
        CITIZEN: make_user("warga", "citizen"),
        SUP_A: sup_a.user,
        SUP_B: sup_b.user,
        OPERATOR: make_user("operator", "operator"),
        PLANNER: make_user("planner", "planner"),
        GIS: gis,
        ADMIN: User.objects.create_superuser("admin", password="x-long-password-1"),
    }
    report = submit_report(
        ReportInput(category="kemacetan", description="macet", location=Point(*CIPONDOH_PT, srid=4326))
    ).report
    report.refresh_from_db()
    order = Order.objects.filter(report=report).first() or offer(
        report, sup_a.pk, decision=None, distance_m=None, actor="test"
    )
    facility = Facility.objects.create(
        code="rsud", name="RSUD Kota Tangerang", location=Point(*CIPONDOH_PT, srid=4326), maternity_rooms=2
    )
    from kecamatan_boundaries.models import Kelurahan

    kel = Kelurahan.objects.filter(generation__active=True).order_by("code").first().code
    return {"users": users, "report": report.public_id, "order": order.pk, "facility": facility.pk, "kelurahan": kel}


# Valid bodies where a view reads the body before it looks at whose order it is (so a refusal
# must come from the ownership check, not from a missing field).
BODIES = {"decline/": {"reason": "jauh"}, "notes/": {"note": "catatan"}, "hand/": {"field_staff": 1}}


def call(clients: dict, role: str, method: str, path: str):
    if method == "GET":
        return clients[role].get(path)
    body = next((b for end, b in BODIES.items() if path.endswith(end)), {})
    return clients[role].post(path, body, content_type="application/json")


def test_permission_matrix(world):
    """Every row of MATRIX, for every role: allowed (not 401/403; pages answer 200) or denied
    (401/403; pages redirect to sign in or answer 403). One world, each call in a savepoint."""
    from django.db import transaction

    clients = {}
    for role, user in world["users"].items():
        clients[role] = Client()
        if user is not None:
            clients[role].force_login(user)
    wrong, checked = [], 0
    for method, template, allowed in MATRIX:
        path = template.format(**{k: world[k] for k in ("report", "order", "facility", "kelurahan")})
        for role in ROLES:
            cache.clear()  # the anonymous rate limit is not what is tested here
            sid = transaction.savepoint()  # each role meets the same world (an allowed action changes it)
            r = call(clients, role, method, path)
            transaction.savepoint_rollback(sid)
            checked += 1
            if is_page(path):
                granted = r.status_code == 200
                refused = r.status_code in (302, 401, 403)
            else:
                granted = r.status_code not in (401, 403) and r.status_code < 500
                refused = r.status_code in (401, 403)
            if r.status_code >= 500 or (role in allowed and not granted) or (role not in allowed and not refused):
                expected = "allowed" if role in allowed else "denied"
                wrong.append(f"{method} {path} as {role}: {r.status_code} (expected {expected})")
    assert checked == len(MATRIX) * len(ROLES)
    assert not wrong, "\n".join(wrong)


def test_the_matrix_covers_every_api_operation():
    """A new endpoint must get its row here (the schema is the list of operations)."""
    import re

    from drf_spectacular.generators import SchemaGenerator

    spec = SchemaGenerator().get_schema(request=None, public=True)
    device_only = {"/tracking/osmand/", "/tracking/owntracks/"}  # token tests below
    webhooks = {"/api/social/twitter/", "/api/social/facebook/"}  # signed by the platform, tested in incidents

    def norm(path: str) -> str:
        parts = path.split("?")[0].split("/")
        return "/".join(
            "{}" if re.fullmatch(r"\d+|[\d.]{5,}|\{\w+\}", x) else re.sub(r"^\{\w+\}", "{}", x) for x in parts
        )

    rows = {(m, norm(p)) for m, p, _ in MATRIX}
    missing = []
    for path, ops in spec["paths"].items():
        if path in device_only | webhooks:
            continue
        key = norm(path)
        for method in ops:
            if method.upper() in ("GET", "POST") and (method.upper(), key) not in rows:
                missing.append(f"{method.upper()} {path}")
    assert not missing, missing


# --- device tokens ----------------------------------------------------------------------------------------------
def test_device_tokens_are_revocable_and_reissued_tokens_replace_old_ones(world):
    from tracking.models import Device, Supervisor

    sup = Supervisor.objects.get(name="Pengawas A")
    device = Device(supervisor=sup, device_id="hp-a")
    token = device.issue_token()
    device.save()
    c = APIClient()
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_X_DEVICE_ID": "hp-a"}
    fix = {"lat": CIPONDOH_PT[1], "lon": CIPONDOH_PT[0], "accuracy": 5}

    def ping(creds, **extra):
        from django.utils import timezone

        return c.post(
            "/api/tracking/pings/", {**fix, "time": timezone.now().isoformat(), **extra}, format="json", **creds
        )

    assert ping(bearer).status_code == 200
    assert c.get("/api/my/orders/", **bearer).status_code == 200
    assert c.get(
        "/tracking/osmand/", {"id": "hp-a", "token": token, "lat": fix["lat"], "lon": fix["lon"]}
    ).status_code in (200, 400)
    device.revoke()
    assert ping(bearer).status_code == 403
    assert c.get("/api/my/orders/", **bearer).status_code in (401, 403)
    osm = c.get("/tracking/osmand/", {"id": "hp-a", "token": token, "lat": fix["lat"], "lon": fix["lon"]})
    assert osm.status_code == 403
    basic = base64.b64encode(f"hp-a:{token}".encode()).decode()
    assert (
        c.post(
            "/tracking/owntracks/",
            {"_type": "location", "lat": fix["lat"], "lon": fix["lon"], "tst": 1},
            format="json",
            HTTP_AUTHORIZATION=f"Basic {basic}",
        ).status_code
        == 403
    )

    device.revoked_at = None
    new = device.issue_token()
    device.save()
    assert ping(bearer).status_code == 401  # the old token is gone
    assert ping({"HTTP_AUTHORIZATION": f"Bearer {new}", "HTTP_X_DEVICE_ID": "hp-a"}).status_code == 200
    assert ping({"HTTP_AUTHORIZATION": f"Bearer {new}", "HTTP_X_DEVICE_ID": "dev-other"}).status_code in (401, 404)


# --- nothing secret in the logs -------------------------------------------------------------------------------------
def test_no_password_or_token_is_written_to_a_log(world, settings):
    """Run authenticated requests of every kind (including failing ones, which log the path) and
    read everything the configured log handlers wrote."""
    from incidents.models import Open311Client
    from tracking.models import Device, Supervisor

    settings.DEBUG = False
    password = "S3cret-Pass-" + secrets.token_hex(6)
    make_user("logged-op", "operator").set_password(password)
    from django.contrib.auth.models import User

    u = User.objects.get(username="logged-op")
    u.set_password(password)
    u.save()
    sup = Supervisor.objects.get(name="Pengawas A")
    device = Device(supervisor=sup, device_id="hp-log")
    token = device.issue_token()
    device.save()
    api_key = secrets.token_hex(12)
    try:
        Open311Client.objects.create(name="log-test", api_key=api_key)
    except (TypeError, ValueError):
        api_key = "no-open311-key-" + secrets.token_hex(6)

    buf = io.StringIO()
    handlers = {
        h for name in ("", "django", "django.request", "django.server") for h in logging.getLogger(name).handlers
    }
    streams = []
    for h in handlers:
        if isinstance(h, logging.StreamHandler):
            streams.append((h, h.setStream(buf)))
    assert streams, "the LOGGING config has a stream handler"
    root_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    try:
        c = Client()
        basic = "Basic " + base64.b64encode(f"logged-op:{password}".encode()).decode()
        c.get("/api/dispatch/queue/", HTTP_AUTHORIZATION=basic)
        c.get(
            "/api/dispatch/queue/",
            HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"logged-op:{password}x".encode()).decode(),
        )
        c.post("/console/login/", {"username": "logged-op", "password": password})
        c.post("/console/login/", {"username": "logged-op", "password": password + "wrong"})
        c.post("/admin/login/", {"username": "logged-op", "password": password})
        c.get("/tracking/osmand/", {"id": "hp-log", "token": token, "lat": "-6.18", "lon": "106.68"})
        c.get("/tracking/osmand/", {"id": "hp-log", "token": token, "lat": "999"})  # a 400 logs the path
        c.get("/tracking/osmand/", {"id": "nobody", "token": token})  # 404
        c.post(
            "/api/tracking/pings/",
            {"lat": 1},
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_X_DEVICE_ID="hp-log",
        )
        c.get("/api/my/orders/", HTTP_AUTHORIZATION=f"Bearer {token}x", HTTP_X_DEVICE_ID="hp-log")  # 401
        c.post("/open311/v2/requests.json", {"api_key": api_key, "service_code": "nope"})
        c.get(f"/open311/v2/requests.json?api_key={api_key}&service_code=nope")
        logging.getLogger("django.request").warning("Bad request: /x/?token=%s&api_key=%s", token, api_key)
    finally:
        logging.getLogger().setLevel(root_level)
        for h, old in streams:
            h.setStream(old)
    text = buf.getvalue()
    assert "/tracking/osmand/" in text or "Not Found" in text or "Bad Request" in text, text[:500]  # logs were captured
    for secret in (password, token, api_key):
        assert secret not in text, f"a secret reached the log:\n{text}"


# --- rate limits on anonymous intake -----------------------------------------------------------------------------
def test_anonymous_report_intake_is_rate_limited_but_a_retry_gets_its_answer(world, settings):
    settings.INCIDENTS_ANON_RATE = "3/hour"
    from incidents.models import Report

    cache.clear()
    before = Report.objects.filter(client_ref="anon").count()
    c = APIClient()
    body = {"category": "banjir", "lat": CIPONDOH_PT[1], "lon": CIPONDOH_PT[0], "description": "banjir"}
    answers = [c.post("/api/reports/", body, format="json", HTTP_IDEMPOTENCY_KEY=f"k{i}").status_code for i in range(5)]
    assert answers[:3] == [201, 201, 201] and answers[3:] == [429, 429]
    assert c.post("/api/reports/", body, format="json", HTTP_IDEMPOTENCY_KEY="k0").status_code == 200  # the replay
    assert Report.objects.filter(client_ref="anon").count() == before + 3
    signed = APIClient()
    signed.force_authenticate(world["users"][CITIZEN])
    assert signed.post("/api/reports/", body, format="json").status_code == 201  # per client, not global


# --- production settings -----------------------------------------------------------------------------------------
ACCEPTED_DEPLOY_WARNINGS = {
    "security.W005",  # HSTS for subdomains: the city's other sites decide for themselves
    "security.W008",  # SSL redirect: nginx redirects port 80 to HTTPS (deploy/nginx-geoapp.conf)
    "security.W021",  # HSTS preload: a policy decision for the city's domain
}


def test_production_settings_pass_check_deploy():
    env = dict(os.environ, DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="live.example.org")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    import re

    found = set(re.findall(r"\((security\.[EW]\d+)\)", text))
    assert found <= ACCEPTED_DEPLOY_WARNINGS, text
    assert "nginx" not in found
    code = (
        "from django.conf import settings as s;"
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_CONTENT_TYPE_NOSNIFF,"
        " s.SECURE_HSTS_SECONDS > 0, s.X_FRAME_OPTIONS)"
    )
    shown = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert shown.stdout.strip().splitlines()[-1].split() == ["False", "True", "True", "True", "True", "DENY"], (
        shown.stdout + shown.stderr
    )
    nginx = (ROOT / "deploy" / "nginx-geoapp.conf").read_text()
    assert "return 301 https://" in nginx


def test_without_a_secret_key_production_refuses_to_start():
    env = dict(os.environ, DEBUG="0", SECRET_KEY="")
    out = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "SECRET_KEY" in out.stderr
