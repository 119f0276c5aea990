"""The ingestion views: refusals with each protocol's status code; the usual native upload answered
without DRF, byte for byte as DRF answers it."""

import json
from datetime import timedelta

import pytest

from tests.tracking.conftest import (
    CIPONDOH,
    basic,
    epoch,
    make_supervisor,
    native,
    pings,
)
from tests.tracking.protocols.test_owntracks import owntracks_location
from tracking.models import Ping

pytestmark = pytest.mark.django_db


def test_refusals(client, supervisor, t0):
    d, tok = supervisor.device.device_id, supervisor.token
    q = f"lat=-6.18&lon=106.68&timestamp={epoch(t0)}"
    assert client.get(f"/tracking/osmand/?id=nope&token=x&{q}").status_code == 404
    assert client.get(f"/tracking/osmand/?id={d}&token=wrong&{q}").status_code == 401
    assert client.get(f"/tracking/osmand/?id={d}&{q}").status_code == 401
    assert client.get(f"/tracking/osmand/?token={tok}&{q}").status_code == 400
    r = client.get(f"/tracking/osmand/?id={d}&token={tok}&lat=95&lon=106.68&timestamp={epoch(t0)}")
    assert r.status_code == 400 and "invalid coordinates" in r.json()["detail"]
    r = client.get(f"/tracking/osmand/?id={d}&token={tok}&lat=-6.18&lon=abc&timestamp={epoch(t0)}")
    assert r.status_code == 400 and "lon must be a number" in r.json()["detail"]
    r = client.get(f"/tracking/osmand/?id={d}&token={tok}&lat=-6.18&lon=106.68&timestamp=4070908800")
    assert r.status_code == 400 and "future" in r.json()["detail"]
    r = client.post(
        "/api/tracking/pings/", "{not json", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {tok}"
    )
    assert r.status_code == 400 and "JSON" in r.json()["detail"]
    r = client.post(
        "/tracking/owntracks/", json.dumps(owntracks_location(t0)), content_type="application/json",
        HTTP_AUTHORIZATION=basic("budi", "wrong"), HTTP_X_LIMIT_D=d,
    )  # fmt: skip
    assert r.status_code == 401
    r = client.post(
        "/tracking/owntracks/", "[1, 2]", content_type="application/json", HTTP_AUTHORIZATION=basic("budi", tok)
    )
    assert r.status_code == 400
    supervisor.device.revoke()
    r = client.get(f"/tracking/osmand/?id={d}&token={tok}&{q}")
    assert r.status_code == 403 and "revoked" in r.json()["detail"]
    assert Ping.objects.count() == 0


def test_the_usual_upload_answers_byte_for_byte_as_drf_does(city, t0, monkeypatch):
    """NativePings answers a phone's usual batch without DRF's machinery; DRF's answer to the same
    upload is the reference: status, body bytes, content type and headers."""
    from tracking import views

    def upload(sup):
        bad = {"time": (t0 + timedelta(seconds=99)).isoformat(), "lat": 95.0, "lon": CIPONDOH[0]}
        return native(sup, {"pings": [*pings(t0, 5), bad, pings(t0, 1)[0]]})

    fast = upload(make_supervisor(name="Usual"))
    monkeypatch.setattr(views, "decode_native_json", lambda raw: None)  # the view's shortcut declines
    reference = upload(make_supervisor(name="Reference"))
    assert fast.status_code == reference.status_code == 200
    assert fast.content == reference.content
    assert json.loads(fast.content)["dropped"] == [{"index": 5, "reason": "invalid coordinates"}]
    for header in ("Content-Type", "Allow", "Vary"):
        assert fast[header] == reference[header], header


def test_the_usual_upload_refused_is_answered_as_before(city, t0):
    """Refusals found before the store (a wrong token) and under the lock (a device revoked after
    the auth cache accepted it) get the protocol's status and reason; nothing of theirs is stored."""
    sup = make_supervisor(name="Refused")
    wrong = native(sup, {"pings": pings(t0, 3)}, token="not-the-token")
    assert wrong.status_code == 401 and "wrong token" in wrong.json()["detail"]
    assert native(sup, {"pings": pings(t0, 3)}).status_code == 200  # now in the auth cache
    sup.device.revoke()
    revoked = native(sup, {"pings": pings(t0, 3, start=3)})
    assert revoked.status_code == 403 and "revoked" in revoked.json()["detail"]
    assert Ping.objects.filter(device_id=sup.device.pk).count() == 3
