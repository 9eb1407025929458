"""Concord settings, read from the environment.

With no variables set, Concord runs on SQLite under var/ and a filesystem Celery broker under
var/, so `make demo` needs neither PostgreSQL nor Redis. In production set DATABASE_URL
(PostgreSQL) and REDIS_URL (Celery broker and Django cache).
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

# Importing it also registers Concord's secrets checks (concord.E001…), whatever the entry point.
from config.security import PLACEHOLDER_SECRET_KEY

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("CONCORD_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DJANGO_DEBUG", default=False)
# Without DJANGO_SECRET_KEY Django still starts, so `check` can report it: the placeholder is
# refused outside DEBUG (concord.E001), and `make demo` generates a random key (var/demo.env).
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or PLACEHOLDER_SECRET_KEY
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "config.admin.ConcordAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "crm",
    "syncengine",
    "backups",
    "notifications",
    "accounts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # The user's time zone for this request only (X-5, DESIGN §10 "Time zones").
    "accounts.middleware.UserTimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: it turns a locked-out admin login into the 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # notifications/templates first: its admin/base_site.html (the bell) must win the admin's.
        "DIRS": [BASE_DIR / "templates", BASE_DIR / "notifications" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "notifications.context_processors.notification_bell",
                "notifications.context_processors.sync_health_panel",
            ],
            # `{% load icons %}`: inline SVG icons, drawn without emoji fonts (config/icons.py).
            # `{% load admin_rows %}`: change list rows built cheaper (config/admin_rows.py).
            # `{% load times %}`: times as the admin writes them, cheaper (config/times.py).
            "libraries": {
                "icons": "config.icons",
                "admin_rows": "config.admin_rows",
                "times": "config.times",
            },
        },
    },
]

# --- Database -------------------------------------------------------------------------------
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "concord.sqlite3",
            "OPTIONS": {
                # Web, worker and beat share one file: WAL lets readers run beside a writer, and
                # IMMEDIATE transactions take the write lock up front instead of failing mid-way.
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache and Celery -----------------------------------------------------------------------
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
else:
    # Files, not per-process memory: gunicorn workers, the worker and beat share the throttles'
    # counts (config.throttling). Enough entries that one client spraying usernames cannot push
    # the others' counts out.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 20000},
        }
    }
    _broker_dir = VAR_DIR / "celery-broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        # Exchange tables: kombu's default is ./control, outside var/.
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env_bool("CONCORD_EAGER_TASKS")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CONCORD_CELERY_QUEUE", "celery")
# A sync cycle whose worker died is reclaimed once its lease (renewed every batch) runs out.
CONCORD_SYNC_LEASE_SECONDS = int(os.environ.get("CONCORD_SYNC_LEASE_SECONDS", "180"))
# Hours between id-set comparisons of a pulling mapping with the remote (reconciliation).
CONCORD_RECONCILE_HOURS = float(os.environ.get("CONCORD_RECONCILE_HOURS", "24"))
# Each record's sync timeline (what each pull and push changed); off only to measure its cost.
CONCORD_SYNC_TIMELINE = env_bool("CONCORD_SYNC_TIMELINE", default=True)

# --- Auth, i18n, static ---------------------------------------------------------------------
# AxesStandaloneBackend only refuses locked-out admin logins; ModelBackend authenticates.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "admin:login"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# Files of no one app: the admin's own stylesheet (static/concord/admin.css).
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "media")},
    },
    # Backups hold every record, sensitive values included: kept apart from media, never served
    # directly (downloads go through a super-admin-only view). Any storage backend works here.
    "backups": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(VAR_DIR / "backups")},
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Tests and `runserver` serve static files from the apps without collectstatic.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- Login throttling (config.throttling) ---------------------------------------------------
# How many proxies in front of Concord append to X-Forwarded-For; the client's address is read
# there only then. 0 (no proxy) by default, 1 with CONCORD_HTTPS=1 (behind its TLS proxy).
CONCORD_TRUSTED_PROXIES = int(
    os.environ.get("CONCORD_TRUSTED_PROXIES", "1" if env_bool("CONCORD_HTTPS") else "0")
)
# Admin logins (django-axes): locked after this many failures from one address or for one
# username, for this long; each attempt during the lockout restarts it. Failed token requests
# count too, but axes locks only the admin site: the token endpoint has its own limits below.
AXES_FAILURE_LIMIT = int(os.environ.get("CONCORD_ADMIN_LOGIN_FAILURES", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("CONCORD_ADMIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True
# Failures expire with the cool-off, never on a success: otherwise logging in to one's own
# account would clear the address's count and allow endless guessing at another's.
AXES_RESET_ON_SUCCESS = False
AXES_ONLY_ADMIN_SITE = True
AXES_CLIENT_IP_CALLABLE = "config.throttling.client_ip"
AXES_LOCKOUT_CALLABLE = "config.throttling.admin_lockout_response"

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every operation names the model permissions it needs; one it does not name is refused.
    "DEFAULT_PERMISSION_CLASSES": ["accounts.permissions.ModelPermissions"],
    # Depth-bounded JSON and forms refusing NULs and lone surrogates (config/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "config.parsers.JSONParser",
        "config.parsers.FormParser",
        "config.parsers.MultiPartParser",
    ],
    # django-filter and DRF's cursors, bounded to what the database holds (64-bit ids, datetimes
    # that stay within the years 1-9999 in UTC); see config/filters.py and config/pagination.py.
    "DEFAULT_FILTER_BACKENDS": ["config.filters.FilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "config.pagination.CursorPagination",
    "PAGE_SIZE": 100,
    # drf-spectacular's, plus each operation's error answers with the one error body.
    "DEFAULT_SCHEMA_CLASS": "config.schema.ConcordAutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    # The token endpoint's limits (config.throttling), per client address and per username.
    "DEFAULT_THROTTLE_RATES": {
        "auth_token_ip": os.environ.get("CONCORD_TOKEN_RATE_PER_IP", "30/hour"),
        "auth_token_username": os.environ.get("CONCORD_TOKEN_RATE_PER_USERNAME", "10/hour"),
    },
    "NUM_PROXIES": CONCORD_TRUSTED_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Concord API",
    "DESCRIPTION": "CRM records, schema, associations and audit log of a Concord instance.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Backups and restores both have a "status": name their enums apart in the schema.
    "ENUM_NAME_OVERRIDES": {
        "BackupStatusEnum": "backups.models.Backup.Status",
        "RestoreStatusEnum": "backups.models.Restore.Status",
        "BackupFrequencyEnum": "backups.models.BackupSchedule.Frequency",
        "NotificationFrequencyEnum": "notifications.models.Frequency",
        "HeldDeleteDirectionEnum": "syncengine.models.HeldDelete.Direction",
    },
}

# --- Concord --------------------------------------------------------------------------------
CONCORD_RECYCLE_BIN_DAYS = int(os.environ.get("CONCORD_RECYCLE_BIN_DAYS", "90"))
CONCORD_BATCH_MAX_INPUTS = 100
# Plan of this installation: backup frequency limits and scheduled backups depend on it.
CONCORD_PLAN = os.environ.get("CONCORD_PLAN", "enterprise")
# Authentication backends that count as single sign-on (a restore then needs no TOTP code).
CONCORD_SSO_BACKENDS = env_list("CONCORD_SSO_BACKENDS")
# Fernet keys (comma-separated, newest first) for secrets at rest such as OAuth tokens. Never
# derived from SECRET_KEY: missing keys are concord.E003 outside DEBUG; `make demo` generates one.
CONCORD_ENCRYPTION_KEYS = env_list("CONCORD_ENCRYPTION_KEYS")
# Public base URL, for links in emails and notifications.
CONCORD_BASE_URL = os.environ.get("CONCORD_BASE_URL", "http://127.0.0.1:8000")

EMAIL_BACKEND = os.environ.get(
    "DJANGO_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend"
)
EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Concord <concord@localhost>")
# "Instantly" sync-error emails: at most one per user in this many minutes.
CONCORD_NOTIFY_INSTANT_MINUTES = int(os.environ.get("CONCORD_NOTIFY_INSTANT_MINUTES", "5"))

# --- HTTPS ----------------------------------------------------------------------------------
# One switch for a deployment behind a TLS-terminating proxy (which must set X-Forwarded-Proto
# and strip it from clients): redirect to HTTPS, HSTS, and cookies only over HTTPS. With it,
# `manage.py check --deploy` is clean. The preload directive alone enrols nothing: a domain joins
# browsers' preload lists only when its owner submits the apex domain.
CONCORD_HTTPS = env_bool("CONCORD_HTTPS")
if CONCORD_HTTPS:
    SECURE_SSL_REDIRECT = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("CONCORD_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CONCORD_LOG_LEVEL", "INFO")},
}
