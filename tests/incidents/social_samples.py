"""Literal webhook payloads as X/Twitter and Facebook deliver them, and their signed deliveries."""

import base64
import hashlib
import hmac
import json

TW_SECRET = "tw-consumer-secret"
FB_SECRET = "fb-app-secret"
VERIFY_TOKEN = "laksa-verify"


def tweet(id_str, text, coordinates=None, place=None, media=None):
    t = {
        "created_at": "Sat Nov 28 01:15:00 +0000 2026",
        "id": int(id_str),
        "id_str": id_str,
        "text": text,
        "truncated": False,
        "user": {"id": 9911, "id_str": "9911", "name": "Warga Tangerang", "screen_name": "warga_tng"},
        "coordinates": coordinates,
        "place": place,
        "entities": {"hashtags": [], "user_mentions": [{"screen_name": "LAKSA_TNG"}]},
        "timestamp_ms": "1795828500000",
    }
    if media:
        t["extended_entities"] = {"media": media}
    return {"for_user_id": "4444", "tweet_create_events": [t]}


def send_twitter(client, payload):
    body = json.dumps(payload).encode()
    sig = "sha256=" + base64.b64encode(hmac.new(TW_SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return client.post(
        "/api/social/twitter/", body, content_type="application/json", headers={"X-Twitter-Webhooks-Signature": sig}
    )


def fb_post(post_id, message, place=None, photos=None):
    value = {
        "from": {"id": "1020", "name": "Ibu Rina"},
        "item": "status" if not photos else "photo",
        "post_id": post_id,
        "verb": "add",
        "published": 1,
        "created_time": 1795828500,
        "message": message,
    }
    if place:
        value["place"] = place
    if photos:
        value["photos"] = photos
    return {
        "object": "page",
        "entry": [{"id": "777", "time": 1795828501, "changes": [{"field": "feed", "value": value}]}],
    }


def send_facebook(client, payload):
    body = json.dumps(payload).encode()
    sig = "sha256=" + hmac.new(FB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return client.post(
        "/api/social/facebook/", body, content_type="application/json", headers={"X-Hub-Signature-256": sig}
    )
