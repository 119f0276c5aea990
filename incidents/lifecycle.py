"""The report lifecycle: the one place where a report's status changes.

received -> routed -> [awaiting_supervisor ->] dispatched -> acknowledged -> in_progress -> resolved -> closed
Side exits from open states: rejected (spam, invalid), duplicate (of another report), referred (to
another OPD or outside the city's authority). Finished reports can be reopened; a reopened report
is routed again. Every change writes a `ReportEvent` and is announced after commit with
`report_changed` (and `report_routed` when the report became routed), so dispatch and the live
console never see a change that was rolled back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from rest_framework import status as http

from core import relay
from core.api import DomainError
from core.signals import send_logged

from .models import (
    OPEN_STATUSES,
    Category,
    DuplicateLink,
    EventKind,
    Report,
    ReportEvent,
    Status,
)
from .signals import REPORT, report_changed, report_closing, report_routed

S = Status
_SIDE_EXITS = {S.REJECTED, S.DUPLICATE, S.REFERRED}

TRANSITIONS: dict[str, set[str]] = {
    S.RECEIVED: {S.ROUTED} | _SIDE_EXITS,
    S.ROUTED: {S.AWAITING_SUPERVISOR, S.DISPATCHED} | _SIDE_EXITS,
    S.AWAITING_SUPERVISOR: {S.ROUTED, S.DISPATCHED} | _SIDE_EXITS,
    S.DISPATCHED: {S.ROUTED, S.AWAITING_SUPERVISOR, S.DISPATCHED, S.ACKNOWLEDGED, S.IN_PROGRESS, S.RESOLVED}
    | _SIDE_EXITS,
    S.ACKNOWLEDGED: {S.ROUTED, S.DISPATCHED, S.IN_PROGRESS, S.RESOLVED} | _SIDE_EXITS,
    S.IN_PROGRESS: {S.ROUTED, S.DISPATCHED, S.RESOLVED, S.REFERRED},
    S.RESOLVED: {S.CLOSED, S.REOPENED},
    S.CLOSED: {S.REOPENED},
    S.REJECTED: {S.REOPENED},
    S.DUPLICATE: {S.REOPENED},
    S.REFERRED: {S.CLOSED, S.REOPENED},
    S.REOPENED: {S.ROUTED, S.AWAITING_SUPERVISOR, S.DISPATCHED} | _SIDE_EXITS,
}

# status entered -> timestamp field stamped (first time only, so stats measure the first response)
STAMPS: dict[str, str] = {
    S.ROUTED: "routed_at",
    S.DISPATCHED: "dispatched_at",
    S.ACKNOWLEDGED: "acknowledged_at",
    S.RESOLVED: "resolved_at",
    S.CLOSED: "closed_at",
}


class InvalidTransition(DomainError):
    """The lifecycle does not allow this change from the report's current status (409)."""

    status_code = http.HTTP_409_CONFLICT


class LifecycleError(DomainError):
    """A change asked for in a way that cannot work: an unknown status, a report merged into itself (400)."""

    status_code = http.HTTP_400_BAD_REQUEST


# What an operator's change closes; the other apps are asked first (`check_operator_may_close`).
OPERATOR_CLOSES = frozenset({Status.RESOLVED, Status.REJECTED, Status.CLOSED, Status.DUPLICATE})


def check_operator_may_close(report: Report) -> None:
    """Let the other apps refuse an operator's closing of `report` (their receivers raise a DomainError)."""
    report_closing.send(sender=Report, report=report)


def allowed_next(status: str) -> list[str]:
    """Statuses a report in `status` may move to (for the console's buttons)."""
    return sorted(TRANSITIONS.get(status, set()))


def announce(report: Report, event: ReportEvent, *, created: bool = False, routed: bool = False) -> None:
    """Announce a change of the current transaction (through core.relay: after commit, or by the worker)."""

    def send() -> None:
        send_logged(report_changed, Report, report=report, event=event, created=created)
        if routed:
            send_logged(report_routed, Report, report=report)

    relay.send(REPORT, report.pk, {"event": event.pk, "created": created, "routed": routed}, inline=send)


def _event(
    report: Report, kind: str, *, actor: AbstractBaseUser | None = None, actor_label: str = "", **kw: Any
) -> ReportEvent:
    if not actor_label and actor is not None and getattr(actor, "is_authenticated", False):
        actor_label = actor.get_username()
    return ReportEvent.objects.create(report=report, kind=kind, actor=actor, actor_label=actor_label, **kw)


def _apply_status(report: Report, to_status: str, at: datetime) -> list[str]:
    """Set status and stamps on `report` (not saved); returns the changed field names."""
    changed = ["status", "updated_at"]
    report.status = to_status
    stamp = STAMPS.get(to_status)
    if stamp and getattr(report, stamp) is None:
        setattr(report, stamp, at)
        changed.append(stamp)
    if to_status == S.REOPENED:
        report.resolved_at = None
        report.closed_at = None
        changed += ["resolved_at", "closed_at"]
    return changed


def change_status(
    report: Report | int,
    to_status: str,
    *,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    note: str = "",
    public: bool = True,
    data: dict | None = None,
    at: datetime | None = None,
    kind: str = EventKind.STATUS,
) -> Report:
    """Move a report to `to_status` if the lifecycle allows it; stamp, log and announce it.

    Locks the row (select_for_update) so two operators or an operator and a supervisor's phone
    cannot both move the same report from the same state.
    """
    if to_status not in S.values:
        raise LifecycleError(f"Unknown status {to_status!r}.", field="status")
    at = at or timezone.now()
    with transaction.atomic():
        pk = report.pk if isinstance(report, Report) else report
        locked = Report.objects.select_for_update().get(pk=pk)
        from_status = locked.status
        if to_status not in TRANSITIONS.get(from_status, set()):
            raise InvalidTransition(
                f"A report that is {from_status} cannot become {to_status}; "
                f"allowed: {', '.join(allowed_next(from_status)) or 'none'}."
            )
        fields = _apply_status(locked, to_status, at)
        locked.save(update_fields=fields)
        event = _event(
            locked,
            kind,
            actor=actor,
            actor_label=actor_label,
            from_status=from_status,
            to_status=to_status,
            note=note,
            public=public,
            data=data or {},
            at=at,
        )
        announce(locked, event, routed=to_status == S.ROUTED)
    if isinstance(report, Report):
        report.refresh_from_db()
    return locked


def recategorise(
    report: Report, category: Category, *, actor: AbstractBaseUser | None = None, actor_label: str = "", note: str = ""
) -> Report:
    """Change the category; the OPD and priority follow it and the report is routed again."""
    if not report.is_open:
        raise InvalidTransition(f"A report that is {report.status} cannot be re-categorised; reopen it first.")
    at = timezone.now()
    with transaction.atomic():
        locked = Report.objects.select_for_update().get(pk=report.pk)
        if locked.status not in OPEN_STATUSES:
            raise InvalidTransition(f"A report that is {locked.status} cannot be re-categorised; reopen it first.")
        old_category, old_opd, from_status = locked.category, locked.opd, locked.status
        locked.category = category
        locked.opd = category.opd
        locked.priority = category.default_priority
        fields = ["category", "opd", "priority", "updated_at"]
        if from_status != S.ROUTED:
            fields += _apply_status(locked, S.ROUTED, at)
        locked.save(update_fields=sorted(set(fields)))
        event = _event(
            locked,
            EventKind.RECATEGORISED,
            actor=actor,
            actor_label=actor_label,
            from_status=from_status,
            to_status=S.ROUTED,
            note=note,
            at=at,
            data={
                "from_category": old_category.code,
                "to_category": category.code,
                "from_opd": old_opd.code,
                "to_opd": category.opd.code,
            },
        )
        announce(locked, event, routed=True)
    report.refresh_from_db()
    return locked


def merge_duplicate(
    report: Report, original: Report, *, actor: AbstractBaseUser | None = None, actor_label: str = "", note: str = ""
) -> Report:
    """Close `report` as a duplicate of `original` (the operator confirmed a likely duplicate)."""
    if report.pk == original.pk:
        raise LifecycleError("A report cannot be a duplicate of itself.", field="original")
    if original.status == S.DUPLICATE:
        raise LifecycleError(f"{original.public_id} is itself a duplicate; merge into its original.", field="original")
    with transaction.atomic():
        Report.objects.filter(pk=report.pk).update(duplicate_of=original)
        merged = change_status(
            report,
            S.DUPLICATE,
            actor=actor,
            actor_label=actor_label,
            note=note or f"duplikat dari {original.public_id}",
            data={"original": original.public_id},
        )
        DuplicateLink.objects.filter(report=report, original=original).update(decision=DuplicateLink.Decision.MERGED)
        event = _event(
            original,
            EventKind.MERGED,
            actor=actor,
            actor_label=actor_label,
            note=f"laporan {report.public_id} digabungkan",
            data={"duplicate": report.public_id},
        )
        announce(original, event)
    return merged


def mark_arrived(
    report: Report,
    *,
    at: datetime | None = None,
    actor: AbstractBaseUser | None = None,
    actor_label: str = "",
    data: dict | None = None,
) -> Report:
    """Stamp the first arrival of the field officer (from geofence or the supervisor's app)."""
    at = at or timezone.now()
    with transaction.atomic():
        locked = Report.objects.select_for_update().get(pk=report.pk)
        if locked.arrived_at is None:
            locked.arrived_at = at
            locked.save(update_fields=["arrived_at", "updated_at"])
        event = _event(locked, EventKind.ARRIVED, actor=actor, actor_label=actor_label, at=at, data=data or {})
        announce(locked, event)
    return locked


def add_note(
    report: Report, note: str, *, actor: AbstractBaseUser | None = None, actor_label: str = "", public: bool = False
) -> ReportEvent:
    """A note on the timeline (internal unless `public`)."""
    with transaction.atomic():
        event = _event(report, EventKind.NOTE, actor=actor, actor_label=actor_label, note=note, public=public)
        announce(report, event)
    return event
