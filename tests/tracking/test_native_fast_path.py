"""The native batch read straight from its bytes (msgspec) gives exactly what the general reader
gives for the parsed JSON, or steps aside (None) so the general reader names the problems."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tracking.protocols import COLUMNS, BatchTooLarge, MalformedPing, decode_native, decode_native_json

T = "2026-11-30T01:00:00Z"


def general(raw: bytes):
    return decode_native(json.loads(raw))


def assert_same_or_stepped_aside(raw: bytes) -> bool:
    """True when the fast path answered (and agreed with the general one)."""
    fast = decode_native_json(raw)
    if fast is None:
        return False
    device_id, fixes = general(raw)
    assert fast.device_id == device_id
    assert not fixes.problems and len(fast.fixes) == len(fixes)
    for name in COLUMNS:
        np.testing.assert_array_equal(getattr(fast.fixes, name), getattr(fixes, name), err_msg=name)
        assert getattr(fast.fixes, name).dtype == getattr(fixes, name).dtype, name
    return True


def body(*pings, **extra) -> bytes:
    return json.dumps({**extra, "pings": list(pings)}).encode()


def test_a_phones_batch_takes_the_fast_path():
    pings = [
        {"time": f"2026-11-30T01:{m:02d}:00+07:00", "lat": -6.18 + m / 1e4, "lon": 106.6, "accuracy": 8.5,
         "speed": 1.2, "heading": 90, "altitude": None, "battery": 80, "mock": False}
        for m in range(60)
    ]  # fmt: skip
    assert assert_same_or_stepped_aside(body(*pings, device_id="hp-01"))


@pytest.mark.parametrize(
    "raw",
    [
        body({"time": T, "lat": -6, "lon": 106}),  # integers for coordinates
        body(  # no null anywhere (the plain shape): optional values present in one ping, absent in the next
            {
                "time": T,
                "lat": -6.1,
                "lon": 106.6,
                "accuracy": 4,
                "speed": 1.5,
                "heading": 0,
                "altitude": -3.25,
                "battery": 99,
                "mock": True,
            },
            {"time": "2026-11-30T01:00:10Z", "lat": -6.2, "lon": 106.7},
        ),  # fmt: skip
        body({"timestamp": 1796000000, "lat": -6.1, "lon": 106.6}),  # "timestamp" instead of "time"
        body({"time": 1796000000123, "lat": -6.1, "lon": 106.6}),  # milliseconds
        body({"time": T, "timestamp": 5, "lat": -6.1, "lon": 106.6}),  # "time" wins
        body({"time": T, "lat": -6.1, "lon": 106.6, "mock": True}, {"time": T[:-1], "lat": 1, "lon": 2, "mock": None}),
        body({"time": T, "lat": -6.1, "lon": 106.6, "speed": None, "extra": {"x": [1]}}),  # unknown fields
        body({"time": T, "lat": -6.1, "lon": 106.6}, device_id=12345678901234567890123),  # a big integer id
        body({"time": T, "lat": -6.1, "lon": 106.6}, device_id=""),
        body({"time": T, "lat": 123456789012345678901234567890, "lon": 106.6}),  # kept exact, then invalid
        b'{"pings": [{"time": "2026-11-30T01:00:00Z", "lat": 1, "lat": -6.2, "lon": 106.6}]}',  # the last wins
    ],
)
def test_accepted_shapes_read_alike(raw):
    assert assert_same_or_stepped_aside(raw)


@pytest.mark.parametrize(
    "raw",
    [
        body({"time": T, "lat": "-6.1", "lon": 106.6}),  # a number as a string: the general reader decides
        body({"time": T, "lat": -6.1}),  # no longitude
        body({"time": None, "timestamp": 5, "lat": -6.1, "lon": 106.6}),  # "time": null is no time
        body({"lat": -6.1, "lon": 106.6}),  # no time
        body({"time": "yesterday", "lat": -6.1, "lon": 106.6}),
        body({"time": True, "lat": -6.1, "lon": 106.6}),
        body({"time": T, "lat": -6.1, "lon": 106.6, "mock": "yes"}),
        body({"time": T, "lat": -6.1, "lon": 106.6}, 5),
        body(),
        body({"time": T, "lat": -6.1, "lon": 106.6}, device_id=1.5),
        json.dumps([{"time": T, "lat": -6.1, "lon": 106.6}]).encode(),  # a bare list
        json.dumps({"time": T, "lat": -6.1, "lon": 106.6}).encode(),  # one ping object
        b'{"pings": [{"time": "2026-11-30T01:00:00Z", "lat": 1e400, "lon": 1}]}',
        b'{"pings": [{"time": "2026-11-30T01:00:00Z", "lat": NaN, "lon": 1}]}',
        b"\xef\xbb\xbf" + body({"time": T, "lat": -6.1, "lon": 106.6}),
        b"{not json",
        b"",
    ],
)
def test_anything_else_goes_to_the_general_reader(raw):
    assert decode_native_json(raw) is None


def test_too_many_pings_go_to_the_general_reader_which_refuses_them(settings):
    settings.TRACKING_MAX_BATCH = 3
    raw = body(*[{"time": T, "lat": -6.1, "lon": 106.6}] * 4)
    assert decode_native_json(raw) is None
    with pytest.raises(BatchTooLarge):
        general(raw)
    with pytest.raises(MalformedPing):
        general(body())


values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([T, "2026-11-30T08:00:00.5+07:00", "2026-11-30 01:00:00", "1796000000", "x", ""]),
)
ping = st.dictionaries(
    st.sampled_from(["time", "timestamp", "lat", "lon", "accuracy", "speed", "heading", "altitude", "battery",
                     "mock", "other"]),
    values,
)  # fmt: skip
good_ping = st.fixed_dictionaries(
    {"time": st.just(T), "lat": st.floats(-90, 90), "lon": st.floats(-180, 180)},
    optional={
        "accuracy": st.floats(0, 500) | st.none(),
        "mock": st.booleans() | st.none(),
        "battery": st.integers(0, 100),
    },
)


@hsettings(max_examples=300, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
@given(
    pings=st.lists(good_ping | ping, min_size=1, max_size=8), device_id=st.none() | st.text(max_size=5) | st.integers()
)
def test_any_batch_reads_alike_or_steps_aside(pings, device_id):
    assert_same_or_stepped_aside(json.dumps({"device_id": device_id, "pings": pings}).encode())
