"""Map layers and numbers for the console and the leadership view (reads only)."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from statistics import median
from zoneinfo import ZoneInfo

from django.db import connection
from django.utils import timezone

from incidents.models import OPEN_STATUSES, Report, Status
from kecamatan_boundaries.models import Kecamatan, Kelurahan

WIB = ZoneInfo("Asia/Jakarta")
SIMPLIFY_DEG = 0.00005  # ~5 m at the equator: invisible at city zoom, halves the bytes


def boundaries(level: str) -> dict:
    """Current kecamatan or kelurahan as a FeatureCollection (geometry lightly simplified for the map)."""
    model = Kelurahan if level == "kelurahan" else Kecamatan
    ids = list(model.objects.current().values_list("id", flat=True))
    extra = ", kecamatan_code" if model is Kelurahan else ", NULL"
    sql = (
        f"SELECT code, name{extra}, ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, %s), 6) "
        f"FROM {model._meta.db_table} WHERE id = ANY(%s) ORDER BY code"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [SIMPLIFY_DEG, ids])
        rows = cur.fetchall()
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "id": code,
                "properties": {"code": code, "name": name, "kecamatan": kec},
                "geometry": json.loads(geom),
            }
            for code, name, kec, geom in rows
        ],
    }


def today_numbers(now: datetime | None = None) -> dict:
    """Today's numbers (WIB day) for leadership: reports, open, dispatched, resolved, response times."""
    from tracking.models import Supervisor

    now = now or timezone.now()
    start = datetime.combine(now.astimezone(WIB).date(), time(0), WIB)
    today = Report.objects.filter(created_at__gte=start)
    to_dispatch = [
        (r.dispatched_at - r.created_at).total_seconds() / 60
        for r in today.filter(dispatched_at__isnull=False).only("created_at", "dispatched_at")
    ]
    to_resolve = [
        (r.resolved_at - r.created_at).total_seconds() / 60
        for r in today.filter(resolved_at__isnull=False).only("created_at", "resolved_at")
    ]
    by_opd: dict[str, dict] = {}
    for code, name, st in today.values_list("opd__code", "opd__name", "status"):
        row = by_opd.setdefault(code, {"opd": code, "name": name, "reports": 0, "open": 0})
        row["reports"] += 1
        row["open"] += st in OPEN_STATUSES
    return {
        "date": start.date().isoformat(),
        "reports_today": today.count(),
        "open_now": Report.objects.open().count(),
        "awaiting_supervisor": Report.objects.filter(status=Status.AWAITING_SUPERVISOR).count(),
        "dispatched_today": Report.objects.filter(dispatched_at__gte=start).count(),
        "resolved_today": Report.objects.filter(resolved_at__gte=start).count(),
        "median_minutes_to_dispatch": round(median(to_dispatch), 1) if to_dispatch else None,
        "median_minutes_to_resolve": round(median(to_resolve), 1) if to_resolve else None,
        "supervisors_on_duty": Supervisor.objects.on_duty(now).count(),
        "supervisors_active": Supervisor.objects.active().count(),
        "by_opd": sorted(by_opd.values(), key=lambda r: -r["reports"]),
        "window_start": (start - timedelta(0)).isoformat(),
    }
