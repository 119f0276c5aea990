"""The native protocol: the app's JSON batch. The column reader answers as the per-ping reader; the
batch read straight from its bytes (msgspec) gives exactly what the general reader gives for the
parsed JSON, or steps aside (None) so the general reader names the problems."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.tracking.conftest import (
    native,
)
from tracking.errors import BatchTooLarge, MalformedPing
from tracking.fixes import COLUMNS, FixBatch
from tracking.models import Ping
from tracking.protocols.native import decode_native, decode_native_json, read_columns, read_ping

APP_BATCH = (
    b'{"device_id": "hp-01", "pings": ['
    b'{"time": "2025-03-04T08:00:00+07:00", "lat": -6.1862082, "lon": 106.6829919, "accuracy": 8.5, "speed": 1.2,'
    b' "heading": 90, "altitude": 21.4, "battery": 80, "mock": false},'
    b'{"time": "2025-03-04T08:00:10+07:00", "lat": -6.1862, "lon": 106.683, "accuracy": 9}]}'
)


def test_the_apps_batch_reads_the_same_on_both_paths():
    fast = decode_native_json(APP_BATCH)
    for device_id, fixes in [(fast.device_id, fast.fixes), decode_native(json.loads(APP_BATCH))]:
        assert device_id == "hp-01" and fixes.index.tolist() == [0, 1] and fixes.problems == []
        assert fixes.time_us.tolist() == [1_741_050_000_000_000, 1_741_050_010_000_000]
        assert fixes.accuracy.tolist() == [8.5, 9.0] and fixes.heading[0] == 90 and np.isnan(fixes.battery[1])
        assert fixes.mock.tolist() == [False, False]


def test_one_ping_object_or_a_bare_list_is_read_too():
    one = {"time": 1741050000, "lat": -6.18, "lon": 106.6, "device_id": "hp-01"}
    device_id, fixes = decode_native(one)
    assert device_id == "hp-01" and len(fixes) == 1
    device_id, fixes = decode_native([one, one])
    assert device_id is None and fixes.index.tolist() == [0, 1]


@pytest.mark.parametrize(
    "body, message",
    [("x", "the body must be"), ({"pings": {}}, '"pings" must be a list'), ({"pings": []}, "no pings")],
)
def test_an_unusable_body_is_refused(body, message):
    with pytest.raises(MalformedPing, match=message):
        decode_native(body)


def test_a_bad_ping_is_a_problem_in_its_place():
    assert read_ping(4, "x") == (4, "a ping must be an object")
    assert read_ping(5, {"time": "2025-03-04T01:00:00Z", "lat": -6.2}) == (5, "lon is missing")


def test_batch_of_100000_is_refused_cleanly(client, supervisor, t0):
    ping = {"time": t0.isoformat(), "lat": -6.18, "lon": 106.68}
    r = native(supervisor, {"pings": [ping] * 100_000})
    assert r.status_code == 413 and "at most 1000" in r.json()["detail"]
    assert Ping.objects.count() == 0


def test_column_decoder_answers_like_the_per_ping_reader():
    t = "2025-03-04T08:00:00+07:00"
    samples = [
        {"time": t, "lat": -6.18, "lon": 106.6, "accuracy": 5, "speed": 1.5, "heading": 90, "altitude": 3,
         "battery": 80, "mock": True},
        {"timestamp": 1741050000, "lat": "-6.18", "lon": "106.6"},  # epoch seconds, numbers as strings
        {"time": "1741050000123", "lat": -6.18, "lon": 106.6, "mock": "1"},  # milliseconds, flag as text
        {"time": "2025-03-04 01:00:00", "lat": -6.18, "lon": 106.6, "accuracy": None},  # naive = UTC
        {"time": t, "lat": True, "lon": 106.6},
        {"time": t, "lat": -6.18, "lon": "abc"},
        {"time": t, "lat": -6.18, "lon": 1e400},
        {"time": t, "lat": -6.18, "lon": 10**400},
        {"time": t, "lat": -6.18},
        {"time": "yesterday", "lat": -6.18, "lon": 106.6},
        {"lat": -6.18, "lon": 106.6},
        {"time": t, "lat": -6.18, "lon": 106.6, "battery": [80]},
        "not a ping",
        None,
    ]  # fmt: skip
    got = read_columns(samples)
    want = FixBatch.from_items([read_ping(i, p) for i, p in enumerate(samples)])
    assert sorted(got.problems) == sorted(want.problems)
    assert [p.index for p in sorted(got.problems)] == list(range(4, len(samples)))
    order = np.argsort(got.index)
    for name in ("index", "time_us", "lat", "lon", "accuracy", "speed", "heading", "altitude", "battery", "mock"):
        np.testing.assert_array_equal(getattr(got, name)[order], getattr(want, name), err_msg=name)


@pytest.mark.parametrize(
    "keys",
    [("time", "lat", "lon", "accuracy", "mock"), ("timestamp", "lat", "lon"), ("time", "timestamp", "lat", "lon")],
)
def test_uniform_batches_read_by_key_match_the_per_ping_reader(keys):
    values = {"time": "2025-03-04T01:00:00Z", "timestamp": 1741050000, "lat": -6.18, "lon": 106.6, "accuracy": 7,
              "mock": False}  # fmt: skip
    samples = [{k: values[k] for k in keys} for _ in range(3)]
    samples[1]["lat"] = "north"  # one bad value keeps the key set uniform
    got = read_columns(samples)
    want = FixBatch.from_items([read_ping(i, p) for i, p in enumerate(samples)])
    assert got.problems == want.problems == [(1, "lat must be a number, not 'north'")]
    for name in ("index", "time_us", "lat", "lon", "accuracy", "mock"):
        np.testing.assert_array_equal(np.sort(getattr(got, name)), np.sort(getattr(want, name)), err_msg=name)


@pytest.mark.parametrize(
    "later",
    [{"accuracy": 9}, {"mock": True}, {"time": "2025-03-04T02:00:00Z"}, {"foo": 1}, {"timestamp": 1741050000}],
)
def test_a_field_only_later_pings_have_is_read(later):
    samples = [{"timestamp": 1741050000 + i, "lat": -6.18, "lon": 106.6, "extra": i} for i in range(4)]
    samples[2].update(later)
    del samples[3]["extra"]
    got = read_columns(samples)
    want = FixBatch.from_items([read_ping(i, p) for i, p in enumerate(samples)])
    for name in ("index", "time_us", "lat", "lon", "accuracy", "mock"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name), err_msg=name)


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
