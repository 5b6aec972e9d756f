"""Settings for the registerft portal, read in one pass from top to bottom, from the environment
with safe development defaults (none for secrets and production endpoints); a bad value stops
start-up naming the variable. Every variable: docs/settings.md. Helpers: registerft/env*.py.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from django.core.exceptions import ImproperlyConfigured

from registerft.env import (
    envbool, envchoice, envcolour, envdatetime, envfloat, envint, envlist, envmapping, envorigins, envrate, envstr,
    envissuers, envurl, envurlpath, issuer_timeout, log_format, require,
)
from registerft.env_json import DEFAULT_FORM_FIELDS, DEFAULT_WALLET_APPS, envformfields, envwalletapps, envwalletchoices
from registerft.env_logging import logging_settings
from registerft.env_services import envdatabaseurl, envredisurl

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(envstr("REGISTERFT_VAR_DIR", str(BASE_DIR / "var")))

# --- Core -----------------------------------------------------------------------------------
DEBUG = envbool("DJANGO_DEBUG", False)
SECRET_KEY = envstr("DJANGO_SECRET_KEY", "development-only-secret-key-not-for-production" if DEBUG else None)
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off (set DJANGO_DEBUG=1 for development).")
if not DEBUG and len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY must be at least 32 characters long.")

# Development: any host, so that a phone on the same network can open the demo wallet.
ALLOWED_HOSTS = envlist("DJANGO_ALLOWED_HOSTS", ["*"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("DJANGO_ALLOWED_HOSTS must name the portal's host(s) when DJANGO_DEBUG is off.")
CSRF_TRUSTED_ORIGINS = envlist("DJANGO_CSRF_TRUSTED_ORIGINS")

# --- Security ---------------------------------------------------------------------------------
SECURE_SSL_REDIRECT = envbool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers probe over plain HTTP. An agent next to the portal posts its webhooks over plain
# HTTP on the internal network; a redirect to https would lose them (ACA-Py does not follow it).
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^webhooks/acapy/", r"^webhooks/swiyu/"]
SECURE_HSTS_SECONDS = envint("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
# Subdomains and preload bind the operator's whole domain for long: their choice, off by default.
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = envbool("DJANGO_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Behind a TLS-terminating proxy: the header it sets (X-Forwarded-Proto), so https is known.
_proxy_ssl_header = envstr("DJANGO_SECURE_PROXY_SSL_HEADER")
SECURE_PROXY_SSL_HEADER = ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https") if _proxy_ssl_header else None

# Embedding the portal in another site's page: name the parent origins. The session and CSRF
# cookies then need SameSite=None, which browsers accept only with Secure (even on localhost over
# http), and X-Frame-Options gives way to the CSP's frame-ancestors (it cannot name origins).
REGISTERFT_FRAME_ANCESTORS = envorigins("REGISTERFT_FRAME_ANCESTORS")
SESSION_COOKIE_SAMESITE = envchoice(
    "REGISTERFT_COOKIE_SAMESITE", "None" if REGISTERFT_FRAME_ANCESTORS else "Lax", ("Lax", "Strict", "None")
)
CSRF_COOKIE_SAMESITE = SESSION_COOKIE_SAMESITE
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = not DEBUG or SESSION_COOKIE_SAMESITE == "None"
SESSION_COOKIE_HTTPONLY = True
# The language cookie (the /de links and Django's switcher) carries the same flags as the others.
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = SESSION_COOKIE_SAMESITE
X_FRAME_OPTIONS = "DENY"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
        "frame-ancestors": ["'self'", *REGISTERFT_FRAME_ANCESTORS] if REGISTERFT_FRAME_ANCESTORS else ["'none'"],
    }
}

CORS_ALLOWED_ORIGINS = envlist("DJANGO_CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/(check_connection|loading)/status/?$"

CSRF_FAILURE_VIEW = "onboarding.views.errors.csrf_failure"
# The portal takes no files (BodyLimitMiddleware refuses them): none is ever written to disk.
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler"]

# --- Applications, middleware and templates ---------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "corsheaders",
    "csp",
    "axes",
    "onboarding",
]

MIDDLEWARE = [
    # First, so that every log line of the request carries its id.
    "onboarding.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "onboarding.middleware.ProbeMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "onboarding.middleware.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    *([] if REGISTERFT_FRAME_ANCESTORS else ["django.middleware.clickjacking.XFrameOptionsMiddleware"]),
    "onboarding.headers.ContentSecurityPolicyMiddleware",  # django-csp, its policy built once
    "axes.middleware.AxesMiddleware",  # answers a locked-out login (django-axes) with 429
    "onboarding.middleware.BodyLimitMiddleware",
]

ROOT_URLCONF = "registerft.urls"
WSGI_APPLICATION = "registerft.wsgi.application"

# A folder of templates searched before the portal's own (e.g. onboarding/privacy.html, base.html).
REGISTERFT_TEMPLATE_DIR = envstr("REGISTERFT_TEMPLATE_DIR", "") or ""
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [*([Path(REGISTERFT_TEMPLATE_DIR)] if REGISTERFT_TEMPLATE_DIR else []), BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "onboarding.context_processors.portal",
            ],
        },
    }
]

# --- Database ---------------------------------------------------------------------------------
# One machine: SQLite (WAL, immediate transactions); several instances share PostgreSQL (DATABASE_URL).
# Connections stay open between requests, one per gunicorn thread (opening one and setting its pragmas
# cost a poll more than its query); PostgreSQL's are checked before reuse. SQLite's page cache is 256 KiB
# (2 MB by default): WAL drops it at every other connection's write (worker RSS 81 to 75 MB, make bench).
_conn_max_age = envint("REGISTERFT_DB_CONN_MAX_AGE", 60, minimum=0)
DATABASES = {
    "default": envdatabaseurl("DATABASE_URL", conn_max_age=_conn_max_age, conn_health_checks=True)
    or {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": envstr("REGISTERFT_DB_PATH", str(VAR_DIR / "db.sqlite3")),
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-256;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
        "CONN_MAX_AGE": _conn_max_age,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Staff login (django-axes) ------------------------------------------------------------------
# Every login (the admin's, any form that calls authenticate()) counts failures in the database per
# user name and per client address (the rate limits' rule); at the limit each is refused for the
# cool-off. Failures are logged, passwords never. The admin may move, or be off ("off").
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = envint("REGISTERFT_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(seconds=envint("REGISTERFT_LOGIN_COOLOFF", 15 * 60, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_CLIENT_IP_CALLABLE = "onboarding.views.staff.login_address"
AXES_RESET_ON_SUCCESS = True
REGISTERFT_ADMIN_PATH = envurlpath("REGISTERFT_ADMIN_PATH", "admin/")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Cache and sessions -----------------------------------------------------------------------
# One machine: a cache per process and session files. Several instances share Redis (REDIS_URL) for
# sessions, the QR codes and the issuer's health report, so that any instance answers any request or
# webhook. The pages' chrome (templates/base.html) stays in memory: a round trip would cost more.
REDIS_URL = envredisurl("REDIS_URL")
# Seconds to wait for Redis before a request gives up on it (a hung Redis must not hold workers).
_redis_timeout = envfloat("REGISTERFT_REDIS_TIMEOUT", 2.0, minimum=0.1)
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        # Several portals (one per event) may share one Redis.
        "KEY_PREFIX": envstr("REGISTERFT_CACHE_KEY_PREFIX", "registerft") or "registerft",
        "OPTIONS": {"socket_connect_timeout": _redis_timeout, "socket_timeout": _redis_timeout},
    }
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    "template_fragments": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "fragments"},
}
# With Redis, cached_db rather than cache: a session is read from Redis and written to Redis and to
# the database, so a Redis restart (a redeploy, an eviction under memory pressure) does not throw
# every visitor in the middle of the flow back to the start. The price is one small row write per
# changed session, and `manage.py clearsessions` removes expired rows (schedule it).
SESSION_ENGINE = "onboarding.sessions_shared" if REDIS_URL else "onboarding.sessions"
SESSION_FILE_PATH = envstr("REGISTERFT_SESSION_DIR", str(VAR_DIR / "sessions"))
SESSION_COOKIE_AGE = envint("REGISTERFT_SESSION_AGE", 2 * 60 * 60, minimum=60)
# Expired session files are removed once there are more than this many, checked at most once per
# interval (seconds) per process, in a background thread.
REGISTERFT_SESSION_CLEANUP_THRESHOLD = envint("REGISTERFT_SESSION_CLEANUP_THRESHOLD", 1000, minimum=1)
REGISTERFT_SESSION_CLEANUP_INTERVAL = envint("REGISTERFT_SESSION_CLEANUP_INTERVAL", 300, minimum=1)

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "de"
LANGUAGES = [("de", "Deutsch"), ("fr", "Français"), ("it", "Italiano"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "onboarding" / "locale"]
# German is the default, as in the original portal; set this to follow the browser's language.
REGISTERFT_USE_BROWSER_LANGUAGE = envbool("REGISTERFT_USE_BROWSER_LANGUAGE", False)
TIME_ZONE = envstr("DJANGO_TIME_ZONE", "Europe/Zurich")
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = Path(envstr("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage" if DEBUG
                    else "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Logging ----------------------------------------------------------------------------------
# Log lines carry a request id (the caller's X-Request-ID when it is a plain token, else a new
# one, also set on the response); text is one line per event, json one object per line.
LOG_LEVEL = envchoice("REGISTERFT_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))
REGISTERFT_LOG_FORMAT = log_format()
LOGGING = logging_settings(log_format=REGISTERFT_LOG_FORMAT, level=LOG_LEVEL)

# --- The portal -------------------------------------------------------------------------------
REGISTERFT_EVENT_NAME = envstr("REGISTERFT_EVENT_NAME", "registerft")
# Links in QR codes must reach the portal from a phone (unset: the host the page was asked on).
REGISTERFT_PUBLIC_URL = envurl("REGISTERFT_PUBLIC_URL")

# The "open in wallet" link on a phone: {url}, {url_quoted} or {oob} of the invitation.
REGISTERFT_WALLET_LINK = envstr("REGISTERFT_WALLET_LINK", "{url}")
REGISTERFT_OFFER_SCHEME = envchoice("REGISTERFT_OFFER_SCHEME", "", ("", "swiyu", "openid-credential-offer"))

# The issuer backends, e.g. "swiyu,acapy": with several the visitor chooses their kind of wallet
# (docs/wallets.md). Chosen: named by the operator (check --deploy reports the default demo issuer).
REGISTERFT_ISSUERS, REGISTERFT_ISSUER_CHOSEN, REGISTERFT_ISSUER_OLD_NAME = envissuers()
REGISTERFT_DEMO_FLOW = envchoice("REGISTERFT_DEMO_FLOW", "connection-first", ("connection-first", "offer-first"))
# Every call to the issuer gives up after this many seconds (gunicorn's timeout is longer).
REGISTERFT_ISSUER_TIMEOUT = issuer_timeout()

# Lifetimes, in seconds, of each step of the flow.
REGISTERFT_INVITATION_TTL = envint("REGISTERFT_INVITATION_TTL", 15 * 60, minimum=10)
REGISTERFT_DETAILS_TTL = envint("REGISTERFT_DETAILS_TTL", 30 * 60, minimum=10)
REGISTERFT_OFFER_TTL = envint("REGISTERFT_OFFER_TTL", 10 * 60, minimum=10)
# The issuer is asked about a registration at most once per this many seconds, however often polled.
REGISTERFT_STATUS_CHECK_INTERVAL = envfloat("REGISTERFT_STATUS_CHECK_INTERVAL", 3.0, minimum=0.0)
# With webhooks (ACA-Py, swiyu) the portal asks only when it heard nothing for this many seconds.
REGISTERFT_WEBHOOK_FALLBACK_INTERVAL = envfloat("REGISTERFT_WEBHOOK_FALLBACK_INTERVAL", 10.0, minimum=1.0)
# How often the waiting pages poll the portal, in milliseconds.
REGISTERFT_POLL_INTERVAL_MS = envint("REGISTERFT_POLL_INTERVAL_MS", 1500, minimum=200)

# The details form: a JSON list of {"name", "label", "required", "max_length"} (only the name needed).
REGISTERFT_FORM_FIELDS = envformfields("REGISTERFT_FORM_FIELDS", DEFAULT_FORM_FIELDS)

# The original agent REST API (REGISTERFT_ISSUERS names agent-rest).
AGENT_REST_CONNECTION_URL = envurl("AGENT_REST_CONNECTION_URL")
AGENT_REST_ISSUER_URL = envurl("AGENT_REST_ISSUER_URL")
AGENT_REST_CREDENTIAL_DEFINITION_ID = envstr("AGENT_REST_CREDENTIAL_DEFINITION_ID", "")
# form field=attribute name at the issuer, comma-separated; fields not named keep their own name.
AGENT_REST_ATTRIBUTE_NAMES = envmapping("AGENT_REST_ATTRIBUTE_NAMES")
AGENT_REST_API_KEY_HEADER = envstr("AGENT_REST_API_KEY_HEADER", "X-API-Key")
AGENT_REST_API_KEY = envstr("AGENT_REST_API_KEY", "")
AGENT_REST_ACCEPTED_STATES = envlist("AGENT_REST_ACCEPTED_STATES", ["DONE", "COMPLETED", "ACCEPTED", "ISSUED"])
AGENT_REST_FAILED_STATES = envlist("AGENT_REST_FAILED_STATES", ["FAILED", "ERROR", "DECLINED", "REJECTED", "ABANDONED"])
if "agent-rest" in REGISTERFT_ISSUERS:
    require({"AGENT_REST_CONNECTION_URL": AGENT_REST_CONNECTION_URL, "AGENT_REST_ISSUER_URL": AGENT_REST_ISSUER_URL},
            when="REGISTERFT_ISSUERS names agent-rest")

# --- ACA-Py (REGISTERFT_ISSUERS names acapy) -----------------------------------------------------------
# The agent's admin API and its key (sent as X-API-Key). The agent posts state changes to
# <portal>/webhooks/acapy with this secret after "#" in its --webhook-url.
ACAPY_ADMIN_URL = envurl("ACAPY_ADMIN_URL")
ACAPY_ADMIN_API_KEY = envstr("ACAPY_ADMIN_API_KEY", "") or ""
ACAPY_WEBHOOK_SECRET = envstr("ACAPY_WEBHOOK_SECRET", "") or ""
# ld_proof: a W3C credential signed by the portal's did:key (no ledger needed). anoncreds/indy: an
# AnonCreds credential of ACAPY_CRED_DEF_ID, which needs a ledger the agent is connected to.
ACAPY_CREDENTIAL_FORMAT = envchoice("ACAPY_CREDENTIAL_FORMAT", "ld_proof", ("ld_proof", "anoncreds", "indy"))
ACAPY_CRED_DEF_ID = envstr("ACAPY_CRED_DEF_ID", "") or ""
# The signing did:key; empty: created at the agent on the first offer and remembered in the database.
ACAPY_ISSUER_DID = envstr("ACAPY_ISSUER_DID", "") or ""
ACAPY_CREDENTIAL_TYPE = envstr("ACAPY_CREDENTIAL_TYPE", "RegisterftCredential") or "RegisterftCredential"
# Only contexts the agent bundles work: it cannot fetch one (credentials v1/v2, security v1/v2,
# ed25519-2020, ...). Our own terms come from an inline {"@vocab": ...} context (empty: none).
ACAPY_CREDENTIAL_CONTEXTS = envlist("ACAPY_CREDENTIAL_CONTEXTS", ["https://www.w3.org/2018/credentials/v1"])
ACAPY_CREDENTIAL_VOCAB = envstr("ACAPY_CREDENTIAL_VOCAB", "https://registerft.example/vocab#") or ""
ACAPY_PROOF_TYPE = envchoice("ACAPY_PROOF_TYPE", "Ed25519Signature2020", ("Ed25519Signature2020", "Ed25519Signature2018"))
if "acapy" in REGISTERFT_ISSUERS:
    require({"ACAPY_ADMIN_URL": ACAPY_ADMIN_URL, "ACAPY_ADMIN_API_KEY": ACAPY_ADMIN_API_KEY,
             "ACAPY_WEBHOOK_SECRET": ACAPY_WEBHOOK_SECRET}, when="REGISTERFT_ISSUERS names acapy")
    if ACAPY_CREDENTIAL_FORMAT != "ld_proof" and not ACAPY_CRED_DEF_ID:
        raise ImproperlyConfigured(f"ACAPY_CRED_DEF_ID must be set when ACAPY_CREDENTIAL_FORMAT is {ACAPY_CREDENTIAL_FORMAT}.")

# --- swiyu's generic issuer (REGISTERFT_ISSUERS names swiyu): its management API, docs/swiyu.md ----------
SWIYU_MANAGEMENT_URL = envurl("SWIYU_MANAGEMENT_URL")
SWIYU_CREDENTIAL_CONFIGURATION_ID = envstr("SWIYU_CREDENTIAL_CONFIGURATION_ID", "") or ""
SWIYU_STATUS_LISTS = envlist("SWIYU_STATUS_LISTS")
SWIYU_USE_PIN = envbool("SWIYU_USE_PIN", False)
SWIYU_BEARER_TOKEN = envstr("SWIYU_BEARER_TOKEN", "") or ""
SWIYU_OAUTH_TOKEN_URL = envurl("SWIYU_OAUTH_TOKEN_URL")
SWIYU_OAUTH_CLIENT_ID = envstr("SWIYU_OAUTH_CLIENT_ID", "") or ""
SWIYU_OAUTH_CLIENT_SECRET = envstr("SWIYU_OAUTH_CLIENT_SECRET", "") or ""
SWIYU_OAUTH_SCOPE = envstr("SWIYU_OAUTH_SCOPE", "") or ""
SWIYU_WEBHOOK_KEY = envstr("SWIYU_WEBHOOK_KEY", "") or ""
if "swiyu" in REGISTERFT_ISSUERS:
    require({"SWIYU_MANAGEMENT_URL": SWIYU_MANAGEMENT_URL, "SWIYU_CREDENTIAL_CONFIGURATION_ID": SWIYU_CREDENTIAL_CONFIGURATION_ID,
             "SWIYU_WEBHOOK_KEY": SWIYU_WEBHOOK_KEY}, when="REGISTERFT_ISSUERS names swiyu")

# --- Registration window ----------------------------------------------------------------------
# When registration opens and closes (ISO date-times; without a zone they are in TIME_ZONE).
# Outside the window the start page says so and creates nothing at the issuer; either may be unset.
REGISTERFT_OPEN_FROM = envdatetime("REGISTERFT_OPEN_FROM", tz=ZoneInfo(TIME_ZONE))
REGISTERFT_OPEN_UNTIL = envdatetime("REGISTERFT_OPEN_UNTIL", tz=ZoneInfo(TIME_ZONE))
if REGISTERFT_OPEN_FROM and REGISTERFT_OPEN_UNTIL and REGISTERFT_OPEN_FROM >= REGISTERFT_OPEN_UNTIL:
    raise ImproperlyConfigured("REGISTERFT_OPEN_FROM must be earlier than REGISTERFT_OPEN_UNTIL.")

# --- The visitor's pages: look, help and privacy ----------------------------------------------
# The event's logo (a URL of the portal's own origin, since the CSP allows no other: for example
# a file under static/) and its colours (#rrggbb; white text must be readable on them, WCAG AA).
REGISTERFT_EVENT_LOGO = envstr("REGISTERFT_EVENT_LOGO", "") or ""
REGISTERFT_BRAND_COLOUR = envcolour("REGISTERFT_BRAND_COLOUR", "#0b5394")
REGISTERFT_BRAND_DARK_COLOUR = envcolour("REGISTERFT_BRAND_DARK_COLOUR", "#083d6e")
# A waiting page without progress for this many seconds offers "start again" prominently.
REGISTERFT_STUCK_AFTER = envint("REGISTERFT_STUCK_AFTER", 90, minimum=5)

# The wallet apps the help page names: a JSON list of {"name", "ios", "android", "website"}.
REGISTERFT_WALLET_APPS = envwalletapps("REGISTERFT_WALLET_APPS", DEFAULT_WALLET_APPS)
# Several backends: how the choice names each kind of wallet (JSON; docs/wallets.md).
REGISTERFT_WALLET_CHOICES = envwalletchoices("REGISTERFT_WALLET_CHOICES", REGISTERFT_ISSUERS)
# The privacy notice: who is responsible, how to reach them, how long registrations are kept
# (schedule `manage.py purge_registrations --older-than <days>d` to match), and any further text.
REGISTERFT_PRIVACY_CONTROLLER = envstr("REGISTERFT_PRIVACY_CONTROLLER", "") or ""
REGISTERFT_PRIVACY_CONTACT = envstr("REGISTERFT_PRIVACY_CONTACT", "") or ""
REGISTERFT_PRIVACY_RETENTION_DAYS = envint("REGISTERFT_PRIVACY_RETENTION_DAYS", 30, minimum=1)
REGISTERFT_PRIVACY_TEXT = envstr("REGISTERFT_PRIVACY_TEXT", "") or ""

# --- Operations: probes and metrics -----------------------------------------------------------
# /readyz reports the issuer's reachability from a background check at most this many seconds old.
REGISTERFT_ISSUER_HEALTH_INTERVAL = envfloat("REGISTERFT_ISSUER_HEALTH_INTERVAL", 30.0, minimum=1.0)
# Prometheus metrics at /metrics: off (404) unless REGISTERFT_METRICS is on; with a token, only for
# "Authorization: Bearer <token>", which production needs. Under several gunicorn workers also set
# PROMETHEUS_MULTIPROC_DIR.
REGISTERFT_METRICS = envbool("REGISTERFT_METRICS", False)
REGISTERFT_METRICS_TOKEN = envstr("REGISTERFT_METRICS_TOKEN", "") or ""
if REGISTERFT_METRICS and not DEBUG:
    require({"REGISTERFT_METRICS_TOKEN": REGISTERFT_METRICS_TOKEN}, when="REGISTERFT_METRICS is on and DJANGO_DEBUG off")

# === The throttle: who may ask the issuer now (onboarding/throttle.py, docs/admission.md) =====
# The ceiling of the line's adaptive limit on registrations in progress at the agent; further new
# visitors wait in line. 0: no line. A place is also held while a wallet is still to scan and while
# it passes to the next visitor, so the ceiling stands well above the agent's own best concurrency
# (3 to 6 flows) and the limit comes down by itself from there (docs/admission.md).
REGISTERFT_MAX_IN_PROGRESS = envint("REGISTERFT_MAX_IN_PROGRESS", 24, minimum=0)
# Calls to the agent at once, from all workers and instances together. 0: no bound.
REGISTERFT_MAX_ISSUER_CALLS = envint("REGISTERFT_MAX_ISSUER_CALLS", 6, minimum=0)
# Seconds an invitation or an offer counts as in progress.
REGISTERFT_IN_PROGRESS_HOLD = envint("REGISTERFT_IN_PROGRESS_HOLD", 30, minimum=1)
# A place in line is given up when its page has not asked for this many seconds.
REGISTERFT_QUEUE_TICKET_TTL = envint("REGISTERFT_QUEUE_TICKET_TTL", 60, minimum=5)
# Places in line one client address may hold at once (a venue puts hundreds behind one). 0: no cap.
REGISTERFT_LINE_PER_ADDRESS = envint("REGISTERFT_LINE_PER_ADDRESS", 1000, minimum=0)

# New invitations and offers per session and per client address: "count/period" (10/10m) or "off".
REGISTERFT_RATE_INVITATIONS_PER_SESSION = envrate("REGISTERFT_RATE_INVITATIONS_PER_SESSION", "10/10m")
REGISTERFT_RATE_INVITATIONS_PER_ADDRESS = envrate("REGISTERFT_RATE_INVITATIONS_PER_ADDRESS", "300/1m")
REGISTERFT_RATE_OFFERS_PER_SESSION = envrate("REGISTERFT_RATE_OFFERS_PER_SESSION", "5/10m")
REGISTERFT_RATE_OFFERS_PER_ADDRESS = envrate("REGISTERFT_RATE_OFFERS_PER_ADDRESS", "300/1m")
# Behind trusted proxies only: their header (X-Forwarded-For) and how many append to it; never
# set without such proxies, or a client chooses its own address (docs/settings.md).
REGISTERFT_CLIENT_IP_HEADER = envstr("REGISTERFT_CLIENT_IP_HEADER", "") or ""
REGISTERFT_TRUSTED_PROXY_COUNT = envint("REGISTERFT_TRUSTED_PROXY_COUNT", 1, minimum=1)

# === The door (docs/door.md): the credential's expiry every backend writes; staff sessions; proof requests.
REGISTERFT_CREDENTIAL_VALID_UNTIL = envdatetime("REGISTERFT_CREDENTIAL_VALID_UNTIL", tz=ZoneInfo(TIME_ZONE))
REGISTERFT_STAFF_SESSION_AGE = envint("REGISTERFT_STAFF_SESSION_AGE", 16 * 60 * 60, minimum=60)
REGISTERFT_DOOR_POLL_INTERVAL_MS = envint("REGISTERFT_DOOR_POLL_INTERVAL_MS", 500, minimum=100)
REGISTERFT_DOOR_REQUEST_TTL = envint("REGISTERFT_DOOR_REQUEST_TTL", 120, minimum=10)
