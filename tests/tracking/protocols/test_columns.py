"""A column of times read at once (numpy) reads as the value-by-value reader, whatever the shape."""

from datetime import UTC, datetime

import numpy as np
import pytest

from tracking.protocols.columns import flags, numbers, read_time_us, times_us


def reference_times(values):
    """The value-by-value reader the batch path replaces: microseconds, and which are not times."""
    out, bad = [], []
    for v in values:
        try:
            out.append(read_time_us(v))
            bad.append(False)
        except (ValueError, OverflowError):
            out.append(0)
            bad.append(True)
    return out, bad


def assert_times_like_reference(values):
    got, bad = times_us(values)
    want, want_bad = reference_times(values)
    assert bad.tolist() == want_bad, values[:3]
    assert [g if not b else 0 for g, b in zip(got.tolist(), want_bad, strict=True)] == want, values[:3]


@pytest.mark.parametrize(
    "fmt",
    [
        "%Y-%m-%dT%H:%M:%S+00:00",
        "%Y-%m-%dT%H:%M:%SZ",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S+07:00",
        "%Y-%m-%dT%H:%M:%S-03:30",
        "%Y-%m-%dT%H:%M:%S.%f+07:00",
        "%Y-%m-%dT%H:%M:%S.%fZ",
        "%Y-%m-%dT%H:%M:%S.%f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S+0700",
        "%Y-%m-%dt%H:%M:%Sz",
    ],
)
def test_a_batch_of_iso_times_reads_like_the_per_ping_reader(fmt):

    rng = np.random.default_rng(4)
    base = datetime(2025, 3, 4, tzinfo=UTC).timestamp()
    moments = [datetime.fromtimestamp(base + float(s), tz=UTC) for s in rng.uniform(-5e8, 5e8, 300)]
    values = [m.strftime(fmt) for m in moments]
    assert_times_like_reference(values)
    for cut in (1, 3, 5):  # milliseconds and other fraction widths
        if ".%f" in fmt:
            assert_times_like_reference([v.replace(v[19 : 27 - cut], v[19 : 27 - cut][: 7 - cut]) for v in values])


@pytest.mark.parametrize(
    "odd",
    [
        "2025-02-30T08:00:00+00:00",  # no such day
        "2025-13-04T08:00:00+00:00",
        "2025-03-04T24:00:00+00:00",
        "2025-03-04T08:60:00+00:00",
        "2025-03-04T08:00:60+00:00",
        "0000-03-04T08:00:00+00:00",
        "0001-01-01T00:00:00+07:00",  # before datetime's first moment in UTC
        "9999-12-31T23:59:59-07:00",
        "2025-03-04T08:00:00+24:00",
        "2025-03-04T08:00:00+07:60",
        "2025-03-04T08:00:00+07:01",  # another offset than the batch's
        "2025-03-04 08:00:00+00:00",
        "2025-03-04T08:00:0 +00:00",
        "2025-03-04T08:00:00 00:00",
        "2025-03-04T08:00:00+00:0\u0660",
        "2025-03-04T08:00:00+00:\u00e90",
        "-025-03-04T08:00:00+00:00",
        "2025-03-04T08:00:00.+00:00",
        "1741050000000000000000000",
    ],
)
def test_one_odd_time_in_a_batch_is_judged_alone(odd):
    odd = odd.encode().decode("unicode_escape")
    values = ["2025-03-04T08:00:00+00:00", odd, "2025-03-04T08:00:10+00:00"]
    assert_times_like_reference(values)
    assert_times_like_reference([odd])
    assert_times_like_reference(values + [1741050000, None])


def test_one_time_reads_as_parse_time():
    want = 1_741_050_000_000_000
    assert read_time_us("2025-03-04T01:00:00Z") == read_time_us(1741050000) == read_time_us("1741050000000") == want
    assert read_time_us("2025-03-04T08:00:00+07:00") == read_time_us("2025-03-04 01:00:00") == want


def test_numbers_and_flags_read_as_one_by_one():
    arr, bad = numbers([1, 2.5, None, "3", True, "x", float("inf")], "speed")
    assert bad.tolist() == [False, False, False, False, True, True, True]
    assert arr[[0, 1, 3]].tolist() == [1.0, 2.5, 3.0] and np.isnan(arr[2])
    _arr, missing = numbers([1.0, None], "lat", required=True)
    assert missing.tolist() == [False, True]
    assert flags([True, None, False]).tolist() == [True, False, False]
    assert flags(["1", "yes", "no", 0, "on"]).tolist() == [True, True, False, False, True]
