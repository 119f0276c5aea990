"""Signals other apps hook into (dispatch, the live console).

report_changed(sender=Report, report, event, created)   every change written by lifecycle/intake (after commit)
report_routed(sender=Report, report)                     the report reached status `routed` (after commit)
report_closing(sender=Report, report)                    an operator is about to close it (before, see below)

They travel through core.relay: in the request after commit ("inline") or from the worker,
whose deliverer is here. From the worker, `report` is the report as it is when delivered (a
later change has its own delivery after this one).
"""

from django.dispatch import Signal

from core import relay
from core.signals import send_logged

from .models import Report, ReportEvent

report_changed = Signal()
report_routed = Signal()
# Sent with the report locked, before an operator closes it (resolved, rejected, closed, merged as a
# duplicate): a receiver that must keep it open raises a DomainError, which refuses the change with
# nothing written (dispatch, while a supervisor holds the report).
report_closing = Signal()

REPORT = "incidents.report"


@relay.topic(REPORT)
def _deliver_report(key: str, data: list[dict]) -> None:
    report = Report.objects.filter(pk=int(key)).first()
    if report is None:
        return
    for change in data:
        event = ReportEvent.objects.filter(pk=change.get("event")).first()
        send_logged(report_changed, Report, report=report, event=event, created=bool(change.get("created")))
        if change.get("routed"):
            send_logged(report_routed, Report, report=report)
