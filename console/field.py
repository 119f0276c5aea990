"""The supervisors' phone app on the server side: shift, pings from the browser, orders.

Pings from the field app go through tracking's one pipeline (`tracking.ingest.pipeline.ingest`) as a
device named `web-<supervisor id>`, made on first use: the browser is signed in with the
supervisor's session, so it needs no device token. A batch the phone buffered offline is
uploaded with the original GPS times; the pipeline sorts it, drops duplicates (a resent batch is
stored once) and only moves the live position forward.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import status as http

from core.api import DomainError

from . import settings as cs
from .models import FieldShift


class FieldError(DomainError):
    status_code = http.HTTP_400_BAD_REQUEST


class DeviceRevoked(DomainError):
    status_code = http.HTTP_403_FORBIDDEN


def web_device(supervisor):
    """The supervisor's browser as a tracking device (created on first use)."""
    from tracking.models import Device

    device, _created = Device.objects.get_or_create(
        device_id=f"web-{supervisor.pk}", defaults={"supervisor": supervisor, "label": "field web app"}
    )
    if device.supervisor_id != supervisor.pk or device.revoked:
        raise DeviceRevoked(_("This phone's access was revoked; ask the LIVE Room."))
    return device


def upload_pings(supervisor, body) -> dict:
    """Store a batch of browser fixes; answers per index like the tracking API."""
    from tracking.ingest.pipeline import ingest
    from tracking.protocols.native import decode_native

    pings = body.get("pings") if isinstance(body, dict) else body
    if not isinstance(pings, list) or not pings:
        raise FieldError(_('Send {"pings": [...]} with at least one ping.'), field="pings")
    if len(pings) > cs.ping_batch_max():
        raise FieldError(
            _("%(n)s pings in one upload; send at most %(max)s.") % {"n": len(pings), "max": cs.ping_batch_max()},
            field="pings",
        )
    _device_id, items = decode_native({"pings": pings})
    result = ingest(web_device(supervisor), items, source="field-web")
    return result.as_dict()


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
