"""Enrichment in process: kecamatan, geofences and "inside the assigned area" for many fixes at once.

Kecamatan come from `kecamatan_boundaries.lookup.kecamatan_index` (shapely prepared polygons
behind an STRtree, rebuilt when a boundary generation activates). Geofences get the same
treatment here, rebuilt when a geofence is saved or deleted (signal) and, in other processes,
when the table's version changes (checked at most every `recheck_s`). No database query per fix.

Area membership uses the fix's accuracy as a margin, capped (TRACKING_AREA_MARGIN_CAP_M): a fix
whose error circle touches the area counts as inside. Distances are in UTM 48S metres.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
import shapely
from django.db.models import Count, Max
from shapely import STRtree
from shapely.geometry.base import BaseGeometry

from core.projection import to_metric_transformer
from kecamatan_boundaries.lookup import BoundaryIndex, kecamatan_index

from . import settings as ts
from .models import Geofence


def to_metric(lons: np.ndarray, lats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """EPSG:4326 -> UTM 48S (metres), vectorised."""
    x, y = to_metric_transformer().transform(np.asarray(lons, dtype=float), np.asarray(lats, dtype=float))
    return np.asarray(x), np.asarray(y)


def _metric_geom(geom: BaseGeometry) -> BaseGeometry:
    def project(coords: np.ndarray) -> np.ndarray:
        x, y = to_metric_transformer().transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, project)


class GeofenceIndex:
    """Active geofences in memory: every geofence covering a point (they may overlap)."""

    def __init__(self, ids: list[int], geoms: list[BaseGeometry]):
        self.ids = ids
        self.geoms = np.array(geoms, dtype=object)
        for g in self.geoms:
            shapely.prepare(g)
        self.tree = STRtree(self.geoms) if len(ids) else None
        self.metric = {gid: _metric_geom(g) for gid, g in zip(ids, geoms, strict=True)}

    @classmethod
    def load(cls) -> GeofenceIndex:
        rows = list(Geofence.objects.filter(active=True).only("id", "geom"))
        return cls([r.id for r in rows], [shapely.from_wkb(bytes(r.geom.wkb)) for r in rows])

    def locate_many(self, lons: np.ndarray, lats: np.ndarray) -> list[tuple[int, ...]]:
        """The sorted ids of the geofences covering each point (one shared () for the many in none)."""
        result: list[tuple[int, ...]] = [()] * len(lons)
        if self.tree is None or not len(lons):
            return result
        pts, geoms = self.tree.query(shapely.points(lons, lats), predicate="covered_by")
        hits: dict[int, list[int]] = {}
        for p, g in zip(pts.tolist(), geoms.tolist(), strict=True):
            hits.setdefault(p, []).append(self.ids[g])
        for p, ids in hits.items():
            result[p] = tuple(sorted(ids))
        return result


class CachedGeofenceIndex:
    def __init__(self, recheck_s: float = 30.0):
        self.recheck_s = recheck_s
        self._lock = threading.Lock()
        self._index: GeofenceIndex | None = None
        self._version: tuple | None = None
        self._checked_at = 0.0

    def invalidate(self, **kwargs) -> None:
        with self._lock:
            self._index = None

    @staticmethod
    def _current_version() -> tuple:
        agg = Geofence.objects.aggregate(n=Count("id"), last=Max("updated_at"))
        return (agg["n"], agg["last"])

    def get(self) -> GeofenceIndex:
        with self._lock:
            now = time.monotonic()
            if self._index is not None and now - self._checked_at > self.recheck_s:
                self._checked_at = now
                if self._current_version() != self._version:
                    self._index = None
            if self._index is None:
                self._version = self._current_version()
                self._index = GeofenceIndex.load()
                self._checked_at = now
            return self._index


geofence_index = CachedGeofenceIndex()


class _KecamatanMetric:
    """Metric (UTM 48S) kecamatan polygons by code, rebuilt whenever the boundary index is."""

    def __init__(self):
        self._lock = threading.Lock()
        self._source: BoundaryIndex | None = None
        self._by_code: dict[str, BaseGeometry] = {}

    def get(self) -> dict[str, BaseGeometry]:
        index = kecamatan_index.get()
        with self._lock:
            if index is not self._source:
                self._by_code = {a.code: _metric_geom(g) for a, g in zip(index.areas, index.geoms, strict=True)}
                self._source = index
            return self._by_code


kecamatan_metric = _KecamatanMetric()


class _KecamatanCodes:
    """Kecamatan code of many points at once, by the same rule as `BoundaryIndex.locate_many`.

    `locate_many` asks its STRtree for `covered_by` pairs (~7 ms per 1000 points here); with 13
    prepared polygons a bounding-box filter plus `shapely.intersects_xy` per polygon, in code
    order, gives the same answer (for a point, intersects = covered by; first hit = lowest code)
    about 10x faster. Points in no polygon (gaps, outside the city) still go to `locate_many`
    for its nearest-within-tolerance rule.

    Before that, a grid (`_Grid`) answers most points with one array lookup: the per-polygon
    loop cost ~0.45 ms per 1000 points even when every point lay deep inside one kecamatan.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._source: BoundaryIndex | None = None
        self._bounds = np.empty((0, 4))
        self._grid: _Grid | None = None
        self._codes = np.empty(0, dtype=object)

    def locate(self, lons: np.ndarray, lats: np.ndarray) -> list[str | None]:
        return self.locate_index(lons, lats)[0]

    def locate_index(self, lons: np.ndarray, lats: np.ndarray) -> tuple[list[str | None], np.ndarray, np.ndarray]:
        """(each point's code, each point's position in the code table or -1 for none, the code
        table): equal positions are equal codes, so runs and changes are found on integers."""
        index = kecamatan_index.get()
        with self._lock:
            if index is not self._source:
                self._bounds = shapely.bounds(index.geoms)
                self._grid = _Grid(index.geoms)
                self._codes = np.array([a.code for a in index.areas] + [None], dtype=object)  # -1: none
                self._source = index
            bounds, grid, code_of = self._bounds, self._grid, self._codes
        best, candidates = grid.lookup(lons, lats)
        rest = np.nonzero(best < 0)[0]
        if len(rest):
            lon_r, lat_r = lons[rest], lats[rest]
            found = np.full(len(rest), -1, dtype=np.int64)
            for i in candidates:  # code order
                geom = index.geoms[i]
                minx, miny, maxx, maxy = bounds[i]
                box = (lon_r >= minx) & (lon_r <= maxx) & (lat_r >= miny) & (lat_r <= maxy)
                todo = np.nonzero((found < 0) & box)[0]
                if len(todo):
                    found[todo[shapely.intersects_xy(geom, lon_r[todo], lat_r[todo])]] = i
            best[rest] = found
        misses = np.nonzero(best < 0)[0]
        if len(misses):
            position = {code: i for i, code in enumerate(code_of[:-1].tolist())}
            for i, area in zip(misses.tolist(), index.locate_many(lons[misses], lats[misses]), strict=True):
                best[i] = position.get(area.code, -1) if area else -1
        return code_of[best].tolist(), best, code_of


class _Grid:
    """Cells of CELL_DEG over the kecamatan: a cell that only one polygon touches, and that
    polygon's interior holds it whole, answers for every point in it (no other polygon can hold
    any of them, so the first-hit rule gives that one). Every other cell says -1: ask the polygons.
    With Kota Tangerang's 13 kecamatan and ~110 m cells, ~86 % of the city's area is answered here;
    built in ~40 ms when the boundary index is. The other cells remember which polygons touch
    them (a bit each), so the points in them are tested against those two or three only. Boundaries
    spanning more than MAX_CELLS of them (a whole province loaded) get larger cells instead."""

    CELL_DEG = 0.001
    MAX_CELLS = 250_000

    def __init__(self, geoms: np.ndarray):
        if not len(geoms):
            self.origin, self.cell, self.nx, self.ny, self.n = (0.0, 0.0), self.CELL_DEG, 0, 0, 0
            self.labels, self.masks = np.empty(0, dtype=np.int16), None
            return
        minx, miny, maxx, maxy = shapely.total_bounds(geoms)
        cell = max(self.CELL_DEG, float(np.sqrt((maxx - minx) * (maxy - miny) / self.MAX_CELLS)))
        nx, ny = int(np.ceil((maxx - minx) / cell)) + 1, int(np.ceil((maxy - miny) / cell)) + 1
        col, row = np.meshgrid(np.arange(nx), np.arange(ny), indexing="xy")
        x0, y0 = minx + col.ravel() * cell, miny + row.ravel() * cell
        boxes = shapely.box(x0, y0, x0 + cell, y0 + cell)
        self.n = len(geoms)
        touching = np.zeros(nx * ny, dtype=np.int16)
        inside = np.full(nx * ny, -1, dtype=np.int16)
        masks = np.zeros(nx * ny, dtype=np.uint64)
        for i, geom in enumerate(geoms):
            gx0, gy0, gx1, gy1 = shapely.bounds(geom)
            near = np.nonzero((x0 <= gx1) & (x0 + cell >= gx0) & (y0 <= gy1) & (y0 + cell >= gy0))[0]
            hit = near[shapely.intersects(geom, boxes[near])]
            touching[hit] += 1
            inside[hit[shapely.contains_properly(geom, boxes[hit])]] = i
            if self.n <= 64:
                masks[hit] |= np.uint64(1 << i)
        self.origin, self.cell, self.nx, self.ny = (minx, miny), cell, nx, ny
        self.labels = np.where(touching == 1, inside, -1).astype(np.int16)
        self.masks = masks if self.n <= 64 else None

    def lookup(self, lons: np.ndarray, lats: np.ndarray) -> tuple[np.ndarray, list[int]]:
        """(the polygon's index for each point or -1 where the polygons must be asked, the polygons
        to ask for those, in code order)."""
        out = np.full(len(lons), -1, dtype=np.int64)
        if not self.nx:
            return out, []
        col = np.floor((lons - self.origin[0]) / self.cell)
        row = np.floor((lats - self.origin[1]) / self.cell)
        ok = (col >= 0) & (col < self.nx) & (row >= 0) & (row < self.ny)  # NaN compares False
        cells = row[ok].astype(np.int64) * self.nx + col[ok].astype(np.int64)
        out[ok] = self.labels[cells]
        if self.masks is None:  # more polygons than bits: ask every one
            return out, list(range(self.n))
        # A point off the grid is outside every polygon's bounds: no polygon needs asking for it.
        asking = self.masks[cells[out[ok] < 0]]
        mask = int(np.bitwise_or.reduce(asking)) if len(asking) else 0
        return out, [i for i in range(self.n) if mask >> i & 1]


kecamatan_codes = _KecamatanCodes()


@dataclass
class AssignedArea:
    """What a supervisor must be inside: any of these kecamatan or geofences."""

    kecamatan_codes: frozenset[str] = field(default_factory=frozenset)
    geofence_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def empty(self) -> bool:
        return not self.kecamatan_codes and not self.geofence_ids


@dataclass
class Enriched:
    kecamatan_codes: list[str | None]
    geofence_ids: list[tuple[int, ...]]  # sorted
    in_area: list[bool]
    # the kecamatan as integers (equal numbers, equal codes; -1 none), when enrich made them
    kecamatan_index: np.ndarray | None = None

    def take(self, keep: np.ndarray) -> Enriched:
        """The fixes where `keep` (a boolean mask) is true."""
        pick = np.flatnonzero(keep).tolist()
        return Enriched(
            [self.kecamatan_codes[i] for i in pick],
            [self.geofence_ids[i] for i in pick],
            [self.in_area[i] for i in pick],
            None if self.kecamatan_index is None else self.kecamatan_index[keep],
        )


def enrich(lons: np.ndarray, lats: np.ndarray, accuracies: np.ndarray, area: AssignedArea) -> Enriched:
    """Kecamatan, geofences and area membership (with the accuracy margin) of each fix, vectorised.

    Kecamatan by `kecamatan_codes` (the boundary index's polygons), geofences by one STRtree
    query; the margin test runs only for fixes
    outside the area with a known accuracy (NaN = unknown), as one vectorised `dwithin` per
    assigned shape.
    """
    lon_a = np.asarray(lons, dtype=float)
    lat_a = np.asarray(lats, dtype=float)
    acc_a = np.asarray(accuracies, dtype=float)
    kec, kec_index, table = kecamatan_codes.locate_index(lon_a, lat_a)
    gf_index = geofence_index.get()
    gfs = gf_index.locate_many(lon_a, lat_a)
    codes, fences = area.kecamatan_codes, area.geofence_ids
    assigned = [i for i, code in enumerate(table[:-1].tolist()) if code in codes]
    inside = np.isin(kec_index, assigned) if assigned else np.zeros(len(kec), dtype=bool)
    if fences:
        inside |= np.fromiter((not fences.isdisjoint(g) for g in gfs), dtype=bool, count=len(gfs))
    cap = ts.area_margin_cap_m()
    if cap > 0 and not area.empty:
        pending = np.nonzero(~inside & (acc_a > 0))[0]  # NaN (unknown accuracy) is not > 0
        if len(pending):
            xs, ys = to_metric(lon_a[pending], lat_a[pending])
            points = shapely.points(xs, ys)
            margins = np.minimum(acc_a[pending], cap)
            kec_metric = kecamatan_metric.get()
            shapes = [kec_metric[c] for c in sorted(codes) if c in kec_metric]
            shapes += [gf_index.metric[g] for g in sorted(fences) if g in gf_index.metric]
            near = np.zeros(len(pending), dtype=bool)
            for shape in shapes:
                near |= shapely.dwithin(shape, points, margins)
            inside[pending] = near
    return Enriched(kec, gfs, inside.tolist(), kec_index)


def assigned_area(supervisor) -> AssignedArea:
    return AssignedArea(
        frozenset(supervisor.kecamatan_codes or []),
        frozenset(supervisor.geofences.filter(active=True).values_list("id", flat=True)),
    )
