"""The binary COPY stream: by runs of equal rows it is byte for byte what joining row by row writes;
columns every row leaves at their default are left out."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pytest

from tracking.areas import Enriched
from tracking.fixes import Fix, FixBatch
from tracking.ingest import copy


@pytest.mark.parametrize("seed", range(6))
def test_copy_payload_by_runs_equals_row_by_row(seed):
    """Runs of rows with equal kecamatan/geofences/unknowns are written as record arrays: byte for byte
    what joining row by row writes, whatever the runs (one, a few, many; unknowns in runs or scattered)."""
    from datetime import UTC, datetime
    from types import SimpleNamespace

    rng = np.random.default_rng(seed)
    n = [1, 2, 40, 1000, 300, 7][seed]
    change = [0.5, 0.5, 0.1, 0.005, 0.3, 0.0][seed]

    def runs_of(choices):
        out, cur = [], choices[0]
        for _ in range(n):
            if rng.random() < change:
                cur = choices[rng.integers(len(choices))]
            out.append(cur)
        return out

    def column(kind):
        values = rng.uniform(-10, 100, n)
        if kind == "all-unknown":
            values[:] = np.nan
        elif kind == "runs":
            values[np.array(runs_of([True, False]))] = np.nan
        elif kind == "scattered":
            values[rng.random(n) < 0.3] = np.nan
        return values

    kinds = ["known", "all-unknown", "runs", "scattered", "runs"] if seed != 4 else ["known"] * 5
    fixes = FixBatch(
        index=np.arange(n, dtype=np.int64),
        time_us=np.arange(n, dtype=np.int64) * 10_000_000 + 1_741_000_000_000_000,
        lat=rng.uniform(-6.2, -6.1, n),
        lon=rng.uniform(106.6, 106.7, n),
        **{
            name: column(kind)
            for name, kind in zip(("accuracy", "speed", "heading", "altitude", "battery"), kinds, strict=True)
        },
        mock=rng.random(n) < 0.1,
    )
    enriched = Enriched(
        runs_of([None, "36.71.05", "36.71.01"]),
        runs_of([(), (3,), (3, 17), (5,)]),
        (rng.random(n) < 0.8).tolist(),
    )
    device = SimpleNamespace(pk=12)
    at = datetime(2025, 3, 4, 1, 2, 3, 456789, tzinfo=UTC)
    by_rows = copy.copy_payload(device, 7, fixes, enriched, "native", at, max_runs=0)
    by_runs = copy.copy_payload(device, 7, fixes, enriched, "native", at, max_runs=n)
    assert by_runs == by_rows


AT = datetime(2025, 3, 4, 1, 0, tzinfo=UTC)


def test_columns_at_their_defaults_are_left_out_of_the_copy():
    device = SimpleNamespace(pk=1)
    one = FixBatch.from_items([Fix(0, AT, -6.18, 106.6, accuracy=5)])
    columns, payload = copy.copy_payload(device, 2, one, Enriched(["36.71.05"], [()], [True]), "native", AT)
    assert columns == (
        "device_id, supervisor_id, device_time, received_at, in_area, accuracy, point, source, kecamatan_code"
    )
    assert payload.startswith(copy.COPY_SIGNATURE) and payload.endswith(copy.COPY_TRAILER)
    assert int.from_bytes(payload[19:21], "big") == 9  # the row's field count
    full = FixBatch.from_items([
        Fix(0, AT, -6.18, 106.6, accuracy=5, speed=1, heading=2, altitude=3, battery=4, mock=True),
        Fix(1, AT + timedelta(seconds=10), -6.18, 106.6),
    ])  # fmt: skip
    columns, _payload = copy.copy_payload(
        device, 2, full, Enriched(["36.71.05", None], [(3,), ()], [True, False]), "native", AT
    )
    assert columns == (
        "device_id, supervisor_id, device_time, received_at, mock, in_area, point, source, kecamatan_code, "
        "geofence_ids, accuracy, speed, heading, altitude, battery"
    )
