"""Enrich: each new fix's kecamatan, geofences and whether it is inside the supervisor's area.

In process, for the whole batch at once (areas.py: the boundary index, the geofence index and the
accuracy margin); no database query per fix.
"""

from __future__ import annotations

from .. import areas
from .upload import Upload


def enrich(upload: Upload) -> None:
    fixes = upload.fixes
    if len(fixes):
        upload.enriched = areas.enrich(fixes.lon, fixes.lat, fixes.accuracy, upload.locked.area)
