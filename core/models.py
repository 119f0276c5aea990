"""Core's tables: the outbox of committed changes (relay.py) and the timer queue (jobs.py).

Both tables were made by migrations of other apps before core existed (`geoapp_pendingsignal` by
geoapp's, `dispatch_job` by dispatch's), and keep their names: core's first migration takes them
over in Django's state only, so databases already running keep their rows and new ones get the
same tables.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class PendingSignal(models.Model):
    """One change to announce: written in the transaction that made it, deleted when delivered."""

    topic = models.CharField(max_length=40)
    key = models.CharField(max_length=64)
    data = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "geoapp_pendingsignal"  # made by geoapp's first migration; see the note above
        indexes = [models.Index(fields=["topic", "key"], name="geoapp_pending_topic_key")]

    def __str__(self) -> str:
        return f"{self.topic} {self.key}"


class Job(models.Model):
    """A timer for the worker: run `kind` with `payload` at `run_at`, exactly once."""

    class State(models.TextChoices):
        PENDING = "pending", "pending"
        DONE = "done", "done"
        FAILED = "failed", "failed (gave up)"
        CANCELLED = "cancelled", "cancelled"

    kind = models.CharField(max_length=48)
    payload = models.JSONField(default=dict)
    key = models.CharField(max_length=120, blank=True, help_text="at most one pending job per key")
    run_at = models.DateTimeField()
    state = models.CharField(max_length=12, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "dispatch_job"  # made by dispatch's first migration; see the note above
        ordering = ["run_at", "id"]
        indexes = [
            models.Index(fields=["run_at"], condition=Q(state="pending"), name="job_pending_run_at"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["key"], condition=Q(state="pending") & ~Q(key=""), name="job_one_pending_per_key"
            )
        ]

    def __str__(self) -> str:
        return f"job {self.pk} {self.kind} at {self.run_at:%Y-%m-%d %H:%M:%S} ({self.state})"


# --- Maternity room booking (kamar bersalin) -----------------------------------------------------
