"""Operators' actions on a report's dispatch: re-assign, cancel, refer.

Each carries the `version` of the report's dispatch the operator saw; if someone changed it
meanwhile (another operator, the dispatcher, a phone), they get a 409 and the current state
instead of undoing the other's change. The report's status follows through `incidents.lifecycle`
in the same transaction:

    re-assign -> the current order is reassigned, the report offered to the one chosen or by the rule
    cancel    -> routed, held in the operators' queue (no automatic re-dispatch)
    refer     -> routed to another OPD and dispatched there, or referred outside the city
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from incidents import lifecycle
from incidents.models import OPD, Category, EventKind, Report, ReportEvent, Status

from . import exclusions as ex
from . import state
from .dispatcher import auto_dispatch, dispatch, offer_to
from .errors import OrderConflict, OrderInputError, StaleVersion
from .exclusions import Excluded, Exclusion
from .models import Decision, DispatchState, Order, OrderState, StepKind

S = Status
O = OrderState  # noqa: E741


def _check_version(report: Report, version: int | None) -> DispatchState:
    """The report's dispatch state, locked; StaleVersion when it moved on from the version the operator saw."""
    st = DispatchState.objects.select_for_update().get_or_create(report=report)[0]
    if version is not None and st.version != version:
        raise StaleVersion(
            f"Report {report.public_id} changed since you looked (version {version}, now {st.version}): "
            "someone else re-assigned or the dispatcher moved it; reload and decide again."
        )
    return st


def _lock_report(report: Report | str) -> Report:
    """The report (or the one with this public id) read again with its row locked."""
    pk = report.pk if isinstance(report, Report) else None
    qs = Report.objects.select_for_update()
    return qs.get(pk=pk) if pk else qs.get(public_id=report)


def reassign(
    report: Report | str, *, reason: str, actor: str, version: int | None, supervisor_id: int | None = None
) -> Decision:
    """Take the report off its supervisor (if any) and give it to `supervisor_id`, or the next by the rule."""
    if not reason.strip():
        raise OrderInputError("A reason is required to re-assign.", field="reason")
    at = timezone.now()
    with transaction.atomic():
        report = _lock_report(report)
        _check_version(report, version)
        current = Order.objects.select_for_update().open().filter(report=report).first()
        exclude: dict[int, Excluded] = {}
        if current is not None:
            if supervisor_id is not None and current.supervisor_id == supervisor_id:
                raise OrderConflict(f"The report is already with {current.supervisor.name}.")
            state.close_order(current, O.REASSIGNED, StepKind.REASSIGNED, at, actor, reason)
            exclude[current.supervisor_id] = ex.tried(Exclusion.TAKEN_OFF)
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


def cancel(report: Report | str, *, reason: str, actor: str, version: int | None = None) -> Report:
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
        state.close_order(current, O.CANCELLED, StepKind.CANCELLED, at, actor, reason)
        state.bump(report, queue=DispatchState.Queue.HELD, reason=f"cancelled by {actor}: {reason}", suggestions=[])
        state.move_report(report, S.ROUTED, actor_label=actor, note=f"penugasan dibatalkan: {reason}", public=False)
    report.refresh_from_db()
    return report


def refer(
    report: Report | str,
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
            state.close_order(current, O.CANCELLED, StepKind.CANCELLED, at, actor, f"dirujuk: {reason}")
        if outside:
            Report.objects.filter(pk=report.pk).update(referred_to=outside[:255])
            state.leave_queue(report)
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
        state.leave_queue(report)
        if category is not None:
            lifecycle.recategorise(report, category, actor_label=actor, note=f"dirujuk: {reason}")
        else:
            old = report.opd
            Report.objects.filter(pk=report.pk).update(opd=opd, referred_to=opd.name)
            if report.status != S.ROUTED:
                state.move_report(
                    report,
                    S.ROUTED,
                    actor_label=actor,
                    note=f"dirujuk ke {opd.name}: {reason}",
                    data={"from_opd": old.code, "to_opd": opd.code},
                )
            else:
                lifecycle.add_note(report, f"dirujuk ke {opd.name}: {reason}", actor_label=actor)
                transaction.on_commit(lambda: auto_dispatch(report.pk, "referred"))
    report.refresh_from_db()
    return report
