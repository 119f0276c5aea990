"""The OsmAnd protocol: literal requests as OsmAnd and Traccar Client send them, then the decoder's
table of messages."""

import json
from datetime import UTC, datetime

import pytest

from tests.tracking.conftest import (
    epoch,
)
from tracking.fixes import Problem
from tracking.models import LatestPosition, Ping
from tracking.protocols.osmand import KNOT_MS, decode_osmand

pytestmark = pytest.mark.django_db


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


AT = datetime(2025, 3, 4, 1, 0, tzinfo=UTC)  # 08:00 WIB, epoch 1741050000

# What the apps send (query string or form, all values as text) and the fix it means.
OSMAND_MESSAGES = [
    (  # Traccar Client <= 8
        {"id": "hp-01", "timestamp": "1741050000", "lat": "-6.1862", "lon": "106.6829", "speed": "10.0",
         "bearing": "271.5", "altitude": "21.0", "accuracy": "12.0", "batt": "87.0", "charge": "false"},
        {"time": AT, "lat": -6.1862, "lon": 106.6829, "speed": 10 * KNOT_MS, "heading": 271.5, "altitude": 21.0,
         "accuracy": 12.0, "battery": 87.0, "mock": False},
    ),
    (  # OsmAnd's URL template: milliseconds, hdop for the accuracy
        {"id": "hp-01", "lat": "-6.18620", "lon": "106.68299", "timestamp": "1741050000000", "hdop": "8.0",
         "altitude": "19.5", "speed": "0.0", "bearing": "0.0"},
        {"time": AT, "accuracy": 8.0, "speed": 0.0, "heading": 0.0, "battery": None},
    ),
    (  # a device id as `deviceid`, the place as `location`, an ISO time, a mock location
        {"deviceid": "hp-01", "timestamp": "2025-03-04T01:00:00Z", "location": "-6.1862,106.6829", "mock": "true"},
        {"time": AT, "lat": -6.1862, "lon": 106.6829, "mock": True, "accuracy": None},
    ),
    (  # `heading` and `battery` spelled out
        {"id": "hp-01", "timestamp": "1741050000", "lat": "-6.1862", "lon": "106.6829", "heading": "90",
         "battery": "50"},
        {"heading": 90.0, "battery": 50.0},
    ),
]  # fmt: skip


@pytest.mark.parametrize("params, want", OSMAND_MESSAGES)
def test_decode_osmand_table(params, want):
    device_id, items = decode_osmand(params)
    assert device_id == "hp-01" and len(items) == 1
    for name, value in want.items():
        expected = pytest.approx(value) if isinstance(value, float) else value
        assert getattr(items[0], name) == expected, name


@pytest.mark.parametrize(
    "params, reason",
    [
        ({"id": "hp-01", "timestamp": "1741050000", "lat": "-6.18"}, "lon is missing"),
        ({"id": "hp-01", "timestamp": "1741050000", "location": "-6.18"}, "location must be 'lat,lon'"),
        ({"id": "hp-01", "lat": "-6.18", "lon": "106.6"}, "timestamp is missing"),
        ({"id": "hp-01", "timestamp": "1741050000", "lat": "-6.18", "lon": "106.6", "speed": "fast"},
         "speed must be a number, not 'fast'"),
    ],
)  # fmt: skip
def test_a_bad_message_is_a_problem_naming_the_field(params, reason):
    assert decode_osmand(params) == ("hp-01", [Problem(0, reason)])


def test_traccar_client_9_sends_lists_and_minus_one_for_unknown():
    body = {
        "device_id": "hp-01",
        "location": [
            {"timestamp": "2025-03-04T01:00:00.000Z", "mock": True, "battery": {"level": 0.5},
             "coords": {"latitude": -6.1862, "longitude": 106.6829, "speed": 2.5, "heading": 45, "accuracy": 5}},
            {"timestamp": "2025-03-04T01:00:10.000Z", "battery": {"level": -1},
             "coords": {"latitude": -6.1863, "longitude": 106.683, "speed": -1, "heading": -1}},
            {"timestamp": "2025-03-04T01:00:20.000Z"},
        ],
    }  # fmt: skip
    device_id, (first, second, third) = decode_osmand({}, body)
    assert device_id == "hp-01" and first.time == AT
    assert (first.speed, first.heading, first.battery, first.accuracy, first.mock) == (2.5, 45.0, 50.0, 5.0, True)
    assert (second.speed, second.heading, second.battery, second.mock) == (None, None, None, False)
    assert third == Problem(2, "location must be an object with coords")
