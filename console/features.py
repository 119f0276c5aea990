"""Compact map features for the console: one shape for the first load and for the live push.

Payloads carry the full current state of one object (never a delta) and no personal data, so a
browser can apply them in any order (older than what it holds = ignored) and leadership can get
the same stream as operators.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from dispatch.models import DispatchState
from incidents.models import OPEN_STATUSES, Report, ReportEvent, Status
from tracking import presence
from tracking.models import LatestPosition, Supervisor

from . import settings as cs

REPORT_FIELDS = ("category", "opd", "kecamatan", "kelurahan")
ACTIVE_ORDER = {Status.DISPATCHED, Status.ACKNOWLEDGED, Status.IN_PROGRESS}


def is_overdue(report: Report, now=None) -> bool:
    """Open and past its category's target: to dispatch (not yet dispatched) or to resolve."""
    if report.status not in OPEN_STATUSES:
        return False
    now = now or timezone.now()
    cat = report.category
    factor = cs.overdue_factor()
    if report.dispatched_at is None and report.status not in ACTIVE_ORDER:
        return now - report.created_at > timedelta(minutes=cat.target_dispatch_minutes * factor)
    return now - report.created_at > timedelta(minutes=cat.target_resolve_minutes * factor)


def escalated_ids(report_ids) -> set[int]:
    """Open reports whose offer expired or was declined (dispatch escalated them), or that were reopened."""
    ids = list(report_ids)
    escalated = set(
        DispatchState.objects.filter(report_id__in=ids, escalations__gt=0).values_list("report_id", flat=True)
    )
    reopened = set(
        ReportEvent.objects.filter(report_id__in=ids, to_status=Status.REOPENED).values_list("report_id", flat=True)
    )
    return escalated | reopened


def report_feature(report: Report, *, escalated: bool = False, now=None) -> dict:
    """A report on the map: where, what, which state; no reporter data."""
    esc = escalated and report.status not in ACTIVE_ORDER and report.status in OPEN_STATUSES
    return {
        "id": report.public_id,
        "lon": round(report.location.x, 6),
        "lat": round(report.location.y, 6),
        "st": report.status,
        "cat": report.category.code,
        "catn": report.category.name_id,
        "cate": report.category.name_en,
        "opd": report.opd.code,
        "kec": report.kecamatan.code if report.kecamatan_id else None,
        "kel": report.kelurahan.code if report.kelurahan_id else None,
        "pr": report.priority,
        "at": report.created_at.isoformat(),
        "v": report.updated_at.isoformat(),
        "open": report.status in OPEN_STATUSES,
        "over": is_overdue(report, now),
        "esc": esc,
        "txt": report.description[:140],
    }


def map_reports(filters: dict | None = None):
    """Open reports, plus those finished in the last CONSOLE_CLOSED_VISIBLE_H hours."""
    since = timezone.now() - timedelta(hours=cs.closed_visible_h())
    qs = Report.objects.select_related(*REPORT_FIELDS).filter(Q(status__in=OPEN_STATUSES) | Q(updated_at__gte=since))
    f = filters or {}
    if f.get("opd"):
        qs = qs.filter(opd__code=f["opd"])
    if f.get("kecamatan"):
        qs = qs.filter(kecamatan__code=f["kecamatan"])
    if f.get("category"):
        qs = qs.filter(category__code=f["category"])
    if f.get("status"):
        qs = qs.filter(status__in=f["status"].split(","))
    if f.get("since"):
        qs = qs.filter(created_at__gte=f["since"])
    if f.get("until"):
        qs = qs.filter(created_at__lt=f["until"])
    return qs.order_by("-created_at")


def report_features(qs) -> list[dict]:
    rows = list(qs)
    esc = escalated_ids(r.pk for r in rows if r.status in OPEN_STATUSES and r.status not in ACTIVE_ORDER)
    now = timezone.now()
    return [report_feature(r, escalated=r.pk in esc, now=now) for r in rows]


def supervisor_feature(sup, lp, state: str | None = None) -> dict:
    """A supervisor on the map: presence state, where and when the last fix (`lp`, or None) was, device time."""
    return {
        "id": sup.pk,
        "name": sup.name,
        "opd": sup.opd.code if sup.opd_id else None,
        "state": state or sup.presence_state,
        "lon": round(lp.point.x, 6) if lp else None,
        "lat": round(lp.point.y, 6) if lp else None,
        "t": lp.device_time.isoformat() if lp else None,
        "kec": lp.kecamatan_code if lp else None,
        "areas": list(sup.kecamatan_codes),
    }


def supervisor_features(opd: str | None = None) -> list[dict]:
    """Every active supervisor with presence judged now (tracking's one rule)."""
    qs = Supervisor.objects.active().select_related("opd", "latest_position")
    if opd:
        qs = qs.filter(opd__code=opd)
    sups = list(qs)
    states = presence.presence_for(sups)
    out = []
    for s in sups:
        try:
            lp = s.latest_position
        except LatestPosition.DoesNotExist:
            lp = None
        out.append(supervisor_feature(s, lp, str(states[s.pk].state)))
    return out
