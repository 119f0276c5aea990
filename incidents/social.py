"""Social posts -> reports, or the operators' triage queue.

A post becomes a report when its text names exactly one category (Indonesian keywords) and it can
be placed: by the post's coordinates, else by a kelurahan or kecamatan name in the text (a
gazetteer built from the current boundaries). Otherwise it waits in triage with its reasons
(`incidents.triage`); nothing is dropped, and a redelivered post (same platform id) is never
stored twice. Media URLs are kept as links; nothing is fetched from the platforms at intake.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.gis.geos import Point
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.api import DomainError
from kecamatan_boundaries.models import Generation, Kecamatan, Kelurahan

from . import settings as app_settings
from .intake import IntakeError, ReportInput, submit_report
from .models import Category, LocationSource, Report, SocialPost
from .platforms import Post
from .routing import OutsideCity
from .triage import Triage, TriageReason, api_text

log = logging.getLogger(__name__)


class TriageError(DomainError):
    """An operator's triage action that does not fit the post (400): already handled, or not placeable."""


# --- classification and gazetteer ----------------------------------------------------------------


def normalise(text: str) -> str:
    """Lower case, words only, single spaces, padded: so ' banjir ' matches whole words."""
    return " " + " ".join(re.findall(r"[0-9a-z]+", text.lower())) + " "


def classify(text: str) -> tuple[Category | None, Triage | None]:
    """The category whose keywords best match the text (longer phrases weigh more), or None and why."""
    words = normalise(text)
    scores: dict[int, int] = {}
    categories = {}
    for category in Category.objects.filter(active=True).select_related("opd"):
        categories[category.pk] = category
        for keyword in category.keywords:
            kw = normalise(keyword)
            if kw.strip() and kw in words:
                scores[category.pk] = scores.get(category.pk, 0) + len(kw.split())
    if not scores:
        return None, Triage(TriageReason.NO_CATEGORY_KEYWORD)
    best = max(scores.values())
    winners = [categories[pk] for pk, s in scores.items() if s == best]
    if len(winners) > 1:
        return None, Triage(TriageReason.AMBIGUOUS_CATEGORY, choices=tuple(sorted(c.code for c in winners)))
    return winners[0], None


CUE_WORDS = ("di", "ke", "dekat", "sekitar", "daerah", "wilayah", "kawasan", "kel", "kelurahan", "kec", "kecamatan")
# Place names that are also everyday words or the city's own name: they count only after a cue word.
NEEDS_CUE = {"tangerang", "petir", "kenanga", "gaga", "pasar baru", "tanah tinggi", "babakan", "ketapang", "benda"}


@dataclass(frozen=True)
class GazetteerEntry:
    """A place name (normalised), its level and a point deep inside its area."""

    name: str
    level: str
    point: Point


class Gazetteer:
    """Kelurahan and kecamatan names of the current boundaries, each with a point inside its area."""

    def __init__(self, entries: list[GazetteerEntry]):
        # kelurahan before kecamatan, longer names before shorter ones
        self.entries = sorted(entries, key=lambda e: (e.level != "kelurahan", -len(e.name)))

    @classmethod
    def current(cls) -> Gazetteer:
        """The gazetteer of the active generations, rebuilt when one of them changes."""
        key = tuple(Generation.objects.active().order_by("id").values_list("id", flat=True))
        cached = _GAZETTEER_CACHE.get("value")
        if cached and cached[0] == key:
            return cached[1]
        entries = []
        for level, model in (("kelurahan", Kelurahan), ("kecamatan", Kecamatan)):
            for name, point in model.objects.current().with_point_inside().values_list("name", "point_inside"):
                entries.append(GazetteerEntry(normalise(name).strip(), level, point))
        gazetteer = cls(entries)
        _GAZETTEER_CACHE["value"] = (key, gazetteer)
        return gazetteer

    def find(self, text: str) -> tuple[GazetteerEntry | None, Triage | None]:
        """The one place the text names, or None and why (none named, or two of the same rank)."""
        words = normalise(text)
        for entry in self.entries:
            name = f" {entry.name} "
            if name not in words:
                continue
            if entry.name in NEEDS_CUE and not any(f" {cue}{name}" in words for cue in CUE_WORDS):
                continue
            same = [e for e in self.entries if e.level == entry.level and len(e.name) == len(entry.name)]
            rivals = [e for e in same if e is not entry and f" {e.name} " in words]
            if rivals:
                return None, Triage(TriageReason.AMBIGUOUS_PLACE, choices=(entry.name, rivals[0].name))
            return entry, None
        return None, Triage(TriageReason.NO_PLACE)


_GAZETTEER_CACHE: dict = {}


# --- ingest -----------------------------------------------------------------------------------------------


def ingest(post: Post) -> SocialPost:
    """Store the post once; make its report when it can be classified and placed, else leave it in triage."""
    existing = SocialPost.objects.filter(platform=post.platform, external_id=post.external_id).first()
    if existing is not None:
        return existing
    category, why_category = classify(post.text)
    location, source, why_place = post.coordinates, LocationSource.SOCIAL, None
    if location is None:
        entry, why_place = Gazetteer.current().find(f"{post.text} {post.place_name}")
        location, source = (entry.point, LocationSource.GAZETTEER) if entry else (None, "")
    waiting = [r for r in (why_category, why_place) if r]
    try:
        with transaction.atomic():
            row = SocialPost.objects.create(
                platform=post.platform,
                external_id=post.external_id,
                author_id=post.author_id,
                author_handle=post.author_handle,
                author_name=post.author_name,
                text=post.text,
                posted_at=post.posted_at,
                coordinates=post.coordinates,
                place_name=post.place_name,
                media_urls=post.media_urls,
                payload=post.payload,
                suggested_category=category,
                triage=[r.as_data() for r in waiting],
                triage_reason=api_text(waiting),
            )
            if category is not None and location is not None:
                try:
                    with transaction.atomic():
                        report = report_from_post(row, category, location, source)
                    row.report, row.state = report, SocialPost.State.REPORTED
                    _wait(row, [])
                except OutsideCity:
                    _wait(row, [Triage(TriageReason.OUTSIDE_CITY)])
                except IntakeError as exc:
                    _wait(row, [Triage(TriageReason.NOT_ACCEPTED, message=exc.message)])
                row.save(update_fields=["report", "state", "triage_reason", "triage"])
    except IntegrityError:
        return SocialPost.objects.get(platform=post.platform, external_id=post.external_id)
    log.info("social %s:%s -> %s %s", row.platform, row.external_id, row.state, row.triage_reason)
    return row


def _wait(row: SocialPost, reasons: list[Triage]) -> None:
    """Set why the post waits (not saved): as data, and as the API's text."""
    row.triage = [r.as_data() for r in reasons]
    row.triage_reason = api_text(reasons)


def report_from_post(
    row: SocialPost, category: Category, location: Point, source: str, *, actor: AbstractBaseUser | None = None
) -> Report:
    """The report for a post (automatic, or by an operator from the triage queue)."""
    limit = app_settings.description_max_chars()
    result = submit_report(
        ReportInput(
            category=category,
            description=row.text[:limit],
            location=location,
            location_source=source,
            channel=row.platform,
            reporter_name=row.author_name,
            reporter_handle=row.author_handle or row.author_id,
            client_ref=row.platform,
            external_id=row.external_id,
            occurred_at=row.posted_at,
            media_urls=[u for u in row.media_urls if isinstance(u, str) and u.startswith(("http://", "https://"))],
            actor=actor,
            actor_label=f"operator (triage {row.platform})" if actor else row.platform,
        )
    )
    return result.report


def resolve_triage(
    row: SocialPost, category: Category, location: Point | None, *, actor: AbstractBaseUser
) -> SocialPost:
    """An operator classifies/places a post from the queue; it becomes a report."""
    if row.state != SocialPost.State.TRIAGE:
        raise TriageError(f"This post is already {row.state}.")
    source = LocationSource.OPERATOR
    if location is None:
        location, source = row.coordinates, LocationSource.SOCIAL
    if location is None:
        raise TriageError("Give the location (lat/lon or a GeoJSON Point): the post has none.")
    with transaction.atomic():
        report = report_from_post(row, category, location, source, actor=actor)
        row.report, row.state = report, SocialPost.State.REPORTED
        row.handled_by, row.handled_at = actor, timezone.now()
        row.save(update_fields=["report", "state", "handled_by", "handled_at"])
    return row


def dismiss_triage(row: SocialPost, *, actor: AbstractBaseUser, reason: str = "") -> SocialPost:
    """Not a report (chatter, ads): kept, marked dismissed, with who and why."""
    if row.state != SocialPost.State.TRIAGE:
        raise TriageError(f"This post is already {row.state}.")
    row.state = SocialPost.State.DISMISSED
    row.handled_by, row.handled_at = actor, timezone.now()
    if reason:
        dismissed = Triage(TriageReason.DISMISSED, note=reason)
        row.triage = [*row.triage, dismissed.as_data()]
        row.triage_reason = f"{row.triage_reason}; {api_text([dismissed])}".strip("; ")
    row.save(update_fields=["state", "handled_by", "handled_at", "triage_reason", "triage"])
    return row
