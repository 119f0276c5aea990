"""Settings of the incidents app: `INCIDENTS_<NAME>` in Django settings, else these defaults.

Read at access time (not import time) so `override_settings` and per-environment values apply.
"""

import os
from typing import Any

from django.conf import settings as django_settings

DEFAULTS: dict[str, Any] = {
    "DESCRIPTION_MAX_CHARS": 2000,  # characters in a report's description
    "MEDIA_MAX_FILES": 6,  # photos + videos per report
    "MEDIA_MAX_PHOTO_BYTES": 15 * 1024 * 1024,  # bytes per photo
    "MEDIA_MAX_VIDEO_BYTES": 100 * 1024 * 1024,  # bytes per video
    "THUMBNAIL_PX": 320,  # pixels, longest side of a photo thumbnail
    "DUPLICATE_RADIUS_M": 250,  # metres: open reports of the same category this close ...
    "DUPLICATE_WINDOW_H": 24,  # hours: ... and this recent are linked as likely duplicates
    "ANON_RATE": "20/hour",  # anonymous report submissions per client (DRF rate syntax)
    "PUBLIC_ID_LENGTH": 10,  # characters of the public id (base32, ~50 bits)
    "API_PAGE_SIZE": 100,  # features per page of GET /api/reports/
    "API_MAX_PAGE_SIZE": 1000,  # features per page at most (?page_size=)
    "OPEN311_DEFAULT_DAYS": 90,  # days: GET requests without dates covers this window ...
    "OPEN311_MAX_REQUESTS": 1000,  # ... and returns at most this many
    "OPEN311_CONTACT": "Diskominfo Kota Tangerang, LIVE Room",
    "OPEN311_KEY_SERVICE": "Ask Diskominfo Kota Tangerang for an api_key",
    "TWITTER_CONSUMER_SECRET": os.environ.get(
        "INCIDENTS_TWITTER_CONSUMER_SECRET", ""
    ),  # signs X/Twitter webhook deliveries; empty = webhook off
    "FACEBOOK_APP_SECRET": os.environ.get(
        "INCIDENTS_FACEBOOK_APP_SECRET", ""
    ),  # signs Facebook webhook deliveries; empty = webhook off
    "FACEBOOK_VERIFY_TOKEN": os.environ.get(
        "INCIDENTS_FACEBOOK_VERIFY_TOKEN", ""
    ),  # hub.verify_token of the Facebook subscription
}


class _IncidentSettings:
    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(name)
        return getattr(django_settings, f"INCIDENTS_{name}", DEFAULTS[name])


app_settings = _IncidentSettings()
