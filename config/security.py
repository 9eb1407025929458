"""Secrets and production settings: Concord's own system checks, and the refusal to serve.

Outside DEBUG no process may run on a secret that ships with the source: a missing or public
DJANGO_SECRET_KEY, or missing CONCORD_ENCRYPTION_KEYS, is a system-check error. `manage.py`
commands stop on it as usual; gunicorn (config.wsgi), ASGI servers and the Celery worker and
beat do not run system checks by themselves, so they call `refuse_to_start_if_misconfigured()`.
`make demo` generates random keys into var/demo.env once (config.demo_env), so the demo needs no
configuration and no exception.
"""

from __future__ import annotations

from cryptography.fernet import Fernet
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

# Used when DJANGO_SECRET_KEY is unset, only so that Django starts and the checks can say what
# is missing; concord.E001 refuses it (and Concord's earlier default) outside DEBUG.
PLACEHOLDER_SECRET_KEY = "django-insecure-concord-placeholder-set-DJANGO_SECRET_KEY"
PUBLIC_SECRET_KEYS = frozenset(
    {PLACEHOLDER_SECRET_KEY, "insecure-demo-key-set-DJANGO_SECRET_KEY-in-production"}
)
CHECK_TAG = "concord_secrets"
# Django's own criteria for a strong key (security.W009, which only `check --deploy` runs).
_MIN_SECRET_KEY_LENGTH = 50
_MIN_SECRET_KEY_UNIQUE_CHARACTERS = 5


@checks.register(checks.Tags.security, CHECK_TAG)
def check_secret_key(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Outside DEBUG the secret key must come from the environment and be strong."""
    if settings.DEBUG:
        return []
    key = str(settings.SECRET_KEY)
    if key in PUBLIC_SECRET_KEYS:
        return [
            checks.Error(
                "DJANGO_SECRET_KEY is not set: the default key is public (it is in the source).",
                hint="Set DJANGO_SECRET_KEY to a random value of 50+ characters, e.g. the "
                "output of `python -c 'import secrets; print(secrets.token_urlsafe(50))'`; "
                "for local development only, set DJANGO_DEBUG=1.",
                id="concord.E001",
            )
        ]
    if (
        len(key) < _MIN_SECRET_KEY_LENGTH
        or len(set(key)) < _MIN_SECRET_KEY_UNIQUE_CHARACTERS
        or key.startswith("django-insecure-")
    ):
        return [
            checks.Error(
                f"DJANGO_SECRET_KEY is weak: it needs at least {_MIN_SECRET_KEY_LENGTH} "
                f"characters, {_MIN_SECRET_KEY_UNIQUE_CHARACTERS} of them distinct, and no "
                "'django-insecure-' prefix.",
                hint="Generate one with `python -c 'import secrets; "
                "print(secrets.token_urlsafe(50))'`.",
                id="concord.E002",
            )
        ]
    return []


@checks.register(checks.Tags.security, CHECK_TAG)
def check_encryption_keys(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Secrets at rest need configured Fernet keys; they are never derived from SECRET_KEY."""
    keys = list(getattr(settings, "CONCORD_ENCRYPTION_KEYS", []) or [])
    if not keys:
        message = "CONCORD_ENCRYPTION_KEYS is not set: OAuth tokens cannot be stored or read."
        hint = (
            "Set CONCORD_ENCRYPTION_KEYS to one or more comma-separated Fernet keys, newest "
            "first, e.g. the output of `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`."
        )
        if settings.DEBUG:
            return [checks.Warning(message, hint=hint, id="concord.W001")]
        return [checks.Error(message, hint=hint, id="concord.E003")]
    invalid = [position for position, key in enumerate(keys, start=1) if not _is_fernet_key(key)]
    if invalid:
        return [
            checks.Error(
                "CONCORD_ENCRYPTION_KEYS holds values that are not Fernet keys (positions "
                f"{', '.join(map(str, invalid))}).",
                hint="A Fernet key is 32 random bytes in URL-safe base64 (44 characters).",
                id="concord.E004",
            )
        ]
    return []


def _is_fernet_key(key: str | bytes) -> bool:
    try:
        Fernet(key.encode() if isinstance(key, str) else key)
    except (ValueError, TypeError):
        return False
    return True


def refuse_to_start_if_misconfigured(process: str) -> None:
    """Raise ImproperlyConfigured when Concord's secrets checks find an error.

    For the processes that do not run system checks themselves (WSGI/ASGI servers, Celery).
    """
    errors = [
        message
        for message in checks.run_checks(tags=[CHECK_TAG])
        if message.is_serious() and not message.is_silenced()
    ]
    if errors:
        lines = "\n".join(f"  {error}" for error in errors)
        raise ImproperlyConfigured(f"Concord's {process} refuses to start:\n{lines}")
