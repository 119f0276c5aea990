"""Today's numbers for the leadership view (reads only)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from statistics import median
from zoneinfo import ZoneInfo

from django.utils import timezone

from incidents.models import OPEN_STATUSES, Report, Status
from tracking.models import Supervisor

WIB = ZoneInfo("Asia/Jakarta")


def today_numbers(now: datetime | None = None) -> dict:
    """Today's numbers (WIB day) for leadership: reports, open, dispatched, resolved, response times."""
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
