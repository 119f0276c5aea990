"""Orders: offered -> acknowledged -> en route -> on site -> resolved (or declined, expired, cancelled, reassigned).

Every step is an `OrderStep` with its time and the supervisor's position then (sent with the
request, else the latest ping). The report's status follows through `incidents.lifecycle`, in
the same transaction:

    offered -> dispatched     acknowledged -> acknowledged     on site / handed on -> in progress
    resolved -> resolved      declined / expired -> offered to the next candidate, or awaiting
    cancelled (operator) -> routed, held in the operators' queue (no automatic re-dispatch)

Supervisors act only on their own orders (403 otherwise). Acknowledging (and each forward step)
twice is answered with the order as it is, so a phone that retries on a flaky network is safe.

This module is the supervisor's side (the phone's buttons, on site detected from pings) and the
acknowledgement timer; the offer itself is the dispatcher's, the operators' re-assign, cancel
and refer are `operators.py`.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.gis.geos import Point
from django.core.files.base import File
from django.db import connection, transaction
from django.utils import timezone

from core import jobs
from incidents import lifecycle
from incidents.media import MediaError, inspect_upload, store_media
from incidents.models import EventKind, ReportEvent, Status
from tracking.models import FieldStaff, Supervisor

from . import settings as ds
from . import state
from .dispatcher import dispatch
from .errors import DispatchError, NotYourOrder, OrderClosed, OrderConflict, OrderInputError
from .models import OPEN_ORDER_STATES, Decision, Order, OrderState, OrderStep, StepKind

S = Status
O = OrderState  # noqa: E741


# --- supervisors' actions ------------------------------------------------------------------------------
def _locked_order(order_id: int, supervisor: Supervisor | None) -> Order:
    order = Order.objects.select_for_update().select_related("report", "supervisor").filter(pk=order_id).first()
    if order is None:
        raise OrderInputError(f"No order {order_id}.")
    if supervisor is not None and order.supervisor_id != supervisor.pk:
        raise NotYourOrder(f"Order {order_id} is not yours; it was given to another supervisor.")
    return order


def _require(order: Order, allowed: set[str], action: str) -> None:
    if order.state in allowed:
        return
    if not order.is_open:
        raise OrderClosed(f"Order {order.pk} is {order.state}; it cannot be {action} any more.")
    raise OrderConflict(f"Order {order.pk} is {order.state}; {action} needs it to be {' or '.join(sorted(allowed))}.")


def acknowledge(order_id: int, supervisor: Supervisor, *, position: Point | None = None) -> Order:
    """The supervisor took the order. Idempotent: acknowledging again returns the order unchanged."""
    at = timezone.now()
    with transaction.atomic():
        order = _locked_order(order_id, supervisor)
        if order.state in (O.ACKNOWLEDGED, O.EN_ROUTE, O.ON_SITE):
            return order
        _require(order, {O.OFFERED}, "acknowledged")
        order.state, order.acknowledged_at = O.ACKNOWLEDGED, at
        order.save(update_fields=["state", "acknowledged_at"])
        state.record_step(order, StepKind.ACKNOWLEDGED, at, supervisor.name, position=position)
        state.stop_ack_timer(order)
        state.move_report(order.report, S.ACKNOWLEDGED, actor_label=supervisor.name, note="diterima petugas")
        state.bump(order.report)
    return order


def en_route(order_id: int, supervisor: Supervisor, *, position: Point | None = None) -> Order:
    at = timezone.now()
    with transaction.atomic():
        order = _locked_order(order_id, supervisor)
        if order.state in (O.EN_ROUTE, O.ON_SITE):
            return order
        _require(order, {O.ACKNOWLEDGED}, "set en route")
        order.state, order.en_route_at = O.EN_ROUTE, at
        order.save(update_fields=["state", "en_route_at"])
        state.record_step(order, StepKind.EN_ROUTE, at, supervisor.name, position=position)
        lifecycle.add_note(order.report, "petugas menuju lokasi", actor_label=supervisor.name, public=True)
    return order


def on_site(order_id: int, supervisor: Supervisor | None, *, position: Point | None = None, by: str = "") -> Order:
    """Arrived: from the phone (button) or detected from a ping within DISPATCH_ON_SITE_RADIUS_M."""
    at = timezone.now()
    with transaction.atomic():
        order = _locked_order(order_id, supervisor)
        if order.state == O.ON_SITE:
            return order
        _require(order, {O.ACKNOWLEDGED, O.EN_ROUTE}, "set on site")
        actor = by or order.supervisor.name
        order.state, order.on_site_at = O.ON_SITE, at
        order.save(update_fields=["state", "on_site_at"])
        state.record_step(order, StepKind.ON_SITE, at, actor, position=position, data={"detected": bool(by)})
        lifecycle.mark_arrived(order.report, at=at, actor_label=actor, data={"order": order.pk})
        state.move_report(order.report, S.IN_PROGRESS, actor_label=actor, note="petugas tiba di lokasi")
    return order


def hand_to_staff(
    order_id: int, supervisor: Supervisor, staff_id: int, *, note: str = "", position: Point | None = None
) -> Order:
    at = timezone.now()
    with transaction.atomic():
        order = _locked_order(order_id, supervisor)
        _require(order, {O.ACKNOWLEDGED, O.EN_ROUTE, O.ON_SITE}, "handed on")
        staff = FieldStaff.objects.filter(pk=staff_id, supervisor=supervisor, active=True).first()
        if staff is None:
            raise OrderInputError(f"No active field staff {staff_id} under you.", field="field_staff")
        order.field_staff = staff
        order.save(update_fields=["field_staff"])
        state.record_step(
            order, StepKind.HANDED, at, supervisor.name, position=position, note=note, data={"staff": staff.name}
        )
        if order.report.status == S.ACKNOWLEDGED:
            state.move_report(
                order.report, S.IN_PROGRESS, actor_label=supervisor.name, note="diteruskan ke petugas lapangan"
            )
    return order


def _photo(order: Order, photo: File | None, required: bool) -> int | None:
    if photo is None:
        if required:
            raise OrderInputError("A photo is required.", field="photo")
        return None
    item = inspect_upload(photo, field="photo")
    if item.kind != "photo":
        raise MediaError("Send a photo (JPEG, PNG, HEIC, WebP), not a video.", field="photo")
    return store_media(order.report, [item])[0].pk


def add_note(
    order_id: int, supervisor: Supervisor, note: str, *, photo: File | None = None, position: Point | None = None
) -> OrderStep:
    """A progress note, with a photo, on the order and the report's timeline."""
    if not note.strip() and photo is None:
        raise OrderInputError("Send a note, a photo or both.", field="note")
    at = timezone.now()
    with transaction.atomic():
        order = _locked_order(order_id, supervisor)
        _require(order, {O.ACKNOWLEDGED, O.EN_ROUTE, O.ON_SITE}, "given a note")
        media_id = _photo(order, photo, required=False)
        step = state.record_step(
            order, StepKind.NOTE, at, supervisor.name, position=position, note=note, media_id=media_id
        )
        ReportEvent.objects.create(
            report=order.report,
            kind=EventKind.NOTE,
            actor_label=supervisor.name,
            note=note,
            public=True,
            data={"order": order.pk, "media": media_id},
        )
    return step


def resolve(
    order_id: int, supervisor: Supervisor, *, note: str = "", photo: File | None = None, position: Point | None = None
) -> Order:
    at = timezone.now()
    with transaction.atomic():
        order = _locked_order(order_id, supervisor)
        if order.state == O.RESOLVED:
            return order
        _require(order, {O.ACKNOWLEDGED, O.EN_ROUTE, O.ON_SITE}, "resolved")
        media_id = _photo(order, photo, required=ds.resolve_requires_photo())
        order.state, order.closed_at, order.close_reason = O.RESOLVED, at, note[:255]
        order.save(update_fields=["state", "closed_at", "close_reason"])
        state.record_step(
            order, StepKind.RESOLVED, at, supervisor.name, position=position, note=note, media_id=media_id
        )
        state.move_report(
            order.report, S.RESOLVED, actor_label=supervisor.name, note=note or "selesai ditangani", public=True
        )
        state.bump(order.report)
    return order


def decline(order_id: int, supervisor: Supervisor, reason: str, *, position: Point | None = None) -> Decision | None:
    """The supervisor cannot take it: the report goes straight to the next candidate."""
    if not reason.strip():
        raise OrderInputError("Say why you decline (e.g. 'ban bocor', 'sedang menangani banjir').", field="reason")
    at = timezone.now()
    with transaction.atomic():
        order = _locked_order(order_id, supervisor)
        _require(order, {O.OFFERED, O.ACKNOWLEDGED}, "declined")
        state.close_order(order, O.DECLINED, StepKind.DECLINED, at, supervisor.name, reason, position=position)
        return _escalate(order, "declined", f"ditolak oleh {supervisor.name}: {reason}", at)


def _escalate(order: Order, trigger: str, note: str, at: datetime) -> Decision | None:
    """An offer ended without the job done: count the escalation, tell operators, offer to the next one."""
    st = state.count_escalation(order.report, at)
    ReportEvent.objects.create(
        report=order.report,
        kind=EventKind.NOTE,
        actor_label="dispatch",
        note=f"eskalasi: {note}",
        public=False,
        data={"escalation": st.escalations, "order": order.pk, "trigger": trigger},
    )
    try:
        with transaction.atomic():
            return dispatch(order.report, trigger=trigger, at=at)
    except DispatchError:  # the report was closed or taken meanwhile: nothing to offer
        return None


@jobs.handler(state.ACK_TIMEOUT_JOB)
def expire_offer(payload: dict[str, int]) -> dict[str, object]:
    """Timer: an offer not acknowledged in time goes to the next candidate (once; a no-op if answered)."""
    at = timezone.now()
    order = Order.objects.select_for_update().select_related("report", "supervisor").filter(pk=payload["order"]).first()
    if order is None or order.state != O.OFFERED:
        return {"skipped": order.state if order else "gone"}
    minutes = (at - order.offered_at).total_seconds() / 60
    state.close_order(order, O.EXPIRED, StepKind.EXPIRED, at, "worker", f"tidak dijawab dalam {minutes:.0f} menit")
    decision = _escalate(order, "escalation", f"{order.supervisor.name} tidak menjawab dalam {minutes:.0f} menit", at)
    if decision is None:
        return {"expired": order.pk, "outcome": "not re-dispatched (report closed or already re-assigned)"}
    return {"expired": order.pk, "decision": decision.pk, "outcome": decision.outcome}


# --- on-site detection from pings ------------------------------------------------------------------------
def detect_on_site(supervisor_id: int, point: Point) -> list[int]:
    """Orders of this supervisor (acknowledged or en route) whose report is within the on-site radius."""
    with connection.cursor() as cur:
        cur.execute(
            "SELECT o.id FROM dispatch_order o JOIN incidents_report r ON r.id = o.report_id "
            "WHERE o.supervisor_id = %s AND o.state IN ('acknowledged', 'en_route') "
            "AND ST_DWithin(r.location::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, %s)",
            [supervisor_id, point.x, point.y, ds.on_site_radius_m()],
        )
        ids = [row[0] for row in cur.fetchall()]
    done = []
    for oid in ids:
        try:
            on_site(oid, None, position=None, by="ping")
        except (OrderClosed, OrderConflict):
            continue
        done.append(oid)
    return done


def open_states() -> tuple[str, ...]:
    return tuple(OPEN_ORDER_STATES)
