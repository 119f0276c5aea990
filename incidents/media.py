"""Photos and videos of reports: type by content, caps, thumbnails, EXIF position and time.

Everything here runs before anything is stored, so a bad file refuses the whole report.
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

import filetype
import pillow_heif
from django.contrib.gis.geos import Point
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage
from PIL import Image, ImageOps, UnidentifiedImageError
from rest_framework import status as http

from core.api import DomainError

from . import settings as app_settings
from .models import MediaKind, Report, ReportMedia

log = logging.getLogger("incidents.media")

pillow_heif.register_heif_opener()

# sniffed MIME type -> (kind, file extension we store it under)
ALLOWED_TYPES: dict[str, tuple[str, str]] = {
    "image/jpeg": (MediaKind.PHOTO, "jpg"),
    "image/png": (MediaKind.PHOTO, "png"),
    "image/webp": (MediaKind.PHOTO, "webp"),
    "image/heic": (MediaKind.PHOTO, "heic"),
    "image/heif": (MediaKind.PHOTO, "heif"),
    "video/mp4": (MediaKind.VIDEO, "mp4"),
    "video/x-m4v": (MediaKind.VIDEO, "mp4"),
    "video/3gpp": (MediaKind.VIDEO, "3gp"),
    "video/quicktime": (MediaKind.VIDEO, "mov"),
}
ALLOWED_DESCRIPTION = "JPEG, PNG, WebP or HEIC photos; MP4, 3GP or MOV videos"
LOCAL_TZ = ZoneInfo("Asia/Jakarta")  # phones in Tangerang that write no EXIF offset are on WIB
Image.MAX_IMAGE_PIXELS = 80_000_000  # pixels; refuse decompression bombs


class MediaError(DomainError):
    """A file that is not an allowed type, too big, or one too many."""

    def __init__(self, message: str, field: str = "files"):
        super().__init__(message, field=field)


@dataclass
class InspectedMedia:
    """A file judged fit to store, with what was read from it (type, hash, EXIF, thumbnail)."""

    upload: File
    name: str
    kind: str
    content_type: str
    extension: str
    size: int
    sha256: str
    width: int | None = None
    height: int | None = None
    exif_location: Point | None = None
    exif_taken_at: datetime | None = None
    thumbnail: bytes | None = None


def _read_all(upload: File) -> bytes:
    upload.seek(0)
    data = upload.read()
    upload.seek(0)
    return data


def _rational(value) -> float:
    return float(value[0]) / float(value[1]) if isinstance(value, tuple) else float(value)


def _dms(values) -> float:
    d, m, s = (_rational(v) for v in values)
    return d + m / 60 + s / 3600


def exif_position(img: Image.Image) -> Point | None:
    """The GPS position in a photo's EXIF, or None when absent, zero or nonsense."""
    try:
        gps = img.getexif().get_ifd(0x8825)
        if not gps or 2 not in gps or 4 not in gps:
            return None
        lat, lon = _dms(gps[2]), _dms(gps[4])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if str(gps.get(1, "N")).upper().startswith("S"):
        lat = -lat
    if str(gps.get(3, "E")).upper().startswith("W"):
        lon = -lon
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180 or (lat == 0 and lon == 0):
        return None
    return Point(lon, lat, srid=4326)


def exif_time(img: Image.Image) -> datetime | None:
    """When the photo was taken: DateTimeOriginal with its offset, else GPS UTC time, else WIB."""
    exif = img.getexif()
    sub = exif.get_ifd(0x8769)
    raw = sub.get(0x9003) or exif.get(0x0132)
    if raw:
        try:
            naive = datetime.strptime(str(raw).strip("\x00 "), "%Y:%m:%d %H:%M:%S")
        except ValueError:
            naive = None
        if naive is not None:
            offset = sub.get(0x9011)
            if offset:
                try:
                    sign = -1 if str(offset).startswith("-") else 1
                    hh, mm = str(offset).lstrip("+-").split(":")
                    tz = dt_timezone(sign * timedelta(hours=int(hh), minutes=int(mm)))
                    return naive.replace(tzinfo=tz)
                except ValueError:
                    pass
            return naive.replace(tzinfo=LOCAL_TZ)
    gps = exif.get_ifd(0x8825)
    if gps.get(29) and gps.get(7):
        try:
            day = datetime.strptime(str(gps[29]), "%Y:%m:%d")
            h, m, s = (_rational(v) for v in gps[7])
            return (day + timedelta(hours=h, minutes=m, seconds=s)).replace(tzinfo=UTC)
        except (ValueError, TypeError, ZeroDivisionError):
            return None
    return None


def _thumbnail(img: Image.Image) -> bytes:
    thumb = ImageOps.exif_transpose(img)
    thumb.thumbnail((app_settings.thumbnail_px(), app_settings.thumbnail_px()))
    if thumb.mode not in ("RGB", "L"):
        thumb = thumb.convert("RGB")
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=80)
    return out.getvalue()


_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1", b"heim", b"heis"}


def sniff(head: bytes) -> str | None:
    """MIME type from the first bytes. ISO media (MP4/3GP/MOV/HEIC) is told apart by its ftyp brand,
    which `filetype` lumps together as MP4; everything else is `filetype`'s magic numbers."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return "image/heic"
        if brand.startswith((b"3gp", b"3g2")):
            return "video/3gpp"
        if brand == b"qt  ":
            return "video/quicktime"
    elif len(head) >= 8 and head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "video/quicktime"  # classic QuickTime without an ftyp box
    guess = filetype.guess(head)
    return guess.mime if guess else None


def inspect_upload(upload: File, field: str = "files") -> InspectedMedia:
    """Judge one file by its content; read EXIF and make a thumbnail for photos."""
    name = getattr(upload, "name", "") or "upload"
    size = upload.size if getattr(upload, "size", None) is not None else len(_read_all(upload))
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    mime = sniff(head)
    if mime not in ALLOWED_TYPES:
        seen = f"it looks like {mime}" if mime else "its content is not a known media type"
        raise MediaError(f"{name}: not an allowed file ({seen}); send {ALLOWED_DESCRIPTION}.", field)
    kind, ext = ALLOWED_TYPES[mime]
    cap = app_settings.media_max_photo_bytes() if kind == MediaKind.PHOTO else app_settings.media_max_video_bytes()
    if size > cap:
        raise MediaError(f"{name}: {size} bytes is over the {kind} limit of {cap} bytes.", field)
    data = _read_all(upload)
    item = InspectedMedia(
        upload=upload,
        name=name[:255],
        kind=kind,
        content_type=mime,
        extension=ext,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )
    if kind == MediaKind.PHOTO:
        try:
            with Image.open(io.BytesIO(data)) as img:
                img.load()
                item.width, item.height = img.size
                item.exif_location = exif_position(img)
                item.exif_taken_at = exif_time(img)
                item.thumbnail = _thumbnail(img)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            raise MediaError(f"{name}: the photo cannot be read ({exc.__class__.__name__}).", field) from exc
    return item


def inspect_uploads(uploads: list[File], field: str = "files") -> list[InspectedMedia]:
    """Check the count cap, then each file."""
    cap = app_settings.media_max_files()
    if len(uploads) > cap:
        raise MediaError(f"{len(uploads)} files sent; at most {cap} per report.", field)
    return [inspect_upload(f, field) for f in uploads]


class MediaStorageError(DomainError):
    """The media storage refused a write (disk full, quota): nothing of the report is kept."""

    status_code = http.HTTP_507_INSUFFICIENT_STORAGE


def store_media(report: Report, items: list[InspectedMedia], urls: list[str] | None = None) -> list[ReportMedia]:
    """Write inspected files through Django's storage and record them (and remote links) on the report.

    A failed write (disk full) removes the files already written for this call, partial ones
    included, and raises MediaStorageError (507) so the caller's transaction rolls back too.
    """
    written: list[tuple[Storage, str]] = []  # (storage, name) of every file this call wrote or tried to write
    try:
        return _store_media(report, items, urls, written)
    except OSError as exc:
        for storage, name in written:
            try:
                storage.delete(name)
            except OSError:
                log.warning("could not remove %s after a failed write", name)
        log.error("media storage refused a write for report %s: %s", report.public_id, exc)
        raise MediaStorageError(
            "The photo/video storage is full or unavailable; nothing was stored. Try again later.", field="files"
        ) from exc


def _store_media(
    report: Report, items: list[InspectedMedia], urls: list[str] | None, written: list[tuple[Storage, str]]
) -> list[ReportMedia]:
    rows = []
    for n, item in enumerate(items, start=1):
        media = ReportMedia(
            report=report,
            kind=item.kind,
            content_type=item.content_type,
            size_bytes=item.size,
            sha256=item.sha256,
            original_name=item.name,
            width=item.width,
            height=item.height,
            exif_location=item.exif_location,
            exif_taken_at=item.exif_taken_at,
        )
        item.upload.seek(0)
        name = f"{report.public_id}-{n}.{item.extension}"
        written.append((media.file.storage, media.file.field.generate_filename(media, name)))
        media.file.save(name, item.upload, save=False)
        written[-1] = (media.file.storage, media.file.name)
        if item.thumbnail:
            thumb = f"{report.public_id}-{n}-thumb.jpg"
            written.append((media.thumbnail.storage, media.thumbnail.field.generate_filename(media, thumb)))
            media.thumbnail.save(thumb, ContentFile(item.thumbnail), save=False)
            written[-1] = (media.thumbnail.storage, media.thumbnail.name)
        media.save()
        rows.append(media)
    for url in urls or []:
        kind = (
            MediaKind.VIDEO
            if any(url.lower().split("?")[0].endswith(x) for x in (".mp4", ".mov", ".3gp"))
            else MediaKind.PHOTO
        )
        rows.append(ReportMedia.objects.create(report=report, kind=kind, url=url[:1000]))
    return rows


# --- orphans ---------------------------------------------------------------------------------------
MEDIA_DIR = "reports"  # where `media_path` puts every photo, video and thumbnail


@dataclass
class OrphanSweep:
    """What a sweep removed (or, dry run, would remove) and what it kept."""

    removed: list[str]  # storage names of unreferenced files removed (or, dry run, to remove)
    referenced: int  # files a report still uses
    too_recent: int  # unreferenced, but younger than the cutoff: perhaps an intake still running


def _storage_files(storage: Storage, folder: str) -> Iterator[str]:
    """Every file below `folder`, as storage names (the storage API: any backend, not only disk)."""
    if not storage.exists(folder):
        return
    dirs, files = storage.listdir(folder)
    for name in files:
        yield f"{folder}/{name}"
    for sub in dirs:
        yield from _storage_files(storage, f"{folder}/{sub}")


def sweep_orphans(
    older_than: timedelta, *, dry_run: bool = False, progress: Callable[[], object] | None = None
) -> OrphanSweep:
    """Remove stored photos, videos and thumbnails that no report refers to.

    Files are written before the report's transaction commits; when it rolls back after that (a
    deadlock or lost connection at commit, a failure after the media step) the files stay with no
    row. Only files older than `older_than` go, so an intake still in its transaction keeps its own.
    `progress` is called once per file looked at (a progress bar).
    """
    storage = ReportMedia._meta.get_field("file").storage
    used = set()
    for file, thumb in ReportMedia.objects.values_list("file", "thumbnail"):
        used.update(n for n in (file, thumb) if n)
    cutoff = datetime.now(UTC) - older_than
    result = OrphanSweep([], 0, 0)
    for name in _storage_files(storage, MEDIA_DIR):
        if progress is not None:
            progress()
        if name in used:
            result.referenced += 1
            continue
        if storage.get_modified_time(name) > cutoff:
            result.too_recent += 1
            continue
        if not dry_run:
            storage.delete(name)
        result.removed.append(name)
    if result.removed and not dry_run:
        log.info("media sweep: removed %d unreferenced files", len(result.removed))
    return result
