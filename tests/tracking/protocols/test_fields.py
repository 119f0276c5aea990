"""The fields every protocol reads: times, numbers and flags, and their errors."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.tracking.conftest import (
    native,
)
from tracking.fixes import Fix
from tracking.protocols.fields import fix_or_problem, flag, number, parse_time

pytestmark = pytest.mark.django_db


AT = datetime(2025, 3, 4, 1, 0, tzinfo=UTC)  # 08:00 WIB, epoch 1741050000


@pytest.mark.parametrize(
    "value, want",
    [
        (1741050000, AT),
        (1741050000.5, AT + timedelta(milliseconds=500)),
        ("1741050000", AT),
        (1741050000000, AT),  # milliseconds
        ("2025-03-04T08:00:00+07:00", AT),
        ("2025-03-04 01:00:00", AT),  # naive: UTC
        ("2025-03-04T01:00:00", AT),
    ],
)
def test_parse_time_reads_epoch_seconds_milliseconds_and_iso(value, want):
    assert parse_time(value) == want


@pytest.mark.parametrize(
    "value, message",
    [
        (None, "timestamp is missing"),
        ("", "timestamp is missing"),
        (True, "timestamp is missing"),
        ("yesterday", "neither epoch seconds/milliseconds nor ISO 8601"),
        (float("nan"), "is not a time"),
        ("0001-01-01T00:00:00+07:00", "out of range"),
    ],
)
def test_parse_time_names_what_is_wrong(value, message):
    with pytest.raises(ValueError, match=message):
        parse_time(value)


def test_numbers_and_flags():
    assert number("12.5", "acc") == 12.5 and number(None, "acc") is None and number("", "acc") is None
    for value, message in [(True, "acc must be a number, not True"), ("x", "acc must be a number, not 'x'"),
                           ("inf", "acc must be a finite number, not 'inf'")]:  # fmt: skip
        with pytest.raises(ValueError, match=re.escape(message)):
            number(value, "acc")
    with pytest.raises(ValueError, match="lat is missing"):
        number(None, "lat", required=True)
    assert [flag(v) for v in (True, None, "TRUE", " yes ", "0", 1)] == [True, False, True, True, False, True]


def test_a_field_that_fails_is_the_pings_problem():
    fix = Fix(index=3, time=AT, lat=-6.2, lon=106.6)
    assert fix_or_problem(3, lambda: fix) is fix
    assert fix_or_problem(3, lambda: Fix(index=3, time=parse_time("x"), lat=0, lon=0)) == (
        3,
        "timestamp 'x' is neither epoch seconds/milliseconds nor ISO 8601",
    )


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
    r = native(supervisor, body)
    assert r.status_code == 400 and r.json()["stored"] == 0 and r.json()["detail"].startswith("ping 0: ")
    r = client.get(
        "/tracking/osmand/",
        {"id": supervisor.device.device_id, "token": supervisor.token, "timestamp": "0001-01-01T00:00:00+07:00",
         "lat": -6.2, "lon": 106.6},
    )  # fmt: skip
    assert r.status_code == 400 and "out of range" in r.json()["detail"]
