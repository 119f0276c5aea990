"""The platforms' side of the social webhooks: signatures, verification, payload shapes, and
what a platform delivers that is not a citizen's post."""

import base64
import hashlib
import hmac
import json

import pytest
from rest_framework.test import APIClient

from incidents.models import SocialPost

from .social_samples import FB_SECRET, TW_SECRET, VERIFY_TOKEN, fb_post, send_facebook, send_twitter, tweet

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def secrets(settings):
    settings.INCIDENTS_TWITTER_CONSUMER_SECRET = TW_SECRET
    settings.INCIDENTS_FACEBOOK_APP_SECRET = FB_SECRET
    settings.INCIDENTS_FACEBOOK_VERIFY_TOKEN = VERIFY_TOKEN


@pytest.fixture
def client(refdata):
    return APIClient()


def test_own_account_tweets_are_not_reports(client):
    payload = tweet("1860000000000000007", "Terima kasih, laporan banjir sudah diteruskan")
    payload["tweet_create_events"][0]["user"]["id_str"] = "4444"
    assert send_twitter(client, payload).json()["received"] == 0


def test_facebook_comments_and_edits_are_not_reports(client):
    payload = fb_post("777_2001", "banjir di Sukasari")
    payload["entry"][0]["changes"][0]["value"]["verb"] = "edited"
    assert send_facebook(client, payload).json()["received"] == 0
    payload = fb_post("777_2002", "banjir di Sukasari")
    payload["entry"][0]["changes"][0]["value"]["item"] = "comment"
    assert send_facebook(client, payload).json()["received"] == 0


def test_signatures_and_verification(client, settings):
    body = json.dumps(tweet("1", "banjir")).encode()
    r = client.post(
        "/api/social/twitter/",
        body,
        content_type="application/json",
        headers={"X-Twitter-Webhooks-Signature": "sha256=forged"},
    )
    assert r.status_code == 403
    r = client.post("/api/social/facebook/", b"{}", content_type="application/json")
    assert r.status_code == 403
    assert SocialPost.objects.count() == 0
    crc = client.get("/api/social/twitter/?crc_token=abc").json()["response_token"]
    expect = base64.b64encode(hmac.new(TW_SECRET.encode(), b"abc", hashlib.sha256).digest()).decode()
    assert crc == "sha256=" + expect
    ok = client.get(
        "/api/social/facebook/",
        {"hub.mode": "subscribe", "hub.verify_token": "laksa-verify", "hub.challenge": "1158201444"},
    )
    assert ok.status_code == 200 and ok.content == b"1158201444"
    bad = client.get("/api/social/facebook/", {"hub.mode": "subscribe", "hub.verify_token": "x", "hub.challenge": "1"})
    assert bad.status_code == 403
    settings.INCIDENTS_TWITTER_CONSUMER_SECRET = ""
    assert client.post("/api/social/twitter/", body, content_type="application/json").status_code == 503


def test_bad_payloads_are_400(client):
    assert send_twitter(client, {"tweet_create_events": [{"text": "no id"}]}).status_code == 400
    assert send_facebook(client, {"object": "instagram", "entry": []}).status_code == 400
    body = b"{not json"
    sig = "sha256=" + hmac.new(FB_SECRET.encode(), body, hashlib.sha256).hexdigest()
    r = client.post(
        "/api/social/facebook/", body, content_type="application/json", headers={"X-Hub-Signature-256": sig}
    )
    assert r.status_code == 400
    assert SocialPost.objects.count() == 0
