"""The metric projection is one PROJ object for every thread: a request on a new thread (as under
Daphne) must not build its own (~8 ms each), and must get the same coordinates."""

from __future__ import annotations

import threading
import time

import numpy as np
from pyproj import Transformer

from core.projection import to_metric_transformer


def test_a_new_thread_uses_the_shared_projection_and_gets_the_same_metres():
    shared = to_metric_transformer()
    lons, lats = np.array([106.60, 106.68, 106.72]), np.array([-6.17, -6.19, -6.25])
    want = Transformer.from_crs(4326, 32748, always_xy=True).transform(lons, lats)
    inner = shared._transformer._transformer
    seen = {}

    def in_thread():
        start = time.perf_counter()
        seen["xy"] = shared.transform(lons, lats)
        seen["inner"] = shared._transformer._transformer
        seen["took"] = time.perf_counter() - start

    for _ in range(3):
        t = threading.Thread(target=in_thread)
        t.start()
        t.join()
        assert seen["inner"] is inner  # not rebuilt for the thread
        np.testing.assert_allclose(seen["xy"], want, atol=1e-6)


def test_scalars_stay_scalars():
    x, y = to_metric_transformer().transform(106.6, -6.2)
    assert isinstance(x, float) and isinstance(y, float)
