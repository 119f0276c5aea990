"""Device authentication: the credentials in HTTP headers, each refusal named, the cache that only accepts."""

import base64

import pytest
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext

from tests.tracking.conftest import basic, make_supervisor
from tracking.auth import (
    BadToken,
    MissingCredentials,
    RevokedDevice,
    UnknownDevice,
    auth_cache,
    authenticate,
    basic_auth,
    bearer_token,
)
from tracking.errors import MalformedPing


def request_with(header: str | None):
    return RequestFactory().get("/", **({"HTTP_AUTHORIZATION": header} if header else {}))


@pytest.mark.parametrize(
    "header, want",
    [(None, (None, None)), (basic("hp-01", "s3cret:x"), ("hp-01", "s3cret:x")), ("Bearer abc", (None, None))],
)
def test_basic_auth(header, want):
    assert basic_auth(request_with(header)) == want


@pytest.mark.parametrize("header", ["Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode()])
def test_a_basic_header_that_is_not_user_and_password_is_refused(header):
    with pytest.raises(MalformedPing):
        basic_auth(request_with(header))


def test_bearer_token():
    assert bearer_token(request_with("Bearer  abc ")) == "abc"
    assert bearer_token(request_with("bearer abc")) == "abc"
    assert bearer_token(request_with("Bearer ")) is None and bearer_token(request_with(basic("a", "b"))) is None


@pytest.mark.django_db
def test_each_refusal_is_named(city):
    auth_cache.invalidate()
    sup = make_supervisor()
    device_id = sup.device.device_id
    with pytest.raises(MissingCredentials):
        authenticate(None, sup.token)
    with pytest.raises(UnknownDevice):
        authenticate("nope", sup.token)
    with pytest.raises(MissingCredentials):
        authenticate(device_id, None)
    with pytest.raises(BadToken):
        authenticate(device_id, "wrong")
    assert authenticate(device_id, sup.token).verified_hash == sup.device.token_hash
    assert authenticate(device_id, None, require_token=False).verified_hash is None  # OsmAnd without a token
    sup.device.revoke()  # saved here: this process's cache forgets the device
    with pytest.raises(RevokedDevice, match="revoked"):
        authenticate(device_id, sup.token)


@pytest.mark.django_db
def test_the_cache_only_ever_accepts(city, settings):
    auth_cache.invalidate()
    sup = make_supervisor()
    device_id = sup.device.device_id
    first = authenticate(device_id, sup.token)
    with CaptureQueriesContext(connection) as queries:
        assert authenticate(device_id, sup.token) is first
    assert len(queries) == 0
    with pytest.raises(BadToken):  # a refusal is decided on a fresh read
        authenticate(device_id, "wrong")
    settings.TRACKING_AUTH_CACHE_S = 0
    with CaptureQueriesContext(connection) as queries:
        authenticate(device_id, sup.token)
    assert len(queries) == 1


# A lone surrogate is legal JSON ("\ud800") but no text: each protocol answers 400 naming the field,
# before any lookup, whether or not the device exists.
LONE_SURROGATE_BODIES = [
    (
        "/api/tracking/pings/",
        b'{"device_id": "\\ud800", "pings": [{"time": "2026-12-08T01:00:00Z", "lat": -6.2, "lon": 106.6}]}',
        "device_id",
    ),
    (
        "/tracking/osmand/",
        b'{"device_id": "\\ud800", "location": {"timestamp": "2026-12-08T01:00:00Z",'
        b' "coords": {"latitude": -6.2, "longitude": 106.6}}}',
        "device_id",
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize("url, body, field", LONE_SURROGATE_BODIES)
def test_a_lone_surrogate_in_a_device_id_is_bad_input(city, client, url, body, field):
    r = client.post(url, body, content_type="application/json", HTTP_AUTHORIZATION="Bearer abc")
    assert r.status_code == 400, r.content
    assert field in r.json()["detail"] and "surrogate" in r.json()["detail"]


@pytest.mark.django_db
def test_a_lone_surrogate_in_a_token_is_bad_input(city):
    sup = make_supervisor()
    with pytest.raises(MalformedPing, match="token"):
        authenticate(sup.device.device_id, sup.token + "\ud800")
