"""Reading boundary files from GIS staff and writing them as a new generation.

One service for the `load_boundaries` command and the admin upload page: `read_boundaries()`
turns a file into checked rows without touching the database (the dry run), and
`load_boundaries()` writes them as a new generation and activates it, all or nothing.

Accepted: a .shp with its sidecars, a .zip holding a shapefile at any depth, a .gpkg (one layer,
or the one named), a .geojson/.json. Anything wrong raises `BoundaryFileError` with a message
that names the problem; nothing is written then, and nothing outside a temporary folder.
"""

from __future__ import annotations

import re
import shutil
import stat
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import geopandas as gpd
import pyogrio
import shapely
from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry
from django.db import transaction
from django.utils import timezone
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from core.api import DomainError
from core.signals import send_logged

from . import settings as app_settings
from .models import Generation, Kecamatan, Kelurahan, Level

SUPPORTED = (".shp", ".zip", ".gpkg", ".geojson", ".json")

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


class BoundaryFileError(DomainError):
    """A boundary file that cannot be loaded as it is; the message says why."""


@dataclass
class LoadOptions:
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


# --- opening the file ----------------------------------------------------------------------


def _check_zip_entry(info: zipfile.ZipInfo) -> None:
    name = info.filename.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts:
        raise BoundaryFileError(f"zip entry '{info.filename}' points outside its folder; refused")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise BoundaryFileError(f"zip entry '{info.filename}' is a symbolic link; refused")


def _safe_extract(zip_path: Path, into: Path) -> None:
    """Extract with the checks a hostile upload needs: no escaping paths, no links, a size cap."""
    cap = app_settings.max_unzipped_bytes()
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BoundaryFileError(f"'{zip_path.name}' is not a readable zip file ({exc})") from exc
    with zf:
        infos = zf.infolist()
        if len(infos) > app_settings.max_zip_entries():
            raise BoundaryFileError(f"zip holds {len(infos)} entries, more than {app_settings.max_zip_entries()}")
        for info in infos:
            _check_zip_entry(info)
        declared = sum(i.file_size for i in infos)
        if declared > cap:
            raise BoundaryFileError(f"zip expands to {declared:,} bytes, past the cap of {cap:,} bytes")
        written = 0
        root = into.resolve()
        for info in infos:
            target = (into / info.filename).resolve()
            if root not in target.parents and target != root:
                raise BoundaryFileError(f"zip entry '{info.filename}' points outside its folder; refused")
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, open(target, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > cap:  # the header may lie about sizes
                            raise BoundaryFileError(f"zip expands past the cap of {cap:,} bytes")
                        dst.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError) as exc:
                raise BoundaryFileError(f"zip entry '{info.filename}' is corrupt ({exc})") from exc


def _sidecar(shp: Path, ext: str) -> Path | None:
    for candidate in shp.parent.iterdir():
        if candidate.stem == shp.stem and candidate.suffix.lower() == ext:
            return candidate
    return None


def _check_shapefile(shp: Path) -> None:
    for ext, what in ((".shx", "index"), (".dbf", "attribute table")):
        if _sidecar(shp, ext) is None:
            raise BoundaryFileError(
                f"shapefile '{shp.name}' has no {ext} ({what}); send all its files, zipped together"
            )


@contextmanager
def _opened(path: Path, layer: str | None) -> Iterator[tuple[Path, str | None]]:
    """Yield (readable path, layer) for any accepted file; zips are extracted to a temp folder."""
    if not path.exists():
        raise BoundaryFileError(f"file '{path}' does not exist")
    if path.is_dir():
        raise BoundaryFileError(f"'{path}' is a folder; give a .shp, .zip, .gpkg or .geojson file")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED:
        raise BoundaryFileError(f"'{path.name}': unsupported file type; use one of {', '.join(SUPPORTED)}")
    if path.stat().st_size == 0:
        raise BoundaryFileError(f"'{path.name}' is empty")

    if suffix == ".zip":
        tmp = Path(tempfile.mkdtemp(prefix="geoapp-boundary-"))
        try:
            _safe_extract(path, tmp)
            shps = sorted(
                p for p in tmp.rglob("*") if p.suffix.lower() == ".shp" and "__MACOSX" not in p.parts and p.is_file()
            )
            if not shps:
                raise BoundaryFileError(f"'{path.name}' holds no shapefile (.shp)")
            if layer:
                chosen = [p for p in shps if p.stem == layer]
                if not chosen:
                    names = ", ".join(p.stem for p in shps)
                    raise BoundaryFileError(f"layer '{layer}' is not in '{path.name}'; it holds: {names}")
                shps = chosen
            if len(shps) > 1:
                names = ", ".join(p.stem for p in shps)
                raise BoundaryFileError(f"'{path.name}' holds several shapefiles ({names}); choose one with --layer")
            _check_shapefile(shps[0])
            yield shps[0], None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return

    if suffix == ".shp":
        _check_shapefile(path)
        yield path, None
        return

    try:
        layers = [str(row[0]) for row in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises several GDAL error types for corrupt files
        raise BoundaryFileError(f"cannot read '{path.name}': {exc}") from exc
    if layer is not None and layer not in layers:
        raise BoundaryFileError(f"layer '{layer}' does not exist in '{path.name}'; layers: {', '.join(layers)}")
    if layer is None and len(layers) > 1:
        raise BoundaryFileError(f"'{path.name}' has several layers ({', '.join(layers)}); choose one with --layer")
    yield path, layer or (layers[0] if layers else None)


# --- reading and checking ------------------------------------------------------------------


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
    """Read and check a boundary file; returns rows in EPSG:4326. Writes nothing."""
    if options.level not in Level.values:
        raise BoundaryFileError(f"unknown level '{options.level}'; use kecamatan or kelurahan")
    path = Path(path)
    messages: list[str] = []
    with _opened(path, options.layer) as (readable, layer):
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

    if options.srid:
        try:
            gdf = gdf.set_crs(epsg=options.srid, allow_override=True)
        except Exception as exc:  # pyproj raises CRSError for unknown codes
            raise BoundaryFileError(f"--srid {options.srid} is not a known coordinate system ({exc})") from exc
        messages.append(f"CRS taken as EPSG:{options.srid} (from --srid)")
    elif gdf.crs is None:
        raise BoundaryFileError(
            f"'{path.name}' says nothing about its coordinate system (no .prj or CRS); give --srid, e.g. --srid 32748"
        )
    source_crs = gdf.crs.to_string()
    epsg = gdf.crs.to_epsg()
    if epsg != settings.STORAGE_SRID:
        gdf = gdf.to_crs(epsg=settings.STORAGE_SRID)
        messages.append(f"reprojected from {source_crs} to EPSG:{settings.STORAGE_SRID}")

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
    fields = {"name": name_f, "code": code_f, "parent": parent_f}
    messages.append("fields used: " + ", ".join(f"{k}={v}" for k, v in fields.items() if v))

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


def _resolve_parents(result: LoadResult) -> None:
    """Link kelurahan to the current kecamatan by code or name, else by where they lie."""
    current = list(Kecamatan.objects.current())
    by_code = {k.code: k for k in current}
    by_name = {k.name.lower(): k for k in current}
    for row in result.rows:
        parent = by_code.get(row.parent_code) or by_name.get(row.parent_code.lower()) if row.parent_code else None
        if parent is None and current:
            from django.contrib.gis.geos import Point

            rp = row.geom.representative_point()
            parent = Kecamatan.objects.at(Point(rp.x, rp.y, srid=4326))
        if parent is not None:
            row.parent_id = parent.pk
            row.parent_code = parent.code
        else:
            result.messages.append(f"{row.name} ({row.code}): no current kecamatan found for it")


def activate_generation(generation: Generation) -> None:
    """Make `generation` the current one of its level, in one transaction."""
    with transaction.atomic():
        Generation.objects.select_for_update().filter(level=generation.level, active=True).exclude(
            pk=generation.pk
        ).update(active=False)
        generation.active = True
        generation.activated_at = timezone.now()
        generation.save(update_fields=["active", "activated_at"])
        from .signals import boundaries_activated

        transaction.on_commit(lambda: send_logged(boundaries_activated, Generation, generation=generation))


def load_boundaries(path: str | Path, options: LoadOptions, progress: ProgressFn | None = None) -> LoadResult:
    """Read a file; with `options.commit`, write it as a new generation and activate it."""
    result = read_boundaries(path, options, progress)
    if options.level == Level.KELURAHAN:
        _resolve_parents(result)
    if not options.commit:
        return result
    model = Kecamatan if options.level == Level.KECAMATAN else Kelurahan
    with transaction.atomic():
        generation = Generation.objects.create(
            level=options.level,
            description=options.description,
            source_name=result.source_name,
            source_crs=result.source_crs,
            fields_used=result.fields,
            loaded_by=options.loaded_by,
        )
        objs = []
        for row in result.rows:
            obj = model(
                generation=generation,
                name=row.name,
                code=row.code,
                geom=GEOSGeometry(memoryview(shapely.to_wkb(row.geom)), srid=settings.STORAGE_SRID),
                area_km2=row.area_km2,
            )
            if model is Kelurahan:
                obj.kecamatan_id = row.parent_id
                obj.kecamatan_code = row.parent_code
            objs.append(obj)
        model.objects.bulk_create(objs, batch_size=500)
        activate_generation(generation)
    result.generation = generation
    return result


def result_table(result: LoadResult) -> list[tuple[str, str, str, str, str]]:
    """The dry-run table: name, code, area km², vertices, repairs."""
    return [(r.name, r.code, f"{r.area_km2:.3f}", str(r.vertices), "; ".join(r.repairs) or "-") for r in result.rows]
