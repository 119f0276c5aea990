"""Dispatch: decisions, orders to supervisors, escalation timers, maternity rooms.

Design notes, once:

- A `Decision` is written for every run of the dispatcher, with every candidate it judged
  (distance, presence, workload, why excluded) as JSON: an operator (or an auditor, when a
  supervisor's pay or a slow response is questioned) can see exactly why X got the order and
  Y did not, as things stood at that moment.
- An `Order` is one offer of one report to one supervisor. A re-offer (timeout, decline,
  re-assignment) ends the old order and makes a new one, so each supervisor's record stays
  true. At most one *open* order per report (partial unique constraint): two dispatches of one
  report can never both succeed.
- `DispatchState` is one row per report that dispatch has seen: the operators' queue
  ("awaiting supervisor" with the reason and suggestions) and the `version` that operators send
  back when they re-assign or cancel (optimistic concurrency: the second of two operators gets
  a 409 instead of silently undoing the first one's choice).
- Escalation timers are rows of core's job queue (`core.jobs`): a job's effect and its `done`
  mark commit together, so a crash re-runs it and it never fires twice.
- Facilities' `free_rooms` is decremented by an atomic conditional UPDATE when a room is held,
  so two holds can never take the same last room.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.gis.db import models
from django.db.models import Q
from django.utils import timezone


class OrderState(models.TextChoices):
    OFFERED = "offered", "ditawarkan / offered"
    ACKNOWLEDGED = "acknowledged", "diterima / acknowledged"
    EN_ROUTE = "en_route", "menuju lokasi / en route"
    ON_SITE = "on_site", "di lokasi / on site"
    RESOLVED = "resolved", "selesai / resolved"
    DECLINED = "declined", "ditolak / declined"
    EXPIRED = "expired", "tidak dijawab / expired"
    CANCELLED = "cancelled", "dibatalkan / cancelled"
    REASSIGNED = "reassigned", "dialihkan / reassigned"


OPEN_ORDER_STATES = (OrderState.OFFERED, OrderState.ACKNOWLEDGED, OrderState.EN_ROUTE, OrderState.ON_SITE)


class OrderQuerySet(models.QuerySet):
    def open(self) -> OrderQuerySet:
        return self.filter(state__in=OPEN_ORDER_STATES)


class Order(models.Model):
    """One report offered to one supervisor, and what became of it."""

    report = models.ForeignKey("incidents.Report", on_delete=models.CASCADE, related_name="orders")
    supervisor = models.ForeignKey("tracking.Supervisor", on_delete=models.PROTECT, related_name="orders")
    decision = models.ForeignKey("Decision", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    state = models.CharField(max_length=16, choices=OrderState.choices, default=OrderState.OFFERED, db_index=True)
    distance_m = models.FloatField(null=True, blank=True, help_text="metres from the supervisor when offered")
    field_staff = models.ForeignKey(
        "tracking.FieldStaff", on_delete=models.SET_NULL, null=True, blank=True, related_name="orders"
    )
    offered_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="acknowledge before this, or it goes on")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    en_route_at = models.DateTimeField(null=True, blank=True)
    on_site_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="resolved, declined, expired, cancelled")
    close_reason = models.CharField(max_length=255, blank=True)
    offered_by = models.CharField(max_length=120, blank=True, help_text="dispatcher, or the operator's name")

    objects = OrderQuerySet.as_manager()

    class Meta:
        ordering = ["-offered_at", "-id"]
        indexes = [models.Index(fields=["supervisor", "state"], name="order_supervisor_state")]
        constraints = [
            models.UniqueConstraint(
                fields=["report"],
                condition=Q(state__in=["offered", "acknowledged", "en_route", "on_site"]),
                name="order_one_open_per_report",
            )
        ]

    def __str__(self) -> str:
        return f"order {self.pk} {self.report_id}->{self.supervisor_id} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_ORDER_STATES


class StepKind(models.TextChoices):
    OFFERED = "offered", "offered"
    ACKNOWLEDGED = "acknowledged", "acknowledged"
    EN_ROUTE = "en_route", "en route"
    ON_SITE = "on_site", "on site"
    HANDED = "handed", "handed to field staff"
    NOTE = "note", "progress note"
    RESOLVED = "resolved", "resolved"
    DECLINED = "declined", "declined"
    EXPIRED = "expired", "not acknowledged in time"
    CANCELLED = "cancelled", "cancelled"
    REASSIGNED = "reassigned", "reassigned"


class OrderStep(models.Model):
    """One step of an order, with when it happened and where the supervisor was then."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="steps")
    kind = models.CharField(max_length=16, choices=StepKind.choices)
    at = models.DateTimeField(default=timezone.now)
    actor = models.CharField(max_length=120, blank=True, help_text="supervisor, operator name, dispatcher, worker")
    note = models.TextField(blank=True)
    point = models.PointField(srid=4326, null=True, blank=True, help_text="supervisor's position at the step")
    point_time = models.DateTimeField(null=True, blank=True, help_text="device time of that position")
    point_source = models.CharField(max_length=16, blank=True, help_text="request (sent with it) or latest (ping)")
    media = models.ForeignKey(
        "incidents.ReportMedia", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id} {self.kind} at {self.at:%Y-%m-%d %H:%M}"


class Decision(models.Model):
    """One run of the dispatcher for one report: its inputs, every candidate, and the outcome."""

    class Outcome(models.TextChoices):
        OFFERED = "offered", "offered to a supervisor"
        AWAITING = "awaiting", "no fitting supervisor: waiting"
        NOT_DISPATCHED = "not_dispatched", "not dispatched (no field agency, closed, ...)"

    report = models.ForeignKey("incidents.Report", on_delete=models.CASCADE, related_name="dispatch_decisions")
    at = models.DateTimeField(default=timezone.now)
    trigger = models.CharField(max_length=32, help_text="routed, manual, escalation, declined, on_duty, sweep, ...")
    actor = models.CharField(max_length=120, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason = models.CharField(max_length=500, blank=True)
    opd = models.ForeignKey("incidents.OPD", on_delete=models.PROTECT, related_name="+")
    kecamatan_code = models.CharField(max_length=32, blank=True)
    report_point = models.PointField(srid=4326)
    chosen = models.ForeignKey(
        "tracking.Supervisor", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    candidates = models.JSONField(
        default=list, help_text="every supervisor judged: distance_m, presence, workload, excluded (why)"
    )
    suggestions = models.JSONField(default=list, help_text="outside the rule: other kecamatan, off-area")
    duration_ms = models.FloatField(default=0)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["report", "-at"], name="decision_report_at")]

    def __str__(self) -> str:
        return f"decision {self.pk} for {self.report_id}: {self.outcome}"


class DispatchState(models.Model):
    """Where a report stands with dispatch: the operators' queue and the optimistic-lock version."""

    class Queue(models.TextChoices):
        NONE = "", "-"
        AWAITING = "awaiting", "awaiting supervisor"
        HELD = "held", "held by an operator (no automatic dispatch)"

    report = models.OneToOneField(
        "incidents.Report", on_delete=models.CASCADE, primary_key=True, related_name="dispatch_state"
    )
    version = models.PositiveIntegerField(default=0)
    queue = models.CharField(max_length=12, choices=Queue.choices, blank=True, default="", db_index=True)
    reason = models.CharField(max_length=500, blank=True)
    suggestions = models.JSONField(default=list, blank=True)
    escalations = models.PositiveIntegerField(default=0, help_text="offers that expired or were declined")
    last_escalation_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.report_id} v{self.version} {self.queue or 'active'}"


# --- Maternity room booking (kamar bersalin) -----------------------------------------------------
class Facility(models.Model):
    """A hospital or health centre that takes women in labour; staff keep its free rooms current."""

    class Kind(models.TextChoices):
        HOSPITAL = "hospital", "rumah sakit / hospital"
        PUSKESMAS = "puskesmas", "puskesmas / health centre"
        CLINIC = "clinic", "klinik bersalin / maternity clinic"

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=160)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.HOSPITAL)
    location = models.PointField(srid=4326)
    address = models.CharField(max_length=255, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    maternity_rooms = models.PositiveIntegerField(default=0, help_text="maternity rooms in all")
    free_rooms = models.PositiveIntegerField(default=0, help_text="free now, less rooms held by the LIVE Room")
    staff = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="facilities")
    active = models.BooleanField(default=True)
    rooms_updated_at = models.DateTimeField(null=True, blank=True)
    rooms_updated_by = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "facilities"
        constraints = [
            models.CheckConstraint(
                condition=Q(free_rooms__lte=models.F("maternity_rooms")), name="facility_free_le_all"
            )
        ]

    def __str__(self) -> str:
        return self.name


class RoomHold(models.Model):
    """A maternity room proposed for a report and held until an operator confirms or releases it."""

    class State(models.TextChoices):
        HELD = "held", "held"
        CONFIRMED = "confirmed", "confirmed"
        RELEASED = "released", "released"

    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="holds")
    report = models.ForeignKey("incidents.Report", on_delete=models.CASCADE, related_name="room_holds")
    state = models.CharField(max_length=12, choices=State.choices, default=State.HELD)
    distance_m = models.FloatField(help_text="metres from the report")
    held_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=120, blank=True)
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["-held_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["report"], condition=Q(state__in=["held", "confirmed"]), name="roomhold_one_active_per_report"
            )
        ]

    def __str__(self) -> str:
        return f"{self.facility} for {self.report_id} ({self.state})"
