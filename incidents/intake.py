"""Report intake: the one path by which the API, Open311, social webhooks and operators make reports.

Order matters: everything that can refuse a report (category, text, files, location) is checked
before anything is written; then one transaction creates the report, its media, its timeline
(received -> routed) and its likely-duplicate links. Retries with the same idempotency key (per
client) or the same channel post id return the report already made, never a second one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.gis.geos import Point
from django.core.files.base import File
from django.db import IntegrityError, transaction
from rest_framework import status as http

from core.api import DomainError

from . import lifecycle, routing
from . import settings as app_settings
from .media import InspectedMedia, inspect_uploads, store_media
from .models import (
    Category,
    Channel,
    DuplicateLink,
    EventKind,
    LocationSource,
    Report,
    ReportEvent,
    Status,
)

log = logging.getLogger(__name__)
MAX_DUPLICATE_LINKS = 5  # likely duplicates linked per report, nearest first


class IntakeError(DomainError):
    """A report that cannot be accepted as sent (400)."""


class UnknownCategory(IntakeError):
    """No active category has this code (or none was given)."""

    def __init__(self, value: object):
        hint = "a category code from GET /api/categories/"
        msg = f"Unknown category {value!r}; use {hint}." if value else f"A category is required: {hint}."
        super().__init__(msg, field="category")


class MissingLocation(IntakeError):
    """Nothing places the report: no location sent, and no photo with GPS in its EXIF."""

    def __init__(self) -> None:
        super().__init__(
            "A location is required: send `location` (GeoJSON Point) or `lat` and `lon`, or a photo with GPS in EXIF.",
            field="location",
        )


class IdempotencyConflict(DomainError):
    """A retry key already used for a different report (422): the client mixed up its keys."""

    status_code = http.HTTP_422_UNPROCESSABLE_ENTITY

    def __init__(self, key: str):
        super().__init__(
            f"Idempotency key {key!r} was already used for a different report; use a new key for a new report.",
            field="idempotency_key",
        )


@dataclass
class ReportInput:
    """What any channel hands to intake; `category` may be a Category or its code."""

    category: Category | str | None
    description: str = ""
    location: Point | None = None
    location_source: str = LocationSource.DEVICE
    address: str = ""
    channel: str = Channel.APP
    priority: int | None = None
    attributes: dict = field(default_factory=dict)
    reporter_name: str = ""
    reporter_phone: str = ""
    reporter_email: str = ""
    reporter_handle: str = ""
    reporter_user: AbstractBaseUser | AnonymousUser | None = None  # kept only when signed in
    client_ref: str = "anon"
    idempotency_key: str = ""
    external_id: str = ""
    occurred_at: datetime | None = None
    files: list[File] = field(default_factory=list)
    media_urls: list[str] = field(default_factory=list)
    actor: AbstractBaseUser | AnonymousUser | None = None
    actor_label: str = ""


@dataclass
class IntakeResult:
    """The report, whether this call made it (False: a retry got the one made before), its likely duplicates."""

    report: Report
    created: bool
    duplicates: list[DuplicateLink] = field(default_factory=list)


def resolve_category(value: Category | str | None) -> Category:
    """The active category `value` names (a Category passes through); UnknownCategory otherwise."""
    if isinstance(value, Category):
        return value
    if not value:
        raise UnknownCategory(value)
    category = Category.objects.select_related("opd").filter(code=str(value).strip(), active=True).first()
    if category is None:
        raise UnknownCategory(value)
    return category


def check_description(text: str) -> str:
    """The description, refused when longer than INCIDENTS_DESCRIPTION_MAX_CHARS."""
    limit = app_settings.description_max_chars()
    if len(text) > limit:
        raise IntakeError(
            f"The description has {len(text)} characters; at most {limit} are allowed.", field="description"
        )
    return text


def fingerprint(data: ReportInput, category: Category, media: list[InspectedMedia]) -> str:
    """What makes two submissions 'the same report' for an idempotent retry."""
    loc = data.location
    body = {
        "category": category.code,
        "description": data.description,
        "location": [round(loc.x, 6), round(loc.y, 6)] if loc else None,
        "media": sorted(m.sha256 for m in media),
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def _existing(data: ReportInput) -> Report | None:
    if data.idempotency_key:
        found = Report.objects.filter(client_ref=data.client_ref, idempotency_key=data.idempotency_key).first()
        if found:
            return found
    if data.external_id:
        return Report.objects.filter(channel=data.channel, external_id=data.external_id).first()
    return None


def _replay(existing: Report, data: ReportInput, fp: str) -> IntakeResult:
    if data.idempotency_key and existing.request_fingerprint and existing.request_fingerprint != fp:
        raise IdempotencyConflict(data.idempotency_key)
    return IntakeResult(existing, created=False, duplicates=list(existing.duplicate_links.all()))


def find_duplicates(report: Report) -> list[DuplicateLink]:
    """Link open reports of the same category within the radius and window (metres on geography)."""
    since = report.created_at - timedelta(hours=app_settings.duplicate_window_h())
    candidates = (
        Report.objects.likely_duplicates_of(report.category, report.location, since)
        .exclude(pk=report.pk)
        .filter(created_at__lte=report.created_at)[:MAX_DUPLICATE_LINKS]
    )
    return [
        DuplicateLink.objects.create(report=report, original=other, distance_m=round(other.distance_m, 1))
        for other in candidates
    ]


def submit_report(data: ReportInput) -> IntakeResult:
    """Validate, locate, route and store one report (or return the one a retry already made)."""
    category = resolve_category(data.category)
    data.description = check_description(data.description or "")
    media = inspect_uploads(list(data.files))
    if data.location is None:
        exif = next((m for m in media if m.exif_location is not None), None)
        if exif is not None:
            data.location = exif.exif_location
            data.location_source = LocationSource.EXIF
            data.occurred_at = data.occurred_at or exif.exif_taken_at
    if data.occurred_at is None:
        data.occurred_at = next((m.exif_taken_at for m in media if m.exif_taken_at), None)
    fp = fingerprint(data, category, media)
    existing = _existing(data)
    if existing is not None:
        return _replay(existing, data, fp)
    if data.location is None:
        raise MissingLocation()
    place = routing.locate(data.location)
    opd = routing.opd_for(category)

    try:
        with transaction.atomic():
            report = Report.objects.create(
                category=category,
                description=data.description,
                location=data.location,
                location_source=data.location_source,
                address=data.address[:255],
                kecamatan=place.kecamatan,
                kelurahan=place.kelurahan,
                opd=opd,
                status=Status.RECEIVED,
                priority=data.priority or category.default_priority,
                channel=data.channel,
                attributes=data.attributes or {},
                reporter_name=data.reporter_name[:120],
                reporter_phone=data.reporter_phone[:40],
                reporter_email=data.reporter_email[:254],
                reporter_handle=data.reporter_handle[:120],
                reporter_user=data.reporter_user
                if data.reporter_user is not None and getattr(data.reporter_user, "is_authenticated", False)
                else None,
                client_ref=data.client_ref[:80],
                idempotency_key=data.idempotency_key[:120],
                request_fingerprint=fp,
                external_id=data.external_id[:120],
                occurred_at=data.occurred_at,
            )
            created_event = ReportEvent.objects.create(
                report=report,
                at=report.created_at,
                kind=EventKind.CREATED,
                actor=data.actor if getattr(data.actor, "is_authenticated", False) else None,
                actor_label=data.actor_label or f"{data.channel}",
                to_status=Status.RECEIVED,
                data={"channel": data.channel, "kecamatan": place.kecamatan.code},
            )
            lifecycle.announce(report, created_event, created=True)
            store_media(report, media, data.media_urls)
            if media or data.media_urls:
                ReportEvent.objects.create(
                    report=report,
                    kind=EventKind.MEDIA,
                    actor_label=data.actor_label or data.channel,
                    data={"count": len(media) + len(data.media_urls)},
                )
            report = lifecycle.change_status(
                report,
                Status.ROUTED,
                actor_label="routing",
                note=f"diteruskan ke {opd.name}",
                data={"opd": opd.code, "category": category.code},
            )
            duplicates = find_duplicates(report)
            if duplicates:
                ReportEvent.objects.create(
                    report=report,
                    kind=EventKind.LIKELY_DUPLICATE,
                    actor_label="intake",
                    public=False,
                    data={"originals": [d.original.public_id for d in duplicates]},
                )
    except IntegrityError:
        # A concurrent retry with the same key (or post id) won the race: answer with its report.
        existing = _existing(data)
        if existing is None:
            raise
        return _replay(existing, data, fp)
    log.info("report %s %s in %s -> %s", report.public_id, category.code, place.kecamatan.name, opd.code)
    return IntakeResult(report, created=True, duplicates=duplicates)
