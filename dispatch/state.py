"""A report's dispatch state and an order's bookkeeping: the steps every part of dispatch shares.

The bottom of the app's logic (it imports only dispatch's models and the apps below): the
dispatcher, the supervisors' and the operators' actions, the signal receivers and maternity
booking each move a report, bump its version, record an order's step or close an order through
here, so each of those is written once and nobody reaches into another module's insides.

- `bump` raises the `version` operators send back (optimistic concurrency) with the row locked,
  and sets the operators' queue fields in the same save;
- `move_report` moves the report's status through `incidents.lifecycle`, by way of "routed" when
  the lifecycle has no direct edge (a report offered again goes dispatched -> routed -> dispatched);
- `close_order` ends an open order with its step and stops its acknowledgement timer.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.gis.geos import Point
from django.utils import timezone

from core import jobs
from incidents import lifecycle
from incidents.models import Report, Status
from tracking.models import LatestPosition

from .models import DispatchState, Order, OrderStep

ACK_TIMEOUT_JOB = "offer_timeout"  # the job kind of the acknowledgement timer (handled in orders)


# --- the report's dispatch state ------------------------------------------------------------------------
def state_of(report: Report) -> DispatchState:
    return DispatchState.objects.get_or_create(report=report)[0]


def bump(
    report: Report,
    *,
    queue: str | None = None,
    reason: str | None = None,
    suggestions: list[dict] | None = None,
) -> DispatchState:
    """Version + 1 (the row locked), with the queue, its reason and suggestions set when given."""
    st = DispatchState.objects.select_for_update().get_or_create(report=report)[0]
    st.version += 1
    if queue is not None:
        st.queue = queue
    if reason is not None:
        st.reason = reason
    if suggestions is not None:
        st.suggestions = suggestions
    st.save()
    return st


def leave_queue(report: Report) -> DispatchState:
    """Out of the operators' queue (offered, referred): version + 1, no reason, no suggestions."""
    return bump(report, queue=DispatchState.Queue.NONE, reason="", suggestions=[])


def count_escalation(report: Report, at: datetime) -> DispatchState:
    """An offer ended without the job done (declined, expired): one more escalation, at `at`."""
    st = DispatchState.objects.select_for_update().get_or_create(report=report)[0]
    st.escalations += 1
    st.last_escalation_at = at
    st.save(update_fields=["escalations", "last_escalation_at"])
    return st


def move_report(
    report: Report,
    to_status: str,
    *,
    actor_label: str,
    note: str = "",
    public: bool = True,
    data: dict | None = None,
) -> None:
    """Move the report's status through incidents.lifecycle when it is not already there."""
    current = Report.objects.filter(pk=report.pk).values_list("status", flat=True).get()
    if current == to_status and to_status != Status.DISPATCHED:
        return
    allowed = lifecycle.TRANSITIONS.get(current, set())
    if to_status not in allowed and Status.ROUTED in allowed:
        lifecycle.change_status(report, Status.ROUTED, actor_label="dispatch", public=False, note="kembali ke antrean")
    lifecycle.change_status(report, to_status, actor_label=actor_label, note=note, public=public, data=data)


# --- an order's steps and its end -------------------------------------------------------------------------
def _position(supervisor_id: int, given: Point | None) -> tuple[Point | None, datetime | None, str]:
    """Where the supervisor was: the position sent with the request, else the latest ping."""
    if given is not None:
        return given, timezone.now(), "request"
    lp = LatestPosition.objects.filter(pk=supervisor_id).only("point", "device_time").first()
    if lp is None:
        return None, None, ""
    return lp.point, lp.device_time, "latest"


def record_step(
    order: Order,
    kind: str,
    at: datetime,
    actor: str,
    *,
    position: Point | None = None,
    note: str = "",
    data: dict | None = None,
    media_id: int | None = None,
) -> OrderStep:
    """One step of the order, with the supervisor's position then."""
    point, point_time, source = _position(order.supervisor_id, position)
    return OrderStep.objects.create(
        order=order,
        kind=kind,
        at=at,
        actor=actor,
        point=point,
        point_time=point_time,
        point_source=source,
        note=note,
        data=data if data is not None else {},
        media_id=media_id,
    )


def _ack_timer_key(order: Order) -> str:
    return f"offer-timeout:{order.pk}"


def start_ack_timer(order: Order) -> None:
    """The offer goes to the next candidate at `expires_at` unless acknowledged (orders.expire_offer)."""
    jobs.schedule(ACK_TIMEOUT_JOB, order.expires_at, {"order": order.pk}, key=_ack_timer_key(order))


def stop_ack_timer(order: Order) -> None:
    jobs.cancel(_ack_timer_key(order))


def close_order(
    order: Order, state: str, kind: str, at: datetime, actor: str, reason: str, *, position: Point | None = None
) -> None:
    """End an open order (declined, expired, cancelled, reassigned) with its step; its timer stops."""
    order.state, order.closed_at, order.close_reason = state, at, reason[:255]
    order.save(update_fields=["state", "closed_at", "close_reason"])
    record_step(order, kind, at, actor, position=position, note=reason)
    stop_ack_timer(order)
