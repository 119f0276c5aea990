"""Orders to supervisors as the console and the field app see them: a thin seam over `dispatch`.

The dispatch app (issue 5) owns orders, decisions, the rule and the timers; this module only
shapes them for the pages and maps the field app's buttons to dispatch's functions, so the
console never has its own idea of who holds a report.

Candidates shown to an operator are dispatch's own judgement (`candidates.judge`: every
supervisor of the OPD in or assigned to the kecamatan, with presence, distance, workload and why
excluded) plus its suggestions outside the rule (on duty in a neighbouring kecamatan). An operator
may still choose one outside the rule; dispatch records that in the decision.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import status as http

from core.api import DomainError
from incidents.models import Report

FIELD_STEPS = ("acknowledge", "decline", "en_route", "on_site", "resolve", "photo")


class NotYourOrder(DomainError):
    status_code = http.HTTP_403_FORBIDDEN


class StepError(DomainError):
    status_code = http.HTTP_400_BAD_REQUEST


def _candidate(c: dict, eligible: bool, reasons: list[str]) -> dict:
    return {
        "supervisor_id": c["supervisor_id"],
        "name": c["name"],
        "distance_m": c.get("distance_m"),
        "state": c.get("presence") or "offline",
        "kecamatan": c.get("kecamatan_code") or "",
        "workload": c.get("workload", 0),
        "eligible": eligible,
        "reasons": reasons,
    }


def candidates(report: Report) -> list[dict]:
    """Who fits dispatch's rule (nearest first), then who does not and why, then suggestions outside it."""
    from django.utils import timezone

    from dispatch.candidates import judge, rank, suggestions_for
    from dispatch.exclusions import describe

    now = timezone.now()
    judged = judge(report, now)
    ranked = rank(judged)
    out = [_candidate(c.as_dict(), True, []) for c in ranked]
    seen = {c["supervisor_id"] for c in out}
    for c in judged:
        if c.supervisor_id not in seen and c.excluded:
            out.append(_candidate(c.as_dict(), False, [describe(c.excluded)]))
            seen.add(c.supervisor_id)
    for s in suggestions_for(report, judged, now):
        if s.supervisor_id not in seen:
            out.append(_candidate(s.as_dict(), False, [describe(s.outside_rule)]))
            seen.add(s.supervisor_id)
    return out


def open_order(report: Report):
    from dispatch.models import Order

    return Order.objects.open().filter(report=report).select_related("supervisor").first()


def holder_of(report: Report) -> int | None:
    order = open_order(report)
    return order.supervisor_id if order else None


def step_of(report: Report) -> str:
    order = open_order(report)
    return order.state if order else ""


def queue_state(report: Report) -> dict:
    """Dispatch's view of the report: queue, why it waits, suggestions, escalations."""
    from dispatch.models import DispatchState

    st = DispatchState.objects.filter(report=report).first()
    if st is None:
        return {"queue": "", "reason": "", "suggestions": [], "escalations": 0}
    return {"queue": st.queue, "reason": st.reason, "suggestions": st.suggestions, "escalations": st.escalations}


def orders_of(supervisor) -> list:
    """The supervisor's open orders (only theirs), most urgent first."""
    from dispatch.models import Order

    return list(
        Order.objects.open()
        .filter(supervisor=supervisor)
        .select_related("report", "report__category", "report__opd", "report__kecamatan", "report__kelurahan")
        .order_by("report__priority", "-offered_at")
    )


def dispatch(report: Report, supervisor_id: int, *, actor, note: str = "") -> None:
    """The operator's choice: offer to `supervisor_id`, or re-assign to them when someone holds it."""
    from dispatch.dispatcher import offer_to
    from dispatch.operators import reassign

    name = actor.get_username() if actor is not None else "operator"
    if open_order(report) is not None:
        reassign(report, reason=note, actor=name, version=None, supervisor_id=supervisor_id)
    else:
        offer_to(report, supervisor_id, trigger="manual", actor=name)


def cancel(report: Report, *, actor, note: str) -> None:
    from dispatch.operators import cancel as cancel_order

    cancel_order(report, reason=note, actor=actor.get_username(), version=None)


def refer(report: Report, *, actor, to: str, note: str) -> None:
    """To another OPD of the city (by code, re-routed there) or to an authority outside it."""
    from dispatch.operators import refer as refer_report
    from incidents.models import OPD

    name = actor.get_username()
    if OPD.objects.filter(code=to, active=True).exists():
        refer_report(report, reason=note or to, actor=name, opd_code=to, version=None)
    else:
        refer_report(report, reason=note or to, actor=name, outside=to, version=None)


def field_step(report: Report, supervisor, step: str, *, note: str = "", photo=None):
    """One button of the field app on the supervisor's order for `report`."""
    from dispatch import orders as d
    from dispatch.models import Order

    if step not in FIELD_STEPS:
        raise StepError(_("Unknown step %(s)s.") % {"s": step})
    order = Order.objects.filter(report=report, supervisor=supervisor).order_by("-offered_at", "-id").first()
    if order is None:
        raise NotYourOrder(_("This report was never given to you."))
    if step == "acknowledge":
        return d.acknowledge(order.pk, supervisor)
    if step == "decline":
        d.decline(order.pk, supervisor, note)
        return Order.objects.get(pk=order.pk)
    if step == "en_route":
        return d.en_route(order.pk, supervisor)
    if step == "on_site":
        return d.on_site(order.pk, supervisor)
    if step == "resolve":
        return d.resolve(order.pk, supervisor, note=note, photo=photo)
    d.add_note(order.pk, supervisor, note, photo=photo)
    return Order.objects.get(pk=order.pk)
