"""The incidents app's settings (INCIDENTS_ prefixed Django settings), each with its default and unit.

The webhook secrets come from the environment, which only `geoapp/settings.py` reads; here they
default to "" (the webhook is off).
"""

from core.appsettings import AppSettings

_incidents = AppSettings("INCIDENTS")


# --- Reports and their media ------------------------------------------------------------------
def description_max_chars() -> int:
    return _incidents.get("INCIDENTS_DESCRIPTION_MAX_CHARS", 2000)  # characters in a report's description


def media_max_files() -> int:
    return _incidents.get("INCIDENTS_MEDIA_MAX_FILES", 6)  # photos + videos per report


def media_max_photo_bytes() -> int:
    return _incidents.get("INCIDENTS_MEDIA_MAX_PHOTO_BYTES", 15 * 1024 * 1024)  # bytes per photo


def media_max_video_bytes() -> int:
    return _incidents.get("INCIDENTS_MEDIA_MAX_VIDEO_BYTES", 100 * 1024 * 1024)  # bytes per video


def thumbnail_px() -> int:
    return _incidents.get("INCIDENTS_THUMBNAIL_PX", 320)  # pixels, longest side of a photo thumbnail


def duplicate_radius_m() -> float:
    return _incidents.get("INCIDENTS_DUPLICATE_RADIUS_M", 250)  # metres: open reports of the same category this close


def duplicate_window_h() -> float:
    return _incidents.get("INCIDENTS_DUPLICATE_WINDOW_H", 24)  # hours: ... and this recent are likely duplicates


def public_id_length() -> int:
    return _incidents.get("INCIDENTS_PUBLIC_ID_LENGTH", 10)  # characters of the public id (base32, ~50 bits)


# --- The API ----------------------------------------------------------------------------------
def anon_rate() -> str:
    return _incidents.get("INCIDENTS_ANON_RATE", "20/hour")  # anonymous report submissions per client (DRF syntax)


def api_page_size() -> int:
    return _incidents.get("INCIDENTS_API_PAGE_SIZE", 100)  # features per page of GET /api/reports/


def api_max_page_size() -> int:
    return _incidents.get("INCIDENTS_API_MAX_PAGE_SIZE", 1000)  # features per page at most (?page_size=)


# --- Open311 ----------------------------------------------------------------------------------
def open311_default_days() -> int:
    return _incidents.get("INCIDENTS_OPEN311_DEFAULT_DAYS", 90)  # days: GET requests without dates cover this ...


def open311_max_requests() -> int:
    return _incidents.get("INCIDENTS_OPEN311_MAX_REQUESTS", 1000)  # ... and return at most this many requests


def open311_contact() -> str:
    return _incidents.get("INCIDENTS_OPEN311_CONTACT", "Diskominfo Kota Tangerang, LIVE Room")  # discovery's contact


def open311_key_service() -> str:
    # discovery's key_service: where an integrator asks for an api_key
    return _incidents.get("INCIDENTS_OPEN311_KEY_SERVICE", "Ask Diskominfo Kota Tangerang for an api_key")


# --- Social webhooks --------------------------------------------------------------------------
def twitter_consumer_secret() -> str:
    return _incidents.get("INCIDENTS_TWITTER_CONSUMER_SECRET", "")  # signs X/Twitter deliveries; "" = webhook off


def facebook_app_secret() -> str:
    return _incidents.get("INCIDENTS_FACEBOOK_APP_SECRET", "")  # signs Facebook deliveries; "" = webhook off


def facebook_verify_token() -> str:
    return _incidents.get("INCIDENTS_FACEBOOK_VERIFY_TOKEN", "")  # hub.verify_token of the Facebook subscription
