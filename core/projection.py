"""The two transformations between the storage SRID and the metric one, made once per process.

pyproj's Transformer is thread-safe by keeping a PROJ object per thread, built the first time a
thread transforms. Built from two CRS codes, that object searches proj.db for the operation
(~1.5 ms, more on a cold cache), and under Daphne each request's sync code runs on a thread of
its own. So the operation is looked up once, here, and each Transformer is made from its PROJ
pipeline string (`Transformer.from_pipeline`): a thread then builds its PROJ object without
proj.db (~0.1 ms) and gets the same coordinates. bench/bench_projection.py measures both.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from pyproj import Transformer


def pipeline_transformer(crs_from: int, crs_to: int) -> Transformer:
    """`Transformer.from_crs(crs_from, crs_to, always_xy=True)`, cheap to build in each new thread."""
    return Transformer.from_pipeline(Transformer.from_crs(crs_from, crs_to, always_xy=True).definition)


@cache
def to_metric_transformer() -> Transformer:
    """STORAGE_SRID (EPSG:4326) -> METRIC_SRID (UTM 48S for Kota Tangerang)."""
    return pipeline_transformer(settings.STORAGE_SRID, settings.METRIC_SRID)


@cache
def to_storage_transformer() -> Transformer:
    """METRIC_SRID -> STORAGE_SRID (heatmap cells drawn in metres, stored and shown in degrees)."""
    return pipeline_transformer(settings.METRIC_SRID, settings.STORAGE_SRID)
