"""Orders: offered -> acknowledged -> en route -> on site -> resolved (or declined, expired, cancelled, reassigned).

Every step is an `OrderStep` with its time and the supervisor's position then (sent with the
request, else the latest ping). The report's status follows through `incidents.lifecycle`, in
the same transaction:

    offered -> dispatched     acknowledged -> acknowledged     on site / handed on -> in progress
    resolved -> resolved      declined / expired -> offered to the next candidate, or awaiting
    cancelled (operator) -> routed, held in the operators' queue (no automatic re-dispatch)

Supervisors act only on their own orders (403 otherwise). Acknowledging (and each forward step)
twice is answered with the order as it is, so a phone that retries on a flaky network is safe.
Operators' re-assign and cancel carry the `version` they saw; if someone changed the report's
dispatch meanwhile, they get a 409 and the current state instead of undoing the other's change.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.gis.geos import Point
from django.core.files.base import File
from django.db import connection, transaction
from django.utils import timezone
from rest_framework import status as http

from core import jobs
from core.api import DomainError
from incidents import lifecycle
from incidents.media import MediaError, inspect_upload, store_media
from incidents.models import OPD, Category, EventKind, Report, ReportEvent, Status
from tracking.models import FieldStaff, LatestPosition, Supervisor

from . import settings as ds
from .dispatcher import DispatchError, _bump, _move_report, dispatch, offer_to
from .models import OPEN_ORDER_STATES, Decision, DispatchState, Order, OrderState, OrderStep, StepKind

S = Status
O = OrderState  # noqa: E741


class NotYourOrder(DomainError):
    status_code = http.HTTP_403_FORBIDDEN


class OrderClosed(DomainError):
    status_code = http.HTTP_409_CONFLICT


class OrderConflict(DomainError):
    status_code = http.HTTP_409_CONFLICT


class StaleVersion(DomainError):
    status_code = http.HTTP_409_CONFLICT


class OrderInputError(DomainError):
    status_code = http.HTTP_400_BAD_REQUEST


# --- positions and steps ---------------------------------------------------------------------------
def _position(supervisor_id: int, given: Point | None) -> tuple[Point | None, datetime | None, str]:
    if given is not None:
        return given, timezone.now(), "request"
    lp = LatestPosition.objects.filter(pk=supervisor_id).only("point", "device_time").first()
    if lp is None:
        return None, None, ""
    return lp.point, lp.device_time, "latest"


def _step(order: Order, kind: str, at: datetime, actor: str, *, position: Point | None = None, **kw) -> OrderStep:
    point, point_time, source = _position(order.supervisor_id, position)
    return OrderStep.objects.create(
        order=order, kind=kind, at=at, actor=actor, point=point, point_time=point_time, point_source=source, **kw
    )


def _ack_timeout(order: Order) -> None:
    jobs.schedule("offer_timeout", order.expires_at, {"order": order.pk}, key=f"offer-timeout:{order.pk}")


# --- offering -------------------------------------------------------------------------------------------
def offer(
    report: Report, supervisor_id: int, *, decision: Decision | None, distance_m: float | None, actor: str, at=None
) -> Order:
    """Make the order, move the report to dispatched and start the acknowledgement timer (one transaction)."""
    at = at or timezone.now()
    with transaction.atomic():
        timeout = ds.ack_timeout_s(report.priority)
        order = Order.objects.create(
            report=report,
            supervisor_id=supervisor_id,
            decision=decision,
            distance_m=distance_m,
            offered_at=at,
            expires_at=at + timedelta(seconds=timeout),
            offered_by=actor,
        )
        sup = Supervisor.objects.select_related("opd").get(pk=supervisor_id)
        _step(order, StepKind.OFFERED, at, actor, data={"distance_m": distance_m, "timeout_s": timeout})
        _move_report(
            report,
            S.DISPATCHED,
            actor_label=actor,
            note=f"ditugaskan ke pengawas {sup.opd.name}",
            data={"order": order.pk, "supervisor": sup.pk},
        )
        _bump(report, queue="", reason="", suggestions=[])
        _ack_timeout(order)
    return order


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
        _step(order, StepKind.ACKNOWLEDGED, at, supervisor.name, position=position)
        jobs.cancel(f"offer-timeout:{order.pk}")
        _move_report(order.report, S.ACKNOWLEDGED, actor_label=supervisor.name, note="diterima petugas")
        _bump(order.report)
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
        _step(order, StepKind.EN_ROUTE, at, supervisor.name, position=position)
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
        _step(order, StepKind.ON_SITE, at, actor, position=position, data={"detected": bool(by)})
        lifecycle.mark_arrived(order.report, at=at, actor_label=actor, data={"order": order.pk})
        _move_report(order.report, S.IN_PROGRESS, actor_label=actor, note="petugas tiba di lokasi")
    return order


def hand_to_staff(order_id: int, supervisor: Supervisor, staff_id: int, *, note: str = "", position=None) -> Order:
    at = timezone.now()
    with transaction.atomic():
        order = _locked_order(order_id, supervisor)
        _require(order, {O.ACKNOWLEDGED, O.EN_ROUTE, O.ON_SITE}, "handed on")
        staff = FieldStaff.objects.filter(pk=staff_id, supervisor=supervisor, active=True).first()
        if staff is None:
            raise OrderInputError(f"No active field staff {staff_id} under you.", field="field_staff")
        order.field_staff = staff
        order.save(update_fields=["field_staff"])
        _step(order, StepKind.HANDED, at, supervisor.name, position=position, note=note, data={"staff": staff.name})
        if order.report.status == S.ACKNOWLEDGED:
            _move_report(
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
    order_id: int, supervisor: Supervisor, note: str, *, photo: File | None = None, position=None
) -> OrderStep:
    """A progress note, with a photo, on the order and the report's timeline."""
    if not note.strip() and photo is None:
        raise OrderInputError("Send a note, a photo or both.", field="note")
    at = timezone.now()
    with transaction.atomic():
        order = _locked_order(order_id, supervisor)
        _require(order, {O.ACKNOWLEDGED, O.EN_ROUTE, O.ON_SITE}, "given a note")
        media_id = _photo(order, photo, required=False)
        step = _step(order, StepKind.NOTE, at, supervisor.name, position=position, note=note, media_id=media_id)
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
    order_id: int, supervisor: Supervisor, *, note: str = "", photo: File | None = None, position=None
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
        _step(order, StepKind.RESOLVED, at, supervisor.name, position=position, note=note, media_id=media_id)
        _move_report(
            order.report, S.RESOLVED, actor_label=supervisor.name, note=note or "selesai ditangani", public=True
        )
        _bump(order.report)
    return order


def decline(order_id: int, supervisor: Supervisor, reason: str, *, position=None) -> Decision | None:
    """The supervisor cannot take it: the report goes straight to the next candidate."""
    if not reason.strip():
        raise OrderInputError("Say why you decline (e.g. 'ban bocor', 'sedang menangani banjir').", field="reason")
    at = timezone.now()
    with transaction.atomic():
        order = _locked_order(order_id, supervisor)
        _require(order, {O.OFFERED, O.ACKNOWLEDGED}, "declined")
        _close(order, O.DECLINED, StepKind.DECLINED, at, supervisor.name, reason, position=position)
        return _escalate(order, "declined", f"ditolak oleh {supervisor.name}: {reason}", at)


def _close(order: Order, state: str, kind: str, at: datetime, actor: str, reason: str, position=None) -> None:
    order.state, order.closed_at, order.close_reason = state, at, reason[:255]
    order.save(update_fields=["state", "closed_at", "close_reason"])
    _step(order, kind, at, actor, position=position, note=reason)
    jobs.cancel(f"offer-timeout:{order.pk}")


def _escalate(order: Order, trigger: str, note: str, at: datetime) -> Decision | None:
    """An offer ended without the job done: count the escalation, tell operators, offer to the next one."""
    st = DispatchState.objects.select_for_update().get_or_create(report=order.report)[0]
    st.escalations += 1
    st.last_escalation_at = at
    st.save(update_fields=["escalations", "last_escalation_at"])
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


@jobs.handler("offer_timeout")
def expire_offer(payload: dict) -> dict:
    """Timer: an offer not acknowledged in time goes to the next candidate (once; a no-op if answered)."""
    at = timezone.now()
    order = Order.objects.select_for_update().select_related("report", "supervisor").filter(pk=payload["order"]).first()
    if order is None or order.state != O.OFFERED:
        return {"skipped": order.state if order else "gone"}
    minutes = (at - order.offered_at).total_seconds() / 60
    _close(order, O.EXPIRED, StepKind.EXPIRED, at, "worker", f"tidak dijawab dalam {minutes:.0f} menit")
    decision = _escalate(order, "escalation", f"{order.supervisor.name} tidak menjawab dalam {minutes:.0f} menit", at)
    if decision is None:
        return {"expired": order.pk, "outcome": "not re-dispatched (report closed or already re-assigned)"}
    return {"expired": order.pk, "decision": decision.pk, "outcome": decision.outcome}


# --- operators' actions -----------------------------------------------------------------------------------
def _check_version(report: Report, version: int | None) -> DispatchState:
    st = DispatchState.objects.select_for_update().get_or_create(report=report)[0]
    if version is not None and st.version != version:
        raise StaleVersion(
            f"Report {report.public_id} changed since you looked (version {version}, now {st.version}): "
            "someone else re-assigned or the dispatcher moved it; reload and decide again."
        )
    return st


def _lock_report(report: Report | str) -> Report:
    pk = report.pk if isinstance(report, Report) else None
    qs = Report.objects.select_for_update()
    return qs.get(pk=pk) if pk else qs.get(public_id=report)


def reassign(
    report: Report, *, reason: str, actor: str, version: int | None, supervisor_id: int | None = None
) -> Decision:
    """Take the report off its supervisor (if any) and give it to `supervisor_id`, or the next by the rule."""
    if not reason.strip():
        raise OrderInputError("A reason is required to re-assign.", field="reason")
    at = timezone.now()
    with transaction.atomic():
        report = _lock_report(report)
        _check_version(report, version)
        current = Order.objects.select_for_update().open().filter(report=report).first()
        exclude = {}
        if current is not None:
            if supervisor_id is not None and current.supervisor_id == supervisor_id:
                raise OrderConflict(f"The report is already with {current.supervisor.name}.")
            _close(current, O.REASSIGNED, StepKind.REASSIGNED, at, actor, reason)
            exclude[current.supervisor_id] = "taken off this report by an operator"
        DispatchState.objects.filter(report=report).update(queue="")
        ReportEvent.objects.create(
            report=report,
            kind=EventKind.NOTE,
            actor_label=actor,
            note=f"dialihkan: {reason}",
            public=False,
            data={"from_order": current.pk if current else None, "to_supervisor": supervisor_id},
        )
        if supervisor_id is not None:
            return offer_to(report, supervisor_id, trigger="reassign", actor=actor, at=at)
        return dispatch(report, trigger="reassign", actor=actor, exclude=exclude, at=at)


def cancel(report: Report, *, reason: str, actor: str, version: int | None = None) -> Report:
    """Cancel the open order; the report goes back to the operators' queue, held (no automatic re-dispatch)."""
    if not reason.strip():
        raise OrderInputError("A reason is required to cancel.", field="reason")
    at = timezone.now()
    with transaction.atomic():
        report = _lock_report(report)
        _check_version(report, version)
        current = Order.objects.select_for_update().open().filter(report=report).first()
        if current is None:
            raise OrderConflict(f"Report {report.public_id} has no open order to cancel.")
        _close(current, O.CANCELLED, StepKind.CANCELLED, at, actor, reason)
        _bump(report, queue=DispatchState.Queue.HELD, reason=f"cancelled by {actor}: {reason}", suggestions=[])
        _move_report(report, S.ROUTED, actor_label=actor, note=f"penugasan dibatalkan: {reason}", public=False)
    report.refresh_from_db()
    return report


def refer(
    report: Report,
    *,
    reason: str,
    actor: str,
    opd_code: str = "",
    category_code: str = "",
    outside: str = "",
    version: int | None = None,
) -> Report:
    """Refer to another OPD (re-route and dispatch there) or, with `outside`, to an authority outside the city."""
    if not reason.strip():
        raise OrderInputError("A reason is required to refer.", field="reason")
    at = timezone.now()
    with transaction.atomic():
        report = _lock_report(report)
        _check_version(report, version)
        if not report.is_open:
            raise OrderConflict(f"Report {report.public_id} is {report.status}; only open reports are referred.")
        current = Order.objects.select_for_update().open().filter(report=report).first()
        if current is not None:
            _close(current, O.CANCELLED, StepKind.CANCELLED, at, actor, f"dirujuk: {reason}")
        if outside:
            Report.objects.filter(pk=report.pk).update(referred_to=outside[:255])
            _bump(report, queue="", reason="", suggestions=[])
            lifecycle.change_status(
                report, S.REFERRED, actor_label=actor, note=f"dirujuk ke {outside}: {reason}", data={"to": outside}
            )
            report.refresh_from_db()
            return report
        category = None
        if category_code:
            category = Category.objects.select_related("opd").filter(code=category_code, active=True).first()
            if category is None:
                raise OrderInputError(f"Unknown category {category_code!r}.", field="category")
        opd = OPD.objects.filter(code=opd_code, active=True).first() if opd_code else (category and category.opd)
        if opd is None:
            raise OrderInputError(f"Unknown OPD {opd_code!r}; send an OPD code or `outside`.", field="opd")
        if category is not None and category.opd_id != opd.pk:
            raise OrderInputError(f"Category {category.code} belongs to {category.opd.name}, not {opd.name}.")
        if opd.pk == report.opd_id and category is None:
            raise OrderInputError(f"The report is already with {opd.name}.", field="opd")
        _bump(report, queue="", reason="", suggestions=[])
        if category is not None:
            lifecycle.recategorise(report, category, actor_label=actor, note=f"dirujuk: {reason}")
        else:
            old = report.opd
            Report.objects.filter(pk=report.pk).update(opd=opd, referred_to=opd.name)
            if report.status != S.ROUTED:
                _move_report(
                    report,
                    S.ROUTED,
                    actor_label=actor,
                    note=f"dirujuk ke {opd.name}: {reason}",
                    data={"from_opd": old.code, "to_opd": opd.code},
                )
            else:
                lifecycle.add_note(report, f"dirujuk ke {opd.name}: {reason}", actor_label=actor)
                transaction.on_commit(lambda: _dispatch_later(report.pk, "referred"))
    report.refresh_from_db()
    return report


def _dispatch_later(report_id: int, trigger: str) -> None:
    from .receivers import auto_dispatch  # noqa: PLC0415

    auto_dispatch(report_id, trigger)


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


__all__ = ["DispatchError", "StaleVersion", "NotYourOrder", "OrderClosed"]
