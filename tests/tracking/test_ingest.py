"""Ingestion: literal requests as the real apps send them, filters, late pings, bad input."""

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from tests.tracking.conftest import CIPONDOH, OUTSIDE_CITY, TANGERANG, make_supervisor
from tracking.models import DropCount, LatestPosition, Ping, Supervisor, TrackingEvent
from tracking.signals import position_updated

pytestmark = pytest.mark.django_db


def epoch(dt: datetime) -> int:
    return int(dt.timestamp())


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def client():
    return APIClient()


@pytest.fixture
def t0():
    return timezone.now().replace(microsecond=0) - timedelta(minutes=10)


def native(client, sup, body, **headers):
    return client.post(
        "/api/tracking/pings/",
        data=json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {sup.token}",
        HTTP_X_DEVICE_ID=sup.device.device_id,
        **headers,
    )


# --- literal samples per protocol ------------------------------------------------------------
def test_traccar_client_osmand_post_query_string(client, supervisor, t0):
    # Traccar Client (Android 6.x-8.x) POSTs an empty body with everything in the query string.
    ts = epoch(t0)
    url = (
        f"/tracking/osmand/?token={supervisor.token}&id={supervisor.device.device_id}&timestamp={ts}"
        "&lat=-6.186208240582951&lon=106.68299190893637&speed=10.0&bearing=271.5&altitude=21.0"
        "&accuracy=12.0&batt=87.0&charge=false"
    )
    r = client.post(url, data="", content_type="application/x-www-form-urlencoded")
    assert r.status_code == 200, r.content
    ping = Ping.objects.get()
    assert ping.device_time == t0 and ping.received_at > t0
    assert ping.speed == pytest.approx(10 * 0.514444)  # knots -> m/s
    assert (ping.accuracy, ping.battery, ping.heading) == (12.0, 87.0, 271.5)
    assert ping.kecamatan_code == "36.71.05" and ping.in_area and ping.source == "osmand"
    lp = LatestPosition.objects.get(supervisor=supervisor)
    assert lp.device_time == t0 and lp.kecamatan_code == "36.71.05"


def test_osmand_app_get_with_milliseconds_and_hdop(client, supervisor, t0):
    # OsmAnd's online tracking URL template: ?lat={0}&lon={1}&timestamp={2}&hdop={3}&altitude={4}&speed={5}
    r = client.get(
        f"/tracking/osmand/?id={supervisor.device.device_id}&token={supervisor.token}"
        f"&lat=-6.18620&lon=106.68299&timestamp={epoch(t0)}000&hdop=8.0&altitude=19.5&speed=0.0&bearing=0.0"
    )
    assert r.status_code == 200, r.content
    assert Ping.objects.get().device_time == t0
    assert Ping.objects.get().accuracy == 8.0


def test_osmand_iso_timestamp_form_body(client, supervisor, t0):
    r = client.post(
        "/tracking/osmand/",
        data=f"id={supervisor.device.device_id}&token={supervisor.token}&lat=-6.1862&lon=106.6829"
        f"&timestamp={t0.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}&mock=true",
        content_type="application/x-www-form-urlencoded",
    )
    assert r.status_code == 200, r.content
    assert Ping.objects.get().mock is True


def test_traccar_client_9_json_body(client, supervisor, t0):
    body = {
        "location": {
            "event": "motionchange",
            "is_moving": False,
            "uuid": "5a3c0f6e-6a3b-4c52-9a4e-0d1f1c2b3a4d",
            "timestamp": t0.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "odometer": 0,
            "coords": {
                "latitude": -6.1862082,
                "longitude": 106.6829919,
                "accuracy": 12.3,
                "speed": -1,
                "speed_accuracy": -1,
                "heading": -1,
                "heading_accuracy": -1,
                "altitude": 21.4,
                "ellipsoidal_altitude": 21.4,
                "altitude_accuracy": 3.1,
            },
            "activity": {"type": "still", "confidence": 100},
            "battery": {"is_charging": False, "level": 0.87},
            "extras": {},
        },
        "device_id": supervisor.device.device_id,
    }
    r = client.post(
        f"/tracking/osmand/?token={supervisor.token}", data=json.dumps(body), content_type="application/json"
    )
    assert r.status_code == 200, r.content
    ping = Ping.objects.get()
    assert ping.speed is None and ping.heading is None  # -1 = unknown
    assert ping.battery == pytest.approx(87.0) and ping.accuracy == pytest.approx(12.3)


def owntracks_location(t0, lat=-6.186208, lon=106.682991):
    return {
        "_type": "location", "acc": 12, "alt": 21, "batt": 87, "bs": 1, "conn": "m",
        "created_at": epoch(t0) + 5, "lat": lat, "lon": lon, "m": 1, "t": "u", "tid": "bd",
        "tst": epoch(t0), "vac": 3, "vel": 18, "topic": "owntracks/budi/phone",
    }  # fmt: skip


def test_owntracks_http_mode_headers(client, supervisor, t0):
    r = client.post(
        "/tracking/owntracks/",
        data=json.dumps(owntracks_location(t0)),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic("budi", supervisor.token),
        HTTP_X_LIMIT_U="budi",
        HTTP_X_LIMIT_D=supervisor.device.device_id,
        HTTP_USER_AGENT="Owntracks-Android/2.4.12",
    )
    assert r.status_code == 200 and r.json() == []
    ping = Ping.objects.get()
    assert ping.speed == pytest.approx(5.0)  # 18 km/h
    assert ping.source == "owntracks"


def test_owntracks_query_identity_transition_and_other_types(client, supervisor, t0):
    auth = basic("budi", supervisor.token)
    d = supervisor.device.device_id
    transition = {
        "_type": "transition", "acc": 10, "desc": "Kantor Kecamatan", "event": "enter", "lat": -6.1862,
        "lon": 106.6829, "t": "c", "tid": "bd", "tst": epoch(t0), "wtst": epoch(t0) - 86400,
    }  # fmt: skip
    r = client.post(
        f"/tracking/owntracks/?u=budi&d={d}",
        json.dumps(transition),
        content_type="application/json",
        HTTP_AUTHORIZATION=auth,
    )
    assert r.status_code == 200 and r.json() == []
    lwt = {"_type": "lwt", "tst": epoch(t0)}
    r = client.post(
        f"/tracking/owntracks/?u=budi&d={d}", json.dumps(lwt), content_type="application/json", HTTP_AUTHORIZATION=auth
    )
    assert r.status_code == 200 and r.json() == []
    assert Ping.objects.count() == 1


# --- batches, order, duplicates ---------------------------------------------------------------
def test_batch_any_order_late_ping_never_moves_latest_back(client, supervisor, t0):
    seen = []
    position_updated.connect(lambda **kw: seen.append(kw["position"].device_time), weak=False, dispatch_uid="t-ing")
    try:
        pings = [
            {"time": (t0 + timedelta(seconds=s)).isoformat(), "lat": CIPONDOH[1], "lon": CIPONDOH[0], "accuracy": 10}
            for s in (60, 0, 30, 90)
        ]
        r = native(client, supervisor, {"pings": pings})
        assert r.status_code == 200 and r.json()["stored"] == 4
        assert LatestPosition.objects.get().device_time == t0 + timedelta(seconds=90)
        # A late upload of an older buffered ping: stored in history, latest stays.
        late = {"time": (t0 - timedelta(minutes=5)).isoformat(), "lat": TANGERANG[1], "lon": TANGERANG[0]}
        r = native(client, supervisor, late)
        assert r.status_code == 200 and r.json()["stored"] == 1
        assert LatestPosition.objects.get().device_time == t0 + timedelta(seconds=90)
        assert LatestPosition.objects.get().kecamatan_code == "36.71.05"
        # Resent batch: accepted, stored once.
        r = native(client, supervisor, {"pings": pings})
        assert r.status_code == 200 and r.json()["duplicates"] == 4 and r.json()["stored"] == 0
        assert Ping.objects.count() == 5
        assert DropCount.objects.get(reason="duplicate").count == 4
    finally:
        position_updated.disconnect(dispatch_uid="t-ing")
    # TestCase transactions never commit: on_commit signals are checked in test_live.


def test_batch_with_bad_pings_stores_good_ones_and_names_bad_by_index(client, supervisor, t0):
    good = {"time": t0.isoformat(), "lat": CIPONDOH[1], "lon": CIPONDOH[0]}
    body = {
        "pings": [
            good,
            {"time": t0.isoformat(), "lat": 95, "lon": 106.6},
            {"time": (t0 + timedelta(seconds=5)).isoformat(), "lat": -6.18, "lon": "abc"},
            {"time": "2099-01-01T00:00:00Z", "lat": -6.18, "lon": 106.68},
            {"time": (t0 + timedelta(seconds=20)).isoformat(), "lat": 0, "lon": 0},
            "not a ping",
            {"time": (t0 + timedelta(seconds=30)).isoformat(), "lat": CIPONDOH[1], "lon": CIPONDOH[0]},
        ]
    }
    r = native(client, supervisor, body)
    assert r.status_code == 200
    out = r.json()
    assert out["stored"] == 2
    reasons = {p["index"]: p["reason"] for p in out["dropped"] + out["rejected"]}
    assert reasons[1] == "invalid coordinates"
    assert "lon must be a number" in reasons[2]
    assert reasons[3] == "future timestamp"
    assert reasons[4] == "zero coordinates"
    assert "object" in reasons[5]
    assert Ping.objects.count() == 2


# --- refusals with the protocol's status codes ------------------------------------------------
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


def test_batch_of_100000_is_refused_cleanly(client, supervisor, t0):
    ping = {"time": t0.isoformat(), "lat": -6.18, "lon": 106.68}
    r = native(client, supervisor, {"pings": [ping] * 100_000})
    assert r.status_code == 413 and "at most 1000" in r.json()["detail"]
    assert Ping.objects.count() == 0


# --- filters, each switched -------------------------------------------------------------------
def test_accuracy_speed_and_mock_filters(client, supervisor, t0):
    def p(s, where=CIPONDOH, **kw):
        return {
            "time": (t0 + timedelta(seconds=s)).isoformat(),
            "lat": where[1],
            "lon": where[0],
            **kw,
        }

    r = native(client, supervisor, {"pings": [p(0), p(10, accuracy=500), p(20, where=OUTSIDE_CITY), p(30, mock=True)]})
    out = r.json()
    assert r.status_code == 200
    assert {d["index"]: d["reason"] for d in out["dropped"]} == {1: "poor accuracy", 2: "impossible speed"}
    assert out["stored"] == 2 and out["mock"] == 1
    assert Ping.objects.filter(mock=True).count() == 1
    lp = LatestPosition.objects.get()
    assert lp.device_time == t0 and lp.last_mock_at == t0 + timedelta(seconds=30)  # mock never moves it
    assert DropCount.objects.get(reason="poor accuracy").count == 1
    with override_settings(TRACKING_FILTER_ACCURACY=False, TRACKING_FILTER_SPEED=False, TRACKING_FILTER_MOCK=False):
        r = native(client, supervisor, {"pings": [p(40, accuracy=500), p(50, where=OUTSIDE_CITY), p(60, mock=True)]})
        assert r.json()["stored"] == 3 and r.json()["dropped"] == []
        assert not Ping.objects.get(device_time=t0 + timedelta(seconds=60)).mock


def test_zero_and_future_filters_switch_off(client, supervisor, t0):
    with override_settings(TRACKING_FILTER_ZERO=False, TRACKING_FILTER_SPEED=False):
        r = native(client, supervisor, {"time": t0.isoformat(), "lat": 0, "lon": 0})
        assert r.status_code == 200 and r.json()["stored"] == 1
    ahead = timezone.now() + timedelta(minutes=4)
    r = native(client, supervisor, {"time": ahead.isoformat(), "lat": CIPONDOH[1], "lon": CIPONDOH[0]})
    assert r.status_code == 200  # within the 5-minute clock-skew allowance
    with override_settings(TRACKING_CLOCK_SKEW_S=60):
        later = ahead + timedelta(seconds=1)
        r = native(client, supervisor, {"time": later.isoformat(), "lat": CIPONDOH[1], "lon": CIPONDOH[0]})
        assert r.status_code == 400


# --- area hysteresis and events ------------------------------------------------------------------
def test_leaving_area_takes_two_fixes_and_events_are_recorded(client, city, t0):
    from tracking import presence

    sup = make_supervisor(kecamatan=("36.71.05",))

    def p(s, where):
        return {
            "time": (t0 + timedelta(seconds=s)).isoformat(),
            "lat": where[1],
            "lon": where[0],
            "accuracy": 5,
        }

    # 4.7 km between the two centroids: 2 minutes apart keeps it under the speed limit
    assert native(client, sup, {"pings": [p(0, CIPONDOH), p(120, TANGERANG)]}).status_code == 200
    lp = LatestPosition.objects.get()
    assert not lp.in_area and lp.outside_count == 1 and not lp.area_confirmed_out
    s = Supervisor.objects.select_related("latest_position").get(pk=sup.pk)
    assert presence.presence_for([s], t0 + timedelta(seconds=130))[sup.pk].state == "on_duty"
    assert native(client, sup, {"pings": [p(150, TANGERANG)]}).status_code == 200
    lp.refresh_from_db()
    assert lp.area_confirmed_out and lp.outside_count == 2
    s = Supervisor.objects.select_related("latest_position").get(pk=sup.pk)
    assert presence.presence_for([s], t0 + timedelta(seconds=160))[sup.pk].state == "out_of_area"
    kinds = list(
        TrackingEvent.objects.filter(supervisor=sup)
        .exclude(kind="presence")
        .order_by("time", "id")
        .values_list("kind", "kecamatan_code")
    )
    assert kinds == [("enter_kecamatan", "36.71.05"), ("leave_kecamatan", "36.71.05"), ("enter_kecamatan", "36.71.01")]
    # back inside: one fix is enough
    assert native(client, sup, {"pings": [p(300, CIPONDOH)]}).status_code == 200
    lp.refresh_from_db()
    assert lp.in_area and not lp.area_confirmed_out


def test_accuracy_margin_counts_a_fix_just_outside(client, city, t0):
    import shapely

    from kecamatan_boundaries.lookup import kecamatan_index

    sup = make_supervisor(kecamatan=("36.71.05",))
    index = kecamatan_index.get()
    poly = index.geoms[[a.code for a in index.areas].index("36.71.05")]
    # a point ~66 m east of Cipondoh's easternmost vertex: beyond the 50 m sliver tolerance
    minx, miny, maxx, maxy = poly.bounds
    edge = max(shapely.get_coordinates(poly), key=lambda c: c[0])
    lon, lat = edge[0] + 0.0006, edge[1]
    assert not poly.covers(shapely.Point(lon, lat))
    with override_settings(TRACKING_AREA_MARGIN_CAP_M=100):
        r = native(client, sup, {"pings": [
        {"time": t0.isoformat(), "lat": lat, "lon": lon, "accuracy": 80},
        {"time": (t0 + timedelta(seconds=10)).isoformat(), "lat": lat, "lon": lon, "accuracy": 5},
    ]})  # fmt: skip
    assert r.status_code == 200
    flags = list(Ping.objects.order_by("device_time").values_list("in_area", flat=True))
    assert flags == [True, False]


@pytest.mark.parametrize(
    "body",
    [
        {"pings": [{"time": "0001-01-01T00:00:00+07:00", "lat": 95, "lon": 106.6}]},
        {"time": "0001-01-01T00:00:00+07:00", "lat": "abc", "lon": 106.6},
        {"pings": [{"time": "9999-12-31T23:59:59-07:00", "lat": -6.2, "lon": 106.6},
                   {"time": "0001-01-01T00:00:00+07:00", "lat": 1, "lon": "x"}]},
    ],
)  # fmt: skip
def test_times_before_year_one_in_utc_are_refused_cleanly(client, supervisor, body):
    # 00:00 on 1 January of year 1 at UTC+7 is in year 0 in UTC: out of range, not a crash
    r = native(client, supervisor, body)
    assert r.status_code == 400 and r.json()["stored"] == 0 and r.json()["detail"].startswith("ping 0: ")
    r = client.get(
        "/tracking/osmand/",
        {"id": supervisor.device.device_id, "token": supervisor.token, "timestamp": "0001-01-01T00:00:00+07:00",
         "lat": -6.2, "lon": 106.6},
    )  # fmt: skip
    assert r.status_code == 400 and "out of range" in r.json()["detail"]
