"""The metric projection (core/projection.py): the operation PROJ finds for the two CRS codes, made
from its pipeline string so that a new thread (a request under Daphne) builds its PROJ object without
proj.db, with the same coordinates in every thread."""

from __future__ import annotations

import threading

import numpy as np
from pyproj import Transformer

from core.projection import to_metric_transformer, to_storage_transformer

LONS, LATS = np.array([106.60, 106.68, 106.72]), np.array([-6.17, -6.19, -6.25])


def test_a_new_thread_gets_the_same_metres_as_from_crs():
    want = Transformer.from_crs(4326, 32748, always_xy=True).transform(LONS, LATS)
    seen = []

    def in_thread():
        seen.append(to_metric_transformer().transform(LONS, LATS))

    for _ in range(3):
        t = threading.Thread(target=in_thread)
        t.start()
        t.join()
    assert len(seen) == 3
    for xy in seen:
        np.testing.assert_array_equal(xy, want)


def test_the_transformations_are_the_operations_from_crs_finds():
    """One pipeline string each (no CRS to look up again), the one from_crs chose, and made once."""
    for made, (a, b) in ((to_metric_transformer(), (4326, 32748)), (to_storage_transformer(), (32748, 4326))):
        assert made.definition == Transformer.from_crs(a, b, always_xy=True).definition
        assert made.definition.startswith("proj=pipeline")
    assert to_metric_transformer() is to_metric_transformer()


def test_metres_back_to_degrees():
    x, y = to_metric_transformer().transform(LONS, LATS)
    lons, lats = to_storage_transformer().transform(x, y)
    np.testing.assert_allclose(lons, LONS, atol=1e-9)
    np.testing.assert_allclose(lats, LATS, atol=1e-9)


def test_scalars_stay_scalars():
    x, y = to_metric_transformer().transform(106.6, -6.2)
    assert isinstance(x, float) and isinstance(y, float)
