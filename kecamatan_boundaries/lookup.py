"""In-process point lookup: shapely 2 prepared polygons behind an STRtree.

For hot paths that must not query the database per point (ping enrichment, benchmarks). It
follows the same rule as `BoundaryQuerySet.at()`: covering polygon, lowest code in overlaps,
nearest within the gap tolerance (measured in UTM 48S metres), otherwise None.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry.base import BaseGeometry

from core.projection import to_metric_transformer

from . import settings as app_settings
from .models import Generation, Kecamatan, Kelurahan


@dataclass(frozen=True)
class Area:
    """What a lookup answers: the area's row id, code and name."""

    id: int
    code: str
    name: str


class BoundaryIndex:
    """Point -> area for one level's current generation, all in memory."""

    def __init__(self, areas: list[Area], geoms: list[BaseGeometry], gap_tolerance_m: float | None = None):
        order = sorted(range(len(areas)), key=lambda i: areas[i].code)
        self.areas = [areas[i] for i in order]
        self.geoms = np.array([geoms[i] for i in order], dtype=object)
        for g in self.geoms:
            shapely.prepare(g)
        self.tree = STRtree(self.geoms)
        self.tolerance = app_settings.gap_tolerance_m() if gap_tolerance_m is None else gap_tolerance_m
        self._to_metric = to_metric_transformer()
        self._metric = np.array([shapely.transform(g, self._project) for g in self.geoms], dtype=object)
        self._metric_tree = STRtree(self._metric)

    def _project(self, coords: np.ndarray) -> np.ndarray:
        x, y = self._to_metric.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    @classmethod
    def for_model(cls, model: type[Kecamatan] | type[Kelurahan]) -> BoundaryIndex:
        """The index of the model's current generation, read from the database once."""
        rows = list(model.objects.current().only("id", "code", "name", "geom"))
        areas = [Area(r.id, r.code, r.name) for r in rows]
        geoms = [shapely.from_wkb(bytes(r.geom.wkb)) for r in rows]
        return cls(areas, geoms)

    def locate(self, lon: float, lat: float) -> Area | None:
        """The area at (lon, lat) in EPSG:4326, or None outside the city."""
        point = shapely.Point(lon, lat)
        hits = self.tree.query(point, predicate="covered_by")
        if len(hits):
            return self.areas[int(min(hits))]  # indexes are in code order
        if self.tolerance <= 0:
            return None
        mx, my = self._to_metric.transform(lon, lat)
        metric_point = shapely.Point(mx, my)
        near = self._metric_tree.query(metric_point, predicate="dwithin", distance=self.tolerance)
        if not len(near):
            return None
        best = min(near, key=lambda i: (self._metric[i].distance(metric_point), i))
        return self.areas[int(best)]

    def locate_many(self, lons: np.ndarray, lats: np.ndarray) -> list[Area | None]:
        """Vectorised lookup: one STRtree query for all points, one more for the gap fallback."""
        lons = np.asarray(lons, dtype=float)
        lats = np.asarray(lats, dtype=float)
        best = self._covering(shapely.points(lons, lats), self.tree)
        misses = np.nonzero(best < 0)[0]
        if self.tolerance > 0 and len(misses):
            mx, my = self._to_metric.transform(lons[misses], lats[misses])
            metric_points = shapely.points(mx, my)
            pt_idx, geom_idx = self._metric_tree.query(metric_points, predicate="dwithin", distance=self.tolerance)
            if len(pt_idx):
                dist = shapely.distance(metric_points[pt_idx], self._metric[geom_idx])
                # nearest first, then lowest code (index order) for ties
                order = np.lexsort((geom_idx, dist, pt_idx))
                first = np.ones(len(order), dtype=bool)
                first[1:] = pt_idx[order][1:] != pt_idx[order][:-1]
                chosen = order[first]
                best[misses[pt_idx[chosen]]] = geom_idx[chosen]
        return [self.areas[int(i)] if i >= 0 else None for i in best]

    @staticmethod
    def _covering(points: np.ndarray, tree: STRtree) -> np.ndarray:
        """For each point, the lowest index of a covering polygon, or -1."""
        pt_idx, geom_idx = tree.query(points, predicate="covered_by")
        best = np.full(len(points), -1, dtype=np.int64)
        if len(pt_idx):
            order = np.lexsort((geom_idx, pt_idx))
            first = np.ones(len(order), dtype=bool)
            first[1:] = pt_idx[order][1:] != pt_idx[order][:-1]
            best[pt_idx[order][first]] = geom_idx[order][first]
        return best


class CachedIndex:
    """A process-wide BoundaryIndex that rebuilds when the level's active generation changes.

    In the activating process the `boundaries_activated` signal drops it at once; other
    processes notice within `recheck_s` seconds by asking which generation is active.
    """

    def __init__(self, model: type[Kecamatan] | type[Kelurahan], level: str, recheck_s: float = 30.0):
        self.model = model
        self.level = level
        self.recheck_s = recheck_s
        self._lock = threading.Lock()
        self._index: BoundaryIndex | None = None
        self._generation_id: int | None = None
        self._checked_at = 0.0

    def invalidate(self, **kwargs: object) -> None:
        """Drop the index (a `boundaries_activated` receiver); the next `get` rebuilds it."""
        with self._lock:
            self._index = None

    def _active_generation(self) -> int | None:
        return Generation.objects.active().for_level(self.level).values_list("id", flat=True).first()

    def get(self) -> BoundaryIndex:
        """The index of the level's active generation (checked every `recheck_s` seconds)."""
        with self._lock:
            now = time.monotonic()
            if self._index is not None and now - self._checked_at > self.recheck_s:
                self._checked_at = now
                if self._active_generation() != self._generation_id:
                    self._index = None
            if self._index is None:
                self._generation_id = self._active_generation()
                self._index = BoundaryIndex.for_model(self.model)
                self._checked_at = now
            return self._index


kecamatan_index = CachedIndex(Kecamatan, "kecamatan")
kelurahan_index = CachedIndex(Kelurahan, "kelurahan")
