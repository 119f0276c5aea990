"""The fix types: times as integer microseconds, a batch as columns."""

from datetime import UTC, date, datetime, timedelta

import numpy as np

from tracking.fixes import COLUMNS, Fix, FixBatch, Problem, from_us, to_us, utc_day

AT = datetime(2025, 3, 4, 1, 0, tzinfo=UTC)


def test_times_as_integer_microseconds():
    assert to_us(AT) == 1_741_050_000_000_000 and from_us(to_us(AT)) == AT
    assert to_us(AT + timedelta(microseconds=1)) - to_us(AT) == 1
    assert utc_day(to_us(datetime(2025, 3, 4, 23, 59, 59, 999999, tzinfo=UTC))) == date(2025, 3, 4)
    assert utc_day(to_us(datetime(2025, 3, 5, tzinfo=UTC))) == date(2025, 3, 5)
    assert utc_day(to_us(datetime(1969, 12, 31, 23, tzinfo=UTC))) == date(1969, 12, 31)


def test_a_batch_as_columns():
    items = [
        Fix(index=0, time=AT, lat=-6.18, lon=106.6, accuracy=5, mock=True),
        Problem(1, "lat is missing"),
        Fix(index=2, time=AT + timedelta(seconds=10), lat=-6.19, lon=106.61),
    ]
    batch = FixBatch.from_items(items)
    assert len(batch) == 2 and batch.index.tolist() == [0, 2] and batch.problems == [(1, "lat is missing")]
    assert batch.accuracy[0] == 5 and np.isnan(batch.accuracy[1]) and batch.mock.tolist() == [True, False]
    assert batch.time_us.dtype == np.int64 and batch.time_us.tolist() == [to_us(AT), to_us(AT) + 10_000_000]
    assert batch.take(np.array([1, 0])).index.tolist() == [2, 0]
    assert batch.take(np.array([False, True])).lat.tolist() == [-6.19]
    both = batch.concat(batch.take(np.array([0])))
    assert both.index.tolist() == [0, 2, 0] and both.problems == batch.problems * 2
    assert all(len(getattr(both, name)) == 3 for name in COLUMNS)
