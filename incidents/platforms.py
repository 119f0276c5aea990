"""What the social platforms deliver: signatures checked, payloads parsed into posts.

X/Twitter (Account Activity API) and Facebook (Graph API page webhooks) sign each delivery with
the app's secret (INCIDENTS_TWITTER_CONSUMER_SECRET, INCIDENTS_FACEBOOK_APP_SECRET; empty = that
webhook is off). Parsing keeps what a report needs and the item as delivered; the platform's own
account's posts, comments, reactions and edits are not reports and are left out. What becomes of
a post is `social.ingest`'s business.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from django.contrib.gis.geos import Point
from rest_framework import status as http

from core.api import DomainError

from . import settings as app_settings
from .models import SocialPost


class WebhookNotConfigured(DomainError):
    """The platform's secret is not set: the webhook is off (503)."""

    status_code = http.HTTP_503_SERVICE_UNAVAILABLE


class BadSignature(DomainError):
    """The delivery is not signed with our secret (403): not from the platform."""

    status_code = http.HTTP_403_FORBIDDEN


class BadPayload(DomainError):
    """A signed delivery in a shape we cannot read (400)."""

    status_code = http.HTTP_400_BAD_REQUEST


@dataclass
class Post:
    """One post as a platform delivered it, in the fields a report needs (`payload`: the item as received)."""

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
    """Refuse a delivery unless its x-twitter-webhooks-signature is sha256=base64(HMAC(secret, body))."""
    secret = app_settings.twitter_consumer_secret()
    if not secret:
        raise WebhookNotConfigured("The Twitter/X webhook is not configured (INCIDENTS_TWITTER_CONSUMER_SECRET).")
    expected = "sha256=" + base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    if not header or not hmac.compare_digest(header.strip(), expected):
        raise BadSignature("Missing or wrong x-twitter-webhooks-signature.")


def verify_facebook(body: bytes, header: str | None) -> None:
    """Refuse a delivery unless its X-Hub-Signature-256 is sha256=hex(HMAC(app secret, body))."""
    secret = app_settings.facebook_app_secret()
    if not secret:
        raise WebhookNotConfigured("The Facebook webhook is not configured (INCIDENTS_FACEBOOK_APP_SECRET).")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not header or not hmac.compare_digest(header.strip(), expected):
        raise BadSignature("Missing or wrong X-Hub-Signature-256.")


# --- payloads ---------------------------------------------------------------------------------------


def _point(lon: object, lat: object) -> Point | None:
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
