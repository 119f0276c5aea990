"""Social channels: platform webhook payloads -> posts -> reports, or the operators' triage queue.

A post becomes a report when its text names exactly one category (Indonesian keywords) and it can
be placed: by the post's coordinates, else by a kelurahan or kecamatan name in the text (a
gazetteer built from the current boundaries). Otherwise it waits in triage with the reason;
nothing is dropped, and a redelivered post (same platform id) is never stored twice.
Media URLs are kept as links; nothing is fetched from the platforms at intake.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from django.contrib.gis.db.models import PointField
from django.contrib.gis.geos import Point
from django.db import IntegrityError, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone
from rest_framework import status as http

from core.api import DomainError
from kecamatan_boundaries.models import Generation, Kecamatan, Kelurahan

from . import settings as app_settings
from .intake import IntakeError, ReportInput, submit_report
from .models import Category, LocationSource, SocialPost
from .routing import OutsideCity

log = logging.getLogger(__name__)


class WebhookNotConfigured(DomainError):
    status_code = http.HTTP_503_SERVICE_UNAVAILABLE


class BadSignature(DomainError):
    status_code = http.HTTP_403_FORBIDDEN


class BadPayload(DomainError):
    status_code = http.HTTP_400_BAD_REQUEST


@dataclass
class Post:
    platform: str
    external_id: str
    text: str = ""
    author_id: str = ""
    author_handle: str = ""
    author_name: str = ""
    posted_at: datetime | None = None
    coordinates: Point | None = None
    place_name: str = ""
    media_urls: list[str] = field(default_factory=list)
    payload: dict = field(default_factory=dict)


# --- signatures -----------------------------------------------------------------------------------


def twitter_crc_response(crc_token: str) -> str:
    """The answer to X/Twitter's CRC check: sha256=base64(HMAC(consumer secret, crc_token))."""
    secret = app_settings.twitter_consumer_secret()
    if not secret:
        raise WebhookNotConfigured("The Twitter/X webhook is not configured (INCIDENTS_TWITTER_CONSUMER_SECRET).")
    digest = hmac.new(secret.encode(), crc_token.encode(), hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def verify_twitter(body: bytes, header: str | None) -> None:
    secret = app_settings.twitter_consumer_secret()
    if not secret:
        raise WebhookNotConfigured("The Twitter/X webhook is not configured (INCIDENTS_TWITTER_CONSUMER_SECRET).")
    expected = "sha256=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    if not header or not hmac.compare_digest(header.strip(), expected):
        raise BadSignature("Missing or wrong x-twitter-webhooks-signature.")


def verify_facebook(body: bytes, header: str | None) -> None:
    secret = app_settings.facebook_app_secret()
    if not secret:
        raise WebhookNotConfigured("The Facebook webhook is not configured (INCIDENTS_FACEBOOK_APP_SECRET).")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not header or not hmac.compare_digest(header.strip(), expected):
        raise BadSignature("Missing or wrong X-Hub-Signature-256.")


# --- payloads ---------------------------------------------------------------------------------------


def _point(lon, lat) -> Point | None:
    try:
        lon, lat = float(lon), float(lat)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(lon) and math.isfinite(lat)) or abs(lat) > 90 or abs(lon) > 180:
        return None
    return Point(lon, lat, srid=4326)


def parse_twitter(payload: dict) -> list[Post]:
    """Account Activity API delivery: {"for_user_id": ..., "tweet_create_events": [tweet, ...]}."""
    if not isinstance(payload, dict):
        raise BadPayload("The payload must be a JSON object.")
    events = payload.get("tweet_create_events", [])
    if not isinstance(events, list):
        raise BadPayload("tweet_create_events must be a list.")
    own = str(payload.get("for_user_id", ""))
    posts = []
    for tweet in events:
        if not isinstance(tweet, dict) or not tweet.get("id_str"):
            raise BadPayload("Each tweet needs an id_str.")
        user = tweet.get("user") or {}
        if own and str(user.get("id_str", "")) == own:
            continue  # our own account's tweets and replies are not citizens' reports
        text = (tweet.get("extended_tweet") or {}).get("full_text") or tweet.get("full_text") or tweet.get("text") or ""
        posted = None
        if tweet.get("timestamp_ms"):
            posted = datetime.fromtimestamp(int(tweet["timestamp_ms"]) / 1000, tz=UTC)
        elif tweet.get("created_at"):
            try:
                posted = parsedate_to_datetime(tweet["created_at"])
            except (TypeError, ValueError):
                posted = None
        coords = None
        geo = tweet.get("coordinates")
        if isinstance(geo, dict) and geo.get("type") == "Point" and len(geo.get("coordinates") or []) >= 2:
            coords = _point(*geo["coordinates"][:2])
        place = tweet.get("place") or {}
        media = []
        entities = tweet.get("extended_entities") or (tweet.get("extended_tweet") or {}).get("extended_entities") or {}
        for m in entities.get("media", []) or (tweet.get("entities") or {}).get("media", []):
            variants = ((m.get("video_info") or {}).get("variants")) or []
            mp4 = [v for v in variants if v.get("content_type") == "video/mp4" and v.get("url")]
            url = max(mp4, key=lambda v: v.get("bitrate", 0))["url"] if mp4 else m.get("media_url_https")
            if url:
                media.append(url)
        posts.append(
            Post(
                platform=SocialPost.Platform.TWITTER,
                external_id=str(tweet["id_str"]),
                text=text,
                author_id=str(user.get("id_str", "")),
                author_handle="@" + user["screen_name"] if user.get("screen_name") else "",
                author_name=user.get("name", "") or "",
                posted_at=posted,
                coordinates=coords,
                place_name=place.get("full_name", "") or place.get("name", "") or "",
                media_urls=media,
                payload=tweet,
            )
        )
    return posts


def parse_facebook(payload: dict) -> list[Post]:
    """Graph API page webhook: {"object": "page", "entry": [{"changes": [{"field": "feed", "value": {...}}]}]}."""
    if not isinstance(payload, dict) or payload.get("object") != "page":
        raise BadPayload('The payload must be a page webhook ({"object": "page", ...}).')
    posts = []
    for entry in payload.get("entry") or []:
        for change in (entry or {}).get("changes") or []:
            value = (change or {}).get("value") or {}
            if change.get("field") != "feed" or value.get("verb") != "add":
                continue
            if value.get("item") not in ("status", "post", "photo", "video", "share"):
                continue  # comments, reactions, likes are not reports
            post_id = value.get("post_id") or value.get("id")
            if not post_id:
                raise BadPayload("A feed change needs a post_id.")
            sender = value.get("from") or {}
            if str(sender.get("id", "")) == str(entry.get("id", "")):
                continue  # the page's own posts
            created = value.get("created_time")
            posted = datetime.fromtimestamp(int(created), tz=UTC) if str(created or "").isdigit() else None
            media = [u for u in (value.get("photos") or []) if isinstance(u, str)]
            media += [value[k] for k in ("photo", "video") if isinstance(value.get(k), str)]
            if value.get("item") == "photo" and isinstance(value.get("link"), str):
                media.append(value["link"])
            place = value.get("place") or {}
            loc = place.get("location") or {}
            posts.append(
                Post(
                    platform=SocialPost.Platform.FACEBOOK,
                    external_id=str(post_id),
                    text=value.get("message", "") or "",
                    author_id=str(sender.get("id", "")),
                    author_name=sender.get("name", "") or "",
                    posted_at=posted,
                    coordinates=_point(loc.get("longitude"), loc.get("latitude")) if loc else None,
                    place_name=place.get("name", "") or "",
                    media_urls=list(dict.fromkeys(media)),
                    payload=value,
                )
            )
    return posts


# --- classification and gazetteer ----------------------------------------------------------------


def normalise(text: str) -> str:
    """Lower case, words only, single spaces, padded: so ' banjir ' matches whole words."""
    return " " + " ".join(re.findall(r"[0-9a-z]+", text.lower())) + " "


def classify(text: str) -> tuple[Category | None, str]:
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
        return None, "no category keyword in the text"
    best = max(scores.values())
    winners = [categories[pk] for pk, s in scores.items() if s == best]
    if len(winners) > 1:
        return None, "ambiguous category: " + " or ".join(sorted(c.code for c in winners))
    return winners[0], ""


CUE_WORDS = ("di", "ke", "dekat", "sekitar", "daerah", "wilayah", "kawasan", "kel", "kelurahan", "kec", "kecamatan")
# Place names that are also everyday words or the city's own name: they count only after a cue word.
NEEDS_CUE = {"tangerang", "petir", "kenanga", "gaga", "pasar baru", "tanah tinggi", "babakan", "ketapang", "benda"}


@dataclass(frozen=True)
class GazetteerEntry:
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
        key = tuple(Generation.objects.active().order_by("id").values_list("id", flat=True))
        cached = _GAZETTEER_CACHE.get("value")
        if cached and cached[0] == key:
            return cached[1]
        entries = []
        for level, model in (("kelurahan", Kelurahan), ("kecamatan", Kecamatan)):
            table = model._meta.db_table
            # the centre of the largest inscribed circle: deep inside, far from overlaps with neighbours
            centre = RawSQL(f'(ST_MaximumInscribedCircle("{table}"."geom")).center', (), output_field=PointField())
            for name, point in model.objects.current().annotate(pos=centre).values_list("name", "pos"):
                entries.append(GazetteerEntry(normalise(name).strip(), level, point))
        gazetteer = cls(entries)
        _GAZETTEER_CACHE["value"] = (key, gazetteer)
        return gazetteer

    def find(self, text: str) -> tuple[GazetteerEntry | None, str]:
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
                return None, f"ambiguous place: {entry.name} or {rivals[0].name}"
            return entry, ""
        return None, "no coordinates and no kelurahan or kecamatan name in the text"


_GAZETTEER_CACHE: dict = {}


# --- ingest -----------------------------------------------------------------------------------------------


def ingest(post: Post) -> SocialPost:
    """Store the post once; make its report when it can be classified and placed, else leave it in triage."""
    existing = SocialPost.objects.filter(platform=post.platform, external_id=post.external_id).first()
    if existing is not None:
        return existing
    category, why_category = classify(post.text)
    location, source, why_place = post.coordinates, LocationSource.SOCIAL, ""
    if location is None:
        entry, why_place = Gazetteer.current().find(f"{post.text} {post.place_name}")
        location, source = (entry.point, LocationSource.GAZETTEER) if entry else (None, "")
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
                triage_reason="; ".join(r for r in (why_category, why_place) if r),
            )
            if category is not None and location is not None:
                try:
                    with transaction.atomic():
                        report = report_from_post(row, category, location, source)
                    row.report, row.state, row.triage_reason = report, SocialPost.State.REPORTED, ""
                except OutsideCity:
                    row.triage_reason = "the post's location is outside Kota Tangerang"
                except IntakeError as exc:
                    row.triage_reason = exc.message
                row.save(update_fields=["report", "state", "triage_reason"])
    except IntegrityError:
        return SocialPost.objects.get(platform=post.platform, external_id=post.external_id)
    log.info("social %s:%s -> %s %s", row.platform, row.external_id, row.state, row.triage_reason)
    return row


def report_from_post(row: SocialPost, category: Category, location: Point, source: str, *, actor=None):
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


def resolve_triage(row: SocialPost, category: Category, location: Point | None, *, actor) -> SocialPost:
    """An operator classifies/places a post from the queue; it becomes a report."""
    if row.state != SocialPost.State.TRIAGE:
        raise BadPayload(f"This post is already {row.state}.")
    source = LocationSource.OPERATOR
    if location is None:
        location, source = row.coordinates, LocationSource.SOCIAL
    if location is None:
        raise BadPayload("Give the location (lat/lon or a GeoJSON Point): the post has none.")
    with transaction.atomic():
        report = report_from_post(row, category, location, source, actor=actor)
        row.report, row.state = report, SocialPost.State.REPORTED
        row.handled_by, row.handled_at = actor, timezone.now()
        row.save(update_fields=["report", "state", "handled_by", "handled_at"])
    return row


def dismiss_triage(row: SocialPost, *, actor, reason: str = "") -> SocialPost:
    """Not a report (chatter, ads): kept, marked dismissed, with who and why."""
    if row.state != SocialPost.State.TRIAGE:
        raise BadPayload(f"This post is already {row.state}.")
    row.state = SocialPost.State.DISMISSED
    row.handled_by, row.handled_at = actor, timezone.now()
    if reason:
        row.triage_reason = f"{row.triage_reason}; dismissed: {reason}".strip("; ")
    row.save(update_fields=["state", "handled_by", "handled_at", "triage_reason"])
    return row
