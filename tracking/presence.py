"""Presence recorded: the state each supervisor is judged in, and its changes as events and signals.

The rule itself (on duty, out of area, stale, offline, off shift, and why) is duty.py. Here the
supervisors' presence is judged with their shifts read from the database (`presence_for`), a
judged presence is stored with an event and a `presence_changed` signal when it changed
(`record`, called by the pipeline with what it read under its lock), and the sweeper judges
everyone as time passes (`sweep`: a phone going quiet, a shift ending).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core import relay
from core.signals import send_logged

from .duty import Presence, State, presence_of
from .models import EventKind, LatestPosition, Shift, Supervisor, TrackingEvent
from .signals import PRESENCE, presence_changed

__all__ = ["Presence", "State", "presence_for", "record", "sweep"]  # State and Presence: duty.py's, for callers


def presence_for(supervisors: Iterable[Supervisor], at: datetime | None = None) -> dict[int, Presence]:
    """Presence of each supervisor (select_related('latest_position') to save queries)."""
    at = at or timezone.now()
    sups = list(supervisors)
    return presence_of(sups, Shift.objects.windows_around([s.pk for s in sups], at), at)


_UNKNOWN = object()


def record(presence: Presence, current: str | None = None, latest: LatestPosition | None | object = _UNKNOWN) -> bool:
    """Store a judged presence; on a change, write an event and send `presence_changed` after commit.

    `current` (the stored state) and `latest` save their queries when the caller has them (the
    pipeline read both under its lock): an unchanged presence then costs no query at all.
    """
    if current is None:
        sup = Supervisor.objects.filter(pk=presence.supervisor_id).values("presence_state").first()
        if sup is None:
            return False
        current = sup["presence_state"]
    if current == presence.state:
        return False
    changed = Supervisor.objects.filter(pk=presence.supervisor_id, presence_state=current).update(
        presence_state=presence.state, presence_reason=presence.reason[:255], presence_since=presence.at
    )
    if not changed:  # someone else recorded a change in between; theirs stands
        return False
    if latest is _UNKNOWN:
        latest = LatestPosition.objects.filter(pk=presence.supervisor_id).first()
    TrackingEvent.objects.create(
        supervisor_id=presence.supervisor_id,
        kind=EventKind.PRESENCE,
        time=presence.at,
        point=latest.point if latest else None,
        kecamatan_code=latest.kecamatan_code if latest else "",
        old_state=current,
        new_state=presence.state,
        reason=presence.reason[:255],
    )
    old = current
    relay.send(
        PRESENCE,
        presence.supervisor_id,
        {"old": str(old), "new": str(presence.state)},
        inline=lambda: send_logged(
            presence_changed,
            Supervisor,
            supervisor_id=presence.supervisor_id,
            old=old,
            new=str(presence.state),
            presence=presence,
        ),
    )
    return True


def sweep(at: datetime | None = None) -> int:
    """Judge every active supervisor now and record the changes (time-driven edges). Returns how many changed."""
    at = at or timezone.now()
    sups = Supervisor.objects.active().select_related("latest_position")
    changed = 0
    with transaction.atomic():
        for p in presence_for(sups, at).values():
            changed += record(p)
    return changed
