"""Field tracking (SIGAP): supervisors, their phones, shifts, areas, pings and attendance.

Design notes, once:

- Areas are kecamatan *codes* (`Supervisor.kecamatan_codes`), not foreign keys to Kecamatan
  rows: boundaries are versioned by generation, and a reload must not orphan assignments. The
  code resolves to whatever polygon is current. Geofences (drawn or loaded by GIS staff) add to
  or replace kecamatan for special posts (a market, a flood gate).
- Ping history (`Ping`, table `tracking_ping`) is a native PostgreSQL table partitioned by
  *device* time, one partition per UTC day, created in migration 0002 with RunSQL: months of
  10-second pings from ~300 phones are ~80 M rows a month, so retention drops whole partitions
  (no DELETE, no bloat) and a BRIN index on time costs kilobytes. Its primary key is
  (device, device_time): a resent ping is the same row, so a retry never stores it twice. It
  has no foreign keys on purpose: history is evidence for pay and must outlive a deleted
  device row, and FK checks would halve ingest speed.
- `LatestPosition` is one row per supervisor that only moves forward in device time; a late
  upload of buffered pings goes into history and attendance but never drags the live map back.
- Times: device time kept as sent (UTC-normalised), next to the time we received it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.db.models import Q
from django.utils import timezone

from . import duty


class Geofence(models.Model):
    """A named area GIS staff draw or load (a market, a flood gate, a post)."""

    code = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=120)
    geom = models.MultiPolygonField(srid=4326)
    opd = models.ForeignKey("incidents.OPD", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class SupervisorQuerySet(models.QuerySet):
    def active(self) -> SupervisorQuerySet:
        return self.filter(active=True)

    def assigned_to_kecamatan(self, code: str) -> SupervisorQuerySet:
        return self.filter(kecamatan_codes__contains=[code])

    def on_duty(self, at: datetime | None = None) -> SupervisorQuerySet:
        """Supervisors on duty at `at` (default now): in shift, fresh fix, inside their area.

        The same rule as `presence.presence_for` (duty.py), applied to the few candidates with a
        fresh, non-mock fix that is not confirmed out of area, so the dispatcher and the map never
        disagree. Returns a queryset: chain `.filter(opd=...)` and read `latest_position`.
        """
        at = at or timezone.now()
        candidates = list(
            self.active()
            .filter(
                latest_position__device_time__gt=at - duty.window_td(),
                latest_position__device_time__lte=at + duty.skew_td(),
                latest_position__area_confirmed_out=False,
            )
            .select_related("latest_position")
        )
        states = duty.presence_of(candidates, Shift.objects.windows_around([s.pk for s in candidates], at), at)
        ids = [sid for sid, p in states.items() if p.state == duty.State.ON_DUTY]
        return self.filter(pk__in=ids).select_related("latest_position")


class Supervisor(models.Model):
    """A pengawas lapangan: one OPD, an area (kecamatan codes and/or geofences), shifts, a phone."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="supervisor"
    )
    name = models.CharField(max_length=120)
    phone = models.CharField(max_length=32, blank=True)
    opd = models.ForeignKey("incidents.OPD", on_delete=models.PROTECT, related_name="supervisors")
    kecamatan_codes = ArrayField(
        models.CharField(max_length=32),
        default=list,
        blank=True,
        help_text="assigned kecamatan by Kemendagri code (e.g. 36.71.05); survives boundary reloads",
    )
    geofences = models.ManyToManyField(Geofence, blank=True, related_name="supervisors")
    active = models.BooleanField(default=True)
    # Last presence judged (by the pipeline or the sweeper); edges become events + signals.
    presence_state = models.CharField(max_length=16, default="offline")
    presence_reason = models.CharField(max_length=255, blank=True)
    presence_since = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SupervisorQuerySet.as_manager()

    class Meta:
        ordering = ["opd__code", "name"]
        indexes = [models.Index(fields=["opd", "active"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.opd.code})" if self.opd_id else self.name


class FieldStaff(models.Model):
    """A petugas lapangan under a supervisor (orders are passed on to them)."""

    supervisor = models.ForeignKey(Supervisor, on_delete=models.CASCADE, related_name="field_staff")
    name = models.CharField(max_length=120)
    phone = models.CharField(max_length=32, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["supervisor", "name"]
        verbose_name_plural = "field staff"

    def __str__(self) -> str:
        return self.name


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Senin"
    TUESDAY = 1, "Selasa"
    WEDNESDAY = 2, "Rabu"
    THURSDAY = 3, "Kamis"
    FRIDAY = 4, "Jumat"
    SATURDAY = 5, "Sabtu"
    SUNDAY = 6, "Minggu"


class ShiftQuerySet(models.QuerySet):
    def windows(self, supervisor_ids: Iterable[int], first: date, last: date) -> dict[int, list[duty.ShiftWindow]]:
        """Concrete shifts starting on WIB dates first..last: one-off overrides replace a date's weekly shifts."""
        ids = list(supervisor_ids)
        weekly: dict[int, list[tuple[int, time, time]]] = defaultdict(list)
        for s in self.filter(supervisor_id__in=ids):
            weekly[s.supervisor_id].append((s.weekday, s.start, s.end))
        overrides: dict[int, list[tuple[date, bool, time | None, time | None]]] = defaultdict(list)
        for o in ShiftOverride.objects.filter(supervisor_id__in=ids, date__gte=first, date__lte=last):
            overrides[o.supervisor_id].append((o.date, o.off, o.start, o.end))
        return {sid: duty.windows_from(weekly[sid], overrides[sid], first, last) for sid in ids}

    def windows_around(self, supervisor_ids: Iterable[int], at: datetime) -> dict[int, list[duty.ShiftWindow]]:
        """The shifts that may cover `at`: those starting on its WIB date or the day before (overnight)."""
        day = duty.wib_date(at)
        return self.windows(supervisor_ids, day - timedelta(days=1), day)


class Shift(models.Model):
    """A weekly shift in WIB. `end <= start` means it ends the next day (e.g. 22:00-06:00)."""

    supervisor = models.ForeignKey(Supervisor, on_delete=models.CASCADE, related_name="shifts")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices, help_text="day the shift starts")
    start = models.TimeField(help_text="WIB")
    end = models.TimeField(help_text="WIB; earlier than or equal to start = next day")

    objects = ShiftQuerySet.as_manager()

    class Meta:
        ordering = ["supervisor", "weekday", "start"]
        constraints = [models.UniqueConstraint(fields=["supervisor", "weekday", "start"], name="shift_unique_start")]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"


class ShiftOverride(models.Model):
    """A one-off change for one date (WIB): replaces that date's weekly shifts.

    `off=True` means no shift that day (leave, holiday); otherwise start/end give the shift
    that day (crossing midnight when end <= start). Several overrides on one date = several shifts.
    """

    supervisor = models.ForeignKey(Supervisor, on_delete=models.CASCADE, related_name="shift_overrides")
    date = models.DateField(help_text="WIB date the shift starts")
    off = models.BooleanField(default=False)
    start = models.TimeField(null=True, blank=True)
    end = models.TimeField(null=True, blank=True)
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["supervisor", "date", "start"]
        constraints = [
            models.CheckConstraint(
                condition=Q(off=True) | (Q(start__isnull=False) & Q(end__isnull=False)),
                name="override_off_or_times",
            )
        ]

    def __str__(self) -> str:
        return f"{self.date} off" if self.off else f"{self.date} {self.start:%H:%M}-{self.end:%H:%M}"


def hash_token(raw: str) -> str:
    """SHA-256 of a device token: tokens are 32 random bytes, so a fast hash is enough."""
    return hashlib.sha256(raw.encode()).hexdigest()


class DeviceQuerySet(models.QuerySet):
    def usable(self) -> DeviceQuerySet:
        return self.filter(revoked_at__isnull=True)


class Device(models.Model):
    """A supervisor's phone. The token is shown once when issued and stored hashed."""

    supervisor = models.ForeignKey(Supervisor, on_delete=models.CASCADE, related_name="devices")
    device_id = models.CharField(max_length=64, unique=True, help_text="the id the phone app sends")
    token_hash = models.CharField(max_length=64, blank=True)
    label = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    objects = DeviceQuerySet.as_manager()

    class Meta:
        ordering = ["device_id"]

    def __str__(self) -> str:
        return self.device_id

    def issue_token(self) -> str:
        """A new secret for the phone (returned once, stored hashed); the old one stops working."""
        raw = secrets.token_urlsafe(24)
        self.token_hash = hash_token(raw)
        return raw

    def check_token(self, raw: str | None) -> bool:
        return bool(raw) and bool(self.token_hash) and hmac.compare_digest(self.token_hash, hash_token(raw))

    def revoke(self) -> None:
        self.revoked_at = timezone.now()
        self.save(update_fields=["revoked_at"])

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class LatestPosition(models.Model):
    """A supervisor's newest accepted, non-mock fix; only moves forward in device time."""

    supervisor = models.OneToOneField(
        Supervisor, on_delete=models.CASCADE, primary_key=True, related_name="latest_position"
    )
    device = models.ForeignKey(Device, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    point = models.PointField(srid=4326)  # GiST index (spatial_index=True by default)
    device_time = models.DateTimeField(db_index=True, help_text="GPS time as the phone sent it")
    received_at = models.DateTimeField()
    accuracy = models.FloatField(null=True, blank=True, help_text="metres")
    speed = models.FloatField(null=True, blank=True, help_text="m/s")
    heading = models.FloatField(null=True, blank=True, help_text="degrees")
    battery = models.FloatField(null=True, blank=True, help_text="percent")
    mock = models.BooleanField(default=False)
    kecamatan_code = models.CharField(max_length=32, blank=True, help_text="kecamatan of this fix")
    geofence_ids = ArrayField(models.IntegerField(), default=list, blank=True)
    in_area = models.BooleanField(default=False, help_text="this fix is inside the assigned area (with margin)")
    # Leaving the area takes more than one outside fix or a dwell time (see duty.py).
    outside_since = models.DateTimeField(null=True, blank=True)
    outside_count = models.PositiveIntegerField(default=0)
    area_confirmed_out = models.BooleanField(default=False)
    last_mock_at = models.DateTimeField(null=True, blank=True, help_text="newest mock fix seen")

    class Meta:
        verbose_name = "latest position"


class Ping(models.Model):
    """One stored fix in the partitioned history (table made by RunSQL in migration 0002)."""

    pk = models.CompositePrimaryKey("device_id", "device_time")
    device_id = models.BigIntegerField()
    supervisor_id = models.BigIntegerField()
    device_time = models.DateTimeField()
    received_at = models.DateTimeField()
    point = models.PointField(srid=4326, spatial_index=False)
    accuracy = models.FloatField(null=True)
    speed = models.FloatField(null=True)
    heading = models.FloatField(null=True)
    altitude = models.FloatField(null=True)
    battery = models.FloatField(null=True)
    mock = models.BooleanField(default=False)
    in_area = models.BooleanField(default=False)
    kecamatan_code = models.CharField(max_length=32, null=True)
    geofence_ids = ArrayField(models.IntegerField(), null=True)
    source = models.CharField(max_length=16)

    class Meta:
        db_table = "tracking_ping"
        ordering = ["device_time"]


class DropCount(models.Model):
    """How many pings a filter dropped, per day, device and reason (bounded: a counter, not a log)."""

    day = models.DateField()
    device = models.ForeignKey(Device, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    reason = models.CharField(max_length=32)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["day", "device", "reason"], name="dropcount_unique")]


class EventKind(models.TextChoices):
    ENTER_KECAMATAN = "enter_kecamatan", "entered kecamatan"
    LEAVE_KECAMATAN = "leave_kecamatan", "left kecamatan"
    ENTER_GEOFENCE = "enter_geofence", "entered geofence"
    LEAVE_GEOFENCE = "leave_geofence", "left geofence"
    PRESENCE = "presence", "presence changed"


class TrackingEvent(models.Model):
    """Something that happened to a supervisor, with time and place (the timeline)."""

    supervisor = models.ForeignKey(Supervisor, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    time = models.DateTimeField(help_text="device time of the fix, or when presence was judged")
    point = models.PointField(srid=4326, null=True, blank=True)
    kecamatan_code = models.CharField(max_length=32, blank=True)
    geofence = models.ForeignKey(Geofence, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    old_state = models.CharField(max_length=16, blank=True)
    new_state = models.CharField(max_length=16, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-time"]
        indexes = [models.Index(fields=["supervisor", "-time"])]


class AttendanceDay(models.Model):
    """One supervisor's attendance for one WIB date (the shift start date), with its evidence."""

    supervisor = models.ForeignKey(Supervisor, on_delete=models.CASCADE, related_name="attendance")
    date = models.DateField()
    shift_minutes = models.FloatField()
    present_minutes = models.FloatField()
    longest_gap_minutes = models.FloatField()
    ratio = models.FloatField()
    verdict = models.CharField(max_length=8, choices=[("present", "present"), ("absent", "absent")])
    mock_pings = models.PositiveIntegerField(default=0)
    pings = models.PositiveIntegerField(default=0)
    evidence = models.JSONField(default=dict, help_text="shifts, gaps and out-of-area spells that decided it")
    computed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["date", "supervisor"]
        constraints = [models.UniqueConstraint(fields=["supervisor", "date"], name="attendance_one_per_day")]
