"""Secrets at rest (OAuth tokens, client secrets): Fernet with rotating keys from settings.

Keys come only from CONCORD_ENCRYPTION_KEYS (newest first), never from SECRET_KEY. Model fields
holding a value of `encrypt()` are named `*_encrypted`, so key rotation finds every one of them
(syncengine.services.encryption).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

ENCRYPTED_FIELD_SUFFIX = "_encrypted"


def _configured_fernets() -> list[Fernet]:
    keys = list(getattr(settings, "CONCORD_ENCRYPTION_KEYS", []) or [])
    if not keys:
        raise ImproperlyConfigured(
            "CONCORD_ENCRYPTION_KEYS is not set: secrets can be neither stored nor read "
            "(see `manage.py check`)."
        )
    return [Fernet(k.encode() if isinstance(k, str) else k) for k in keys]


def _fernet() -> MultiFernet:
    # MultiFernet encrypts with the first key and decrypts with any, so keys can rotate.
    return MultiFernet(_configured_fernets())


class UnreadableSecret(ValueError):
    """A stored secret no given key can decrypt (caught by name, never as any ValueError)."""


def encrypt(value: str) -> str:
    """Encrypt a secret for storage; the empty string stays empty."""
    return _fernet().encrypt(value.encode()).decode() if value else ""


def decrypt(token: str) -> str:
    """Decrypt a stored secret; raises UnreadableSecret when no configured key can read it."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise UnreadableSecret("the secret cannot be decrypted with the configured keys") from exc


def is_under_newest_key(token: str) -> bool:
    """Whether a stored secret is already encrypted with the newest configured key."""
    try:
        _configured_fernets()[0].decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def reencrypt(token: str, *, extra_keys: Sequence[str] = ()) -> str:
    """Re-encrypt a stored secret under the newest key; `extra_keys` may only decrypt.

    Raises UnreadableSecret when neither the configured nor the extra keys can read it.
    """
    fernets = _configured_fernets() + [Fernet(key.encode()) for key in extra_keys]
    try:
        return MultiFernet(fernets).rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise UnreadableSecret("the secret cannot be decrypted with the given keys") from exc


def legacy_key_from_secret_key() -> str:
    """The key Concord once derived from SECRET_KEY when none was configured.

    Only `rotate_encryption_keys --legacy-secret-key` uses it, to read values stored that way
    and re-encrypt them under a configured key; nothing is ever encrypted with it.
    """
    digest = hashlib.sha256(f"concord-secrets:{settings.SECRET_KEY}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()
