"""Real HTTP against a live test server: the main flows and the fleet simulator."""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from tests.conftest import ensure_city
from tests.tracking.conftest import CIPONDOH, make_supervisor, user_with_role
from tracking.models import LatestPosition, Ping, Supervisor
from tracking.signals import position_updated, presence_changed
from tracking.simulator import SimOptions, run, setup_fleet


@pytest.fixture
def live_city(live_server):
    ensure_city()
    from tracking import partitions

    partitions.forget()
    return live_server


def test_protocols_over_http_with_signals_after_commit(live_city):
    seen = []
    position_updated.connect(lambda **kw: seen.append(("pos", kw["supervisor_id"])), weak=False, dispatch_uid="lv1")
    presence_changed.connect(lambda **kw: seen.append(("presence", kw["new"])), weak=False, dispatch_uid="lv2")
    try:
        sup = make_supervisor()
        t = timezone.now().replace(microsecond=0) - timedelta(seconds=30)
        base = live_city.url
        r = requests.get(
            f"{base}/tracking/osmand/",
            params={"id": sup.device.device_id, "token": sup.token, "timestamp": int(t.timestamp()),
                    "lat": CIPONDOH[1], "lon": CIPONDOH[0], "speed": 0, "accuracy": 9, "batt": 77},
            timeout=10,
        )  # fmt: skip
        assert r.status_code == 200, r.text
        ping = {"time": (t + timedelta(seconds=10)).isoformat(), "lat": CIPONDOH[1], "lon": CIPONDOH[0]}
        r = requests.post(
            f"{base}/api/tracking/pings/",
            json={"pings": [ping]},
            headers={"Authorization": f"Bearer {sup.token}", "X-Device-Id": sup.device.device_id},
            timeout=10,
        )
        assert r.status_code == 200 and r.json()["stored"] == 1
        assert ("pos", sup.pk) in seen and ("presence", "on_duty") in seen
        assert Supervisor.objects.on_duty().filter(opd__code="dishub").get().pk == sup.pk
        user_with_role("operator", "op", password="op-password-1")
        s = requests.Session()
        s.auth = ("op", "op-password-1")
        geo = s.get(
            f"{base}/api/tracking/supervisors/", params={"opd": "dishub", "presence": "on_duty"}, timeout=10
        ).json()
        assert geo["type"] == "FeatureCollection" and len(geo["features"]) == 1
        f = geo["features"][0]
        assert f["geometry"]["type"] == "Point" and f["properties"]["presence"] == "on_duty"
        assert f["properties"]["current_kecamatan"] == "36.71.05" and f["properties"]["last_fix_age_s"] >= 0
        assert s.get(f"{base}/api/tracking/supervisors/", params={"presence": "bogus"}, timeout=10).status_code == 400
    finally:
        position_updated.disconnect(dispatch_uid="lv1")
        presence_changed.disconnect(dispatch_uid="lv2")


def test_simulator_for_a_minute_every_ping_stored(live_city):
    phones = setup_fleet(20, prefix="simtest", seed=7)
    stats = run(phones, SimOptions(supervisors=20, base_url=live_city.url, duration_s=60, interval_s=10, fast=True,
                                   threads=4, progress=False))  # fmt: skip
    assert stats.errors == [] and stats.refused == 0
    assert stats.sent > 100
    assert {"native", "osmand", "owntracks", "native-batch"} <= set(stats.by_protocol)
    assert Ping.objects.filter(source__in=["native", "osmand", "owntracks"]).count() == stats.sent == stats.stored
    assert LatestPosition.objects.count() == 20
