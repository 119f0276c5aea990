"""OwnTracks in HTTP mode: literal messages as the app sends them, then the decoder's table."""

import json
from datetime import UTC, datetime

import pytest
from django.test import RequestFactory

from tests.tracking.conftest import (
    basic,
    epoch,
)
from tracking.errors import MalformedPing
from tracking.fixes import Problem
from tracking.models import Ping
from tracking.protocols.owntracks import decode_owntracks, owntracks_identity

pytestmark = pytest.mark.django_db


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


AT = datetime(2025, 3, 4, 1, 0, tzinfo=UTC)  # 08:00 WIB, epoch 1741050000

OWNTRACKS_MESSAGES = [
    (
        {"_type": "location", "tst": 1741050000, "lat": -6.1862, "lon": 106.6829, "acc": 12, "alt": 21, "batt": 87,
         "vel": 18, "cog": 270, "tid": "bd", "t": "u", "conn": "m", "bs": 1, "m": 1},
        {"time": AT, "lat": -6.1862, "lon": 106.6829, "accuracy": 12.0, "altitude": 21.0, "battery": 87.0,
         "speed": 5.0, "heading": 270.0, "mock": False},
    ),
    (
        {"_type": "transition", "tst": 1741050000, "lat": -6.1862, "lon": 106.6829, "acc": 10, "event": "enter",
         "desc": "Kantor Kecamatan", "t": "c", "tid": "bd", "wtst": 1740963600},
        {"time": AT, "accuracy": 10.0, "speed": None, "battery": None},
    ),
]  # fmt: skip


@pytest.mark.parametrize("message, want", OWNTRACKS_MESSAGES)
def test_decode_owntracks_table(message, want):
    (fix,) = decode_owntracks(message)
    for name, value in want.items():
        expected = pytest.approx(value) if isinstance(value, float) else value
        assert getattr(fix, name) == expected, name


@pytest.mark.parametrize(
    "message",
    [{"_type": "lwt", "tst": 1741050000}, {"_type": "waypoint", "desc": "Pos", "lat": -6.2, "lon": 106.6,
     "rad": 50, "tst": 1741050000}, {"_type": "card", "name": "Budi"}],
)  # fmt: skip
def test_messages_without_a_fix_store_nothing(message):
    assert decode_owntracks(message) == []


@pytest.mark.parametrize("body", [[1, 2], {"lat": -6.2}, "location", {"_type": 5}])
def test_anything_but_a_message_is_refused(body):
    with pytest.raises(MalformedPing):
        decode_owntracks(body)


def test_a_location_without_a_coordinate_is_a_problem():
    assert decode_owntracks({"_type": "location", "tst": 1741050000, "lat": -6.2}) == [Problem(0, "lon is missing")]


def test_the_device_is_named_by_header_query_or_user():
    rf = RequestFactory()
    auth = basic("budi", "tok")
    assert owntracks_identity(rf.post("/tracking/owntracks/", HTTP_AUTHORIZATION=auth, HTTP_X_LIMIT_D="hp-01")) == (
        "hp-01",
        "tok",
    )
    query = rf.post("/tracking/owntracks/?u=budi&d=hp-02", HTTP_AUTHORIZATION=auth)
    assert owntracks_identity(query) == ("hp-02", "tok")
    assert owntracks_identity(rf.post("/tracking/owntracks/", HTTP_AUTHORIZATION=basic("hp-03", "tok"))) == (
        "hp-03",
        "tok",
    )
