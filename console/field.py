"""The supervisors' phone app on the server side: the shift they say they are on.

The app's pings go through tracking's upload with the supervisor's session (stored as the device
`web-<supervisor id>`; a batch buffered offline keeps its GPS times and a resent one is stored
once), and its orders through dispatch's API: the field app is one more client of both.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import FieldShift


def current_shift(supervisor) -> FieldShift | None:
    return FieldShift.objects.filter(supervisor=supervisor, ended_at__isnull=True).first()


def start_shift(supervisor) -> FieldShift:
    """Idempotent: a second "start" returns the open shift."""
    open_shift = current_shift(supervisor)
    if open_shift:
        return open_shift
    try:
        with transaction.atomic():
            return FieldShift.objects.create(supervisor=supervisor)
    except IntegrityError:  # two taps at once
        return current_shift(supervisor)


def end_shift(supervisor) -> FieldShift | None:
    shift = current_shift(supervisor)
    if shift:
        shift.ended_at = timezone.now()
        shift.save(update_fields=["ended_at"])
    return shift
