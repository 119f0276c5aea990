"""Loading boundary files as a new generation: the one service of the command and the admin upload.

`reading.read_boundaries()` turns a file into checked rows without touching the database (the
dry run); `load_boundaries()` then, with `commit`, links kelurahan to their kecamatan and writes
the rows as a new generation and activates it, all or nothing. `activate_generation()` alone
switches back to an older generation. The module map: `files` opens a file safely, `reading`
checks it, this module writes it.
"""

from __future__ import annotations

from pathlib import Path

import shapely
from django.conf import settings
from django.contrib.gis.geos import GEOSGeometry, Point
from django.db import transaction
from django.utils import timezone

from core.signals import send_logged

from .models import Generation, Kecamatan, Kelurahan, Level
from .reading import LoadOptions, LoadResult, ProgressFn, read_boundaries
from .signals import boundaries_activated


def resolve_parents(result: LoadResult) -> None:
    """Link kelurahan to the current kecamatan by code or name, else by where they lie."""
    current = list(Kecamatan.objects.current())
    by_code = {k.code: k for k in current}
    by_name = {k.name.lower(): k for k in current}
    for row in result.rows:
        parent = by_code.get(row.parent_code) or by_name.get(row.parent_code.lower()) if row.parent_code else None
        if parent is None and current:
            rp = row.geom.representative_point()
            parent = Kecamatan.objects.at(Point(rp.x, rp.y, srid=4326))
        if parent is not None:
            row.parent_id = parent.pk
            row.parent_code = parent.code
        else:
            result.messages.append(f"{row.name} ({row.code}): no current kecamatan found for it")


def activate_generation(generation: Generation) -> None:
    """Make `generation` the current one of its level, in one transaction; in-process indexes
    hear of it after commit (`boundaries_activated`)."""
    with transaction.atomic():
        Generation.objects.select_for_update().active().for_level(generation.level).exclude(pk=generation.pk).update(
            active=False
        )
        generation.active = True
        generation.activated_at = timezone.now()
        generation.save(update_fields=["active", "activated_at"])
        transaction.on_commit(lambda: send_logged(boundaries_activated, Generation, generation=generation))


def load_boundaries(path: str | Path, options: LoadOptions, progress: ProgressFn | None = None) -> LoadResult:
    """Read a file; with `options.commit`, write it as a new generation and activate it."""
    result = read_boundaries(path, options, progress)
    if options.level == Level.KELURAHAN:
        resolve_parents(result)
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
