"""The spatial dispatcher: the nearest on-duty supervisor of the report's OPD inside its kecamatan.

The rule, in order (each exclusion is written into the decision with its reason):

1. the supervisors of the report's OPD whose latest position is covered by the report's
   kecamatan (current polygon of its code): a KNN scan (`<->`) on the latest-position GiST
   index, limited to DISPATCH_MAX_CANDIDATES, then the exact geodesic distance (geography);
2. excluded: not on duty by tracking's presence rule (off shift, stale, offline, out of their
   area), a phone now sending mock locations, already declined / let expire / taken off this
   report, at the cap of DISPATCH_MAX_OPEN_ORDERS open orders;
3. the nearest eligible wins; candidates within DISPATCH_TIE_TOLERANCE_M of the nearest count
   as tied and the lighter open workload wins among them;
4. the cap is checked again under a row lock on the supervisor at the moment of the offer, so
   two reports dispatched at the same instant can never push one supervisor over it.

When nobody fits, the report waits as "awaiting supervisor" with the reason and suggestions
marked as outside the rule (nearest of the OPD outside the kecamatan, off-area supervisors).

Steps 1-3 (judging) are `candidates.py`; this module decides and offers: the decision row, the
order, the report's status and the acknowledgement timer, in one transaction. It is also the one
entry for automatic dispatch (`auto_dispatch`: on routing, on referral, from the sweep).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from incidents.models import OPEN_STATUSES, EventKind, Report, Status
from tracking.models import Supervisor

from . import exclusions as ex
from . import maternity, state
from . import settings as ds
from .candidates import Candidate, judge, rank, suggestions_for
from .errors import NoFreeRoom, NotDispatchable, SupervisorUnavailable
from .exclusions import Excluded, Exclusion
from .models import Decision, DispatchState, Order, OrderState, StepKind

log = logging.getLogger("dispatch")
S = Status
AUTO_FROM = (Status.ROUTED, Status.REOPENED, Status.AWAITING_SUPERVISOR)  # statuses auto_dispatch acts on


def lock_and_count(supervisor_id: int) -> int:
    """Lock the supervisor row (serialises offers to one supervisor) and count open orders after the lock.

    Only that row: the model's ordering joins the OPD, and a plain FOR UPDATE would lock the OPD's
    row too, which every report filed to that OPD holds (its foreign-key check) until it commits:
    a citizen's report and the worker's dispatch would deadlock under load (`make loadtest`).
    """
    list(
        Supervisor.objects.select_for_update(of=("self",))
        .filter(pk=supervisor_id)
        .order_by()
        .values_list("pk", flat=True)
    )
    return Order.objects.open().filter(supervisor_id=supervisor_id).count()


def _lock_open_report(pk: int, *, hint: str = "") -> Report:
    """The report row locked, with what a decision reads; NotDispatchable when closed or already offered."""
    report = Report.objects.select_for_update(of=("self",)).select_related("opd", "kecamatan", "category").get(pk=pk)
    if report.status not in OPEN_STATUSES:
        raise NotDispatchable(f"Report {report.public_id} is {report.status}; only open reports are dispatched.")
    if Order.objects.open().filter(report=report).exists():
        raise NotDispatchable(f"Report {report.public_id} already has an open order{hint}.")
    return report


@dataclass(frozen=True)
class Run:
    """One run of the dispatcher: the report (its row locked), the time it decides for, what started it, who."""

    report: Report
    at: datetime
    trigger: str
    actor: str
    started: float = field(default_factory=time.perf_counter)

    def decision(
        self,
        outcome: str,
        reason: str,
        *,
        chosen_id: int | None = None,
        candidates: list[dict] | None = None,
        suggestions: list[dict] | None = None,
        timed: bool = True,
    ) -> Decision:
        """The decision row of this run (not saved), with the report's inputs and, when `timed`, how long it took."""
        report = self.report
        return Decision(
            report=report,
            at=self.at,
            trigger=self.trigger,
            actor=self.actor,
            opd=report.opd,
            kecamatan_code=report.kecamatan.code if report.kecamatan_id else "",
            report_point=report.location,
            outcome=outcome,
            reason=reason,
            chosen_id=chosen_id,
            candidates=candidates if candidates is not None else [],
            suggestions=suggestions if suggestions is not None else [],
            duration_ms=(time.perf_counter() - self.started) * 1000 if timed else 0,
        )


def dispatch(
    report: Report | int,
    *,
    trigger: str,
    actor: str = "dispatcher",
    exclude: dict[int, Excluded] | None = None,
    at: datetime | None = None,
    quiet_if_unchanged: bool = False,
) -> Decision:
    """Decide and offer: one transaction, the report row locked. Raises NotDispatchable if it has an open order."""
    at = at or timezone.now()
    started = time.perf_counter()
    with transaction.atomic():
        pk = report.pk if isinstance(report, Report) else report
        run = Run(_lock_open_report(pk, hint="; re-assign or cancel it instead"), at, trigger, actor, started)
        report = run.report
        if ds.field_agencies_only() and not report.opd.is_field_agency:
            reason = f"{report.opd.name} has no field supervisors on SIGAP; the OPD was notified and handles it"
            decision = run.decision(Decision.Outcome.NOT_DISPATCHED, reason)
            decision.save()
            return decision
        chosen, candidates = _choose(report, at, exclude)
        if chosen is None:
            return _wait(run, candidates, quiet_if_unchanged)
        decision = run.decision(
            Decision.Outcome.OFFERED,
            f"nearest eligible: {chosen.name}, {chosen.distance_m:.0f} m, {chosen.workload} open orders",
            chosen_id=chosen.supervisor_id,
            candidates=[c.as_dict() for c in candidates],
        )
        decision.save()
        offer(report, chosen.supervisor_id, decision=decision, distance_m=chosen.distance_m, actor=actor, at=at)
        return decision


def _choose(
    report: Report, at: datetime, exclude: dict[int, Excluded] | None
) -> tuple[Candidate | None, list[Candidate]]:
    """The first ranked candidate still under the cap under the row lock (step 4), and everyone judged."""
    chosen = None
    for enough in (3, None):  # the nearest few first; everyone if all of those are taken meanwhile
        candidates = judge(report, at, exclude=exclude, enough=enough)
        for c in rank(candidates):
            n = lock_and_count(c.supervisor_id)
            if n >= ds.max_open_orders():
                c.excluded = ex.at_cap(n, ds.max_open_orders(), when_offered=True)
                c.workload, c.rank = n, None
                continue
            chosen = c
            break
        if chosen is not None or not any(
            c.excluded is None or c.excluded.reason == Exclusion.AT_CAP_WHEN_OFFERED for c in candidates
        ):
            break
    ranked = [c for c in candidates if c.rank is not None and c.excluded is None]
    for n, c in enumerate(sorted(ranked, key=lambda c: c.rank), start=1):
        c.rank = n
    return chosen, candidates


def _wait(run: Run, candidates: list[Candidate], quiet_if_unchanged: bool) -> Decision:
    """Nobody fits: the report waits in the operators' queue with the reason and suggestions."""
    report = run.report
    reason = _no_candidate_reason(report, candidates)
    sugg = [s.as_dict() for s in suggestions_for(report, candidates, run.at)]
    st = DispatchState.objects.filter(report=report).first()
    unchanged = report.status == S.AWAITING_SUPERVISOR and st is not None and st.reason == reason
    decision = run.decision(
        Decision.Outcome.AWAITING, reason, candidates=[c.as_dict() for c in candidates], suggestions=sugg
    )
    if quiet_if_unchanged and unchanged:
        DispatchState.objects.filter(report=report).update(suggestions=sugg)
        return decision  # not stored: a sweep that changed nothing leaves no trace
    decision.save()
    state.bump(report, queue=DispatchState.Queue.AWAITING, reason=reason, suggestions=sugg)
    if report.status != S.AWAITING_SUPERVISOR:
        state.move_report(
            report,
            S.AWAITING_SUPERVISOR,
            actor_label="dispatch",
            note=f"menunggu pengawas: {reason}",
            data={"decision": decision.pk, "reason": reason},
        )
    return decision


def _no_candidate_reason(report: Report, candidates: list[Candidate]) -> str:
    """The stored (English) reason a report waits, with how many candidates in the kecamatan were excluded for what."""
    kec = report.kecamatan.name if report.kecamatan_id else "?"
    inside = [c for c in candidates if c.in_kecamatan]
    if not inside:
        return f"no {report.opd.name} supervisor is in kecamatan {kec} now"
    counts: dict[str, int] = {}
    for c in inside:
        key = ex.summary_label(c.excluded) if c.excluded else ""
        counts[key] = counts.get(key, 0) + 1
    detail = ", ".join(f"{n} {k}" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    return f"no {report.opd.name} supervisor in kecamatan {kec} can take it ({detail})"


def offer_to(
    report: Report | int,
    supervisor_id: int,
    *,
    trigger: str = "manual",
    actor: str = "operator",
    at: datetime | None = None,
) -> Decision:
    """An operator's choice of supervisor: recorded as a decision; outside the rule is allowed, the cap is not."""
    at = at or timezone.now()
    with transaction.atomic():
        pk = report.pk if isinstance(report, Report) else report
        report = _lock_open_report(pk)
        sup = Supervisor.objects.filter(pk=supervisor_id, active=True).first()
        if sup is None:
            raise SupervisorUnavailable(f"No active supervisor {supervisor_id}.")
        if sup.opd_id != report.opd_id:
            raise SupervisorUnavailable(f"{sup.name} is with {sup.opd.name}; the report belongs to {report.opd.name}.")
        n = lock_and_count(sup.pk)
        if n >= ds.max_open_orders():
            raise SupervisorUnavailable(f"{sup.name} already has {n} open orders (max {ds.max_open_orders()}).")
        candidates = judge(report, at)
        mine = next((c for c in candidates if c.supervisor_id == sup.pk), None)
        reason = f"chosen by {actor}"
        if mine is None:
            reason += " outside the rule (not a candidate here)"
        elif mine.excluded is not None:
            reason += f" outside the rule ({ex.describe(mine.excluded, translate=False)})"
        cand_json = [c.as_dict() for c in candidates]
        decision = Run(report, at, trigger, actor).decision(
            Decision.Outcome.OFFERED, reason, chosen_id=sup.pk, candidates=cand_json, timed=False
        )
        decision.save()
        dist = mine.distance_m if mine else _distance_to(report, sup)
        offer(report, sup.pk, decision=decision, distance_m=dist, actor=actor, at=at)
        return decision


def _distance_to(report: Report, sup: Supervisor) -> float | None:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT ST_Distance(point::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography) "
            "FROM tracking_latestposition WHERE supervisor_id = %s",
            [report.location.x, report.location.y, sup.pk],
        )
        row = cur.fetchone()
    return float(row[0]) if row else None


def offer(
    report: Report,
    supervisor_id: int,
    *,
    decision: Decision | None,
    distance_m: float | None,
    actor: str,
    at: datetime | None = None,
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
        state.record_step(order, StepKind.OFFERED, at, actor, data={"distance_m": distance_m, "timeout_s": timeout})
        state.move_report(
            report,
            S.DISPATCHED,
            actor_label=actor,
            note=f"ditugaskan ke pengawas {sup.opd.name}",
            data={"order": order.pk, "supervisor": sup.pk},
        )
        state.leave_queue(report)
        state.start_ack_timer(order)
    return order


# --- automatic dispatch ----------------------------------------------------------------------------------
def try_awaiting(opd_id: int, kecamatan_code: str | None = None, *, trigger: str = "on_duty", limit: int = 20) -> int:
    """Dispatch reports waiting for a supervisor of this OPD (in this kecamatan): most urgent, oldest first."""
    qs = Report.objects.filter(status=S.AWAITING_SUPERVISOR, opd_id=opd_id)
    if kecamatan_code:
        qs = qs.filter(kecamatan__code=kecamatan_code)
    qs = qs.exclude(dispatch_state__queue=DispatchState.Queue.HELD)
    offered = 0
    for pk in qs.order_by("priority", "created_at").values_list("pk", flat=True)[:limit]:
        try:
            d = dispatch(pk, trigger=trigger, quiet_if_unchanged=True)
        except NotDispatchable:
            continue
        offered += d.outcome == Decision.Outcome.OFFERED
    return offered


def _recategorised(report: Report) -> bool:
    last = report.events.order_by("-at", "-id").first()
    return last is not None and last.kind == EventKind.RECATEGORISED


def auto_dispatch(report_id: int, trigger: str) -> Decision | None:
    """Dispatch a routed report unless an operator holds it; a re-categorised report drops its old order.

    A maternity report also gets a room held at the nearest facility with one free (maternity.propose).
    """
    with transaction.atomic():
        report = Report.objects.select_for_update(of=("self",)).select_related("category").filter(pk=report_id).first()
        if report is None or report.status not in AUTO_FROM:
            return None
        recategorised = _recategorised(report)
        st = DispatchState.objects.filter(report=report).first()
        if st is not None and st.queue == DispatchState.Queue.HELD:
            if not recategorised:
                return None
            DispatchState.objects.filter(report=report).update(queue="")
        stale = Order.objects.select_for_update().open().filter(report=report).first()
        if stale is not None:
            state.close_order(
                stale, OrderState.CANCELLED, StepKind.CANCELLED, timezone.now(), "dispatch", "report re-routed"
            )
        if maternity.is_maternity(report):
            try:
                with transaction.atomic():
                    maternity.propose(report)
            except NoFreeRoom as exc:
                log.warning("report %s: %s", report.public_id, exc.message)
        return dispatch(report, trigger=trigger)
