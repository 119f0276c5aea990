"""Operators' actions on a report, with the stale-update check.

Each action names the version of the report the operator was looking at (`updated_at` as the
detail panel showed it). The row is locked and compared first: when someone else changed the
report in between, the action is refused with who changed it, when and how (409), and nothing is
overwritten; the panel reloads and the operator decides again.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from rest_framework import status as http

from core.api import DomainError
from incidents import lifecycle
from incidents.intake import resolve_category
from incidents.models import Report, Status

from . import orders

WIB = ZoneInfo("Asia/Jakarta")
ACTIONS = ("dispatch", "reassign", "cancel", "recategorise", "merge", "refer", "reject", "resolve", "note")


class StaleReport(DomainError):
    status_code = http.HTTP_409_CONFLICT


class ActionError(DomainError):
    status_code = http.HTTP_400_BAD_REQUEST


def version_of(report: Report) -> str:
    return report.updated_at.isoformat()


def _check_version(locked: Report, version: str) -> None:
    seen = parse_datetime(version or "")
    if seen is None:
        raise ActionError(_("The report's version is missing; reload the report."), field="version")
    if seen == locked.updated_at:
        return
    last = locked.events.order_by("-at", "-id").first()
    who = (last.actor_label if last else "") or _("someone")
    what = (last.to_status or last.kind) if last else ""
    when = locked.updated_at.astimezone(WIB).strftime("%H:%M:%S")
    raise StaleReport(
        _(
            "%(id)s was changed by %(who)s at %(when)s WIB (%(what)s) after you opened it; "
            "nothing was saved. Look at it again and decide."
        )
        % {"id": locked.public_id, "who": who, "when": when, "what": what}
    )


def perform(report: Report, action: str, params: dict, *, actor, version: str) -> Report:
    """Do one operator action if the report is still the version the operator saw."""
    if action not in ACTIONS:
        raise ActionError(_("Unknown action %(a)s.") % {"a": action}, field="action")
    note = str(params.get("note") or "")[:2000]
    with transaction.atomic():
        locked = Report.objects.select_for_update(of=("self",)).select_related("opd", "kecamatan").get(pk=report.pk)
        _check_version(locked, version)
        if action in ("dispatch", "reassign"):
            sid = params.get("supervisor")
            if not str(sid or "").isdigit():
                raise ActionError(_("Choose a supervisor."), field="supervisor")
            if action == "reassign" and not note.strip():
                raise ActionError(_("Give the reason for the re-assignment."), field="note")
            orders.dispatch(locked, int(sid), actor=actor, note=note)
            return locked
        if action == "cancel":
            if not note.strip():
                raise ActionError(_("Give the reason for cancelling the order."), field="note")
            orders.cancel(locked, actor=actor, note=note)
            return locked
        holder = orders.open_order(locked)
        if holder is not None and action in ("merge", "reject", "resolve"):
            raise StaleReport(
                _("%(id)s is with %(name)s now; cancel the order first, or let the supervisor resolve it.")
                % {"id": locked.public_id, "name": holder.supervisor.name}
            )
        if action == "recategorise":
            category = resolve_category(params.get("category"))
            return lifecycle.recategorise(locked, category, actor=actor, note=note)
        if action == "merge":
            original = Report.objects.filter(public_id=str(params.get("original") or "")).first()
            if original is None:
                raise ActionError(_("No report with this public id."), field="original")
            return lifecycle.merge_duplicate(locked, original, actor=actor, note=note)
        if action == "refer":
            to = str(params.get("referred_to") or "").strip()[:255]
            if not to:
                raise ActionError(_("Say where the report is referred to."), field="referred_to")
            orders.refer(locked, actor=actor, to=to, note=note)
            return locked
        if action == "reject":
            if not note.strip():
                raise ActionError(_("Give the reason for rejecting."), field="note")
            return lifecycle.change_status(locked, Status.REJECTED, actor=actor, note=note)
        if action == "resolve":
            return lifecycle.change_status(locked, Status.RESOLVED, actor=actor, note=note)
        if not note.strip():
            raise ActionError(_("Write the note."), field="note")
        lifecycle.add_note(locked, note, actor=actor, public=bool(params.get("public")))
        return locked
