"""One PROJ transformation shared by every thread, instead of one built per thread.

pyproj keeps a PROJ object per thread (a `threading.local`) and builds it the first time a thread
transforms: ~8 ms of proj.db lookups. Under Daphne each request runs on a thread of its own, so
every ping upload and report paid those 8 ms of CPU (the load test's profile: ~16 % of the web
processes' time). Here the one PROJ object built at start is used by all threads, one at a time
(a PROJ context must not be used by two threads at once); a transform of a few thousand points
holds the lock for tens of microseconds.
"""

from __future__ import annotations

import threading
from functools import cache
from types import SimpleNamespace

from django.conf import settings
from pyproj import Transformer


class SharedTransformer:
    def __init__(self, crs_from: int, crs_to: int):
        self._transformer = Transformer.from_crs(crs_from, crs_to, always_xy=True)
        # pyproj 3.7 reads the PROJ object from `_local.transformer`; a plain namespace instead of
        # its thread-local makes every thread see the one built here (tests/test_projection.py).
        self._transformer._local = SimpleNamespace(transformer=self._transformer._transformer)
        self._lock = threading.Lock()

    def transform(self, xs, ys):
        """As `Transformer.transform` (arrays in, arrays out; scalars in, scalars out)."""
        with self._lock:
            return self._transformer.transform(xs, ys)


@cache
def to_metric_transformer() -> SharedTransformer:
    """STORAGE_SRID (EPSG:4326) -> METRIC_SRID (UTM 48S for Kota Tangerang)."""
    return SharedTransformer(settings.STORAGE_SRID, settings.METRIC_SRID)


@cache
def to_storage_transformer() -> SharedTransformer:
    """METRIC_SRID -> STORAGE_SRID (heatmap cells drawn in metres, stored and shown in degrees)."""
    return SharedTransformer(settings.METRIC_SRID, settings.STORAGE_SRID)
