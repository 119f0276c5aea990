"""The main flow over real HTTP: a citizen's report reaches the nearest supervisor's phone and back."""

import io

import pytest
import requests
from django.utils import timezone
from PIL import Image

from tests.conftest import ensure_city
from tests.dispatch.conftest import CIPONDOH, TANGERANG, border_pair, supervisor_at

pytestmark = pytest.mark.django_db(transaction=True)


def test_report_to_phone_to_resolved_over_http(live_server):
    ensure_city()
    from django.contrib.auth.models import Group, User

    from incidents.bootstrap import bootstrap
    from kecamatan_boundaries.models import Kecamatan

    bootstrap(log=lambda m: None)
    city = {k.code: k for k in Kecamatan.objects.current()}

    def inside(d):
        return border_pair(city, CIPONDOH, TANGERANG, depth_m=d)[1]

    near = supervisor_at(inside(450), age_s=60)  # its last ping a minute ago
    supervisor_at(inside(900))
    lon, lat = inside(300)
    base = live_server.url
    phone = {"Authorization": f"Bearer {near.token}", "X-Device-Id": near.device.device_id}

    r = requests.post(
        f"{base}/api/reports/",
        json={"category": "jalan-rusak", "description": "Jalan berlubang besar", "lat": lat, "lon": lon},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    public_id = r.json()["id"]

    mine = requests.get(f"{base}/api/my/orders/", headers=phone, timeout=30).json()
    assert [o["report"]["public_id"] for o in mine] == [public_id]  # dispatched as soon as it was routed
    order_id = mine[0]["id"]

    r = requests.post(f"{base}/api/my/orders/{order_id}/acknowledge/", headers=phone, timeout=30)
    assert r.status_code == 200 and r.json()["state"] == "acknowledged"
    # the phone's next ping is 20 m from the report: on site is detected
    ping = {"pings": [{"time": timezone.now().isoformat(), "lat": lat + 0.00018, "lon": lon, "accuracy": 8}]}
    r = requests.post(f"{base}/api/tracking/pings/", json=ping, headers=phone, timeout=30)
    assert r.status_code == 200, r.text
    state = requests.get(f"{base}/api/my/orders/", headers=phone, timeout=30).json()[0]["state"]
    assert state == "on_site"

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 10)).save(buf, "JPEG")
    r = requests.post(
        f"{base}/api/my/orders/{order_id}/resolve/",
        headers=phone,
        data={"note": "sudah ditambal"},
        files={"photo": ("selesai.jpg", buf.getvalue(), "image/jpeg")},
        timeout=30,
    )
    assert r.status_code == 200 and r.json()["state"] == "resolved", r.text

    op = User.objects.create_user("op-http-disp", password="pw-op-http-disp")
    op.groups.add(Group.objects.get(name="operator"))
    view = requests.get(
        f"{base}/api/reports/{public_id}/dispatch/", auth=("op-http-disp", "pw-op-http-disp"), timeout=30
    )
    assert view.status_code == 200
    body = view.json()
    assert body["status"] == "resolved"
    assert [s["kind"] for s in body["orders"][0]["steps"]] == ["offered", "acknowledged", "on_site", "resolved"]
    assert body["decisions"][0]["chosen"] == near.pk and body["decisions"][0]["trigger"] == "routed"
    assert body["response_times"]["milestones"]["resolve"]["minutes"] is not None
