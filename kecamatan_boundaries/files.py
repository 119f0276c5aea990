"""Opening a boundary file as GIS staff send it, with the checks a hostile upload needs.

Accepted: a .shp with its sidecars, a .zip holding a shapefile at any depth, a .gpkg (one layer,
or the one named), a .geojson/.json. A zip is extracted to a temporary folder, refusing entries
that point outside it, links, and more bytes or entries than BOUNDARIES_MAX_UNZIPPED_BYTES and
BOUNDARIES_MAX_ZIP_ENTRIES allow (its headers may lie about sizes, so the bytes are counted).
Anything wrong raises `BoundaryFileError` naming the problem.
"""

from __future__ import annotations

import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

import pyogrio

from core.api import DomainError

from . import settings as app_settings

SUPPORTED = (".shp", ".zip", ".gpkg", ".geojson", ".json")


class BoundaryFileError(DomainError):
    """A boundary file that cannot be loaded as it is; the message says why."""


def check_zip_entry(info: zipfile.ZipInfo) -> None:
    """Refuse an entry whose name leaves the extraction folder, or that is a symbolic link."""
    name = info.filename.replace("\\", "/")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name) or ".." in parts:
        raise BoundaryFileError(f"zip entry '{info.filename}' points outside its folder; refused")
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        raise BoundaryFileError(f"zip entry '{info.filename}' is a symbolic link; refused")


def safe_extract(zip_path: Path, into: Path) -> None:
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
            check_zip_entry(info)
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


def check_shapefile(shp: Path) -> None:
    """A .shp is unreadable without its index and attribute table: name the one missing."""
    for ext, what in ((".shx", "index"), (".dbf", "attribute table")):
        if _sidecar(shp, ext) is None:
            raise BoundaryFileError(
                f"shapefile '{shp.name}' has no {ext} ({what}); send all its files, zipped together"
            )


@contextmanager
def open_boundary_file(path: Path, layer: str | None) -> Iterator[tuple[Path, str | None]]:
    """Yield (readable path, layer) for any accepted file; zips are extracted to a temp folder
    that is removed afterwards."""
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
            yield _shapefile_in(path, tmp, layer), None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return

    if suffix == ".shp":
        check_shapefile(path)
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


def _shapefile_in(archive: Path, into: Path, layer: str | None) -> Path:
    """Extract `archive` into `into` and find its one shapefile (or the one named `layer`)."""
    safe_extract(archive, into)
    shps = sorted(
        p for p in into.rglob("*") if p.suffix.lower() == ".shp" and "__MACOSX" not in p.parts and p.is_file()
    )
    if not shps:
        raise BoundaryFileError(f"'{archive.name}' holds no shapefile (.shp)")
    if layer:
        chosen = [p for p in shps if p.stem == layer]
        if not chosen:
            names = ", ".join(p.stem for p in shps)
            raise BoundaryFileError(f"layer '{layer}' is not in '{archive.name}'; it holds: {names}")
        shps = chosen
    if len(shps) > 1:
        names = ", ".join(p.stem for p in shps)
        raise BoundaryFileError(f"'{archive.name}' holds several shapefiles ({names}); choose one with --layer")
    check_shapefile(shps[0])
    return shps[0]
