"""Events: the kecamatan and geofence entries and exits the latest-position walk found (latest.py).

As in Traccar, an event comes from comparing the previous and the current kecamatan and set of
geofences, fix after fix; presence changes are events too (presence.py writes those).
"""

from __future__ import annotations

from datetime import datetime

from core import prepared

from ..areas import geofence_index
from ..fixes import FixBatch
from ..models import Geofence
from .upload import Event, Upload

EVENTS_SQL = """
INSERT INTO tracking_trackingevent
    (supervisor_id, kind, time, point, kecamatan_code, geofence_id, old_state, new_state, reason, created_at)
SELECT %(supervisor)s, u.kind, timestamptz 'epoch' + u.us * interval '1 microsecond',
       ST_SetSRID(ST_MakePoint(u.x, u.y), 4326), u.kecamatan, u.geofence, '', '', '', %(created)s
FROM unnest(%(kinds)s::text[], %(us)s::int8[], %(xs)s::float8[], %(ys)s::float8[], %(kecamatan)s::text[],
            %(geofence)s::int8[]) AS u(kind, us, x, y, kecamatan, geofence)
"""


def record(upload: Upload) -> None:
    """The upload's events, without those of a geofence deleted meanwhile."""
    events = upload.events
    fences = {extra["geofence_id"] for _i, _kind, extra in events if "geofence_id" in extra}
    if fences:  # a geofence deleted in another process may linger in this one's index for a while
        alive = set(Geofence.objects.filter(pk__in=fences).values_list("pk", flat=True))
        if alive != fences:
            geofence_index.invalidate()
            events = [
                (i, kind, extra)
                for i, kind, extra in events
                if "geofence_id" not in extra or extra["geofence_id"] in alive
            ]
    if events:
        insert(upload.locked.supervisor_id, events, upload.fixes, upload.received_at)


def insert(supervisor_id: int, events: list[Event], fixes: FixBatch, created: datetime) -> None:
    """The kecamatan/geofence events (row in `fixes`, kind, fields) in one prepared statement: what
    `bulk_create` would write, without a model instance and a GEOS point per event (~0.3 ms per
    upload that crosses a border)."""
    at = [i for i, _kind, _extra in events]
    with prepared.cursor() as cur:
        cur.execute(
            EVENTS_SQL,
            {
                "supervisor": supervisor_id,
                "created": created,
                "kinds": [str(kind) for _i, kind, _extra in events],
                "us": fixes.time_us[at].tolist(),
                "xs": fixes.lon[at].tolist(),
                "ys": fixes.lat[at].tolist(),
                "kecamatan": [extra.get("kecamatan_code", "") for _i, _kind, extra in events],
                "geofence": [extra.get("geofence_id") for _i, _kind, extra in events],
            },
        )
