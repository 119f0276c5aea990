"""Reading a boundary file into checked rows in EPSG:4326, without touching the database.

This is the dry run of a load (`loaders.load_boundaries` writes what it returns): the layer is
read with pyogrio, its coordinate system checked (or taken from --srid) and reprojected, the
name, code and parent fields found by the conventions of BIG and GADM files or as given,
Kemendagri codes normalised, duplicates and empty values refused, and each geometry repaired
(made valid, 2D, polygonal parts only) with the repair noted. Anything wrong raises
`BoundaryFileError` naming the problem.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely
from django.conf import settings
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from .files import BoundaryFileError, open_boundary_file
from .models import Generation, Level

# Field names by convention, most specific first. BIG (Badan Informasi Geospasial): NAMOBJ is
# the feature's own name, WADMKC the kecamatan name, WADMKD the desa/kelurahan name, KDCPUM and
# KDEPUM the Kemendagri codes. GADM: NAME_3/GID_3 kecamatan, NAME_4/GID_4 kelurahan.
FIELD_CANDIDATES: dict[str, dict[str, list[str]]] = {
    Level.KECAMATAN: {
        "name": ["name", "nama", "nama_kec", "nm_kec", "kecamatan", "wadmkc", "namobj", "name_3"],
        "code": ["code", "kode", "kode_kec", "kd_kec", "kdcpum", "gid_3"],
        "parent": [],
    },
    Level.KELURAHAN: {
        "name": ["name", "nama", "nama_kel", "nm_kel", "kelurahan", "desa", "wadmkd", "namobj", "name_4"],
        "code": ["code", "kode", "kode_kel", "kd_kel", "kdepum", "gid_4"],
        "parent": ["kecamatan_code", "kode_kec", "kd_kec", "kdcpum", "gid_3", "kecamatan", "wadmkc", "name_3"],
    },
}


@dataclass
class LoadOptions:
    """One load's parameters, from the command's options or the upload form (what to read, and
    with `commit`, how to record the generation)."""

    level: str
    name_field: str | None = None
    code_field: str | None = None
    parent_field: str | None = None
    layer: str | None = None
    srid: int | None = None
    encoding: str | None = None
    commit: bool = False
    description: str = ""
    loaded_by: str = ""
    source_name: str | None = None  # shown in the generation; defaults to the file name


@dataclass
class BoundaryRow:
    """One checked feature, ready to be written; `repairs` says what was fixed in its geometry."""

    name: str
    code: str
    geom: MultiPolygon  # EPSG:4326
    area_km2: float
    vertices: int
    repairs: list[str] = field(default_factory=list)
    parent_code: str = ""
    parent_id: int | None = None


@dataclass
class LoadResult:
    """What a load read (and, committed, the generation it wrote), with notes for GIS staff."""

    level: str
    source_name: str
    source_crs: str
    fields: dict[str, str | None]
    rows: list[BoundaryRow]
    messages: list[str]
    generation: Generation | None = None

    @property
    def repaired(self) -> list[BoundaryRow]:
        return [r for r in self.rows if r.repairs]


ProgressFn = Callable[[int, int], None]


def _pick_field(columns: list[str], given: str | None, candidates: list[str], role: str) -> str | None:
    by_lower = {c.lower(): c for c in columns}
    if given:
        if given in columns:
            return given
        if given.lower() in by_lower:
            return by_lower[given.lower()]
        raise BoundaryFileError(f"{role} field '{given}' does not exist; the file's fields are: {', '.join(columns)}")
    for cand in candidates:
        if cand in by_lower:
            return by_lower[cand]
    return None


def normalise_code(value: object) -> str:
    """Kemendagri codes as dotted strings: 367105 -> 36.71.05, 3671051001 -> 36.71.05.1001."""
    if value is None:
        return ""
    text = str(value).strip()
    if re.fullmatch(r"\d+\.0", text):  # numeric columns read as float
        text = text[:-2]
    if re.fullmatch(r"\d{6}", text):
        return f"{text[:2]}.{text[2:4]}.{text[4:6]}"
    if re.fullmatch(r"\d{10}", text):
        return f"{text[:2]}.{text[2:4]}.{text[4:6]}.{text[6:]}"
    return text


def _polygonal(geom: BaseGeometry) -> MultiPolygon:
    """Keep only polygonal parts, as one MultiPolygon."""
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    if isinstance(geom, MultiPolygon):
        return geom
    parts: list[Polygon] = []
    for g in getattr(geom, "geoms", []):
        if isinstance(g, (Polygon, MultiPolygon)):
            parts.extend(_polygonal(g).geoms)
        elif hasattr(g, "geoms"):
            parts.extend(_polygonal(g).geoms)
    return MultiPolygon([p for p in parts if not p.is_empty])


def _repair(geom: BaseGeometry) -> tuple[MultiPolygon, list[str]]:
    """Valid, 2D and polygonal, as the database and the point lookups need; the list says what changed."""
    repairs: list[str] = []
    if shapely.get_coordinate_dimension(geom) > 2:
        geom = shapely.force_2d(geom)
    if not geom.is_valid:
        reason = shapely.is_valid_reason(geom)
        fixed = shapely.make_valid(geom)
        dropped = fixed.geom_type not in ("Polygon", "MultiPolygon")
        geom = fixed
        repairs.append(f"invalid ({reason}); repaired" + (", non-polygonal parts dropped" if dropped else ""))
    multi = _polygonal(geom)
    return multi, repairs


def read_boundaries(path: str | Path, options: LoadOptions, progress: ProgressFn | None = None) -> LoadResult:
    """Read and check a boundary file; returns rows in EPSG:4326. Writes nothing (the dry run)."""
    if options.level not in Level.values:
        raise BoundaryFileError(f"unknown level '{options.level}'; use kecamatan or kelurahan")
    path = Path(path)
    messages: list[str] = []
    gdf = _read_polygons(path, options)
    gdf, source_crs = _in_storage_crs(gdf, path, options.srid, messages)
    fields = _pick_fields(gdf, options)
    messages.append("fields used: " + ", ".join(f"{k}={v}" for k, v in fields.items() if v))
    rows = _rows(gdf, fields, progress)
    for r in rows:
        for rep in r.repairs:
            messages.append(f"repaired {r.name} ({r.code}): {rep}")
    return LoadResult(
        level=options.level,
        source_name=options.source_name or path.name,
        source_crs=source_crs,
        fields=fields,
        rows=rows,
        messages=messages,
    )


def _read_polygons(path: Path, options: LoadOptions) -> gpd.GeoDataFrame:
    """The layer's features, refused unless every one has a polygonal geometry."""
    with open_boundary_file(path, options.layer) as (readable, layer):
        try:
            gdf = pyogrio.read_dataframe(readable, layer=layer, encoding=options.encoding)
        except Exception as exc:  # GDAL's errors for corrupt files come in several types
            raise BoundaryFileError(f"cannot read '{path.name}': {exc}") from exc
    if len(gdf) == 0:
        raise BoundaryFileError(f"'{path.name}' holds no features")
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry is None:
        raise BoundaryFileError(f"'{path.name}' has no geometry column")

    nulls = [int(i) for i in gdf.index[gdf.geometry.isna() | gdf.geometry.is_empty]]
    if nulls:
        raise BoundaryFileError(f"features without geometry at rows {nulls[:10]}")
    kinds = set(gdf.geom_type)
    bad = kinds - {"Polygon", "MultiPolygon", "GeometryCollection"}
    if bad:
        raise BoundaryFileError(
            f"the layer holds {', '.join(sorted(bad))} geometries; boundaries must be polygons or multipolygons"
        )
    return gdf


def _in_storage_crs(
    gdf: gpd.GeoDataFrame, path: Path, srid: int | None, messages: list[str]
) -> tuple[gpd.GeoDataFrame, str]:
    """The features in STORAGE_SRID, and the coordinate system they came in (the file's, or --srid)."""
    if srid:
        try:
            gdf = gdf.set_crs(epsg=srid, allow_override=True)
        except Exception as exc:  # pyproj raises CRSError for unknown codes
            raise BoundaryFileError(f"--srid {srid} is not a known coordinate system ({exc})") from exc
        messages.append(f"CRS taken as EPSG:{srid} (from --srid)")
    elif gdf.crs is None:
        raise BoundaryFileError(
            f"'{path.name}' says nothing about its coordinate system (no .prj or CRS); give --srid, e.g. --srid 32748"
        )
    source_crs = gdf.crs.to_string()
    if gdf.crs.to_epsg() != settings.STORAGE_SRID:
        gdf = gdf.to_crs(epsg=settings.STORAGE_SRID)
        messages.append(f"reprojected from {source_crs} to EPSG:{settings.STORAGE_SRID}")
    return gdf, source_crs


def _pick_fields(gdf: gpd.GeoDataFrame, options: LoadOptions) -> dict[str, str | None]:
    """The name, code and (kelurahan) parent columns: as given, else by FIELD_CANDIDATES."""
    columns = [c for c in gdf.columns if c != gdf.geometry.name]
    cands = FIELD_CANDIDATES[options.level]
    name_f = _pick_field(columns, options.name_field, cands["name"], "name")
    code_f = _pick_field(columns, options.code_field, cands["code"], "code")
    parent_f = (
        _pick_field(columns, options.parent_field, cands["parent"], "parent")
        if cands["parent"] or options.parent_field
        else None
    )
    if name_f is None:
        raise BoundaryFileError(f"no name field found; give --name-field (fields: {', '.join(columns)})")
    if code_f is None:
        raise BoundaryFileError(f"no code field found; give --code-field (fields: {', '.join(columns)})")
    return {"name": name_f, "code": code_f, "parent": parent_f}


def _rows(gdf: gpd.GeoDataFrame, fields: dict[str, str | None], progress: ProgressFn | None) -> list[BoundaryRow]:
    """One checked, repaired row per feature; codes present and unique, names not empty."""
    name_f, code_f, parent_f = fields["name"], fields["code"], fields["parent"]
    codes = [normalise_code(v) for v in gdf[code_f]]
    empty = [i for i, c in enumerate(codes) if not c]
    if empty:
        raise BoundaryFileError(f"features without a code (field {code_f}) at rows {empty[:10]}")
    dupes = [c for c, n in Counter(codes).items() if n > 1]
    if dupes:
        raise BoundaryFileError(f"duplicate codes in field {code_f}: {', '.join(sorted(dupes)[:10])}")

    areas = gdf.geometry.to_crs(epsg=settings.METRIC_SRID).area / 1e6
    rows: list[BoundaryRow] = []
    total = len(gdf)
    for i, (geom, name, code, area) in enumerate(zip(gdf.geometry, gdf[name_f], codes, areas, strict=True)):
        name = "" if name is None else str(name).strip()
        if not name:
            raise BoundaryFileError(f"feature {code} has an empty name (field {name_f})")
        multi, repairs = _repair(geom)
        if multi.is_empty:
            raise BoundaryFileError(f"feature {name} ({code}) has no polygonal area after repair")
        row = BoundaryRow(
            name=name,
            code=code,
            geom=multi,
            area_km2=float(area),
            vertices=int(shapely.get_num_coordinates(multi)),
            repairs=repairs,
        )
        if parent_f:
            row.parent_code = normalise_code(gdf[parent_f].iloc[i])
        rows.append(row)
        if progress:
            progress(i + 1, total)
    return rows


def result_table(result: LoadResult) -> list[tuple[str, str, str, str, str]]:
    """The dry-run table: name, code, area km², vertices, repairs."""
    return [(r.name, r.code, f"{r.area_km2:.3f}", str(r.vertices), "; ".join(r.repairs) or "-") for r in result.rows]
