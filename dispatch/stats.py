"""Response times: report -> dispatched -> acknowledged -> on site -> resolved, against targets.

Every duration is measured from the report's creation (what the citizen waits), in minutes,
from the first stamp of each milestone (`incidents.lifecycle` stamps only the first time).
Targets: dispatch and resolve per category (Category.target_*_minutes), acknowledge and arrive
per priority (DISPATCH_TARGET_*_MINUTES). A report is overdue when a milestone is missing and
its target has passed, or was reached late.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.utils import timezone

from incidents.models import OPEN_STATUSES, Report

from . import settings as ds

MILESTONES = ("dispatch", "acknowledge", "arrive", "resolve")
STAMP = {
    "dispatch": "dispatched_at",
    "acknowledge": "acknowledged_at",
    "arrive": "arrived_at",
    "resolve": "resolved_at",
}


def targets(report: Report) -> dict[str, int]:
    return {
        "dispatch": report.category.target_dispatch_minutes,
        "acknowledge": ds.target_ack_minutes(report.priority),
        "arrive": ds.target_arrive_minutes(report.priority),
        "resolve": report.category.target_resolve_minutes,
    }


def for_report(report: Report, now: datetime | None = None) -> dict:
    """Each milestone: minutes from creation, target, overdue; and the report's overall overdue flag."""
    now = now or timezone.now()
    out: dict = {"milestones": {}, "overdue": []}
    is_open = report.status in OPEN_STATUSES
    for name, target in targets(report).items():
        stamp = getattr(report, STAMP[name])
        minutes = None if stamp is None else round((stamp - report.created_at).total_seconds() / 60, 1)
        waited = (now - report.created_at).total_seconds() / 60
        overdue = (minutes is not None and minutes > target) or (minutes is None and is_open and waited > target)
        out["milestones"][name] = {"at": stamp, "minutes": minutes, "target_minutes": target, "overdue": overdue}
        if overdue:
            out["overdue"].append(name)
    return out


_SUMMARY_SQL = """
WITH r AS (
  SELECT r.id, o.code AS opd, o.name AS opd_name, COALESCE(k.code, '') AS kec, COALESCE(k.name, '') AS kec_name,
         r.status, r.priority,
         EXTRACT(EPOCH FROM r.dispatched_at - r.created_at) / 60 AS dispatch,
         EXTRACT(EPOCH FROM r.acknowledged_at - r.created_at) / 60 AS acknowledge,
         EXTRACT(EPOCH FROM r.arrived_at - r.created_at) / 60 AS arrive,
         EXTRACT(EPOCH FROM r.resolved_at - r.created_at) / 60 AS resolve,
         c.target_dispatch_minutes AS t_dispatch, c.target_resolve_minutes AS t_resolve,
         EXTRACT(EPOCH FROM %(now)s - r.created_at) / 60 AS waited,
         r.status = ANY(%(open)s) AS is_open
  FROM incidents_report r
  JOIN incidents_opd o ON o.id = r.opd_id
  JOIN incidents_category c ON c.id = r.category_id
  LEFT JOIN kecamatan_boundaries_kecamatan k ON k.id = r.kecamatan_id
  WHERE r.created_at >= %(since)s AND r.created_at < %(until)s {extra}
)
SELECT {key}, COUNT(*),
  {aggs},
  SUM(CASE WHEN (dispatch > t_dispatch) OR (dispatch IS NULL AND is_open AND waited > t_dispatch)
            OR (resolve > t_resolve) OR (resolve IS NULL AND is_open AND waited > t_resolve) THEN 1 ELSE 0 END)
FROM r GROUP BY {key} ORDER BY {key}
"""


def summary(since: datetime, until: datetime, *, opd: str = "", kecamatan: str = "") -> dict:
    """Median and 90th percentile minutes of each milestone, counts and overdue, per OPD and per kecamatan."""
    aggs = ", ".join(
        f"COUNT({m}), percentile_cont(0.5) WITHIN GROUP (ORDER BY {m}), "
        f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {m})"
        for m in MILESTONES
    )
    extra, params = "", {"since": since, "until": until, "now": timezone.now(), "open": list(OPEN_STATUSES)}
    if opd:
        extra += " AND o.code = %(opd)s"
        params["opd"] = opd
    if kecamatan:
        extra += " AND k.code = %(kec)s"
        params["kec"] = kecamatan
    result = {}
    for group, key in (("by_opd", "opd, opd_name"), ("by_kecamatan", "kec, kec_name")):
        with connection.cursor() as cur:
            cur.execute(_SUMMARY_SQL.format(key=key, aggs=aggs, extra=extra), params)
            rows = cur.fetchall()
        result[group] = [_row(row) for row in rows]
    return result


def _row(row) -> dict:
    code, name, count = row[0], row[1], row[2]
    out = {"code": code, "name": name, "reports": count, "overdue": int(row[-1] or 0)}
    for i, m in enumerate(MILESTONES):
        n, p50, p90 = row[3 + i * 3 : 6 + i * 3]
        out[m] = {
            "reports": n,
            "median_minutes": None if p50 is None else round(p50, 1),
            "p90_minutes": None if p90 is None else round(p90, 1),
        }
    return out
