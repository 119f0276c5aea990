"""The boundaries app's settings (BOUNDARIES_ prefixed Django settings), each with its default and unit."""

from core.appsettings import AppSettings

_boundaries = AppSettings("BOUNDARIES")


def max_unzipped_bytes() -> int:
    return _boundaries.get("BOUNDARIES_MAX_UNZIPPED_BYTES", 512 * 1024 * 1024)  # bytes an uploaded zip may expand to


def max_zip_entries() -> int:
    return _boundaries.get("BOUNDARIES_MAX_ZIP_ENTRIES", 10_000)  # files in one uploaded zip


def gap_tolerance_m() -> float:
    return _boundaries.get("BOUNDARIES_GAP_TOLERANCE_M", 50)  # metres: a point in a sliver this close gets the area
