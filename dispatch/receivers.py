"""Signal receivers: dispatch on routing, on-site from pings, auto-dispatch when someone comes on duty.

Both senders announce after commit, so these run outside the sender's transaction. They never
let a failure here break the request that sent the signal (a citizen's report, a phone's ping):
a database error is logged, and the worker's sweep (`sweep_awaiting`) catches up within
WORKER_SWEEP_S.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta

from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.api import DomainError
from incidents.models import Report, Status
from tracking.models import LatestPosition, Supervisor

from . import state
from .dispatcher import auto_dispatch, dispatch, try_awaiting
from .errors import DispatchError, ReportHeld
from .models import Decision, DispatchState, Order, OrderState, StepKind
from .orders import detect_on_site

log = logging.getLogger("dispatch")


def on_report_routed(sender: object, report: Report, **kwargs: object) -> None:
    _forget_waiting()
    try:
        auto_dispatch(report.pk, "routed")
    except (DomainError, DatabaseError) as exc:
        log.warning("dispatch of report %s on routing failed (the sweep retries): %s", report.pk, exc)


# --- facts read once per relay batch ---------------------------------------------------------------
_batch = threading.local()


@contextlib.contextmanager
def batch_facts() -> Iterator[None]:
    """Within one batch of the worker's relay, ask "who is on the way to a site" and "where do
    reports wait" once, not once per position (most of the worker's queries under load).

    Registered in apps.py. A fact that changes during the batch is seen by the next one (phones
    ping every few seconds) or by the sweep; a report handled in the batch drops the cached
    "waiting" so a supervisor coming on duty after it in the same batch still finds it.
    """
    if getattr(_batch, "facts", None) is not None:
        yield
        return
    _batch.facts = {}
    try:
        yield
    finally:
        _batch.facts = None


def _facts() -> dict | None:
    return getattr(_batch, "facts", None)


def _forget_waiting() -> None:
    if (facts := _facts()) is not None:
        facts.pop("waiting", None)


def _may_be_on_the_way(supervisor_id: int) -> bool:
    """False only when the batch knows this supervisor has no acknowledged or en-route order."""
    facts = _facts()
    if facts is None:
        return True
    if "on_the_way" not in facts:
        facts["on_the_way"] = set(
            Order.objects.filter(state__in=[OrderState.ACKNOWLEDGED, OrderState.EN_ROUTE]).values_list(
                "supervisor_id", flat=True
            )
        )
    return supervisor_id in facts["on_the_way"]


def _waiting_places() -> set[tuple[int, str]] | None:
    facts = _facts()
    if facts is None:
        return None
    if "waiting" not in facts:
        facts["waiting"] = set(
            Report.objects.filter(status=Status.AWAITING_SUPERVISOR).values_list("opd_id", "kecamatan__code")
        )
    return facts["waiting"]


def _known_place(supervisor: Supervisor | None, position: LatestPosition | None) -> tuple[int | None, str | None]:
    """(OPD, kecamatan) from what the worker read with the signal; (None, None) when it was not passed."""
    if supervisor is None or position is None:
        return None, None
    return supervisor.opd_id, position.kecamatan_code or ""


def _waiting_here(supervisor_id: int, opd_id: int | None = None, kec: str | None = None) -> tuple[int, str] | None:
    """(OPD, kecamatan) when reports of the supervisor's OPD wait in the kecamatan they are in."""
    places = _waiting_places()
    if places is not None and not places:
        return None  # nothing waits anywhere
    if opd_id is None or kec is None:
        sup = Supervisor.objects.filter(pk=supervisor_id).select_related("latest_position").first()
        if sup is None or not hasattr(sup, "latest_position"):
            return None
        opd_id, kec = sup.opd_id, sup.latest_position.kecamatan_code
    if not kec:
        return None
    if places is not None:
        return (opd_id, kec) if (opd_id, kec) in places else None
    waiting = Report.objects.filter(status=Status.AWAITING_SUPERVISOR, opd_id=opd_id, kecamatan__code=kec)
    return (opd_id, kec) if waiting.exists() else None


def on_position_updated(
    sender: object,
    supervisor_id: int,
    position: LatestPosition,
    supervisor: Supervisor | None = None,
    **kwargs: object,
) -> None:
    try:
        if _may_be_on_the_way(supervisor_id):
            detect_on_site(supervisor_id, position.point)
        if supervisor is not None:  # the worker read it with the position just now
            on_duty = supervisor.presence_state == "on_duty"
        else:
            on_duty = Supervisor.objects.filter(pk=supervisor_id, presence_state="on_duty").exists()
        if on_duty and (found := _waiting_here(supervisor_id, *_known_place(supervisor, position))):
            try_awaiting(found[0], found[1], trigger="on_duty")
    except (DomainError, DatabaseError) as exc:
        log.warning("dispatch on a ping of supervisor %s failed: %s", supervisor_id, exc)


def on_presence_changed(
    sender: object,
    supervisor_id: int,
    new: str,
    supervisor: Supervisor | None = None,
    position: LatestPosition | None = None,
    **kwargs: object,
) -> None:
    if new != "on_duty":
        return
    try:
        if found := _waiting_here(supervisor_id, *_known_place(supervisor, position)):
            try_awaiting(found[0], found[1], trigger="on_duty")
    except (DomainError, DatabaseError) as exc:
        log.warning("dispatch when supervisor %s came on duty failed: %s", supervisor_id, exc)


def sweep_awaiting(grace_s: int = 30) -> dict[str, int]:
    """The safety net: retry waiting reports, and routed ones no dispatcher run has seen (a missed signal)."""
    now = timezone.now()
    offered = 0
    waiting = (
        Report.objects.filter(status=Status.AWAITING_SUPERVISOR)
        .exclude(dispatch_state__queue=DispatchState.Queue.HELD)
        .order_by("priority", "created_at")
        .values_list("pk", flat=True)[:500]
    )
    for pk in waiting:
        try:
            d = dispatch(pk, trigger="sweep", quiet_if_unchanged=True)
        except DispatchError:
            continue
        offered += d.outcome == Decision.Outcome.OFFERED
    missed = 0
    routed = Report.objects.filter(
        status__in=[Status.ROUTED, Status.REOPENED], updated_at__lte=now - timedelta(seconds=grace_s)
    ).exclude(dispatch_state__queue=DispatchState.Queue.HELD)
    for report in routed.order_by("priority", "created_at")[:500]:
        if Decision.objects.filter(report=report, at__gte=report.updated_at).exists():
            continue  # decided after its last change (e.g. an OPD without field supervisors)
        try:
            auto_dispatch(report.pk, "sweep")
            missed += 1
        except DispatchError:
            continue
    return {"offered_waiting": offered, "routed_caught_up": missed}


def on_report_changed(sender: object, report: Report, event: object = None, **kwargs: object) -> None:
    """A report closed elsewhere (rejected, duplicate, resolved by an operator) ends its open order."""
    _forget_waiting()
    if report.status in (Status.ROUTED, Status.REOPENED, Status.AWAITING_SUPERVISOR) or report.is_open:
        return
    try:
        with transaction.atomic():
            order = Order.objects.select_for_update().open().filter(report_id=report.pk).first()
            if order is not None:
                state.close_order(
                    order,
                    OrderState.CANCELLED,
                    StepKind.CANCELLED,
                    timezone.now(),
                    "dispatch",
                    f"report {report.status}",
                )
    except DatabaseError as exc:
        log.warning("closing the order of report %s failed: %s", report.pk, exc)


def refuse_closing_while_held(sender: object, report: Report, **kwargs: object) -> None:
    """An operator does not close a report a supervisor holds: the order is cancelled first, or the
    supervisor resolves it (incidents' `report_closing`, sent with the report locked)."""
    order = Order.objects.open().filter(report=report).select_related("supervisor").first()
    if order is not None:
        raise ReportHeld(
            _("%(id)s is with %(name)s now; cancel the order first, or let the supervisor resolve it.")
            % {"id": report.public_id, "name": order.supervisor.name}
        )
