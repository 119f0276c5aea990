"""The console's own data: the CCTV registry and the live-event log browsers catch up from.

Why a `LiveEvent` table: the live push (WebSocket) delivers each change once, to whoever is
connected. A browser that lost its connection (a network drop, a laptop lid) reconnects with the
last sequence number it saw and is sent what it missed from this table; when it missed more than
`CONSOLE_LIVE_REPLAY_MAX` it reloads the layers instead. Rows older than `CONSOLE_LIVE_KEEP_S`
are pruned as new ones come in. The sequence is the row id (a bigserial, increasing on commit
order closely enough for a map: every payload carries the full new state, not a delta).
"""

from __future__ import annotations

from django.contrib.gis.db import models
from django.utils import timezone

from core.geo import within_metres


class CameraQuerySet(models.QuerySet):
    def active(self) -> CameraQuerySet:
        return self.filter(active=True)

    def within_metres(self, point, metres: float) -> CameraQuerySet:
        """Cameras within `metres` (geodesic) of `point`, annotated `distance_m`, nearest first."""
        return within_metres(self, "location", point, metres)


class Camera(models.Model):
    """A CCTV camera of an OPD: where it is and how to see it (stream or snapshot URL)."""

    code = models.SlugField(max_length=64, unique=True, help_text="stable code, e.g. dishub-cikokol-01")
    name = models.CharField(max_length=160)
    location = models.PointField(srid=4326)
    opd = models.ForeignKey("incidents.OPD", on_delete=models.PROTECT, related_name="cameras")
    stream_url = models.URLField(max_length=500, blank=True, help_text="live stream (HLS, MJPEG) if any")
    snapshot_url = models.URLField(max_length=500, blank=True, help_text="still image refreshed by the camera")
    direction = models.CharField(max_length=60, blank=True, help_text="what it looks at, e.g. arah Jakarta")
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CameraQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = "CCTV camera"

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class LiveEvent(models.Model):
    """One change pushed to the live maps; `id` is the sequence number browsers catch up from."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=24, help_text="report, position, presence")
    key = models.CharField(max_length=64, help_text="what changed: a report's public id, a supervisor id")
    payload = models.JSONField(default=dict)

    class Meta:
        ordering = ["id"]


class FieldShift(models.Model):
    """A supervisor pressed "start shift" / "end shift" in the field app (what they said, when).

    Presence and pay still come from tracking (scheduled shifts and pings); this is the
    supervisor's own statement, shown to operators and kept as evidence.
    """

    supervisor = models.ForeignKey("tracking.Supervisor", on_delete=models.CASCADE, related_name="field_shifts")
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["supervisor"], condition=models.Q(ended_at__isnull=True), name="fieldshift_one_open"
            )
        ]
