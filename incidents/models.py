"""Citizens' reports (LAKSA) and the agencies (OPD) that handle them."""

from __future__ import annotations

import secrets
from datetime import datetime

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.gis.geos import Point
from django.contrib.postgres.indexes import GistIndex
from django.db.models import Q
from django.utils import timezone

from core.geo import within_metres

from . import settings as app_settings
from .triage import Triage


class OPD(models.Model):
    """A city agency (Organisasi Perangkat Daerah), e.g. Dishub or BPBD."""

    code = models.SlugField(max_length=32, unique=True, help_text="short stable code, e.g. dishub")
    name = models.CharField(max_length=120, help_text="short name, e.g. Dishub")
    full_name = models.CharField(max_length=255, blank=True, help_text="e.g. Dinas Perhubungan")
    name_en = models.CharField(max_length=255, blank=True, help_text="English name")
    is_field_agency = models.BooleanField(default=False, help_text="has field supervisors on SIGAP")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "OPD"
        verbose_name_plural = "OPD"

    def __str__(self) -> str:
        return self.name


# ---------------------------------------------------------------------------------------------
# Categories and reports
#
# Why these shapes: a report keeps everything routing decided at intake (kecamatan, kelurahan,
# OPD) as foreign keys, so statistics stay true after boundaries move (old generations keep their
# rows) or a category is moved to another OPD. Status changes only go through
# `incidents.lifecycle.change_status`, which validates, stamps the `*_at` fields and writes the
# timeline in one transaction. Posts from social media that cannot be classified or placed never
# become half-filled reports: they wait as `SocialPost` rows in the operators' triage queue, so
# every `Report` has a category, an OPD and a location.
# ---------------------------------------------------------------------------------------------


class Priority(models.IntegerChoices):
    URGENT = 1, "darurat / urgent"
    HIGH = 2, "tinggi / high"
    NORMAL = 3, "normal"
    LOW = 4, "rendah / low"


class Category(models.Model):
    """A kind of report, handled by one OPD ("routing by field")."""

    code = models.SlugField(max_length=48, unique=True, help_text="stable code, e.g. banjir; Open311 service_code")
    name_id = models.CharField(max_length=120, help_text="Indonesian name")
    name_en = models.CharField(max_length=120, blank=True, help_text="English name")
    description = models.TextField(blank=True)
    opd = models.ForeignKey(OPD, on_delete=models.PROTECT, related_name="categories")
    default_priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    target_dispatch_minutes = models.PositiveIntegerField(default=30, help_text="minutes from report to dispatch")
    target_resolve_minutes = models.PositiveIntegerField(default=24 * 60, help_text="minutes from report to resolved")
    keywords = models.JSONField(
        default=list, blank=True, help_text="Indonesian words/phrases that classify social posts, e.g. banjir"
    )
    attributes = models.JSONField(
        default=list,
        blank=True,
        help_text="extra questions (Open311 attributes): [{code, datatype, required, description, values}]",
    )
    group = models.CharField(max_length=60, blank=True, help_text="Open311 group, e.g. lalu lintas")
    sort_order = models.PositiveSmallIntegerField(default=100)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name_id


class Status(models.TextChoices):
    RECEIVED = "received", "diterima / received"
    ROUTED = "routed", "diteruskan ke OPD / routed"
    AWAITING_SUPERVISOR = "awaiting_supervisor", "menunggu pengawas / awaiting supervisor"
    DISPATCHED = "dispatched", "ditugaskan / dispatched"
    ACKNOWLEDGED = "acknowledged", "diterima petugas / acknowledged"
    IN_PROGRESS = "in_progress", "ditangani / in progress"
    RESOLVED = "resolved", "selesai / resolved"
    CLOSED = "closed", "ditutup / closed"
    REJECTED = "rejected", "ditolak / rejected"
    DUPLICATE = "duplicate", "duplikat / duplicate"
    REFERRED = "referred", "dirujuk / referred"
    REOPENED = "reopened", "dibuka kembali / reopened"


OPEN_STATUSES = frozenset(
    {
        Status.RECEIVED,
        Status.ROUTED,
        Status.AWAITING_SUPERVISOR,
        Status.DISPATCHED,
        Status.ACKNOWLEDGED,
        Status.IN_PROGRESS,
        Status.REOPENED,
    }
)


class Channel(models.TextChoices):
    APP = "app", "app"
    WEB = "web", "web"
    TWITTER = "twitter", "Twitter / X"
    FACEBOOK = "facebook", "Facebook"
    OPEN311 = "open311", "Open311"
    OPERATOR = "operator", "operator (phone, walk-in)"


class LocationSource(models.TextChoices):
    DEVICE = "device", "sent by the client"
    EXIF = "exif", "photo EXIF"
    SOCIAL = "social", "post coordinates"
    GAZETTEER = "gazetteer", "place name in the text"
    OPERATOR = "operator", "set by an operator"


class ReportQuerySet(models.QuerySet):
    def open(self) -> ReportQuerySet:
        """Reports still being handled (OPEN_STATUSES)."""
        return self.filter(status__in=OPEN_STATUSES)

    def within_metres(self, point: Point, metres: float) -> ReportQuerySet:
        """Reports within `metres` (geodesic, on geography) of `point`, annotated `distance_m`, nearest first."""
        return within_metres(self, "location", point, metres)

    def likely_duplicates_of(self, category: Category, point: Point, since: datetime) -> ReportQuerySet:
        """Open reports of `category` near `point` since `since` (the duplicate rule, settings in metres/hours)."""
        return (
            self.open()
            .filter(category=category, created_at__gte=since)
            .within_metres(point, app_settings.duplicate_radius_m())
        )


def new_public_id() -> str:
    """Short, unguessable, easy to read aloud on the phone: base32 without 0/1/8/9 confusion."""
    alphabet = "ABCDEFGHJKMNPQRSTUVWXYZ234567"
    return "".join(secrets.choice(alphabet) for _ in range(app_settings.public_id_length()))


class Report(models.Model):
    """A citizen's report (LAKSA), routed to the OPD of its category and tagged with where it happened."""

    public_id = models.CharField(max_length=24, unique=True, default=new_public_id, editable=False)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="reports")
    description = models.TextField(blank=True)
    location = models.PointField(srid=4326, spatial_index=False)  # indexed by report_location_gist below
    location_source = models.CharField(max_length=16, choices=LocationSource.choices, default=LocationSource.DEVICE)
    address = models.CharField(max_length=255, blank=True, help_text="free-text address or place as given")
    kecamatan = models.ForeignKey(
        "kecamatan_boundaries.Kecamatan", on_delete=models.PROTECT, null=True, blank=True, related_name="reports"
    )
    kelurahan = models.ForeignKey(
        "kecamatan_boundaries.Kelurahan", on_delete=models.PROTECT, null=True, blank=True, related_name="reports"
    )
    opd = models.ForeignKey(OPD, on_delete=models.PROTECT, related_name="reports")
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    channel = models.CharField(max_length=16, choices=Channel.choices, default=Channel.APP)
    attributes = models.JSONField(default=dict, blank=True, help_text="answers to the category's extra questions")

    # Personal data: shown to operators only.
    reporter_name = models.CharField(max_length=120, blank=True)
    reporter_phone = models.CharField(max_length=40, blank=True)
    reporter_email = models.EmailField(blank=True)
    reporter_handle = models.CharField(max_length=120, blank=True, help_text="social-media account")
    reporter_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="reports"
    )

    # Idempotency: one report per (client, key); a retry gets the same report back.
    client_ref = models.CharField(max_length=80, blank=True, help_text="who sent it: user:<id>, open311:<id>, anon")
    idempotency_key = models.CharField(max_length=120, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    external_id = models.CharField(max_length=120, blank=True, help_text="id on the channel, e.g. the tweet id")

    duplicate_of = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="merged_duplicates"
    )
    referred_to = models.CharField(max_length=255, blank=True, help_text="OPD or outside authority it was referred to")

    occurred_at = models.DateTimeField(null=True, blank=True, help_text="when it happened (photo EXIF, post time)")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    routed_at = models.DateTimeField(null=True, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    arrived_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = ReportQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            GistIndex(fields=["location"], name="report_location_gist"),
            models.Index(fields=["category", "created_at"], name="report_category_created"),
            models.Index(fields=["opd", "status"], name="report_opd_status"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["client_ref", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="report_idempotency_key_unique_per_client",
            ),
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=~Q(external_id=""),
                name="report_external_id_unique_per_channel",
            ),
        ]
        permissions = [
            ("view_personal_data", "Can see reporters' contact details"),
            ("operate_report", "Can route, dispatch, merge and change the status of reports"),
            ("triage_socialpost", "Can work the social-media triage queue"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.category_id and self.category} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class EventKind(models.TextChoices):
    CREATED = "created", "created"
    STATUS = "status", "status changed"
    RECATEGORISED = "recategorised", "re-categorised and re-routed"
    ARRIVED = "arrived", "officer arrived"
    LIKELY_DUPLICATE = "likely_duplicate", "likely duplicate found"
    MERGED = "merged", "duplicate merged in"
    MEDIA = "media", "media added"
    NOTE = "note", "note"


class ReportEvent(models.Model):
    """One line of a report's timeline: who did what, when."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=120, blank=True, help_text="role or system part, e.g. operator, intake")
    kind = models.CharField(max_length=24, choices=EventKind.choices)
    from_status = models.CharField(max_length=24, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=24, choices=Status.choices, blank=True)
    note = models.TextField(blank=True)
    public = models.BooleanField(default=True, help_text="shown to the citizen on the follow-up page")
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["report", "at"], name="reportevent_report_at")]

    def __str__(self) -> str:
        return f"{self.report_id} {self.kind} {self.from_status}->{self.to_status}"


class MediaKind(models.TextChoices):
    PHOTO = "photo", "photo"
    VIDEO = "video", "video"


def media_path(instance: ReportMedia, filename: str) -> str:
    """reports/<year>/<month>/<name>: every photo, video and thumbnail (media.MEDIA_DIR, swept for orphans)."""
    return f"reports/{timezone.now():%Y/%m}/{filename}"


class ReportMedia(models.Model):
    """A photo or video of a report: stored through Django's storage API, or a link (social, Open311)."""

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="media")
    kind = models.CharField(max_length=8, choices=MediaKind.choices)
    file = models.FileField(upload_to=media_path, max_length=255, blank=True)
    thumbnail = models.FileField(upload_to=media_path, max_length=255, blank=True)
    url = models.URLField(max_length=1000, blank=True, help_text="remote media (not fetched): social, Open311")
    content_type = models.CharField(max_length=64, blank=True, help_text="as sniffed from the content")
    size_bytes = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    exif_location = models.PointField(srid=4326, null=True, blank=True)
    exif_taken_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "report media"

    def __str__(self) -> str:
        return f"{self.kind} of {self.report_id}"


class DuplicateLink(models.Model):
    """`report` looks like a duplicate of the earlier open `original` (same category, near, recent)."""

    class Decision(models.TextChoices):
        PENDING = "pending", "pending"
        MERGED = "merged", "merged"
        DISMISSED = "dismissed", "not a duplicate"

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="duplicate_links")
    original = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="+")
    distance_m = models.FloatField(help_text="metres, geodesic")
    decision = models.CharField(max_length=12, choices=Decision.choices, default=Decision.PENDING)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["distance_m"]
        constraints = [models.UniqueConstraint(fields=["report", "original"], name="duplicate_link_unique")]


class Open311Client(models.Model):
    """A civic-reporting app allowed to POST Open311 service requests with its api_key."""

    name = models.CharField(max_length=120)
    api_key = models.CharField(max_length=64, unique=True, default=secrets.token_urlsafe)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class SocialPost(models.Model):
    """A post delivered by a platform webhook; becomes a report, or waits in the triage queue."""

    class Platform(models.TextChoices):
        TWITTER = "twitter", "Twitter / X"
        FACEBOOK = "facebook", "Facebook"

    class State(models.TextChoices):
        REPORTED = "reported", "became a report"
        TRIAGE = "triage", "waiting for an operator"
        DISMISSED = "dismissed", "dismissed by an operator"

    platform = models.CharField(max_length=12, choices=Platform.choices)
    external_id = models.CharField(max_length=120)
    author_id = models.CharField(max_length=120, blank=True)
    author_handle = models.CharField(max_length=120, blank=True)
    author_name = models.CharField(max_length=200, blank=True)
    text = models.TextField(blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    coordinates = models.PointField(srid=4326, null=True, blank=True)
    place_name = models.CharField(max_length=255, blank=True)
    media_urls = models.JSONField(default=list, blank=True)
    payload = models.JSONField(default=dict, help_text="the delivered item as received")
    state = models.CharField(max_length=12, choices=State.choices, default=State.TRIAGE, db_index=True)
    triage_reason = models.CharField(max_length=255, blank=True)  # why it waits, as the API says it (in English)
    triage = models.JSONField(default=list, blank=True, help_text="why it waits, as data (incidents.triage)")
    suggested_category = models.ForeignKey(Category, on_delete=models.SET_NULL, null=True, blank=True)
    report = models.OneToOneField(Report, on_delete=models.SET_NULL, null=True, blank=True, related_name="social_post")
    received_at = models.DateTimeField(default=timezone.now)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["platform", "external_id"], name="socialpost_unique")]

    def __str__(self) -> str:
        return f"{self.platform}:{self.external_id} ({self.state})"

    def reasons(self) -> list[Triage]:
        """Why it waits (or waited), as `incidents.triage` reasons."""
        return [Triage.from_data(entry) for entry in self.triage]
