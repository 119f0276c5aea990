"""The stale-update check: an operator's change names the version of the report they saw.

A report's version is its `updated_at` in ISO 8601 (the operator's detail serves it as
`version`). A change that sends it is checked with the row locked, before anything is written:
when someone else changed the report in between, the change is refused (409) saying who changed
it, when (WIB) and how, and nothing is saved; the operator looks again and decides. A change
without a version applies to the report as it is now (clients that keep no version).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework import status as http

from core.api import DomainError

from .models import Report

WIB = ZoneInfo("Asia/Jakarta")


class StaleReport(DomainError):
    status_code = http.HTTP_409_CONFLICT


def version_of(report: Report) -> str:
    return report.updated_at.isoformat()


@contextlib.contextmanager
def unchanged_since(report: Report, version: datetime | None) -> Iterator[Report]:
    """The report, locked for the block (one transaction), once it is known to be still at `version`."""
    with transaction.atomic():
        locked = Report.objects.select_for_update().get(pk=report.pk)
        if version is not None and version != locked.updated_at:
            raise StaleReport(_changed_meanwhile(locked))
        yield locked


def _changed_meanwhile(report: Report) -> str:
    last = report.events.order_by("-at", "-id").first()
    who = (last.actor_label if last else "") or _("someone")
    what = (last.to_status or last.kind) if last else ""
    when = report.updated_at.astimezone(WIB).strftime("%H:%M:%S")
    return _(
        "%(id)s was changed by %(who)s at %(when)s WIB (%(what)s) after you opened it; "
        "nothing was saved. Look at it again and decide."
    ) % {"id": report.public_id, "who": who, "when": when, "what": what}
