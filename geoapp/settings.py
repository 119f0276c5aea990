"""geoapp settings: everything comes from the environment, with defaults that need no set-up.

DATABASE_URL   any PostGIS 3 server; unset -> the project-local cluster in var/ (socket var/run)
SECRET_KEY     unset -> a development key (refused when DEBUG is off)
DEBUG          "1"/"0"; default on for `make run`
ALLOWED_HOSTS  comma-separated; default localhost names
REDIS_URL      when set, the Channels layer uses Redis; otherwise in-memory (CHANNEL_CAPACITY: 1000)
DB_POOL_MAX    database connections per process (a pool; default 12; 0 = one persistent
               connection per thread, no pool); DB_POOL_TIMEOUT_S how long a request waits (10)
DB_PREPARE     "0" behind a transaction-mode pooler (PgBouncer): no server-side prepared statements
GEOAPP_RELAY   "worker" (default with REDIS_URL): the other apps' receivers of a committed change
               (dispatch, the console's live push) run in the worker; "inline" (default without
               REDIS_URL): in the request, after commit. See core/relay.py.
MEDIA_ROOT     uploaded photos and videos; default var/media
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [v.strip() for v in os.environ.get(name, default).split(",") if v.strip()]


DEBUG = env_bool("DEBUG", True)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-insecure-geoapp-key-only-for-make-run-and-tests"

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")  # e.g. https://live.example behind a proxy
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.gis",
    "rest_framework",
    "rest_framework_gis",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "core",
    "geoapp",
    "kecamatan_boundaries",
    "incidents",
    "tracking",
    "dispatch",
    "planning",
    "console",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.DatabaseUnavailableMiddleware",
]

ROOT_URLCONF = "geoapp.urls"
WSGI_APPLICATION = "geoapp.wsgi.application"
ASGI_APPLICATION = "geoapp.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "geoapp" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
    DATABASES["default"]["ENGINE"] = "core.db"  # Django's PostGIS backend, fork-safe (core/db/base.py)
else:
    DATABASES = {
        "default": {
            "ENGINE": "core.db",  # Django's PostGIS backend, fork-safe (core/db/base.py)
            "NAME": "geoapp",
            "USER": "geoapp",
            "HOST": str(BASE_DIR / "var" / "run"),
            "CONN_MAX_AGE": 60,
        }
    }
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # reconnect cleanly after a database restart
# Django turns psycopg's prepared statements off (prepare_threshold None, for poolers such as
# PgBouncer), and with them `prepare=True`: core/prepared.py's cursor would parse and plan its
# statements on every run. A threshold no statement reaches keeps automatic preparing off (Django's
# own cursors bind on the client and never prepare) and lets prepared.py prepare what it asks for.
# Behind a transaction-mode pooler, set DB_PREPARE=0.
# Those statements then run on a generic plan, planned once per connection: left to choose,
# PostgreSQL plans each anew for at least five runs, and under bench/bench_tracking.py kept
# planning the latest position's UPDATE at every upload (bind 0.21 ms against 0.04 ms, in its
# statement log). Only prepared statements follow plan_cache_mode; only prepared.py prepares.
if env_bool("DB_PREPARE", True):
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["prepare_threshold"] = 2**31 - 1
    _options["options"] = f"{_options.get('options', '')} -c plan_cache_mode=force_generic_plan".strip()
# A connection pool per process. Under ASGI (Daphne, and `make run`'s runserver) each request's
# sync code runs on a thread of its own, so persistent per-thread connections piled up until
# PostgreSQL refused more ("too many clients", seen in the load test). The pool caps them; a
# request that waits DB_POOL_TIMEOUT_S for a connection is answered 503 with Retry-After.
DB_POOL_MAX = int(os.environ.get("DB_POOL_MAX", "12"))
if DB_POOL_MAX > 0:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DB_POOL_MAX,
        "timeout": float(os.environ.get("DB_POOL_TIMEOUT_S", "10")),
    }
# Parallel test runs (helpers, CI shards) can each name their own test database.
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("GEOAPP_TEST_DB", "test_geoapp")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Spatial -----------------------------------------------------------------------------
STORAGE_SRID = 4326  # every geometry is stored in WGS 84
METRIC_SRID = 32748  # WGS 84 / UTM 48S: metres for Kota Tangerang

# --- Time and language ------------------------------------------------------------------
USE_TZ = True
TIME_ZONE = "Asia/Jakarta"  # shown in WIB; stored in UTC (USE_TZ)
LANGUAGE_CODE = "id"
LANGUAGES = [("id", "Bahasa Indonesia"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True

# --- Static and media -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "geoapp" / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "var" / "media"))
WHITENOISE_USE_FINDERS = True  # serve static files straight from the apps in development
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024  # bytes; larger uploads spool to disk
DATA_UPLOAD_MAX_MEMORY_SIZE = 20 * 1024 * 1024  # bytes of non-file request body
if "CONSOLE_TILE_URL" in os.environ:  # the maps' base tiles ({z}/{x}/{y}); empty = none; unset: console/settings.py
    CONSOLE_TILE_URL = os.environ["CONSOLE_TILE_URL"]

# --- Auth ----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "/console/login/"  # one sign-in page for every role (the admin login admits staff only)
SESSION_ENGINE = "core.sessions"  # database sessions that refuse malformed keys (a NUL byte was a 500)

# --- API -----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "core.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "geoapp API",
    "DESCRIPTION": "Kota Tangerang LIVE Room: boundaries, citizens' reports, field tracking, dispatch.",
    "VERSION": "1.0.0",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SERVE_INCLUDE_SCHEMA": False,
}

# --- Cache ------------------------------------------------------------------------------------
# The anonymous report rate limit (DRF's throttle) counts in the cache. Django's default is a
# cache per process, so each Daphne process allowed the full rate (2 processes: twice it). The
# database cache is shared by every process and needs no other service (the table is made by
# migration geoapp 0002); it is read only by throttled requests.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "geoapp_cache"}}

# --- Channels (live console) ----------------------------------------------------------------
CHANNEL_CAPACITY = int(os.environ.get("CHANNEL_CAPACITY", "1000"))  # messages a console's channel holds
if os.environ.get("REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # redis-py 8 reads with a 5 s socket timeout by default, shorter than channels_redis's
            # blocking receive: every idle console socket was torn down every 5 s (load test).
            # A console that falls behind at a load peak gets its events dropped once its channel
            # holds `capacity` of them (channels' default 100: consoles missed up to 410 events each
            # in `make loadtest`; the browser then asks for the gap). 1000 is ~10 s of the peak.
            "CONFIG": {
                "hosts": [{"address": os.environ["REDIS_URL"], "socket_timeout": None}],
                "capacity": CHANNEL_CAPACITY,
            },
        }
    }
else:
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": CHANNEL_CAPACITY}}
    }
# The worker can only reach consoles connected to the web processes through a shared layer.
GEOAPP_RELAY = os.environ.get("GEOAPP_RELAY", "worker" if os.environ.get("REDIS_URL") else "inline")
# The web processes' GIL switch interval in milliseconds (0 or less: Python's 5 ms); core/serving.py.
_gil_switch = os.environ.get("GEOAPP_GIL_SWITCH_MS", "0.5")
try:
    GEOAPP_GIL_SWITCH_MS = float(_gil_switch)
except ValueError:
    raise ImproperlyConfigured(f"GEOAPP_GIL_SWITCH_MS must be a number of milliseconds, not {_gil_switch!r}") from None

# --- Security outside development -----------------------------------------------------------
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "3600"))
    X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact": {"()": "core.logging.RedactSecrets"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "core.logging.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json" if os.environ.get("LOG_FORMAT") == "json" else "plain",
            "filters": ["redact"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.channels.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.db.backends": {"level": "WARNING"},
    },
}

# --- App settings read from the environment ---------------------------------------------------
# Each app's settings.py holds its prefixed settings with their defaults and units; set here only
# what the environment provides.
BOUNDARIES_MAX_UNZIPPED_BYTES = int(os.environ.get("BOUNDARIES_MAX_UNZIPPED_BYTES", 512 * 1024 * 1024))  # bytes
# The social webhooks' secrets; empty = that webhook is off (answers 503).
INCIDENTS_TWITTER_CONSUMER_SECRET = os.environ.get("INCIDENTS_TWITTER_CONSUMER_SECRET", "")
INCIDENTS_FACEBOOK_APP_SECRET = os.environ.get("INCIDENTS_FACEBOOK_APP_SECRET", "")
INCIDENTS_FACEBOOK_VERIFY_TOKEN = os.environ.get("INCIDENTS_FACEBOOK_VERIFY_TOKEN", "")

# Django warns that Debian 12's GDAL 3.6 cannot block file/network access in spatial references
# handed to GEOSGeometry/OGR. Uploaded boundary files are read with pyogrio's own GDAL, not
# Django's, and geometries reach Django only as WKB in EPSG:4326, so the warning is noted here.
SILENCED_SYSTEM_CHECKS = ["gis.W001"]
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise expects it even before collectstatic
