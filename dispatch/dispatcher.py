"""The spatial dispatcher: the nearest on-duty supervisor of the report's OPD inside its kecamatan.

The rule, in order (each exclusion is written into the decision with its reason):

1. the supervisors of the report's OPD whose latest position is covered by the report's
   kecamatan (current polygon of its code): a KNN scan (`<->`) on the latest-position GiST
   index, limited to DISPATCH_MAX_CANDIDATES, then the exact geodesic distance (geography);
2. excluded: not on duty by tracking's presence rule (off shift, stale, offline, out of their
   area), a phone now sending mock locations, already declined / let expire / taken off this
   report, at the cap of DISPATCH_MAX_OPEN_ORDERS open orders;
3. the nearest eligible wins; candidates within DISPATCH_TIE_TOLERANCE_M of the nearest count
   as tied and the lighter open workload wins among them;
4. the cap is checked again under a row lock on the supervisor at the moment of the offer, so
   two reports dispatched at the same instant can never push one supervisor over it.

When nobody fits, the report waits as "awaiting supervisor" with the reason and suggestions
marked as outside the rule (nearest of the OPD outside the kecamatan, off-area supervisors).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone
from rest_framework import status as http

from core.api import DomainError
from incidents import lifecycle
from incidents.models import OPEN_STATUSES, EventKind, Report, Status
from kecamatan_boundaries.models import Kecamatan
from tracking import presence
from tracking.models import LatestPosition, Supervisor

from . import settings as ds
from .models import Decision, DispatchState, Order, OrderState

S = Status
PRESENCE_LABEL = {
    "off_shift": "off shift",
    "offline": "offline",
    "stale": "stale position",
    "out_of_area": "outside own assigned area",
}


class DispatchError(DomainError):
    status_code = http.HTTP_409_CONFLICT


class NotDispatchable(DispatchError):
    """The report is closed, or already has an open order."""


class SupervisorUnavailable(DispatchError):
    """An operator picked a supervisor who cannot take the order (other OPD, at the cap)."""


@dataclass
class Candidate:
    supervisor_id: int
    name: str
    distance_m: float | None
    kecamatan_code: str
    in_kecamatan: bool
    presence: str = ""
    presence_reason: str = ""
    workload: int = 0
    excluded: str | None = None
    rank: int | None = None
    assigned_here: bool = False
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        d = asdict(self)
        d.pop("extra")
        d.update(self.extra)
        if d["distance_m"] is not None:
            d["distance_m"] = round(d["distance_m"], 1)
        return d


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
    rows = Order.objects.open().filter(supervisor_id__in=supervisor_ids).values("supervisor_id").annotate(n=Count("id"))
    return {r["supervisor_id"]: r["n"] for r in rows}


def _tried(report: Report) -> dict[int, str]:
    """Supervisors this report already went to and who should not get it again, with why."""
    labels = {
        OrderState.DECLINED: "declined this report",
        OrderState.EXPIRED: "did not acknowledge this report in time",
        OrderState.REASSIGNED: "taken off this report by an operator",
    }
    out: dict[int, str] = {}
    for o in Order.objects.filter(report=report, state__in=list(labels)).order_by("offered_at"):
        out[o.supervisor_id] = f"{labels[o.state]} at {timezone.localtime(o.closed_at or o.offered_at):%H:%M}"
    return out


FIRST_FETCH = 48  # nearest positions fetched in the first pass of a decision


def judge(
    report: Report,
    at: datetime | None = None,
    *,
    exclude: dict[int, str] | None = None,
    enough: int | None = None,
) -> list[Candidate]:
    """The candidates of the rule, nearest first, each with its presence, workload and exclusion.

    With `enough`, candidates are judged in distance order, a batch at a time, and judging stops
    once `enough` are eligible and the next one is beyond the tie tolerance of the nearest
    eligible: with hundreds of supervisors in a kecamatan only the nearest few are ever judged
    (and stored as considered). Without it, all (up to DISPATCH_MAX_CANDIDATES) are judged.
    """
    at = at or timezone.now()
    kecamatan = current_kecamatan(report)
    if kecamatan is None:
        return []
    # the nearest few dozen are nearly always enough; fetch them all only when judging runs past them
    limit = ds.max_candidates() if not enough else min(ds.max_candidates(), FIRST_FETCH)
    near = nearest_positions(report, kecamatan, inside=True, limit=limit)
    tried = dict(_tried(report))
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
            out.append(_candidate(sups[sid], dist, True, kecamatan.code, states[sid], load.get(sid, 0), tried, cap))
        eligible = [c.distance_m for c in out if c.excluded is None]
        following = near[start + batch][1] if start + batch < len(near) else None
        if enough and len(eligible) >= enough and (following is None or following > min(eligible) + tol):
            break
    else:
        if enough and len(near) == limit < ds.max_candidates():
            return judge(report, at, exclude=exclude, enough=None)
    # supervisors assigned to this kecamatan whose position is elsewhere (or none): shown, excluded,
    # with the presence last recorded for them (no need to judge shifts for someone not here)
    assigned = (
        Supervisor.objects.active()
        .filter(opd_id=report.opd_id, kecamatan_codes__contains=[kecamatan.code])
        .exclude(pk__in=[i for i, _ in near])
        .exclude(latest_position__kecamatan_code=kecamatan.code)
        .select_related("latest_position")[: ds.max_candidates()]
    )
    for sup in assigned:
        lp = _latest(sup)
        c = Candidate(
            supervisor_id=sup.pk,
            name=sup.name,
            distance_m=None,
            kecamatan_code=lp.kecamatan_code if lp else "",
            in_kecamatan=False,
            presence=sup.presence_state,
            presence_reason=sup.presence_reason,
            assigned_here=True,
        )
        c.excluded = (
            "no position received yet"
            if lp is None
            else f"latest position is outside kecamatan {kecamatan.name} ({lp.kecamatan_code or 'outside the city'})"
        )
        out.append(c)
    return out


def _latest(sup: Supervisor) -> LatestPosition | None:
    try:
        return sup.latest_position
    except LatestPosition.DoesNotExist:
        return None


def _candidate(sup, dist, inside, kec_code, p, workload, tried, cap) -> Candidate:
    lp = _latest(sup)
    c = Candidate(
        supervisor_id=sup.pk,
        name=sup.name,
        distance_m=dist,
        kecamatan_code=(lp.kecamatan_code if lp else "") or "",
        in_kecamatan=inside,
        presence=str(p.state),
        presence_reason=p.reason,
        workload=workload,
        assigned_here=kec_code in (sup.kecamatan_codes or []),
    )
    if p.state != presence.State.ON_DUTY:
        c.excluded = f"{PRESENCE_LABEL.get(str(p.state), str(p.state))}: {p.reason}"
    elif ds.exclude_mock() and lp is not None and lp.last_mock_at and lp.last_mock_at > lp.device_time:
        c.excluded = f"phone sending mock locations since {timezone.localtime(lp.last_mock_at):%H:%M}"
    elif sup.pk in tried:
        c.excluded = tried[sup.pk]
    elif workload >= cap:
        c.excluded = f"at the cap: {workload} open orders (max {cap})"
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


def suggestions_for(report: Report, candidates: list[Candidate], at: datetime) -> list[dict]:
    """Outside the rule, for the operator: off-area or busy ones here, the nearest on duty elsewhere."""
    out: list[dict] = []
    for c in candidates:
        if c.in_kecamatan and c.excluded and (c.presence == "out_of_area" or c.excluded.startswith("at the cap")):
            out.append({**c.as_dict(), "outside_rule": c.excluded})
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
                {
                    "supervisor_id": sid,
                    "name": sup.name,
                    "distance_m": round(dist, 1),
                    "kecamatan_code": kec,
                    "presence": "on_duty",
                    "workload": load.get(sid, 0),
                    "outside_rule": f"in another kecamatan ({kec or 'outside the city'})",
                }
            )
    out.sort(key=lambda d: (d["distance_m"] is None, d["distance_m"] or 0))
    return out[: ds.suggestions()]


# --- deciding and offering ----------------------------------------------------------------------------
def _lock_and_count(supervisor_id: int) -> int:
    """Lock the supervisor row (serialises offers to one supervisor) and count open orders after the lock.

    Only that row: the model's ordering joins the OPD, and a plain FOR UPDATE locked the OPD's row
    too, which every report filed to that OPD holds (its foreign-key check) until it commits: a
    citizen's report deadlocked with the worker's dispatch under load (seen in `make loadtest`).
    """
    list(
        Supervisor.objects.select_for_update(of=("self",))
        .filter(pk=supervisor_id)
        .order_by()
        .values_list("pk", flat=True)
    )
    return Order.objects.open().filter(supervisor_id=supervisor_id).count()


def state_of(report: Report) -> DispatchState:
    return DispatchState.objects.get_or_create(report=report)[0]


def _bump(report: Report, **fields) -> DispatchState:
    st = DispatchState.objects.select_for_update().get_or_create(report=report)[0]
    st.version += 1
    for k, v in fields.items():
        setattr(st, k, v)
    st.save()
    return st


def _move_report(report: Report, to_status: str, **kw) -> None:
    """Move the report's status through incidents.lifecycle when it is not already there."""
    current = Report.objects.filter(pk=report.pk).values_list("status", flat=True).get()
    if current == to_status and to_status != S.DISPATCHED:
        return
    if to_status not in lifecycle.TRANSITIONS.get(current, set()) and S.ROUTED in lifecycle.TRANSITIONS.get(
        current, set()
    ):
        lifecycle.change_status(report, S.ROUTED, actor_label="dispatch", public=False, note="kembali ke antrean")
    lifecycle.change_status(report, to_status, **kw)


def dispatch(
    report: Report | int,
    *,
    trigger: str,
    actor: str = "dispatcher",
    exclude: dict[int, str] | None = None,
    at: datetime | None = None,
    quiet_if_unchanged: bool = False,
) -> Decision:
    """Decide and offer: one transaction, the report row locked. Raises NotDispatchable if it has an open order."""
    from . import orders  # noqa: PLC0415 - orders imports this module

    at = at or timezone.now()
    started = time.perf_counter()
    with transaction.atomic():
        pk = report.pk if isinstance(report, Report) else report
        report = (
            Report.objects.select_for_update(of=("self",)).select_related("opd", "kecamatan", "category").get(pk=pk)
        )
        if report.status not in OPEN_STATUSES:
            raise NotDispatchable(f"Report {report.public_id} is {report.status}; only open reports are dispatched.")
        if Order.objects.open().filter(report=report).exists():
            raise NotDispatchable(
                f"Report {report.public_id} already has an open order; re-assign or cancel it instead."
            )
        base = {"report": report, "at": at, "trigger": trigger, "actor": actor, "opd": report.opd}
        base.update(kecamatan_code=report.kecamatan.code if report.kecamatan_id else "", report_point=report.location)
        if ds.field_agencies_only() and not report.opd.is_field_agency:
            return Decision.objects.create(
                **base,
                outcome=Decision.Outcome.NOT_DISPATCHED,
                reason=f"{report.opd.name} has no field supervisors on SIGAP; the OPD was notified and handles it",
                duration_ms=(time.perf_counter() - started) * 1000,
            )
        chosen = None
        for enough in (3, None):  # the nearest few first; everyone if all of those are taken meanwhile
            candidates = judge(report, at, exclude=exclude, enough=enough)
            for c in rank(candidates):
                n = _lock_and_count(c.supervisor_id)
                if n >= ds.max_open_orders():
                    c.excluded = f"at the cap when offered: {n} open orders (max {ds.max_open_orders()})"
                    c.workload, c.rank = n, None
                    continue
                chosen = c
                break
            if chosen is not None or not any(
                c.excluded is None or "when offered" in (c.excluded or "") for c in candidates
            ):
                break
        ranked = [c for c in candidates if c.rank is not None and c.excluded is None]
        for n, c in enumerate(sorted(ranked, key=lambda c: c.rank), start=1):
            c.rank = n
        cand_json = [c.as_dict() for c in candidates]
        if chosen is None:
            reason = _no_candidate_reason(report, candidates)
            sugg = suggestions_for(report, candidates, at)
            st = DispatchState.objects.filter(report=report).first()
            unchanged = report.status == S.AWAITING_SUPERVISOR and st is not None and st.reason == reason
            decision = Decision(
                **base,
                outcome=Decision.Outcome.AWAITING,
                reason=reason,
                candidates=cand_json,
                suggestions=sugg,
                duration_ms=(time.perf_counter() - started) * 1000,
            )
            if quiet_if_unchanged and unchanged:
                DispatchState.objects.filter(report=report).update(suggestions=sugg)
                return decision  # not stored: a sweep that changed nothing leaves no trace
            decision.save()
            _bump(report, queue=DispatchState.Queue.AWAITING, reason=reason, suggestions=sugg)
            if report.status != S.AWAITING_SUPERVISOR:
                _move_report(
                    report,
                    S.AWAITING_SUPERVISOR,
                    actor_label="dispatch",
                    note=f"menunggu pengawas: {reason}",
                    data={"decision": decision.pk, "reason": reason},
                )
            return decision
        decision = Decision.objects.create(
            **base,
            outcome=Decision.Outcome.OFFERED,
            reason=f"nearest eligible: {chosen.name}, {chosen.distance_m:.0f} m, {chosen.workload} open orders",
            chosen_id=chosen.supervisor_id,
            candidates=cand_json,
            duration_ms=(time.perf_counter() - started) * 1000,
        )
        orders.offer(report, chosen.supervisor_id, decision=decision, distance_m=chosen.distance_m, actor=actor, at=at)
        return decision


def _no_candidate_reason(report: Report, candidates: list[Candidate]) -> str:
    kec = report.kecamatan.name if report.kecamatan_id else "?"
    inside = [c for c in candidates if c.in_kecamatan]
    if not inside:
        return f"no {report.opd.name} supervisor is in kecamatan {kec} now"
    counts: dict[str, int] = {}
    for c in inside:
        key = (c.excluded or "").split(":")[0]
        counts[key] = counts.get(key, 0) + 1
    detail = ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    return f"no {report.opd.name} supervisor in kecamatan {kec} can take it ({detail})"


def offer_to(
    report: Report | int, supervisor_id: int, *, trigger: str = "manual", actor: str = "operator", at=None
) -> Decision:
    """An operator's choice of supervisor: recorded as a decision; outside the rule is allowed, the cap is not."""
    from . import orders  # noqa: PLC0415

    at = at or timezone.now()
    with transaction.atomic():
        pk = report.pk if isinstance(report, Report) else report
        report = Report.objects.select_for_update(of=("self",)).select_related("opd", "kecamatan").get(pk=pk)
        if report.status not in OPEN_STATUSES:
            raise NotDispatchable(f"Report {report.public_id} is {report.status}; only open reports are dispatched.")
        if Order.objects.open().filter(report=report).exists():
            raise NotDispatchable(f"Report {report.public_id} already has an open order.")
        sup = Supervisor.objects.filter(pk=supervisor_id, active=True).first()
        if sup is None:
            raise SupervisorUnavailable(f"No active supervisor {supervisor_id}.")
        if sup.opd_id != report.opd_id:
            raise SupervisorUnavailable(f"{sup.name} is with {sup.opd.name}; the report belongs to {report.opd.name}.")
        n = _lock_and_count(sup.pk)
        if n >= ds.max_open_orders():
            raise SupervisorUnavailable(f"{sup.name} already has {n} open orders (max {ds.max_open_orders()}).")
        candidates = judge(report, at)
        mine = next((c for c in candidates if c.supervisor_id == sup.pk), None)
        outside = mine is None or mine.excluded is not None
        decision = Decision.objects.create(
            report=report,
            at=at,
            trigger=trigger,
            actor=actor,
            opd=report.opd,
            kecamatan_code=report.kecamatan.code if report.kecamatan_id else "",
            report_point=report.location,
            outcome=Decision.Outcome.OFFERED,
            chosen=sup,
            reason=f"chosen by {actor}"
            + (f" outside the rule ({mine.excluded if mine else 'not a candidate here'})" if outside else ""),
            candidates=[c.as_dict() for c in candidates],
        )
        dist = mine.distance_m if mine else _distance_to(report, sup)
        orders.offer(report, sup.pk, decision=decision, distance_m=dist, actor=actor, at=at)
        return decision


def _distance_to(report: Report, sup: Supervisor) -> float | None:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT ST_Distance(point::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography) "
            "FROM tracking_latestposition WHERE supervisor_id = %s",
            [report.location.x, report.location.y, sup.pk],
        )
        row = cur.fetchone()
    return float(row[0]) if row else None


def try_awaiting(opd_id: int, kecamatan_code: str | None = None, *, trigger: str = "on_duty", limit: int = 20) -> int:
    """Dispatch reports waiting for a supervisor of this OPD (in this kecamatan): most urgent, oldest first."""
    qs = Report.objects.filter(status=S.AWAITING_SUPERVISOR, opd_id=opd_id)
    if kecamatan_code:
        qs = qs.filter(kecamatan__code=kecamatan_code)
    qs = qs.exclude(dispatch_state__queue=DispatchState.Queue.HELD)
    offered = 0
    for pk in qs.order_by("priority", "created_at").values_list("pk", flat=True)[:limit]:
        try:
            d = dispatch(pk, trigger=trigger, quiet_if_unchanged=True)
        except NotDispatchable:
            continue
        offered += d.outcome == Decision.Outcome.OFFERED
    return offered


def events_kind_recategorised(report: Report) -> bool:
    last = report.events.order_by("-at", "-id").first()
    return last is not None and last.kind == EventKind.RECATEGORISED
