"""The ingestion service as deployed (deploy/geoapp-ingest.service): Granian serving geoapp.wsgi
in processes of its own, on the test database, over real HTTP. The phones' three protocols are
stored through it and queued for the worker; it gives the answers the web service gives, behind
nginx's headers; concurrent uploads of one phone are stored once."""

from __future__ import annotations

import json
import threading
from datetime import UTC, timedelta

import pytest
import requests
from django.utils import timezone

from core import relay
from core.serving import INGEST_ENV, INGEST_URLS, ingest_argv
from loadtest.common import ROOT, free_port, project_db_url, server_env, start_ingest, start_server
from tests.conftest import ensure_city
from tests.tracking.conftest import CIPONDOH, basic, epoch, make_supervisor
from tests.tracking.protocols.test_owntracks import owntracks_location
from tracking.models import LatestPosition, Ping

# Answer headers a server or proxy sets for itself; everything else must match the web service's.
TRANSPORT = {"date", "server", "connection", "keep-alive", "transfer-encoding", "content-length"}


@pytest.fixture(scope="module")
def servers(django_db_setup):
    """On the test database, as deployed (DEBUG off, relaying to the worker as with Redis): the
    ingestion service (one process of two threads) and the web service (Daphne), for reference."""
    from django.db import connection

    env = server_env(project_db_url(connection.settings_dict["NAME"]), GEOAPP_RELAY="worker")
    env["ALLOWED_HOSTS"] += ",testserver"
    ports = {"ingest": free_port(), "web": free_port()}
    procs = []
    try:
        procs.append(start_ingest(env, ports["ingest"], workers=1, threads=2, name="test-ingest"))
        procs.append(start_server(env, ports["web"], name="test-web"))
        yield {k: f"http://127.0.0.1:{p}" for k, p in ports.items()}
    finally:
        for proc in procs:
            proc.stop()


@pytest.fixture
def live(transactional_db, servers, settings):
    """Committed data the servers see: the city; the worker relay, as the servers run it."""
    ensure_city()
    settings.GEOAPP_RELAY = "worker"
    return servers


@pytest.fixture
def t0():
    return timezone.now().replace(microsecond=0) - timedelta(minutes=10)


def native(base: str, sup, body: dict | bytes, **headers) -> requests.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(
        f"{base}/api/tracking/pings/",
        data=data,
        headers={"Authorization": f"Bearer {sup.token}", "X-Device-Id": sup.device.device_id,
                 "Content-Type": "application/json", **headers},
        timeout=30,
    )  # fmt: skip


def batch(t0, n: int, step_s: int = 10) -> dict:
    """A phone's buffer: n fixes walking east from Cipondoh, newest first (as some apps send)."""
    pings = [
        {"time": (t0 + timedelta(seconds=step_s * i)).isoformat(), "lat": CIPONDOH[1],
         "lon": CIPONDOH[0] + i * 1e-5, "accuracy": 8.0, "speed": 1.1, "battery": 70}
        for i in range(n)
    ]  # fmt: skip
    return {"pings": pings[::-1]}


def test_the_three_protocols_are_stored_and_queued_for_the_worker(live, t0):
    sup = make_supervisor("Sari")
    base = live["ingest"]
    queued = relay.pending()
    # Traccar Client 6-8: a POST with an empty body, everything in the query string
    r = requests.post(
        f"{base}/tracking/osmand/?token={sup.token}&id={sup.device.device_id}&timestamp={epoch(t0)}"
        "&lat=-6.186208240582951&lon=106.68299190893637&speed=10.0&bearing=271.5&altitude=21.0"
        "&accuracy=12.0&batt=87.0&charge=false",
        data=b"", headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=30,
    )  # fmt: skip
    assert r.status_code == 200, r.text
    # OwnTracks in HTTP mode: Basic auth and X-Limit headers; the answer is a JSON array
    r = requests.post(
        f"{base}/tracking/owntracks/",
        data=json.dumps(owntracks_location(t0 + timedelta(seconds=10))),
        headers={"Content-Type": "application/json", "Authorization": basic("sari", sup.token),
                 "X-Limit-U": "sari", "X-Limit-D": sup.device.device_id, "User-Agent": "Owntracks-Android/2.4.12"},
        timeout=30,
    )  # fmt: skip
    assert r.status_code == 200 and r.json() == [], r.text
    # our own batch, out of order
    r = native(base, sup, batch(t0 + timedelta(seconds=20), 50))
    assert r.status_code == 200 and r.json()["stored"] == 50, r.text
    assert r.headers["Content-Type"] == "application/json"
    stored = Ping.objects.filter(device_id=sup.device.pk)
    assert stored.count() == 52
    assert set(stored.values_list("source", flat=True)) == {"native", "osmand", "owntracks"}
    lp = LatestPosition.objects.get(supervisor=sup)
    assert lp.device_time == t0 + timedelta(seconds=20 + 49 * 10) and lp.kecamatan_code == "36.71.05"
    assert relay.pending() > queued  # the worker announces it to the consoles and dispatch
    assert relay.drain() >= 1 and relay.pending() == 0


def test_it_answers_as_the_web_service_does(live, t0):
    """Each request to the ingestion service and to the web service (Daphne) gets the same status,
    body and headers; one supervisor per server, so each stores what it is sent."""
    sups = {"ingest": make_supervisor("Ani"), "web": make_supervisor("Ina")}
    revoked = make_supervisor("Dedi")
    revoked.device.revoke()

    def asks(sup) -> list[tuple[str, str, dict, bytes | dict]]:
        auth = {"Authorization": f"Bearer {sup.token}", "X-Device-Id": sup.device.device_id}
        good = batch(t0, 20)
        return [
            ("POST", "/api/tracking/pings/", auth, good),
            ("POST", "/api/tracking/pings/", auth, good),  # resent: every ping a duplicate
            ("POST", "/api/tracking/pings/", {**auth, "X-Forwarded-Proto": "https"}, batch(t0 - timedelta(hours=1), 3)),
            ("POST", "/api/tracking/pings/", {**auth, "Authorization": "Bearer wrong"}, good),
            ("POST", "/api/tracking/pings/", {**auth, "X-Device-Id": "nobody"}, good),
            ("POST", "/api/tracking/pings/", {"Authorization": f"Bearer {revoked.token}",
                                              "X-Device-Id": revoked.device.device_id}, good),
            ("POST", "/api/tracking/pings/", auth, b"{not json"),
            ("POST", "/api/tracking/pings/", auth, {"pings": [{"time": "2099-01-01T00:00:00Z", "lat": 95,
                                                               "lon": "abc"}]}),
            ("POST", "/api/tracking/pings/", auth, {"pings": [{"time": t0.isoformat(), "lat": 0, "lon": 0}] * 1001}),
            ("POST", "/api/tracking/pings/", auth, {"pings": [{"time": t0.isoformat(), "lat": -6.1, "lon": 106.6}]
                                                    * 100_000}),  # ~6 MB
            ("GET", f"/tracking/osmand/?id={sup.device.device_id}&token={sup.token}&lat=-6.18&lon=106.68", {}, b""),
            ("GET", "/api/tracking/pings/", auth, b""),
        ]  # fmt: skip

    answers = {}
    for server, sup in sups.items():
        answers[server] = []
        for method, path, headers, body in asks(sup):
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            r = requests.request(
                method, live[server] + path, data=data or None, timeout=30,
                headers={"Content-Type": "application/json", **headers} if data else headers,
            )  # fmt: skip
            same = {k.lower(): v for k, v in r.headers.items() if k.lower() not in TRANSPORT}
            answers[server].append((r.status_code, r.content, same))
    statuses = [a[0] for a in answers["ingest"]]
    assert statuses == [200, 200, 200, 401, 404, 403, 400, 400, 413, 413, 400, 405], statuses
    for (code_i, body_i, head_i), (code_w, body_w, head_w) in zip(answers["ingest"], answers["web"], strict=True):
        assert (code_i, head_i) == (code_w, head_w)
        if code_i == 200:  # the same counts (the device ids differ)
            assert json.loads(body_i) == json.loads(body_w)
        else:
            name_i, name_w = (sups[s].device.device_id for s in ("ingest", "web"))
            assert body_i.replace(name_i.encode(), b"<id>") == body_w.replace(name_w.encode(), b"<id>")
    assert json.loads(answers["ingest"][1][1])["duplicates"] == 20
    assert "strict-transport-security" in answers["ingest"][2][2]  # https said by nginx: HSTS
    assert "lon must be a number, not 'abc'" in answers["ingest"][7][1].decode()  # the bad field is named
    assert "100000 pings in one request" in answers["ingest"][9][1].decode()  # the app's answer, not the server's
    for sup in sups.values():
        assert Ping.objects.filter(device_id=sup.device.pk).count() == 23  # nothing refused was stored


def test_one_phones_uploads_at_once_are_stored_once(live):
    """A phone that resends its buffer while the first upload runs (a timeout on a slow link):
    the two threads of the service take both; each fix is stored exactly once."""
    sup = make_supervisor("Rudi")
    t0 = timezone.now().replace(microsecond=0) - timedelta(hours=2)
    first, second = batch(t0, 300), batch(t0 + timedelta(seconds=1500), 300)  # 150 fixes overlap
    answers = []

    def send(body):
        answers.append(native(live["ingest"], sup, body))

    threads = [threading.Thread(target=send, args=(b,)) for b in (first, second, first)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    times = list(Ping.objects.filter(device_id=sup.device.pk).values_list("device_time", flat=True))
    assert len(times) == len(set(times)) == 450
    assert sum(r.json()["stored"] for r in answers) == 450
    assert sum(r.json()["duplicates"] for r in answers) == 450  # 150 of the second, 300 of the resend
    lp = LatestPosition.objects.get(supervisor=sup)
    assert lp.device_time == max(times) == (t0 + timedelta(seconds=1500 + 299 * 10)).astimezone(UTC)


def test_nginx_routes_exactly_the_ingestion_urls_to_it():
    """deploy/nginx-geoapp.conf sends the URLs INGEST_URLS names to the ingestion service, and
    the unit serves it with the flags ingest_argv gives."""
    import re

    conf = (ROOT / "deploy" / "nginx-geoapp.conf").read_text()
    pattern = re.search(r"location ~ (\S+) \{\s*proxy_pass http://geoapp_ingest;", conf).group(1)
    for url in INGEST_URLS:
        assert re.match(pattern, url), url
    for other in ("/api/tracking/supervisors/", "/api/tracking/attendance/", "/tracking/osmand/x", "/healthz"):
        assert not re.match(pattern, other), other
    unit = (ROOT / "deploy" / "geoapp-ingest.service").read_text().replace("\\\n", " ")
    command = re.search(r"ExecStart=(.+)", unit).group(1).split()
    assert command[1:] == ingest_argv(8002, workers=2, threads=2)[1:]
    assert dict(re.findall(r"^Environment=(\w+)=(\S*)$", unit, re.M)) == INGEST_ENV
