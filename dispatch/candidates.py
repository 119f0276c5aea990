"""Judging: who could take a report, nearest first, each with presence, workload and why excluded.

Steps 1-3 of the rule in dispatcher.py: the spatial query (KNN on the latest-position GiST
index, exact geodesic metres), the exclusions (`exclusions.Exclusion`, with their facts as data),
the ranking with the tie tolerance, and the suggestions outside the rule for an operator when
nobody fits. Nothing here writes: the dispatcher and the console both ask it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import Count
from django.utils import timezone

from incidents.models import Report
from kecamatan_boundaries.models import Kecamatan
from tracking import presence
from tracking.models import LatestPosition, Supervisor

from . import exclusions as ex
from . import settings as ds
from .exclusions import Excluded, Exclusion
from .models import Order, OrderState

FIRST_FETCH = 48  # nearest positions fetched in the first pass of a decision


@dataclass
class Candidate:
    """One supervisor as the rule judged them for one report."""

    supervisor_id: int
    name: str
    distance_m: float | None
    kecamatan_code: str
    in_kecamatan: bool
    presence: str = ""
    presence_reason: str = ""
    workload: int = 0
    excluded: Excluded | None = None
    rank: int | None = None
    assigned_here: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The candidate as a decision stores it (distance rounded to 0.1 m, the exclusion as code + detail)."""
        code, detail = ex.stored(self.excluded)
        return {
            "supervisor_id": self.supervisor_id,
            "name": self.name,
            "distance_m": None if self.distance_m is None else round(self.distance_m, 1),
            "kecamatan_code": self.kecamatan_code,
            "in_kecamatan": self.in_kecamatan,
            "presence": self.presence,
            "presence_reason": self.presence_reason,
            "workload": self.workload,
            "excluded": code,
            "excluded_detail": detail,
            "rank": self.rank,
            "assigned_here": self.assigned_here,
        }


@dataclass
class Suggestion:
    """Someone outside the rule an operator may still choose: busy or off-area here, or on duty elsewhere."""

    supervisor_id: int
    name: str
    distance_m: float | None
    kecamatan_code: str
    presence: str
    workload: int
    outside_rule: Excluded
    candidate: Candidate | None = None  # when judged by the rule here: the whole judgement is kept

    def as_dict(self) -> dict[str, Any]:
        code, detail = ex.stored(self.outside_rule)
        if self.candidate is not None:
            base = self.candidate.as_dict()
        else:
            base = {
                "supervisor_id": self.supervisor_id,
                "name": self.name,
                "distance_m": None if self.distance_m is None else round(self.distance_m, 1),
                "kecamatan_code": self.kecamatan_code,
                "presence": self.presence,
                "workload": self.workload,
            }
        return {**base, "outside_rule": code, "outside_rule_detail": detail}


# --- the spatial queries ------------------------------------------------------------------------
_NEAREST_SQL = """
SELECT lp.supervisor_id,
       ST_Distance(lp.point::geography, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography) AS distance_m
FROM tracking_latestposition lp
JOIN tracking_supervisor s ON s.id = lp.supervisor_id
WHERE s.opd_id = %(opd)s AND s.active AND {where}
ORDER BY lp.point <-> ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)
LIMIT %(limit)s
"""
# Inside: the bbox test (&&) is an index condition of the same GiST scan that yields the KNN
# order, so only supervisors in the kecamatan's bounding box are visited; ST_Covers is exact.
_INSIDE = "lp.point && ({kec}) AND ST_Covers(({kec}), lp.point)"
_OUTSIDE = "NOT ST_Covers(({kec}), lp.point)"
_KEC_GEOM = "SELECT geom FROM {table} WHERE id = %(kec_id)s"


def nearest_positions(report: Report, kecamatan: Kecamatan, *, inside: bool, limit: int) -> list[tuple[int, float]]:
    """(supervisor id, geodesic metres) of the OPD's supervisors nearest the report, inside or outside
    the kecamatan: KNN order on the GiST index, then re-sorted by the exact distance."""
    kec = _KEC_GEOM.format(table=Kecamatan._meta.db_table)
    sql = _NEAREST_SQL.format(where=(_INSIDE if inside else _OUTSIDE).format(kec=kec))
    with connection.cursor() as cur:
        cur.execute(
            sql,
            {
                "lon": report.location.x,
                "lat": report.location.y,
                "kec_id": kecamatan.pk,
                "opd": report.opd_id,
                "limit": limit,
            },
        )
        rows = cur.fetchall()
    return sorted(((sid, float(dist)) for sid, dist in rows), key=lambda r: (r[1], r[0]))


def current_kecamatan(report: Report) -> Kecamatan | None:
    """The current polygon of the report's kecamatan code (boundaries are versioned)."""
    if report.kecamatan_id is None:
        return None
    code = report.kecamatan.code
    return Kecamatan.objects.current().filter(code=code).first() or report.kecamatan


def open_workload(supervisor_ids: list[int]) -> dict[int, int]:
    """Open orders per supervisor (those with none are absent)."""
    rows = Order.objects.open().filter(supervisor_id__in=supervisor_ids).values("supervisor_id").annotate(n=Count("id"))
    return {r["supervisor_id"]: r["n"] for r in rows}


_TRIED = {
    OrderState.DECLINED: Exclusion.DECLINED,
    OrderState.EXPIRED: Exclusion.EXPIRED,
    OrderState.REASSIGNED: Exclusion.TAKEN_OFF,
}


def tried_before(report: Report) -> dict[int, Excluded]:
    """Supervisors this report already went to and who should not get it again, with why and when."""
    out: dict[int, Excluded] = {}
    for o in Order.objects.filter(report=report, state__in=list(_TRIED)).order_by("offered_at"):
        out[o.supervisor_id] = ex.tried(_TRIED[o.state], o.closed_at or o.offered_at)
    return out


# --- judging --------------------------------------------------------------------------------------------
def judge(
    report: Report,
    at: datetime | None = None,
    *,
    exclude: dict[int, Excluded] | None = None,
    enough: int | None = None,
) -> list[Candidate]:
    """The candidates of the rule, nearest first, each with its presence, workload and exclusion.

    `exclude` adds exclusions of the caller's (a supervisor just taken off the report). With
    `enough`, candidates are judged in distance order, a batch at a time, and judging stops once
    `enough` are eligible and the next one is beyond the tie tolerance of the nearest eligible:
    with hundreds of supervisors in a kecamatan only the nearest few are ever judged (and stored
    as considered). Without it, all (up to DISPATCH_MAX_CANDIDATES) are judged.
    """
    at = at or timezone.now()
    kecamatan = current_kecamatan(report)
    if kecamatan is None:
        return []
    # the nearest few dozen are nearly always enough; fetch them all only when judging runs past them
    limit = ds.max_candidates() if not enough else min(ds.max_candidates(), FIRST_FETCH)
    near = nearest_positions(report, kecamatan, inside=True, limit=limit)
    tried = tried_before(report)
    tried.update(exclude or {})
    cap = ds.max_open_orders()
    tol = ds.tie_tolerance_m()
    out: list[Candidate] = []
    batch = max(4, enough * 4) if enough else len(near) or 1
    for start in range(0, len(near), batch):
        chunk = near[start : start + batch]
        sups = {
            s.pk: s for s in Supervisor.objects.filter(pk__in=[i for i, _ in chunk]).select_related("latest_position")
        }
        states = presence.presence_for(sups.values(), at=at)
        load = open_workload(list(sups))
        for sid, dist in chunk:
            out.append(_judged(sups[sid], dist, kecamatan.code, states[sid], load.get(sid, 0), tried, cap))
        eligible = [c.distance_m for c in out if c.excluded is None]
        following = near[start + batch][1] if start + batch < len(near) else None
        if enough and len(eligible) >= enough and (following is None or following > min(eligible) + tol):
            break
    else:
        if enough and len(near) == limit < ds.max_candidates():
            return judge(report, at, exclude=exclude, enough=None)
    out.extend(_assigned_elsewhere(report, kecamatan, [i for i, _ in near]))
    return out


def _assigned_elsewhere(report: Report, kecamatan: Kecamatan, seen: list[int]) -> list[Candidate]:
    """Supervisors assigned to this kecamatan whose position is elsewhere (or none): shown, excluded,
    with the presence last recorded for them (no need to judge shifts for someone not here)."""
    assigned = (
        Supervisor.objects.active()
        .filter(opd_id=report.opd_id, kecamatan_codes__contains=[kecamatan.code])
        .exclude(pk__in=seen)
        .exclude(latest_position__kecamatan_code=kecamatan.code)
        .select_related("latest_position")[: ds.max_candidates()]
    )
    out = []
    for sup in assigned:
        lp = _latest(sup)
        out.append(
            Candidate(
                supervisor_id=sup.pk,
                name=sup.name,
                distance_m=None,
                kecamatan_code=lp.kecamatan_code if lp else "",
                in_kecamatan=False,
                presence=sup.presence_state,
                presence_reason=sup.presence_reason,
                assigned_here=True,
                excluded=ex.no_position() if lp is None else ex.outside_kecamatan(kecamatan.name, lp.kecamatan_code),
            )
        )
    return out


def _latest(sup: Supervisor) -> LatestPosition | None:
    try:
        return sup.latest_position
    except LatestPosition.DoesNotExist:
        return None


def _judged(
    sup: Supervisor,
    dist: float,
    kec_code: str,
    p: presence.Presence,
    workload: int,
    tried: dict[int, Excluded],
    cap: int,
) -> Candidate:
    """A supervisor positioned in the kecamatan, judged: the first exclusion that applies, in the rule's order."""
    lp = _latest(sup)
    c = Candidate(
        supervisor_id=sup.pk,
        name=sup.name,
        distance_m=dist,
        kecamatan_code=(lp.kecamatan_code if lp else "") or "",
        in_kecamatan=True,
        presence=str(p.state),
        presence_reason=p.reason,
        workload=workload,
        assigned_here=kec_code in (sup.kecamatan_codes or []),
    )
    if p.state != presence.State.ON_DUTY:
        c.excluded = ex.not_on_duty(str(p.state), p.reason)
    elif ds.exclude_mock() and lp is not None and lp.last_mock_at and lp.last_mock_at > lp.device_time:
        c.excluded = ex.mock_location(lp.last_mock_at)
    elif sup.pk in tried:
        c.excluded = tried[sup.pk]
    elif workload >= cap:
        c.excluded = ex.at_cap(workload, cap)
    return c


def rank(candidates: list[Candidate]) -> list[Candidate]:
    """Eligible candidates in the order they would be offered: nearest first, ties by lighter workload."""
    eligible = sorted((c for c in candidates if c.excluded is None), key=lambda c: (c.distance_m, c.supervisor_id))
    ordered: list[Candidate] = []
    tol = ds.tie_tolerance_m()
    while eligible:
        nearest = eligible[0].distance_m
        tied = [c for c in eligible if c.distance_m <= nearest + tol]
        best = min(tied, key=lambda c: (c.workload, c.distance_m, c.supervisor_id))
        ordered.append(best)
        eligible.remove(best)
    for n, c in enumerate(ordered, start=1):
        c.rank = n
    return ordered


_BUSY = (Exclusion.AT_CAP, Exclusion.AT_CAP_WHEN_OFFERED)


def suggestions_for(report: Report, candidates: list[Candidate], at: datetime) -> list[Suggestion]:
    """Outside the rule, for the operator: off-area or busy ones here, the nearest on duty elsewhere."""
    out: list[Suggestion] = [
        Suggestion(
            supervisor_id=c.supervisor_id,
            name=c.name,
            distance_m=c.distance_m,
            kecamatan_code=c.kecamatan_code,
            presence=c.presence,
            workload=c.workload,
            outside_rule=c.excluded,
            candidate=c,
        )
        for c in candidates
        if c.in_kecamatan and c.excluded and (c.presence == "out_of_area" or c.excluded.reason in _BUSY)
    ]
    kecamatan = current_kecamatan(report)
    if kecamatan is not None:
        near = nearest_positions(report, kecamatan, inside=False, limit=ds.suggestions() * 4)
        sups = {
            s.pk: s for s in Supervisor.objects.filter(pk__in=[i for i, _ in near]).select_related("latest_position")
        }
        states = presence.presence_for(sups.values(), at=at)
        load = open_workload(list(sups))
        for sid, dist in near:
            if states[sid].state != presence.State.ON_DUTY:
                continue
            sup = sups[sid]
            lp = _latest(sup)
            kec = lp.kecamatan_code if lp else ""
            out.append(
                Suggestion(
                    supervisor_id=sid,
                    name=sup.name,
                    distance_m=dist,
                    kecamatan_code=kec,
                    presence="on_duty",
                    workload=load.get(sid, 0),
                    outside_rule=ex.other_kecamatan(kec),
                )
            )
    # by the distance as stored (0.1 m), unknown last; the sort is stable, so ties keep this order
    out.sort(key=lambda s: (s.distance_m is None, round(s.distance_m, 1) if s.distance_m is not None else 0))
    return out[: ds.suggestions()]
