"""Orders to supervisors, as the console and the field app see them.

This is the one seam between the console and dispatching. Until the dispatch app (issue 5)
provides its Order model, an order is read from the report's own timeline: a status event to
`dispatched` carrying `data.supervisor_id` offers the report to that supervisor; the report's
status and `arrived_at` give the step (offered -> acknowledged -> en route -> on site -> resolved;
declined sends it back to the operators' queue). Every step goes through
`incidents.lifecycle`, which locks the report row, so a supervisor's phone and an operator cannot
both move it from the same state.

Candidates follow the dispatch rule (issue 5): supervisors of the report's OPD, on duty by
tracking's presence, whose latest fix is inside the report's kecamatan; ranked by geodesic
distance, then open workload. Those outside the rule are listed too, with the reason, so an
operator can still choose one deliberately.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.db import transaction
from django.db.models import BooleanField, FloatField
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _
from rest_framework import status as http

from geoapp.api import DomainError
from incidents import lifecycle
from incidents.models import EventKind, Report, ReportEvent, Status

from . import settings as cs

S = Status
ORDER_STATUSES = (S.DISPATCHED, S.ACKNOWLEDGED, S.IN_PROGRESS)
FIELD_STEPS = ("acknowledge", "decline", "en_route", "on_site", "resolve", "photo")


class OrderError(DomainError):
    status_code = http.HTTP_409_CONFLICT


class NotYourOrder(DomainError):
    status_code = http.HTTP_403_FORBIDDEN


class UnknownSupervisor(DomainError):
    status_code = http.HTTP_400_BAD_REQUEST


# --- candidates ------------------------------------------------------------------------------------
@dataclass
class Candidate:
    supervisor_id: int
    name: str
    opd: str
    distance_m: float
    state: str
    kecamatan: str
    workload: int
    eligible: bool
    reasons: list[str]

    def as_dict(self) -> dict:
        return {
            "supervisor_id": self.supervisor_id,
            "name": self.name,
            "opd": self.opd,
            "distance_m": round(self.distance_m, 1),
            "state": self.state,
            "kecamatan": self.kecamatan,
            "workload": self.workload,
            "eligible": self.eligible,
            "reasons": self.reasons,
        }


def workloads(supervisor_ids) -> Counter:
    """Open orders held by each supervisor (latest dispatch of each open order)."""
    counts: Counter = Counter()
    for report in Report.objects.filter(status__in=ORDER_STATUSES).only("pk"):
        holder = holder_of(report)
        if holder in supervisor_ids:
            counts[holder] += 1
    return counts


def candidates(report: Report) -> list[Candidate]:
    """Supervisors of the report's OPD near it: who fits the rule, and why the others do not."""
    from tracking import presence
    from tracking.models import LatestPosition

    wkt = f"SRID=4326;POINT({report.location.x!r} {report.location.y!r})"
    table = LatestPosition._meta.db_table
    rows = list(
        LatestPosition.objects.filter(supervisor__opd_id=report.opd_id, supervisor__active=True)
        .select_related("supervisor", "supervisor__opd")
        .annotate(
            distance_m=RawSQL(
                f'ST_Distance("{table}"."point"::geography, ST_GeogFromText(%s))', (wkt,), output_field=FloatField()
            )
        )
        .filter(
            RawSQL(
                f'ST_DWithin("{table}"."point"::geography, ST_GeogFromText(%s), %s)',
                (wkt, cs.candidate_radius_m()),
                output_field=BooleanField(),
            )
        )
        .order_by("distance_m")[: cs.candidate_limit() * 3]
    )
    sups = [lp.supervisor for lp in rows]
    for lp, sup in zip(rows, sups, strict=True):
        sup.latest_position = lp
    states = presence.presence_for(sups)
    load = workloads({s.pk for s in sups})
    kec = report.kecamatan.code if report.kecamatan_id else ""
    out = []
    for lp in rows:
        sup = lp.supervisor
        p = states[sup.pk]
        reasons = []
        if p.state != presence.State.ON_DUTY:
            reasons.append(f"{p.state}: {p.reason}")
        if kec and lp.kecamatan_code != kec:
            reasons.append(_("outside the report's kecamatan (at %(k)s)") % {"k": lp.kecamatan_code or "-"})
        out.append(
            Candidate(
                sup.pk,
                sup.name,
                sup.opd.code,
                lp.distance_m,
                str(p.state),
                lp.kecamatan_code,
                load[sup.pk],
                not reasons,
                reasons,
            )
        )
    out.sort(key=lambda c: (not c.eligible, c.distance_m, c.workload))
    return out[: cs.candidate_limit()]


# --- who holds an order ------------------------------------------------------------------------------
def last_dispatch(report: Report) -> ReportEvent | None:
    return (
        ReportEvent.objects.filter(report=report, to_status=S.DISPATCHED, data__has_key="supervisor_id")
        .order_by("-at", "-id")
        .first()
    )


def holder_of(report: Report) -> int | None:
    """The supervisor an open order is with now (None when nobody holds it)."""
    if report.status not in ORDER_STATUSES:
        return None
    event = last_dispatch(report)
    return int(event.data["supervisor_id"]) if event else None


def step_of(report: Report) -> str:
    if report.status == S.DISPATCHED:
        return "offered"
    if report.status == S.ACKNOWLEDGED:
        return "acknowledged"
    if report.status == S.IN_PROGRESS:
        return "on_site" if report.arrived_at else "en_route"
    return report.status


def orders_of(supervisor) -> list[Report]:
    """The supervisor's open orders, newest first (only theirs: another OPD's reports never show)."""
    ids = (
        ReportEvent.objects.filter(to_status=S.DISPATCHED, data__supervisor_id=supervisor.pk)
        .values_list("report_id", flat=True)
        .distinct()
    )
    qs = (
        Report.objects.filter(pk__in=list(ids), status__in=ORDER_STATUSES)
        .select_related("category", "opd", "kecamatan", "kelurahan")
        .order_by("priority", "-dispatched_at", "-id")
    )
    return [r for r in qs if holder_of(r) == supervisor.pk]


# --- operator: dispatch ------------------------------------------------------------------------------
def dispatch(report: Report, supervisor_id: int, *, actor=None, note: str = "") -> Report:
    """Offer the report to a supervisor of its OPD (a re-assignment when someone holds it)."""
    from tracking.models import Supervisor

    sup = Supervisor.objects.select_related("opd").filter(pk=supervisor_id, active=True).first()
    if sup is None:
        raise UnknownSupervisor(_("No active supervisor with id %(id)s.") % {"id": supervisor_id}, field="supervisor")
    if sup.opd_id != report.opd_id:
        raise OrderError(
            _("%(name)s works for %(opd)s; this report belongs to %(ropd)s.")
            % {"name": sup.name, "opd": sup.opd.name, "ropd": report.opd.name}
        )
    previous = holder_of(report)
    distance = next((c.distance_m for c in candidates(report) if c.supervisor_id == sup.pk), None)
    data = {"supervisor_id": sup.pk, "supervisor": sup.name, "distance_m": distance}
    if previous and previous != sup.pk:
        data["reassigned_from"] = previous
    with transaction.atomic():
        if report.status in (S.RECEIVED,):
            lifecycle.change_status(report, S.ROUTED, actor=actor, note=_("routed by the operator"))
        return lifecycle.change_status(
            report,
            S.DISPATCHED,
            actor=actor,
            note=note or _("assigned to %(name)s") % {"name": sup.name},
            data=data,
        )


# --- supervisor: steps ------------------------------------------------------------------------------
def field_step(report: Report, supervisor, step: str, *, user=None, note: str = "", photo=None) -> Report:
    """One step of the supervisor's order; idempotent when the step is already done."""
    if step not in FIELD_STEPS:
        raise OrderError(_("Unknown step %(s)s.") % {"s": step})
    label = f"supervisor:{supervisor.name}"[:120]
    with transaction.atomic():
        locked = Report.objects.select_for_update().get(pk=report.pk)
        if holder_of(locked) != supervisor.pk:
            raise NotYourOrder(_("This order is not with you (any more)."))
        data = {"supervisor_id": supervisor.pk, "step": step}
        if photo is not None:
            attach_photo(locked, photo, label)
        if step == "acknowledge":
            if locked.status == S.DISPATCHED:
                lifecycle.change_status(locked, S.ACKNOWLEDGED, actor=user, actor_label=label, note=note, data=data)
        elif step == "decline":
            if locked.status != S.DISPATCHED:
                raise OrderError(_("Only an order not yet acknowledged can be declined."))
            if not note.strip():
                raise OrderError(_("Say why you decline."))
            data["declined"] = True
            lifecycle.change_status(
                locked, S.AWAITING_SUPERVISOR, actor=user, actor_label=label, note=note, data=data, public=False
            )
        elif step == "en_route":
            if locked.status != S.IN_PROGRESS:
                lifecycle.change_status(
                    locked, S.IN_PROGRESS, actor=user, actor_label=label, note=note or _("on the way"), data=data
                )
        elif step == "on_site":
            if locked.status != S.IN_PROGRESS:
                lifecycle.change_status(locked, S.IN_PROGRESS, actor=user, actor_label=label, data=data)
            lifecycle.mark_arrived(locked, actor=user, actor_label=label, data=data)
        elif step == "resolve":
            lifecycle.change_status(
                locked, S.RESOLVED, actor=user, actor_label=label, note=note or _("handled in the field"), data=data
            )
        elif step == "photo":
            if photo is None:
                raise OrderError(_("Attach a photo."))
            if note:
                lifecycle.add_note(locked, note, actor=user, actor_label=label, public=True)
    return Report.objects.select_related("category", "opd", "kecamatan", "kelurahan").get(pk=report.pk)


def attach_photo(report: Report, upload, actor_label: str) -> None:
    """A photo from the field, checked like a citizen's (type by content, size, EXIF)."""
    from incidents.media import inspect_uploads, store_media

    items = inspect_uploads([upload], field="photo")
    store_media(report, items)
    ReportEvent.objects.create(report=report, kind=EventKind.MEDIA, actor_label=actor_label, data={"count": len(items)})
