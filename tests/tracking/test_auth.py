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
