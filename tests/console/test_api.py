"""The APIs the console's pages use, without a browser: permissions on the server, CSRF, stale
updates, the CCTV radius, the operator's candidates, the field app's pings and orders (tracking's
and dispatch's endpoints, with the supervisor's session), and the live feed's catch-up."""

from __future__ import annotations

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.gis.geos import Point
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from incidents.models import Report

from .conftest import CIPONDOH_PT, KARAWACI_PT, PASSWORD, make_field_supervisor, make_user

pytestmark = pytest.mark.django_db(transaction=False)


def submit(point=KARAWACI_PT, category="kemacetan", description="macet"):
    from incidents.intake import ReportInput, submit_report

    return submit_report(
        ReportInput(category=category, description=description, location=Point(*point, srid=4326), client_ref="t")
    ).report


def client_for(user, csrf: bool = False) -> APIClient:
    c = APIClient(enforce_csrf_checks=csrf)
    c.force_login(user)
    return c


def test_roles_are_checked_on_the_server(world):
    report = submit()
    planner = make_user("plan", "planner")
    boss = make_user("boss", "leadership")
    sup = make_field_supervisor("sup1", "Sari")
    anon = APIClient()
    url = f"/api/reports/{report.public_id}/"
    # the operator's panel: the report's contact and timeline, its dispatch and its candidates
    for c in (anon, client_for(planner), client_for(sup.user)):
        props = c.get(url).json()["properties"]
        assert "reporter_phone" not in props and "timeline" not in props  # a planner sees no reporter data
        assert c.get(url + "dispatch/").status_code == 403
        assert c.get(f"/console/api/reports/{report.public_id}/candidates/").status_code == 403
    assert "reporter_phone" in client_for(make_user("op-panel", "operator")).get(url).json()["properties"]
    action = {"status": "rejected", "note": "spam", "version": report.updated_at.isoformat()}
    for user in (planner, boss, sup.user):
        assert client_for(user).post(url + "status/", action, format="json").status_code == 403
    # leadership and planners see the read-only map, without personal data
    data = client_for(boss).get("/console/api/reports/").json()
    assert data["features"][0]["id"] == report.public_id
    assert "reporter_phone" not in data["features"][0]
    assert client_for(planner).get("/console/api/today/").json()["reports_today"] == 1
    # a supervisor's orders are theirs only; an operator has no supervisor record
    assert client_for(make_user("op", "operator")).get("/api/my/orders/").status_code == 403


def test_every_change_needs_the_csrf_token(world, operator):
    report = submit()
    c = client_for(operator, csrf=True)
    body = {"status": "rejected", "note": "spam", "version": report.updated_at.isoformat()}
    refused = c.post(f"/api/reports/{report.public_id}/status/", body, format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    page = c.get("/console/")
    token = page.cookies["csrftoken"].value
    ok = c.post(f"/api/reports/{report.public_id}/status/", body, format="json", HTTP_X_CSRFTOKEN=token)
    assert ok.status_code == 200, ok.content
    assert ok.json()["properties"]["status"] == "rejected"


def test_stale_update_is_refused_with_who_and_nothing_saved(world, operator):
    report = submit()
    c = client_for(operator)
    url = f"/api/reports/{report.public_id}/"
    seen = c.get(url).json()["properties"]["version"]
    other = client_for(make_user("op2", "operator"))
    moved = other.post(url + "recategorise/", {"category": "lampu-lalu-lintas-mati", "version": seen}, format="json")
    assert moved.status_code == 200
    late = c.post(url + "status/", {"status": "rejected", "note": "spam", "version": seen}, format="json")
    assert late.status_code == 409
    assert "op2" in late.json()["detail"] or "dispatch" in late.json()["detail"]
    # every operator action checks the report's version the same way, dispatch's too
    for action, body in [
        ("notes/", {"note": "catatan"}),
        ("merge/", {"original": submit(CIPONDOH_PT).public_id}),
        ("dispatch/", {}),
        ("reassign/", {"reason": "lebih dekat"}),
        ("cancel/", {"reason": "salah kirim"}),
        ("refer/", {"reason": "bukan wewenang", "outside": "Polres"}),
    ]:
        r = c.post(url + action, {**body, "version": seen}, format="json")
        assert r.status_code == 409 and "op2" in r.json()["detail"], (action, r.content)
    report.refresh_from_db()
    assert report.status != "rejected"
    assert report.category.code == "lampu-lalu-lintas-mati"
    assert not report.events.filter(note="catatan").exists()
    fresh = c.get(url).json()["properties"]["version"]
    assert c.post(url + "notes/", {"note": "catatan", "version": fresh}, format="json").status_code == 200


def test_bad_input_gets_a_message(world, operator):
    report = submit()
    c = client_for(operator)
    url = f"/api/reports/{report.public_id}/"
    version = report.updated_at.isoformat()
    assert c.post(url + "explode/", {"version": version}, format="json").status_code == 404  # no such action
    assert c.post(url + "status/", {"status": "rejected", "version": version}, format="json").json()["note"]
    assert c.post(url + "notes/", {"note": " ", "version": version}, format="json").json()["note"]
    assert c.post(url + "dispatch/", {"supervisor": "x", "version": version}, format="json").status_code == 400
    bad_version = {"status": "rejected", "note": "x", "version": "x"}
    assert c.post(url + "status/", bad_version, format="json").json()["version"]  # not a version
    assert c.post(url + "notes/", {"note": "x"}, format="json").status_code == 200  # no version: applies as it is
    assert c.get("/console/api/reports/?since=yesterday").status_code == 400
    assert c.get("/console/api/cameras/?lat=abc&lon=1").status_code == 400
    assert c.get("/api/kelurahan/provinsi/").status_code == 404
    assert c.get("/api/reports/NOPE/").status_code == 404
    assert c.get("/console/api/reports/NOPE/candidates/").status_code == 404


def test_cameras_within_a_radius_in_metres(world, operator):
    from console.models import Camera
    from incidents.models import OPD

    dishub = OPD.objects.get(code="dishub")
    lon, lat = KARAWACI_PT
    # ~0.0027 degrees of latitude is ~300 m; ~0.009 is ~1 km
    Camera.objects.create(code="near", name="Dekat", location=Point(lon, lat + 0.0027, srid=4326), opd=dishub)
    Camera.objects.create(code="far", name="Jauh", location=Point(lon, lat + 0.009, srid=4326), opd=dishub)
    Camera.objects.create(code="off", name="Mati", location=Point(lon, lat, srid=4326), opd=dishub, active=False)
    c = client_for(operator)
    near = c.get(f"/console/api/cameras/?lat={lat}&lon={lon}&radius=500").json()["cameras"]
    assert [cam["code"] for cam in near] == ["near"]
    assert 290 < near[0]["distance_m"] < 310
    report = submit()  # the panel asks for the cameras near the report, within CONSOLE_CCTV_RADIUS_M
    r_lon, r_lat = c.get(f"/api/reports/{report.public_id}/").json()["geometry"]["coordinates"]
    nearby = c.get(f"/console/api/cameras/?lat={r_lat}&lon={r_lon}").json()["cameras"]
    assert [cam["code"] for cam in nearby] == ["near"]


def test_operator_panel_candidates_and_holder(world, operator, django_capture_on_commit_callbacks):
    sup = make_field_supervisor("sup-c", "Citra")
    c = client_for(operator)
    report = submit(CIPONDOH_PT)  # nobody has a fix yet: awaiting a supervisor
    cands = c.get(f"/console/api/reports/{report.public_id}/candidates/").json()["candidates"]
    assert sup.pk in [x["supervisor_id"] for x in cands]
    version = c.get(f"/api/reports/{report.public_id}/").json()["properties"]["version"]
    with django_capture_on_commit_callbacks(execute=True):
        r = c.post(
            f"/api/reports/{report.public_id}/dispatch/", {"supervisor": sup.pk, "version": version}, format="json"
        )
    assert r.status_code == 200, r.content
    assert r.json()["holder"] == {
        "order": r.json()["orders"][0]["id"],
        "supervisor": sup.pk,
        "name": "Citra",
        "state": "offered",
    }


def test_field_pings_are_stored_once_and_orders_are_the_supervisors_own(
    world, operator, django_capture_on_commit_callbacks
):
    from tracking.models import Device

    sup = make_field_supervisor("sup-a", "Agus")
    other = make_field_supervisor("sup-b", "Bambang")
    c = client_for(sup.user)
    now = timezone.now()
    pings = [
        {"time": (now - timedelta(seconds=30 - 10 * i)).isoformat(), "lat": CIPONDOH_PT[1], "lon": CIPONDOH_PT[0]}
        for i in range(3)
    ]
    # the field app uploads to tracking's endpoint with the supervisor's session
    first = c.post("/api/tracking/pings/", {"pings": pings}, format="json").json()
    again = c.post("/api/tracking/pings/", {"pings": pings}, format="json").json()  # the phone retried the batch
    assert first["stored"] == 3 and again["stored"] == 0 and again["duplicates"] == 3
    assert Device.objects.get(device_id=f"web-{sup.pk}").supervisor_id == sup.pk
    bad = c.post("/api/tracking/pings/", {"pings": [{"time": "x", "lat": 95, "lon": "abc"}]}, format="json")
    assert bad.status_code == 400 and bad.json()["rejected"]  # the device upload's answer: every ping was bad
    assert c.post("/api/tracking/pings/", {"pings": []}, format="json").status_code == 400
    without_csrf = client_for(sup.user, csrf=True).post("/api/tracking/pings/", {"pings": pings}, format="json")
    assert without_csrf.status_code == 403 and "CSRF" in without_csrf.json()["detail"]
    assert client_for(operator).post("/api/tracking/pings/", {"pings": pings}, format="json").status_code == 401
    assert c.post("/field/api/shift/", {"action": "start"}, format="json").json()["started_at"]
    assert c.get("/field/api/me/").json()["shift_started_at"]

    with django_capture_on_commit_callbacks(execute=True):
        report = submit(CIPONDOH_PT)  # Agus is on duty in Cipondoh: dispatch offers it to him
    mine = c.get("/api/my/orders/").json()
    assert [o["report"]["public_id"] for o in mine] == [report.public_id]
    assert client_for(other.user).get("/api/my/orders/").json() == []
    step = f"/api/my/orders/{mine[0]['id']}/acknowledge/"
    assert client_for(other.user).post(step).status_code == 403
    assert c.post(step).json()["state"] == "acknowledged"
    assert c.post(step).json()["state"] == "acknowledged"  # twice: idempotent
    assert c.post(f"/api/my/orders/{mine[0]['id']}/fly/").status_code == 404  # no such step

    Device.objects.filter(device_id=f"web-{sup.pk}").update(revoked_at=timezone.now())
    assert c.post("/api/tracking/pings/", {"pings": pings}, format="json").status_code == 403


@pytest.mark.django_db(transaction=True)  # the consumer reads from its own thread and connection
def test_live_feed_replays_what_a_reconnecting_console_missed(
    world, operator, settings, django_capture_on_commit_callbacks
):
    from console import live
    from geoapp.asgi import application

    settings.CONSOLE_LIVE_REPLAY_MAX = 50
    start = live.current_seq()
    with django_capture_on_commit_callbacks(execute=True):
        submit()
        submit()
    assert live.current_seq() > start

    async def connect(user, since):
        comm = WebsocketCommunicator(application, f"/ws/console/?since={since}")
        comm.scope["user"] = user
        ok, code = await comm.connect()
        messages = []
        if ok:
            while True:
                msg = await comm.receive_json_from(timeout=5)
                messages.append(msg)
                if msg["type"] == "hello":
                    break
            await comm.disconnect()
        return ok, code, messages

    ok, _code, messages = async_to_sync(connect)(operator, start)
    assert ok
    replayed = [m for m in messages if m["type"] == "event"]
    assert {m["key"] for m in replayed if m["kind"] == "report"} == set(
        Report.objects.values_list("public_id", flat=True)
    )
    assert [m["seq"] for m in replayed] == sorted(m["seq"] for m in replayed)
    settings.CONSOLE_LIVE_REPLAY_MAX = 1
    ok, _code, messages = async_to_sync(connect)(operator, start)
    assert messages[0]["type"] == "resync"
    settings.CONSOLE_LIVE_REPLAY_MAX = 50
    settings.CONSOLE_LIVE_KEEP_S = 0
    live.prune(timezone.now() + timedelta(seconds=1))  # a browser away longer than the log is kept
    ok, _code, messages = async_to_sync(connect)(operator, start)
    assert [m["type"] for m in messages] == ["resync", "hello"]
    ok, code, _ = async_to_sync(connect)(make_user("nobody", "citizen"), 0)
    assert not ok and code == 4403


def test_pages_are_indonesian_unless_english_is_chosen(world, operator):
    c = APIClient(HTTP_ACCEPT_LANGUAGE="en-US,en")
    page = c.get("/lapor/")
    assert page.status_code == 200 and b"Kirim laporan" in page.content and b'lang="id"' in page.content
    c.cookies["django_language"] = "en"
    assert b"Send report" in c.get("/lapor/").content
    assert APIClient().get("/console/").status_code == 302  # to the login page
    assert APIClient().get("/").headers["Location"] == "/console/"


@pytest.mark.django_db(transaction=True)  # the consumer reads from its own thread and connection
def test_a_connected_console_asks_for_events_dropped_on_the_way(world, operator, settings):
    """Under load the channel layer drops messages to a slow consumer; the browser sees the gap
    in the sequence and asks, on the open socket, for what it missed."""
    from console import live
    from geoapp.asgi import application

    settings.CONSOLE_LIVE_REPLAY_MAX = 50

    async def scenario():
        comm = WebsocketCommunicator(application, "/ws/console/")
        comm.scope["user"] = operator
        ok, _ = await comm.connect()
        assert ok
        hello = await comm.receive_json_from(timeout=5)
        assert hello["type"] == "hello"
        # Events logged while this consumer heard nothing of them (their push dropped on the way).
        await database_sync_to_async(_two_events_without_push)()
        await comm.send_json_to({"type": "catchup", "since": hello["seq"]})
        got = [await comm.receive_json_from(timeout=5) for _ in range(2)]
        await comm.send_json_to({"type": "catchup", "since": "x"})  # nonsense is ignored
        await comm.send_json_to({"type": "ping"})
        pong = await comm.receive_json_from(timeout=5)
        await comm.disconnect()
        return hello, got, pong

    def _two_events_without_push():
        from console.models import LiveEvent

        LiveEvent.objects.create(kind="report", key="DROPPED1", payload={"id": "DROPPED1"})
        LiveEvent.objects.create(kind="position", key="7", payload={"id": 7})

    hello, got, pong = async_to_sync(scenario)()
    assert [m["type"] for m in got] == ["event", "event"]
    assert all(m["seq"] > hello["seq"] for m in got)
    assert [(m["kind"], m["key"]) for m in got] == [("report", "DROPPED1"), ("position", "7")]
    assert pong["type"] == "pong"
    assert live.current_seq() >= max(m["seq"] for m in got)


@pytest.mark.django_db
def test_the_live_log_is_pruned_when_it_reaches_a_multiple_of_prune_every(monkeypatch, settings):
    from console import live
    from console.models import LiveEvent

    settings.CONSOLE_LIVE_KEEP_S = 0  # every logged event is already old enough to go
    monkeypatch.setattr(live, "PRUNE_EVERY", 10**9)
    live._send_many([("report", "A", {}), ("report", "B", {})])
    assert not LiveEvent.objects.filter(kind=live.PRUNED).exists()
    monkeypatch.setattr(live, "PRUNE_EVERY", 1)  # every id is a multiple: the next push prunes
    live._send_many([("report", "C", {})])
    assert LiveEvent.objects.filter(kind=live.PRUNED).exists()
    assert live.events_since(0) is None  # a browser that far behind reloads instead


@pytest.mark.parametrize(
    "roles, lands_on",
    [
        (("operator",), "/console/"),
        (("planner",), "/planning/"),
        (("leadership",), "/console/leadership/"),
        (("gis_staff",), "/admin/kecamatan_boundaries/generation/"),
        ((), "/lapor/"),
    ],
)
def test_signing_in_without_next_lands_on_the_roles_page(world, roles, lands_on):
    make_user("someone", *roles)
    c = Client()
    r = c.post("/console/login/", {"username": "someone", "password": PASSWORD})
    assert r.status_code == 302 and r["Location"] == lands_on
    assert c.get("/console/login/")["Location"] == lands_on  # signed in, the login page sends them on too


def test_a_field_supervisor_signing_in_lands_on_the_field_app(world):
    make_field_supervisor("budi-field", "Budi")
    r = Client().post("/console/login/", {"username": "budi-field", "password": PASSWORD})
    assert r.status_code == 302 and r["Location"] == "/field/"


def test_the_login_pages_language_switch_changes_the_language(world):
    c = Client()
    page = c.get("/console/login/").content.decode()
    assert 'name="language" value="en"' in page and "Masuk" in page
    switched = c.post("/i18n/setlang/", {"language": "en", "next": "/console/login/"})
    assert switched.status_code == 302
    assert "Sign in" in c.get("/console/login/").content.decode()
